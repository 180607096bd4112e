//! Decimal strings read by value: `"40.00000000000000"` is 40.
//!
//! Services that declare a decimal's scale may send every value padded to it: SAP Gateway
//! answers an `Edm.Decimal` declared `Precision=31 Scale=14` as `"40.00000000000000"`.
//! Counting decimals, as [`crate::money::parse_minor_units`] does for amounts people type,
//! would refuse a value that is exactly 40. Here trailing zeros after the point are not
//! counted: only the value matters, and it must be exact in units of `10^-scale` (a non-zero
//! digit beyond the scale would need rounding, which is refused, as is anything that is not
//! plainly a decimal: exponents, `+`, spaces, thousands separators). Digits are read straight
//! into an `i64`, never through a float.

use thiserror::Error;

use crate::types::{ConnectorError, FieldError};

/// Why a decimal string is not an exact value at the scale asked for. The message is the
/// reason (what was expected and what came); [`DecimalError::field`] names the field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecimalError {
    #[error(
        "expected a decimal like \"40.000\" (optional '-', digits, optional '.' and digits; no \
         exponent, sign '+', spaces or separators), got {input:?}"
    )]
    Malformed { field: String, input: String },
    #[error("expected a whole number (zeros after the point are fine), got {input:?}")]
    NotWhole { field: String, input: String },
    #[error(
        "expected at most {scale} decimals that are not trailing zeros (more would need \
         rounding), got {input:?}"
    )]
    TooPrecise { field: String, input: String, scale: u32 },
    #[error("expected a value that fits in 64-bit units of 10^-{scale}, got {input:?}")]
    Overflow { field: String, input: String, scale: u32 },
}

impl DecimalError {
    /// The field the value came from, as the caller named it.
    pub fn field(&self) -> &str {
        match self {
            Self::Malformed { field, .. }
            | Self::NotWhole { field, .. }
            | Self::TooPrecise { field, .. }
            | Self::Overflow { field, .. } => field,
        }
    }
}

impl From<DecimalError> for FieldError {
    fn from(error: DecimalError) -> Self {
        FieldError { field: error.field().to_owned(), reason: error.to_string() }
    }
}

impl From<DecimalError> for ConnectorError {
    fn from(error: DecimalError) -> Self {
        Self::InvalidInput(error.into())
    }
}

/// Reads the decimal `input` of `field` by value, as integer units of `10^-scale`:
/// `("40.00000000000000", 3)` → 40000, `("2.5", 3)` → 2500, `("-0.250", 3)` → -250,
/// `("40.000", 0)` → 40. A non-zero digit beyond `scale` decimals is an error (with `scale`
/// 0, "expected a whole number"), never rounded.
pub fn parse_scaled(field: &str, input: &str, scale: u32) -> Result<i64, DecimalError> {
    let malformed = || DecimalError::Malformed { field: field.to_owned(), input: input.to_owned() };
    let overflow = || DecimalError::Overflow { field: field.to_owned(), input: input.to_owned(), scale };
    let (negative, unsigned) = match input.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (int_part, fraction) = match unsigned.split_once('.') {
        Some((int_part, fraction)) if digits(int_part) && digits(fraction) => {
            (int_part, fraction.trim_end_matches('0'))
        }
        None if digits(unsigned) => (unsigned, ""),
        _ => return Err(malformed()),
    };
    if fraction.len() > scale as usize {
        return Err(if scale == 0 {
            DecimalError::NotWhole { field: field.to_owned(), input: input.to_owned() }
        } else {
            DecimalError::TooPrecise { field: field.to_owned(), input: input.to_owned(), scale }
        });
    }
    let mut units: i64 = 0;
    for b in int_part.bytes().chain(fraction.bytes()) {
        units = units.checked_mul(10).and_then(|u| u.checked_add(i64::from(b - b'0'))).ok_or_else(overflow)?;
    }
    for _ in fraction.len()..scale as usize {
        units = units.checked_mul(10).ok_or_else(overflow)?;
    }
    Ok(if negative { -units } else { units })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str, scale: u32) -> Result<i64, DecimalError> {
        parse_scaled("row.Qty", input, scale)
    }

    #[test]
    fn values_padded_to_their_scale_read_as_what_they_are() {
        assert_eq!(parse("40.00000000000000", 3), Ok(40_000));
        assert_eq!(parse("40.00000000000000", 0), Ok(40));
        assert_eq!(parse("2.50000000000000", 3), Ok(2_500));
        assert_eq!(parse("12.500000000", 2), Ok(1_250));
        assert_eq!(parse("-0.25000", 3), Ok(-250));
        assert_eq!(parse("-0.000", 3), Ok(0));
        assert_eq!(parse("5", 3), Ok(5_000));
        assert_eq!(parse("007.5", 1), Ok(75));
        assert_eq!(parse("9223372036854775807", 0), Ok(i64::MAX));
        assert_eq!(parse("9223372036854775.807000", 3), Ok(i64::MAX));
    }

    #[test]
    fn what_would_need_rounding_or_is_no_decimal_is_refused() {
        assert!(matches!(parse("2.5", 0), Err(DecimalError::NotWhole { .. })));
        assert!(matches!(parse("40.00000000000001", 3), Err(DecimalError::TooPrecise { scale: 3, .. })));
        for bad in [
            "", "-", ".5", "5.", "1e3", "1E3", "+5", " 5", "5 ", "1,000", "1.2.3", "0x10", "NaN", "inf", "--1", "1.-5",
            "五",
        ] {
            assert!(matches!(parse(bad, 3), Err(DecimalError::Malformed { .. })), "{bad:?}");
        }
        assert!(matches!(parse("9223372036854775808", 0), Err(DecimalError::Overflow { .. })));
        assert!(matches!(parse("9223372036854776", 3), Err(DecimalError::Overflow { .. })));
    }

    #[test]
    fn errors_name_the_field_and_say_what_was_expected() {
        let error = parse("2.5", 0).unwrap_err();
        assert_eq!(error.field(), "row.Qty");
        let field: FieldError = error.into();
        assert_eq!(field.field, "row.Qty");
        assert!(field.reason.contains("whole number") && field.reason.contains("\"2.5\""), "{}", field.reason);
        let message = parse("1e3", 3).unwrap_err().to_string();
        assert!(message.contains("no exponent") && message.contains("\"1e3\""), "{message}");
        let message = parse("1.0005", 3).unwrap_err().to_string();
        assert!(message.contains("at most 3 decimals"), "{message}");
        assert!(matches!(
            ConnectorError::from(parse("x", 3).unwrap_err()),
            ConnectorError::InvalidInput(f) if f.field == "row.Qty"
        ));
    }
}
