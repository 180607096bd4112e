//! Faults a test can switch on at run time: throttling, an expired session, HTTP failures,
//! injected TOP errors and malformed bodies.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::error::TopError;
use super::render::FieldOverride;
use crate::faults::Throttle;

/// How to break a successful response body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Malform {
    /// Write a trade-level field's JSON value as `raw_json` (e.g. `payment` as `"abc"`), in
    /// the first trade of the next response that carries that field. Only applies to
    /// `taobao.trade.fullinfo.get` and `taobao.trades.sold.increment.get`.
    TradeField { field: String, raw_json: String },
    /// Cut the body off halfway, so it is not JSON at all. Applies to any method.
    Truncated,
}

impl Malform {
    /// `payment` as `"abc"`: a money field that is not a number.
    pub fn bad_payment() -> Self {
        Self::TradeField { field: "payment".into(), raw_json: "\"abc\"".into() }
    }

    /// Any trade field with any raw JSON value, e.g. `("tid", "\"x\"")` or `("modified", "7")`.
    pub fn trade_field(field: &str, raw_json: &str) -> Self {
        Self::TradeField { field: field.into(), raw_json: raw_json.into() }
    }
}

#[derive(Debug)]
struct MalformRule {
    /// Only this method, or any.
    method: Option<String>,
    remaining: u32,
    kind: Malform,
}

impl MalformRule {
    fn applies(&self, method: &str, carries_trades: bool) -> bool {
        self.method.as_deref().is_none_or(|m| m == method) && (carries_trades || self.kind == Malform::Truncated)
    }
}

/// A malformation claimed for one response.
#[derive(Debug)]
pub enum Claimed {
    Field(FieldOverride),
    Truncated,
}

#[derive(Debug, Default)]
pub struct Knobs {
    throttle: Option<Throttle>,
    pub session_expired: bool,
    /// (responses left, HTTP status).
    http_failures: Option<(u32, u16)>,
    injected: Option<(u32, TopError)>,
    malforms: VecDeque<MalformRule>,
}

impl Knobs {
    pub fn set_throttle(&mut self, n_calls: u32, ban: Duration) {
        self.throttle = Some(Throttle::new(n_calls, ban));
    }

    pub fn clear_throttle(&mut self) {
        self.throttle = None;
    }

    /// Clears every fault.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    pub fn fail_next(&mut self, n: u32, status: u16) {
        self.http_failures = (n > 0).then_some((n, status));
    }

    pub fn error_next(&mut self, n: u32, error: TopError) {
        self.injected = (n > 0).then_some((n, error));
    }

    pub fn malform_next(&mut self, method: Option<&str>, n: u32, kind: Malform) {
        if n > 0 {
            self.malforms.push_back(MalformRule { method: method.map(str::to_string), remaining: n, kind });
        }
    }

    /// The HTTP status to fail this request with, if a failure is pending.
    pub fn take_http_failure(&mut self) -> Option<u16> {
        let (left, status) = self.http_failures.as_mut()?;
        let status = *status;
        *left -= 1;
        if *left == 0 {
            self.http_failures = None;
        }
        Some(status)
    }

    /// Counts one call against the throttle; `Err` when it is refused.
    pub fn check_throttle(&mut self, now: Instant) -> Result<(), TopError> {
        match self.throttle.as_mut().and_then(|t| t.check(now)) {
            Some(seconds) => Err(TopError::throttled(seconds)),
            None => Ok(()),
        }
    }

    pub fn take_injected_error(&mut self) -> Option<TopError> {
        let (left, err) = self.injected.as_mut()?;
        let err = err.clone();
        *left -= 1;
        if *left == 0 {
            self.injected = None;
        }
        Some(err)
    }

    /// Claims one malformation for a response of `method`, if the first rule that applies to
    /// it is pending. A field override the response did not use goes back with
    /// [`Knobs::unclaim`].
    pub fn claim_malform(&mut self, method: &str, carries_trades: bool) -> Option<Claim> {
        let index = self.malforms.iter().position(|r| r.applies(method, carries_trades))?;
        let rule = &mut self.malforms[index];
        let what = match &rule.kind {
            Malform::TradeField { field, raw_json } => {
                Claimed::Field(FieldOverride { field: field.clone(), raw_json: raw_json.clone() })
            }
            Malform::Truncated => Claimed::Truncated,
        };
        let method = rule.method.clone();
        rule.remaining -= 1;
        if rule.remaining == 0 {
            self.malforms.remove(index);
        }
        Some(Claim { what, method, index })
    }

    /// Puts back a malformation the response did not use (an error response, or no such
    /// field in it).
    pub fn unclaim(&mut self, method: Option<String>, index: usize, kind: Malform) {
        match self.malforms.get_mut(index) {
            Some(rule) if rule.kind == kind && rule.method == method => rule.remaining += 1,
            _ => {
                let at = index.min(self.malforms.len());
                self.malforms.insert(at, MalformRule { method, remaining: 1, kind });
            }
        }
    }
}

/// One malformation taken from the knobs for one response.
#[derive(Debug)]
pub struct Claim {
    pub what: Claimed,
    /// Where it came from, to put it back if unused.
    pub method: Option<String>,
    pub index: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_bans_then_refills() {
        let mut k = Knobs::default();
        let t0 = Instant::now();
        k.set_throttle(2, Duration::from_secs(12));
        assert!(k.check_throttle(t0).is_ok());
        assert!(k.check_throttle(t0).is_ok());
        let e = k.check_throttle(t0).unwrap_err();
        assert_eq!(e.code, 7);
        assert_eq!(e.sub_msg.as_deref(), Some("This ban will last for 12 more seconds"));
        let e = k.check_throttle(t0 + Duration::from_millis(2500)).unwrap_err();
        assert_eq!(e.sub_msg.as_deref(), Some("This ban will last for 10 more seconds"));
        assert!(k.check_throttle(t0 + Duration::from_secs(12)).is_ok());
        k.clear_throttle();
        for _ in 0..10 {
            assert!(k.check_throttle(t0).is_ok());
        }
    }

    #[test]
    fn counted_knobs_run_out() {
        let mut k = Knobs::default();
        k.fail_next(2, 503);
        assert_eq!(k.take_http_failure(), Some(503));
        assert_eq!(k.take_http_failure(), Some(503));
        assert_eq!(k.take_http_failure(), None);
        k.error_next(1, TopError::unavailable());
        assert_eq!(k.take_injected_error().map(|e| e.code), Some(10));
        assert!(k.take_injected_error().is_none());
    }

    #[test]
    fn malform_rules_filter_and_return() {
        let mut k = Knobs::default();
        k.malform_next(None, 1, Malform::bad_payment());
        // Not a trade-carrying method: the field rule does not apply.
        assert!(k.claim_malform("taobao.item.seller.get", false).is_none());
        let c = k.claim_malform("taobao.trades.sold.increment.get", true).unwrap();
        let Claimed::Field(p) = c.what else { panic!("expected a field override") };
        // The response had no payment field: give it back.
        k.unclaim(c.method, c.index, Malform::TradeField { field: p.field, raw_json: p.raw_json });
        let again = k.claim_malform("taobao.trade.fullinfo.get", true).unwrap();
        assert!(matches!(again.what, Claimed::Field(_)));
        assert!(k.claim_malform("taobao.trade.fullinfo.get", true).is_none());
        k.malform_next(Some("taobao.item.seller.get"), 1, Malform::Truncated);
        assert!(k.claim_malform("taobao.trade.fullinfo.get", true).is_none());
        let c = k.claim_malform("taobao.item.seller.get", false).unwrap();
        assert!(matches!(c.what, Claimed::Truncated));
    }
}
