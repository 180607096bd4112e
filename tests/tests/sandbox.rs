//! The sandbox: hostile plugins, built to wasm, are each stopped with the right typed error naming
//! the plugin, no secret byte reaches guest memory, the same host keeps serving good calls
//! afterwards, and compiled components are cached by content. Then the same attackers as a
//! tenant of the real `wharf serve`, beside a victim tenant (issue 13).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use wharf_runtime::capability::credentials::Secrets;
use wharf_runtime::capability::grants::HostGrants;
use wharf_runtime::config::Quota;
use wharf_runtime::limits::Limits;
use wharf_runtime::model::*;
use wharf_runtime::quota::TenantQuota;
use wharf_runtime::{Call, CallError, Failure, Plugin, Reply, Sandbox, Shop};
use wharf_sim::Marketplace;
use wharf_sim::taobao::{SimConfig, TaobaoSim};
use wharf_tests::plugins::plugin_path;
use wharf_tests::process::metric_sum;

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
    let shop = shop(
        "secret-bytes",
        &[("needle_xor", needle), ("echo_url", format!("http://{echo}/echo"))],
        std::slice::from_ref(&echo),
    );
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
    let calls = plugin.sandbox().metrics().clone();
    let metrics = wharf_runtime::metrics::render(Default::default(), calls, Default::default());
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
    let shop = shop("secret-elsewhere", &[("target", elsewhere.clone())], std::slice::from_ref(&elsewhere));
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

// ---------------------------------------------------------------------------------------------
// The hostile suite through `wharf serve` (issue 13): a victim tenant with a real plugin beside
// an attacker tenant whose shops run the hostile plugin, one shop per attack mode. The guest's
// own memory is scanned at sandbox level (`no_secret_byte_reaches_guest_memory`); here mode
// `secret-bytes` runs the same scan inside serve, and its report is read from the store.

/// The attacker's shops, grouped into runs of one `wharf serve` each by what they go after.
/// A shop's id is its mode, with `-2` where a mode runs in two shops at once.
const ATTACKS: [(&str, &[&str]); 5] = [
    // The tokio workers: calls that spin to their deadline, replies the host must lift and size.
    ("starvation", &["loop", "loop-2", "big-output", "big-output-2"]),
    ("runaway", &["memory", "recursion", "huge-output", "panic"]),
    ("poison", &["poison-instant", "poison-id", "poison-money", "poison-duplicate"]),
    ("logs", &["log-flood", "log-forge", "fake-panic"]),
    ("secrets", &["placeholder-flood", "echo-encodings", "secret-elsewhere", "secret-bytes", "undeclared-host", "env"]),
];

/// The victim's orders on its simulated Taobao shop: one page, so they arrive in one call.
const VICTIM_ORDERS: usize = 20;
/// The victim's credentials, with characters the encodings change (`/`, `+`, `=`), long enough
/// that no chance match can occur in what the host stores or logs.
const VICTIM_APP_SECRET: &str = "victim/App+Secret=Qx7-never-leaked";
const VICTIM_SESSION: &str = "6100victim/Session+Token=Lm9-never-leaked";
const OPERATOR: &str = "wharf_hostile_suite_operator";

/// How long each run's attack is watched before the figures are read.
const ATTACK_WINDOW: Duration = Duration::from_secs(3);
/// Liveness bounds, generous on purpose: `/healthz` answering at all, the victim's orders
/// arriving at all, while the attacker burns CPU. Per-tenant CPU caps are to tighten them.
const HEALTHZ_BOUND: Duration = Duration::from_secs(10);
const VICTIM_BOUND: Duration = Duration::from_secs(60);
/// How long a run's serve gets to stop after SIGTERM: the calls in flight end (each within its
/// 5 s deadline) and every loop stops after the page in hand, however many pages the plugin
/// says are left. Generous for a loaded machine.
const STOP_GRACE: Duration = Duration::from_secs(20);
/// `wharf serve` is ready once its plugins are loaded; the first run may compile all of them.
const READY_BOUND: Duration = Duration::from_secs(120);
/// Peak resident memory of `wharf serve` in one run. With both tenants running it holds about
/// 50 MiB; each attacker call may use its 64 MiB of guest memory and make the host lift at most
/// the hostcall fuel's 32 MiB of reply, and a run has at most six attacker shops: under 640 MiB
/// at worst (runs peak near 150 MiB). Unbounded placeholder filling took serve to 4 GB in one
/// call (issue 13).
const SERVE_PEAK_RSS_BOUND: u64 = 768 << 20;
/// The serve log of one run: each shop's plugin log is capped at 64 KiB at once plus 16 KiB/s
/// (`capability::log`), so three logging shops over a run of at most 30 s write under 2 MiB,
/// and the host's own lines about failed calls add little. Unbounded, one call wrote 780 MB.
const SERVE_LOG_BOUND: usize = 8 << 20;

/// The mode a shop of [`ATTACKS`] runs.
fn mode_of(shop: &str) -> &str {
    shop.strip_suffix("-2").unwrap_or(shop)
}

/// Where the attacker's shops send what they send, and what reached the host that must get
/// nothing.
struct Targets {
    echo: String,
    encoding_echo: String,
    elsewhere: String,
    elsewhere_got: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    undeclared: String,
    _undeclared: tokio::net::TcpListener,
}

impl Targets {
    async fn start() -> Targets {
        let elsewhere_got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let got = elsewhere_got.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let got = got.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
                let seen = format!("{} {:?} {}", parts.uri, parts.headers, String::from_utf8_lossy(&body));
                got.lock().unwrap().push(seen);
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let elsewhere = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        // A live address the attacker is never granted; it never gets as far as connecting.
        let undeclared_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Targets {
            echo: echo_server().await,
            encoding_echo: encoding_echo_server().await,
            elsewhere,
            elsewhere_got,
            undeclared: undeclared_listener.local_addr().unwrap().to_string(),
            _undeclared: undeclared_listener,
        }
    }

    /// The config, grants and credentials (secrets-file keys) of the attacker's shop `shop`.
    fn shop(&self, shop: &str) -> (BTreeMap<&'static str, String>, Vec<String>, BTreeMap<&'static str, &'static str>) {
        let mode = mode_of(shop);
        let mut config = BTreeMap::from([("mode", mode.to_owned())]);
        let mut grants = Vec::new();
        let mut credentials =
            BTreeMap::from([("app_secret", "attacker_app_secret"), ("app_user", "attacker_app_user")]);
        match mode {
            "placeholder-flood" => {
                config.insert("echo_url", format!("http://{}/echo", self.echo));
                grants.push(self.echo.clone());
                credentials.insert("app_secret", "attacker_long_secret");
            }
            "secret-bytes" => {
                config.insert("echo_url", format!("http://{}/echo", self.echo));
                config.insert("needle_xor", ECHO_SECRET.bytes().map(|b| format!("{:02x}", b ^ 0x5A)).collect());
                grants.push(self.echo.clone());
            }
            "echo-encodings" => {
                config.insert("echo_url", format!("http://{}", self.encoding_echo));
                grants.push(self.encoding_echo.clone());
            }
            "secret-elsewhere" => {
                config.insert("target", self.elsewhere.clone());
                grants.push(self.elsewhere.clone());
            }
            "undeclared-host" => {
                config.insert("target", self.undeclared.clone());
            }
            _ => {}
        }
        (config, grants, credentials)
    }
}

/// The configuration of one run: the victim's Taobao shop on `sim`, the ERP pulling, and one
/// attacker shop per entry of `shops`; the API on `port`; logs as JSON lines.
fn suite_toml(port: u16, sim: &TaobaoSim, targets: &Targets, shops: &[&str]) -> String {
    use std::fmt::Write as _;
    let q = |s: &str| format!("{s:?}");
    let table = |m: &mut dyn Iterator<Item = (String, String)>| {
        m.map(|(k, v)| format!("{} = {}", q(&k), q(&v))).collect::<Vec<_>>().join(", ")
    };
    let list = |v: &[String]| v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ");
    let mut toml = format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\nplugin_dir = {}\nsecrets_file = \"secrets.toml\"\n\
         grant_plugin_dir_hosts = true\nlog_format = \"json\"\n\n",
        q(&wharf_tests::plugins::plugin_dir().display().to_string())
    );
    let config: BTreeMap<String, String> = Marketplace::config(sim);
    let _ = writeln!(
        toml,
        "[[tenants.victim.shops]]\nid = \"tb\"\nplatform = \"taobao\"\nplugin = \"taobao\"\nconfig = {{ {} }}\n\
         credentials = {{ app_secret = \"file:victim_app_secret\", session = \"file:victim_session\" }}\n\
         grants = [{}]\n[tenants.victim.pull]\n[tenants.victim.schedule]\norders = \"1s\"\n",
        table(&mut config.into_iter()),
        q(&Marketplace::grant(sim))
    );
    for shop in shops {
        let (config, grants, credentials) = targets.shop(shop);
        let _ = writeln!(
            toml,
            "[[tenants.attacker.shops]]\nid = {}\nplatform = \"hostile\"\nplugin = \"hostile\"\nconfig = {{ {} }}\n\
             credentials = {{ {} }}\ngrants = [{}]\n",
            q(shop),
            table(&mut config.into_iter().map(|(k, v)| (k.to_owned(), v))),
            table(&mut credentials.into_iter().map(|(k, v)| (k.to_owned(), format!("file:{v}")))),
            list(&grants)
        );
    }
    toml.push_str("[tenants.attacker.pull]\n[tenants.attacker.schedule]\norders = \"1s\"\n");
    toml
}

/// Every secret of both tenants, by secrets-file key.
fn suite_secrets() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("victim_app_secret", VICTIM_APP_SECRET.to_owned()),
        ("victim_session", VICTIM_SESSION.to_owned()),
        ("attacker_app_secret", ECHO_SECRET.to_owned()),
        ("attacker_app_user", ECHO_USER.to_owned()),
        ("attacker_long_secret", long_secret()),
    ])
}

/// Every form of every secret of both tenants a scan must not find, with Basic credentials of
/// each pair of a shop's secrets (what `{{secret-basic:…}}` sends), computed independently of
/// the host's scrubber.
fn suite_leak_forms() -> Vec<(String, String)> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut forms = Vec::new();
    for (name, value) in suite_secrets() {
        forms.extend(leaked_forms(&value).into_iter().map(|f| (name.to_owned(), f)));
    }
    for (user, password) in [
        (VICTIM_APP_SECRET.to_owned(), VICTIM_SESSION.to_owned()),
        (VICTIM_SESSION.to_owned(), VICTIM_APP_SECRET.to_owned()),
        (ECHO_SECRET.to_owned(), ECHO_USER.to_owned()),
        (ECHO_USER.to_owned(), long_secret()),
    ] {
        forms.push(("basic".to_owned(), b64.encode(format!("{user}:{password}"))));
    }
    forms
}

/// The API of one serve, as the operator; every answer is kept for the final scan.
struct Client {
    base: String,
    http: reqwest::Client,
    replies: Vec<String>,
}

impl Client {
    async fn get(&mut self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(OPERATOR)
            .timeout(HEALTHZ_BOUND)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: no answer within {HEALTHZ_BOUND:?}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        self.replies.push(text.clone());
        (status, text)
    }

    async fn get_json(&mut self, path: &str) -> serde_json::Value {
        let (status, text) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The attacker's stored cursor of shop `shop`: where the hostile modes put their reports.
fn stored_report(store: &wharf_runtime::store::Store, shop: &str) -> String {
    let cursor = store.cursors().get("attacker", shop, "orders").unwrap();
    match cursor.and_then(|c| c.in_window) {
        Some((_, report)) => report,
        None => panic!("{shop}: no report in the store"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_tenant_under_serve_leaves_the_victim_and_the_host_whole() {
    use wharf_tests::process::{ServeProcess, free_port};
    let sim = TaobaoSim::spawn_from_async(SimConfig {
        orders: VICTIM_ORDERS,
        seed: 13,
        modified_span_ms: 3_600_000,
        app_secret: VICTIM_APP_SECRET.to_owned(),
        session: VICTIM_SESSION.to_owned(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let targets = Targets::start().await;
    let root = std::env::temp_dir().join(format!("wharf-hostile-suite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let secrets: String = suite_secrets().iter().map(|(k, v)| format!("{k} = {v:?}\n")).collect();
    let mut client = Client { base: String::new(), http: reqwest::Client::new(), replies: Vec::new() };
    let mut scanned: Vec<(String, String)> = Vec::new(); // (what, text)

    for (attack, shops) in ATTACKS {
        let dir = root.join(attack);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        std::fs::write(dir.join("wharf.toml"), suite_toml(port, &sim, &targets, shops)).unwrap();
        std::fs::write(dir.join("secrets.toml"), &secrets).unwrap();
        let log = dir.join("serve.log");
        let run_started = Instant::now();
        let mut serve = ServeProcess::spawn(&dir.join("wharf.toml"), &log, OPERATOR, 50);
        client.base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            if let Ok(r) = client.http.get(format!("{}/readyz", client.base)).send().await
                && r.status() == 200
            {
                break;
            }
            assert!(serve.alive(), "{attack}: serve exited before it was ready:\n{}", serve.log());
            assert!(started.elapsed() < READY_BOUND, "{attack}: serve not ready:\n{}", serve.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // The attack runs; the host keeps answering its health check throughout.
        let mut healthz = Vec::new();
        let started = Instant::now();
        while started.elapsed() < ATTACK_WINDOW {
            let asked = Instant::now();
            let (status, _) = client.get("/healthz").await;
            assert_eq!(status, 200, "{attack}: /healthz");
            healthz.push(asked.elapsed());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(serve.alive(), "{attack}: serve died under attack:\n{}", serve.log());

        // The victim's orders arrived and its API answers. Beside the starvation attacker, only
        // that its calls go on: until per-tenant CPU caps, the attacker can make every one of
        // them miss its deadline (BENCHMARKS.md, issue 13).
        let window_took = run_started.elapsed();
        let started = Instant::now();
        let victim_calls = |metrics: &str| metric_sum(metrics, "wharf_plugin_calls_total", &["tenant=\"victim\""]);
        if attack == "starvation" {
            while victim_calls(&client.get("/metrics").await.1) < 1.0 {
                assert!(started.elapsed() < VICTIM_BOUND, "{attack}: the victim finished no call");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let (status, page) = client.get("/v1/tenants/victim/orders?limit=1000").await;
            assert_eq!(status, 200, "{attack}: the victim's API: {page}");
        } else {
            loop {
                let page = client.get_json("/v1/tenants/victim/orders?limit=1000").await;
                if page["orders"].as_array().map(Vec::len) == Some(VICTIM_ORDERS) {
                    break;
                }
                assert!(started.elapsed() < VICTIM_BOUND, "{attack}: the victim's orders did not arrive: {page}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let metrics = client.get("/metrics").await.1;
        let victim_calls = victim_calls(&metrics);
        assert!(victim_calls >= 1.0, "{attack}: the victim made no call: {metrics}");
        let attacker_calls = metric_sum(&metrics, "wharf_plugin_calls_total", &["tenant=\"attacker\""]);
        assert!(attacker_calls >= 1.0, "{attack}: the attacker called: {metrics}");

        // The attacker's own API answers too, whatever its plugin returned.
        for path in ["orders", "orders/unreadable", "progress", "quarantine", "dead-letters", "usage"] {
            let (status, body) = client.get(&format!("/v1/tenants/attacker/{path}")).await;
            assert_eq!(status, 200, "{attack}: /v1/tenants/attacker/{path}: {body}");
        }
        let errors = |kind: &str| {
            metric_sum(
                &metrics,
                "wharf_plugin_call_errors_total",
                &["tenant=\"attacker\"", &format!("kind=\"{kind}\"")],
            )
        };
        match attack {
            "poison" => {
                assert!(errors("invalid_record") >= 4.0, "{attack}: each poisoned page refused: {metrics}");
                let page = client.get_json("/v1/tenants/attacker/orders?limit=1000").await;
                assert!(page.get("unreadable").is_none(), "{attack}: nothing unreadable was stored: {page}");
            }
            "logs" => {
                assert_eq!(errors("panic"), 0.0, "{attack}: a panic printed to stderr is not one: {metrics}");
                let dropped = metric_sum(&metrics, "wharf_plugin_log_lines_dropped_total", &["tenant=\"attacker\""]);
                assert!(dropped > 0.0, "{attack}: the flood was cut and counted: {metrics}");
            }
            "runaway" => {
                for kind in ["memory_limit", "trap", "panic"] {
                    assert!(errors(kind) >= 1.0, "{attack}: {kind} failures are counted: {metrics}");
                }
            }
            _ => {}
        }

        let peak = serve.peak_rss_bytes();
        if let Some(peak) = peak {
            assert!(peak < SERVE_PEAK_RSS_BOUND, "{attack}: serve's peak RSS {peak} bytes");
        }
        healthz.sort();
        eprintln!(
            "hostile suite, {attack}: /healthz p50 {:?} max {:?} ({} asked); victim calls {victim_calls}; \
             attacker calls {attacker_calls}; serve peak RSS {} MiB; ready and attacked {window_took:?}, \
             {:?} so far",
            healthz[healthz.len() / 2],
            healthz[healthz.len() - 1],
            healthz.len(),
            peak.map_or(-1, |p| (p >> 20) as i64),
            run_started.elapsed()
        );
        // Graceful even beside a plugin that always answers a next page: loops stop after the
        // page in hand.
        let stopping = Instant::now();
        let status = tokio::task::spawn_blocking(move || serve.stop(STOP_GRACE)).await.unwrap();
        let status = status.unwrap_or_else(|| panic!("{attack}: serve did not stop within {STOP_GRACE:?} of SIGTERM"));
        assert!(status.success(), "{attack}: serve's stop exited {status}");
        eprintln!("hostile suite, {attack}: stopped in {:?}", stopping.elapsed());

        // The log: bounded, one JSON object a line whatever the plugins wrote.
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.len() < SERVE_LOG_BOUND, "{attack}: the log grew to {} bytes", text.len());
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v.is_object()),
                "{attack}: a log line that is not the host's: {line:?}"
            );
        }
        assert!(!text.contains('\u{1b}'), "{attack}: no raw escape in the log");
        scanned.push((format!("{attack} serve log"), text));

        // The reports the secret modes left in the store.
        if attack == "secrets" {
            let store = wharf_runtime::store::Store::open(&dir.join("data")).unwrap();
            let report = stored_report(&store, "secret-bytes");
            assert!(report.contains("found=false") && report.contains("config=none"), "secret-bytes: {report}");
            assert!(report.contains("echo_status=200"), "secret-bytes reached its echo: {report}");
            let report = stored_report(&store, "secret-elsewhere");
            assert!(report.starts_with("err:") && report.contains("Denied"), "secret-elsewhere: {report}");
            let report = stored_report(&store, "placeholder-flood");
            assert_eq!(report.matches("larger than 16777216 bytes").count(), 2, "placeholder-flood: {report}");
            // What the guest received from every echo route, as it reported it in hex.
            let report = stored_report(&store, "echo-encodings");
            let mut routes = 0;
            for line in report.lines() {
                let mut parts = line.split('\t');
                let (route, status) = (parts.next().unwrap(), parts.next().unwrap_or_default());
                if let Some(hex) = parts.next() {
                    let got = lossy(&unhex(hex));
                    if route == "raw" {
                        assert!(got.contains("{{secret:app_secret}}"), "the echo came back as placeholders: {got}");
                    }
                    scanned.push((format!("what the guest got from echo route {route}"), got));
                    routes += 1;
                } else {
                    assert!(status.starts_with("err:"), "echo-encodings: {line}");
                }
            }
            assert!(routes >= 7, "echo-encodings: every decodable route answered: {report}");
        }
        for file in files_under(&dir.join("data")) {
            scanned.push((format!("store file {}", file.display()), lossy(&std::fs::read(&file).unwrap())));
        }
    }

    let got = targets.elsewhere_got.lock().unwrap().clone();
    assert!(got.is_empty(), "a host the secrets are not bound to got requests: {got:?}");
    scanned.extend(client.replies.iter().map(|r| ("an API reply".to_owned(), r.clone())));
    for (secret, form) in suite_leak_forms() {
        for (what, text) in &scanned {
            assert!(!text.contains(form.as_str()), "{what} holds secret {secret} as {form:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// After-sales (contract 0.3.0 and later) run through a real plugin, checked at the boundary like orders;
/// a 0.1.0 plugin asked for them answers `unsupported` naming the operation, without being
/// called, and its order pulls go on as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sales_cross_the_boundary_and_older_contracts_answer_unsupported() {
    let sandbox = Sandbox::new(limits(), Some(wharf_tests::plugins::cache_dir())).unwrap();
    let fixture = sandbox.load_file(&plugin_path("fixture")).await.unwrap();
    assert_eq!(fixture.descriptor().wit_version, "0.4.0");
    assert_eq!(fixture.descriptor().batch_limit(Operation::DecryptReceivers), Some(20));
    let config = [("orders", "3"), ("poison", "0"), ("at_ms", "5000"), ("after_sales", "2")];
    let shop =
        Shop::new("t1", "s1").with_config(config.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
    let window = TimeWindow { from: Timestamp(0), to: Timestamp(10_000) };
    let Reply::AfterSales(page) = fixture.call(&shop, Call::PullAfterSales { window, cursor: None }).await.unwrap()
    else {
        panic!("an after-sale page")
    };
    let ids: Vec<&str> = page.items.iter().map(|a| a.after_sale_id.as_str()).collect();
    assert_eq!(ids, ["A1", "A2"]);
    let a = &page.items[0];
    assert_eq!(
        (a.order_id.as_str(), a.kind, a.status),
        ("F1", AfterSaleKind::RefundBeforeShipping, AfterSaleStatus::Requested)
    );
    assert_eq!((a.refund_amount, a.shop_id.as_str(), a.updated_at), (3980, "s1", Timestamp(5000)));
    let Reply::AfterSale(one) = fixture.call(&shop, Call::GetAfterSale { after_sale_id: "A2".into() }).await.unwrap()
    else {
        panic!("one after-sale")
    };
    assert_eq!(one.order_id, "F2");

    let legacy = sandbox.load_file(&plugin_path("legacy")).await.unwrap();
    let err = legacy.call(&shop, Call::PullAfterSales { window, cursor: None }).await.unwrap_err();
    assert_eq!(err.operation, Operation::PullAfterSales);
    assert!(
        matches!(&err.cause, Failure::Plugin(ConnectorError::Unsupported { operation }) if operation.contains("0.1.0")),
        "{err}"
    );
}
