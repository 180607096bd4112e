//! Where the plugins built by this crate's build script are.
//!
//! `build.rs` compiles every plugin to a wasm component and copies it to
//! `<target>/plugins/<dir>.wasm` (`plugins/taobao` → `taobao.wasm`, `tests/plugins/hostile` →
//! `hostile.wasm`); it passes that directory in at compile time as `WHARF_PLUGIN_DIR`.

use std::path::PathBuf;

/// The directory holding the built plugins.
pub fn plugin_dir() -> PathBuf {
    PathBuf::from(env!("WHARF_PLUGIN_DIR"))
}

/// Where tests keep compiled components between runs (beside the built plugins), so each
/// plugin is compiled by wasmtime once per build rather than once per test.
pub fn cache_dir() -> PathBuf {
    plugin_dir().join("compiled")
}

/// The component of the plugin in directory `name` (`"taobao"`, `"hostile"`).
///
/// # Panics
///
/// When it was not built, with what to do about it: a test cannot run without its plugin.
pub fn plugin_path(name: &str) -> PathBuf {
    let path = plugin_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "plugin `{name}` is not built: {} is missing. The wharf-tests build script builds every \
         crate under plugins/ and tests/plugins/; check that plugins/{name} or tests/plugins/{name} \
         exists, and that WHARF_SKIP_PLUGIN_BUILD=1 or WHARF_PLUGINS did not skip it",
        path.display()
    );
    path
}

/// The `wharf` binary built beside the running test (cargo builds it for the runtime's own
/// CLI tests, `runtime/tests/cli.rs`).
pub fn wharf_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<test>");
    let bin = dir.join(format!("wharf{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} is missing: run `tests/run` (or `cargo build --bin wharf`)", bin.display());
    bin
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugin_dir_is_absolute() {
        assert!(plugin_dir().is_absolute(), "{}", plugin_dir().display());
    }

    #[test]
    #[should_panic(expected = "plugin `no-such-plugin` is not built")]
    fn a_missing_plugin_says_so() {
        plugin_path("no-such-plugin");
    }
}
