//! What the handlers take from a request, and how a request is refused: always in the API's
//! one JSON error shape ([`ApiError`]), never in axum's plain-text rejections, and never by
//! dropping what the server does not understand.
//!
//! - [`JsonBody`]: a JSON body. Another `Content-Type` is 415 `unsupported_media_type`; a body
//!   that is not JSON, or not of the route's shape, is 400 `invalid_input` naming where
//!   (`field`, e.g. `[0].quantiy`). The request types refuse unknown fields (`deny_unknown_fields`),
//!   so a misspelt `quantiy` is refused naming it and the fields there are, not ignored.
//! - [`strict_query`]: every query parameter must be one the route documents in
//!   `/openapi.json` (else 400 naming the `unknown` ones and the `accepted` ones), and an
//!   integer one must be within its documented range (`limit`: 400 with `min` and `max`,
//!   never silently clamped); a route documented without a body refuses one (400). The
//!   document is the one list: a route takes what it documents
//!   ([`super::openapi::query_parameters`], [`super::openapi::takes_body`]; a test holds the
//!   handlers' query types to it).
//! - [`Query`] and [`Path`]: the query and the path parameters, typed; a value that does not
//!   parse (`limit=ten`, a dead letter id `abc`) is 400 naming the parameter.
//! - [`json_errors`]: the last resort, so that every error answer is JSON: an unknown route
//!   (404), a method the route does not take (405, with `Allow`), or any refusal the above
//!   did not catch is put in the shape. `/readyz` keeps its plain-text answers (load
//!   balancers read the status only; people read the text).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, OptionalFromRequest, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::ApiError;
use super::openapi::{QueryParameter, query_parameters, takes_body};

/// A JSON request body, read strictly (see the module's documentation).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(request.headers()) {
            return Err(unsupported_media_type(request.headers()));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            let status = rejection.status();
            ApiError::new(status, kind_of(status), rejection.body_text())
        })?;
        parse(&bytes).map(JsonBody)
    }
}

/// A body that may be left out: no body and no `Content-Type` is `None`; anything else is read
/// as [`JsonBody`] reads it (a body without `Content-Type: application/json` is 415).
impl<T: DeserializeOwned, S: Send + Sync> OptionalFromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let headers = request.headers();
        let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
        let body = declared.is_some_and(|n| n > 0) || headers.contains_key(header::TRANSFER_ENCODING);
        if headers.get(header::CONTENT_TYPE).is_none() && !body {
            return Ok(None);
        }
        <JsonBody<T> as FromRequest<S>>::from_request(request, state).await.map(Some)
    }
}

/// `application/json`, or a JSON-based type (`application/problem+json`), with any parameters.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn unsupported_media_type(headers: &HeaderMap) -> ApiError {
    let sent = match headers.get(header::CONTENT_TYPE).map(|v| v.to_str()) {
        Some(Ok(t)) => format!("`Content-Type: {t}`"),
        Some(Err(_)) => "an unreadable Content-Type".to_owned(),
        None => "no Content-Type".to_owned(),
    };
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("this route takes a JSON body, sent with `Content-Type: application/json`; the request has {sent}"),
    )
}

/// The body as `T`, or 400 naming where it went wrong.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let not_json = |e: &serde_json::Error| ApiError::bad_input(format!("the body is not JSON: {e}"));
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        if e.inner().is_syntax() || e.inner().is_eof() { not_json(e.inner()) } else { shape_error(e.path(), e.inner()) }
    })?;
    reader.end().map_err(|e| not_json(&e))?;
    Ok(value)
}

/// `value` (a JSON body read as a value first) as `T`, or 400 naming where it went wrong.
pub fn typed<T: DeserializeOwned>(value: serde_json::Value, what: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut error = shape_error(e.path(), e.inner());
        error.message = format!("{what}: {}", error.message);
        error
    })
}

/// A body of another shape than the route's: the message says where and what, and `field`
/// holds where (`.` for the body itself, `[0]` for a list's first record, `shops[1].id`).
fn shape_error(path: &serde_path_to_error::Path, error: &impl std::fmt::Display) -> ApiError {
    let at = path.to_string();
    let message = if at == "." { error.to_string() } else { format!("{at}: {error}") };
    ApiError::bad_input(message).with(json!({"field": at}))
}

/// The query string as `T`; a value that does not parse is 400 naming the parameter. Which
/// parameters there may be, and the range of integers, [`strict_query`] checks before.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::try_from_uri(&parts.uri) {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let text = text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text);
                Err(ApiError::bad_input(format!("query: {text}")))
            }
        }
    }
}

/// The path parameters as `T`; one that does not parse is 400 naming it.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        let unparsed = |key: &str, value: &str, expected_type: &str| {
            ApiError::bad_input(format!("path: `{key}` is `{value}`, which is not {}", expected(expected_type)))
                .with(json!({"field": key}))
        };
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => match e.kind() {
                ErrorKind::ParseErrorAtKey { key, value, expected_type } => Err(unparsed(key, value, expected_type)),
                // A tuple's parameters are read by position: named from the route.
                ErrorKind::ParseErrorAtIndex { index, value, expected_type } => {
                    let raw = axum::extract::RawPathParams::from_request_parts(parts, state).await.ok();
                    let key = raw.and_then(|r| r.iter().nth(*index).map(|(k, _)| k.to_owned()));
                    Err(unparsed(&key.unwrap_or_else(|| format!("#{}", index + 1)), value, expected_type))
                }
                _ => {
                    let status = e.status();
                    Err(ApiError::new(status, kind_of(status), format!("path: {}", e.body_text())))
                }
            },
            Err(rejection) => {
                let status = rejection.status();
                Err(ApiError::new(status, kind_of(status), format!("path: {}", rejection.body_text())))
            }
        }
    }
}

/// A Rust type name as an operator reads it.
fn expected(type_name: &str) -> String {
    match type_name {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        other => format!("a `{other}`"),
    }
}

/// Holds the query string to what the route documents (see the module's documentation).
/// Runs after routing (it is a layer of each route), so the route is known.
/// A body sent to a route that takes none is refused too, rather than ignored.
pub async fn strict_query(request: Request, next: Next) -> Response {
    let Some(route) = request.extensions().get::<MatchedPath>() else { return next.run(request).await };
    // HEAD is served by the GET handler, with its parameters.
    let method = if request.method() == Method::HEAD { Method::GET } else { request.method().clone() };
    let (route, method) = (route.as_str().to_owned(), method.as_str().to_ascii_lowercase());
    // A method the route does not take goes on to its 405.
    let Some(documented) = query_parameters().get(&(route.clone(), method.clone())) else {
        return next.run(request).await;
    };
    if let Some(query) = request.uri().query().filter(|q| !q.is_empty())
        && let Err(refusal) = check_query(query, documented)
    {
        return refusal.into_response();
    }
    let headers = request.headers();
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    let body = declared.is_some_and(|n| n > 0) || headers.contains_key(header::TRANSFER_ENCODING);
    if body && !takes_body(&route, &method) {
        return ApiError::bad_input(format!(
            "{} {route} takes no body; send it without one (GET /openapi.json says what each route takes)",
            method.to_ascii_uppercase()
        ))
        .into_response();
    }
    next.run(request).await
}

/// Every parameter of `query` is `documented`, and every integer within its range.
fn check_query(query: &str, documented: &[QueryParameter]) -> Result<(), ApiError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let mut unknown: Vec<&str> = Vec::new();
    for (name, _) in &pairs {
        if !documented.iter().any(|p| p.name == *name) && !unknown.contains(&name.as_str()) {
            unknown.push(name);
        }
    }
    let accepted: Vec<&str> = documented.iter().map(|p| p.name.as_str()).collect();
    if !unknown.is_empty() {
        let names = unknown.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        let takes = if accepted.is_empty() {
            "takes no query parameters".to_owned()
        } else {
            format!("takes {}", accepted.join(", "))
        };
        let plural = if unknown.len() == 1 { "" } else { "s" };
        return Err(ApiError::bad_input(format!("unknown query parameter{plural} {names}: this route {takes}"))
            .with(json!({"unknown": unknown, "accepted": accepted})));
    }
    for (name, value) in &pairs {
        let Some((min, max)) = documented.iter().find(|p| p.name == *name).and_then(|p| p.range) else { continue };
        // A value that is not a whole number is refused by the handler's parser, naming it.
        let Ok(n) = value.trim().parse::<i128>() else { continue };
        if n < i128::from(min) || n > i128::from(max) {
            return Err(ApiError::bad_input(format!(
                "{name}: {n} is out of range; give {min} to {max}{}",
                if *name == "limit" { " (follow next_cursor for more)" } else { "" }
            ))
            .with(json!({"field": name, "min": min, "max": max})));
        }
    }
    Ok(())
}

/// The error kind of a status, for refusals that have no kind of their own.
fn kind_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "invalid_input",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "refused",
    }
}

/// Routes whose answers are plain text by design, errors included.
const TEXT_ROUTES: [&str; 2] = ["/healthz", "/readyz"];

/// Puts every error answer that is not JSON yet in the one JSON shape (see the module's
/// documentation); headers that say more (`Allow`, `Connection`, `Retry-After`) are kept.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json || TEXT_ROUTES.contains(&path.as_str()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let allow = parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let message = match status {
        StatusCode::NOT_FOUND => format!("no route {method} {path}; GET /openapi.json lists every route"),
        StatusCode::METHOD_NOT_ALLOWED if !allow.is_empty() => format!("{path} takes {allow}, not {method}"),
        StatusCode::METHOD_NOT_ALLOWED => format!("{path} does not take {method}"),
        _ if !text.is_empty() => text,
        _ => status.canonical_reason().unwrap_or("refused").to_owned(),
    };
    let mut out = ApiError::new(status, kind_of(status), message).into_response();
    for name in [header::ALLOW, header::CONNECTION, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            out.headers_mut().insert(name, value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max: i64) -> QueryParameter {
        QueryParameter { name: "limit".into(), range: Some((1, max)) }
    }

    fn cursor() -> QueryParameter {
        QueryParameter { name: "cursor".into(), range: None }
    }

    #[test]
    fn unknown_parameters_are_named_with_the_accepted_ones() {
        let e = check_query("from=2026-01-01&limit=5&to=x&from=y", &[limit(1000), cursor()]).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.message, "unknown query parameters `from`, `to`: this route takes limit, cursor");
        assert_eq!(e.extra, Some(json!({"unknown": ["from", "to"], "accepted": ["limit", "cursor"]})));
        let e = check_query("verbose=1", &[]).unwrap_err();
        assert_eq!(e.message, "unknown query parameter `verbose`: this route takes no query parameters");
        assert!(check_query("limit=5&cursor=c", &[limit(1000), cursor()]).is_ok());
    }

    #[test]
    fn a_limit_out_of_its_range_is_refused_not_clamped() {
        for bad in ["0", "1001", "-3", "99999999999999999999"] {
            let e = check_query(&format!("limit={bad}"), &[limit(1000)]).unwrap_err();
            assert_eq!(e.extra, Some(json!({"field": "limit", "min": 1, "max": 1000})), "{bad}");
            assert!(e.message.contains("give 1 to 1000"), "{}", e.message);
        }
        assert!(check_query("limit=1", &[limit(1000)]).is_ok());
        assert!(check_query("limit=1000", &[limit(1000)]).is_ok());
        // Not a number: the handler's parser refuses it, naming it.
        assert!(check_query("limit=ten", &[limit(1000)]).is_ok());
    }

    #[test]
    fn bodies_are_json_of_the_routes_shape() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code, reason = "only read")]
        struct Record {
            sku: String,
            quantity: u32,
        }
        let e = parse::<Vec<Record>>(br#"[{"sku": "A", "quantiy": 1}]"#).unwrap_err();
        assert_eq!(e.extra, Some(json!({"field": "[0].quantiy"})));
        assert!(
            e.message.starts_with("[0].quantiy: unknown field `quantiy`, expected `sku` or `quantity`"),
            "{}",
            e.message
        );
        let e = parse::<Vec<Record>>(br#"[{"sku": "A", "quantity": -1}]"#).unwrap_err();
        assert_eq!(e.extra, Some(json!({"field": "[0].quantity"})), "{}", e.message);
        let e = parse::<Vec<Record>>(b"[{").unwrap_err();
        assert!(e.message.starts_with("the body is not JSON"), "{}", e.message);
        let e = parse::<Vec<Record>>(b"[] []").unwrap_err();
        assert!(e.message.starts_with("the body is not JSON"), "{}", e.message);
        assert_eq!(parse::<Vec<Record>>(b"[]").unwrap().len(), 0);
    }

    #[test]
    fn json_content_types() {
        let with = |t: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, t.parse().unwrap());
            json_content_type(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!json_content_type(&HeaderMap::new()));
    }
}
