//! The TOML document as parsed with byte spans, and how its tables are read so that every
//! problem is found at once, each at its own path.
//!
//! Serde stops at the first error of a value, and its errors name no path. So the file is
//! parsed into toml's spanned tree ([`DeValue`]), and each fixed-shape table (a shop, a route,
//! the globals) is deserialized on its own into a `#[serde(deny_unknown_fields)]` record. When
//! serde refuses a record, the error's span points into the text: the entry holding that span
//! gives the path, the entry is reported and taken out, and the record is read again, so two
//! unknown keys in one shop are two problems, and a bad key never hides the rest of the shop.
//! Open-ended tables (plugin config, credentials, schedules, carrier and status tables) are
//! read entry by entry from the tree, for the same reason.

use std::collections::BTreeSet;
use std::ops::Range;

use serde::de::{DeserializeOwned, IntoDeserializer};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::Problems;

/// A value of the document with its byte span in the text.
pub(crate) type Node<'i> = Spanned<DeValue<'i>>;

/// Parses `text`, reporting every syntax error (at its line and column). Nothing else is
/// checked in a file that does not parse: what follows a syntax error is guesswork.
pub(crate) fn parse<'i>(text: &'i str, problems: &mut Problems) -> Option<Node<'i>> {
    let (doc, mut errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        let span = doc.span();
        return Some(Spanned::new(span, DeValue::Table(doc.into_inner())));
    }
    // The parser recovers and reports in its own order; the file's order reads better.
    errors.sort_by_key(|e| e.span().map_or(0, |s| s.start));
    for error in errors {
        let at = error.span().map(|span| line_and_column(text, span.start)).unwrap_or_default();
        problems.push(at, error.message());
    }
    None
}

/// `line L, column C` (both from 1, columns in characters) of a byte offset.
pub(crate) fn line_and_column(text: &str, offset: usize) -> String {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    format!("line {line}, column {column}")
}

/// The path of `key` inside the table at `parent` (`""` is the document root). Keys that are
/// not bare TOML keys are quoted, so the path can be pasted back into a TOML header.
pub(crate) fn key_path(parent: &str, key: &str) -> String {
    let bare = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key = if bare { key.to_owned() } else { format!("{key:?}") };
    if parent.is_empty() { key } else { format!("{parent}.{key}") }
}

/// The path of element `index` of the array at `parent`.
pub(crate) fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// "a string", "an integer": a TOML type name with its article, for messages.
pub(crate) fn type_name(value: &DeValue<'_>) -> String {
    let name = value.type_str();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {name}")
}

/// A fixed-shape table read into its serde record `T`.
pub(crate) struct Record<'n, 'i, T> {
    pub(crate) fields: T,
    pub(crate) path: String,
    table: &'n DeTable<'i>,
    /// Keys already reported as unusable (wrong type); they are absent from `fields` but must
    /// not be reported again as missing.
    unusable: BTreeSet<String>,
}

impl<'n, 'i, T> Record<'n, 'i, T> {
    /// The path of one of this record's keys.
    pub(crate) fn path_of(&self, key: &str) -> String {
        key_path(&self.path, key)
    }

    /// The node of a key that the record defers to the tree (typed `Deferred`).
    pub(crate) fn node(&self, key: &str) -> Option<&'n Node<'i>> {
        if self.unusable.contains(key) { None } else { self.table.get(key) }
    }

    /// A required value: reports it missing, unless it was there and already reported.
    pub(crate) fn required<'a, V>(
        &self,
        key: &str,
        value: &'a Option<V>,
        example: &str,
        problems: &mut Problems,
    ) -> Option<&'a V> {
        if value.is_none() && !self.unusable.contains(key) {
            problems.push(self.path_of(key), format!("required; for example {example}"));
        }
        value.as_ref()
    }
}

/// A key of a record whose value is read from the tree rather than by serde (it accepts
/// anything; see the module doc for why).
pub(crate) type Deferred = Option<serde::de::IgnoredAny>;

/// Reads the table at `node` into `T`, reporting each unknown key and each value of the wrong
/// type at its path. `None` only when `node` is not a table, or serde fails somewhere no key
/// can be blamed for.
pub(crate) fn record<'n, 'i, T: DeserializeOwned>(
    node: &'n Node<'i>,
    path: String,
    problems: &mut Problems,
) -> Option<Record<'n, 'i, T>> {
    let Some(table) = node.get_ref().as_table() else {
        problems.push(path, format!("expected a table, found {}", type_name(node.get_ref())));
        return None;
    };
    let mut working = table.clone();
    let mut unusable = BTreeSet::new();
    loop {
        let attempt = Spanned::new(node.span(), DeValue::Table(working.clone()));
        let error = match T::deserialize(attempt.into_deserializer()) {
            Ok(fields) => {
                return Some(Record { fields, path, table, unusable });
            }
            Err(error) => error,
        };
        let blamed = error.span().and_then(|span| locate(&working, &span));
        let Some((key, below)) = blamed else {
            problems.push(path, error.message());
            return None;
        };
        problems.push(format!("{}{below}", key_path(&path, &key)), error.message());
        // Each round takes one key out, so this ends after at most one round per key.
        working.remove(key.as_str())?;
        unusable.insert(key);
    }
}

/// One step of a path inside the document.
enum Step {
    Key(String),
    Index(usize),
}

/// The key of `table` whose entry holds `span` (in its key or anywhere in its value), and the
/// rest of the path from that key to the innermost entry holding it.
fn locate(table: &DeTable<'_>, span: &Range<usize>) -> Option<(String, String)> {
    let mut steps = below(table, span)?.into_iter();
    let Some(Step::Key(key)) = steps.next() else {
        return None;
    };
    let rest = steps.fold(String::new(), |at, step| match step {
        Step::Key(k) => format!("{at}.{}", key_path("", &k)),
        Step::Index(i) => index_path(&at, i),
    });
    Some((key, rest))
}

/// The steps to the innermost entry inside `table` that holds `span`. A key holding it is the
/// answer (serde blames keys for unknown fields); otherwise every value is searched, not only
/// those whose own span holds it: a table built from `[a.b.c]` headers does not span its
/// children's text, and an array-of-tables element spans its `[[header]]`.
fn below(table: &DeTable<'_>, span: &Range<usize>) -> Option<Vec<Step>> {
    if let Some((key, _)) = table.iter().find(|(key, _)| holds(&key.span(), span)) {
        return Some(vec![Step::Key(key.get_ref().to_string())]);
    }
    table.iter().find_map(|(key, child)| {
        let inner = inside(child, span).or_else(|| holds(&child.span(), span).then(Vec::new))?;
        Some(std::iter::once(Step::Key(key.get_ref().to_string())).chain(inner).collect())
    })
}

/// The steps from the value `node` to the innermost entry inside it that holds `span`.
fn inside(node: &Node<'_>, span: &Range<usize>) -> Option<Vec<Step>> {
    match node.get_ref() {
        DeValue::Table(table) => below(table, span),
        DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let inner = inside(item, span).or_else(|| holds(&item.span(), span).then(Vec::new))?;
            Some(std::iter::once(Step::Index(i)).chain(inner).collect())
        }),
        _ => None,
    }
}

fn holds(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start < outer.end && outer.start <= inner.start && inner.end <= outer.end
}

/// One string entry of an open-ended table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) path: String,
}

/// Reads an open-ended table of strings (plugin config, credentials, a carrier's codes), entry
/// by entry: each entry that is not a string is one problem at its own path, and the others
/// are still returned.
pub(crate) fn string_table<'n, 'i>(node: &'n Node<'i>, path: &str, problems: &mut Problems) -> Vec<Entry> {
    let Some(table) = node.get_ref().as_table() else {
        problems.push(path, format!("expected a table, found {}", type_name(node.get_ref())));
        return Vec::new();
    };
    let mut entries = Vec::with_capacity(table.len());
    for (key, value) in table {
        let entry_path = key_path(path, key.get_ref());
        match value.get_ref().as_str() {
            Some(text) => {
                entries.push(Entry { key: key.get_ref().to_string(), value: text.to_owned(), path: entry_path })
            }
            None => problems.push(entry_path, format!("expected a string, found {}", type_name(value.get_ref()))),
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "Deferred fields only admit their key")]
    struct Shop {
        id: Option<String>,
        enabled: Option<bool>,
        config: Deferred,
    }

    /// The shop's id, enabled flag and `key=value` config entries, if it was read.
    type Read = Option<(Option<String>, Option<bool>, Vec<String>)>;

    fn read(text: &str) -> (Read, Vec<String>) {
        let mut problems = Problems::default();
        let doc = parse(text, &mut problems).expect("parses");
        let shop = doc.get_ref().get("shop").expect("shop");
        let record = record::<Shop>(shop, "shop".into(), &mut problems);
        let result = record.map(|r| {
            let config =
                r.node("config").map(|n| string_table(n, &r.path_of("config"), &mut problems)).unwrap_or_default();
            let _ = r.required("id", &r.fields.id, "id = \"x\"", &mut problems);
            (
                r.fields.id.clone(),
                r.fields.enabled,
                config.into_iter().map(|e| format!("{}={}", e.key, e.value)).collect(),
            )
        });
        (result, problems.into_errors().problems.into_iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn reports_every_unknown_key_and_keeps_the_rest() {
        let (shop, problems) = read("[shop]\nid = \"a\"\ncolour = 1\nsize = 2\nenabled = true\n");
        assert_eq!(shop, Some((Some("a".into()), Some(true), vec![])));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("shop.colour: unknown field `colour`, expected one of `id`, `enabled`, `config`")
        );
        assert!(problems[1].starts_with("shop.size: unknown field `size`"));
    }

    #[test]
    fn a_wrong_type_is_reported_once_at_its_key_not_as_missing() {
        let (shop, problems) = read("[shop]\nid = 7\nenabled = \"yes\"\n");
        assert_eq!(shop, Some((None, None, vec![])));
        assert_eq!(
            problems,
            vec![
                "shop.enabled: invalid type: string \"yes\", expected a boolean".to_string(),
                "shop.id: invalid type: integer `7`, expected a string".to_string(),
            ]
        );
    }

    #[test]
    fn a_missing_required_key_is_reported() {
        let (_, problems) = read("[shop]\nenabled = true\n");
        assert_eq!(problems, vec!["shop.id: required; for example id = \"x\"".to_string()]);
    }

    #[test]
    fn string_tables_report_each_bad_entry_at_its_path() {
        let (shop, problems) =
            read("[shop]\nid = \"a\"\n[shop.config]\nok = \"1\"\nn = 5\nlist = [1]\n\"odd key\" = true\n");
        assert_eq!(shop.unwrap().2, vec!["ok=1".to_string()]);
        assert_eq!(
            problems,
            vec![
                "shop.config.list: expected a string, found an array".to_string(),
                "shop.config.n: expected a string, found an integer".to_string(),
                "shop.config.\"odd key\": expected a string, found a boolean".to_string(),
            ]
        );
    }

    #[test]
    fn a_record_that_is_not_a_table_is_one_problem() {
        let mut problems = Problems::default();
        let doc = parse("shop = 3", &mut problems).unwrap();
        assert!(record::<Shop>(doc.get_ref().get("shop").unwrap(), "shop".into(), &mut problems).is_none());
        assert_eq!(problems.into_errors().to_string(), "shop: expected a table, found an integer");
    }

    #[test]
    fn syntax_errors_are_all_reported_with_line_and_column() {
        let mut problems = Problems::default();
        assert!(parse("a = 1\nb = \nc = \"x\"\nd = [1,\n", &mut problems).is_none());
        let errors = problems.into_errors();
        assert!(!errors.problems.is_empty());
        assert_eq!(errors.problems.len(), 2, "{errors}");
        assert_eq!(errors.problems[0].path, "line 2, column 5", "{errors}");
        assert_eq!(errors.problems[1].path, "line 4, column 8", "{errors}");
    }

    #[test]
    fn paths_quote_keys_that_are_not_bare() {
        assert_eq!(key_path("", "tenants"), "tenants");
        assert_eq!(key_path("tenants", "Acme Corp"), "tenants.\"Acme Corp\"");
        assert_eq!(key_path("tenants", "acme-1_x"), "tenants.acme-1_x");
        assert_eq!(index_path("tenants.acme.shops", 1), "tenants.acme.shops[1]");
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_and_column("a\n店 = x", 6), "line 2, column 3");
        assert_eq!(line_and_column("", 0), "line 1, column 1");
    }
}
