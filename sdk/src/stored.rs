//! What the host already stores for the calling shop (contract 0.4.0): the raw `stored` import
//! plus the question a listing asks of it.
//!
//! The host reads each window from a little before the last one ended, so every round lists
//! again what the last round fetched. A listing row that carries its modification time is
//! fetched in full only when the host does not store that order at that time already: on TOP a
//! round of a busy shop re-fetched every trade of the overlap, about 90 `fullinfo` calls every
//! two seconds, out of the shop's call quota (issue 18).

pub use crate::marketplace::wharf::connector::stored::*;

use crate::types::ConnectorError;

/// The most ids one `order-versions` call may carry (the contract's own limit).
pub const MAX_IDS: usize = 1_000;

/// `order-versions` for any number of ids, asked [`MAX_IDS`] at a time.
pub fn versions_of(order_ids: &[String]) -> Vec<Option<i64>> {
    order_ids.chunks(MAX_IDS).flat_map(order_versions).collect()
}

/// Which of `rows` still need fetching: those whose order the host does not store at their
/// listed modification time (`versions`: the host's answer for each row, in order). A row
/// without a modification time is always fetched. A stored version newer than the listed one
/// is also left out: the listing is older than what was already fetched.
pub fn changed<R>(rows: Vec<R>, modified: impl Fn(&R) -> Option<i64>, versions: &[Option<i64>]) -> Vec<R> {
    rows.into_iter()
        .zip(versions.iter().copied().chain(std::iter::repeat(None)))
        .filter(|(row, stored)| match (modified(row), stored) {
            (Some(listed), Some(stored)) => listed > *stored,
            _ => true,
        })
        .map(|(row, _)| row)
        .collect()
}

/// Asks `api` which of `ids` it stores, checking the answer has one version per id.
pub fn ask(api: &mut impl crate::api::Api, ids: &[String]) -> Result<Vec<Option<i64>>, ConnectorError> {
    let versions = api.stored_order_versions(ids)?;
    if versions.len() != ids.len() {
        return Err(ConnectorError::transient(format!(
            "the host answered {} stored versions for {} order ids",
            versions.len(),
            ids.len()
        )));
    }
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rows_newer_than_what_is_stored_or_unknown_are_fetched() {
        let rows = vec![("a", Some(10)), ("b", Some(20)), ("c", Some(30)), ("d", None), ("e", Some(5))];
        let stored = [Some(10), Some(15), None, Some(99), Some(7)];
        let kept: Vec<&str> = changed(rows, |r| r.1, &stored).into_iter().map(|r| r.0).collect();
        // a: same version; b: newer; c: unknown; d: no listed time; e: older than stored.
        assert_eq!(kept, ["b", "c", "d"]);
    }

    #[test]
    fn a_short_answer_fetches_the_rest() {
        let kept = changed(vec![1, 2, 3], |_| Some(1), &[Some(1)]);
        assert_eq!(kept, [2, 3]);
    }
}
