//! What a cell holds, and the typed reads of it.
//!
//! Operators type numbers where codes go, Excel turns "12.30" into the number 12.3 and stores
//! 13.53 as 13.530000000000001; the reads here take what a person meant: a number is read at
//! the 15 significant digits Excel itself keeps and shows, then as the decimal text it shows.
//! Every read returns `Ok(None)` for a blank cell and, for a cell it cannot take, a reason
//! that quotes what the cell held.

use calamine::{DataRef, ExcelDateTime};

use crate::model::Money;

/// Significant decimal digits Excel keeps of a number (IEEE doubles shown at 15 digits):
/// anything longer typed as a number has already lost its last digits.
pub(super) const EXCEL_DIGITS: usize = 15;
/// Decimals of an amount: minor units are hundredths (fen) of the major unit (yuan).
pub(super) const MONEY_DECIMALS: usize = 2;
const MINOR_PER_MAJOR: i64 = 100;

/// A cell as read.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Value {
    Empty,
    Text(String),
    Number(f64),
    Int(i64),
    Bool(bool),
    Date(ExcelDateTime),
    /// A date or datetime written as ISO 8601 text in the file (`t="d"` cells).
    IsoDate(String),
    /// Something no column takes (a cell error, a duration), as the report names it.
    Unusable(String),
}

impl From<DataRef<'_>> for Value {
    fn from(d: DataRef<'_>) -> Self {
        match d {
            DataRef::Empty => Value::Empty,
            DataRef::String(s) => Value::Text(s),
            DataRef::SharedString(s) => Value::Text(s.to_owned()),
            DataRef::Float(f) => Value::Number(f),
            DataRef::Int(i) => Value::Int(i),
            DataRef::Bool(b) => Value::Bool(b),
            DataRef::DateTime(d) if d.is_duration() => Value::Unusable(format!("the duration {}", d.as_f64())),
            DataRef::DateTime(d) => Value::Date(d),
            DataRef::DateTimeIso(s) => Value::IsoDate(s),
            DataRef::DurationIso(s) => Value::Unusable(format!("the duration {s}")),
            DataRef::Error(e) => Value::Unusable(format!("the error {e}")),
        }
    }
}

impl Value {
    /// Empty, or only whitespace.
    pub(super) fn is_blank(&self) -> bool {
        match self {
            Value::Empty => true,
            Value::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The cell as a reason quotes it: `"-3"`, `TRUE`, `the date 2026-01-31`.
    pub(super) fn shown(&self) -> String {
        match self {
            Value::Empty => "an empty cell".into(),
            Value::Text(s) => format!("{:?}", s.trim()),
            Value::Number(f) => format!("{:?}", number_text(*f)),
            Value::Int(i) => format!("\"{i}\""),
            Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            Value::Date(d) => {
                let (y, m, day, h, min, s, _) = d.to_ymd_hms_milli();
                format!("the date {y:04}-{m:02}-{day:02} {h:02}:{min:02}:{s:02}")
            }
            Value::IsoDate(s) => format!("the date {s}"),
            Value::Unusable(what) => what.clone(),
        }
    }

    /// The decimal text of a number or text cell, if it is one; other cells say what they are.
    fn decimal(&self) -> Result<Option<Decimal>, ()> {
        match self {
            Value::Text(s) => Ok(Decimal::parse(s.trim())),
            Value::Number(f) if f.is_finite() => Ok(Decimal::parse(&number_text(*f))),
            Value::Int(i) => Ok(Decimal::parse(&i.to_string())),
            _ => Err(()),
        }
    }

    /// Free text, trimmed; a number cell as the number Excel shows.
    pub(super) fn text(&self) -> Result<Option<String>, String> {
        if self.is_blank() {
            return Ok(None);
        }
        match self {
            Value::Text(s) => Ok(Some(s.trim().to_owned())),
            Value::Int(i) => Ok(Some(i.to_string())),
            Value::Number(f) => {
                let text = number_text(*f);
                if !f.is_finite() {
                    Err(format!("expected text, got {}", self.shown()))
                } else if integer_digits(&text) > EXCEL_DIGITS {
                    Err(lost_digits(self))
                } else {
                    Ok(Some(text))
                }
            }
            other => Err(format!("expected text, got {}", other.shown())),
        }
    }

    /// A code (an id): text as typed; a number only when whole, as its digits (`123456`,
    /// never `123456.0`).
    pub(super) fn code(&self) -> Result<Option<String>, String> {
        match self {
            Value::Number(_) | Value::Int(_) => {
                let expected = || format!("expected a code (text or a whole number), got {}", self.shown());
                let d = self.decimal().ok().flatten().ok_or_else(expected)?;
                if d.negative || !d.is_whole() {
                    return Err(expected());
                }
                if d.int.len() > EXCEL_DIGITS {
                    return Err(lost_digits(self));
                }
                Ok(Some(if d.int.is_empty() { "0".to_owned() } else { d.int }))
            }
            other => other.text(),
        }
    }

    /// A whole number from 0 to `max`.
    pub(super) fn whole(&self, min: u64, max: u64) -> Result<Option<u64>, String> {
        if self.is_blank() {
            return Ok(None);
        }
        let bound = if max == u64::MAX { format!(">= {min}") } else { format!("from {min} to {max}") };
        let expected = || format!("expected a whole number {bound}, got {}", self.shown());
        let d = self.decimal().ok().flatten().ok_or_else(expected)?;
        if !d.is_whole() || (d.negative && !d.is_zero()) {
            return Err(expected());
        }
        let n = if d.int.is_empty() { 0 } else { d.int.parse::<u64>().map_err(|_| expected())? };
        if n < min || n > max { Err(expected()) } else { Ok(Some(n)) }
    }

    /// An amount in major units with at most [`MONEY_DECIMALS`] decimals, as minor units.
    pub(super) fn money(&self) -> Result<Option<Money>, String> {
        if self.is_blank() {
            return Ok(None);
        }
        let shown = self.shown();
        let d = match self.decimal() {
            Ok(Some(d)) => d,
            _ => return Err(format!("expected an amount in yuan like 12.30, got {shown}")),
        };
        if d.negative && !d.is_zero() {
            return Err(format!("expected an amount >= 0, got {shown}"));
        }
        let frac = d.frac.trim_end_matches('0');
        if frac.len() > MONEY_DECIMALS {
            return Err(format!("expected at most {MONEY_DECIMALS} decimals (fen), got {shown}"));
        }
        let too_large = || format!("the amount {shown} is too large");
        let major: i64 = if d.int.is_empty() { 0 } else { d.int.parse().map_err(|_| too_large())? };
        let minor: i64 = format!("{frac:0<width$}", width = MONEY_DECIMALS).parse().map_err(|_| too_large())?;
        major.checked_mul(MINOR_PER_MAJOR).and_then(|m| m.checked_add(minor)).map(Some).ok_or_else(too_large)
    }

    /// A calendar date, as `YYYY-MM-DD`: a date cell (its time of day, if any, is not part of
    /// a date) or text `YYYY-MM-DD`. A bare number is refused: it may be a date serial or
    /// `20260131`, and guessing would be wrong half the time.
    pub(super) fn date(&self) -> Result<Option<String>, String> {
        if self.is_blank() {
            return Ok(None);
        }
        let expected = || format!("expected a date (a date cell, or text YYYY-MM-DD), got {}", self.shown());
        match self {
            Value::Date(d) => {
                // Serial 0 is Excel's "no date" (1900-01-00); below 1 is a time of day.
                if d.as_f64() < 1.0 {
                    return Err(expected());
                }
                let (y, m, day, ..) = d.to_ymd_hms_milli();
                chrono::NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(day))
                    .map(|date| Some(date.format("%Y-%m-%d").to_string()))
                    .ok_or_else(expected)
            }
            Value::Text(s) => parse_date(s.trim()).map(Some).ok_or_else(expected),
            // `2026-01-31` or `2026-01-31T00:00:00`.
            Value::IsoDate(s) => s
                .get(..10)
                .filter(|_| s.len() == 10 || s[10..].starts_with('T'))
                .and_then(parse_date)
                .map(Some)
                .ok_or_else(expected),
            Value::Number(_) | Value::Int(_) => Err(format!("{}; format the cell as a date", expected())),
            _ => Err(expected()),
        }
    }

    /// Yes or no.
    pub(super) fn flag(&self) -> Result<Option<bool>, String> {
        if self.is_blank() {
            return Ok(None);
        }
        let expected = || format!("expected true or false (also yes/no, 1/0, 是/否), got {}", self.shown());
        match self {
            Value::Bool(b) => Ok(Some(*b)),
            Value::Int(1) => Ok(Some(true)),
            Value::Int(0) => Ok(Some(false)),
            Value::Number(f) if *f == 1.0 => Ok(Some(true)),
            Value::Number(f) if *f == 0.0 => Ok(Some(false)),
            Value::Text(s) => match s.trim().to_lowercase().as_str() {
                "true" | "yes" | "y" | "1" | "是" => Ok(Some(true)),
                "false" | "no" | "n" | "0" | "否" => Ok(Some(false)),
                _ => Err(expected()),
            },
            _ => Err(expected()),
        }
    }

    /// One of `names` (a fixed list, like a kind or a decision), matched case-insensitively and
    /// given back as the list spells it.
    pub(super) fn one_of(&self, names: &'static [&'static str]) -> Result<Option<&'static str>, String> {
        let expected = || format!("expected one of {}, got {}", names.join(", "), self.shown());
        match self.text() {
            Ok(Some(t)) => {
                names.iter().copied().find(|n| n.eq_ignore_ascii_case(t.trim())).map(Some).ok_or_else(expected)
            }
            Ok(None) => Ok(None),
            Err(_) => Err(expected()),
        }
    }

    /// A currency: three letters (ISO 4217), upper-cased.
    pub(super) fn currency(&self) -> Result<Option<String>, String> {
        match self.text() {
            Ok(Some(t)) if t.len() == 3 && t.bytes().all(|c| c.is_ascii_alphabetic()) => {
                Ok(Some(t.to_ascii_uppercase()))
            }
            Ok(None) => Ok(None),
            _ => Err(format!("expected a three-letter currency code like CNY, got {}", self.shown())),
        }
    }
}

fn lost_digits(v: &Value) -> String {
    format!(
        "the number {} has more than {EXCEL_DIGITS} digits and Excel keeps only {EXCEL_DIGITS}, so its last digits are lost; \
         format the column as text and type it again",
        v.shown()
    )
}

/// `YYYY-MM-DD`, a real date.
fn parse_date(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(|d| d.format("%Y-%m-%d").to_string())
}

/// A number as Excel shows it: rounded to [`EXCEL_DIGITS`] significant digits, in plain
/// decimal notation, no trailing zeros (`12.3`, `0.3` for 0.30000000000000004, `123456`).
pub(super) fn number_text(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    if f == 0.0 {
        return "0".into();
    }
    // `-1.23450000000000e3`: one digit, a point, 14 digits, the exponent.
    let sci = format!("{:.*e}", EXCEL_DIGITS - 1, f);
    let Some((mantissa, exponent)) = sci.split_once('e') else { return f.to_string() };
    let Ok(exponent) = exponent.parse::<i64>() else { return f.to_string() };
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // How many of the digits stand before the decimal point.
    let point = exponent + 1;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
    if out.contains('.') {
        let kept = out.trim_end_matches('0').trim_end_matches('.').len();
        out.truncate(kept);
    }
    out
}

/// Digits before the decimal point of plain decimal text.
fn integer_digits(text: &str) -> usize {
    text.trim_start_matches('-').split('.').next().unwrap_or("").trim_start_matches('0').len()
}

/// A plain decimal number as text: `-12.30`, `+5`, `.5`, `12.`; no exponent, no separators.
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    /// Digits before the point, leading zeros removed (empty for zero).
    int: String,
    /// Digits after the point, as written.
    frac: String,
}

impl Decimal {
    fn parse(s: &str) -> Option<Decimal> {
        let (negative, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
        let digits = |p: &str| p.bytes().all(|c| c.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
            return None;
        }
        Some(Decimal { negative, int: int.trim_start_matches('0').to_owned(), frac: frac.to_owned() })
    }

    fn is_whole(&self) -> bool {
        self.frac.bytes().all(|c| c == b'0')
    }

    fn is_zero(&self) -> bool {
        self.int.is_empty() && self.is_whole()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::ExcelDateTimeType;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn numbers_read_as_excel_shows_them() {
        assert_eq!(number_text(12.3), "12.3");
        assert_eq!(number_text(0.1 + 0.2), "0.3");
        assert_eq!(number_text(13.530000000000001), "13.53");
        assert_eq!(number_text(123456.0), "123456");
        assert_eq!(number_text(-0.05), "-0.05");
        assert_eq!(number_text(1e20), "100000000000000000000");
        assert_eq!(number_text(1.5e-7), "0.00000015");
        assert_eq!(number_text(f64::NAN), "NaN");
    }

    #[test]
    fn money_is_exact_minor_units() {
        assert_eq!(Value::Number(12.3).money(), Ok(Some(1230)));
        assert_eq!(text(" 12.30 ").money(), Ok(Some(1230)));
        assert_eq!(text("12").money(), Ok(Some(1200)));
        assert_eq!(Value::Number(199.9).money(), Ok(Some(19990)));
        assert_eq!(Value::Number(0.1 + 0.2).money(), Ok(Some(30)));
        assert_eq!(Value::Int(7).money(), Ok(Some(700)));
        assert_eq!(text("").money(), Ok(None));
        assert!(text("12.345").money().unwrap_err().contains("at most 2 decimals"));
        assert!(text("-1").money().unwrap_err().contains(">= 0"));
        assert!(text("abc").money().unwrap_err().contains("\"abc\""));
        assert!(text("1,234.00").money().is_err());
        assert!(text("1e3").money().is_err());
        assert!(text("99999999999999999999").money().unwrap_err().contains("too large"));
        assert!(Value::Bool(true).money().is_err());
        assert!(Value::Number(f64::INFINITY).money().is_err());
    }

    #[test]
    fn whole_numbers_refuse_fractions_and_negatives() {
        assert_eq!(Value::Number(3.0).whole(0, 10), Ok(Some(3)));
        assert_eq!(text("3").whole(0, 10), Ok(Some(3)));
        assert_eq!(text("-0").whole(0, 10), Ok(Some(0)));
        assert_eq!(text("-3").whole(0, u64::MAX).unwrap_err(), "expected a whole number >= 0, got \"-3\"");
        assert!(Value::Number(2.5).whole(0, 10).unwrap_err().contains("\"2.5\""));
        assert!(text("11").whole(0, 10).unwrap_err().contains("from 0 to 10"));
        assert!(text("0").whole(1, 10).is_err());
        assert!(Value::Bool(true).whole(0, 10).is_err());
        assert!(text("99999999999999999999999").whole(0, u64::MAX).is_err());
    }

    #[test]
    fn codes_are_text_or_whole_numbers() {
        assert_eq!(Value::Number(123456.0).code(), Ok(Some("123456".into())));
        assert_eq!(Value::Int(42).code(), Ok(Some("42".into())));
        assert_eq!(text(" SKU-1 ").code(), Ok(Some("SKU-1".into())));
        assert_eq!(Value::Number(0.0).code(), Ok(Some("0".into())));
        assert!(Value::Number(1.5).code().is_err());
        assert!(Value::Number(-1.0).code().is_err());
        assert!(Value::Number(1.2345678901234567e18).code().unwrap_err().contains("format the column as text"));
        assert!(Value::Bool(false).code().is_err());
        assert!(Value::Unusable("the error #N/A".into()).code().unwrap_err().contains("#N/A"));
    }

    #[test]
    fn dates_from_cells_and_text() {
        let cell = |serial| Value::Date(ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, false));
        assert_eq!(cell(46023.0).date(), Ok(Some("2026-01-01".into())));
        assert_eq!(cell(46023.75).date(), Ok(Some("2026-01-01".into())));
        assert!(cell(0.5).date().is_err());
        assert!(cell(60.0).date().is_err(), "1900-02-29 does not exist");
        assert_eq!(text("2026-02-28").date(), Ok(Some("2026-02-28".into())));
        assert_eq!(Value::IsoDate("2026-02-28T00:00:00".into()).date(), Ok(Some("2026-02-28".into())));
        assert!(text("2026-02-30").date().is_err());
        assert!(text("2026/02/28").date().is_err());
        assert!(text("2026-2-8").date().is_err());
        assert!(text("２０２６-02-28").date().is_err());
        assert!(Value::Number(46023.0).date().unwrap_err().contains("format the cell as a date"));
    }

    #[test]
    fn flags() {
        assert_eq!(text("Yes").flag(), Ok(Some(true)));
        assert_eq!(text("是").flag(), Ok(Some(true)));
        assert_eq!(Value::Number(0.0).flag(), Ok(Some(false)));
        assert_eq!(Value::Bool(true).flag(), Ok(Some(true)));
        assert_eq!(text(" ").flag(), Ok(None));
        assert!(text("maybe").flag().is_err());
    }

    #[test]
    fn text_takes_numbers_as_shown() {
        assert_eq!(Value::Number(10.5).text(), Ok(Some("10.5".into())));
        assert!(Value::Bool(true).text().is_err());
        assert!(Value::Number(1e20).text().is_err());
    }
}
