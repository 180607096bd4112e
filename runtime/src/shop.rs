//! The shop a call works for: its identity, configuration, secrets and grants. Everything a
//! host capability consults comes from here, so two shops (or two tenants) share nothing.

use crate::capability::credentials::Secrets;
use crate::capability::grants::HostGrants;
use crate::capability::log::LogBudget;
use crate::capability::stored::Stored;
use crate::quota::TenantQuota;
use crate::ratelimit::RateLimiter;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One shop of one tenant, as the host runs it. Cheap to clone; the rate limiter is shared by
/// every call of the shop.
#[derive(Clone, Debug)]
pub struct Shop {
    pub tenant: String,
    pub shop_id: String,
    /// Non-secret configuration, readable by the plugin.
    pub config: BTreeMap<String, String>,
    /// Secret values, never readable by the plugin.
    pub secrets: Arc<Secrets>,
    /// Hosts the operator granted to this shop's plugin.
    pub grants: Arc<HostGrants>,
    pub rate_limiter: Arc<RateLimiter>,
    /// Lines and bytes its plugin may log, shared by every call of the shop.
    pub log_budget: Arc<LogBudget>,
    /// The tenant's quota, shared by all its shops; `None`: unlimited (tools, tests).
    pub quota: Option<Arc<TenantQuota>>,
    /// What the host stores for the shop, as its plugin may ask
    /// ([`crate::capability::stored`]); `None`: nothing (tools, tests), so a plugin fetches
    /// everything it lists.
    pub stored: Option<Arc<dyn Stored>>,
}

impl Shop {
    pub fn new(tenant: impl Into<String>, shop_id: impl Into<String>) -> Self {
        Shop {
            tenant: tenant.into(),
            shop_id: shop_id.into(),
            config: BTreeMap::new(),
            secrets: Arc::new(Secrets::default()),
            grants: Arc::new(HostGrants::default()),
            rate_limiter: Arc::new(RateLimiter::default()),
            log_budget: Arc::new(LogBudget::default()),
            quota: None,
            stored: None,
        }
    }

    pub fn with_config(mut self, config: BTreeMap<String, String>) -> Self {
        self.config = config;
        self
    }

    pub fn with_secrets(mut self, secrets: Secrets) -> Self {
        self.secrets = Arc::new(secrets);
        self
    }

    pub fn with_grants(mut self, grants: HostGrants) -> Self {
        self.grants = Arc::new(grants);
        self
    }

    pub fn with_quota(mut self, quota: Arc<TenantQuota>) -> Self {
        self.quota = Some(quota);
        self
    }

    pub fn with_stored(mut self, stored: Arc<dyn Stored>) -> Self {
        self.stored = Some(stored);
        self
    }

    pub fn with_rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.rate_limiter = Arc::new(limiter);
        self
    }
}
