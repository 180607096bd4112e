//! Outbound HTTP through the host: the raw `http` import plus a small client.
//!
//! The host enforces the allowlist, timeouts, size caps and rate limits, and fills
//! `{{secret:NAME}}` placeholders; this module only turns its answers into bodies or
//! [`ConnectorError`]s.

pub use crate::marketplace::wharf::connector::http::*;

use crate::error;
use crate::signing::SortedParams;
use crate::types::ConnectorError;

/// The content type TOP (and most form APIs) expect, charset included as TOP documents it.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded;charset=utf-8";

/// Sends `request`; transport failures become [`ConnectorError`]s, any status comes back.
/// Use it when a non-2xx body carries the platform's own error (SAP, for one).
pub fn fetch(request: &Request) -> Result<Response, ConnectorError> {
    send(request).map_err(error::from_http_error)
}

/// POSTs `params` form-urlencoded (placeholders kept verbatim) and returns the body of a 2xx.
pub fn post_form(url: &str, params: &SortedParams) -> Result<Vec<u8>, ConnectorError> {
    let request = Request {
        method: Method::Post,
        url: url.to_owned(),
        headers: vec![("Content-Type".to_owned(), FORM_CONTENT_TYPE.to_owned())],
        body: params.form_urlencoded().into_bytes(),
        timeout_ms: None,
    };
    success_body(fetch(&request)?)
}

/// GETs `url` and returns the body of a 2xx.
pub fn get(url: &str) -> Result<Vec<u8>, ConnectorError> {
    let request =
        Request { method: Method::Get, url: url.to_owned(), headers: Vec::new(), body: Vec::new(), timeout_ms: None };
    success_body(fetch(&request)?)
}

/// The body of a 2xx response, or what the status means (see [`error::from_http_status`]).
pub fn success_body(response: Response) -> Result<Vec<u8>, ConnectorError> {
    match error::from_http_status(response.status, &response.headers, &response.body) {
        None => Ok(response.body),
        Some(e) => Err(e),
    }
}

/// The first header named `name`, compared case-insensitively.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_body_passes_2xx_and_maps_the_rest() {
        let ok = Response { status: 200, headers: vec![], body: b"{}".to_vec() };
        assert_eq!(success_body(ok).unwrap(), b"{}");
        let down = Response { status: 502, headers: vec![], body: b"bad gateway".to_vec() };
        assert!(matches!(success_body(down), Err(ConnectorError::Transient(_))));
    }

    #[test]
    fn headers_are_case_insensitive() {
        let headers = vec![("content-type".to_owned(), "text/plain".to_owned())];
        assert_eq!(header(&headers, "Content-Type"), Some("text/plain"));
        assert_eq!(header(&headers, "Retry-After"), None);
    }
}
