//! Modes that reach for authority the plugin was never given: an undeclared host, and the
//! environment, arguments, filesystem and sockets that WASI could expose.

use std::fmt::Debug;
use std::io;

use crate::wharf::connector::http;
use crate::wharf::connector::types::{ConnectorError, OrderPage};

/// Timeout asked for the undeclared request; the host should deny it long before.
const UNDECLARED_TIMEOUT_MS: u32 = 2_000;

/// Mode `undeclared-host`: GET `http://<target>/`, a host the plugin did not declare.
///
/// The host's answer comes back verbatim as `platform{code: "http"}` so the test can see the
/// denial; an unexpected success is an empty page.
pub fn reach_undeclared_host() -> Result<OrderPage, ConnectorError> {
    let target = crate::required_config("target", "`host[:port]` of a host the plugin did not declare")?;
    let request = http::Request {
        method: http::Method::Get,
        url: format!("http://{target}/"),
        headers: Vec::new(),
        body: Vec::new(),
        timeout_ms: Some(UNDECLARED_TIMEOUT_MS),
    };
    match http::send(&request) {
        Ok(_) => Ok(crate::empty_page()),
        Err(error) => Err(crate::platform_error("http", format!("{error:?}"))),
    }
}

/// Mode `env`: tries every ambient source and reports what each gave, as
/// `env_vars=N;args=N;read_dir_root=…;read_passwd=…;tcp_connect=…` in a `platform{code: "env"}`
/// error, each attempt written `ok:<what came>` or `err:<io error kind>`.
pub fn probe_ambient_authority() -> Result<OrderPage, ConnectorError> {
    let env_vars = std::env::vars_os().count();
    let args = std::env::args_os().count();
    let read_dir_root = outcome(std::fs::read_dir("/").map(|entries| entries.count()));
    let read_passwd = outcome(std::fs::read("/etc/passwd").map(|bytes| bytes.len()));
    let tcp_connect = outcome(std::net::TcpStream::connect("127.0.0.1:80").map(|stream| stream.peer_addr().ok()));
    Err(crate::platform_error(
        "env",
        format!(
            "env_vars={env_vars};args={args};read_dir_root={read_dir_root};\
             read_passwd={read_passwd};tcp_connect={tcp_connect}"
        ),
    ))
}

fn outcome<T: Debug>(result: io::Result<T>) -> String {
    match result {
        Ok(value) => format!("ok:{value:?}"),
        Err(error) => format!("err:{:?}", error.kind()),
    }
}
