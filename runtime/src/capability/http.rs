//! Outbound HTTP on behalf of a plugin: deny by default, then the operator's grants, a per-shop
//! token bucket, a timeout bounded by the call's deadline, a response-size cap, secret
//! placeholders filled on the way out and scrubbed on the way back.
//!
//! A granted name is not enough to reach inside the host's network: the name is resolved, and
//! a loopback, link-local (169.254.0.0/16 with the cloud metadata service, fe80::/10), private
//! (RFC 1918, fc00::/7) or otherwise non-public address is refused unless the operator granted
//! that very address (`127.0.0.1:8080`). The connection then goes to the addresses checked,
//! never to a second answer of the name server (see [`CheckedResolver`]).

use crate::capability::credentials::CredentialError;
use crate::limits::{DEFAULT_SHOP_REQUESTS_PER_SECOND, MAX_RATE_LIMIT_WAIT};
use crate::shop::Shop;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
}

impl From<CredentialError> for HttpError {
    fn from(e: CredentialError) -> Self {
        HttpError::InvalidRequest(e.to_string())
    }
}

/// Hosts the operator lets a shop's plugin reach. An entry is `name` (default ports 80 and 443
/// only) or `name:port`; nothing else is reachable.
#[derive(Clone, Debug, Default)]
pub struct HostGrants {
    entries: Vec<String>,
}

impl HostGrants {
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
            let same_ip = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|h| canonical(h) == canonical(ip));
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
        let host = url
            .host_str()
            .ok_or_else(|| HttpError::InvalidRequest(format!("no host in {url}")))?
            .to_ascii_lowercase();
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

/// Headers only the host sets: `Host` would aim a request granted for one name at a virtual
/// host the operator never granted (the same address serving both), and the hop-by-hop and
/// framing headers would let a plugin smuggle a second request through the connection.
pub const HOST_ONLY_HEADERS: [&str; 12] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "expect",
];

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
            } else if v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || v4.is_documentation() || a == 0 || a >= 240 {
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
            } else if v6.is_unspecified() || v6.is_multicast() || first == 0x2001 && v6.segments()[1] == 0x0db8 || first == 0x0064 {
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
pub type Responder = std::sync::Arc<dyn Fn(&Request) -> Result<Response, HttpError> + Send + Sync>;

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
    /// `time_left` and `max_body` bytes of answer.
    pub async fn send(
        &self,
        shop: &Shop,
        api: &str,
        request: Request,
        default_timeout: Duration,
        time_left: Duration,
        max_body: usize,
    ) -> Result<Response, HttpError> {
        // The grant is checked on the URL as the plugin wrote it and again once filled, so a
        // secret can neither pick the host nor be smuggled into it.
        let written = url::Url::parse(&request.url)
            .map_err(|e| HttpError::InvalidRequest(format!("bad url {:?}: {e}", request.url)))?;
        shop.grants.check(&written)?;
        if let Some((name, _)) = request.headers.iter().find(|(n, _)| HOST_ONLY_HEADERS.iter().any(|h| n.trim().eq_ignore_ascii_case(h))) {
            return Err(HttpError::Denied(format!("header `{name}` is set by the host only")));
        }
        let url = url::Url::parse(&shop.secrets.fill_str(&request.url)?)
            .map_err(|e| HttpError::InvalidRequest(format!("bad url after filling secrets: {e}")))?;
        if url.host_str() != written.host_str() || url.port() != written.port() {
            return Err(HttpError::InvalidRequest("secrets may not change the url's host".into()));
        }
        let host = format!("{}:{}", written.host_str().unwrap_or(""), written.port_or_known_default().unwrap_or(0));
        // One bucket per (host, operation): a burst of stock pushes cannot starve the shop's
        // order pulls, and platforms meter their APIs separately too.
        shop.rate_limiter.acquire(&format!("{host} {api}")).await?;
        let mut headers = Vec::with_capacity(request.headers.len());
        for (name, value) in &request.headers {
            headers.push((name.clone(), shop.secrets.fill_str(value)?));
        }
        let body = shop.secrets.fill(&request.body)?;
        let client = match &self.transport {
            Transport::Network(client) => client,
            Transport::Recorded(responder) => {
                let filled = Request { url: url.to_string(), headers, body, ..request };
                let mut response = responder(&filled)?;
                if response.body.len() > max_body {
                    return Err(HttpError::TooLarge(max_body as u64));
                }
                response.body = shop.secrets.scrub(response.body);
                return Ok(response);
            }
        };

        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
            Method::Head => reqwest::Method::HEAD,
        };
        let timeout = request.timeout.unwrap_or(default_timeout).min(time_left);
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
        if !body.is_empty() {
            builder = builder.body(body);
        }

        let started = Instant::now();
        let mut response = CHECKED.scope(checked, builder.send()).await.map_err(transport_error)?;
        if let Some(len) = response.content_length() {
            if len > max_body as u64 {
                return Err(HttpError::TooLarge(max_body as u64));
            }
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
        let headers = headers
            .into_iter()
            .map(|(k, v)| {
                let v = String::from_utf8(shop.secrets.scrub(v.into_bytes())).unwrap_or_default();
                (k, v)
            })
            .collect();
        Ok(Response { status, headers, body: shop.secrets.scrub(body) })
    }
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
        for internal in ["169.254.169.254:80", "127.0.0.1:8080", "10.1.2.3:443", "192.168.1.1:80", "172.16.0.1:80", "[::1]:8080", "[fe80::1]:80", "[fd00::1]:80", "[::ffff:127.0.0.1]:8080", "0.0.0.0:80", "100.64.0.1:80"] {
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
        let request = Request { method: Method::Get, url: format!("http://localhost:{port}/"), headers: vec![], body: vec![], timeout: None };
        let second = Duration::from_secs(1);
        match Client::new().send(&shop, "pull-orders", request, second, second, 1_000).await {
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
            assert_eq!(body, "session=s%26cret&x=1");
            let size = if req.url.ends_with("/big") { 2_000 } else { 10 };
            Ok(Response { status: 200, headers: vec![], body: format!("{body}{}", "y".repeat(size)).into_bytes() })
        });
        let client = Client::recorded(responder);
        let shop = Shop::new("t", "s")
            .with_secrets(Secrets::new([("session".to_owned(), "s&cret".to_owned())]))
            .with_grants(HostGrants::new(["api.example:8080"]));
        let request = |url: &str| Request {
            method: Method::Post,
            url: url.to_owned(),
            headers: vec![],
            body: b"session=%7B%7Bsecret%3Asession%7D%7D&x=1".to_vec(),
            timeout: None,
        };
        let second = Duration::from_secs(1);
        let ok = client.send(&shop, "pull-orders", request("http://api.example:8080/ok"), second, second, 1_000).await.unwrap();
        assert!(String::from_utf8(ok.body).unwrap().starts_with("session={{secret:session}}&x=1"), "echo scrubbed");
        assert_eq!(
            client.send(&shop, "pull-orders", request("http://api.example:8080/big"), second, second, 1_000).await.unwrap_err(),
            HttpError::TooLarge(1_000)
        );
        assert!(matches!(
            client.send(&shop, "pull-orders", request("http://elsewhere.example:8080/"), second, second, 1_000).await,
            Err(HttpError::Denied(_))
        ));
        for header in ["Host", "transfer-encoding", " Content-Length"] {
            let mut r = request("http://api.example:8080/ok");
            r.headers.push((header.to_owned(), "x".to_owned()));
            match client.send(&shop, "pull-orders", r, second, second, 1_000).await {
                Err(HttpError::Denied(why)) => assert!(why.contains("set by the host only"), "{why}"),
                other => panic!("{header}: {other:?}"),
            }
        }
    }

    #[test]
    fn bucket_refills() {
        let limiter = RateLimiter::new(2);
        assert!(limiter.take("h").is_ok());
        assert!(limiter.take("h").is_ok());
        assert!(limiter.take("h").is_err());
        assert!(limiter.take("other").is_ok());
    }
}
