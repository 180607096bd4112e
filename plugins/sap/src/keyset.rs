//! Reading OData collections page by page, the two ways the pulls need.
//!
//! - [`read_groups`]: one call's page of a list ordered by a grouping key (a material), read
//!   with a key-set cursor (`<key> gt '<last>'`), so rows that appear or vanish between calls
//!   cannot shift a page. A page ends on a key boundary: no group is split between two calls.
//! - [`read_all`]: every row of a small filtered read (the stock of a few materials, the
//!   deliveries of a few sales orders), following `$skip` until the server has no more.

use serde_json::Value;
use wharf_sdk::types::ConnectorError;

use crate::odata::{self, Client, Query};
use crate::transport::Transport;

/// OData pages one call may read before giving up: a single group (or lookup) with more rows
/// than this many pages hold is a configuration problem (raise `page_size`).
pub const MAX_PAGES_PER_CALL: usize = 50;

/// A grouped list: where it is, how it is filtered, selected and ordered.
pub struct Walk<'a> {
    pub service: &'a str,
    pub entity_set: &'a str,
    /// Clauses `and`-ed, without the cursor's.
    pub filter: Vec<String>,
    /// The grouping key: the first `$orderby` property.
    pub key: &'a str,
    pub select: &'a str,
    pub expand: Option<&'a str>,
    pub order_by: &'a str,
    /// Cursors are `<prefix><last key of the previous page>`.
    pub cursor_prefix: &'a str,
}

/// One call's rows, whole groups only, and the cursor of the rest (`None` when done).
pub struct Groups<R> {
    pub rows: Vec<R>,
    pub next_cursor: Option<String>,
}

fn paging_error(entity_set: &str, page_size: u32) -> ConnectorError {
    ConnectorError::platform(
        "paging",
        format!(
            "one read of {entity_set} spans more than {MAX_PAGES_PER_CALL} pages of {page_size} rows; raise config page_size"
        ),
    )
}

fn query(filter: &[String], select: &str, expand: Option<&str>, order_by: &str) -> Query {
    let mut query = Query::new();
    if !filter.is_empty() {
        query = query.with("$filter", odata::all(filter));
    }
    query = query.with("$select", select);
    if let Some(expand) = expand {
        query = query.with("$expand", expand);
    }
    query.with("$orderby", order_by)
}

/// Reads the groups after `cursor` (see the module docs); `parse` reads one row (given its
/// field path) and `key_of` names its group.
pub fn read_groups<T: Transport, R>(
    client: &mut Client<'_, T>,
    walk: &Walk<'_>,
    cursor: Option<&str>,
    parse: impl Fn(&Value, String) -> Result<R, ConnectorError>,
    key_of: impl Fn(&R) -> &str,
) -> Result<Groups<R>, ConnectorError> {
    let after = odata::cursor_key(cursor, walk.cursor_prefix)?;
    let mut filter = walk.filter.clone();
    if let Some(last) = &after {
        filter.push(format!("{} gt {}", walk.key, odata::literal(last)));
    }
    let page_size = client.settings().page_size;
    let base = query(&filter, walk.select, walk.expand, walk.order_by);
    let mut rows: Vec<R> = Vec::new();
    let mut skip = 0usize;
    for _ in 0..MAX_PAGES_PER_CALL {
        let query = base
            .clone()
            .with("$top", page_size.to_string())
            .with("$skip", skip.to_string());
        let answer = client.get(walk.service, walk.entity_set, &query)?;
        let n = answer.results.len();
        for (i, row) in answer.results.iter().enumerate() {
            rows.push(parse(row, format!("{}.d.results[{i}]", walk.entity_set))?);
        }
        let more = n > 0 && (n == page_size as usize || answer.next.is_some());
        if !more {
            return Ok(Groups {
                rows,
                next_cursor: None,
            });
        }
        // The last group may continue on the next page: keep the ones before it, and start
        // the next call after them.
        let last = rows
            .last()
            .map(|r| key_of(r).to_owned())
            .unwrap_or_default();
        if let Some(complete) = rows
            .iter()
            .rev()
            .map(&key_of)
            .find(|k| *k != last)
            .map(str::to_owned)
        {
            rows.retain(|r| key_of(r) != last);
            return Ok(Groups {
                rows,
                next_cursor: Some(format!("{}{complete}", walk.cursor_prefix)),
            });
        }
        skip += n;
    }
    Err(paging_error(walk.entity_set, page_size))
}

/// Every row of `entity_set` that `filter` selects, in `order_by` order.
pub fn read_all<T: Transport>(
    client: &mut Client<'_, T>,
    service: &str,
    entity_set: &str,
    filter: &[String],
    select: &str,
    order_by: &str,
) -> Result<Vec<Value>, ConnectorError> {
    let page_size = client.settings().page_size;
    let base = query(filter, select, None, order_by);
    let mut rows = Vec::new();
    for _ in 0..MAX_PAGES_PER_CALL {
        let query = base
            .clone()
            .with("$top", page_size.to_string())
            .with("$skip", rows.len().to_string());
        let answer = client.get(service, entity_set, &query)?;
        let n = answer.results.len();
        rows.extend(answer.results);
        if n == 0 || (n < page_size as usize && answer.next.is_none()) {
            return Ok(rows);
        }
    }
    Err(paging_error(entity_set, page_size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::settings;
    use crate::transport::scripted::{Scripted, json};

    fn page(keys: &[&str]) -> Result<wharf_sdk::http::Response, ConnectorError> {
        let rows: Vec<Value> = keys.iter().map(|k| serde_json::json!({"K": k})).collect();
        json(
            200,
            &serde_json::json!({"d": {"results": rows}}).to_string(),
        )
    }

    const WALK: Walk<'static> = Walk {
        service: "SRV",
        entity_set: "E",
        filter: Vec::new(),
        key: "K",
        select: "K",
        expand: None,
        order_by: "K",
        cursor_prefix: "k1:",
    };

    fn keys(groups: &Groups<String>) -> Vec<&str> {
        groups.rows.iter().map(String::as_str).collect()
    }

    #[test]
    fn pages_end_on_a_group_boundary() {
        let s = settings(&[("page_size", "3")]);
        let mut t = Scripted::answering(vec![page(&["A", "A", "B"])]);
        let mut client = Client::new(&mut t, &s);
        let parse = |v: &Value, _: String| Ok(v["K"].as_str().unwrap_or_default().to_owned());
        let groups = read_groups(&mut client, &WALK, None, parse, |r: &String| r).unwrap();
        assert_eq!(keys(&groups), ["A", "A"]);
        assert_eq!(groups.next_cursor.as_deref(), Some("k1:A"));
        assert_eq!(
            t.url(0),
            "https://my-s4.example.com/sap/opu/odata/sap/SRV/E?$select=K&$orderby=K&$top=3&$skip=0&$format=json"
        );

        let mut t = Scripted::answering(vec![page(&["B", "B", "B"]), page(&["B"])]);
        let mut client = Client::new(&mut t, &s);
        let groups = read_groups(&mut client, &WALK, Some("k1:A"), parse, |r: &String| r).unwrap();
        assert_eq!(keys(&groups), ["B", "B", "B", "B"]);
        assert_eq!(groups.next_cursor, None);
        assert!(t.url(1).contains("$filter=K gt 'A'&") && t.url(1).contains("$skip=3"));
    }

    #[test]
    fn read_all_follows_skip_and_gives_up_on_endless_answers() {
        let s = settings(&[("page_size", "2")]);
        let mut t = Scripted::answering(vec![page(&["A", "B"]), page(&["C"])]);
        let rows = read_all(
            &mut Client::new(&mut t, &s),
            "SRV",
            "E",
            &[odata::eq("K", "x")],
            "K",
            "K",
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        assert!(
            t.url(1)
                .contains("$filter=K eq 'x'&$select=K&$orderby=K&$top=2&$skip=2")
        );
        let mut t =
            Scripted::answering((0..MAX_PAGES_PER_CALL).map(|_| page(&["A", "B"])).collect());
        assert!(matches!(
            read_all(&mut Client::new(&mut t, &s), "SRV", "E", &[], "K", "K"),
            Err(ConnectorError::Platform(p)) if p.code == "paging"
        ));
    }
}
