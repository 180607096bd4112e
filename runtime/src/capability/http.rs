//! Outbound HTTP on behalf of a plugin: deny by default, then the operator's grants, a per-shop
//! token bucket, a timeout bounded by the call's deadline, a response-size cap, secret
//! placeholders filled on the way out (only for the hosts the secrets are bound to) and
//! scrubbed on the way back, after the host decoded the answer.
//!
//! A granted name is not enough to reach inside the host's network: the name is resolved, and
//! a loopback, link-local (169.254.0.0/16 with the cloud metadata service, fe80::/10), private
//! (RFC 1918, fc00::/7) or otherwise non-public address is refused unless the operator granted
//! that very address (`127.0.0.1:8080`). The connection then goes to the addresses checked,
//! never to a second answer of the name server (see [`CheckedResolver`]).
//!
//! The host owns the transport: a plugin may not set `Host`, the hop-by-hop headers, the
//! content length or the content codings. The host asks for the codings it decodes
//! ([`ACCEPT_ENCODING`]), decodes every answer before scrubbing it, and refuses an answer in a
//! coding it cannot read rather than hand it over unscrubbed. Filling, decoding and scrubbing
//! run on the blocking pool, never on the async workers that serve every other tenant.

use crate::capability::credentials::{CredentialError, Filled, Secrets};
use crate::capability::grants::{GrantError, HostGrants, is_public};
use crate::limits::MAX_RATE_LIMIT_WAIT;
use crate::shop::Shop;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The content codings the host asks for and decodes before scrubbing (what `flate2` reads).
pub const ACCEPT_ENCODING: &str = "gzip, deflate";

/// Request headers only the host sets. `Host` would let a plugin reach a virtual host other
/// than the one granted; the hop-by-hop headers (RFC 9110 §7.6.1), `Content-Length` and
/// `Transfer-Encoding` and `Expect` shape the connection itself (request smuggling); `Accept-Encoding`
/// and `Content-Encoding` decide whether the host can read (and scrub) what comes back.
pub const HOST_OWNED_HEADERS: &[&str] = &[
    "host",
    "accept-encoding",
    "content-encoding",
    "content-length",
    "transfer-encoding",
    "te",
    "trailer",
    "connection",
    "keep-alive",
    "upgrade",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "expect",
];

/// Content codings one answer may stack (`gzip, gzip` is legal); more is an attack.
const MAX_CODINGS: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("host not granted: {0}")]
    Denied(String),
    #[error("timed out")]
    Timeout,
    #[error("response larger than {0} bytes")]
    TooLarge(u64),
    #[error("shop rate limit reached, retry after {0} ms")]
    RateLimited(u64),
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A placeholder could not be filled: unknown, too many, too large, too short.
    #[error("invalid request: {0}")]
    Secret(#[from] CredentialError),
    /// The request fills secrets its host is not one they are bound to.
    #[error("secret {secrets} may not be sent to {host}; secrets go only to {bound}")]
    SecretNotForHost { secrets: String, host: String, bound: String },
    /// The plugin set a header only the host sets.
    #[error("invalid request: header `{0}` is set by the host, not by plugins")]
    HostOwnedHeader(String),
    /// The answer came in a form the host cannot decode, so cannot scrub; it is not handed over.
    #[error("unreadable response: {0}")]
    Undecodable(String),
}

impl From<GrantError> for HttpError {
    fn from(e: GrantError) -> Self {
        match e {
            GrantError::Denied(why) => HttpError::Denied(why),
            GrantError::NoHost(url) => HttpError::InvalidRequest(format!("no host in {url}")),
        }
    }
}

tokio::task_local! {
    /// The addresses `Client::send` checked for the host it is connecting to, in its task.
    static CHECKED: (String, Vec<SocketAddr>);
}

/// The DNS resolver of the network client: it answers the addresses `send` resolved and
/// checked for this request, so a name server cannot answer a public address to the check and
/// a private one to the connection (DNS rebinding). A lookup outside a checked request (a
/// connection finishing in the background) resolves afresh and keeps public addresses only.
struct CheckedResolver;

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_owned();
        let checked = CHECKED.try_with(|(host, addrs)| (*host == name).then(|| addrs.clone())).ok().flatten();
        Box::pin(async move {
            let addrs = match checked {
                Some(addrs) => addrs,
                None => tokio::net::lookup_host((name.as_str(), 0)).await?.filter(|a| is_public(a.ip())).collect(),
            };
            if addrs.is_empty() {
                return Err(format!("{name}: no address this request may connect to").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The addresses `url`'s host stands for: itself when it is one, else what the name resolves to.
async fn resolve(url: &url::Url) -> Result<Vec<SocketAddr>, HttpError> {
    let port = url.port_or_known_default().unwrap_or(0);
    match url.host() {
        Some(url::Host::Ipv4(ip)) => Ok(vec![SocketAddr::new(IpAddr::V4(ip), port)]),
        Some(url::Host::Ipv6(ip)) => Ok(vec![SocketAddr::new(IpAddr::V6(ip), port)]),
        Some(url::Host::Domain(name)) => {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                .await
                .map_err(|e| HttpError::Unreachable(format!("cannot resolve {name}: {e}")))?
                .collect();
            if addrs.is_empty() {
                return Err(HttpError::Unreachable(format!("{name} has no address")));
            }
            Ok(addrs)
        }
        None => Err(HttpError::InvalidRequest(format!("no host in {url}"))),
    }
}

/// Answers requests from recorded or computed responses instead of the network: for replaying
/// a platform's recorded answers in a connector's tests, and for benchmarks that measure a
/// plugin without the network. It sees the request as it would go on the wire (placeholders
/// filled), after the grant check; it runs in the host, never in the sandbox.
pub type Responder = Arc<dyn Fn(&Request) -> Result<Response, HttpError> + Send + Sync>;

/// The HTTP client shared by every call of a host process.
#[derive(Clone)]
pub struct Client {
    transport: Transport,
}

#[derive(Clone)]
enum Transport {
    Network(reqwest::Client),
    Recorded(Responder),
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.transport {
            Transport::Network(_) => "Client(network)",
            Transport::Recorded(_) => "Client(recorded)",
        })
    }
}

impl Client {
    pub fn new() -> Self {
        let inner = reqwest::Client::builder()
            // Redirects could lead outside the grants; the plugin sees the 3xx instead.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(CheckedResolver)
            .build()
            .expect("the HTTP client's static configuration is valid");
        Client { transport: Transport::Network(inner) }
    }

    /// A client that never touches the network: `responder` answers every granted request.
    pub fn recorded(responder: Responder) -> Self {
        Client { transport: Transport::Recorded(responder) }
    }

    /// Sends `request` for `shop`'s `api` (the contract operation the call serves), within
    /// `time_left` and `max_body` bytes of answer; its secrets may go to `secret_hosts` only
    /// (see [`HostGrants::for_secrets`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn send(
        &self,
        shop: &Shop,
        api: &str,
        request: Request,
        secret_hosts: &HostGrants,
        default_timeout: Duration,
        time_left: Duration,
        max_body: usize,
    ) -> Result<Response, HttpError> {
        // The grant is checked on the URL as the plugin wrote it and again once filled, so a
        // secret can neither pick the host nor be smuggled into it.
        let written = url::Url::parse(&request.url)
            .map_err(|e| HttpError::InvalidRequest(format!("bad url {:?}: {e}", request.url)))?;
        shop.grants.check(&written)?;
        if let Some((name, _)) = request.headers.iter().find(|(name, _)| is_host_owned(name)) {
            return Err(HttpError::HostOwnedHeader(name.to_ascii_lowercase()));
        }
        let Request { method, url: written_url, headers, body, timeout } = request;
        let request_bytes =
            written_url.len() + headers.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() + body.len();
        let secrets = shop.secrets.clone();
        let (filled_url, headers, body, filled) =
            blocking(request_bytes, move || fill(&secrets, &written_url, headers, &body)).await??;
        let url = url::Url::parse(&filled_url)
            .map_err(|e| HttpError::InvalidRequest(format!("bad url after filling secrets: {e}")))?;
        if url.host_str() != written.host_str() || url.port() != written.port() {
            return Err(HttpError::InvalidRequest("secrets may not change the url's host".into()));
        }
        let host = format!("{}:{}", written.host_str().unwrap_or(""), written.port_or_known_default().unwrap_or(0));
        if !filled.names.is_empty() && secret_hosts.check(&written).is_err() {
            return Err(HttpError::SecretNotForHost {
                secrets: filled.names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
                host,
                bound: if secret_hosts.entries().is_empty() {
                    "nowhere".into()
                } else {
                    secret_hosts.entries().join(", ")
                },
            });
        }
        // One bucket per (host, operation): a burst of stock pushes cannot starve the shop's
        // order pulls, and platforms meter their APIs separately too.
        shop.rate_limiter
            .acquire(&format!("{host} {api}"), MAX_RATE_LIMIT_WAIT)
            .await
            .map_err(|wait| HttpError::RateLimited(wait.as_millis() as u64))?;
        let client = match &self.transport {
            Transport::Network(client) => client,
            Transport::Recorded(responder) => {
                let filled = Request { method, url: url.to_string(), headers, body, timeout };
                let response = responder(&filled)?;
                if response.body.len() > max_body {
                    return Err(HttpError::TooLarge(max_body as u64));
                }
                let secrets = shop.secrets.clone();
                let bytes = readable_work(&response.headers, response.body.len());
                return blocking(bytes, move || readable(&secrets, response, max_body)).await?;
            }
        };

        let method = match method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
            Method::Head => reqwest::Method::HEAD,
        };
        let timeout = timeout.unwrap_or(default_timeout).min(time_left);
        let addrs = tokio::time::timeout(timeout, resolve(&url)).await.map_err(|_| HttpError::Timeout)??;
        shop.grants.check_addresses(&host, &addrs)?;
        let checked = (url.host_str().unwrap_or_default().to_owned(), addrs);
        let mut builder = client.request(method, url).timeout(timeout);
        for (name, value) in headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| HttpError::InvalidRequest(format!("header name {name:?}: {e}")))?;
            let value = reqwest::header::HeaderValue::from_str(&value)
                .map_err(|e| HttpError::InvalidRequest(format!("header {name}: {e}")))?;
            builder = builder.header(name, value);
        }
        builder = builder.header(reqwest::header::ACCEPT_ENCODING, ACCEPT_ENCODING);
        if !body.is_empty() {
            builder = builder.body(body);
        }

        let started = Instant::now();
        let mut response = CHECKED.scope(checked, builder.send()).await.map_err(transport_error)?;
        if let Some(len) = response.content_length()
            && len > max_body as u64
        {
            return Err(HttpError::TooLarge(max_body as u64));
        }
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect::<Vec<_>>();
        let mut body = Vec::new();
        loop {
            let remaining = timeout.saturating_sub(started.elapsed());
            let chunk = tokio::time::timeout(remaining, response.chunk())
                .await
                .map_err(|_| HttpError::Timeout)?
                .map_err(transport_error)?;
            match chunk {
                Some(chunk) if body.len() + chunk.len() > max_body => {
                    return Err(HttpError::TooLarge(max_body as u64));
                }
                Some(chunk) => body.extend_from_slice(&chunk),
                None => break,
            }
        }
        let secrets = shop.secrets.clone();
        let bytes = readable_work(&headers, body.len());
        blocking(bytes, move || readable(&secrets, Response { status, headers, body }, max_body)).await?
    }
}

/// Whether the host alone sets header `name` ([`HOST_OWNED_HEADERS`]).
fn is_host_owned(name: &str) -> bool {
    HOST_OWNED_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name.trim()))
}

/// Runs bounded CPU work (filling, decoding, scrubbing) on `bytes` of a request or response,
/// charged to the call it is done for ([`crate::sandbox::cpu::host_work`]).
async fn blocking<T: Send + 'static>(bytes: usize, work: impl FnOnce() -> T + Send + 'static) -> Result<T, HttpError> {
    crate::sandbox::cpu::host_work(bytes, work)
        .await
        .map_err(|e| HttpError::Unreachable(format!("the host's work on this request failed: {e}")))
}

/// The request's URL, headers and body with their placeholders filled, within the limits of
/// one request, and which secrets went in.
type FilledRequest = (String, Vec<(String, String)>, Vec<u8>, Filled);

fn fill(secrets: &Secrets, url: &str, headers: Vec<(String, String)>, body: &[u8]) -> Result<FilledRequest, HttpError> {
    let mut filled = Filled::default();
    let url = secrets.fill_str_within(url, &mut filled)?;
    let mut out = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let value = secrets.fill_str_within(&value, &mut filled)?;
        out.push((name, value));
    }
    let body = secrets.fill_within(body, &mut filled)?;
    Ok((url, out, body, filled))
}

/// The bytes [`readable`] works on: the body, or as much as it may decode to when it comes
/// compressed (a small gzip body can inflate to the whole `max_body`).
fn readable_work(headers: &[(String, String)], body_bytes: usize) -> usize {
    let encoded = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("content-encoding") && !v.trim().is_empty() && !v.trim().eq_ignore_ascii_case("identity")
    });
    if encoded { usize::MAX } else { body_bytes }
}

/// The answer as the plugin may see it: decoded, then scrubbed of every secret in its header
/// names, header values and body.
fn readable(secrets: &Secrets, response: Response, max_body: usize) -> Result<Response, HttpError> {
    let Response { status, mut headers, body } = response;
    let body = decode(&mut headers, body, max_body)?;
    let headers = headers.into_iter().map(|(k, v)| (secrets.scrub_str(&k), secrets.scrub_str(&v))).collect();
    Ok(Response { status, headers, body: secrets.scrub(body) })
}

/// Undoes the answer's content codings (last applied first), each bounded by `max_body`, and
/// drops the headers that described the encoded form. A coding the host did not ask for is
/// refused: what cannot be read cannot be scrubbed.
fn decode(headers: &mut Vec<(String, String)>, body: Vec<u8>, max_body: usize) -> Result<Vec<u8>, HttpError> {
    let codings: Vec<String> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("content-encoding"))
        .flat_map(|(_, v)| v.split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect();
    if codings.is_empty() {
        return Ok(body);
    }
    if codings.len() > MAX_CODINGS {
        return Err(HttpError::Undecodable(format!(
            "{} stacked content codings (at most {MAX_CODINGS})",
            codings.len()
        )));
    }
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-encoding") && !k.eq_ignore_ascii_case("content-length"));
    let mut body = body;
    for coding in codings.iter().rev() {
        if body.is_empty() {
            break; // HEAD, 204, 304: nothing was encoded.
        }
        body = match coding.as_str() {
            "gzip" | "x-gzip" => inflate(flate2::read::MultiGzDecoder::new(&body[..]), coding, max_body)?,
            // RFC 9110 says zlib-wrapped; some servers send raw deflate.
            "deflate" => match inflate(flate2::read::ZlibDecoder::new(&body[..]), coding, max_body) {
                Err(HttpError::Undecodable(_)) => {
                    inflate(flate2::read::DeflateDecoder::new(&body[..]), coding, max_body)?
                }
                other => other?,
            },
            other => {
                return Err(HttpError::Undecodable(format!(
                    "content coding `{other}`: the host asks for {ACCEPT_ENCODING} only and hands over nothing it \
                     cannot scrub"
                )));
            }
        };
    }
    Ok(body)
}

/// Reads a decoder to its end, stopping one byte past `max_body` (a bomb is refused, not built).
fn inflate(decoder: impl Read, coding: &str, max_body: usize) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::new();
    decoder
        .take(max_body as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| HttpError::Undecodable(format!("{coding} body: {e}")))?;
    if out.len() > max_body {
        return Err(HttpError::TooLarge(max_body as u64));
    }
    Ok(out)
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

fn transport_error(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        HttpError::Timeout
    } else {
        // Strip the URL: it may carry a filled secret.
        HttpError::Unreachable(e.without_url().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_granted_does_not_reach_loopback() {
        // A real listener, granted by name only: the host refuses to connect to it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shop = Shop::new("t", "s").with_grants(HostGrants::new([format!("localhost:{port}")]));
        let request = Request {
            method: Method::Get,
            url: format!("http://localhost:{port}/"),
            headers: vec![],
            body: vec![],
            timeout: None,
        };
        let second = Duration::from_secs(1);
        let bound = HostGrants::new([format!("localhost:{port}")]);
        match Client::new().send(&shop, "pull-orders", request, &bound, second, second, 1_000).await {
            Err(HttpError::Denied(why)) => assert!(why.contains("loopback"), "{why}"),
            other => panic!("expected denied, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn requests_are_granted_filled_capped_and_scrubbed() {
        use crate::capability::credentials::Secrets;
        let responder: Responder = std::sync::Arc::new(|req: &Request| {
            // The wire carries the filled secret; the platform echoes it, and a big body.
            let body = String::from_utf8(req.body.clone()).unwrap();
            assert_eq!(body, "session=s%26cret-value&x=1");
            let size = if req.url.ends_with("/big") { 2_000 } else { 10 };
            Ok(Response { status: 200, headers: vec![], body: format!("{body}{}", "y".repeat(size)).into_bytes() })
        });
        let client = Client::recorded(responder);
        let shop = Shop::new("t", "s")
            .with_secrets(Secrets::new([("session".to_owned(), "s&cret-value".to_owned())]))
            .with_grants(HostGrants::new(["api.example:8080"]));
        let request = |url: &str| Request {
            method: Method::Post,
            url: url.to_owned(),
            headers: vec![],
            body: b"session=%7B%7Bsecret%3Asession%7D%7D&x=1".to_vec(),
            timeout: None,
        };
        let second = Duration::from_secs(1);
        let bound = HostGrants::new(["api.example:8080"]);
        let send = |r| client.send(&shop, "pull-orders", r, &bound, second, second, 1_000);
        let ok = send(request("http://api.example:8080/ok")).await.unwrap();
        assert!(String::from_utf8(ok.body).unwrap().starts_with("session={{secret:session}}&x=1"), "echo scrubbed");
        assert_eq!(send(request("http://api.example:8080/big")).await.unwrap_err(), HttpError::TooLarge(1_000));
        assert!(matches!(send(request("http://elsewhere.example:8080/")).await, Err(HttpError::Denied(_))));
    }

    fn secret_shop(grants: &[&str]) -> Shop {
        use crate::capability::credentials::Secrets;
        Shop::new("t", "s")
            .with_secrets(Secrets::new([("token".to_owned(), "tok/en+s3cret".to_owned())]))
            .with_grants(HostGrants::new(grants.iter().copied()))
    }

    fn post(url: &str, headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: Method::Post,
            url: url.to_owned(),
            headers: headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            body: body.as_bytes().to_vec(),
            timeout: None,
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[tokio::test]
    async fn secrets_go_only_to_the_hosts_they_are_bound_to() {
        let client = Client::recorded(Arc::new(|_: &Request| {
            Ok(Response { status: 200, headers: vec![], body: b"ok".to_vec() })
        }));
        let shop = secret_shop(&["api.example", "cdn.example"]);
        let bound = HostGrants::new(["api.example"]);
        let second = Duration::from_secs(1);
        let send = |r| client.send(&shop, "pull-orders", r, &bound, second, second, 1_000);
        assert!(send(post("https://api.example/x", &[("authorization", "Bearer {{secret:token}}")], "")).await.is_ok());
        // Granted, but not a host the secret is bound to: in the body, a header or the URL.
        for request in [
            post("https://cdn.example/x", &[], "t={{secret:token}}"),
            post("https://cdn.example/x", &[("x-t", "{{secret-basic:token,token}}")], ""),
            post("https://cdn.example/x?t=%7B%7Bsecret%3Atoken%7D%7D", &[], ""),
        ] {
            match send(request).await {
                Err(HttpError::SecretNotForHost { secrets, host, bound }) => {
                    assert_eq!(
                        (secrets.as_str(), host.as_str(), bound.as_str()),
                        ("`token`", "cdn.example:443", "api.example")
                    );
                }
                other => panic!("expected secret-not-for-host, got {other:?}"),
            }
        }
        // Without secrets, the granted host is reachable.
        assert!(send(post("https://cdn.example/x", &[], "plain")).await.is_ok());
    }

    #[tokio::test]
    async fn host_owned_headers_are_refused() {
        let client =
            Client::recorded(Arc::new(|_: &Request| Ok(Response { status: 200, headers: vec![], body: vec![] })));
        let shop = secret_shop(&["api.example"]);
        let second = Duration::from_secs(1);
        for name in ["Host", "Accept-Encoding", "content-length", "Transfer-Encoding", "connection", "TE"] {
            let request = post("https://api.example/x", &[(name, "x")], "");
            let err =
                client.send(&shop, "pull-orders", request, &shop.grants, second, second, 1_000).await.unwrap_err();
            assert_eq!(err, HttpError::HostOwnedHeader(name.to_ascii_lowercase()));
        }
    }

    #[tokio::test]
    async fn answers_are_decoded_before_they_are_scrubbed() {
        let echo = |encoding: &'static str| -> Responder {
            Arc::new(move |req: &Request| {
                let body = match encoding {
                    "gzip" => gzip(&req.body),
                    "gzip, gzip" => gzip(&gzip(&req.body)),
                    _ => req.body.clone(),
                };
                let headers = vec![
                    ("Content-Encoding".to_owned(), encoding.to_owned()),
                    ("x-echo".to_owned(), String::from_utf8_lossy(&req.body).into_owned()),
                ];
                Ok(Response { status: 200, headers, body })
            })
        };
        let shop = secret_shop(&["api.example"]);
        let second = Duration::from_secs(1);
        for encoding in ["gzip", "gzip, gzip", "identity"] {
            let client = Client::recorded(echo(encoding));
            let r = client
                .send(
                    &shop,
                    "pull-orders",
                    post("https://api.example/", &[], "t={{secret:token}}"),
                    &shop.grants,
                    second,
                    second,
                    1_000,
                )
                .await
                .unwrap();
            assert_eq!(r.body, b"t={{secret:token}}", "{encoding}");
            let coded = r.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("content-encoding") && v != "identity");
            assert!(!coded, "{encoding}: {:?}", r.headers);
            assert!(
                r.headers.iter().any(|(k, v)| k == "x-echo" && v == "t={{secret:token}}"),
                "{encoding}: {:?}",
                r.headers
            );
        }
        let client = Client::recorded(echo("br"));
        let err = client
            .send(
                &shop,
                "pull-orders",
                post("https://api.example/", &[], "t={{secret:token}}"),
                &shop.grants,
                second,
                second,
                1_000,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::Undecodable(ref m) if m.contains("br")), "{err:?}");
        // A bomb: a few KiB of gzip that inflate past the cap are refused, not built.
        let bomb = gzip(&vec![b'a'; 1 << 20]);
        assert!(bomb.len() < 16 << 10);
        let client = Client::recorded(Arc::new(move |_: &Request| {
            Ok(Response { status: 200, headers: vec![("content-encoding".into(), "gzip".into())], body: bomb.clone() })
        }));
        let err = client
            .send(&shop, "pull-orders", post("https://api.example/", &[], ""), &shop.grants, second, second, 4_000)
            .await
            .unwrap_err();
        assert_eq!(err, HttpError::TooLarge(4_000));
    }
}
