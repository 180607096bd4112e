//! The sandbox: hostile plugins, built to wasm, are each stopped with the right typed error naming
//! the plugin, no secret byte reaches guest memory, the same host keeps serving good calls
//! afterwards, and compiled components are cached by content.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use wharf_runtime::capability::credentials::Secrets;
use wharf_runtime::capability::http::HostGrants;
use wharf_runtime::config::Quota;
use wharf_runtime::limits::Limits;
use wharf_runtime::model::*;
use wharf_runtime::quota::TenantQuota;
use wharf_runtime::{Call, CallError, Failure, Plugin, Reply, Sandbox, Shop};
use wharf_tests::plugins::plugin_path;

const SECRET: &str = "s3cr3t-Value_that-must-never-leak";

fn limits() -> Limits {
    // A shorter deadline keeps the infinite-loop case quick; everything else is the default.
    Limits { deadline: Duration::from_secs(2), output_bytes: 8 << 20, ..Limits::default() }
}

async fn hostile() -> Plugin {
    let sandbox = Sandbox::new(limits(), Some(wharf_tests::plugins::cache_dir())).unwrap();
    sandbox.load_file(&plugin_path("hostile")).await.expect("the hostile plugin loads: its describe is sane")
}

fn shop(mode: &str, extra: &[(&str, String)], grants: &[String]) -> Shop {
    let mut config = BTreeMap::from([("mode".to_owned(), mode.to_owned())]);
    for (k, v) in extra {
        config.insert((*k).to_owned(), v.clone());
    }
    Shop::new("t1", "s1")
        .with_config(config)
        .with_secrets(Secrets::new([("app_secret".to_owned(), SECRET.to_owned())]))
        .with_grants(HostGrants::new(grants.iter().cloned()))
}

fn window() -> Call {
    Call::PullOrders { window: TimeWindow { from: Timestamp(0), to: Timestamp(1000) }, cursor: None }
}

async fn run(plugin: &Plugin, mode: &str) -> Result<Reply, CallError> {
    plugin.call(&shop(mode, &[], &[]), window()).await
}

async fn still_serves(plugin: &Plugin) {
    match run(plugin, "ok").await {
        Ok(Reply::OrderPage(page)) => assert!(page.orders.is_empty()),
        other => panic!("a good call after a hostile one must succeed: {other:?}"),
    }
}

fn named(err: &CallError) {
    assert_eq!(err.plugin, "hostile");
    assert_eq!(err.operation, Operation::PullOrders);
    let text = err.to_string();
    assert!(text.contains("hostile") && text.contains("pull-orders"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runaway_plugins_are_stopped_with_typed_errors() {
    let plugin = hostile().await;

    let started = Instant::now();
    let err = run(&plugin, "loop").await.unwrap_err();
    named(&err);
    assert!(matches!(err.cause, Failure::Deadline(_)), "loop: {err}");
    assert!(started.elapsed() < Duration::from_secs(4), "stopped near its 2 s deadline");
    still_serves(&plugin).await;

    let err = run(&plugin, "memory").await.unwrap_err();
    named(&err);
    assert!(matches!(err.cause, Failure::MemoryLimit { limit } if limit == 64 << 20), "memory: {err}");
    still_serves(&plugin).await;

    // A tenant's quota caps memory per call below the host's limit.
    let quota = Quota { memory_mib: 16, ..Quota::default() };
    let capped = shop("memory", &[], &[]).with_quota(std::sync::Arc::new(TenantQuota::new(quota)));
    let err = plugin.call(&capped, window()).await.unwrap_err();
    assert!(
        matches!(err.cause, Failure::MemoryLimit { limit } if limit == 16 << 20),
        "memory under a 16 MiB quota: {err}"
    );
    still_serves(&plugin).await;

    let err = run(&plugin, "recursion").await.unwrap_err();
    named(&err);
    assert!(matches!(err.cause, Failure::Trap(ref m) if m.contains("stack overflow")), "recursion: {err}");
    still_serves(&plugin).await;

    let err = run(&plugin, "huge-output").await.unwrap_err();
    named(&err);
    assert!(matches!(err.cause, Failure::MemoryLimit { .. }), "100 MB answer: {err}");
    still_serves(&plugin).await;

    let err = run(&plugin, "big-output").await.unwrap_err();
    named(&err);
    assert!(
        matches!(err.cause, Failure::OutputTooLarge { limit, size } if limit == 8 << 20 && size > limit),
        "20 MB answer: {err}"
    );
    still_serves(&plugin).await;

    let err = run(&plugin, "panic").await.unwrap_err();
    named(&err);
    assert!(
        matches!(err.cause, Failure::Panic(ref m) if m.contains("hostile plugin panicked on purpose")),
        "panic: {err}"
    );
    still_serves(&plugin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambient_authority_is_denied() {
    let plugin = hostile().await;

    // A live server the plugin did not declare and the operator did not grant.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap().to_string();
    let err = plugin.call(&shop("undeclared-host", &[("target", target.clone())], &[]), window()).await.unwrap_err();
    named(&err);
    match err.cause {
        Failure::Plugin(ConnectorError::Platform { code, message }) => {
            assert_eq!(code, "http");
            assert!(message.contains("Denied") && message.contains(&target), "{message}");
        }
        other => panic!("undeclared host: {other}"),
    }

    let err = run(&plugin, "env").await.unwrap_err();
    match err.cause {
        Failure::Plugin(ConnectorError::Platform { code, message }) => {
            assert_eq!(code, "env");
            assert!(message.contains("env_vars=0;args=0;"), "no env, no args: {message}");
            assert!(message.contains("read_dir_root=err:"), "no filesystem: {message}");
            assert!(message.contains("read_passwd=err:"), "no filesystem: {message}");
            assert!(message.contains("tcp_connect=err:"), "no sockets: {message}");
        }
        other => panic!("env: {other}"),
    }
    still_serves(&plugin).await;
}

/// Assembled at run time so the plugin's own binary cannot contain it.
const ECHO_MARKER: &str = "echo-marker-7f3a9c";

fn marker() -> String {
    ECHO_MARKER.to_owned()
}

/// A loopback server that answers every request with everything it received.
async fn echo_server() -> String {
    use axum::body::to_bytes;
    use axum::extract::Request;
    let app = axum::Router::new().fallback(|req: Request| async move {
        let (parts, body) = req.into_parts();
        let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
        format!("{} {} {:?} {}", marker(), parts.uri, parts.headers, String::from_utf8_lossy(&body))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_byte_reaches_guest_memory() {
    let plugin = hostile().await;
    let echo = echo_server().await;
    let needle: String = SECRET.bytes().map(|b| format!("{:02x}", b ^ 0x5A)).collect();
    let shop =
        shop("secret-bytes", &[("needle_xor", needle), ("echo_url", format!("http://{echo}/echo"))], &[echo.clone()]);
    let Reply::OrderPage(page) = plugin.call(&shop, window()).await.expect("the probe runs") else { panic!() };
    let report = page.next_cursor.expect("the probe reports");
    assert!(report.contains("found=false"), "secret bytes found in guest memory: {report}");
    assert!(report.contains("config=none"), "config::get must not reveal a secret: {report}");
    assert!(report.contains("sign=ok:32"), "signing works without revealing: {report}");
    assert!(report.contains("echo_status=200"), "the echo server was reached: {report}");
    assert!(report.contains("echo_placeholder=true"), "echoed secrets come back as placeholders: {report}");

    // The scan itself works: bytes that did reach the guest (the echo's marker, which only
    // exists in the server's answer) are found.
    let needle: String = ECHO_MARKER.bytes().map(|b| format!("{:02x}", b ^ 0x5A)).collect();
    let shop =
        self::shop("secret-bytes", &[("needle_xor", needle), ("echo_url", format!("http://{echo}/echo"))], &[echo]);
    let Reply::OrderPage(page) = plugin.call(&shop, window()).await.expect("the probe runs") else { panic!() };
    let report = page.next_cursor.expect("the probe reports");
    assert!(report.contains("found=true"), "the scan must find bytes the guest did receive: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_components_are_cached_by_content_and_engine() {
    let dir = std::env::temp_dir().join(format!("wharf-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sandbox = Sandbox::new(Limits::default(), Some(dir.clone())).unwrap();
    let first = sandbox.load_file(&plugin_path("hostile")).await.unwrap();
    let entries = || -> Vec<(String, std::time::SystemTime)> {
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().modified().unwrap())
            })
            .collect()
    };
    let cached = entries();
    assert_eq!(cached.len(), 1, "one artifact: {cached:?}");
    let name = &cached[0].0;
    assert!(name.starts_with(first.sha256()) && name.ends_with(".cwasm"), "keyed by the wasm's sha256: {name}");

    // A second host process (a new engine) loads the artifact instead of compiling again.
    let again = Sandbox::new(Limits::default(), Some(dir.clone())).unwrap();
    let second = again.load_file(&plugin_path("hostile")).await.unwrap();
    assert_eq!(second.sha256(), first.sha256());
    assert_eq!(entries(), cached, "the cached artifact was reused, not rewritten");
    still_serves(&second).await;

    // A corrupt artifact is recompiled, not trusted.
    std::fs::write(dir.join(name), b"garbage").unwrap();
    let third = Sandbox::new(Limits::default(), Some(dir.clone())).unwrap();
    still_serves(&third.load_file(&plugin_path("hostile")).await.unwrap()).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisoned_records_are_refused_naming_the_field() {
    // Under contract 0.1.0 (the hostile plugin's) a bad record fails the call, naming the
    // field; under 0.2 it becomes a rejected record (the sandbox's unit tests show that).
    let plugin = hostile().await;
    for (mode, field) in [
        ("poison-instant", "updated_at"),
        ("poison-id", "order_id"),
        ("poison-money", "paid_total"),
        ("poison-duplicate", "order_id"),
    ] {
        let err = run(&plugin, mode).await.unwrap_err();
        named(&err);
        assert_eq!(err.kind(), "invalid_record", "{mode}: {err}");
        match &err.cause {
            Failure::InvalidRecord(e) => {
                assert!(e.field.ends_with(field), "{mode}: {e}");
                assert!(!e.id.contains('\0'), "{mode}: the id in the error is printable: {e}");
            }
            other => panic!("{mode}: {other}"),
        }
        assert_eq!(err.to_json()["record"]["field"].as_str().map(|f| f.ends_with(field)), Some(true));
    }
    still_serves(&plugin).await;
}

/// Collects what the host logs on this thread, as text.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn plugin_logs_are_rate_limited_escaped_and_panics_come_from_traps() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let plugin = hostile().await;

    // A flood: most lines are dropped over the shop's budget, and counted.
    let flood = shop("log-flood", &[], &[]);
    plugin.call(&flood, window()).await.expect("a flood is not an error");
    let logged = captured.text().matches("flood line").count();
    assert!(logged > 0 && logged <= wharf_runtime::capability::log::LOG_LINE_BURST as usize + 5, "kept {logged} lines");
    let dropped = flood.log_budget.dropped();
    assert_eq!(dropped as usize + logged, 5_000, "every line is either logged or counted");
    assert_eq!(plugin.sandbox().metrics().log_lines_dropped_of("t1"), dropped, "and the metric says so");
    let mut metrics = String::new();
    plugin.sandbox().metrics().render(&mut metrics);
    assert!(
        metrics
            .contains(&format!("wharf_plugin_log_lines_dropped_total{{tenant=\"t1\",plugin=\"hostile\"}} {dropped}")),
        "{metrics}"
    );
    // Another shop of the same plugin is not starved by that flood.
    still_serves(&plugin).await;

    // A newline cannot start a forged line; an ANSI escape does not reach the log.
    plugin.call(&shop("log-forge", &[], &[]), window()).await.unwrap();
    let text = captured.text();
    for forged in ["FORGED-LINE", "FORGED-FIELD", "FORGED-VALUE"] {
        let line = text.lines().find(|l| l.contains(forged)).unwrap_or_else(|| panic!("{forged} not logged: {text}"));
        assert!(
            line.contains("innocent") || line.contains("k\\nFORGED-FIELD"),
            "{forged} is on the plugin's own line: {line}"
        );
        assert!(
            !text.lines().any(|l| l.starts_with("2026-11-11T00:00:00.000000Z")),
            "no line starts as forged: {text}"
        );
    }
    assert!(!text.contains('\u{1b}'), "no raw escape in the log");

    // Text on stderr that looks like a panic does not make the call a panic.
    let err = run(&plugin, "fake-panic").await.unwrap_err();
    assert!(
        matches!(err.cause, Failure::Plugin(ConnectorError::Platform { ref code, .. }) if code == "fake-panic"),
        "{err}"
    );
    // A real panic is still one.
    let err = run(&plugin, "panic").await.unwrap_err();
    assert!(matches!(err.cause, Failure::Panic(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_addresses_need_a_grant_of_the_address() {
    let plugin = hostile().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let denied = |err: CallError| match err.cause {
        Failure::Plugin(ConnectorError::Platform { code, message }) if code == "http" && message.contains("Denied") => {
            message
        }
        other => panic!("expected a denial, got {other}"),
    };

    // Granted by name, `localhost` resolves to loopback: refused at connect time.
    let target = format!("localhost:{port}");
    let err =
        plugin.call(&shop("undeclared-host", &[("target", target.clone())], &[target]), window()).await.unwrap_err();
    let message = denied(err);
    assert!(message.contains("loopback"), "{message}");

    // The cloud metadata address, not granted: refused.
    let metadata = "169.254.169.254".to_owned();
    let err = plugin.call(&shop("undeclared-host", &[("target", metadata.clone())], &[]), window()).await.unwrap_err();
    denied(err);

    // Granted by address, loopback is reached (the test's own servers live there).
    let target = format!("127.0.0.1:{port}");
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async { "ok" });
        axum::serve(listener, app).await.unwrap();
    });
    let reply = plugin.call(&shop("undeclared-host", &[("target", target.clone())], &[target]), window()).await;
    assert!(matches!(reply, Ok(Reply::OrderPage(_))), "{reply:?}");
}

// ---------------------------------------------------------------------------------------------
// Secrets under attack (issue 13): bounded filling, scrubbing of every encoding, host binding.

/// A credential as long as the one that took `wharf serve` to 4 GB.
fn long_secret() -> String {
    "L0ng-credential/".repeat(1_720 / 16 + 1)[..1_720].to_owned()
}

/// Peak resident memory of this process (VmHWM), in bytes; `None` off Linux.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placeholder_floods_fail_typed_and_host_memory_stays_bounded() {
    /// Peak RSS the whole test process may reach; unbounded filling of the flood with this
    /// credential would allocate about 2.3 GB per call.
    const RSS_BOUND: u64 = 1 << 30;
    let plugin = hostile().await;
    let echo = echo_server().await;
    let shop = Shop::new("t1", "s1")
        .with_config(BTreeMap::from([
            ("mode".to_owned(), "placeholder-flood".to_owned()),
            ("echo_url".to_owned(), format!("http://{echo}/echo")),
        ]))
        .with_secrets(Secrets::new([("app_secret".to_owned(), long_secret())]))
        .with_grants(HostGrants::new([echo]));
    // Reset the peak so it measures this call (Linux: writing 5 to clear_refs).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let started = Instant::now();
    let Reply::OrderPage(page) = plugin.call(&shop, window()).await.expect("the call itself survives") else {
        panic!()
    };
    let report = page.next_cursor.expect("the flood reports");
    assert!(started.elapsed() < limits().deadline, "refused within the deadline: {:?}", started.elapsed());
    let (sign, send) = report.split_once(";send=").expect("sign and send reported");
    for (what, answer) in [("sign", sign.trim_start_matches("sign=")), ("send", send)] {
        assert!(
            answer.starts_with("err:")
                && answer.contains("InvalidRequest")
                && answer.contains("larger than 16777216 bytes"),
            "{what}: {report}"
        );
    }
    if let Some(peak) = peak_rss() {
        assert!(peak < RSS_BOUND, "peak RSS {peak} bytes");
    }
    still_serves(&plugin).await;
}

/// The secret of the echo tests: characters every encoding changes (`/`, `+`, space, quote,
/// `&`, non-ASCII), so each form differs from the raw one.
const ECHO_SECRET: &str = "s3cr3t/V\u{e4}lue+that must \"never\" leak&<b>";
const ECHO_USER: &str = "WHARF_COMM_USER";

/// Every form of `value` a scan must not find in what the guest or the log got, computed
/// here independently of the host's scrubber.
fn leaked_forms(value: &str) -> Vec<String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let percent = |lower: bool| -> String {
        value
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else if lower {
                    format!("%{b:02x}")
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let json = serde_json::to_string(value).unwrap();
    let json = json[1..json.len() - 1].to_owned();
    let unicode = |s: &str, upper: bool, html: bool| -> String {
        s.chars()
            .map(|c| {
                if !c.is_ascii() || (html && "<>&".contains(c)) {
                    let hex = format!("{:04x}", c as u32);
                    format!("\\u{}", if upper { hex.to_uppercase() } else { hex })
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    let query = url::Url::parse(&format!("http://h/?p={value}")).unwrap().query().unwrap()[2..].to_owned();
    vec![
        value.to_owned(),
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        percent(false),
        percent(true),
        query,
        b64.encode(value),
        b64.encode(format!("{ECHO_USER}:{value}")),
        json.clone(),
        unicode(&json.replace('/', "\\/"), false, false),
        unicode(&json, true, true),
    ]
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A loopback platform that echoes every value it received (query and form values decoded,
/// header values, the raw request target) in the encoding its route names, whatever the
/// request's `Accept-Encoding`: raw, gzip, deflate, br (a coding the host does not ask for),
/// JSON (plain, PHP's `\/` and `\u` escapes, .NET's uppercase `\u` and HTML escapes), percent
/// (form, both hex cases), base64 of each value, and as response headers.
async fn encoding_echo_server() -> String {
    use axum::body::to_bytes;
    use axum::extract::Request;
    use axum::response::IntoResponse;
    use base64::Engine as _;
    let app = axum::Router::new().fallback(|req: Request| async move {
        let (parts, body) = req.into_parts();
        let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
        let route = parts.uri.path().trim_start_matches('/').to_owned();
        let mut values: Vec<(String, bool)> = Vec::new(); // (value, may be base64-encoded again)
        values.push((parts.uri.to_string(), true));
        for (_, v) in url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
            values.push((v.into_owned(), true));
        }
        for (_, v) in url::form_urlencoded::parse(&body) {
            values.push((v.into_owned(), true));
        }
        for (name, v) in &parts.headers {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            let credentials = name == "authorization";
            for token in v.split(' ') {
                values.push((token.to_owned(), !credentials));
            }
            values.push((v, !credentials));
        }
        let lines = |f: &dyn Fn(&str) -> String| values.iter().map(|(v, _)| f(v)).collect::<Vec<_>>().join("\n");
        let raw = lines(&|v| v.to_owned());
        let mut headers = axum::http::HeaderMap::new();
        let coded = |coding: &str, headers: &mut axum::http::HeaderMap| {
            headers.insert("content-encoding", coding.parse().unwrap());
        };
        let body: Vec<u8> = match route.as_str() {
            "gzip" => {
                coded("gzip", &mut headers);
                gzip(raw.as_bytes())
            }
            "deflate" => {
                coded("deflate", &mut headers);
                zlib(raw.as_bytes())
            }
            "br" => {
                coded("br", &mut headers);
                raw.into_bytes()
            }
            "json" => {
                let plain: Vec<String> = values.iter().map(|(v, _)| serde_json::to_string(v).unwrap()).collect();
                let php: Vec<String> =
                    plain.iter().map(|j| escape_unicode(&j.replace('/', "\\/"), false, false)).collect();
                let dotnet: Vec<String> = plain.iter().map(|j| escape_unicode(j, true, true)).collect();
                format!("[{}]\n[{}]\n[{}]", plain.join(","), php.join(","), dotnet.join(",")).into_bytes()
            }
            "percent" => lines(&|v| {
                let form: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
                let upper: String = v
                    .bytes()
                    .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
                    .collect();
                let lower: String = v
                    .bytes()
                    .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02x}") })
                    .collect();
                format!("{form} {upper} {lower}")
            })
            .into_bytes(),
            "base64" => values
                .iter()
                .filter(|(_, again)| *again)
                .map(|(v, _)| base64::engine::general_purpose::STANDARD.encode(v))
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
            "headers" => {
                for (i, (v, _)) in values.iter().enumerate() {
                    if let Ok(value) = axum::http::HeaderValue::from_bytes(v.as_bytes()) {
                        headers.insert(
                            axum::http::HeaderName::from_bytes(format!("x-echo-{i}").as_bytes()).unwrap(),
                            value,
                        );
                    }
                }
                b"see headers".to_vec()
            }
            _ => raw.into_bytes(),
        };
        (headers, body).into_response()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr.to_string()
}

/// `json` with non-ASCII (and `<`, `>`, `&` when `html`) as `\uXXXX`.
fn escape_unicode(json: &str, upper: bool, html: bool) -> String {
    json.chars()
        .map(|c| {
            if !c.is_ascii() || (html && "<>&".contains(c)) {
                let hex = format!("{:04x}", c as u32);
                format!("\\u{}", if upper { hex.to_uppercase() } else { hex })
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A `MakeWriter` into [`Captured`]: what the host logged during the test.
impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

// Current-thread, so the log subscriber set for this test sees every event of the call. Up to
// DEBUG: at TRACE, wasmtime traces import results, such as `config.get` handing the plugin the
// `log_probe` this test puts in the clear into its config (never a secret in real use).
#[tokio::test(flavor = "current_thread")]
async fn echoed_secrets_come_back_scrubbed_in_every_encoding() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let plugin = hostile().await;
    let echo = encoding_echo_server().await;
    let shop = Shop::new("t1", "s1")
        .with_config(BTreeMap::from([
            ("mode".to_owned(), "echo-encodings".to_owned()),
            ("echo_url".to_owned(), format!("http://{echo}")),
            // Handed to the plugin in the clear, so it can try to log the secret itself.
            ("log_probe".to_owned(), ECHO_SECRET.to_owned()),
        ]))
        .with_secrets(Secrets::new([
            ("app_secret".to_owned(), ECHO_SECRET.to_owned()),
            ("app_user".to_owned(), ECHO_USER.to_owned()),
        ]))
        .with_grants(HostGrants::new([echo]));
    let Reply::OrderPage(page) = plugin.call(&shop, window()).await.expect("the probe runs") else { panic!() };
    let report = page.next_cursor.expect("the probe reports");

    let mut forms = leaked_forms(ECHO_SECRET);
    forms.extend(leaked_forms(ECHO_USER).into_iter().take(1));
    let mut routes = 0;
    for line in report.lines() {
        let mut parts = line.split('\t');
        let (route, status) = (parts.next().unwrap(), parts.next().unwrap());
        match route {
            "br" => assert!(
                status.starts_with("err:") && status.contains("Unreachable") && status.contains("`br`"),
                "an undecodable answer is refused: {line}"
            ),
            "accept-encoding" => {
                assert!(status.contains("accept-encoding") && status.contains("set by the host"), "{line}")
            }
            _ => {
                assert_eq!(status, "200", "{line}");
                let got = unhex(parts.next().unwrap());
                assert!(!got.starts_with(&[0x1f, 0x8b]), "{route}: the host decodes before handing over");
                if route == "raw" {
                    let text = String::from_utf8_lossy(&got);
                    assert!(
                        text.contains("{{secret:app_secret}}") && text.contains("{{secret-basic:app_user,app_secret}}"),
                        "{text}"
                    );
                }
                let text = String::from_utf8_lossy(&got);
                for form in &forms {
                    assert!(!text.contains(form.as_str()), "{route}: the guest got the secret as {form:?}:\n{text}");
                }
                routes += 1;
            }
        }
    }
    assert_eq!(routes, 7, "every decodable route answered: {report}");

    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("{{secret:app_secret}}"), "the plugin's log lines came through, scrubbed: {logged}");
    for form in &forms {
        assert!(!logged.contains(form.as_str()), "the log holds the secret as {form:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_go_only_to_the_hosts_they_are_bound_to() {
    let plugin = hostile().await;
    // Granted by the operator, but neither declared by the plugin nor a configured endpoint.
    let elsewhere = echo_server().await;
    let shop = shop("secret-elsewhere", &[("target", elsewhere.clone())], &[elsewhere.clone()]);
    let Reply::OrderPage(page) = plugin.call(&shop, window()).await.expect("the probe runs") else { panic!() };
    let report = page.next_cursor.expect("the probe reports");
    assert!(
        report.starts_with("err:")
            && report.contains("Denied")
            && report.contains("`app_secret`")
            && report.contains(&elsewhere),
        "{report}"
    );
    still_serves(&plugin).await;
}
