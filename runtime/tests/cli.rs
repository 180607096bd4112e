//! The `wharf` binary's own contract: usage errors are JSON on stderr with exit code 2, load
//! failures exit 3. (Whole flows against simulators live in the workspace's `tests/` crate.)

use std::process::Command;

fn wharf(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wharf")).args(args).output().expect("runs wharf");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_plugin_file_is_a_load_error() {
    let (code, stdout, stderr) = wharf(&["plugin", "inspect", "/no/such/plugin.wasm"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.is_empty());
    let err: serde_json::Value = serde_json::from_str(stderr.trim()).expect("stderr is JSON");
    assert_eq!(err["error"], "load");
    assert!(err["message"].as_str().unwrap().contains("/no/such/plugin.wasm"));
}

#[test]
fn a_file_that_is_not_a_component_is_a_load_error() {
    let dir = std::env::temp_dir().join(format!("wharf-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("junk.wasm");
    std::fs::write(&file, b"not wasm at all").unwrap();
    let (code, _, stderr) = wharf(&["plugin", "inspect", file.to_str().unwrap(), "--cache-dir", dir.to_str().unwrap()]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("not a valid WebAssembly component"), "{stderr}");
}

#[test]
fn an_unknown_operation_is_a_usage_error() {
    let (code, _, stderr) = wharf(&["plugin", "call", "/no/such/plugin.wasm", "pull-everything"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown operation `pull-everything`") && stderr.contains("pull-orders"), "{stderr}");
}

/// A serve without the operator's token would answer 401 to everything: it refuses to start
/// and says how to set one.
#[test]
fn serve_without_an_operator_token_refuses_to_start_and_gives_the_fix() {
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["serve", "--config", "/no/such/wharf.toml"])
        .env_remove("WHARF_OPERATOR_TOKEN")
        .output()
        .expect("runs wharf");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let err: serde_json::Value = serde_json::from_str(stderr.trim()).expect("stderr is JSON");
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("WHARF_OPERATOR_TOKEN is not set"), "{message}");
    assert!(message.contains("export WHARF_OPERATOR_TOKEN=$(openssl rand -hex 32)"), "{message}");
    assert!(message.contains("--without-operator-token"), "{message}");
}

/// Text logs written to a file (not a terminal) carry no ANSI colour codes.
#[test]
fn text_logs_to_a_file_are_plain() {
    let dir = std::env::temp_dir().join(format!("wharf-cli-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.join("wharf.toml");
    std::fs::write(
        &config,
        format!("allow_empty = true\ndata_dir = \"data\"\nplugin_dir = \"plugins\"\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let log = dir.join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--cache-dir", dir.join("cache").to_str().unwrap(), "serve", "--config", config.to_str().unwrap()])
        .env("WHARF_OPERATOR_TOKEN", "wharf_cli_test_operator")
        .env("WHARF_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("runs wharf serve");
    let started = std::time::Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("wharf serve started") {
            break text;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "serve did not start: {text}");
        assert!(child.try_wait().unwrap().is_none(), "serve stopped: {text}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(!text.contains('\u{1b}'), "ANSI escape codes in a log file: {text:?}");
    assert!(text.contains(" INFO "), "text log lines: {text}");
    let _ = std::fs::remove_dir_all(&dir);
}
