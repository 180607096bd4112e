//! OData v2 for ERP plugins: query options, filter literals, the `{"d": …}` envelope, and
//! reading a collection page by page.
//!
//! Every OData v2 service (SAP Gateway's, Dynamics NAV's, any other) pages the same way:
//! `$top` and `$skip`, a `__count` when `$inlinecount=allpages` was asked, a `__next` link when
//! the server cut the page itself. [`SkipPages`] and [`Collection::has_more`] hold the one rule
//! for "is there more", and the cap on pages per call, so an ERP plugin writes its entity sets
//! and its mapping, not another paging loop. What a service adds on top (SAP's CSRF handshake,
//! its error body) stays the plugin's.

use serde_json::Value;

use crate::json::{self, Node};
use crate::time;
use crate::types::{ConnectorError, FieldError};

/// Query options in the order given; values are percent-encoded when written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.0.push((key.to_owned(), value.into()));
        self
    }

    /// `k=v&k=v`, values percent-encoded (keys are ASCII option names such as `$filter`).
    pub fn encode(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={}", percent_encode(v))).collect::<Vec<_>>().join("&")
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so spaces, quotes, `+`
/// and `&` inside a `$filter` survive any decoder.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An OData string literal: `'O''Brien'` for `O'Brien`.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A string key in a resource path: `'80000001'`, quotes doubled and the rest percent-encoded.
pub fn key_literal(value: &str) -> String {
    format!("'{}'", percent_encode(&value.replace('\'', "''")).replace("%27", "'"))
}

/// An `Edm.DateTime` literal for midnight of a calendar date: `datetime'2025-05-30T00:00:00'`.
pub fn date_literal(calendar_date: &str) -> String {
    format!("datetime'{calendar_date}T00:00:00'")
}

/// An `Edm.DateTimeOffset` literal of an instant, in UTC to the millisecond:
/// `datetimeoffset'2025-05-30T08:00:00.000Z'`.
pub fn datetimeoffset_literal(ms: i64) -> String {
    let c = time::CivilDateTime::from_ms(ms, 0);
    format!(
        "datetimeoffset'{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z'",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        ms.rem_euclid(1_000)
    )
}

/// `Property eq 'value'`.
pub fn eq(property: &str, value: &str) -> String {
    format!("{property} eq {}", literal(value))
}

/// `(P eq 'a' or P eq 'b')`.
pub fn any_eq<'a>(property: &str, values: impl IntoIterator<Item = &'a str>) -> String {
    let clauses: Vec<String> = values.into_iter().map(|v| eq(property, v)).collect();
    format!("({})", clauses.join(" or "))
}

/// Clauses joined with `and`.
pub fn all(clauses: &[String]) -> String {
    clauses.join(" and ")
}

/// A collection answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    pub results: Vec<Value>,
    /// `__count`, when `$inlinecount=allpages` was asked.
    pub count: Option<u64>,
    /// `__next`: the server's link to the rest.
    pub next: Option<String>,
}

impl Collection {
    /// Whether rows remain after this answer to a read of `page_size` rows: those `__count`
    /// says are left; without a count, a full page or a `__next` link (an empty page never
    /// promises more, whatever it links to).
    pub fn has_more(&self, page_size: u32) -> bool {
        self.more_after(self.results.len(), page_size)
    }

    fn more_after(&self, rows_read: usize, page_size: u32) -> bool {
        let n = self.results.len();
        match self.count {
            Some(count) => count > rows_read as u64,
            None => n > 0 && (n >= page_size as usize || self.next.is_some()),
        }
    }
}

/// Reads `{"d":{"results":[…],"__count":"N","__next":"…"}}` (also the bare-array form
/// `{"d":[…]}` some older services answer); errors name `root`.
pub fn collection(body: &[u8], root: &str) -> Result<Collection, ConnectorError> {
    let document = json::parse_answer(body, root)?;
    let top = Node::root(&document, root);
    let d = envelope_d(&top)?;
    if let Value::Array(_) = d.value() {
        return Ok(Collection { results: array(&d)?, count: None, next: None });
    }
    let results = array(&d.required("results")?)?;
    let count = match d.raw("__count") {
        None => None,
        Some(v) => Some(json::as_i64(v).ok().and_then(|n| u64::try_from(n).ok()).ok_or_else(|| {
            d.error_at("__count", format!("expected a count like \"42\", got {}", json::describe(Some(v))))
        })?),
    };
    Ok(Collection { results, count, next: d.opt_str("__next")? })
}

/// Reads a single entity `{"d":{…}}`.
pub fn entity(body: &[u8], root: &str) -> Result<Value, ConnectorError> {
    let document = json::parse_answer(body, root)?;
    let d = envelope_d(&Node::root(&document, root))?;
    match d.value() {
        Value::Object(_) => Ok(d.value().clone()),
        other => Err(d.error(format!("expected an object, got {}", json::describe(Some(other)))).into()),
    }
}

/// The `d` of an OData v2 answer. JSON that is not an object with `d` at all (a string, an
/// array, an object of other keys from a proxy) is not the service's answer: `transient`, like
/// a body that is not JSON; a `d` that is there but null is `invalid_input` naming it.
fn envelope_d<'a>(top: &Node<'a>) -> Result<Node<'a>, ConnectorError> {
    match top.value() {
        Value::Object(map) if map.contains_key("d") => Ok(top.required("d")?),
        other => Err(json::not_the_envelope(top.path(), "an object with `d`", other)),
    }
}

fn array(node: &Node<'_>) -> Result<Vec<Value>, FieldError> {
    match node.value() {
        Value::Array(items) => Ok(items.clone()),
        other => Err(node.error(format!("expected an array, got {}", json::describe(Some(other))))),
    }
}

/// The key a key-set cursor (`<prefix><last key of the previous page>`) carries; `None`
/// for the first page. A cursor of another shape is `invalid_input` on `cursor`.
pub fn cursor_key(cursor: Option<&str>, prefix: &str) -> Result<Option<String>, ConnectorError> {
    match cursor {
        None => Ok(None),
        Some(c) => match c.strip_prefix(prefix) {
            Some(key) if !key.is_empty() => Ok(Some(key.to_owned())),
            _ => Err(ConnectorError::invalid_input(
                "cursor",
                format!("expected a cursor this plugin wrote (`{prefix}…`), got {c:?}"),
            )),
        },
    }
}

/// Reading one filtered collection `$top`/`$skip` page by page within one plugin call:
///
/// ```ignore
/// let mut pages = SkipPages::new(query, page_size, MAX_PAGES_PER_CALL);
/// loop {
///     let answer = client.get(service, entity_set, &pages.next_query(entity_set)?)?;
///     let more = pages.more(&answer);
///     rows.extend(answer.results);
///     if !more { return Ok(rows); }
/// }
/// ```
///
/// A read that does not end within `max_pages` is the `paging` error: rows that outnumber
/// that many pages in one call are a configuration problem (a `page_size` too small), never
/// a reason to loop on.
#[derive(Debug, Clone)]
pub struct SkipPages {
    base: Query,
    page_size: u32,
    max_pages: usize,
    pages: usize,
    rows: usize,
}

impl SkipPages {
    /// Pages of `page_size` rows of what `base` selects.
    pub fn new(base: Query, page_size: u32, max_pages: usize) -> Self {
        Self { base, page_size, max_pages, pages: 0, rows: 0 }
    }

    /// The query of the next page (`base` then `$top` and `$skip`), or the `paging` error
    /// naming `entity_set` once `max_pages` have been read.
    pub fn next_query(&mut self, entity_set: &str) -> Result<Query, ConnectorError> {
        if self.pages == self.max_pages {
            return Err(ConnectorError::platform(
                "paging",
                format!(
                    "one read of {entity_set} spans more than {} pages of {} rows; raise config page_size",
                    self.max_pages, self.page_size
                ),
            ));
        }
        self.pages += 1;
        Ok(self.base.clone().with("$top", self.page_size.to_string()).with("$skip", self.rows.to_string()))
    }

    /// Counts the rows of `answer` (the page [`SkipPages::next_query`] asked for); whether
    /// the server has more after them.
    pub fn more(&mut self, answer: &Collection) -> bool {
        self.rows += answer.results.len();
        answer.more_after(self.rows, self.page_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_options_are_encoded_and_literals_escaped() {
        let q = Query::new().with("$filter", eq("PurchaseOrderByCustomer", "O'Brien & co+1")).with("$top", "2");
        assert_eq!(q.encode(), "$filter=PurchaseOrderByCustomer%20eq%20%27O%27%27Brien%20%26%20co%2B1%27&$top=2");
        assert_eq!(any_eq("SalesOrder", ["1", "2"]), "(SalesOrder eq '1' or SalesOrder eq '2')");
        assert_eq!(all(&[eq("A", "1"), eq("B", "2")]), "A eq '1' and B eq '2'");
        assert_eq!(date_literal("2025-05-30"), "datetime'2025-05-30T00:00:00'");
        assert_eq!(datetimeoffset_literal(1_748_563_200_123), "datetimeoffset'2025-05-30T00:00:00.123Z'");
        assert_eq!(percent_encode("中"), "%E4%B8%AD");
        assert_eq!(key_literal("O'B 1"), "'O''B%201'");
    }

    #[test]
    fn collections_and_entities() {
        let c = collection(br#"{"d":{"results":[{"a":1}],"__count":"42","__next":"https://h/x?$skiptoken=2"}}"#, "A")
            .unwrap();
        assert_eq!((c.results.len(), c.count, c.next.as_deref()), (1, Some(42), Some("https://h/x?$skiptoken=2")));
        let c = collection(br#"{"d":[{"a":1},{"a":2}]}"#, "A").unwrap();
        assert_eq!(c.results.len(), 2);
        for (body, field) in [
            (&br#"{"d":null}"#[..], "A.d"),
            (br#"{"d":{"results":{}}}"#, "A.d.results"),
            (br#"{"d":{"results":[],"__count":"x"}}"#, "A.d.__count"),
        ] {
            match collection(body, "A") {
                Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, field),
                other => panic!("{other:?}"),
            }
        }
        // An answer that is not JSON at all (a proxy's HTML page), or JSON that is not OData's
        // `{"d": …}`, is the platform's trouble.
        for body in [&b"<html/>"[..], br#"{"x":1}"#, br#""abc""#, b"[]", b"null"] {
            assert!(matches!(collection(body, "A"), Err(ConnectorError::Transient(_))), "{body:?}");
            assert!(matches!(entity(body, "A"), Err(ConnectorError::Transient(_))), "{body:?}");
        }
        assert_eq!(entity(br#"{"d":{"SalesOrder":"1"}}"#, "A_SalesOrder").unwrap(), json!({"SalesOrder": "1"}));
    }

    #[test]
    fn cursors_carry_the_last_key() {
        assert_eq!(cursor_key(None, "k1:").unwrap(), None);
        assert_eq!(cursor_key(Some("k1:A"), "k1:").unwrap().as_deref(), Some("A"));
        for bad in ["k1:", "k2:A", "A"] {
            assert!(
                matches!(cursor_key(Some(bad), "k1:"), Err(ConnectorError::InvalidInput(f)) if f.field == "cursor")
            );
        }
    }

    fn page(rows: usize, count: Option<u64>, next: Option<&str>) -> Collection {
        Collection { results: vec![json!({}); rows], count, next: next.map(str::to_owned) }
    }

    #[test]
    fn more_is_a_full_page_a_next_link_or_what_the_count_says() {
        assert!(page(3, None, None).has_more(3));
        assert!(!page(2, None, None).has_more(3));
        assert!(page(2, None, Some("E?$skiptoken=2")).has_more(3));
        assert!(!page(0, None, Some("E?$skiptoken=2")).has_more(3));
        assert!(page(3, Some(4), None).has_more(3));
        assert!(!page(3, Some(3), None).has_more(3));
    }

    #[test]
    fn skip_pages_count_rows_and_stop_at_the_cap() {
        let mut pages = SkipPages::new(Query::new().with("$filter", "K eq 'x'"), 2, 2);
        assert_eq!(pages.next_query("E").unwrap().encode(), "$filter=K%20eq%20%27x%27&$top=2&$skip=0");
        assert!(pages.more(&page(2, None, None)));
        assert_eq!(pages.next_query("E").unwrap().encode(), "$filter=K%20eq%20%27x%27&$top=2&$skip=2");
        assert!(pages.more(&page(2, Some(5), None)), "4 of 5 read");
        match pages.next_query("E") {
            Err(ConnectorError::Platform(p)) => {
                assert_eq!(p.code, "paging");
                assert!(p.message.contains("E spans more than 2 pages of 2 rows"), "{}", p.message);
            }
            other => panic!("{other:?}"),
        }
    }
}
