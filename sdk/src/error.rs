//! Building [`ConnectorError`]s: constructors, and conversions from what host calls return.
//!
//! The host decides retries from the error's case alone, so the mapping here is the contract:
//! timeouts, unreachable hosts and HTTP 5xx are `transient` (safe to retry); local or remote
//! throttling is `rate_limited` with a wait; a denied host, an oversized body or an unexpected
//! HTTP status is `platform` (an operator must look); malformed requests are `invalid_input`.

use crate::credentials::CredentialError;
use crate::marketplace::wharf::connector::http::HttpError;
use crate::types::{ConnectorError, FieldError, PlatformError, RateLimit};

/// Wait suggested when a platform throttles without saying for how long (an HTTP 429 without
/// `Retry-After`): one second, the shortest window platforms count calls in.
pub const DEFAULT_RETRY_AFTER_MS: u64 = 1_000;

/// How much of an unexpected response body is quoted in an error.
const MAX_BODY_EXCERPT_CHARS: usize = 200;

impl ConnectorError {
    /// Bad input: `field` is a path into the platform's or the canonical record.
    pub fn invalid_input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidInput(FieldError { field: field.into(), reason: reason.into() })
    }

    /// The platform's own code and message, verbatim.
    pub fn platform(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Platform(PlatformError { code: code.into(), message: message.into() })
    }

    pub fn rate_limited(retry_after_ms: u64, message: impl Into<String>) -> Self {
        Self::RateLimited(RateLimit { retry_after_ms, message: message.into() })
    }

    pub fn transient(reason: impl Into<String>) -> Self {
        Self::Transient(reason.into())
    }

    pub fn auth(reason: impl Into<String>) -> Self {
        Self::Auth(reason.into())
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    /// Auth failures and throttling concern the whole call, not one item of a batch: a push
    /// stops and returns them as the outer error instead of failing item after item.
    pub fn is_whole_call(&self) -> bool {
        matches!(self, Self::Auth(_) | Self::RateLimited(_))
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient(_) | Self::RateLimited(_))
    }
}

impl From<FieldError> for ConnectorError {
    fn from(error: FieldError) -> Self {
        Self::InvalidInput(error)
    }
}

/// A field error, for `?` into [`ConnectorError::InvalidInput`].
pub fn field_error(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), reason: reason.into() }
}

/// What a failed `http::send` means for the call.
pub fn from_http_error(error: HttpError) -> ConnectorError {
    match error {
        HttpError::Denied(host) => {
            ConnectorError::platform("http-denied", format!("the operator has not granted this plugin the host {host}"))
        }
        HttpError::Timeout => ConnectorError::transient("no HTTP answer within the timeout"),
        HttpError::TooLarge(cap) => ConnectorError::platform(
            "http-too-large",
            format!("the response body exceeded the host's cap of {cap} bytes"),
        ),
        HttpError::RateLimited(retry_after_ms) => {
            ConnectorError::rate_limited(retry_after_ms, "the shop's local rate limit is exhausted")
        }
        HttpError::Unreachable(reason) => ConnectorError::transient(format!("unreachable: {reason}")),
        HttpError::InvalidRequest(reason) => ConnectorError::invalid_input("http.request", reason),
    }
}

/// The wait a throttled answer's `Retry-After` asks for, in milliseconds; without one (or in
/// the HTTP-date form, rare on APIs) [`DEFAULT_RETRY_AFTER_MS`].
pub fn retry_after_ms(headers: &[(String, String)]) -> u64 {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_RETRY_AFTER_MS, |s| s.saturating_mul(1_000))
}

/// What a non-2xx HTTP status means, or `None` for 2xx. `headers` supply `Retry-After`;
/// `body` is quoted (shortened) in the message.
pub fn from_http_status(status: u16, headers: &[(String, String)], body: &[u8]) -> Option<ConnectorError> {
    if (200..300).contains(&status) {
        return None;
    }
    let message = format!("HTTP {status}: {}", body_excerpt(body));
    Some(match status {
        401 | 403 => ConnectorError::auth(message),
        404 => ConnectorError::not_found(message),
        408 => ConnectorError::transient(message),
        429 => ConnectorError::rate_limited(retry_after_ms(headers), message),
        500..=599 => ConnectorError::transient(message),
        _ => ConnectorError::platform(format!("http-{status}"), message),
    })
}

/// What a failed `credentials::sign` means: an unknown secret is a configuration problem on
/// `config.<name>`.
pub fn from_credential_error(error: CredentialError) -> ConnectorError {
    match error {
        CredentialError::UnknownSecret(name) => {
            ConnectorError::invalid_input(format!("config.{name}"), "expected a configured secret, got none")
        }
        CredentialError::InvalidRequest(reason) => ConnectorError::invalid_input("credentials.sign-request", reason),
    }
}

/// The start of a body as text, for error messages.
pub fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.chars().count() > MAX_BODY_EXCERPT_CHARS {
        let head: String = text.chars().take(MAX_BODY_EXCERPT_CHARS).collect();
        format!("{head}…")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_errors() {
        assert!(matches!(from_http_error(HttpError::Timeout), ConnectorError::Transient(_)));
        assert!(matches!(from_http_error(HttpError::Unreachable("dns".into())), ConnectorError::Transient(_)));
        assert!(matches!(
            from_http_error(HttpError::RateLimited(250)),
            ConnectorError::RateLimited(RateLimit { retry_after_ms: 250, .. })
        ));
        match from_http_error(HttpError::Denied("evil.example".into())) {
            ConnectorError::Platform(p) => {
                assert_eq!(p.code, "http-denied");
                assert!(p.message.contains("evil.example"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(from_http_error(HttpError::TooLarge(10)), ConnectorError::Platform(_)));
        assert!(matches!(
            from_http_error(HttpError::InvalidRequest("bad url".into())),
            ConnectorError::InvalidInput(_)
        ));
    }

    #[test]
    fn http_statuses() {
        assert!(from_http_status(200, &[], b"").is_none());
        assert!(from_http_status(204, &[], b"").is_none());
        assert!(
            matches!(from_http_status(503, &[], b"down"), Some(ConnectorError::Transient(m)) if m == "HTTP 503: down")
        );
        assert!(matches!(from_http_status(401, &[], b""), Some(ConnectorError::Auth(_))));
        assert!(matches!(from_http_status(404, &[], b""), Some(ConnectorError::NotFound(_))));
        let headers = [("Retry-After".to_owned(), "7".to_owned())];
        assert!(matches!(
            from_http_status(429, &headers, b""),
            Some(ConnectorError::RateLimited(RateLimit { retry_after_ms: 7_000, .. }))
        ));
        assert!(matches!(
            from_http_status(429, &[], b""),
            Some(ConnectorError::RateLimited(RateLimit { retry_after_ms: DEFAULT_RETRY_AFTER_MS, .. }))
        ));
        match from_http_status(418, &[], "x".repeat(1000).as_bytes()) {
            Some(ConnectorError::Platform(p)) => {
                assert_eq!(p.code, "http-418");
                assert!(p.message.len() < 260);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn credential_errors_name_the_config_key() {
        match from_credential_error(CredentialError::UnknownSecret("app_secret".into())) {
            ConnectorError::InvalidInput(f) => assert_eq!(f.field, "config.app_secret"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn constructors_and_classes() {
        let e: ConnectorError = field_error("trade.payment", "expected x, got y").into();
        assert!(matches!(&e, ConnectorError::InvalidInput(f) if f.field == "trade.payment"));
        assert!(!e.is_whole_call() && !e.is_retryable());
        assert!(ConnectorError::auth("x").is_whole_call());
        assert!(ConnectorError::rate_limited(1, "x").is_whole_call());
        assert!(ConnectorError::transient("x").is_retryable());
        assert!(!ConnectorError::platform("15", "x").is_retryable());
    }
}
