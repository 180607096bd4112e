//! Building a plugin's [`Descriptor`]: operation names, config keys, and the [`Builder`] that
//! fills what every plugin would otherwise write by hand (its version and the contract
//! version, which no plugin should be able to get wrong).

use crate::connector::WIT_VERSION;
use crate::types::{BatchLimit, ConfigKey, ConnectorError, Descriptor, Operation, Role};

/// A [`Builder`] for the calling plugin: its version is the plugin crate's
/// ([`plugin_version!`](crate::plugin_version), so it has to expand in the plugin), the
/// contract version the SDK's.
///
/// ```ignore
/// wharf_sdk::descriptor!("jd", Role::Marketplace)
///     .operations(&[Operation::PullOrders])
///     .http_hosts(&["api.jd.com"])
///     .build()
/// ```
#[macro_export]
macro_rules! descriptor {
    ($name:expr, $role:expr) => {
        $crate::descriptor::Builder::new($name, $role, $crate::plugin_version!())
    };
}

/// Builds a [`Descriptor`]: name (the platform too unless [`Builder::platform`] says
/// otherwise), role and version given, contract version filled, the rest added.
#[derive(Debug, Clone)]
pub struct Builder {
    descriptor: Descriptor,
}

impl Builder {
    /// Prefer [`descriptor!`](crate::descriptor!), which passes the plugin's own version.
    pub fn new(name: &str, role: Role, version: &str) -> Self {
        Self {
            descriptor: Descriptor {
                name: name.to_owned(),
                version: version.to_owned(),
                platform: name.to_owned(),
                role,
                wit_version: WIT_VERSION.to_owned(),
                operations: Vec::new(),
                http_hosts: Vec::new(),
                config_keys: Vec::new(),
                batch_limits: Vec::new(),
            },
        }
    }

    /// The platform, when the plugin's name is not it.
    pub fn platform(mut self, platform: &str) -> Self {
        self.descriptor.platform = platform.to_owned();
        self
    }

    /// What the plugin implements; everything else answers `unsupported`.
    pub fn operations(mut self, operations: &[Operation]) -> Self {
        self.descriptor.operations.extend_from_slice(operations);
        self
    }

    /// Hosts the operator grants for every shop (a plugin whose hosts are per shop, like a
    /// merchant's own site, declares none).
    pub fn http_hosts(mut self, hosts: &[&str]) -> Self {
        self.descriptor.http_hosts.extend(hosts.iter().map(|h| (*h).to_owned()));
        self
    }

    /// Settings, in the order an operator reads them.
    pub fn config_keys(mut self, keys: impl IntoIterator<Item = ConfigKey>) -> Self {
        self.descriptor.config_keys.extend(keys);
        self
    }

    /// The most items one call of `operation` takes (the platform's own limit); the host
    /// splits larger batches.
    pub fn batch_limit(mut self, operation: Operation, max_items: u32) -> Self {
        self.descriptor.batch_limits.push(BatchLimit { operation, max_items });
        self
    }

    pub fn build(self) -> Descriptor {
        self.descriptor
    }
}

impl Operation {
    /// The operation's WIT name (`push-lots`), as `unsupported` carries it.
    pub fn name(self) -> &'static str {
        match self {
            Self::PullOrders => "pull-orders",
            Self::GetOrder => "get-order",
            Self::PushStock => "push-stock",
            Self::PushPrices => "push-prices",
            Self::PushLots => "push-lots",
            Self::PushListing => "push-listing",
            Self::PushProducts => "push-products",
            Self::PushCustomers => "push-customers",
            Self::PushLogistics => "push-logistics",
            Self::PushShipments => "push-shipments",
            Self::PushErpStatus => "push-erp-status",
            Self::PushOrders => "push-orders",
            Self::PullStock => "pull-stock",
            Self::PullPrices => "pull-prices",
            Self::PullLots => "pull-lots",
            Self::PullProducts => "pull-products",
            Self::PullCustomers => "pull-customers",
            Self::PullLogistics => "pull-logistics",
            Self::PullShipments => "pull-shipments",
            Self::PullErpStatus => "pull-erp-status",
            Self::PullAfterSales => "pull-after-sales",
            Self::GetAfterSale => "get-after-sale",
            Self::PushAfterSaleActions => "push-after-sale-actions",
            Self::DecryptReceivers => "decrypt-receivers",
            Self::PushInvoices => "push-invoices",
            Self::PushAfterSales => "push-after-sales",
            Self::PullInvoices => "pull-invoices",
        }
    }
}

impl ConnectorError {
    /// What an operation the plugin does not implement answers.
    pub fn unsupported(operation: Operation) -> Self {
        Self::Unsupported(operation.name().to_owned())
    }
}

impl ConfigKey {
    /// A setting the operator must give.
    pub fn required(name: &str, description: &str) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            secret: false,
            required: true,
            default_value: None,
        }
    }

    /// A setting with a default.
    pub fn with_default(name: &str, description: &str, default: &str) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            secret: false,
            required: false,
            default_value: Some(default.to_owned()),
        }
    }

    /// A setting that may be left out, with no default: its absence means something (no
    /// plant filter, no IDoc partner).
    pub fn optional(name: &str, description: &str) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            secret: false,
            required: false,
            default_value: None,
        }
    }

    /// A required secret, held by the host only.
    pub fn secret(name: &str, description: &str) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            secret: true,
            required: true,
            default_value: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kebab_case() {
        assert_eq!(Operation::PushErpStatus.name(), "push-erp-status");
        assert!(matches!(
            ConnectorError::unsupported(Operation::PushLots),
            ConnectorError::Unsupported(op) if op == "push-lots"
        ));
    }

    #[test]
    fn config_keys() {
        let key = ConfigKey::secret("app_secret", "TOP app secret");
        assert!(key.secret && key.required && key.default_value.is_none());
        let key = ConfigKey::with_default("page_size", "rows per page", "50");
        assert_eq!(key.default_value.as_deref(), Some("50"));
        assert!(!key.required);
        let key = ConfigKey::optional("plant", "plant filter");
        assert!(!key.required && !key.secret && key.default_value.is_none());
    }

    #[test]
    fn the_builder_fills_the_versions() {
        let d = crate::descriptor!("taobao", Role::Marketplace)
            .operations(&[Operation::PullOrders])
            .http_hosts(&["eco.taobao.com"])
            .config_keys([ConfigKey::required("app_key", "app key")])
            .build();
        assert_eq!((d.name.as_str(), d.platform.as_str(), d.role), ("taobao", "taobao", Role::Marketplace));
        assert_eq!((d.version.as_str(), d.wit_version.as_str()), (env!("CARGO_PKG_VERSION"), WIT_VERSION));
        assert_eq!((d.operations.len(), d.http_hosts.len(), d.config_keys.len()), (1, 1, 1));
        assert_eq!(Builder::new("x", Role::Erp, "1.0.0").platform("y").build().platform, "y");
    }
}
