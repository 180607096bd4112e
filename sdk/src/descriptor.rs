//! Building a plugin's [`Descriptor`]: operation names and config keys.

use crate::types::{ConfigKey, ConnectorError, Operation};

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
    }
}
