//! The host's configuration: one TOML file declaring tenants, their shops, ERP routes,
//! schedules and tables, plus secrets from the environment or a separate secrets file.
//!
//! Loading checks everything before anything starts, and reports every problem at once, each
//! at its TOML path (`tenants.acme.shops[1].plugin: no plugin named "jdd" (available: jd,
//! taobao)`): a service that refuses to start over one typo per restart wastes an operator's
//! evening. A [`Config`] therefore only exists when the whole file is valid and every secret
//! it references resolved.
//!
//! - [`model`]: the typed configuration and its documented defaults.
//! - [`secrets`]: `env:NAME` / `file:KEY` references, the secrets file, redacting types.
//! - `validate`: the checks; `document`: reading the TOML so each problem has its path.
//!
//! `example.toml` next to this file documents every option; the tests parse it.
//!
//! - [`tenant_document`]: a tenant as the HTTP API takes it (JSON, secrets inline), checked by
//!   the same rules as the file.
//!
//! This module depends on nothing else in the crate but the named limits (the engine maps its
//! types to its own).

mod document;
mod error;
pub mod model;
pub mod secrets;
pub mod tenant_document;
mod validate;

use std::path::{Path, PathBuf};

pub use error::{ConfigErrors, Problem};
pub use model::{
    CarrierTable, Config, ErpPlugin, ErpRoute, ErpStatus, ErpStatusTable, Interval, LogFormat, Module, OrderStatus,
    Quota, Schedule, ShopConfig, StatusAction, StoreLocation, Tenant, WebhookRoute,
};
pub use secrets::{Secret, SecretMap, SecretRef, SecretsFile};

/// Environment variable naming the config file when no `--config` flag is given.
pub const CONFIG_ENV: &str = "WHARF_CONFIG";
/// Environment variable naming the secrets file; it wins over `secrets_file` in the config,
/// so a deployment can point one config at different secrets. A relative path there is
/// relative to the working directory, like any path given on a command line.
pub const SECRETS_ENV: &str = "WHARF_SECRETS";
/// File extension of plugins in the plugin folder.
pub const PLUGIN_EXTENSION: &str = "wasm";

/// The config file to load: the `--config` flag if given, else `WHARF_CONFIG`.
pub fn config_path(flag: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf).or_else(|| env(CONFIG_ENV).filter(|p| !p.is_empty()).map(PathBuf::from))
}

/// The plugin names in `dir`: the stems of its `.wasm` files, sorted.
pub fn plugins_in(dir: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?.path();
        if path.extension().is_some_and(|ext| ext == PLUGIN_EXTENSION)
            && path.is_file()
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            names.push(stem.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

impl Config {
    /// Loads and checks the config file at `path`, reads the secrets file if one is named
    /// (`WHARF_SECRETS` through `env`, else `secrets_file`) and resolves every secret.
    /// Relative paths in the file are relative to the file's folder. `available_plugins`
    /// are the names a `plugin` may take; `env` reads environment variables (pass
    /// `&|name| std::env::var(name).ok()`; tests pass a table).
    pub fn load(
        path: &Path,
        available_plugins: &[&str],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        let names = |_: &Path| Ok(available_plugins.iter().map(|p| p.to_string()).collect());
        Self::load_with(path, Some(&names), env)
    }

    /// Like [`Config::load`], with the available plugins being the `.wasm` files in the
    /// configured `plugin_dir`: the folder is only known once the file is read.
    pub fn load_scanning_plugin_dir(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
        Self::load_with(path, Some(&plugins_in), env)
    }

    /// Like [`Config::load`], leaving plugin names to [`Config::check_plugins`]: a host with
    /// a plugin registry only knows its plugins once the store the file names is open.
    pub fn load_deferring_plugins(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
        Self::load_with(path, None, env)
    }

    /// Every plugin the tenants name that is not `available`, each at its path.
    pub fn check_plugins(&self, available: &[String]) -> Result<(), ConfigErrors> {
        validate::check_plugins(self.tenants(), available)
    }

    /// Checks a configuration given as text. Relative paths in it are relative to `base_dir`;
    /// the secrets file, if one is named, is read from disk.
    pub fn from_toml_str(
        text: &str,
        base_dir: &Path,
        available_plugins: &[&str],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        let names = |_: &Path| Ok(available_plugins.iter().map(|p| p.to_string()).collect());
        validate::build(text, &validate::Inputs { base_dir, plugins: Some(&names), env })
    }

    fn load_with(
        path: &Path,
        plugins: Option<&validate::PluginNames<'_>>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigErrors::one(path.display().to_string(), format!("cannot read: {e}")))?;
        let base_dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        validate::build(&text, &validate::Inputs { base_dir, plugins, env })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    const EXAMPLE: &str = include_str!("example.toml");
    const EXAMPLE_PLUGINS: [&str; 4] = ["douyin", "jd", "sap", "taobao"];

    /// A fresh folder under the system temp dir, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("wharf-config-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// An environment from a table.
    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.get(name).cloned()
    }

    const EXAMPLE_ENV: [(&str, &str); 7] = [
        ("WHARF_ACME_TB_SESSION", "tb-session-value"),
        ("WHARF_ACME_JD_TOKEN", "jd-token-value"),
        ("WHARF_ACME_WEBHOOK_SECRET", "hook-secret-value"),
        ("WHARF_BETA_TB_APP_SECRET", "beta-tb-app-secret-value"),
        ("WHARF_BETA_TB_SESSION", "beta-tb-session-value"),
        ("WHARF_BETA_SAP_USER", "sap-user-value"),
        ("WHARF_BETA_SAP_PASSWORD", "sap-password-value"),
    ];

    const EXAMPLE_SECRETS: &str =
        "acme_tb_app_secret = \"tb-app-secret-value\"\nacme_jd_app_secret = \"jd-app-secret-value\"\n";

    #[test]
    fn the_example_parses_with_every_option() {
        let dir = Scratch::new("example");
        let path = dir.write("wharf.toml", EXAMPLE);
        dir.write("secrets.toml", EXAMPLE_SECRETS);
        let config = Config::load(&path, &EXAMPLE_PLUGINS, &env_of(&EXAMPLE_ENV)).unwrap_or_else(|e| panic!("{e}"));

        assert_eq!(config.data_dir, Path::new("/var/lib/wharf"));
        assert_eq!(config.plugin_dir, dir.0.join("plugins"));
        assert_eq!(config.secrets_file.as_deref(), Some(dir.0.join("secrets.toml").as_path()));
        assert_eq!(config.listen.to_string(), "127.0.0.1:7380");
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.tenants().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["acme", "beta"]);

        let acme = config.tenant("acme").unwrap();
        assert_eq!(acme.shops.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["tb-main", "jd-main", "dy-outlet"]);
        let tb = acme.shop("tb-main").unwrap();
        assert_eq!((tb.platform.as_str(), tb.plugin.as_str(), tb.enabled), ("taobao", "taobao", true));
        assert_eq!(tb.config["app_key"], "12345678");
        assert_eq!(tb.config["sign_method"], "hmac-sha256");
        assert_eq!(tb.credentials["app_secret"], SecretRef::File("acme_tb_app_secret".into()));
        assert_eq!(tb.secrets.get("app_secret").unwrap().expose(), "tb-app-secret-value");
        assert_eq!(tb.secrets.get("session").unwrap().expose(), "tb-session-value");
        let jd = acme.shop("jd-main").unwrap();
        assert_eq!(jd.secrets.names().collect::<Vec<_>>(), ["access_token", "app_secret"]);
        assert!(!acme.shop("dy-outlet").unwrap().enabled);
        assert_eq!(acme.enabled_shops().count(), 2);

        let ErpRoute::Webhook(hook) = &acme.erp else { panic!("acme routes by webhook") };
        assert_eq!(hook.url.as_str(), "https://erp.acme.example/wharf/orders");
        assert_eq!(hook.secret.expose(), "hook-secret-value");

        assert_eq!(acme.schedule.get(Module::Orders).every(), Some(Duration::from_secs(30)));
        assert_eq!(acme.schedule.get(Module::Stock).every(), Some(Duration::from_secs(60)));
        assert_eq!(acme.schedule.get(Module::Customers), Interval::Off);
        assert_eq!(acme.schedule.get(Module::Products).every(), Some(Duration::from_secs(3600)));
        assert_eq!(acme.carriers.platform_code("SF", "jd"), Some("467"));
        assert_eq!(acme.carriers.platform_code("SF", "taobao"), Some("SF"));
        assert_eq!(acme.carriers.platform_code("ZTO", "douyin"), Some("zhongtong"));
        assert_eq!(acme.erp_status.action(ErpStatus::Signed), StatusAction::Move(OrderStatus::Completed));
        assert_eq!(acme.erp_status.action(ErpStatus::Cancelled), StatusAction::Move(OrderStatus::Cancelled));
        assert_eq!(acme.erp_status.action(ErpStatus::Picking), StatusAction::Note);

        let beta = config.tenant("beta").unwrap();
        let ErpRoute::Plugin(sap) = &beta.erp else { panic!("beta routes through the SAP plugin") };
        assert_eq!(sap.plugin, "sap");
        assert_eq!(sap.config["client"], "100");
        assert_eq!(sap.secrets.get("password").unwrap().expose(), "sap-password-value");
        assert_eq!(beta.schedule, Schedule::default());
        assert_eq!(beta.erp_status, ErpStatusTable::default());

        let shown = format!("{config:?}");
        for (_, value) in EXAMPLE_ENV {
            assert!(!shown.contains(value), "Debug shows {value}");
        }
        assert!(!shown.contains("app-secret-value"));
    }

    #[test]
    fn the_example_documents_every_module_and_status() {
        for module in Module::ALL {
            assert!(
                EXAMPLE.contains(&format!("\n{} = ", module.name()))
                    || EXAMPLE.contains(&format!("\n# {} = ", module.name())),
                "{module}"
            );
        }
        for status in ErpStatus::ALL {
            assert!(EXAMPLE.contains(&format!("{} = \"", status.name())), "{status}");
        }
    }

    #[test]
    fn the_secrets_file_may_be_json_and_named_by_the_environment() {
        let dir = Scratch::new("json");
        let path = dir.write("conf/wharf.toml", EXAMPLE);
        let json = dir.write(
            "elsewhere/secrets.json",
            r#"{"acme_tb_app_secret": "tb-from-json", "acme_jd_app_secret": "jd-from-json"}"#,
        );
        let mut vars = EXAMPLE_ENV.to_vec();
        let json_path = json.display().to_string();
        vars.push((SECRETS_ENV, &json_path));
        let config = Config::load(&path, &EXAMPLE_PLUGINS, &env_of(&vars)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.secrets_file.as_deref(), Some(json.as_path()));
        let tb = config.tenant("acme").unwrap().shop("tb-main").unwrap();
        assert_eq!(tb.secrets.get("app_secret").unwrap().expose(), "tb-from-json");
    }

    #[test]
    fn secrets_file_problems_are_reported_once() {
        let dir = Scratch::new("nosecrets");
        let path = dir.write("wharf.toml", EXAMPLE);
        let errors = Config::load(&path, &EXAMPLE_PLUGINS, &env_of(&EXAMPLE_ENV)).unwrap_err();
        let missing = dir.0.join("secrets.toml");
        assert_eq!(errors.problems.len(), 1, "{errors}");
        assert!(
            errors.problems[0].path == "secrets_file"
                && errors.problems[0].message.starts_with(&format!("cannot read {}: ", missing.display())),
            "{errors}"
        );

        dir.write("secrets.toml", "acme_tb_app_secret = \"x-app-secret\"\n");
        let errors = Config::load(&path, &EXAMPLE_PLUGINS, &env_of(&EXAMPLE_ENV)).unwrap_err();
        assert_eq!(
            errors.to_string(),
            format!(
                "tenants.acme.shops[1].credentials.app_secret: no key \"acme_jd_app_secret\" in secrets file {}",
                missing.display()
            )
        );
    }

    #[test]
    fn plugins_can_be_found_in_the_plugin_dir() {
        let dir = Scratch::new("scan");
        let path = dir.write("wharf.toml", EXAMPLE);
        dir.write("secrets.toml", EXAMPLE_SECRETS);
        for name in ["taobao.wasm", "jd.wasm", "douyin.wasm", "notes.txt"] {
            dir.write(&format!("plugins/{name}"), "");
        }
        assert_eq!(plugins_in(&dir.0.join("plugins")).unwrap(), ["douyin", "jd", "taobao"]);
        let errors = Config::load_scanning_plugin_dir(&path, &env_of(&EXAMPLE_ENV)).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "tenants.beta.erp.plugin: no plugin named \"sap\" (available: douyin, jd, taobao)"
        );
        dir.write("plugins/sap.wasm", "");
        assert!(Config::load_scanning_plugin_dir(&path, &env_of(&EXAMPLE_ENV)).is_ok());
    }

    #[test]
    fn an_unreadable_config_file_is_one_problem() {
        let errors = Config::load(Path::new("/nonexistent/wharf.toml"), &[], &env_of(&[])).unwrap_err();
        assert_eq!(errors.problems.len(), 1);
        assert_eq!(errors.problems[0].path, "/nonexistent/wharf.toml");
        assert!(errors.problems[0].message.starts_with("cannot read: "));
    }

    #[test]
    fn from_toml_str_resolves_against_the_given_folder() {
        let text = "[[tenants.a.shops]]\nid = \"s\"\nplatform = \"taobao\"\nplugin = \"taobao\"\n[tenants.a.pull]\n";
        let config = Config::from_toml_str(text, Path::new("/srv/wharf"), &["taobao"], &env_of(&[])).unwrap();
        assert_eq!(config.data_dir, Path::new("/srv/wharf/data"));
        let errors = Config::from_toml_str(text, Path::new("/srv/wharf"), &[], &env_of(&[])).unwrap_err();
        assert_eq!(errors.to_string(), "tenants.a.shops[0].plugin: no plugin named \"taobao\" (available: none)");
    }

    #[test]
    fn the_config_path_comes_from_the_flag_then_the_environment() {
        let env = env_of(&[(CONFIG_ENV, "/etc/wharf/wharf.toml")]);
        assert_eq!(config_path(Some(Path::new("w.toml")), &env), Some(PathBuf::from("w.toml")));
        assert_eq!(config_path(None, &env), Some(PathBuf::from("/etc/wharf/wharf.toml")));
        assert_eq!(config_path(None, &env_of(&[(CONFIG_ENV, "")])), None);
        assert_eq!(config_path(None, &env_of(&[])), None);
    }
}
