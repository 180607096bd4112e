//! OData v2 `$filter`, the part SAP clients use: comparisons (`eq`, `ne`, `gt`, `ge`, `lt`,
//! `le`) of a property with a literal, joined by `and` / `or`, with `not` and parentheses.
//!
//! Literals are strings (`'O''Brien'`), `datetime'2025-05-30T00:00:00'`,
//! `datetimeoffset'2025-05-30T08:00:00.000Z'` (UTC), numbers, `true`,
//! `false` and `null`. Entities are JSON objects as the simulator renders them; a date
//! property (`/Date(ms)/`) compares with a `datetime` literal by instant, a decimal string
//! (`"5.000"`) with a number by value, strings with strings byte-wise (HANA's binary
//! collation, the order `$orderby` uses too).

use std::cmp::Ordering;

use serde_json::Value;

/// A parsed filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Compare { property: String, op: Op, literal: Literal },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Text(String),
    /// UTC ms.
    DateTime(i64),
    Number(f64),
    Bool(bool),
    Null,
}

/// Why a filter could not be parsed or applied (SAP answers 400).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError(pub String);

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    DateTime(String),
    Open,
    Close,
}

fn tokens(input: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Token::Open);
            i += 1;
        } else if c == ')' {
            out.push(Token::Close);
            i += 1;
        } else if c == '\'' {
            let (text, next) = quoted(&chars, i)?;
            out.push(Token::Text(text));
            i = next;
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !matches!(chars[i], '(' | ')' | '\'') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if (word == "datetime" || word == "datetimeoffset") && chars.get(i) == Some(&'\'') {
                let (text, next) = quoted(&chars, i)?;
                // A `datetimeoffset` is in UTC here (`…Z`); SAP clients send it so.
                let text =
                    if word == "datetimeoffset" { text.strip_suffix('Z').unwrap_or(&text).to_owned() } else { text };
                out.push(Token::DateTime(text));
                i = next;
            } else {
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

/// The string literal starting at the quote `chars[start]`; `''` is one quote.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), FilterError> {
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => return Err(FilterError("unterminated string literal in $filter".into())),
            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                text.push('\'');
                i += 2;
            }
            Some('\'') => return Ok((text, i + 1)),
            Some(c) => {
                text.push(*c);
                i += 1;
            }
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w == word)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        if self.peek_word("not") {
            self.at += 1;
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err(FilterError("expected ')' in $filter".into())),
                }
            }
            Some(Token::Word(property)) if is_property(&property) => {
                let op = match self.next() {
                    Some(Token::Word(w)) => match w.as_str() {
                        "eq" => Op::Eq,
                        "ne" => Op::Ne,
                        "gt" => Op::Gt,
                        "ge" => Op::Ge,
                        "lt" => Op::Lt,
                        "le" => Op::Le,
                        other => {
                            return Err(FilterError(format!("unsupported operator {other:?} in $filter")));
                        }
                    },
                    other => {
                        return Err(FilterError(format!("expected an operator after {property}, got {other:?}")));
                    }
                };
                let literal = match self.next() {
                    Some(Token::Text(t)) => Literal::Text(t),
                    Some(Token::DateTime(t)) => Literal::DateTime(datetime(&t)?),
                    Some(Token::Word(w)) => match w.as_str() {
                        "true" => Literal::Bool(true),
                        "false" => Literal::Bool(false),
                        "null" => Literal::Null,
                        number => {
                            Literal::Number(number.trim_end_matches(['M', 'm', 'd', 'D', 'L', 'l']).parse().map_err(
                                |_| FilterError(format!("expected a literal after {property} {op:?}, got {number:?}")),
                            )?)
                        }
                    },
                    other => {
                        return Err(FilterError(format!("expected a literal after {property}, got {other:?}")));
                    }
                };
                Ok(Filter::Compare { property, op, literal })
            }
            other => Err(FilterError(format!("expected a comparison in $filter, got {other:?}"))),
        }
    }
}

fn is_property(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `2025-05-30T00:00:00` (optionally with seconds omitted or fractions) as UTC ms.
fn datetime(text: &str) -> Result<i64, FilterError> {
    let parsed = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .map_err(|_| FilterError(format!("expected datetime'yyyy-mm-ddThh:mm:ss', got {text:?}")))?;
    Ok(parsed.and_utc().timestamp_millis())
}

/// Parses a `$filter` value.
pub fn parse(input: &str) -> Result<Filter, FilterError> {
    let mut parser = Parser { tokens: tokens(input)?, at: 0 };
    let filter = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(FilterError(format!("unexpected {:?} in $filter", parser.tokens[parser.at])));
    }
    Ok(filter)
}

/// `/Date(ms)/` → ms.
pub fn odata_date_ms(text: &str) -> Option<i64> {
    let inner = text.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let end = inner.char_indices().skip(1).find(|&(_, c)| c == '+' || c == '-').map_or(inner.len(), |(i, _)| i);
    inner[..end].parse().ok()
}

fn compare(value: &Value, literal: &Literal) -> Result<Option<Ordering>, FilterError> {
    Ok(match (value, literal) {
        (Value::Null, Literal::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Literal::Null) => None,
        (Value::String(s), Literal::Text(t)) => Some(s.as_bytes().cmp(t.as_bytes())),
        (Value::String(s), Literal::DateTime(ms)) => match odata_date_ms(s) {
            Some(v) => Some(v.cmp(ms)),
            None => {
                return Err(FilterError(format!("a datetime literal compared with the non-date value {s:?}")));
            }
        },
        (Value::String(s), Literal::Number(n)) => s.parse::<f64>().ok().and_then(|v| v.partial_cmp(n)),
        (Value::Number(v), Literal::Number(n)) => v.as_f64().and_then(|v| v.partial_cmp(n)),
        (Value::Bool(b), Literal::Bool(l)) => Some(b.cmp(l)),
        (v, l) => return Err(FilterError(format!("cannot compare {v} with {l:?}"))),
    })
}

impl Filter {
    /// The properties the filter compares, in order (once each).
    pub fn properties(&self) -> Vec<&str> {
        fn walk<'f>(f: &'f Filter, out: &mut Vec<&'f str>) {
            match f {
                Filter::Compare { property, .. } => {
                    if !out.contains(&property.as_str()) {
                        out.push(property);
                    }
                }
                Filter::And(a, b) | Filter::Or(a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Filter::Not(a) => walk(a, out),
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// Whether `entity` (a JSON object) passes; an unknown property is an error, as in SAP.
    pub fn matches(&self, entity: &Value) -> Result<bool, FilterError> {
        Ok(match self {
            Filter::And(a, b) => a.matches(entity)? && b.matches(entity)?,
            Filter::Or(a, b) => a.matches(entity)? || b.matches(entity)?,
            Filter::Not(a) => !a.matches(entity)?,
            Filter::Compare { property, op, literal } => {
                let value =
                    entity.get(property).ok_or_else(|| FilterError(format!("Property '{property}' is invalid")))?;
                let ordering = compare(value, literal)?;
                match (op, ordering) {
                    (Op::Eq, o) => o == Some(Ordering::Equal),
                    (Op::Ne, o) => o != Some(Ordering::Equal),
                    (_, None) => false,
                    (Op::Gt, Some(o)) => o == Ordering::Greater,
                    (Op::Ge, Some(o)) => o != Ordering::Less,
                    (Op::Lt, Some(o)) => o == Ordering::Less,
                    (Op::Le, Some(o)) => o != Ordering::Greater,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn passes(filter: &str, entity: &Value) -> bool {
        parse(filter).unwrap().matches(entity).unwrap()
    }

    #[test]
    fn comparisons_and_logic() {
        let e = json!({"Material": "FG-002", "Plant": "1000", "Qty": "5.000", "Po": "O'Brien", "Date": "/Date(1748563200000)/", "Flag": true});
        assert!(passes("Material eq 'FG-002'", &e));
        assert!(passes("Material gt 'FG-001' and Plant eq '1000'", &e));
        assert!(!passes("Material gt 'FG-002'", &e));
        assert!(passes("(Material eq 'X' or Material eq 'FG-002') and not Plant eq '2000'", &e));
        assert!(passes("Po eq 'O''Brien'", &e));
        assert!(passes("Qty ge 5 and Qty lt 5.5", &e));
        assert!(passes("Date ge datetime'2025-05-30T00:00:00' and Date le datetime'2025-05-30T00:00:00'", &e));
        assert!(!passes("Date gt datetime'2025-05-30T00:00:00'", &e));
        let stamp = json!({"At": "/Date(1748563200123+0000)/"});
        assert!(passes(
            "At ge datetimeoffset'2025-05-30T00:00:00.123Z' and At lt datetimeoffset'2025-05-30T00:00:00.124Z'",
            &stamp
        ));
        assert!(passes("Flag eq true and Plant ne '2000'", &e));
        assert!(passes("Material   eq   'FG-002'", &e), "extra spaces");
        assert_eq!(parse("(A eq '1' or B eq '2') and not A ne '3'").unwrap().properties(), ["A", "B"]);
    }

    #[test]
    fn errors() {
        for bad in [
            "Material eq",
            "Material like 'x'",
            "(Material eq 'x'",
            "Material eq 'x",
            "eq 'x'",
            "Material eq 'x' Plant",
            "A eq datetime'yesterday'",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let e = json!({"Material": "A"});
        assert_eq!(parse("Nope eq 'x'").unwrap().matches(&e), Err(FilterError("Property 'Nope' is invalid".into())));
        assert!(parse("Material eq datetime'2025-01-01T00:00:00'").unwrap().matches(&e).is_err());
    }
}
