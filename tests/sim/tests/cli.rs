//! The simulator binaries as a newcomer runs them: `--help` prints the usage (it is not an
//! order count), every marketplace simulator writes `expected.json`, and the `wharf plugin
//! call` line it prints runs as printed and prints exactly the expected orders.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A simulator process, stopped when dropped as Ctrl-C would: SIGTERM, so it stops what it
/// started (the ECShop simulator's `php -S`, which a SIGKILL left running), then killed if it
/// has not exited within [`STOP_GRACE`].
struct Sim(Child);

/// How long a simulator gets to stop its servers and remove its files after SIGTERM.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

impl Drop for Sim {
    fn drop(&mut self) {
        wharf_sim::serve::terminate(&mut self.0, STOP_GRACE);
    }
}

/// Starts `bin` with `args` and reads its stdout up to "Ctrl-C stops it."; returns the lines.
fn start(bin: &str, args: &[&str]) -> (Sim, Vec<String>) {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let sim = Sim(child);
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stdout).lines();
    for line in reader.by_ref() {
        let line = line.unwrap();
        let done = line.contains("Ctrl-C stops it") || line.starts_with("stdin:");
        lines.push(line);
        if done {
            // Keep reading what it prints later, so it never writes to a closed pipe.
            std::thread::spawn(move || reader.for_each(drop));
            return (sim, lines);
        }
    }
    panic!("{bin} stopped before it was ready: {lines:#?}");
}

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wharf-sim-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn help_is_usage_not_an_order_count() {
    for bin in [
        env!("CARGO_BIN_EXE_taobao-sim"),
        env!("CARGO_BIN_EXE_jd-sim"),
        env!("CARGO_BIN_EXE_douyin-sim"),
        env!("CARGO_BIN_EXE_ecshop-sim"),
        env!("CARGO_BIN_EXE_sap-sim"),
        env!("CARGO_BIN_EXE_world-sim"),
    ] {
        let out = Command::new(bin).arg("--help").output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{bin} --help: {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("Usage: cargo run -p wharf-sim --bin"), "{bin}: {stdout}");
        let out = Command::new(bin).arg("--orders-please").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("--orders-please"), "{bin} names an unknown flag: {stderr}");
    }
}

/// The plugin files of this build, when the workspace's tests built them.
fn built(path: &Path) -> bool {
    path.is_file()
}

#[test]
fn every_marketplace_simulator_writes_expected_json_and_its_printed_call_runs_as_printed() {
    let sims = [
        ("taobao", env!("CARGO_BIN_EXE_taobao-sim")),
        ("jd", env!("CARGO_BIN_EXE_jd-sim")),
        ("douyin", env!("CARGO_BIN_EXE_douyin-sim")),
        // The real PHP bridge: php-cli with pdo_sqlite, which tests/setup installs.
        ("ecshop", env!("CARGO_BIN_EXE_ecshop-sim")),
    ];
    for (platform, bin) in sims {
        let dir = out_dir(platform);
        let (sim, lines) = start(bin, &["12", dir.to_str().unwrap()]);
        let expected: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join("expected.json")).unwrap_or_else(|e| panic!("{platform}: {e}")),
        )
        .unwrap();
        let expected = expected.as_array().unwrap();
        assert!(!expected.is_empty(), "{platform}: expected.json lists the window's orders");
        let call = lines
            .iter()
            .map(|l| l.trim())
            .find(|l| l.contains(" plugin call ") && l.contains(" pull-orders "))
            .unwrap_or_else(|| panic!("{platform}: no pull-orders line in {lines:#?}"));
        assert!(!call.starts_with("wharf "), "{platform}: a bare `wharf` is not on PATH: {call}");
        assert!(!call.contains("--shop default"), "{platform}: --shop default is the CLI's default: {call}");
        let words: Vec<&str> = call.split_whitespace().collect();
        let (wharf, plugin) = (Path::new(words[0]), Path::new(words[3]));
        if !built(wharf) || !built(plugin) {
            // `cargo test -p wharf-sim` alone builds neither; tests/run builds both first.
            eprintln!(
                "{platform}: not run ({} or {} not built; tests/run builds them)",
                wharf.display(),
                plugin.display()
            );
            continue;
        }
        let out = Command::new("sh").arg("-c").arg(call).current_dir(std::env::temp_dir()).output().unwrap();
        assert!(out.status.success(), "{platform}: `{call}` failed: {}", String::from_utf8_lossy(&out.stderr));
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut got: Vec<&serde_json::Value> = printed["orders"].as_array().unwrap().iter().collect();
        let mut want: Vec<&serde_json::Value> = expected.iter().collect();
        let id = |o: &&serde_json::Value| o["order_id"].as_str().unwrap_or_default().to_owned();
        got.sort_by_key(id);
        want.sort_by_key(id);
        assert_eq!(got, want, "{platform}: the printed call prints expected.json's orders");
        drop(sim);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn the_sap_simulators_printed_push_runs_as_printed() {
    let dir = out_dir("sap");
    let (sim, lines) = start(env!("CARGO_BIN_EXE_sap-sim"), &["2", dir.to_str().unwrap()]);
    let call = lines.iter().map(|l| l.trim()).find(|l| l.contains(" push-orders ")).expect("a push-orders line");
    let words: Vec<&str> = call.split_whitespace().collect();
    if !built(Path::new(words[0])) || !built(Path::new(words[3])) {
        eprintln!("sap: not run (wharf or sap.wasm not built; tests/run builds them)");
        return;
    }
    let out = Command::new("sh").arg("-c").arg(call).current_dir(std::env::temp_dir()).output().unwrap();
    assert!(out.status.success(), "`{call}` failed: {}", String::from_utf8_lossy(&out.stderr));
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcomes: Vec<&str> = results.as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["created", "created"], "{results}");
    drop(sim);
    let _ = std::fs::remove_dir_all(&dir);
}
