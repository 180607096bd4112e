//! Reading OData collections page by page, the two ways the pulls need, and setting aside
//! the records that cannot be mapped.
//!
//! - [`read_groups`]: one call's page of a list ordered by a grouping key (a material), read
//!   with a key-set cursor (`<key> gt '<last>'`), so rows that appear or vanish between calls
//!   cannot shift a page. A page ends on a key boundary: no group is split between two calls.
//! - [`read_all`]: every row of a small filtered read (the stock of a few materials, the
//!   deliveries of a few sales orders), following `$skip` until the server has no more.
//!
//! Both page with the SDK's [`SkipPages`], which owns `$top`/`$skip`, the rule for "is there
//! more" and the cap of [`MAX_PAGES_PER_CALL`].
//!
//! One bad record is one bad record: a group is one record, named by its key (the material),
//! and [`map_groups`] maps each on its own; a group whose mapping fails on its own data
//! (`invalid_input`) is a [`Rejected`] entry of the page, with the offending row as its
//! excerpt, and the other groups flow. A row without a readable key belongs to no group and is
//! rejected, named by its place in the answer, with the groups of its neighbours in SAP's
//! order (it may be one of their rows: their sums would be short). Errors about the call (no answer,
//! credentials, throttling, an answer that is not OData) stop it.

use std::collections::BTreeMap;

use serde_json::Value;
use wharf_sdk::json::Node;
use wharf_sdk::reject::{self, Mapped};
use wharf_sdk::types::{ConnectorError, Rejected};

use wharf_sdk::odata::SkipPages;

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

/// One row as SAP sent it, with its place in the answer (`A_Batch.d.results[3]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub path: String,
    pub value: Value,
}

impl Row {
    /// Row `i` of an `entity_set` collection answer.
    pub fn at(entity_set: &str, i: usize, value: Value) -> Self {
        Self { path: format!("{entity_set}.d.results[{i}]"), value }
    }

    pub fn node(&self) -> Node<'_> {
        Node::root(&self.value, self.path.clone())
    }
}

/// The rows of one group (a material), in the order SAP sent them: one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub key: String,
    pub rows: Vec<Row>,
}

/// One call's whole groups, the rows rejected for want of a key, and the cursor of the rest
/// (`None` when done).
pub struct Groups {
    pub groups: Vec<Group>,
    pub rejected: Vec<Rejected>,
    pub next_cursor: Option<String>,
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

/// The string `key` of `row` (not empty: every group is named by it; without control
/// characters, as no SAP key has them), or the rejection of a row without a readable one.
fn key_of(row: &Row, key: &str) -> Result<Result<String, Rejected>, ConnectorError> {
    let node = row.node();
    let id = reject::record_id(&node, key);
    let read = node.str(key).and_then(|k| {
        if k.is_empty() || k.chars().any(char::is_control) {
            Err(node.error_at(key, format!("expected a {key} (non-empty, no control characters), got {k:?}")))
        } else {
            Ok(k)
        }
    });
    reject::settle(&id, Some(&row.value), read.map_err(Into::into), &[])
}

/// Rows in SAP's order being keyed, and the groups a row without a readable key may belong to.
///
/// The list is ordered by the key, so a row whose key cannot be read lies between its keyed
/// neighbours: its stock (its lots, its prices) may be part of either neighbour's group, whose
/// sum would then be short. Both neighbours' groups are rejected with it rather than published
/// incomplete (a group strictly between them has no other row to publish).
#[derive(Default)]
struct Keying {
    rows: Vec<(String, Row)>,
    rejected: Vec<Rejected>,
    /// Group key → the path of the unkeyed row next to it.
    tainted: BTreeMap<String, String>,
    /// The path of an unkeyed row whose next keyed neighbour is still to come.
    after_unkeyed: Option<String>,
}

impl Keying {
    fn push(&mut self, row: Row, key: &str) -> Result<(), ConnectorError> {
        match key_of(&row, key)? {
            Ok(k) => {
                if let Some(path) = self.after_unkeyed.take() {
                    self.tainted.entry(k.clone()).or_insert(path);
                }
                self.rows.push((k, row));
            }
            Err(r) => {
                if let Some((previous, _)) = self.rows.last() {
                    self.tainted.entry(previous.clone()).or_insert_with(|| row.path.clone());
                }
                self.after_unkeyed = Some(row.path.clone());
                self.rejected.push(r);
            }
        }
        Ok(())
    }

    /// The whole groups, and every rejection: the unkeyed rows and their neighbours' groups.
    fn finish(self, key: &str) -> Result<(Vec<Group>, Vec<Rejected>), ConnectorError> {
        let mut rejected = self.rejected;
        let mut groups = Vec::new();
        for group in grouped(self.rows) {
            let Some(path) = self.tainted.get(&group.key) else {
                groups.push(group);
                continue;
            };
            let error = ConnectorError::invalid_input(
                format!("{path}.{key}"),
                format!(
                    "expected every row next to {key} {:?} to name its {key}: the row at {path} has none \
                     readable and may belong to it, so its rows cannot be summed",
                    group.key
                ),
            );
            let rows = Value::Array(group.rows.iter().map(|r| r.value.clone()).collect());
            rejected.push(reject::rejection(&group.key, Some(&rows), error, &[])?);
        }
        Ok((groups, rejected))
    }
}

/// `rows` grouped by their string property `key`, in key order; a row without a readable key
/// is rejected, with its neighbours' groups (see [`Keying`]).
pub fn group(rows: Vec<Row>, key: &str) -> Result<(Vec<Group>, Vec<Rejected>), ConnectorError> {
    let mut keying = Keying::default();
    for row in rows {
        keying.push(row, key)?;
    }
    keying.finish(key)
}

/// Keyed rows as groups, in key order.
fn grouped(rows: Vec<(String, Row)>) -> Vec<Group> {
    let mut groups: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for (key, row) in rows {
        groups.entry(key).or_default().push(row);
    }
    groups.into_iter().map(|(key, rows)| Group { key, rows }).collect()
}

/// Reads the groups after `cursor` (see the module docs).
pub fn read_groups<T: Transport>(
    client: &mut Client<'_, T>,
    walk: &Walk<'_>,
    cursor: Option<&str>,
) -> Result<Groups, ConnectorError> {
    let after = odata::cursor_key(cursor, walk.cursor_prefix)?;
    let mut filter = walk.filter.clone();
    if let Some(last) = &after {
        filter.push(format!("{} gt {}", walk.key, odata::literal(last)));
    }
    let page_size = client.settings().page_size;
    let base = query(&filter, walk.select, walk.expand, walk.order_by);
    let mut keying = Keying::default();
    let mut pages = SkipPages::new(base, page_size, MAX_PAGES_PER_CALL);
    loop {
        let answer = client.get(walk.service, walk.entity_set, &pages.next_query(walk.entity_set)?)?;
        let more = pages.more(&answer);
        for (i, value) in answer.results.into_iter().enumerate() {
            keying.push(Row::at(walk.entity_set, i, value), walk.key)?;
        }
        if !more {
            let (groups, rejected) = keying.finish(walk.key)?;
            return Ok(Groups { groups, rejected, next_cursor: None });
        }
        // The last group may continue on the next page: keep the ones before it, and start
        // the next call after them.
        let last = keying.rows.last().map(|(k, _)| k.clone()).unwrap_or_default();
        if let Some(complete) = keying.rows.iter().rev().map(|(k, _)| k).find(|k| **k != last).cloned() {
            keying.rows.retain(|(k, _)| *k != last);
            let (groups, rejected) = keying.finish(walk.key)?;
            return Ok(Groups { groups, rejected, next_cursor: Some(format!("{}{complete}", walk.cursor_prefix)) });
        }
    }
}

/// Whether the error `field` lies inside the row at `path`.
fn within(field: &str, path: &str) -> bool {
    field.strip_prefix(path).is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

/// Settles the mapping of `group` (see the module docs): the rejection names the group's key,
/// and its excerpt is the row the error's field is in, or all the group's rows.
pub fn settle_group<R>(group: &Group, mapped: Result<R, ConnectorError>) -> Result<Mapped<R>, ConnectorError> {
    let error = match mapped {
        Ok(record) => return Ok(Ok(record)),
        Err(error) => error,
    };
    let row = match &error {
        ConnectorError::InvalidInput(f) => group.rows.iter().find(|r| within(&f.field, &r.path)),
        _ => None,
    };
    let raw = match row {
        Some(row) => row.value.clone(),
        None => Value::Array(group.rows.iter().map(|r| r.value.clone()).collect()),
    };
    reject::rejection(&group.key, Some(&raw), error, &[]).map(Err)
}

/// Maps each group on its own: the mapped records, and the groups rejected (see the module
/// docs); an error about the call stops it.
pub fn map_groups<R>(
    groups: &[Group],
    mut map: impl FnMut(&Group) -> Result<R, ConnectorError>,
) -> Result<(Vec<R>, Vec<Rejected>), ConnectorError> {
    let mut mapped = Vec::with_capacity(groups.len());
    for group in groups {
        mapped.push(settle_group(group, map(group))?);
    }
    Ok(split(mapped))
}

/// Settled records split into the mapped ones and the rejected ones, in order.
pub fn split<R>(settled: impl IntoIterator<Item = Mapped<R>>) -> (Vec<R>, Vec<Rejected>) {
    let mut items = Vec::new();
    let mut rejected = Vec::new();
    for record in settled {
        match record {
            Ok(item) => items.push(item),
            Err(r) => rejected.push(r),
        }
    }
    (items, rejected)
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
    let base = query(filter, select, None, order_by);
    let mut pages = SkipPages::new(base, client.settings().page_size, MAX_PAGES_PER_CALL);
    let mut rows = Vec::new();
    loop {
        let answer = client.get(service, entity_set, &pages.next_query(entity_set)?)?;
        let more = pages.more(&answer);
        rows.extend(answer.results);
        if !more {
            return Ok(rows);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::settings;
    use crate::transport::scripted::{Scripted, json};

    fn page(keys: &[&str]) -> Result<wharf_sdk::http::Response, ConnectorError> {
        let rows: Vec<Value> = keys.iter().map(|k| serde_json::json!({"K": k})).collect();
        json(200, &serde_json::json!({"d": {"results": rows}}).to_string())
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

    /// Each row's group key, in order.
    fn keys(groups: &Groups) -> Vec<&str> {
        groups.groups.iter().flat_map(|g| g.rows.iter().map(|_| g.key.as_str())).collect()
    }

    #[test]
    fn pages_end_on_a_group_boundary() {
        let s = settings(&[("page_size", "3")]);
        let mut t = Scripted::answering(vec![page(&["A", "A", "B"])]);
        let mut client = Client::new(&mut t, &s);
        let groups = read_groups(&mut client, &WALK, None).unwrap();
        assert_eq!(keys(&groups), ["A", "A"]);
        assert_eq!(groups.next_cursor.as_deref(), Some("k1:A"));
        assert_eq!(
            t.url(0),
            "https://my-s4.example.com/sap/opu/odata/sap/SRV/E?$select=K&$orderby=K&$top=3&$skip=0&$format=json"
        );

        let mut t = Scripted::answering(vec![page(&["B", "B", "B"]), page(&["B"])]);
        let mut client = Client::new(&mut t, &s);
        let groups = read_groups(&mut client, &WALK, Some("k1:A")).unwrap();
        assert_eq!(keys(&groups), ["B", "B", "B", "B"]);
        assert_eq!(groups.next_cursor, None);
        assert!(t.url(1).contains("$filter=K gt 'A'&") && t.url(1).contains("$skip=3"));
    }

    #[test]
    fn a_row_without_a_key_is_rejected_with_its_neighbours_and_a_bad_group_names_its_row() {
        let s = settings(&[("page_size", "10")]);
        let rows = serde_json::json!({"d": {"results": [
            {"K": "A", "Q": "1"}, {"K": 7}, {"K": "B", "Q": "2"}, {"K": "C", "Q": "x"}, {"K": ""}, {"K": "D", "Q": "3"},
            {"K": "D", "Q": "4"}, {"K": "E", "Q": "2"}
        ]}});
        let mut t = Scripted::answering(vec![json(200, &rows.to_string())]);
        let mut client = Client::new(&mut t, &s);
        let groups = read_groups(&mut client, &WALK, None).unwrap();
        // The row without a key (7 is no string, "" names nothing) may be one of A's or B's
        // (C's or D's): their sums cannot be trusted.
        assert_eq!(keys(&groups), ["E"]);
        assert_eq!(groups.next_cursor, None);
        let rejected: Vec<(&str, &str)> = groups.rejected.iter().map(|r| (r.id.as_str(), r.field.as_str())).collect();
        assert_eq!(
            rejected,
            [
                ("7", "E.d.results[1].K"),
                ("E.d.results[4] (no readable K)", "E.d.results[4].K"),
                ("A", "E.d.results[1].K"),
                ("B", "E.d.results[1].K"),
                ("C", "E.d.results[4].K"),
                ("D", "E.d.results[4].K"),
            ]
        );
        assert!(groups.rejected[5].excerpt.as_deref().unwrap().contains(r#""Q":"4""#));

        let rows = serde_json::json!({"d": {"results": [
            {"K": "A", "Q": "1"}, {"K": "A", "Q": "x"}, {"K": "B", "Q": "2"}
        ]}});
        let mut t = Scripted::answering(vec![json(200, &rows.to_string())]);
        let mut client = Client::new(&mut t, &s);
        let groups = read_groups(&mut client, &WALK, None).unwrap();
        assert_eq!(keys(&groups), ["A", "A", "B"]);
        assert!(groups.rejected.is_empty());

        let quantity = |g: &Group| -> Result<Vec<String>, ConnectorError> {
            g.rows
                .iter()
                .map(|r| {
                    let q = r.node().str("Q")?;
                    match q.as_str() {
                        "x" => Err(r.node().error_at("Q", "expected a number").into()),
                        _ => Ok(q),
                    }
                })
                .collect()
        };
        let (items, rejected) = map_groups(&groups.groups, quantity).unwrap();
        assert_eq!(items, [vec!["2".to_owned()]]);
        assert_eq!((rejected[0].id.as_str(), rejected[0].field.as_str()), ("A", "E.d.results[1].Q"));
        assert_eq!(rejected[0].excerpt.as_deref(), Some(r#"{"K":"A","Q":"x"}"#));
        // An error about the call stops it.
        let down = |_: &Group| -> Result<(), ConnectorError> { Err(ConnectorError::transient("502")) };
        assert!(map_groups(&groups.groups, down).is_err());
    }

    #[test]
    fn read_all_follows_skip_and_gives_up_on_endless_answers() {
        let s = settings(&[("page_size", "2")]);
        let mut t = Scripted::answering(vec![page(&["A", "B"]), page(&["C"])]);
        let rows = read_all(&mut Client::new(&mut t, &s), "SRV", "E", &[odata::eq("K", "x")], "K", "K").unwrap();
        assert_eq!(rows.len(), 3);
        assert!(t.url(1).contains("$filter=K eq 'x'&$select=K&$orderby=K&$top=2&$skip=2"));
        let mut t = Scripted::answering((0..MAX_PAGES_PER_CALL).map(|_| page(&["A", "B"])).collect());
        assert!(matches!(
            read_all(&mut Client::new(&mut t, &s), "SRV", "E", &[], "K", "K"),
            Err(ConnectorError::Platform(p)) if p.code == "paging"
        ));
    }
}
