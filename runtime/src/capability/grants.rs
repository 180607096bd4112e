//! The hosts a shop's plugin may reach, as the operator granted them, and the hosts its
//! secrets may be filled in for. A grant is exact (`name` for ports 80 and 443, or
//! `name:port`); a name never stands for an address inside the host's network: loopback,
//! link-local, private and reserved addresses need a grant of that very address.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use crate::model::Descriptor;

/// Why a URL or an address may not be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("{0}")]
    Denied(String),
    #[error("no host in {0}")]
    NoHost(String),
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
    pub fn check_addresses(&self, host: &str, addrs: &[SocketAddr]) -> Result<(), GrantError> {
        for a in addrs {
            if !is_public(a.ip()) && !self.grants_address(a.ip(), a.port()) {
                return Err(GrantError::Denied(format!(
                    "{host} resolves to {}, a {} address; only an operator's grant of that very address (`{a}`) lets a plugin reach it",
                    a.ip(),
                    address_kind(a.ip())
                )));
            }
        }
        Ok(())
    }

    /// Whether `url` may be reached; the error says why not.
    pub fn check(&self, url: &url::Url) -> Result<(), GrantError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(GrantError::Denied(format!("scheme `{}` is not http(s)", url.scheme())));
        }
        let host = url.host_str().ok_or_else(|| GrantError::NoHost(url.to_string()))?.to_ascii_lowercase();
        let port = url.port_or_known_default().unwrap_or(0);
        let default_port = matches!(port, 80 | 443);
        let with_port = format!("{host}:{port}");
        let granted = self.entries.iter().any(|e| *e == with_port || (*e == host && default_port));
        if granted {
            Ok(())
        } else {
            Err(GrantError::Denied(format!(
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
            assert!(matches!(e, GrantError::Denied(_)), "{internal}: {e:?}");
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
            batch_limits: vec![],
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
