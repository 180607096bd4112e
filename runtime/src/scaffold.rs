//! `wharf plugin new`: a plugin crate that builds to wasm as it is, answers `unsupported`
//! everywhere, and passes the conformance suite's contract scenarios, so an author starts
//! from green and turns operations on one at a time.

use std::path::{Path, PathBuf};

use crate::model::Role;

/// The SDK next to this host's sources: where a plugin made outside the workspace finds it
/// unless told otherwise.
pub const BUNDLED_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("plugin name {0:?}: expected lowercase letters, digits and '-', starting with a letter")]
    BadName(String),
    #[error("{0} already exists; choose another --dir or remove it")]
    Exists(PathBuf),
    #[error("no wharf-sdk at {0}; pass --sdk <path to the sdk crate>")]
    NoSdk(PathBuf),
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// What was written.
#[derive(Debug)]
pub struct Scaffolded {
    pub dir: PathBuf,
    pub crate_name: String,
    /// Whether the crate joined an enclosing Wharf workspace (`plugins/<name>`).
    pub in_workspace: bool,
}

/// Writes the crate for plugin `name` in `dir`. Inside a Wharf workspace's `plugins/` folder
/// it uses the workspace's SDK and settings; anywhere else it is a workspace of its own
/// depending on `sdk` (default [`BUNDLED_SDK`]).
pub fn new_plugin(name: &str, role: Role, dir: &Path, sdk: Option<&Path>) -> Result<Scaffolded, ScaffoldError> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(ScaffoldError::BadName(name.to_owned()));
    }
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir.to_owned()));
    }
    let crate_name = format!("wharf-plugin-{name}");
    let in_workspace = dir
        .parent()
        .filter(|p| p.file_name().is_some_and(|n| n == "plugins"))
        .and_then(Path::parent)
        .is_some_and(|root| root.join("sdk/Cargo.toml").is_file() && root.join("wit").is_dir());
    let manifest = if in_workspace {
        WORKSPACE_MANIFEST.replace("{crate}", &crate_name).replace("{name}", name)
    } else {
        let sdk = sdk.map(Path::to_owned).unwrap_or_else(|| PathBuf::from(BUNDLED_SDK));
        let sdk = sdk.canonicalize().map_err(|_| ScaffoldError::NoSdk(sdk.clone()))?;
        if !sdk.join("Cargo.toml").is_file() {
            return Err(ScaffoldError::NoSdk(sdk));
        }
        STANDALONE_MANIFEST
            .replace("{crate}", &crate_name)
            .replace("{name}", name)
            .replace("{sdk}", &sdk.display().to_string().replace('\\', "/"))
    };
    let lib = match role {
        Role::Marketplace => MARKETPLACE_LIB,
        Role::Erp => ERP_LIB,
    }
    .replace("{name}", name);
    write(&dir.join("Cargo.toml"), &manifest)?;
    write(&dir.join("src/lib.rs"), &lib)?;
    Ok(Scaffolded { dir: dir.to_owned(), crate_name, in_workspace })
}

fn write(path: &Path, text: &str) -> Result<(), ScaffoldError> {
    let fail = |source| ScaffoldError::Write { path: path.to_owned(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)
}

const WORKSPACE_MANIFEST: &str = r#"[package]
name = "{crate}"
description = "Wharf connector for {name}"
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
wharf-sdk.workspace = true
serde_json.workspace = true

[dev-dependencies]
wharf-sdk = { workspace = true, features = ["testing"] }
"#;

const STANDALONE_MANIFEST: &str = r#"[package]
name = "{crate}"
description = "Wharf connector for {name}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
wharf-sdk = { path = "{sdk}" }
serde_json = "1"

[dev-dependencies]
wharf-sdk = { path = "{sdk}", features = ["testing"] }

# A workspace of its own, so it builds wherever it is.
[workspace]
"#;

const MARKETPLACE_LIB: &str = r#"//! The {name} connector: a Wharf marketplace plugin.
//!
//! Every operation answers `unsupported` (the defaults of `wharf_sdk::connector::Marketplace`)
//! until you implement it here and list it in `describe().operations`. Build:
//! `cargo build --target wasm32-wasip2 --release`; check:
//! `wharf plugin test target/wasm32-wasip2/release/wharf_plugin_{name}.wasm`. The README's
//! "Write a plugin" walks you to a first `pull-orders`.

use wharf_sdk::connector::Marketplace;
use wharf_sdk::types::{Descriptor, Role};

/// The plugin's self-description: what it implements, the hosts it calls, its settings.
pub fn descriptor() -> Descriptor {
    // The builder fills the plugin's version and the contract version; add `.operations(…)`,
    // `.http_hosts(…)` and `.config_keys(…)` (a signed gateway's come from
    // `wharf_sdk::gateway::config_keys`) as you implement them.
    wharf_sdk::descriptor!("{name}", Role::Marketplace).build()
}

pub struct Connector;

impl Marketplace for Connector {
    fn describe() -> Descriptor {
        descriptor()
    }
}

wharf_sdk::export_marketplace!(Connector);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_itself() {
        let d = descriptor();
        assert_eq!((d.name.as_str(), d.role), ("{name}", Role::Marketplace));
    }
}
"#;

const ERP_LIB: &str = r#"//! The {name} connector: a Wharf ERP plugin.
//!
//! Every operation answers `unsupported` (the defaults of `wharf_sdk::connector::Erp`) until
//! you implement it here and list it in `describe().operations`. Build:
//! `cargo build --target wasm32-wasip2 --release`; check:
//! `wharf plugin test target/wasm32-wasip2/release/wharf_plugin_{name}.wasm`.

use wharf_sdk::connector::Erp;
use wharf_sdk::types::{Descriptor, Role};

/// The plugin's self-description: what it implements, the hosts it calls, its settings.
pub fn descriptor() -> Descriptor {
    // The builder fills the plugin's version and the contract version; add `.operations(…)`,
    // `.http_hosts(…)` and `.config_keys(…)` (a signed gateway's come from
    // `wharf_sdk::gateway::config_keys`) as you implement them.
    wharf_sdk::descriptor!("{name}", Role::Erp).build()
}

pub struct Connector;

impl Erp for Connector {
    fn describe() -> Descriptor {
        descriptor()
    }
}

wharf_sdk::export_erp!(Connector);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_itself() {
        let d = descriptor();
        assert_eq!((d.name.as_str(), d.role), ("{name}", Role::Erp));
    }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_dirs_not_overwritten() {
        let tmp = std::env::temp_dir().join(format!("wharf-scaffold-{}", std::process::id()));
        assert!(matches!(
            new_plugin("Bad Name", Role::Marketplace, &tmp.join("x"), None),
            Err(ScaffoldError::BadName(_))
        ));
        let made = new_plugin("demo", Role::Erp, &tmp.join("demo"), None).unwrap();
        assert!(!made.in_workspace);
        let manifest = std::fs::read_to_string(made.dir.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"wharf-plugin-demo\"") && manifest.contains("[workspace]"));
        let lib = std::fs::read_to_string(made.dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("wharf_sdk::descriptor!(\"demo\", Role::Erp)") && !lib.contains("{name}"));
        assert!(matches!(new_plugin("demo", Role::Erp, &tmp.join("demo"), None), Err(ScaffoldError::Exists(_))));
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
