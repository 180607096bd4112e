//! The seam between the plugin's logic and the host: one HTTP exchange.
//!
//! SAP is spoken in HTTP methods, paths, headers (CSRF tokens, session cookies) and bodies,
//! which the SDK's one-call [`wharf_sdk::api::Api`] does not carry, so the plugin has its own
//! seam: [`HostTransport`] sends through the host inside the sandbox, and tests answer from a
//! script.

use wharf_sdk::api;
use wharf_sdk::http::{self, Request, Response};
use wharf_sdk::types::ConnectorError;

use crate::settings::{SAP_PASSWORD, SAP_USER};

/// What the host replaces with `base64(user:password)` of the two named secrets, so the
/// credentials never enter the sandbox.
pub fn basic_auth_placeholder(user_secret: &str, password_secret: &str) -> String {
    format!("Basic {{{{secret-basic:{user_secret},{password_secret}}}}}")
}

/// The `Authorization` header value of every request.
pub fn authorization() -> String {
    basic_auth_placeholder(SAP_USER, SAP_PASSWORD)
}

/// One HTTP exchange.
pub trait Transport {
    /// Sends `request`. `Err` only when no HTTP answer came (unreachable, timeout, denied):
    /// any status comes back as a response.
    fn send(&mut self, request: &Request) -> Result<Response, ConnectorError>;

    /// A debug note for the operator's logs.
    fn note(&mut self, _message: &str, _fields: &[(&str, String)]) {}
}

/// [`Transport`] through the host's HTTP.
pub struct HostTransport;

impl Transport for HostTransport {
    fn send(&mut self, request: &Request) -> Result<Response, ConnectorError> {
        http::fetch(request)
    }

    fn note(&mut self, message: &str, fields: &[(&str, String)]) {
        api::host_note(message, fields);
    }
}

#[cfg(test)]
pub(crate) mod scripted {
    use std::collections::VecDeque;

    use super::*;
    use wharf_sdk::http::Method;

    /// A [`Transport`] answering from a script, in order, and recording what was sent.
    #[derive(Default)]
    pub struct Scripted {
        pub answers: VecDeque<Result<Response, ConnectorError>>,
        pub sent: Vec<Request>,
        pub notes: Vec<String>,
    }

    pub fn json(status: u16, body: &str) -> Result<Response, ConnectorError> {
        Ok(Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        })
    }

    pub fn with_headers(status: u16, headers: &[(&str, &str)], body: &str) -> Result<Response, ConnectorError> {
        Ok(Response {
            status,
            headers: headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            body: body.as_bytes().to_vec(),
        })
    }

    /// A CSRF fetch answer: token and two session cookies.
    pub fn token(token: &str) -> Result<Response, ConnectorError> {
        with_headers(
            200,
            &[
                ("x-csrf-token", token),
                ("set-cookie", "SAP_SESSIONID_S4H_100=abc%3d; path=/; secure; HttpOnly"),
                ("set-cookie", "sap-usercontext=sap-client=100; path=/"),
            ],
            r#"{"d":{"results":[]}}"#,
        )
    }

    impl Scripted {
        pub fn answering(answers: Vec<Result<Response, ConnectorError>>) -> Self {
            Self { answers: answers.into(), ..Self::default() }
        }

        pub fn header(&self, call: usize, name: &str) -> Option<&str> {
            http::header(&self.sent[call].headers, name)
        }

        pub fn url(&self, call: usize) -> String {
            percent_decode(&self.sent[call].url)
        }

        pub fn method(&self, call: usize) -> Method {
            self.sent[call].method
        }

        pub fn body(&self, call: usize) -> serde_json::Value {
            serde_json::from_slice(&self.sent[call].body).unwrap()
        }
    }

    /// Enough decoding to read URLs in assertions.
    pub fn percent_decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    impl Transport for Scripted {
        fn send(&mut self, request: &Request) -> Result<Response, ConnectorError> {
            self.sent.push(request.clone());
            self.answers.pop_front().unwrap_or_else(|| panic!("unscripted request {}", request.url))
        }

        fn note(&mut self, message: &str, _fields: &[(&str, String)]) {
            self.notes.push(message.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_names_both_secrets() {
        assert_eq!(authorization(), "Basic {{secret-basic:sap_user,sap_password}}");
    }
}
