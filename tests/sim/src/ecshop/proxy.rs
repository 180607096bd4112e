//! The reverse proxy in front of the bridge: where throttling, front-end failures and broken
//! bodies happen, as they would at a shop's nginx or CDN, and where the simulator learns what
//! the bridge shipped.
//!
//! It forwards each request to `php -S` over plain HTTP/1.0 (one request per connection; PHP's
//! built-in server answers without chunking), so it needs no HTTP client library.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use crate::faults::{Faults, Refusal};
use crate::serve::lock;

/// Bridge writes are single small objects; reads have no body.
const MAX_REQUEST_BODY: usize = 1 << 20;
/// A page of 100 orders is about 200 KB; anything near this is a runaway.
const MAX_RESPONSE_BYTES: u64 = 16 << 20;
/// How long the proxy waits for PHP, like a front end's upstream timeout.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// Request headers a proxy does not pass on: its own connection's business.
const HOP_BY_HOP: &[&str] =
    &["host", "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade", "te", "trailer"];
/// Response headers worth passing back.
const PASSED_BACK: &[&str] = &["content-type", "allow", "retry-after", "cache-control"];

/// Called with the action and the parsed body of every successful bridge answer.
pub type Observer = Box<dyn Fn(&str, &Value) + Send + Sync>;

pub struct Proxy {
    pub upstream: SocketAddr,
    pub faults: Arc<Mutex<Faults>>,
    pub observe: Observer,
}

pub fn router(proxy: Arc<Proxy>) -> Router {
    Router::new().fallback(handle).with_state(proxy)
}

async fn handle(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let refusal = lock(&proxy.faults).before(Instant::now());
    if let Some(refusal) = refusal {
        return refuse(&refusal);
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST_BODY).await else {
        return page(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(name, _)| !HOP_BY_HOP.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    let (upstream, method, forwarded) = (proxy.upstream, parts.method.to_string(), target.clone());
    let exchange = tokio::task::spawn_blocking(move || send(upstream, &method, &forwarded, &headers, &body)).await;
    let answer = match exchange.map_err(anyhow::Error::from).and_then(|answer| answer) {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "ecshop sim: the bridge did not answer");
            return page(StatusCode::BAD_GATEWAY);
        }
    };
    let mut body = answer.body;
    if (200..300).contains(&answer.status) {
        let text = String::from_utf8_lossy(&body).into_owned();
        if let (Some(action), Ok(parsed)) = (query_value(&target, "action"), serde_json::from_str::<Value>(&text)) {
            (proxy.observe)(&action, &parsed);
        }
        body = lock(&proxy.faults).after(text).into_bytes();
    }
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (name, value) in answer.headers {
        let lower = name.to_ascii_lowercase();
        if PASSED_BACK.contains(&lower.as_str())
            && let (Ok(name), Ok(value)) = (header::HeaderName::try_from(lower), HeaderValue::try_from(value))
        {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// What the shop's front end answers instead of passing the request on.
fn refuse(refusal: &Refusal) -> Response {
    match refusal {
        Refusal::Throttled { retry_after_secs } => {
            let mut response = page(StatusCode::TOO_MANY_REQUESTS);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            response
        }
        Refusal::HttpStatus(status) => page(StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)),
        // The simulator revokes credentials at the bridge itself (a changed token); this is
        // the same answer, should a test switch the shared fault on.
        Refusal::Unauthorized => {
            let body = br#"{"error":{"code":"unauthorized","message":"wrong X-Wharf-Token"}}"#.to_vec();
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
            response
        }
    }
}

/// The HTML page nginx answers errors with.
fn page(status: StatusCode) -> Response {
    let title = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
    let html = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    let mut response = Response::new(Body::from(html));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

/// The (percent-decoded) value of `key` in the query of `target`.
pub fn query_value(target: &str, key: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
            (b'+', _, _) => out.push(b' '),
            (b, _, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A bridge answer: status, headers, body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("HTTP {}: not JSON: {}", self.status, String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.0 request to `addr`, read to the end of the connection. Blocking: the proxy
/// runs it on tokio's blocking pool, tests and checks call it directly.
pub fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> anyhow::Result<Answer> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, UPSTREAM_TIMEOUT)
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(UPSTREAM_TIMEOUT)).context("setting a read timeout")?;
    stream.write_all(&request_bytes(addr, method, target, headers, body)).context("sending the request")?;
    let mut raw = Vec::new();
    stream.take(MAX_RESPONSE_BYTES).read_to_end(&mut raw).context("reading the answer")?;
    parse_answer(&raw)
}

fn request_bytes(addr: SocketAddr, method: &str, target: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "{method} {target} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn parse_answer(raw: &[u8]) -> anyhow::Result<Answer> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").context("the answer has no end of headers")?;
    let head = std::str::from_utf8(&raw[..split]).context("the answer's headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect();
    if headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")) {
        bail!("the bridge answered chunked to an HTTP/1.0 request");
    }
    let mut body = raw[split + 4..].to_vec();
    if let Some(length) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(length);
    }
    Ok(Answer { status, headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(query_value("/wharf-bridge.php?action=ship&x=1", "action").as_deref(), Some("ship"));
        assert_eq!(query_value("/b.php?order_sn=20261124%2001&a", "order_sn").as_deref(), Some("20261124 01"));
        assert_eq!(query_value("/b.php?a", "a").as_deref(), Some(""));
        assert_eq!(query_value("/b.php", "action"), None);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%E4%B8%AD%zz"), "中%zz");
    }

    #[test]
    fn answers_parse() {
        let a = parse_answer(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}xx",
        )
        .unwrap();
        assert_eq!(a.status, 401);
        assert_eq!(a.header("content-type"), Some("application/json"));
        assert_eq!(a.body, b"{}");
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").is_err());
        assert!(parse_answer(b"garbage").is_err());
    }
}
