//! The Wharf SDK: what a connector plugin needs besides its own mapping.
//!
//! A plugin is a type that implements the exported interface of its world and is exported
//! with one macro:
//!
//! ```ignore
//! use wharf_sdk::marketplace::Guest;
//! use wharf_sdk::types::*;
//!
//! struct Taobao;
//! impl Guest for Taobao { /* describe, pull_orders, ... */ }
//! wharf_sdk::export_marketplace!(Taobao);
//! ```
//!
//! Around that:
//! - [`types`]: the canonical model (orders, prices, errors…), generated from the WIT.
//! - [`http`], [`config`], [`credentials`], [`log`]: what the host lends the plugin. Secrets
//!   never enter the sandbox: requests and messages to sign carry `{{secret:NAME}}`
//!   placeholders that the host fills in.
//! - [`money`], [`time`]: exact yuan ↔ fen, platform time formats ↔ UTC ms.
//! - [`decimal`]: decimal strings read by value (`"40.00000000000000"` is 40), exactly.
//! - [`json`]: reading platform JSON with exact ids and errors that name the field's path.
//! - [`signing`]: sorted parameters, the strings platforms sign, compact sorted JSON, form
//!   encoding, and the TOP signing scheme.
//! - [`mask`]: receiver masking; [`privacy`]: display values never ciphertexts, every
//!   ciphertext labelled in `privacy_ref`.
//! - [`envelope`], [`batch`], [`apportion`]: TOP-style answer envelopes, pushing item by item,
//!   splitting an order amount over lines exactly.
//! - [`connector`]: a marketplace trait whose operations default to `unsupported`.
//! - [`gateway`]: the signed-gateway kit: standard settings, the host [`api::Api`] that signs,
//!   sends and opens the envelope, the config keys, and the error-code table (see below).
//! - [`descriptor!`]: the descriptor builder, which fills the plugin's version and the
//!   contract version.
//! - [`odata`]: OData v2 query options, envelopes and `$top`/`$skip` paging for ERP plugins.
//! - `testing` (feature `testing`): what plugins' unit tests share (a config from pairs,
//!   the scripted [`api::Api`]).
//! - [`settings`]: the config keys plugins share, and endpoint checking.
//! - [`price`]: which canonical price kinds a platform takes.
//! - [`xml`]: writing XML documents (SAP IDocs) with correct escaping.
//! - [`allocator`]: the allocator plugins use inside the sandbox (size classes, free lists).
//! - [`api`]: the one-call seam between a plugin's logic and the host (and a test double).
//! - [`paging`]: the walk over a time window every marketplace `pull-orders` and
//!   `pull-after-sales` shares.
//! - [`stored`]: which listed orders the host already stores at their listed time (0.4.0), so
//!   only what changed is fetched in full.
//! - [`after_sale`]: what after-sales and decrypt share: refusals need a reason, the decrypt
//!   batch limit, the platform status as sent, virtual phones split into number + extension.
//! - [`invoice`]: what `push-invoices` shares: checks, yuan, the issue date, and the failure
//!   when a platform wants the file's content but the invoice names a URL.
//! - [`reject`]: one bad record set aside with its id, field, reason and a masked excerpt,
//!   instead of failing its page.
//! - [`status`]: status tables that name the field and the known values on a miss.
//! - [`error`]: [`types::ConnectorError`] constructors and conversions from host errors.
//! - `fuzz` (feature `fuzz`): mutated answers and the oracle plugins' fuzz tests hold their
//!   mapping to.
//!
//! Everything that does not call the host is plain Rust and tested natively; the generated
//! host imports compile natively too but must only be called inside wasm.
//!
//! # A new platform on the gateway kit
//!
//! A marketplace whose API is one signed gateway writes its signing scheme, its envelope and
//! its error table ([`gateway::SignedGateway`], [`gateway::ErrorTable`]), then its mapping;
//! settings, secrets, the host call and the descriptor's keys come from the kit:
//!
//! ```ignore
//! pub type HostApi = wharf_sdk::gateway::HostGateway<Acme>; // impl SignedGateway for Acme
//!
//! pub fn descriptor() -> Descriptor {
//!     wharf_sdk::descriptor!("acme", Role::Marketplace)
//!         .operations(&[Operation::PullOrders])
//!         .http_hosts(&["api.acme.example"])
//!         .config_keys(gateway::config_keys::<Acme>())
//!         .build()
//! }
//!
//! impl Marketplace for AcmeConnector {
//!     fn describe() -> Descriptor { descriptor() }
//!     fn pull_orders(window: TimeWindow, cursor: Option<String>) -> Result<OrderPage, ConnectorError> {
//!         HostApi::run(|api, shop_id| pull::pull_orders(api, api.settings.page_size, shop_id, &window, cursor.as_deref()))
//!     }
//! }
//! ```
//!
//! Its unit tests read settings from `testing::lookup(&[("app_key", "1")])` and answer calls
//! from `testing::Scripted`. An ERP speaking OData v2 reads its collections with
//! [`odata::SkipPages`] and [`odata::collection`].

// Lets the generated bindings and export macros name this crate the same way from inside it
// and from a plugin.
extern crate self as wharf_sdk;

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// Bindings of the `marketplace` world (Taobao, JD, Douyin, ECShop).
pub mod marketplace {
    wit_bindgen::generate!({
        path: "../wit/since_v0.4.0",
        world: "marketplace",
        // The export macro expands in the plugin crate, which carries the exports' type
        // section; this crate only carries the imports, shared by both worlds.
        pub_export_macro: true,
        default_bindings_module: "wharf_sdk::marketplace",
        runtime_path: "wharf_sdk::__wit_bindgen::rt",
        additional_derives: [PartialEq, Eq],
    });
    pub use self::exports::wharf::connector::marketplace_connector::Guest;
}

/// Bindings of the `erp` world (SAP). Its types and imports are those of [`marketplace`].
pub mod erp {
    wit_bindgen::generate!({
        path: "../wit/since_v0.4.0",
        world: "erp",
        pub_export_macro: true,
        default_bindings_module: "wharf_sdk::erp",
        runtime_path: "wharf_sdk::__wit_bindgen::rt",
        with: {
            "wharf:connector/types@0.4.0": crate::marketplace::wharf::connector::types,
            "wharf:connector/http@0.4.0": crate::marketplace::wharf::connector::http,
            "wharf:connector/credentials@0.4.0": crate::marketplace::wharf::connector::credentials,
            "wharf:connector/config@0.4.0": crate::marketplace::wharf::connector::config,
            "wharf:connector/log@0.4.0": crate::marketplace::wharf::connector::log,
        },
    });
    pub use self::exports::wharf::connector::erp_connector::Guest;
}

/// Exports a type implementing [`marketplace::Guest`] as the plugin's component exports.
///
/// Only in wasm builds: a native build of the plugin (its tests, benchmarks running the same
/// mapping code) has no component to export to, and export names such as
/// `wharf:connector/marketplace-connector@0.2.0#describe` break native linkers.
#[macro_export]
macro_rules! export_marketplace {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::marketplace::export!($ty with_types_in $crate::marketplace);
    };
}

/// Exports a type implementing [`erp::Guest`] as the plugin's component exports (only in wasm
/// builds, see [`export_marketplace!`]).
#[macro_export]
macro_rules! export_erp {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::erp::export!($ty with_types_in $crate::erp);
    };
}

/// The version a plugin describes itself as: its crate's version, unless the build sets
/// `WHARF_PLUGIN_VERSION` (the same source built again under another version, as the tests do
/// to rehearse a hot swap between two real builds).
#[macro_export]
macro_rules! plugin_version {
    () => {
        match option_env!("WHARF_PLUGIN_VERSION") {
            Some(version) => version,
            None => env!("CARGO_PKG_VERSION"),
        }
    };
}

pub use marketplace::wharf::connector::types;
pub use marketplace::wharf::connector::{credentials, log};

pub mod after_sale;
pub mod allocator;
pub mod api;
pub mod apportion;
pub mod batch;
pub mod config;
pub mod connector;
pub mod decimal;
pub mod descriptor;
pub mod envelope;
pub mod error;
#[cfg(any(test, feature = "fuzz"))]
pub mod fuzz;
pub mod gateway;
pub mod http;
pub mod invoice;
pub mod json;
pub mod mask;
pub mod money;
pub mod odata;
pub mod paging;
pub mod price;
pub mod privacy;
pub mod reject;
pub mod settings;
pub mod signing;
pub mod status;
pub mod stored;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
pub mod xml;

/// Every plugin allocates through [`allocator::SizeClasses`] inside the sandbox (one thread
/// per instance: not where wasm has threads); natively, in tests, the system's allocator.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: allocator::SizeClasses = allocator::SizeClasses::new();
