//! The signed-gateway kit: what every marketplace whose API is one signed gateway (TOP, JOS,
//! 抖店) would otherwise write again: the standard settings and their checks, the host
//! [`Api`] that signs, sends and opens the envelope, the config keys the descriptor declares,
//! and the table of what the gateway's error codes mean to the host.
//!
//! The gateways differ only in where the signed parameters go, what is signed, how the
//! envelope looks and which codes mean what, so a platform writes exactly that: a
//! [`SignedGateway`] impl (sign, build the request, open the envelope) and an [`ErrorTable`].
//! Everything the host decides by (retries, dead letters, operator alerts) then comes from
//! one place, and a new platform cannot get a settings check or a secret check subtly wrong.
//!
//! ```ignore
//! pub struct Acme;
//!
//! pub const ERRORS: ErrorTable = ErrorTable {
//!     gateway: "Acme",
//!     throttled: &[7],
//!     auth: &[25, 26],
//!     auth_sub_codes: &[],
//!     transient: &[10],
//!     transient_sub_code_prefix: Some("isp."),
//! };
//!
//! impl SignedGateway for Acme {
//!     type SignMethod = ();
//!     type Prepared = SortedParams;
//!     const NAME: &'static str = "Acme";
//!     const DEFAULT_ENDPOINT: &'static str = "https://api.acme.example/router";
//!     const DEFAULT_PAGE_SIZE: u32 = 50;
//!     const PAGE_SIZE_RANGE: RangeInclusive<u32> = 1..=100;
//!     const TOKEN_SECRET: &'static str = "access_token";
//!     const TOKEN_DESCRIPTION: &'static str = "The seller's access token";
//!     const SIGN_METHODS: &'static [(&'static str, ())] = &[];
//!     const DEFAULT_SIGN_METHOD: () = ();
//!
//!     fn prepare(settings: &Settings<Self>, method: &str, params: &Value, timestamp: &str)
//!         -> (SignRequest, SortedParams) { /* the platform's string to sign */ }
//!     fn request(settings: &Settings<Self>, method: &str, timestamp: &str, params: SortedParams, sign: &str)
//!         -> Request { /* where the params and the sign go */ }
//!     fn open(method: &str, body: &[u8]) -> Result<Value, ConnectorError> {
//!         envelope::open_coded(body, &format!("{method}_response"), ERROR_RESPONSE, |code, e| /* ERRORS.error(code, …) */)
//!     }
//! }
//!
//! pub type HostApi = HostGateway<Acme>;
//! // In the connector: HostApi::run(|api, shop_id| pull::pull_orders(api, api.settings.page_size, …))
//! // In the descriptor: .config_keys(gateway::config_keys::<Acme>())
//! ```

use std::fmt;
use std::ops::RangeInclusive;

use serde_json::Value;

use crate::api::{self, Api};
use crate::config;
use crate::credentials::SignRequest;
use crate::http::{self, Request};
use crate::settings::{self, APP_KEY, APP_SECRET, ENDPOINT, PAGE_SIZE, SIGN_METHOD};
use crate::signing;
use crate::status;
use crate::time;
use crate::types::{ConfigKey, ConnectorError};

/// One signed gateway: how a call is signed, sent and read. See the module docs.
pub trait SignedGateway: Sized {
    /// How requests may be signed (`sign_method`); `()` where the gateway knows one way only.
    type SignMethod: Copy + Eq + fmt::Debug + 'static;
    /// What [`SignedGateway::prepare`] builds besides the message to sign, for
    /// [`SignedGateway::request`] to send.
    type Prepared;

    /// The gateway as its settings' descriptions name it ("TOP", "JOS", "抖店").
    const NAME: &'static str;
    /// The production gateway, the `endpoint` setting's default.
    const DEFAULT_ENDPOINT: &'static str;
    /// Rows per listing page unless configured (`page_size`).
    const DEFAULT_PAGE_SIZE: u32;
    /// The gateway's bounds for a page.
    const PAGE_SIZE_RANGE: RangeInclusive<u32>;
    /// What `page_size` counts, for its description (the bounds are appended).
    const PAGE_SIZE_DESCRIPTION: &'static str = "Orders per listing page";
    /// The secret holding the seller's token; requests carry its placeholder only.
    const TOKEN_SECRET: &'static str;
    const TOKEN_DESCRIPTION: &'static str;
    /// The `sign_method` values and what they mean, in the order documented. Empty where the
    /// gateway signs one way only: the setting is then neither read nor declared.
    const SIGN_METHODS: &'static [(&'static str, Self::SignMethod)];
    const DEFAULT_SIGN_METHOD: Self::SignMethod;

    /// The `endpoint` setting's description.
    fn endpoint_description() -> String {
        format!("{} gateway URL", Self::NAME)
    }

    /// The request's timestamp at `now_ms`, as the gateway writes it: Beijing time
    /// `yyyy-MM-dd HH:mm:ss` unless overridden (TOP and JOS; 抖店 sends Unix seconds).
    fn timestamp(now_ms: i64) -> String {
        time::ms_to_shanghai(now_ms)
    }

    /// Sign: what the host signs for calling `method` with `params` (a JSON object of the
    /// method's own parameters), and what the request is then built from.
    fn prepare(
        settings: &Settings<Self>,
        method: &str,
        params: &Value,
        timestamp: &str,
    ) -> (SignRequest, Self::Prepared);

    /// Send: the HTTP request carrying `prepared` and the host's `sign`.
    fn request(
        settings: &Settings<Self>,
        method: &str,
        timestamp: &str,
        prepared: Self::Prepared,
        sign: &str,
    ) -> Request;

    /// Open the envelope of a 2xx answer: the inside of its success envelope, or the error its
    /// error envelope means (by the gateway's [`ErrorTable`]). An answer that is not the
    /// envelope at all is `transient` (see [`crate::envelope`]).
    fn open(method: &str, body: &[u8]) -> Result<Value, ConnectorError>;
}

/// The standard settings of a gateway, read from the shop's config.
pub struct Settings<G: SignedGateway> {
    /// An `http(s)://` URL without a query, without a trailing `/`.
    pub endpoint: String,
    pub app_key: String,
    pub sign_method: G::SignMethod,
    pub page_size: u32,
}

impl<G: SignedGateway> Settings<G> {
    /// Reads and checks the settings through `get` (the host's `config::get`, or
    /// [`crate::testing::lookup`] in tests). Absent values take the gateway's defaults; a bad
    /// one is `invalid_input` on `config.<key>`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConnectorError> {
        let endpoint = settings::endpoint(get(ENDPOINT).as_deref(), G::DEFAULT_ENDPOINT)?;
        let app_key = config::required(APP_KEY, get(APP_KEY))?.trim().to_owned();
        let sign_method = match get(SIGN_METHOD).as_deref().map(str::trim).filter(|m| !m.is_empty()) {
            Some(name) if !G::SIGN_METHODS.is_empty() => {
                status::lookup(G::SIGN_METHODS, name, &config::field(SIGN_METHOD))?
            }
            _ => G::DEFAULT_SIGN_METHOD,
        };
        let page_size = config::u32_in(PAGE_SIZE, get(PAGE_SIZE).as_deref(), G::DEFAULT_PAGE_SIZE, G::PAGE_SIZE_RANGE)?;
        Ok(Self { endpoint, app_key, sign_method, page_size })
    }
}

// By hand: derives would ask the marker type `G` itself for these traits.
impl<G: SignedGateway> fmt::Debug for Settings<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint)
            .field("app_key", &self.app_key)
            .field("sign_method", &self.sign_method)
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl<G: SignedGateway> Clone for Settings<G> {
    fn clone(&self) -> Self {
        Self {
            endpoint: self.endpoint.clone(),
            app_key: self.app_key.clone(),
            sign_method: self.sign_method,
            page_size: self.page_size,
        }
    }
}

impl<G: SignedGateway> PartialEq for Settings<G> {
    fn eq(&self, other: &Self) -> bool {
        (&self.endpoint, &self.app_key, self.sign_method, self.page_size)
            == (&other.endpoint, &other.app_key, other.sign_method, other.page_size)
    }
}

impl<G: SignedGateway> Eq for Settings<G> {}

/// The `sign_method` value of `method`, as requests carry it.
pub fn sign_method_name<G: SignedGateway>(method: G::SignMethod) -> &'static str {
    G::SIGN_METHODS.iter().find(|(_, m)| *m == method).map_or("", |(name, _)| name)
}

/// The settings a gateway's descriptor declares, in the order an operator fills them:
/// endpoint, app key, sign method (where there is a choice), page size, then the two secrets.
pub fn config_keys<G: SignedGateway>() -> Vec<ConfigKey> {
    let name = G::NAME;
    let (min, max) = (G::PAGE_SIZE_RANGE.start(), G::PAGE_SIZE_RANGE.end());
    let mut keys = vec![
        ConfigKey::with_default(ENDPOINT, &G::endpoint_description(), G::DEFAULT_ENDPOINT),
        ConfigKey::required(APP_KEY, &format!("{name} app key")),
    ];
    if let Some((last, first)) = G::SIGN_METHODS.split_last() {
        let names: Vec<&str> = first.iter().map(|(n, _)| *n).collect();
        let choices = if names.is_empty() { last.0.to_owned() } else { format!("{} or {}", names.join(", "), last.0) };
        keys.push(ConfigKey::with_default(
            SIGN_METHOD,
            &format!("Signature method: {choices}"),
            sign_method_name::<G>(G::DEFAULT_SIGN_METHOD),
        ));
    }
    keys.extend([
        ConfigKey::with_default(
            PAGE_SIZE,
            &format!("{} ({min}-{max})", G::PAGE_SIZE_DESCRIPTION),
            &G::DEFAULT_PAGE_SIZE.to_string(),
        ),
        ConfigKey::secret(APP_SECRET, &format!("{name} app secret (signs requests)")),
        ConfigKey::secret(G::TOKEN_SECRET, G::TOKEN_DESCRIPTION),
    ]);
    keys
}

/// [`Api`] through the host: signs with the host's secrets, sends with its HTTP, and opens the
/// gateway's envelope.
pub struct HostGateway<G: SignedGateway> {
    pub settings: Settings<G>,
}

impl<G: SignedGateway> HostGateway<G> {
    /// Reads the settings and checks that both secrets are configured (their values stay in
    /// the host).
    pub fn from_host() -> Result<Self, ConnectorError> {
        let settings = Settings::from_lookup(config::get)?;
        [APP_SECRET, G::TOKEN_SECRET].into_iter().try_for_each(config::require_secret)?;
        Ok(Self { settings })
    }

    /// Runs an operation with the host's gateway and the shop it works for.
    pub fn run<T>(operation: impl FnOnce(&mut Self, &str) -> Result<T, ConnectorError>) -> Result<T, ConnectorError> {
        let mut api = Self::from_host()?;
        operation(&mut api, &config::shop_id())
    }
}

impl<G: SignedGateway> Api for HostGateway<G> {
    fn call(&mut self, method: &str, params: &Value) -> Result<Value, ConnectorError> {
        let timestamp = G::timestamp(time::now_ms());
        let (to_sign, prepared) = G::prepare(&self.settings, method, params, &timestamp);
        let sign = signing::sign(&to_sign)?;
        let request = G::request(&self.settings, method, &timestamp, prepared, &sign);
        G::open(method, &http::success_body(http::fetch(&request)?)?)
    }

    fn note(&mut self, message: &str, fields: &[(&str, String)]) {
        api::host_note(message, fields);
    }

    fn stored_order_versions(&mut self, order_ids: &[String]) -> Result<Vec<Option<i64>>, ConnectorError> {
        Ok(crate::stored::versions_of(order_ids))
    }
}

/// What a gateway's error codes mean to the host, which retries, waits or alerts by the
/// error's case alone. Checked in this order: throttled, credentials, platform-side; a code
/// in none of them is `platform` with the gateway's code and message, for an operator.
#[derive(Debug, Clone, Copy)]
pub struct ErrorTable {
    /// How messages name the gateway: "TOP error 25: …".
    pub gateway: &'static str,
    /// Codes of a throttle: `rate_limited`, waiting as long as the answer says.
    pub throttled: &'static [i64],
    /// Codes of credentials the operator must fix: `auth`.
    pub auth: &'static [i64],
    /// Sub-codes meaning the same, whatever the code.
    pub auth_sub_codes: &'static [&'static str],
    /// Codes of failures on the gateway's side, usually gone on retry: `transient`.
    pub transient: &'static [i64],
    /// Sub-codes meaning the same (`isp.` on TOP and 抖店).
    pub transient_sub_code_prefix: Option<&'static str>,
}

impl ErrorTable {
    /// What the error answer `code` / `sub_code` means; `message` is the gateway's own texts
    /// as the plugin joins them, `retry_after_ms` is asked of a throttle only (gateways say
    /// the wait in their own words). Codes are matched by value (`"7"` and `7` alike).
    pub fn error(
        &self,
        code: &str,
        sub_code: &str,
        message: String,
        retry_after_ms: impl FnOnce() -> u64,
    ) -> ConnectorError {
        let number = code.parse::<i64>().ok();
        let listed = |codes: &[i64]| number.is_some_and(|n| codes.contains(&n));
        if listed(self.throttled) {
            return ConnectorError::rate_limited(retry_after_ms(), message);
        }
        let gateway = self.gateway;
        if listed(self.auth) || self.auth_sub_codes.contains(&sub_code) {
            return ConnectorError::auth(format!("{gateway} error {code}: {message}"));
        }
        if listed(self.transient) || self.transient_sub_code_prefix.is_some_and(|p| sub_code.starts_with(p)) {
            return ConnectorError::transient(format!("{gateway} error {code}: {message}"));
        }
        ConnectorError::platform(code, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{Digest, HexCase};
    use crate::http::Method;
    use crate::testing::lookup;
    use crate::types::RateLimit;

    /// A gateway with a choice of signatures: the shape of TOP and 抖店.
    struct Acme;

    const ERRORS: ErrorTable = ErrorTable {
        gateway: "Acme",
        throttled: &[7],
        auth: &[25],
        auth_sub_codes: &["isv.token-expired"],
        transient: &[10],
        transient_sub_code_prefix: Some("isp."),
    };

    impl SignedGateway for Acme {
        type SignMethod = Digest;
        type Prepared = String;
        const NAME: &'static str = "Acme";
        const DEFAULT_ENDPOINT: &'static str = "https://api.acme.example/router";
        const DEFAULT_PAGE_SIZE: u32 = 40;
        const PAGE_SIZE_RANGE: RangeInclusive<u32> = 1..=100;
        const PAGE_SIZE_DESCRIPTION: &'static str = "Trades per listing page";
        const TOKEN_SECRET: &'static str = "session";
        const TOKEN_DESCRIPTION: &'static str = "Seller session";
        const SIGN_METHODS: &'static [(&'static str, Digest)] =
            &[("md5", Digest::Md5), ("hmac", Digest::HmacMd5), ("hmac-sha256", Digest::HmacSha256)];
        const DEFAULT_SIGN_METHOD: Digest = Digest::Md5;

        fn prepare(settings: &Settings<Self>, method: &str, _: &Value, timestamp: &str) -> (SignRequest, String) {
            let message = format!("{}{method}{timestamp}", settings.app_key);
            let request = SignRequest {
                secret: APP_SECRET.to_owned(),
                digest: settings.sign_method,
                wrap: false,
                hex: HexCase::Uppercase,
                message: message.clone().into_bytes(),
            };
            (request, message)
        }

        fn request(settings: &Settings<Self>, _: &str, _: &str, body: String, sign: &str) -> Request {
            Request {
                method: Method::Post,
                url: format!("{}?sign={sign}", settings.endpoint),
                headers: Vec::new(),
                body: body.into_bytes(),
                timeout_ms: None,
            }
        }

        fn open(_: &str, body: &[u8]) -> Result<Value, ConnectorError> {
            crate::json::parse_answer(body, "acme")
        }
    }

    /// One way to sign only: the shape of JOS.
    struct Plain;

    impl SignedGateway for Plain {
        type SignMethod = ();
        type Prepared = ();
        const NAME: &'static str = "Plain";
        const DEFAULT_ENDPOINT: &'static str = "https://plain.example";
        const DEFAULT_PAGE_SIZE: u32 = 50;
        const PAGE_SIZE_RANGE: RangeInclusive<u32> = 1..=100;
        const TOKEN_SECRET: &'static str = "access_token";
        const TOKEN_DESCRIPTION: &'static str = "Access token";
        const SIGN_METHODS: &'static [(&'static str, ())] = &[];
        const DEFAULT_SIGN_METHOD: () = ();

        fn prepare(_: &Settings<Self>, _: &str, _: &Value, _: &str) -> (SignRequest, ()) {
            unreachable!("not called natively")
        }
        fn request(_: &Settings<Self>, _: &str, _: &str, _: (), _: &str) -> Request {
            unreachable!("not called natively")
        }
        fn open(_: &str, _: &[u8]) -> Result<Value, ConnectorError> {
            unreachable!("not called natively")
        }
    }

    /// The config field a refused set of settings names.
    fn refused<G: SignedGateway>(pairs: &[(&str, &str)]) -> String {
        match Settings::<G>::from_lookup(lookup(pairs)) {
            Err(ConnectorError::InvalidInput(f)) => f.field,
            other => panic!("{pairs:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn settings_take_defaults_and_name_what_they_refuse() {
        let s = Settings::<Acme>::from_lookup(lookup(&[("app_key", " 42 ")])).unwrap();
        assert_eq!(
            (s.endpoint.as_str(), s.app_key.as_str(), s.sign_method, s.page_size),
            ("https://api.acme.example/router", "42", Digest::Md5, 40)
        );
        let s = Settings::<Acme>::from_lookup(lookup(&[
            ("app_key", "1"),
            ("sign_method", "hmac-sha256"),
            ("page_size", "100"),
            ("endpoint", "http://127.0.0.1:9/"),
        ]))
        .unwrap();
        assert_eq!((s.sign_method, s.page_size, s.endpoint.as_str()), (Digest::HmacSha256, 100, "http://127.0.0.1:9"));
        assert_eq!(s.clone(), s);
        assert_eq!(refused::<Acme>(&[]), "config.app_key");
        assert_eq!(refused::<Acme>(&[("app_key", "1"), ("sign_method", "sha1")]), "config.sign_method");
        assert_eq!(refused::<Acme>(&[("app_key", "1"), ("page_size", "0")]), "config.page_size");
        assert_eq!(refused::<Acme>(&[("app_key", "1"), ("page_size", "101")]), "config.page_size");
        assert_eq!(refused::<Acme>(&[("app_key", "1"), ("endpoint", "ftp://x")]), "config.endpoint");
        assert_eq!(refused::<Acme>(&[("app_key", "1"), ("endpoint", "https://x/r?a=1")]), "config.endpoint");
        // Without a choice of signatures the setting is not read at all.
        let s = Settings::<Plain>::from_lookup(lookup(&[("app_key", "k"), ("sign_method", "sha1")])).unwrap();
        assert_eq!(s.sign_method, ());
    }

    #[test]
    fn config_keys_follow_the_gateway() {
        let keys: Vec<(String, bool, bool, Option<String>)> =
            config_keys::<Acme>().into_iter().map(|k| (k.name, k.secret, k.required, k.default_value)).collect();
        let expected: Vec<(String, bool, bool, Option<String>)> = [
            ("endpoint", false, false, Some("https://api.acme.example/router")),
            ("app_key", false, true, None),
            ("sign_method", false, false, Some("md5")),
            ("page_size", false, false, Some("40")),
            ("app_secret", true, true, None),
            ("session", true, true, None),
        ]
        .into_iter()
        .map(|(n, s, r, d)| (n.to_owned(), s, r, d.map(str::to_owned)))
        .collect();
        assert_eq!(keys, expected);
        let sign_method = config_keys::<Acme>().into_iter().find(|k| k.name == "sign_method").unwrap();
        assert_eq!(sign_method.description, "Signature method: md5, hmac or hmac-sha256");
        let page_size = config_keys::<Acme>().into_iter().find(|k| k.name == "page_size").unwrap();
        assert_eq!(page_size.description, "Trades per listing page (1-100)");
        assert_eq!(config_keys::<Acme>()[0].description, "Acme gateway URL");
        let names: Vec<String> = config_keys::<Plain>().into_iter().map(|k| k.name).collect();
        assert_eq!(names, ["endpoint", "app_key", "page_size", "app_secret", "access_token"]);
        assert_eq!(sign_method_name::<Acme>(Digest::HmacMd5), "hmac");
    }

    #[test]
    fn the_sign_and_request_hooks_compose() {
        let s = Settings::<Acme>::from_lookup(lookup(&[("app_key", "k")])).unwrap();
        let (to_sign, body) = Acme::prepare(&s, "m", &Value::Null, "t");
        assert_eq!((to_sign.message, to_sign.secret.as_str()), (b"kmt".to_vec(), "app_secret"));
        let request = Acme::request(&s, "m", "t", body, "SIGN");
        assert_eq!(
            (request.url.as_str(), request.body),
            ("https://api.acme.example/router?sign=SIGN", b"kmt".to_vec())
        );
        assert_eq!(Acme::timestamp(0), "1970-01-01 08:00:00");
    }

    #[test]
    fn the_error_table_decides_the_case() {
        let error = |code: &str, sub_code: &str| ERRORS.error(code, sub_code, "text".to_owned(), || 3_000);
        assert!(matches!(error("7", ""), ConnectorError::RateLimited(RateLimit { retry_after_ms: 3_000, .. })));
        assert!(matches!(error("25", ""), ConnectorError::Auth(m) if m == "Acme error 25: text"));
        assert!(matches!(error("40", "isv.token-expired"), ConnectorError::Auth(_)));
        assert!(matches!(error("10", ""), ConnectorError::Transient(m) if m == "Acme error 10: text"));
        assert!(matches!(error("15", "isp.timeout"), ConnectorError::Transient(_)));
        // Credentials win over a platform-side sub-code; what no row lists is the platform's.
        assert!(matches!(error("25", "isp.timeout"), ConnectorError::Auth(_)));
        assert!(matches!(error("15", "isv.bad"), ConnectorError::Platform(p) if p.code == "15" && p.message == "text"));
        assert!(matches!(error("E1", ""), ConnectorError::Platform(p) if p.code == "E1"));
    }
}
