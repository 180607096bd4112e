//! A marketplace plugin that misbehaves on purpose, so Wharf's tests can show the host contains it.
//!
//! It is built against the WIT directly rather than `wharf-sdk`, so nothing between it and the
//! host smooths over what it does. `describe` is sane; `pull-orders` misbehaves in the way the
//! config key `mode` names (see [`mode::Mode`] for the list); every other export answers
//! `unsupported`. Each test runs one mode and asserts the host turns it into an error for that
//! call only, then keeps serving (mode `ok`).

wit_bindgen::generate!({ path: "../../../wit/since_v0.1.0", world: "marketplace" });

mod ambient;
mod exhaust;
mod measure;
mod mode;
mod poison;
mod secret_attack;
mod secret_probe;

use exports::wharf::connector::marketplace_connector::Guest;
use mode::Mode;
use wharf::connector::types::{
    ConfigKey, ConnectorError, CustomerMapping, Descriptor, ErpStatus, FieldError, ItemResult, ListingChange,
    Logistics, LotSync, Operation, Order, OrderPage, PlatformError, PriceUpdate, Product, Role, ShipmentDetail,
    StockUpdate, TimeWindow,
};

/// The contract version this plugin's bindings were generated from (`wit/since_v0.1.0`).
const WIT_VERSION: &str = "0.1.0";

/// The only host it declares. Tests grant it (or not) and aim `undeclared-host` elsewhere.
const DECLARED_HOST: &str = "allowed.test";

struct Hostile;

// Exported only on wasm: natively the export names (`wharf:connector/…#describe`) are not
// valid symbol names for the linker, and natively the crate is only built and unit-tested.
#[cfg(target_arch = "wasm32")]
export!(Hostile);

impl Guest for Hostile {
    fn describe() -> Descriptor {
        Descriptor {
            name: "hostile".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            platform: "hostile".to_owned(),
            role: Role::Marketplace,
            wit_version: WIT_VERSION.to_owned(),
            operations: vec![Operation::PullOrders],
            http_hosts: vec![DECLARED_HOST.to_owned()],
            config_keys: vec![
                config_key("mode", "Which misbehaviour `pull-orders` performs", true),
                config_key("target", "`host[:port]` that mode `undeclared-host` tries to reach", false),
                config_key("calls", "How many requests mode `host-calls` makes (100 by default)", false),
                config_key("echo_url", "URL of the test's echo server, for mode `secret-bytes`", false),
                config_key("needle_xor", "Hex of the secret's bytes each XOR 0x5A, for mode `secret-bytes`", false),
                ConfigKey {
                    name: secret_probe::SECRET_NAME.to_owned(),
                    description: "The secret mode `secret-bytes` tries to read".to_owned(),
                    secret: true,
                    required: false,
                    default_value: None,
                },
            ],
        }
    }

    fn pull_orders(_window: TimeWindow, _cursor: Option<String>) -> Result<OrderPage, ConnectorError> {
        match Mode::from_config()? {
            Mode::Loop => exhaust::spin(),
            Mode::Memory => exhaust::hoard_memory(),
            Mode::Recursion => exhaust::recurse_without_end(),
            Mode::UndeclaredHost => ambient::reach_undeclared_host(),
            Mode::Env => ambient::probe_ambient_authority(),
            Mode::SecretBytes => secret_probe::hunt_secret(),
            Mode::HugeOutput => Ok(exhaust::oversized_page(exhaust::HUGE_OUTPUT_BYTES)),
            Mode::BigOutput => Ok(exhaust::oversized_page(exhaust::BIG_OUTPUT_BYTES)),
            Mode::Panic => panic!("hostile plugin panicked on purpose"),
            Mode::Ok => Ok(empty_page()),
            Mode::PoisonInstant => poison::instant(),
            Mode::PoisonId => poison::nul_id(),
            Mode::PoisonMoney => poison::money(),
            Mode::PoisonDuplicate => poison::duplicate(),
            Mode::LogFlood => poison::flood(),
            Mode::LogForge => poison::forge(),
            Mode::FakePanic => poison::fake_panic(),
            Mode::PlaceholderFlood => secret_attack::flood(),
            Mode::EchoEncodings => secret_attack::echo_encodings(),
            Mode::SecretElsewhere => secret_attack::secret_elsewhere(),
            Mode::HostCalls => measure::host_calls(),
        }
    }

    fn get_order(_order_id: String) -> Result<Order, ConnectorError> {
        Err(unsupported("get-order"))
    }

    fn push_stock(_updates: Vec<StockUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
        Err(unsupported("push-stock"))
    }

    fn push_prices(_updates: Vec<PriceUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
        Err(unsupported("push-prices"))
    }

    fn push_lots(_updates: Vec<LotSync>) -> Result<Vec<ItemResult>, ConnectorError> {
        Err(unsupported("push-lots"))
    }

    fn push_listing(_changes: Vec<ListingChange>) -> Result<Vec<ItemResult>, ConnectorError> {
        Err(unsupported("push-listing"))
    }

    fn push_products(_products: Vec<Product>) -> Result<Vec<ItemResult>, ConnectorError> {
        Err(unsupported("push-products"))
    }

    fn push_customers(_mappings: Vec<CustomerMapping>) -> Result<Vec<ItemResult>, ConnectorError> {
        Err(unsupported("push-customers"))
    }

    fn push_logistics(_updates: Vec<Logistics>) -> Result<Vec<ItemResult>, ConnectorError> {
        Err(unsupported("push-logistics"))
    }

    fn push_shipments(_details: Vec<ShipmentDetail>) -> Result<Vec<ItemResult>, ConnectorError> {
        Err(unsupported("push-shipments"))
    }

    fn push_erp_status(_updates: Vec<ErpStatus>) -> Result<Vec<ItemResult>, ConnectorError> {
        Err(unsupported("push-erp-status"))
    }
}

fn config_key(name: &str, description: &str, required: bool) -> ConfigKey {
    ConfigKey {
        name: name.to_owned(),
        description: description.to_owned(),
        secret: false,
        required,
        default_value: None,
    }
}

/// A finished window with no orders.
fn empty_page() -> OrderPage {
    OrderPage { orders: Vec::new(), next_cursor: None }
}

fn unsupported(operation: &str) -> ConnectorError {
    ConnectorError::Unsupported(operation.to_owned())
}

fn platform_error(code: &str, message: String) -> ConnectorError {
    ConnectorError::Platform(PlatformError { code: code.to_owned(), message })
}

fn invalid_input(field: &str, reason: String) -> ConnectorError {
    ConnectorError::InvalidInput(FieldError { field: field.to_owned(), reason })
}

/// A config value a mode cannot work without.
fn required_config(key: &str, expected: &str) -> Result<String, ConnectorError> {
    wharf::connector::config::get(key).ok_or_else(|| invalid_input(key, format!("expected {expected}, got no value")))
}
