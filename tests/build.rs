//! Builds every plugin to a wasm component before the tests compile, so `cargo test` alone is
//! enough: no separate build step to forget, and no test running against a stale plugin.
//!
//! The plugins are every crate under `plugins/*` and `tests/plugins/*`. One nested
//! `cargo build --target wasm32-wasip2 --profile plugin -p … -p …` builds them all (so shared
//! dependencies compile once) into `<target>/wasm`, a target dir of its own: the outer cargo
//! holds the lock on its own build directory for as long as this script runs. Each artifact is
//! then copied to `<target>/plugins/<dir>.wasm`, named for the plugin's directory
//! (`plugins/taobao` → `taobao.wasm`), and the tests find that directory through
//! `WHARF_PLUGIN_DIR`, set at compile time. `<target>` is `CARGO_TARGET_DIR` when set, else
//! `<workspace>/target`.
//!
//! Environment:
//! - `WHARF_SKIP_PLUGIN_BUILD=1`: build nothing, use the `.wasm` files already there (quick
//!   iteration on the tests themselves).
//! - `WHARF_PLUGINS=taobao,hostile`: build only these plugin directories (quick iteration on
//!   one plugin); the others keep whatever file they had.

use std::collections::BTreeMap;
use std::env;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The target plugins are compiled for; `rust-toolchain.toml` lists it.
const WASM_TARGET: &str = "wasm32-wasip2";

/// The cargo profile for plugins, defined in the workspace `Cargo.toml`.
const PLUGIN_PROFILE: &str = "plugin";

/// Workspace directories whose every subdirectory is a plugin crate.
const PLUGIN_PARENTS: [&str; 2] = ["plugins", "tests/plugins"];

/// What the plugins are built from; cargo rescans directories for any change inside.
const WATCHED: [&str; 6] = ["wit", "sdk", "plugins", "tests/plugins", "Cargo.toml", "Cargo.lock"];

/// Variables the outer build sets (or the user set for it) that would misdirect the nested one:
/// flags meant for the host target, the outer target or build dir (whose lock the outer cargo
/// holds), the outer target triple, the outer compiler wrappers (e.g. clippy under
/// `cargo clippy`), and the outer jobserver.
const LEAKED_ENV: [&str; 15] = [
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_BUILD_DIR",
    "CARGO_BUILD_TARGET",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "CARGO_PRIMARY_PACKAGE",
];

/// The plugins also built a second time under another version, into `plugins/next/`: two real
/// builds for the hot-swap tests and benchmarks (taobao), and a plugin whose second build fixes
/// a mapping bug, for the quarantine tests (fixture).
const NEXT_PLUGINS: [&str; 2] = ["taobao", "fixture"];
/// What that second build's version ends with (after the crate's own version).
const NEXT_SUFFIX: &str = "-next";
/// The variable `wharf_sdk::plugin_version!` reads.
const VERSION_ENV: &str = "WHARF_PLUGIN_VERSION";

/// Set to `1` to skip building and use the plugin files already there.
const SKIP_ENV: &str = "WHARF_SKIP_PLUGIN_BUILD";

/// Comma-separated plugin directory names to build instead of all of them.
const ONLY_ENV: &str = "WHARF_PLUGINS";

/// One plugin crate.
#[derive(Clone)]
struct Plugin {
    /// Its directory name, which names its `.wasm` file.
    name: String,
    /// Its cargo package name, for `-p`.
    package: String,
    /// The file stem cargo gives its cdylib: the lib name with `-` as `_`.
    artifact: String,
    manifest: PathBuf,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // Cargo shows a failed build script's stderr, below the nested cargo's own output.
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(required_env("CARGO_MANIFEST_DIR")?);
    let workspace = manifest_dir
        .parent()
        .ok_or_else(|| {
            format!("{} has no parent: expected the tests crate inside the workspace", manifest_dir.display())
        })?
        .to_path_buf();
    for path in WATCHED {
        println!("cargo::rerun-if-changed={}", workspace.join(path).display());
    }
    println!("cargo::rerun-if-env-changed={SKIP_ENV}");
    println!("cargo::rerun-if-env-changed={ONLY_ENV}");

    let target_dir = target_dir(&workspace)?;
    let plugin_dir = target_dir.join("plugins");
    println!("cargo::rustc-env=WHARF_PLUGIN_DIR={}", plugin_dir.display());

    if env::var_os(SKIP_ENV).is_some_and(|value| value == "1") {
        println!(
            "cargo::warning={SKIP_ENV}=1: not building plugins, the tests use what is in {}",
            plugin_dir.display()
        );
        return Ok(());
    }

    let plugins = select(discover(&workspace)?)?;
    if plugins.is_empty() {
        return Ok(());
    }
    ensure_wasm_target()?;
    let wasm_dir = target_dir.join("wasm");
    build(&workspace, &wasm_dir, &plugins, None)?;

    fs::create_dir_all(&plugin_dir).map_err(|e| format!("cannot create {}: {e}", plugin_dir.display()))?;
    let artifacts = wasm_dir.join(WASM_TARGET).join(PLUGIN_PROFILE);
    for plugin in &plugins {
        let built = artifacts.join(format!("{}.wasm", plugin.artifact));
        if !built.is_file() {
            return Err(format!(
                "building {} produced no {}: is its crate-type `cdylib` (in {})?",
                plugin.package,
                built.display(),
                plugin.manifest.display()
            ));
        }
        install(&built, &plugin_dir.join(format!("{}.wasm", plugin.name)))?;
    }
    let again: Vec<_> = plugins.iter().filter(|p| NEXT_PLUGINS.contains(&p.name.as_str())).cloned().collect();
    if !again.is_empty() {
        let version = format!("{}{NEXT_SUFFIX}", required_env("CARGO_PKG_VERSION")?.to_string_lossy());
        build(&workspace, &wasm_dir, &again, Some(&version))?;
        let next = plugin_dir.join("next");
        fs::create_dir_all(&next).map_err(|e| format!("cannot create {}: {e}", next.display()))?;
        for plugin in &again {
            install(&artifacts.join(format!("{}.wasm", plugin.artifact)), &next.join(format!("{}.wasm", plugin.name)))?;
        }
    }
    Ok(())
}

/// The outer build's target dir: `CARGO_TARGET_DIR` (or `CARGO_BUILD_TARGET_DIR`) when set,
/// else `<workspace>/target`.
///
/// A relative value is relative to where cargo was started, which a build script cannot know;
/// it is found instead as the ancestor of `OUT_DIR` (always inside the target dir) that ends
/// with it.
fn target_dir(workspace: &Path) -> Result<PathBuf, String> {
    let Some(configured) = env::var_os("CARGO_TARGET_DIR")
        .or_else(|| env::var_os("CARGO_BUILD_TARGET_DIR"))
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
    else {
        return Ok(workspace.join("target"));
    };
    if configured.is_absolute() {
        return Ok(configured);
    }
    let out_dir = PathBuf::from(required_env("OUT_DIR")?);
    let relative: PathBuf = configured.components().filter(|c| c.as_os_str() != ".").collect();
    out_dir.ancestors().find(|ancestor| ancestor.ends_with(&relative)).map(Path::to_path_buf).ok_or_else(|| {
        format!(
            "CARGO_TARGET_DIR={} is relative and OUT_DIR={} is not inside it; set it to an absolute path",
            configured.display(),
            out_dir.display()
        )
    })
}

/// Every plugin crate, sorted by name; two with the same directory name are an error, since
/// both would be `<name>.wasm`.
fn discover(workspace: &Path) -> Result<Vec<Plugin>, String> {
    let mut plugins = BTreeMap::new();
    for parent in PLUGIN_PARENTS {
        let parent = workspace.join(parent);
        let entries = match fs::read_dir(&parent) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(format!("cannot list {}: {error}", parent.display())),
        };
        for entry in entries {
            let dir = entry.map_err(|e| format!("cannot list {}: {e}", parent.display()))?.path();
            let manifest = dir.join("Cargo.toml");
            if !manifest.is_file() {
                continue;
            }
            let name = dir
                .file_name()
                .and_then(|name| name.to_str())
                .ok_or_else(|| format!("plugin directory {} is not a UTF-8 name", dir.display()))?
                .to_owned();
            let plugin = read_plugin(name.clone(), manifest)?;
            if let Some(other) = plugins.insert(name.clone(), plugin) {
                return Err(format!(
                    "two plugins are named `{name}` ({} and {}); each needs its own {name}.wasm",
                    other.manifest.display(),
                    plugins[&name].manifest.display()
                ));
            }
        }
    }
    Ok(plugins.into_values().collect())
}

/// Reads the package name and optional `[lib] name` from a plugin's manifest.
///
/// A line reader, not a TOML parser (the tests crate has no build dependencies): it expects
/// `name = "…"` on its own line in `[package]` and `[lib]`, as `cargo new` writes it.
fn read_plugin(name: String, manifest: PathBuf) -> Result<Plugin, String> {
    let text = fs::read_to_string(&manifest).map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let mut section = String::new();
    let mut package = None;
    let mut lib = None;
    for line in text.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[') {
            section = header.trim_end_matches(']').trim().to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "name" {
            continue;
        }
        let value = value.trim();
        // The quoted string, without any trailing comment.
        let value = match value.chars().next() {
            Some(quote @ ('"' | '\'')) => value[1..].split(quote).next().unwrap_or_default(),
            _ => value.split('#').next().unwrap_or_default().trim(),
        }
        .to_owned();
        match section.as_str() {
            "package" => package = Some(value),
            "lib" => lib = Some(value),
            _ => {}
        }
    }
    let package = package
        .ok_or_else(|| format!("{}: expected `name = \"…\"` under [package], found none", manifest.display()))?;
    let artifact = lib.as_deref().unwrap_or(&package).replace('-', "_");
    Ok(Plugin { name, package, artifact, manifest })
}

/// All plugins, or only those `WHARF_PLUGINS` names.
fn select(plugins: Vec<Plugin>) -> Result<Vec<Plugin>, String> {
    let Some(only) = env::var_os(ONLY_ENV) else {
        return Ok(plugins);
    };
    let only = only.into_string().map_err(|_| format!("{ONLY_ENV} is not UTF-8"))?;
    let wanted: Vec<&str> = only.split(',').map(str::trim).filter(|name| !name.is_empty()).collect();
    if let Some(unknown) = wanted.iter().find(|name| !plugins.iter().any(|p| p.name == **name)) {
        let known: Vec<&str> = plugins.iter().map(|p| p.name.as_str()).collect();
        return Err(format!(
            "{ONLY_ENV} names `{unknown}`; expected plugin directory names among {}",
            known.join(", ")
        ));
    }
    println!("cargo::warning={ONLY_ENV}={only}: building only these plugins");
    Ok(plugins.into_iter().filter(|p| wanted.contains(&p.name.as_str())).collect())
}

/// Fails with the fix when the toolchain lacks the wasm target's standard library.
fn ensure_wasm_target() -> Result<(), String> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let output = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", rustc.to_string_lossy()))?;
    if !output.status.success() {
        return Err(format!(
            "`{} --print target-libdir --target {WASM_TARGET}` failed: {}",
            rustc.to_string_lossy(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if libdir.is_dir() {
        return Ok(());
    }
    Err(format!(
        "the {WASM_TARGET} target, which plugins are built for, is not installed for this \
         toolchain ({} is missing): run `rustup target add {WASM_TARGET}` (rust-toolchain.toml \
         lists it, but rustup adds it only when it installs the toolchain)",
        libdir.display()
    ))
}

/// One nested cargo for all plugins, with the outer build's leaked settings removed.
fn build(workspace: &Path, wasm_dir: &Path, plugins: &[Plugin], version: Option<&str>) -> Result<(), String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(&cargo);
    command
        .current_dir(workspace)
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args(["--target", WASM_TARGET, "--profile", PLUGIN_PROFILE])
        .arg("--target-dir")
        .arg(wasm_dir);
    for plugin in plugins {
        command.args(["-p", &plugin.package]);
    }
    if let Some(jobs) = env::var_os("NUM_JOBS") {
        command.arg("--jobs").arg(jobs);
    }
    for name in LEAKED_ENV {
        command.env_remove(name);
    }
    // Runners for the host target (e.g. CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER).
    for (name, _) in env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_TARGET_") && name.ends_with("_RUNNER") {
            command.env_remove(name.as_ref());
        }
    }
    match version {
        Some(version) => command.env(VERSION_ENV, version),
        None => command.env_remove(VERSION_ENV),
    };
    // Stdout carries this script's `cargo::` instructions: keep the nested cargo off it.
    command.stdout(io::stderr());

    let status = command.status().map_err(|e| format!("cannot run {}: {e}", cargo.to_string_lossy()))?;
    if status.success() {
        return Ok(());
    }
    let packages: Vec<&str> = plugins.iter().map(|p| p.package.as_str()).collect();
    Err(format!(
        "building the plugins to wasm failed ({status}); the nested cargo's errors are above.\n\
         Reproduce with: cargo build --target {WASM_TARGET} --profile {PLUGIN_PROFILE} -p {}\n\
         or set {SKIP_ENV}=1 to test against the plugins already built, or {ONLY_ENV}=<dir,…> \
         to build only some",
        packages.join(" -p ")
    ))
}

/// Copies a built plugin into place through a temporary file, so a test never reads a
/// half-written component.
fn install(from: &Path, to: &Path) -> Result<(), String> {
    let partial = to.with_extension("wasm.partial");
    fs::copy(from, &partial).map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), partial.display()))?;
    fs::rename(&partial, to).map_err(|e| format!("cannot move {} to {}: {e}", partial.display(), to.display()))
}

fn required_env(name: &str) -> Result<OsString, String> {
    env::var_os(name).ok_or_else(|| format!("{name} is not set; this script runs under cargo"))
}
