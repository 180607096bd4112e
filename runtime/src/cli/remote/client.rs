//! Sends a [`Request`] to the server and reads its answer: transport, files, errors and exit
//! codes.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};
use url::Url;

use wharf_runtime::store::{OrderQueryPage, StoredOrder};

use super::super::{EXIT_CALL, EXIT_HOST, EXIT_USAGE};
use super::args::*;
use super::routes::*;

/// A server on the same host or LAN accepts at once; after this long it is down or unreachable.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One request end to end: an upload compiles and validates the plugin and a large sheet is
/// checked row by row, both well under this on the 2-core machines Wharf targets.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Pages `orders --all-pages` follows before deciding the server is looping.
pub(super) const MAX_ORDER_PAGES: usize = 100_000;
/// The header an upload carries its signature in (api-spec: plugins).
pub(super) const SIGNATURE_HEADER: &str = "X-Wharf-Signature";
pub(super) const JSON_TYPE: &str = "application/json";
pub(super) const WASM_TYPE: &str = "application/wasm";
pub(super) const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Why a remote command failed; each kind has its exit code.
#[derive(Debug, thiserror::Error)]
pub(super) enum RemoteError {
    /// A bad argument, input file or output path.
    #[error("{0}")]
    Usage(String),
    /// The server answered with an error: its JSON plus the status.
    #[error("{body}")]
    Http { body: Value },
    /// A sheet import was refused row by row: the report goes to stdout too.
    #[error("{body}")]
    Rejected { body: Value },
    /// No answer from the server, or one this command cannot read.
    #[error("{0}")]
    Host(String),
}

impl RemoteError {
    /// Prints the failure as the CLI does everywhere: one JSON object on stderr.
    pub(super) fn exit(self) -> ExitCode {
        let (line, code) = match self {
            RemoteError::Usage(message) => (json!({"error": "usage", "message": message}), EXIT_USAGE),
            RemoteError::Http { body } => (body, EXIT_CALL),
            RemoteError::Rejected { body } => {
                print_json(&body);
                let status = body.get("status").cloned().unwrap_or(json!(422));
                let message = body.get("message").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| {
                    let rows = body.get("rows").and_then(Value::as_array);
                    let refused = rows.map_or(0, |r| r.iter().filter(|r| r["accepted"] == json!(false)).count());
                    format!(
                        "the sheet was rejected ({refused} rows refused; the report is on stdout); nothing was applied"
                    )
                });
                (json!({"error": "rejected", "status": status, "message": message}), EXIT_CALL)
            }
            RemoteError::Host(message) => (json!({"error": "host", "message": message}), EXIT_HOST),
        };
        eprintln!("{line}");
        ExitCode::from(code)
    }
}

/// The error object of a failed answer: the server's JSON with `status` added, or one made from
/// a body that is not JSON (a proxy's page, a framework's plain-text rejection).
pub(super) fn http_error(status: StatusCode, bytes: &[u8]) -> Value {
    let kind = match status.as_u16() {
        400 => "invalid_input".to_owned(),
        401 => "unauthorized".to_owned(),
        403 => "forbidden".to_owned(),
        404 => "not_found".to_owned(),
        409 => "conflict".to_owned(),
        422 => "rejected".to_owned(),
        code => format!("http_{code}"),
    };
    let mut body = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => {
            let text = String::from_utf8_lossy(bytes).trim().to_owned();
            let message =
                if text.is_empty() { status.canonical_reason().unwrap_or("no message").to_owned() } else { text };
            json!({ "message": message })
        }
    };
    if body.get("error").is_none() {
        body["error"] = json!(kind);
    }
    body["status"] = json!(status.as_u16());
    body
}

/// A client of one Wharf server.
pub(super) struct Remote {
    base: Url,
    token: Option<String>,
    client: reqwest::Client,
}

/// A successful answer.
pub(super) struct Reply {
    status: StatusCode,
    bytes: Vec<u8>,
}

impl Remote {
    pub(super) fn new(server: &Server) -> Result<Self, RemoteError> {
        let text = server.url();
        let base = Url::parse(&text).map_err(|e| RemoteError::Usage(format!("--server {text:?} is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(RemoteError::Usage(format!("--server {text:?}: expected an http:// or https:// URL")));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| RemoteError::Host(format!("cannot start an HTTP client: {}", chain(&e))))?;
        Ok(Remote { base, token: server.token(), client })
    }

    /// Sends `request`; a non-2xx answer is [`RemoteError::Http`].
    pub(super) async fn send(&self, request: &Request) -> Result<Reply, RemoteError> {
        let url = request.url(&self.base);
        let mut builder = self.client.request(request.method.clone(), url.clone());
        if let Some(token) = &self.token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some((content_type, bytes)) = body_bytes(&request.body)? {
            builder = builder.header(CONTENT_TYPE, content_type).body(bytes);
        }
        if let Body::Wasm { signature: Some(file), .. } = &request.body
            && let Some(signature) = read_signature(file)?
        {
            builder = builder.header(SIGNATURE_HEADER, signature);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| RemoteError::Host(format!("cannot reach the Wharf server at {}: {}", self.base, chain(&e))))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| RemoteError::Host(format!("reading the answer of {} {url}: {}", request.method, chain(&e))))?
            .to_vec();
        if !status.is_success() {
            return Err(RemoteError::Http { body: http_error(status, &bytes) });
        }
        Ok(Reply { status, bytes })
    }

    /// Sends `request` and reads its JSON answer; an empty answer (204) is `{"status": 204}`.
    pub(super) async fn json(&self, request: &Request) -> Result<Value, RemoteError> {
        let reply = self.send(request).await?;
        if reply.bytes.is_empty() {
            return Ok(json!({ "status": reply.status.as_u16() }));
        }
        serde_json::from_slice(&reply.bytes).map_err(|e| {
            RemoteError::Host(format!(
                "{} {} answered {} with a body that is not JSON: {e}",
                request.method,
                request.url(&self.base),
                reply.status
            ))
        })
    }

    /// Carries out `request` and says what to print.
    pub(super) async fn perform(&self, request: &Request) -> Result<Value, RemoteError> {
        match &request.answer {
            Answer::Json => self.json(request).await,
            Answer::SaveTo(path) => {
                let reply = self.send(request).await?;
                std::fs::write(path, &reply.bytes)
                    .map_err(|e| RemoteError::Usage(format!("cannot write {}: {e}", path.display())))?;
                Ok(json!({"written": path, "bytes": reply.bytes.len()}))
            }
            Answer::ImportReport => match self.json(request).await {
                Err(RemoteError::Http { body }) if body.get("rows").is_some() => Err(RemoteError::Rejected { body }),
                other => other,
            },
            Answer::AllOrderPages => self.all_order_pages(request).await,
        }
    }

    /// Every page of an order query, read as the API's own page type, in one list.
    pub(super) async fn all_order_pages(&self, first: &Request) -> Result<Value, RemoteError> {
        let mut orders: Vec<StoredOrder> = Vec::new();
        let mut page_request = first.clone();
        for _ in 0..MAX_ORDER_PAGES {
            let page = self.json(&page_request).await?;
            let page: OrderQueryPage = serde_json::from_value(page)
                .map_err(|e| RemoteError::Host(format!("an answer that is not an order page: {e}")))?;
            orders.extend(page.orders);
            let Some(next) = page.next_cursor else {
                return Ok(json!({"orders": orders, "next_cursor": null}));
            };
            let previous = page_request.query.iter().find(|(k, _)| *k == "cursor").map(|(_, v)| v);
            if previous == Some(&next) {
                return Err(RemoteError::Host(format!("the server gave the same cursor {next:?} twice; stopping")));
            }
            page_request = first.clone();
            page_request.query.push(("cursor", next));
        }
        Err(RemoteError::Host(format!("more than {MAX_ORDER_PAGES} pages of orders; stopping")))
    }
}

/// An error and its causes on one line (reqwest's own message omits the cause, e.g. "refused").
pub(super) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

pub(super) fn read(path: &Path, what: &str) -> Result<Vec<u8>, RemoteError> {
    std::fs::read(path).map_err(|e| RemoteError::Usage(format!("cannot read {what} {}: {e}", path.display())))
}

/// The content type and bytes a body sends, if any.
pub(super) fn body_bytes(body: &Body) -> Result<Option<(&'static str, Vec<u8>)>, RemoteError> {
    Ok(match body {
        Body::Empty => None,
        Body::Json(value) => {
            Some((JSON_TYPE, serde_json::to_vec(value).map_err(|e| RemoteError::Usage(e.to_string()))?))
        }
        Body::JsonFile(path) => {
            let bytes = read(path, "--file")?;
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                return Err(RemoteError::Usage(format!("--file {} is not valid JSON: {e}", path.display())));
            }
            Some((JSON_TYPE, bytes))
        }
        Body::Xlsx(path) => Some((XLSX_TYPE, read(path, "sheet")?)),
        Body::Wasm { file, .. } => Some((WASM_TYPE, read(file, "plugin")?)),
    })
}

/// The signature text to send: trimmed, and only when the file is there (or was asked for).
pub(super) fn read_signature(file: &SignatureFile) -> Result<Option<String>, RemoteError> {
    if !file.required && !file.path.exists() {
        return Ok(None);
    }
    let bytes = read(&file.path, "--signature")?;
    let text = String::from_utf8(bytes)
        .map_err(|_| RemoteError::Usage(format!("signature {} is not base64 text", file.path.display())))?;
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)) {
        return Err(RemoteError::Usage(format!(
            "signature {} is not base64 text (what `wharf plugin sign` writes)",
            file.path.display()
        )));
    }
    Ok(Some(text.to_owned()))
}

pub(super) fn print_json(value: &Value) {
    // A closed pipe (`… | head`) is the reader's choice, not a failure to report.
    let _ = writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

pub(super) fn finish(outcome: Result<Value, RemoteError>) -> ExitCode {
    match outcome {
        Ok(value) => {
            print_json(&value);
            ExitCode::SUCCESS
        }
        Err(e) => e.exit(),
    }
}
