//! Modes against the host's handling of secrets (issue 13):
//!
//! - `placeholder-flood`: asks the host to fill 28 MiB of placeholders, once to sign and once
//!   in a request (the size that took `wharf serve` from 73 MB to 4 GB);
//! - `echo-encodings`: sends a secret, raw, form-encoded and as Basic credentials, to the test's
//!   echo server on every route it has (each answers in one encoding: gzip, deflate, JSON
//!   escapes, percent, base64...), tries to choose the answer's encoding itself, logs and prints
//!   what came back (and the config value `log_probe`), and returns everything it received;
//! - `secret-elsewhere`: fills a secret into a request to `target`, a host the operator granted
//!   but that the secret is not bound to.
//!
//! Each reports in the page's cursor; the test decides what is a leak.

use crate::wharf::connector::types::{ConnectorError, OrderPage};
use crate::wharf::connector::{credentials, http, log};

/// The secret the attacks name; the test configures it.
const SECRET: &str = "{{secret:app_secret}}";
/// The same placeholder form-encoded, as a plugin writes it in a form body.
const SECRET_FORM: &str = "%7B%7Bsecret%3Aapp_secret%7D%7D";
/// Basic credentials of two secrets.
const BASIC: &str = "{{secret-basic:app_user,app_secret}}";

/// Bytes of placeholders the flood asks the host to fill.
const FLOOD_BYTES: usize = 28 << 20;

/// The echo server's routes, one per encoding of its answer (the test's `echo_server`).
const ROUTES: [&str; 8] = ["raw", "gzip", "deflate", "br", "json", "percent", "base64", "headers"];

/// Timeout asked for each request; the echo server answers at once.
const TIMEOUT_MS: u32 = 5_000;

fn echo_url() -> Result<String, ConnectorError> {
    crate::required_config("echo_url", "the URL of the test's echo server")
}

fn request(url: String, headers: &[(&str, &str)], body: Vec<u8>) -> http::Request {
    http::Request {
        method: http::Method::Post,
        url,
        headers: headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        body,
        timeout_ms: Some(TIMEOUT_MS),
    }
}

/// Mode `placeholder-flood`: `sign=<ok:N|err:…>;send=<status|err:…>`.
pub fn flood() -> Result<OrderPage, ConnectorError> {
    let url = echo_url()?;
    // One buffer, signed then sent: two copies would not fit the guest's memory cap.
    let message = SECRET.repeat(FLOOD_BYTES / SECRET.len()).into_bytes();
    let sign_request = credentials::SignRequest {
        secret: "app_secret".to_owned(),
        digest: credentials::Digest::HmacSha256,
        wrap: false,
        hex: credentials::HexCase::Lowercase,
        message,
    };
    let signed = match credentials::sign(&sign_request) {
        Ok(digest) => format!("ok:{}", digest.len()),
        Err(error) => format!("err:{error:?}"),
    };
    let sent = match http::send(&request(url, &[], sign_request.message)) {
        Ok(response) => response.status.to_string(),
        Err(error) => format!("err:{error:?}"),
    };
    Ok(page(format!("sign={signed};send={sent}")))
}

/// Mode `echo-encodings`: one line per route, `route<TAB>status<TAB>hex of every header name,
/// value and the body`, or `route<TAB>err:…`; then `accept-encoding<TAB>…` for the request that
/// sets its own `Accept-Encoding`.
pub fn echo_encodings() -> Result<OrderPage, ConnectorError> {
    let url = echo_url()?;
    let probe = wharf_config("log_probe");
    let mut report = String::new();
    let mut received = Vec::new();
    for route in ROUTES {
        let url = format!("{url}/{route}?probe={SECRET}&form={SECRET_FORM}");
        let headers = [("authorization", format!("Basic {BASIC}")), ("x-probe", SECRET.to_owned())];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = format!("probe={SECRET_FORM}&raw={SECRET}").into_bytes();
        match http::send(&request(url, &headers, body)) {
            Ok(response) => {
                let mut bytes = Vec::new();
                for (name, value) in &response.headers {
                    bytes.extend_from_slice(name.as_bytes());
                    bytes.push(b':');
                    bytes.extend_from_slice(value.as_bytes());
                    bytes.push(b'\n');
                }
                bytes.extend_from_slice(&response.body);
                report.push_str(&format!("{route}\t{}\t{}\n", response.status, hex(&bytes)));
                received.push(String::from_utf8_lossy(&bytes).into_owned());
            }
            Err(error) => report.push_str(&format!("{route}\terr:{error:?}\n")),
        }
    }
    let own_encoding = request(format!("{url}/gzip"), &[("Accept-Encoding", "gzip"), ("x-probe", SECRET)], Vec::new());
    match http::send(&own_encoding) {
        Ok(response) => report.push_str(&format!("accept-encoding\t{}\t{}\n", response.status, hex(&response.body))),
        Err(error) => report.push_str(&format!("accept-encoding\terr:{error:?}\n")),
    }
    // Whatever came back, and a value the test knows is the secret, into every log channel.
    let logged = format!("{} {}", probe.as_deref().unwrap_or(""), received.join(" "));
    log::log(log::Level::Error, &logged, &[("probe".to_owned(), probe.clone().unwrap_or_default())]);
    println!("stdout {logged}");
    eprintln!("stderr {logged}");
    Ok(page(report))
}

/// Mode `secret-elsewhere`: the host's answer to a request that fills a secret for `target`, as
/// `status` or `err:…`.
pub fn secret_elsewhere() -> Result<OrderPage, ConnectorError> {
    let target = crate::required_config("target", "`host:port` granted but not bound to secrets")?;
    let sent = http::send(&request(format!("http://{target}/"), &[("x-probe", SECRET)], Vec::new()));
    Ok(page(match sent {
        Ok(response) => response.status.to_string(),
        Err(error) => format!("err:{error:?}"),
    }))
}

fn wharf_config(key: &str) -> Option<String> {
    crate::wharf::connector::config::get(key)
}

fn page(cursor: String) -> OrderPage {
    OrderPage { orders: Vec::new(), next_cursor: Some(cursor) }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lowercase_pairs() {
        assert_eq!(super::hex(&[0x00, 0xab, 0x1f]), "00ab1f");
    }
}
