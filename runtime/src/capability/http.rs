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
use crate::limits::{DEFAULT_SHOP_REQUESTS_PER_SECOND, MAX_RATE_LIMIT_WAIT};
use crate::model::Descriptor;
use crate::shop::Shop;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
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

/// Hosts the operator lets a shop's plugin reach. An entry is `name` (default ports 80 and 443
/// only) or `name:port`; nothing else is reachable.
#[derive(Clone, Debug, Default)]
pub struct HostGrants {
    entries: Vec<String>,
}

impl HostGrants {
    /// `host:port` of every http(s) URL among `values`: the hosts a shop's secrets are bound
    /// to (never a grant: a URL in a config grants nothing).
    pub fn hosts_of_urls<'a>(values: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        values
            .into_iter()
            .filter_map(|v| url::Url::parse(v).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .filter_map(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
            .collect()
    }

    /// The hosts a shop's secrets may be sent to: the hosts the plugin declares (`http_hosts`)
    /// and the hosts of the URL values of the config keys it declares, as the operator set
    /// them (or as declared by default). A host reachable only through another grant (one
    /// the operator added for something else, or a URL under a key the plugin does not
    /// declare) never receives a secret. Every request still needs its host granted as well.
    pub fn for_secrets(descriptor: &Descriptor, config: &BTreeMap<String, String>) -> Self {
        let values: Vec<String> = descriptor
            .config_keys
            .iter()
            .filter(|k| !k.secret)
            .filter_map(|k| config.get(&k.name).or(k.default_value.as_ref()).cloned())
            .collect();
        let mut hosts = descriptor.http_hosts.clone();
        hosts.extend(HostGrants::hosts_of_urls(&values));
        HostGrants::new(hosts)
    }

    pub fn new(entries: impl IntoIterator<Item = impl Into<String>>) -> Self {
        HostGrants { entries: entries.into_iter().map(|e| e.into().to_ascii_lowercase()).collect() }
    }

    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// Whether the operator granted `ip` itself on `port` (an entry `ip:port`, or a bare `ip`
    /// for ports 80 and 443): what lets a plugin reach a non-public address.
    pub fn grants_address(&self, ip: IpAddr, port: u16) -> bool {
        self.entries.iter().any(|e| {
            let (host, entry_port) = split_entry(e);
            let same_ip = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|h| canonical(h) == canonical(ip));
            same_ip && entry_port.map_or(matches!(port, 80 | 443), |p| p == port)
        })
    }

    /// Refuses any of `addrs` (what the URL's host resolved to) that is not public, unless
    /// granted by address.
    pub fn check_addresses(&self, host: &str, addrs: &[SocketAddr]) -> Result<(), HttpError> {
        for a in addrs {
            if !is_public(a.ip()) && !self.grants_address(a.ip(), a.port()) {
                return Err(HttpError::Denied(format!(
                    "{host} resolves to {}, a {} address; only an operator's grant of that very address (`{a}`) lets a plugin reach it",
                    a.ip(),
                    address_kind(a.ip())
                )));
            }
        }
        Ok(())
    }

    /// Whether `url` may be reached; the error says why not.
    pub fn check(&self, url: &url::Url) -> Result<(), HttpError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpError::Denied(format!("scheme `{}` is not http(s)", url.scheme())));
        }
        let host =
            url.host_str().ok_or_else(|| HttpError::InvalidRequest(format!("no host in {url}")))?.to_ascii_lowercase();
        let port = url.port_or_known_default().unwrap_or(0);
        let default_port = matches!(port, 80 | 443);
        let with_port = format!("{host}:{port}");
        let granted = self.entries.iter().any(|e| *e == with_port || (*e == host && default_port));
        if granted {
            Ok(())
        } else {
            Err(HttpError::Denied(format!(
                "{with_port} is not among the hosts granted to this plugin ({})",
                if self.entries.is_empty() { "none".to_owned() } else { self.entries.join(", ") }
            )))
        }
    }
}

/// `name[:port]` of a grant entry (an IPv6 entry is bracketed: `[::1]:8080`).
fn split_entry(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').unwrap_or((rest, ""));
        return (host, tail.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().ok()),
        _ => (entry, None),
    }
}

/// An IPv4 address inside an IPv6 one (`::ffff:127.0.0.1`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is an address of the public internet: not loopback, link-local, private,
/// shared (CGNAT), unspecified, broadcast, multicast, documentation or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    address_kind(ip) == "public"
}

fn address_kind(ip: IpAddr) -> &'static str {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                "loopback"
            } else if v4.is_link_local() {
                "link-local"
            } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                "private"
            } else if v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
            {
                "reserved"
            } else {
                "public"
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                "loopback"
            } else if first & 0xffc0 == 0xfe80 {
                "link-local"
            } else if first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfec0 {
                "private"
            } else if v6.is_unspecified()
                || v6.is_multicast()
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064
            {
                "reserved"
            } else {
                "public"
            }
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

/// A token bucket per platform host and API (operation), shared by every call of one shop.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(DEFAULT_SHOP_REQUESTS_PER_SECOND)
    }
}

impl RateLimiter {
    /// `per_second` requests per second per host, with a burst of the same size.
    pub fn new(per_second: u32) -> Self {
        RateLimiter { per_second: per_second.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes a token, or says how long until one is free.
    pub(crate) fn take(&self, host: &str) -> Result<(), Duration> {
        let rate = f64::from(self.per_second);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let bucket = buckets.entry(host.to_owned()).or_insert(Bucket { tokens: rate, at: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate).min(rate);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }

    /// Waits briefly for a token; beyond `MAX_RATE_LIMIT_WAIT` answers how long to back off.
    pub async fn acquire(&self, host: &str) -> Result<(), HttpError> {
        loop {
            match self.take(host) {
                Ok(()) => return Ok(()),
                Err(wait) if wait <= MAX_RATE_LIMIT_WAIT => tokio::time::sleep(wait).await,
                Err(wait) => return Err(HttpError::RateLimited(wait.as_millis() as u64)),
            }
        }
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
        let secrets = shop.secrets.clone();
        let (filled_url, headers, body, filled) =
            blocking(move || fill(&secrets, &written_url, headers, &body)).await??;
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
        shop.rate_limiter.acquire(&format!("{host} {api}")).await?;
        let client = match &self.transport {
            Transport::Network(client) => client,
            Transport::Recorded(responder) => {
                let filled = Request { method, url: url.to_string(), headers, body, timeout };
                let response = responder(&filled)?;
                if response.body.len() > max_body {
                    return Err(HttpError::TooLarge(max_body as u64));
                }
                let secrets = shop.secrets.clone();
                return blocking(move || readable(&secrets, response, max_body)).await?;
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
        blocking(move || readable(&secrets, Response { status, headers, body }, max_body)).await?
    }
}

/// Whether the host alone sets header `name` ([`HOST_OWNED_HEADERS`]).
fn is_host_owned(name: &str) -> bool {
    HOST_OWNED_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name.trim()))
}

/// Runs bounded CPU work (filling, decoding, scrubbing) on the blocking pool, charged to the
/// call it is done for.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, HttpError> {
    tokio::task::spawn_blocking(crate::sandbox::cpu::metered(work))
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

    #[test]
    fn grants_are_exact() {
        let grants = HostGrants::new(["eco.taobao.com", "127.0.0.1:8080"]);
        let ok = |u: &str| grants.check(&url::Url::parse(u).unwrap()).is_ok();
        assert!(ok("https://eco.taobao.com/router/rest"));
        assert!(ok("http://127.0.0.1:8080/x"));
        assert!(!ok("http://127.0.0.1:8081/x"));
        assert!(!ok("https://eco.taobao.com:8443/"));
        assert!(!ok("https://evil.example/"));
        assert!(!ok("file:///etc/passwd"));
        assert!(HostGrants::default().check(&url::Url::parse("https://eco.taobao.com/").unwrap()).is_err());
    }

    #[test]
    fn internal_addresses_need_a_grant_of_the_address() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        let by_name = HostGrants::new(["metadata.internal", "localhost:8080", "api.example"]);
        for internal in [
            "169.254.169.254:80",
            "127.0.0.1:8080",
            "10.1.2.3:443",
            "192.168.1.1:80",
            "172.16.0.1:80",
            "[::1]:8080",
            "[fe80::1]:80",
            "[fd00::1]:80",
            "[::ffff:127.0.0.1]:8080",
            "0.0.0.0:80",
            "100.64.0.1:80",
        ] {
            let e = by_name.check_addresses("h", &[addr(internal)]).unwrap_err();
            assert!(matches!(e, HttpError::Denied(_)), "{internal}: {e:?}");
        }
        by_name.check_addresses("api.example", &[addr("93.184.216.34:443"), addr("[2606:2800:220:1::1]:443")]).unwrap();
        let mixed = [addr("93.184.216.34:443"), addr("10.0.0.1:443")];
        assert!(by_name.check_addresses("api.example", &mixed).is_err(), "one internal answer is enough to refuse");

        let by_address = HostGrants::new(["127.0.0.1:8080", "169.254.169.254", "[::1]:9000"]);
        by_address.check_addresses("h", &[addr("127.0.0.1:8080")]).unwrap();
        by_address.check_addresses("h", &[addr("[::ffff:127.0.0.1]:8080")]).unwrap();
        assert!(by_address.check_addresses("h", &[addr("127.0.0.1:8081")]).is_err(), "the port is part of the grant");
        by_address.check_addresses("h", &[addr("169.254.169.254:80")]).unwrap();
        by_address.check_addresses("h", &[addr("[::1]:9000")]).unwrap();
    }

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

    #[test]
    fn bucket_refills() {
        let limiter = RateLimiter::new(2);
        assert!(limiter.take("h").is_ok());
        assert!(limiter.take("h").is_ok());
        assert!(limiter.take("h").is_err());
        assert!(limiter.take("other").is_ok());
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

    #[test]
    fn secrets_are_bound_to_declared_hosts_and_declared_endpoints() {
        use crate::model::{ConfigKey, Role};
        let key = |name: &str, secret: bool, default: Option<&str>| ConfigKey {
            name: name.into(),
            description: String::new(),
            secret,
            required: false,
            default_value: default.map(Into::into),
        };
        let descriptor = Descriptor {
            name: "p".into(),
            version: "1.0.0".into(),
            platform: "p".into(),
            role: Role::Marketplace,
            wit_version: "0.2.0".into(),
            operations: vec![],
            http_hosts: vec!["api.example".into()],
            config_keys: vec![
                key("endpoint", false, Some("https://gw.example/rest")),
                key("images", false, None),
                key("token", true, None),
            ],
        };
        let config = BTreeMap::from([
            ("images".to_owned(), "http://127.0.0.1:9000/upload".to_owned()),
            ("undeclared".to_owned(), "http://169.254.169.254/".to_owned()),
        ]);
        let bound = HostGrants::for_secrets(&descriptor, &config);
        assert_eq!(bound.entries(), ["api.example", "gw.example:443", "127.0.0.1:9000"]);
        let operator = BTreeMap::from([("endpoint".to_owned(), "http://127.0.0.1:7000/".to_owned())]);
        assert_eq!(HostGrants::for_secrets(&descriptor, &operator).entries(), ["api.example", "127.0.0.1:7000"]);
    }
}
