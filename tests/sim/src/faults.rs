//! Faults a test switches on at run time, shared by the simulators: throttling, revoked
//! credentials, HTTP failures and malformed bodies.
//!
//! Each simulator asks [`Faults::before`] at the top of every request and renders what it
//! answers in its own platform's words (TOP's code 7, JD's error envelope, a 429 from the
//! proxy in front of the ECShop bridge); [`Faults::after`] then breaks a successful body when
//! a malformation is pending. Malforming works on the JSON itself (the first occurrence of a
//! key anywhere in the body), so it needs no knowledge of a platform's shapes.

use std::time::{Duration, Instant};

use serde_json::Value;

/// How to break a successful response body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Malform {
    /// Replace the value of the first `key` found in the body (depth first, in document
    /// order) with `raw_json`, e.g. `("pay_amount", "\"abc\"")`. A body without that key is
    /// left alone and the malformation stays pending.
    Field { key: String, raw_json: String },
    /// Cut the body off halfway, so it is not JSON at all.
    Truncated,
}

impl Malform {
    pub fn field(key: &str, raw_json: &str) -> Self {
        Self::Field { key: key.to_owned(), raw_json: raw_json.to_owned() }
    }
}

/// What a request must be answered with instead of its normal answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Throttled: retry after this many whole seconds (at least 1).
    Throttled { retry_after_secs: u64 },
    /// The credentials were revoked or expired.
    Unauthorized,
    /// Fail with this HTTP status (a 5xx from the platform's front end).
    HttpStatus(u16),
}

/// `limit` calls go through, then every call is refused for `ban`; then the budget refills.
/// Shared by every simulator's throttling (TOP's code 7 in the Taobao simulator too).
#[derive(Debug)]
pub struct Throttle {
    limit: u32,
    used: u32,
    ban: Duration,
    banned_until: Option<Instant>,
}

impl Throttle {
    pub fn new(limit: u32, ban: Duration) -> Self {
        Self { limit, used: 0, ban, banned_until: None }
    }

    /// Counts one call at `now`; `Some(seconds left, rounded up, at least 1)` when refused.
    pub fn check(&mut self, now: Instant) -> Option<u64> {
        if let Some(until) = self.banned_until {
            if now < until {
                return Some(ceil_secs(until - now));
            }
            self.banned_until = None;
            self.used = 0;
        }
        if self.used >= self.limit {
            self.banned_until = Some(now + self.ban);
            return Some(ceil_secs(self.ban));
        }
        self.used += 1;
        None
    }
}

/// The fault state of one simulator.
#[derive(Debug, Default)]
pub struct Faults {
    throttle: Option<Throttle>,
    revoked: bool,
    http_failures: Option<(u32, u16)>,
    malforms: Vec<(u32, Malform)>,
}

impl Faults {
    /// After `calls` more calls, refuse every call for `ban_secs` seconds, repeatedly.
    pub fn throttle(&mut self, calls: u32, ban_secs: u64) {
        self.throttle = Some(Throttle::new(calls, Duration::from_secs(ban_secs.max(1))));
    }

    pub fn revoke_credentials(&mut self, revoked: bool) {
        self.revoked = revoked;
    }

    pub fn credentials_revoked(&self) -> bool {
        self.revoked
    }

    /// Answer the next `n` calls with HTTP `status`.
    pub fn fail_next(&mut self, n: u32, status: u16) {
        self.http_failures = (n > 0).then_some((n, status));
    }

    /// Break the next `n` successful bodies that `kind` applies to.
    pub fn malform_next(&mut self, n: u32, kind: Malform) {
        if n > 0 {
            self.malforms.push((n, kind));
        }
    }

    /// Clears every fault.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Counts one call; what to answer instead, if anything. Order: HTTP failures (the front
    /// end fails before the platform looks), throttling, then credentials.
    pub fn before(&mut self, now: Instant) -> Option<Refusal> {
        if let Some((left, status)) = self.http_failures.as_mut() {
            let status = *status;
            *left -= 1;
            if *left == 0 {
                self.http_failures = None;
            }
            return Some(Refusal::HttpStatus(status));
        }
        if let Some(retry_after_secs) = self.throttle.as_mut().and_then(|t| t.check(now)) {
            return Some(Refusal::Throttled { retry_after_secs });
        }
        self.revoked.then_some(Refusal::Unauthorized)
    }

    /// Applies the first pending malformation that fits `body` (a successful JSON answer).
    pub fn after(&mut self, body: String) -> String {
        for i in 0..self.malforms.len() {
            let broken = match &self.malforms[i].1 {
                Malform::Truncated => Some(truncate(&body)),
                Malform::Field { key, raw_json } => replace_first(&body, key, raw_json),
            };
            if let Some(broken) = broken {
                self.malforms[i].0 -= 1;
                if self.malforms[i].0 == 0 {
                    self.malforms.remove(i);
                }
                return broken;
            }
        }
        body
    }
}

/// Whole seconds, rounded up and at least 1 (platforms never say "0 more seconds").
fn ceil_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

fn truncate(body: &str) -> String {
    let mut cut = body.len() / 2;
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    body[..cut].to_owned()
}

/// `body` with the first `key`'s value replaced by `raw_json`; `None` when `body` is not JSON
/// or has no such key.
pub fn replace_first(body: &str, key: &str, raw_json: &str) -> Option<String> {
    let mut doc: Value = serde_json::from_str(body).ok()?;
    let replacement: Value = serde_json::from_str(raw_json).ok()?;
    fn walk(v: &mut Value, key: &str, with: &Value) -> bool {
        match v {
            Value::Object(map) => {
                if let Some(slot) = map.get_mut(key) {
                    *slot = with.clone();
                    return true;
                }
                map.values_mut().any(|child| walk(child, key, with))
            }
            Value::Array(items) => items.iter_mut().any(|child| walk(child, key, with)),
            // A JSON string holding JSON (JD's nested results, Douyin's param_json echo) is
            // not searched: malform what the plugin reads first.
            _ => false,
        }
    }
    walk(&mut doc, key, &replacement).then(|| doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_refuses_after_the_budget_then_refills() {
        let mut f = Faults::default();
        f.throttle(2, 1);
        let t0 = Instant::now();
        assert_eq!(f.before(t0), None);
        assert_eq!(f.before(t0), None);
        assert_eq!(f.before(t0), Some(Refusal::Throttled { retry_after_secs: 1 }));
        assert_eq!(f.before(t0 + Duration::from_millis(1500)), None);
    }

    #[test]
    fn http_failures_come_first_and_run_out() {
        let mut f = Faults::default();
        f.revoke_credentials(true);
        f.fail_next(1, 503);
        assert_eq!(f.before(Instant::now()), Some(Refusal::HttpStatus(503)));
        assert_eq!(f.before(Instant::now()), Some(Refusal::Unauthorized));
        f.clear();
        assert_eq!(f.before(Instant::now()), None);
    }

    #[test]
    fn malform_replaces_the_first_key_anywhere_and_waits_for_a_body_that_has_it() {
        let mut f = Faults::default();
        f.malform_next(1, Malform::field("pay_amount", "\"abc\""));
        assert_eq!(f.after(r#"{"code":0}"#.into()), r#"{"code":0}"#);
        let out = f.after(r#"{"data":{"list":[{"pay_amount":1},{"pay_amount":2}]}}"#.into());
        assert_eq!(out, r#"{"data":{"list":[{"pay_amount":"abc"},{"pay_amount":2}]}}"#);
        assert_eq!(f.after(r#"{"pay_amount":3}"#.into()), r#"{"pay_amount":3}"#, "used up");
        f.malform_next(1, Malform::Truncated);
        assert!(serde_json::from_str::<Value>(&f.after(r#"{"a":[1,2,3,4]}"#.into())).is_err());
    }
}
