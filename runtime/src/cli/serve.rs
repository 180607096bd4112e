//! `wharf serve`: every tenant of a configuration, until SIGINT or SIGTERM.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use serde_json::json;
use wharf_runtime::Sandbox;
use wharf_runtime::api::Api;
use wharf_runtime::config::{self, Config, LogFormat, StoreLocation, tenant_document};
use wharf_runtime::limits::Limits;
use wharf_runtime::registry::{FolderWatch, Policy, Registry, TrustedKeys};
use wharf_runtime::store::Store;
use wharf_runtime::sync::scheduler::{Options, Origin, Scheduler};

use super::{EXIT_HOST, EXIT_USAGE};

/// The operator's bootstrap token: whoever holds it may do everything over the API (and make
/// tenant tokens). `wharf serve` refuses to start without it (an API that answers 401 to
/// everything looks like a broken host), unless `--without-operator-token` says only tenant
/// tokens made before are to be accepted.
pub const OPERATOR_TOKEN_ENV: &str = "WHARF_OPERATOR_TOKEN";

/// What `serve` says when the operator's token is missing: the cause and the fix.
fn no_operator_token() -> String {
    format!(
        "{OPERATOR_TOKEN_ENV} is not set, so the API would refuse every request with 401. Set it before \
         starting: `export {OPERATOR_TOKEN_ENV}=$(openssl rand -hex 32)`, then use the same value as the CLI's \
         token (`export WHARF_TOKEN=${OPERATOR_TOKEN_ENV}`). To serve with tenant tokens made before only, \
         give --without-operator-token."
    )
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The configuration file (default: $WHARF_CONFIG). See runtime/src/config/example.toml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// How often to log a progress line per shop, e.g. 5s, 1m; "off" for never.
    #[arg(long, default_value = "5s")]
    progress_every: String,
    /// How often the delivery and push loops look for due work while there is some, in
    /// milliseconds; an idle loop looks less often (up to every 2 s) and is woken at once when
    /// work is queued on this node.
    #[arg(long, default_value_t = wharf_runtime::sync::scheduler::DEFAULT_TICK.as_millis() as u64)]
    tick_ms: u64,
    /// Start without WHARF_OPERATOR_TOKEN: only tenant tokens made before are accepted, and no
    /// one can do what only the operator may (tenants, plugins, tokens).
    #[arg(long)]
    without_operator_token: bool,
}

/// A loaded configuration with everything it names ready to run.
pub struct Prepared {
    pub config: Config,
    pub scheduler: Scheduler,
    /// The plugin folder, watched for new versions while serving.
    pub folder: FolderWatch,
}

/// Reads the configuration, opens its store and plugin registry (admitting what the plugin
/// folder holds that the registry has not seen), and sets up every tenant: the file's and
/// those made over the API. Any problem is an error naming the file, the plugin or the folder.
pub async fn prepare(config_path: &Path, cache_dir: Option<PathBuf>, options: Options) -> anyhow::Result<Prepared> {
    let env = |k: &str| std::env::var(k).ok();
    let config = Config::load_deferring_plugins(config_path, &env).map_err(|e| anyhow!("{e}"))?;
    for old in &config.deprecated {
        tracing::warn!(file = %config_path.display(), "{old}");
    }
    let trusted = TrustedKeys::parse(&config.trusted_keys).map_err(|e| anyhow!("trusted_keys: {e}"))?;
    let policy = Policy {
        require_signed: config.require_signed_plugins,
        trusted,
        grant_folder_hosts: config.grant_plugin_dir_hosts,
    };
    // Nothing to run at all: refused before anything is made on disk for it.
    let maybe_empty = config.tenants.is_empty() && !config.allow_empty;
    if maybe_empty && !config.data_dir.exists() {
        return Err(anyhow!(nothing_to_serve(config_path, &config.data_dir)));
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data folder {}", config.data_dir.display()))?;
    let store = match &config.store {
        StoreLocation::Sled(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating the store's folder {}", dir.display()))?;
            Store::open(dir)
                .with_context(|| format!("opening the store in {} (is another wharf serving it?)", dir.display()))?
        }
        StoreLocation::Postgres(url) => {
            let (url, data_dir) = (url.clone(), config.data_dir.clone());
            tokio::task::spawn_blocking(move || Store::open_postgres(&url, &data_dir))
                .await?
                .with_context(|| format!("opening the store on {}", config.store))?
        }
    };
    tracing::info!(store = %config.store, "store open");
    if maybe_empty && store.tenants().all()?.is_empty() {
        return Err(anyhow!(nothing_to_serve(config_path, &config.data_dir)));
    }
    let sandbox = Sandbox::new(Limits::default(), cache_dir)?;
    let started = std::time::Instant::now();
    let registry = Registry::open(sandbox, store.clone(), &config.data_dir, policy)
        .await
        .context("opening the plugin registry")?;
    let mut folder = FolderWatch::new(&config.plugin_dir);
    folder.scan_at_start(&registry).await;
    for summary in registry.list() {
        tracing::info!(plugin = %summary.name, version = %summary.active, "plugin ready");
    }
    tracing::info!(
        plugins = registry.names().len(),
        took_ms = started.elapsed().as_millis() as u64,
        "plugin registry ready"
    );
    config.check_plugins(&registry.names()).map_err(|e| anyhow!("{e}"))?;
    let scheduler = Scheduler::with_registry(registry.clone(), store.clone(), options);
    let control = scheduler.control();
    for tenant in config.tenants() {
        control.apply(tenant, Origin::Config).await?;
    }
    for (id, doc) in store.tenants().all()? {
        if config.tenant(&id).is_some() {
            tracing::warn!(tenant = %id, "a tenant made over the API has the id of one in the configuration file; the file's runs");
            continue;
        }
        let applied = match tenant_document::tenant(&doc, &registry.names()) {
            Ok(tenant) => control.apply(&tenant, Origin::Api).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = applied {
            tracing::error!(tenant = %id, error = %e, "a tenant made over the API cannot run; fix it with PUT /v1/tenants/{id}");
        }
    }
    Ok(Prepared { config, scheduler, folder })
}

/// Why a host with no tenant in its file and none made over the API does not start, and the
/// two ways out. Such a host would run nothing on an empty store: far more often a wrong
/// `--config` (an empty file) or `data_dir` than a wish, so the wish is said in the file. A
/// tenant-less file over a store that holds tenants made over the API is a host that serves
/// them, and starts as it did.
fn nothing_to_serve(config_path: &Path, data_dir: &Path) -> String {
    format!(
        "{} declares no tenant and the store in {} holds none made over the API, so this host would serve nothing. \
         Declare a tenant in the file ([tenants.<id>]: runtime/src/config/example.toml shows every option), or, if its \
         tenants are to be made over the API (POST /v1/tenants, `wharf tenant create`), say so with \
         `allow_empty = true` at the top of the file.",
        config_path.display(),
        data_dir.display()
    )
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Parses "5s", "1m", "off".
pub fn every(text: &str) -> Result<Option<Duration>, String> {
    config::Interval::parse(text).map(config::Interval::every)
}

pub async fn serve(args: ServeArgs, log_json: bool, cache_dir: Option<PathBuf>) -> ExitCode {
    let env = |k: &str| std::env::var(k).ok();
    let usage = |message: String| {
        eprintln!("{}", json!({"error": "usage", "message": message}));
        ExitCode::from(EXIT_USAGE)
    };
    let operator_token = std::env::var(OPERATOR_TOKEN_ENV).ok().filter(|t| !t.trim().is_empty());
    if operator_token.is_none() && !args.without_operator_token {
        return usage(no_operator_token());
    }
    let Some(path) = config::config_path(args.config.as_deref(), &env) else {
        return usage(format!("no configuration: give --config PATH or set {}", config::CONFIG_ENV));
    };
    let progress_every = match every(&args.progress_every) {
        Ok(e) => e,
        Err(e) => return usage(format!("--progress-every: {e}")),
    };
    // The log format may come from the file, so peek at it before anything logs; a file
    // that does not load is reported below, in full.
    let json_logs = log_json
        || Config::load_deferring_plugins(&path, &env).map(|c| c.log_format == LogFormat::Json).unwrap_or(false);
    super::init_tracing(json_logs, "info");
    let options = Options { tick: Duration::from_millis(args.tick_ms.max(1)), progress_every, ..Options::default() };
    let prepared = match prepare(&path, cache_dir, options).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "{}",
                json!({"error": "config", "config": path.display().to_string(), "message": format!("{e:#}")})
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if operator_token.is_none() {
        tracing::warn!(
            "serving without {OPERATOR_TOKEN_ENV} (--without-operator-token): only tenant tokens made before are accepted"
        );
    }
    let api = Api::new(prepared.scheduler.control(), operator_token.as_deref())
        .with_config_tenants(prepared.config.tenants.clone());
    let listener = match tokio::net::TcpListener::bind(prepared.config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "{}",
                json!({"error": "listen", "message": format!("cannot listen on {}: {e}", prepared.config.listen)})
            );
            return ExitCode::from(EXIT_HOST);
        }
    };
    let address = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(config = %path.display(), data_dir = %prepared.config.data_dir.display(), api = %address, "wharf serve started; stop with Ctrl-C or SIGTERM");
    // One signal stops both: the API stops taking requests (readyz says so first), the
    // engine lets its calls finish and flushes the store.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    tokio::spawn(prepared.folder.run(prepared.scheduler.control().registry().clone(), stop_rx.clone()));
    let control = prepared.scheduler.control();
    tokio::spawn({
        let (tenants, stop) = (prepared.config.tenants.clone(), stop_rx.clone());
        async move { control.follow(tenants, stop).await }
    });
    let ready = api.readiness();
    let api_stop = stopped(stop_rx.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, api.router())
            .with_graceful_shutdown(async move {
                api_stop.await;
                ready.store(false, std::sync::atomic::Ordering::Relaxed);
            })
            .await
    });
    let outcome = prepared.scheduler.run(stopped(stop_rx)).await;
    if let Ok(Err(e)) = server.await {
        tracing::warn!(error = %e, "the API server stopped with an error");
    }
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", json!({"error": "store", "message": e.to_string()}));
            ExitCode::from(EXIT_HOST)
        }
    }
}
