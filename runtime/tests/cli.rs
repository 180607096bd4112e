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
