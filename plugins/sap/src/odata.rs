//! Speaking SAP Gateway's OData v2: URLs and query options, the `{"d": …}` envelope, SAP's
//! error body, the CSRF handshake, and the value formats (decimals as strings, `/Date(ms)/`,
//! `PT14H30M00S`).
//!
//! Reads are `GET`s with `$filter`, `$select`, `$orderby`, `$top`, `$skip`, `$expand` and
//! `$inlinecount=allpages`; collections answer `{"d":{"results":[…],"__count":"N",
//! "__next":"…"}}`. Writes need a CSRF token: a `GET` with `X-CSRF-Token: Fetch` answers one in
//! the same header together with session cookies, and the `POST` must carry both; a stale
//! token is refused with 403 and `X-CSRF-Token: Required` ("CSRF token validation failed"),
//! after which [`Client`] fetches a new one once. Errors come as
//! `{"error":{"code":"…","message":{"lang":"en","value":"…"}}}` and map to the canonical kinds
//! in [`error_from`].

use serde_json::Value;
use wharf_sdk::decimal;
use wharf_sdk::error;
use wharf_sdk::http::{self, Method, Request, Response};
use wharf_sdk::json::{self, Node};
use wharf_sdk::money;
pub use wharf_sdk::odata::{
    Collection, Query, all, any_eq, collection, cursor_key, date_literal, datetimeoffset_literal, entity, eq,
    key_literal, literal, percent_encode,
};
use wharf_sdk::time;
use wharf_sdk::types::{ConnectorError, FieldError, TimeWindow};

use crate::settings::Settings;
use crate::transport::{self, Transport};

/// Where SAP Gateway serves the OData v2 APIs.
pub const SERVICE_ROOT: &str = "/sap/opu/odata/sap";
/// Decimals SAP quantity fields (QUAN 13,3) carry; a value padded beyond them (stock is
/// declared with scale 14) is read by value.
pub const QUANTITY_DECIMALS: u32 = 3;
/// Thousandths per unit, for [`QUANTITY_DECIMALS`].
pub const QUANTITY_SCALE: i64 = 1_000;

/// How SAP says a CSRF token is missing or stale (403 body; the header says `Required`).
const CSRF_FAILED: &str = "csrf token validation failed";
const CSRF_HEADER: &str = "X-CSRF-Token";

/// An OData failure, and whether it concerns the whole call (no answer at all, credentials,
/// throttling) rather than the one document asked about.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub error: ConnectorError,
    pub whole_call: bool,
}

impl From<ConnectorError> for Failure {
    fn from(error: ConnectorError) -> Self {
        let whole_call = error.is_whole_call();
        Self { error, whole_call }
    }
}

impl From<FieldError> for Failure {
    fn from(error: FieldError) -> Self {
        ConnectorError::from(error).into()
    }
}

impl From<Failure> for ConnectorError {
    fn from(failure: Failure) -> Self {
        failure.error
    }
}

/// Refuses a window that ends before it starts.
pub fn check_window(window: &TimeWindow) -> Result<(), ConnectorError> {
    if window.to <= window.from {
        return Err(ConnectorError::invalid_input(
            "window",
            format!("expected from < to, got from {} and to {}", window.from, window.to),
        ));
    }
    Ok(())
}

/// What a non-2xx answer means (see the module docs): 401/403 auth, 404 not found, 429
/// throttled for `Retry-After`, 5xx transient, anything else SAP's own code and message.
pub fn error_from(response: &Response) -> ConnectorError {
    let sap = sap_error(&response.body);
    let status = response.status;
    let text = match &sap {
        Some((code, message)) => format!("HTTP {status}: {code}: {message}"),
        None => format!("HTTP {status}: {}", error::body_excerpt(&response.body)),
    };
    match status {
        401 | 403 => ConnectorError::auth(text),
        404 => ConnectorError::not_found(text),
        429 => ConnectorError::rate_limited(error::retry_after_ms(&response.headers), text),
        408 | 500..=599 => ConnectorError::transient(text),
        _ => match sap {
            Some((code, message)) => ConnectorError::platform(code, message),
            None => ConnectorError::platform(format!("http-{status}"), text),
        },
    }
}

/// `(code, message)` of an SAP error body; the inner error details are appended when they
/// say more than the top message.
pub fn sap_error(body: &[u8]) -> Option<(String, String)> {
    let document: Value = serde_json::from_slice(body).ok()?;
    let error = document.get("error")?;
    let code = error.get("code")?.as_str()?.to_owned();
    let message = match error.get("message") {
        Some(Value::Object(m)) => m.get("value").and_then(Value::as_str).unwrap_or_default().to_owned(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let details: Vec<&str> = error
        .pointer("/innererror/errordetails")
        .and_then(Value::as_array)
        .map(|ds| {
            ds.iter().filter_map(|d| d.get("message").and_then(Value::as_str)).filter(|m| *m != message).collect()
        })
        .unwrap_or_default();
    if details.is_empty() { Some((code, message)) } else { Some((code, format!("{message} ({})", details.join("; ")))) }
}

/// Whether a 403 is SAP refusing the CSRF token (rather than the user's authorisations).
pub fn is_csrf_failure(response: &Response) -> bool {
    response.status == 403
        && (http::header(&response.headers, CSRF_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("required"))
            || String::from_utf8_lossy(&response.body).to_ascii_lowercase().contains(CSRF_FAILED))
}

/// The `name=value` parts of every `Set-Cookie`, as one `Cookie` header value.
pub fn session_cookies(headers: &[(String, String)]) -> Option<String> {
    let pairs: Vec<&str> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| v.split(';').next().map(str::trim).filter(|p| p.contains('=')))
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
}

/// A decimal quantity (`"5.000"`, or a JSON integer) in thousandths of its unit, read by value:
/// SAP pads an `Edm.Decimal` to its declared scale (`"40.00000000000000"` for stock, declared
/// `Scale=14`), and only digits beyond the third that are not zero are refused. A JSON number
/// with a fraction is refused too: OData v2 sends decimals as strings, so one that arrives as
/// a float has already been through binary rounding.
pub fn quantity_thousandths(node: &Node<'_>, key: &str) -> Result<i64, FieldError> {
    let value = node.required(key)?;
    let text = match value.value() {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        other => {
            return Err(node.error_at(
                key,
                format!("expected a decimal quantity as a string like \"5.000\", got {}", json::describe(Some(other))),
            ));
        }
    };
    Ok(decimal::parse_scaled(&node.path_of(key), &text, QUANTITY_DECIMALS)?)
}

/// A whole count of units from thousandths, or why not (canonical quantities are whole units:
/// rounding 2.5 pieces either way would sell what is not there or hide what is).
pub fn whole_units(thousandths: i64) -> Result<u32, String> {
    if thousandths % QUANTITY_SCALE != 0 {
        return Err(format!(
            "expected a whole number of units (marketplaces count whole pieces), got {}",
            money::format_minor_units(thousandths, QUANTITY_DECIMALS)
        ));
    }
    u32::try_from(thousandths / QUANTITY_SCALE).map_err(|_| {
        format!(
            "expected a quantity in 0..={}, got {}",
            u32::MAX,
            money::format_minor_units(thousandths, QUANTITY_DECIMALS)
        )
    })
}

/// An optional `Edm.DateTime` date (`/Date(ms)/`, midnight UTC of the date) as `YYYY-MM-DD`.
pub fn opt_date(node: &Node<'_>, key: &str) -> Result<Option<String>, FieldError> {
    match node.opt_str(key)? {
        None => Ok(None),
        Some(text) => {
            let ms = time::odata_to_ms(&text).map_err(|e| node.error_at(key, e.to_string()))?;
            Ok(Some(time::ms_to_calendar_date(ms, 0)))
        }
    }
}

/// `Edm.Time` (`PT14H30M05S`) as seconds of the day.
pub fn time_of_day(text: &str) -> Result<u32, String> {
    let expected = || format!("expected an OData time like \"PT14H30M05S\", got {text:?}");
    let rest = text.strip_prefix("PT").ok_or_else(expected)?;
    let (mut seconds, mut number) = (0u32, String::new());
    let mut seen = String::new();
    for c in rest.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'H' => 3_600,
            'M' => 60,
            'S' => 1,
            _ => return Err(expected()),
        };
        if number.is_empty() || seen.contains(c) {
            return Err(expected());
        }
        seen.push(c);
        let n: u32 = number.parse().map_err(|_| expected())?;
        seconds = seconds.checked_add(n.checked_mul(unit).ok_or_else(expected)?).ok_or_else(expected)?;
        number.clear();
    }
    if !number.is_empty() || seconds >= 86_400 {
        return Err(expected());
    }
    Ok(seconds)
}

/// A session with one SAP system: base URLs, and the CSRF token and cookies once fetched.
pub struct Client<'a, T: Transport> {
    transport: &'a mut T,
    settings: &'a Settings,
    csrf: Option<Csrf>,
}

#[derive(Debug, Clone)]
struct Csrf {
    token: String,
    cookies: Option<String>,
}

impl<'a, T: Transport> Client<'a, T> {
    pub fn new(transport: &'a mut T, settings: &'a Settings) -> Self {
        Self { transport, settings, csrf: None }
    }

    pub fn settings(&self) -> &'a Settings {
        self.settings
    }

    pub fn note(&mut self, message: &str, fields: &[(&str, String)]) {
        self.transport.note(message, fields);
    }

    /// `{endpoint}/sap/opu/odata/sap/{service}/{entity_set}`.
    pub fn entity_url(&self, service: &str, entity_set: &str) -> String {
        format!("{}{SERVICE_ROOT}/{service}/{entity_set}", self.settings.endpoint)
    }

    /// `url?query` plus `sap-client` and `$format=json`.
    pub fn url_with(&self, url: &str, query: &Query) -> String {
        let mut query = query.clone();
        if let Some(client) = &self.settings.sap_client {
            query = query.with("sap-client", client.clone());
        }
        query = query.with("$format", "json");
        format!("{url}?{}", query.encode())
    }

    /// GETs a collection.
    pub fn get(&mut self, service: &str, entity_set: &str, query: &Query) -> Result<Collection, Failure> {
        let url = self.url_with(&self.entity_url(service, entity_set), query);
        self.get_url(&url, entity_set)
    }

    /// GETs one entity by its (single-property) key, `{entity_set}('<key>')`; `None` when SAP
    /// answers 404 (it no longer exists).
    pub fn get_entity(
        &mut self,
        service: &str,
        entity_set: &str,
        key: &str,
        query: &Query,
    ) -> Result<Option<Value>, Failure> {
        let resource = format!("{entity_set}({})", key_literal(key));
        let url = self.url_with(&self.entity_url(service, &resource), query);
        let response = self.send(Method::Get, &url, Vec::new(), Vec::new())?;
        if response.status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&response.status) {
            return Err(error_from(&response).into());
        }
        Ok(Some(entity(&response.body, &resource)?))
    }

    /// GETs a collection at `url` (a `__next` link: absolute, or relative to the service).
    pub fn get_next(&mut self, service: &str, entity_set: &str, next: &str) -> Result<Collection, Failure> {
        let url = if next.starts_with("https://") || next.starts_with("http://") {
            next.to_owned()
        } else {
            format!("{}{SERVICE_ROOT}/{service}/{}", self.settings.endpoint, next.trim_start_matches('/'))
        };
        self.get_url(&url, entity_set)
    }

    fn get_url(&mut self, url: &str, root: &str) -> Result<Collection, Failure> {
        let response = self.send(Method::Get, url, Vec::new(), Vec::new())?;
        if !(200..300).contains(&response.status) {
            return Err(error_from(&response).into());
        }
        Ok(collection(&response.body, root)?)
    }

    /// POSTs `body` to an entity set (a create, deep or not) and returns the created entity.
    /// Fetches a CSRF token first when the session has none, and once more when SAP refuses
    /// the one it has.
    pub fn create(&mut self, service: &str, entity_set: &str, body: &Value) -> Result<Value, Failure> {
        let url = self.url_with(&self.entity_url(service, entity_set), &Query::new());
        let bytes = body.to_string().into_bytes();
        let mut refetched = false;
        loop {
            let csrf = match &self.csrf {
                Some(csrf) => csrf.clone(),
                None => self.fetch_csrf(service, entity_set)?,
            };
            let mut headers = vec![
                ("Content-Type".to_owned(), "application/json".to_owned()),
                (CSRF_HEADER.to_owned(), csrf.token.clone()),
            ];
            if let Some(cookies) = &csrf.cookies {
                headers.push(("Cookie".to_owned(), cookies.clone()));
            }
            let response = self.send(Method::Post, &url, headers, bytes.clone())?;
            if is_csrf_failure(&response) && !refetched {
                self.transport.note("SAP refused the CSRF token; fetching a new one", &[("url", url.clone())]);
                self.csrf = None;
                refetched = true;
                continue;
            }
            if !(200..300).contains(&response.status) {
                return Err(error_from(&response).into());
            }
            return Ok(entity(&response.body, entity_set)?);
        }
    }

    /// `GET {entity_set}?$top=0` with `X-CSRF-Token: Fetch`: the token and session cookies.
    fn fetch_csrf(&mut self, service: &str, entity_set: &str) -> Result<Csrf, Failure> {
        let url = self.url_with(&self.entity_url(service, entity_set), &Query::new().with("$top", "0"));
        let response = self.send(Method::Get, &url, vec![(CSRF_HEADER.to_owned(), "Fetch".to_owned())], Vec::new())?;
        if !(200..300).contains(&response.status) {
            // Without a token nothing can be written: the whole call stops.
            let error = error_from(&response);
            return Err(Failure { error, whole_call: true });
        }
        let token = http::header(&response.headers, CSRF_HEADER)
            .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("required"))
            .ok_or_else(|| Failure {
                error: ConnectorError::platform(
                    "csrf-token",
                    format!("expected an {CSRF_HEADER} header answering Fetch on {url}, got none"),
                ),
                whole_call: true,
            })?
            .to_owned();
        let csrf = Csrf { token, cookies: session_cookies(&response.headers) };
        self.csrf = Some(csrf.clone());
        Ok(csrf)
    }

    /// POSTs a non-OData document (an IDoc) to `url` with Basic auth; the raw answer.
    pub fn post_raw(&mut self, url: &str, content_type: &str, body: Vec<u8>) -> Result<Response, Failure> {
        self.send(Method::Post, url, vec![("Content-Type".to_owned(), content_type.to_owned())], body)
    }

    fn send(
        &mut self,
        method: Method,
        url: &str,
        extra: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<Response, Failure> {
        let mut headers = vec![
            ("Authorization".to_owned(), transport::authorization()),
            ("Accept".to_owned(), "application/json".to_owned()),
        ];
        headers.extend(extra);
        let request = Request { method, url: url.to_owned(), headers, body, timeout_ms: None };
        self.transport.send(&request).map_err(|error| Failure { error, whole_call: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::settings;
    use crate::transport::scripted::{Scripted, json, token, with_headers};
    use serde_json::json;
    use wharf_sdk::types::RateLimit;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        with_headers(status, headers, body).unwrap()
    }

    #[test]
    fn errors_map_to_canonical_kinds() {
        let body = r#"{"error":{"code":"V1/382","message":{"lang":"en","value":"Material FG-9 does not exist"},
            "innererror":{"errordetails":[{"code":"V1/382","message":"Material FG-9 does not exist"},{"code":"V4/219","message":"Sales document was not changed"}]}}}"#;
        match error_from(&response(400, &[], body)) {
            ConnectorError::Platform(p) => {
                assert_eq!(p.code, "V1/382");
                assert_eq!(p.message, "Material FG-9 does not exist (Sales document was not changed)");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(error_from(&response(401, &[], "")), ConnectorError::Auth(_)));
        assert!(matches!(error_from(&response(404, &[], "")), ConnectorError::NotFound(_)));
        assert!(matches!(error_from(&response(503, &[], body)), ConnectorError::Transient(m) if m.contains("V1/382")));
        assert!(matches!(
            error_from(&response(429, &[("Retry-After", "3")], "")),
            ConnectorError::RateLimited(RateLimit { retry_after_ms: 3_000, .. })
        ));
        assert!(
            matches!(error_from(&response(409, &[], "conflict")), ConnectorError::Platform(p) if p.code == "http-409")
        );
    }

    #[test]
    fn csrf_failures_and_cookies() {
        assert!(is_csrf_failure(&response(403, &[("x-csrf-token", "Required")], "")));
        assert!(is_csrf_failure(&response(403, &[], "CSRF token validation failed")));
        assert!(!is_csrf_failure(&response(403, &[], "No authorization")));
        let headers = vec![
            ("Set-Cookie".to_owned(), "a=1; path=/; expires=Wed, 01 Jan 2031 00:00:00 GMT".to_owned()),
            ("set-cookie".to_owned(), "b=2".to_owned()),
        ];
        assert_eq!(session_cookies(&headers).as_deref(), Some("a=1; b=2"));
        assert_eq!(session_cookies(&[]), None);
    }

    #[test]
    fn quantities_and_times() {
        let v = json!({"q": "5.000", "padded": "40.00000000000000", "n": 7, "float": 2.5,
                       "bad": "5.0001", "exp": "1e3", "neg": "-1"});
        let node = Node::root(&v, "row");
        assert_eq!(quantity_thousandths(&node, "q"), Ok(5_000));
        assert_eq!(quantity_thousandths(&node, "padded"), Ok(40_000));
        assert_eq!(quantity_thousandths(&node, "n"), Ok(7_000));
        assert_eq!(quantity_thousandths(&node, "neg"), Ok(-1_000));
        for key in ["bad", "exp", "float"] {
            assert_eq!(quantity_thousandths(&node, key).unwrap_err().field, format!("row.{key}"));
        }
        assert_eq!(whole_units(5_000), Ok(5));
        assert!(whole_units(2_500).unwrap_err().contains("2.500"));
        assert!(whole_units(-1_000).is_err());
        assert_eq!(time_of_day("PT14H30M05S"), Ok(52_205));
        assert_eq!(time_of_day("PT00H00M00S"), Ok(0));
        for bad in ["14:30:05", "PT24H00M00S", "PT1H1H", "PTH", "PT5", "PT1X"] {
            assert!(time_of_day(bad).is_err(), "{bad}");
        }
        let v = json!({"d": "/Date(1748563200000)/", "none": null});
        let node = Node::root(&v, "x");
        assert_eq!(opt_date(&node, "d").unwrap().as_deref(), Some("2025-05-30"));
        assert_eq!(opt_date(&node, "none").unwrap(), None);
    }

    #[test]
    fn create_fetches_a_token_and_refetches_once_when_refused() {
        let s = settings(&[("sap_client", "100")]);
        let mut t = Scripted::answering(vec![
            token("T1"),
            with_headers(403, &[("x-csrf-token", "Required")], "CSRF token validation failed"),
            token("T2"),
            json(201, r#"{"d":{"SalesOrder":"4711"}}"#),
        ]);
        let created = Client::new(&mut t, &s).create("API_SALES_ORDER_SRV", "A_SalesOrder", &json!({"x": 1})).unwrap();
        assert_eq!(created["SalesOrder"], "4711");
        assert_eq!(t.method(0), Method::Get);
        assert_eq!(t.header(0, "x-csrf-token"), Some("Fetch"));
        assert_eq!(
            t.url(0),
            "https://my-s4.example.com/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder?$top=0&sap-client=100&$format=json"
        );
        assert_eq!(t.header(1, "x-csrf-token"), Some("T1"));
        assert_eq!(t.header(1, "cookie"), Some("SAP_SESSIONID_S4H_100=abc%3d; sap-usercontext=sap-client=100"));
        assert_eq!(t.header(1, "authorization"), Some("Basic {{secret-basic:sap_user,sap_password}}"));
        assert_eq!(t.header(3, "x-csrf-token"), Some("T2"));
        assert_eq!(t.body(3), json!({"x": 1}));
    }

    #[test]
    fn a_second_csrf_refusal_is_a_whole_call_auth_error() {
        let s = settings(&[]);
        let refused = || with_headers(403, &[("x-csrf-token", "Required")], "CSRF token validation failed");
        let mut t = Scripted::answering(vec![token("T1"), refused(), token("T2"), refused()]);
        let failure = Client::new(&mut t, &s).create("S", "E", &json!({})).unwrap_err();
        assert!(failure.whole_call && matches!(failure.error, ConnectorError::Auth(_)), "{failure:?}");
    }

    #[test]
    fn no_answer_is_a_whole_call_failure() {
        let s = settings(&[]);
        let mut t = Scripted::answering(vec![Err(ConnectorError::transient("unreachable: refused"))]);
        let failure = Client::new(&mut t, &s).get("S", "E", &Query::new()).unwrap_err();
        assert!(failure.whole_call);
        let mut t = Scripted::answering(vec![json(503, "down")]);
        let failure = Client::new(&mut t, &s).get("S", "E", &Query::new()).unwrap_err();
        assert!(!failure.whole_call && matches!(failure.error, ConnectorError::Transient(_)));
    }

    #[test]
    fn next_links_resolve_against_the_service() {
        let s = settings(&[]);
        let mut t =
            Scripted::answering(vec![json(200, r#"{"d":{"results":[]}}"#), json(200, r#"{"d":{"results":[]}}"#)]);
        let mut client = Client::new(&mut t, &s);
        client.get_next("SRV", "E", "E?$skiptoken=100").unwrap();
        client.get_next("SRV", "E", "https://other/x").unwrap();
        assert_eq!(t.url(0), "https://my-s4.example.com/sap/opu/odata/sap/SRV/E?$skiptoken=100");
        assert_eq!(t.url(1), "https://other/x");
    }
}
