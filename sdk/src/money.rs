//! Exact decimal money: platform yuan strings ↔ integer fen.
//!
//! Platforms send money as decimal strings (`"199.90"`, sometimes `"1,299.00"`). Going through
//! `f64` loses cents (`0.1 + 0.2`), so amounts are parsed digit by digit into integer minor
//! units, and anything that is not an exact amount is rejected rather than rounded.

use thiserror::Error;

/// Minor units per yuan: CNY has two decimals (fen).
pub const FEN_PER_YUAN: i64 = 100;

/// Decimals a yuan amount may carry; a third decimal would need rounding, which we refuse.
pub const YUAN_DECIMALS: u32 = 2;

/// Why a string is not an exact amount. Each message says what was expected and what came.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    #[error("expected a decimal amount like \"199.90\", got an empty string")]
    Empty,
    #[error(
        "expected a decimal amount like \"199.90\" (digits, optional leading '-', optional ',' \
         thousands groups, optional '.' and decimals), got {input:?}: unexpected {found:?} at byte {at}"
    )]
    Malformed { input: String, found: char, at: usize },
    #[error("expected a decimal amount like \"199.90\", got {input:?}: no digits")]
    NoDigits { input: String },
    #[error("expected at most {max} decimals, got {input:?}")]
    TooManyDecimals { input: String, max: u32 },
    #[error("expected ',' thousands separators every 3 digits (\"1,299.00\"), got {input:?}")]
    BadGrouping { input: String },
    #[error("expected an amount that fits in 64-bit minor units, got {input:?}")]
    Overflow { input: String },
}

/// Parses a yuan amount exactly into fen: `"199.9"` → 19990, `"1,299.00"` → 129900,
/// `"-5.00"` → -500, `"12"` → 1200.
pub fn parse_yuan(input: &str) -> Result<i64, MoneyError> {
    parse_minor_units(input, YUAN_DECIMALS)
}

/// Formats fen as yuan with exactly two decimals: -500 → `"-5.00"`, 19990 → `"199.90"`.
pub fn format_yuan(fen: i64) -> String {
    format_minor_units(fen, YUAN_DECIMALS)
}

/// Parses a decimal string into integer units of `10^-scale`, exactly. `scale` is the number
/// of decimals the currency (or quantity) has; more decimals than that are an error.
pub fn parse_minor_units(input: &str, scale: u32) -> Result<i64, MoneyError> {
    if input.is_empty() {
        return Err(MoneyError::Empty);
    }
    let (negative, unsigned) = match input.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    let offset = input.len() - unsigned.len();
    let (int_part, frac_part) = match unsigned.find('.') {
        Some(dot) => (&unsigned[..dot], Some(&unsigned[dot + 1..])),
        None => (unsigned, None),
    };

    let malformed = |found: char, at: usize| MoneyError::Malformed { input: input.to_owned(), found, at };
    let overflow = || MoneyError::Overflow { input: input.to_owned() };

    // Integer part: digits, optionally grouped by ',' in threes.
    if int_part.is_empty() {
        return Err(match frac_part {
            Some(_) => malformed('.', offset),
            None => MoneyError::NoDigits { input: input.to_owned() },
        });
    }
    for (i, c) in int_part.char_indices() {
        if !c.is_ascii_digit() && c != ',' {
            return Err(malformed(c, offset + i));
        }
    }
    if int_part.contains(',') {
        let mut groups = int_part.split(',');
        let first = groups.next().unwrap_or_default();
        let first_ok = (1..=3).contains(&first.len());
        if !first_ok || groups.any(|g| g.len() != 3) {
            return Err(MoneyError::BadGrouping { input: input.to_owned() });
        }
    }

    let mut units: i64 = 0;
    for b in int_part.bytes().filter(u8::is_ascii_digit) {
        units = units.checked_mul(10).and_then(|u| u.checked_add(i64::from(b - b'0'))).ok_or_else(overflow)?;
    }

    // Fraction: 1..=scale digits.
    let mut frac_digits = 0u32;
    if let Some(frac) = frac_part {
        let frac_offset = offset + int_part.len() + 1;
        if frac.is_empty() {
            return Err(MoneyError::NoDigits { input: input.to_owned() });
        }
        for (i, c) in frac.char_indices() {
            if !c.is_ascii_digit() {
                return Err(malformed(c, frac_offset + i));
            }
        }
        if frac.len() > scale as usize {
            return Err(MoneyError::TooManyDecimals { input: input.to_owned(), max: scale });
        }
        for b in frac.bytes() {
            units = units.checked_mul(10).and_then(|u| u.checked_add(i64::from(b - b'0'))).ok_or_else(overflow)?;
        }
        frac_digits = frac.len() as u32;
    }
    for _ in frac_digits..scale {
        units = units.checked_mul(10).ok_or_else(overflow)?;
    }
    Ok(if negative { -units } else { units })
}

/// Formats integer units of `10^-scale` as a decimal string with exactly `scale` decimals.
pub fn format_minor_units(units: i64, scale: u32) -> String {
    let sign = if units < 0 { "-" } else { "" };
    // unsigned_abs: i64::MIN has no positive i64 counterpart.
    let magnitude = units.unsigned_abs();
    if scale == 0 {
        return format!("{sign}{magnitude}");
    }
    let divisor = 10u64.pow(scale);
    format!("{sign}{}.{:0width$}", magnitude / divisor, magnitude % divisor, width = scale as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_amounts() {
        assert_eq!(parse_yuan("199.9"), Ok(19990));
        assert_eq!(parse_yuan("199.90"), Ok(19990));
        assert_eq!(parse_yuan("0.01"), Ok(1));
        assert_eq!(parse_yuan("1,299.00"), Ok(129900));
        assert_eq!(parse_yuan("1,234,567.89"), Ok(123456789));
        assert_eq!(parse_yuan("-5.00"), Ok(-500));
        assert_eq!(parse_yuan("12"), Ok(1200));
        assert_eq!(parse_yuan("0"), Ok(0));
        assert_eq!(parse_yuan("200.07"), Ok(20007));
        assert_eq!(parse_yuan("92233720368547758.07"), Ok(i64::MAX));
    }

    #[test]
    fn rejects_inexact_or_malformed_amounts() {
        assert_eq!(parse_yuan(""), Err(MoneyError::Empty));
        assert!(matches!(parse_yuan("abc"), Err(MoneyError::Malformed { found: 'a', at: 0, .. })));
        assert!(matches!(parse_yuan("1.234"), Err(MoneyError::TooManyDecimals { max: 2, .. })));
        assert!(matches!(parse_yuan("1,2,,3"), Err(MoneyError::BadGrouping { .. })));
        assert!(matches!(parse_yuan("12,99"), Err(MoneyError::BadGrouping { .. })));
        assert!(matches!(parse_yuan(",123"), Err(MoneyError::BadGrouping { .. })));
        assert!(matches!(parse_yuan("92233720368547758.08"), Err(MoneyError::Overflow { .. })));
        assert!(matches!(parse_yuan("99999999999999999999"), Err(MoneyError::Overflow { .. })));
        assert!(matches!(parse_yuan(".5"), Err(MoneyError::Malformed { .. })));
        assert!(matches!(parse_yuan("5."), Err(MoneyError::NoDigits { .. })));
        assert!(matches!(parse_yuan("-"), Err(MoneyError::NoDigits { .. })));
        assert!(matches!(parse_yuan(" 5"), Err(MoneyError::Malformed { found: ' ', .. })));
        assert!(matches!(parse_yuan("+5"), Err(MoneyError::Malformed { found: '+', .. })));
        assert!(matches!(parse_yuan("1.2.3"), Err(MoneyError::Malformed { found: '.', .. })));
        assert!(matches!(parse_yuan("1e3"), Err(MoneyError::Malformed { found: 'e', .. })));
        assert!(matches!(parse_yuan("1.5,0"), Err(MoneyError::Malformed { found: ',', .. })));
    }

    #[test]
    fn errors_say_what_was_expected_and_what_came() {
        let message = parse_yuan("1.234").unwrap_err().to_string();
        assert!(message.contains("at most 2 decimals"), "{message}");
        assert!(message.contains("\"1.234\""), "{message}");
        let message = parse_yuan("abc").unwrap_err().to_string();
        assert!(message.contains("\"199.90\"") && message.contains("\"abc\""), "{message}");
    }

    #[test]
    fn formats_two_decimals() {
        assert_eq!(format_yuan(-500), "-5.00");
        assert_eq!(format_yuan(19990), "199.90");
        assert_eq!(format_yuan(1), "0.01");
        assert_eq!(format_yuan(-1), "-0.01");
        assert_eq!(format_yuan(0), "0.00");
        assert_eq!(format_yuan(i64::MIN), "-92233720368547758.08");
        assert_eq!(format_minor_units(5000, 3), "5.000");
        assert_eq!(format_minor_units(7, 0), "7");
    }

    #[test]
    fn round_trips() {
        for fen in [0, 1, -1, 99, 100, 12345, -987654321, i64::MAX] {
            assert_eq!(parse_yuan(&format_yuan(fen)), Ok(fen));
        }
    }
}
