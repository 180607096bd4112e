//! The HTTP API `wharf serve` answers on: what operators, their scripts and merchants' ERPs
//! call. `/openapi.json` describes every route; the modules hold them by concern:
//!
//! - [`plugins`]: upload, list, versions, activate, roll back, pins, grants (operator only);
//! - [`tenants`]: tenants and shops (credentials write-only), tokens;
//! - [`erp`]: the ERP side of seed 002: orders by query and their acks, updates of every kind,
//!   spreadsheets in and out;
//! - [`operations`]: switches, holds, dead letters;
//! - [`body`]: bodies over [`MAX_BODY_BYTES`] refused with a 413 the client hears;
//! - [`extract`]: bodies, queries and paths read strictly (unknown fields and query
//!   parameters, out-of-range limits, other content types refused), and every error answer
//!   in the one JSON shape of [`ApiError`];
//! - `/metrics`, `/healthz`, `/readyz` here.
//!
//! A write is answered only once it is on disk: every request that may change something (any
//! method but GET and HEAD) and succeeds waits for a flush covering it before its answer goes
//! out ([`durable_answers`], one group commit shared by every writer: see
//! [`crate::store::commit`]). If that flush fails, the answer is 503 instead, and the change
//! is not kept. The same holds for the orders an ERP reads: they are on disk before it sees
//! them, so the version it acknowledges can never come back with other content.
//!
//! Every `/v1/…` route needs a bearer token: the operator's, or one scoped to a tenant. A
//! tenant token reaching for another tenant gets 404, as if the tenant did not exist, so a
//! token cannot even learn which tenants there are; operator-only routes answer it 403.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{OpenApi as _, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::{ConfigErrors, Tenant};
use crate::registry::RegistryError;
use crate::store::{Scope, StoreError, tokens};
use crate::sync::intake::Intake;
use crate::sync::scheduler::{Control, SetupError};

pub mod after_sales;
pub mod body;
pub mod erp;
pub mod extract;
pub mod modules;
pub mod openapi;
pub mod operations;
pub mod plugins;
pub mod receivers;
pub mod tenants;

/// The audit log of changes that concern every tenant, such as plugin versions (tenant ids
/// cannot contain `*`).
pub const OPERATOR_LOG: &str = "*operator";

/// Largest request body: a plugin upload. Real plugins are 1–5 MB; 64 MiB leaves room for a
/// debug build and a large spreadsheet while keeping one request from filling memory. Past it,
/// 413 `too_large` (see [`body`]).
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// What the handlers share; cheap to clone.
#[derive(Clone)]
pub struct Api {
    control: Control,
    /// Tenants of the configuration file: served read-only.
    config_tenants: Arc<BTreeMap<String, Tenant>>,
    /// The SHA-256 of the operator's bootstrap token (`WHARF_OPERATOR_TOKEN`), if one is set.
    operator: Option<[u8; 32]>,
    ready: Arc<AtomicBool>,
    /// Decrypt requests per second per tenant (see [`receivers::DECRYPTS_PER_SECOND`]).
    decrypts: Arc<crate::ratelimit::RateLimiter>,
}

impl Api {
    pub fn new(control: Control, operator_token: Option<&str>) -> Self {
        Api {
            control,
            config_tenants: Arc::default(),
            operator: operator_token.map(tokens::hash),
            ready: Arc::new(AtomicBool::new(true)),
            decrypts: Arc::new(crate::ratelimit::RateLimiter::new(receivers::DECRYPTS_PER_SECOND)),
        }
    }

    /// The tenants of the configuration file (read-only over the API).
    pub fn with_config_tenants(mut self, tenants: BTreeMap<String, Tenant>) -> Self {
        self.config_tenants = Arc::new(tenants);
        self
    }

    /// Set false while the host is stopping: `/readyz` answers 503 so load balancers move on.
    pub fn readiness(&self) -> Arc<AtomicBool> {
        self.ready.clone()
    }

    pub fn router(self) -> axum::Router {
        let (router, _) = routes().split_for_parts();
        router
            .merge(crate::console::router())
            .layer(axum::middleware::from_fn(extract::strict_query))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(axum::middleware::from_fn_with_state(self.clone(), durable_answers))
            .layer(axum::middleware::from_fn(extract::json_errors))
            .layer(axum::middleware::from_fn(body::limit))
            .with_state(self)
    }

    /// Records who did `action` in `log` (a tenant id, or [`OPERATOR_LOG`] for changes that
    /// concern every tenant). The change is made already; failing to audit it is a 500.
    fn audit(&self, caller: &Caller, log: &str, action: &str, detail: Value) -> Result<(), ApiError> {
        let entry = crate::store::AuditEntry {
            at: crate::model::Timestamp::now(),
            actor: caller.actor(),
            action: action.to_owned(),
            detail,
        };
        self.control.store().audit().record(log, &entry)?;
        Ok(())
    }

    /// The tenant `id` as it should run: from the config file, else from its stored document.
    fn desired(&self, id: &str) -> Option<Tenant> {
        self.control.desired(&self.config_tenants, id)
    }
}

/// Every route, each with its handler and what the document says of it: one list for both,
/// so the router and `/openapi.json` cannot drift apart (see [`openapi`]).
pub(crate) fn routes() -> OpenApiRouter<Api> {
    use erp::*;
    use operations::*;
    use plugins::*;
    use tenants::*;
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(openapi_json))
        .routes(routes!(whoami))
        .routes(routes!(metrics))
        .routes(routes!(list_plugins, upload_plugin))
        .routes(routes!(show_plugin))
        .routes(routes!(plugin_versions))
        .routes(routes!(activate_plugin))
        .routes(routes!(rollback_plugin))
        .routes(routes!(pin_plugin, unpin_plugin))
        .routes(routes!(grant_plugin))
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(show_tenant, update_tenant, delete_tenant))
        .routes(routes!(list_shops, add_shop))
        .routes(routes!(show_shop, update_shop, remove_shop))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(usage))
        .routes(routes!(progress))
        .routes(routes!(query_orders))
        .routes(routes!(export_orders))
        .routes(routes!(order_versions))
        .routes(routes!(ack_orders))
        .routes(routes!(after_sales::query_after_sales))
        .routes(routes!(after_sales::export_after_sales))
        .routes(routes!(after_sales::ack_after_sales))
        .routes(routes!(receivers::decrypt_receivers))
        .routes(routes!(operations::audit))
        .routes(routes!(submit_updates))
        .routes(routes!(waiting_updates))
        .routes(routes!(purge_waiting_updates))
        .routes(routes!(import_sheet))
        .routes(routes!(sheet_template))
        .routes(routes!(list_switches))
        .routes(routes!(switch_module))
        .routes(routes!(switch_sku))
        .routes(routes!(set_hold, release_hold))
        .routes(routes!(dead_letters))
        .routes(routes!(replay_all))
        .routes(routes!(replay))
        .routes(routes!(discard))
        .routes(routes!(quarantine))
        .routes(routes!(retry_quarantined))
        .routes(routes!(discard_quarantined))
        .routes(routes!(unreadable_orders))
        .routes(routes!(discard_unreadable_order))
}

/// Every error answer's body (what `ApiError` writes): the `error` kind and the `message`
/// always, and the fields some refusals add.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Error {
    #[schema(examples("invalid_input", "not_found", "rejected"))]
    pub error: String,
    pub message: String,
    /// With invalid_input: where in the body (`[0].quantiy`, `shops[1].id`), or which query or
    /// path parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// With too_large and over_quota: the bound passed (`body_bytes`, `rows`, `stored_mib`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// With `limit`: its figure, in the unit its name says; with `field`: the largest value it
    /// takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// With `field`: the least value it takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    /// With invalid_input: the query parameters the route does not take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<Vec<String>>,
    /// With `unknown`: the query parameters the route takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Vec<String>>,
    /// Every problem of a tenant document, each at its path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<String>>,
    /// With over_quota: the tenant and what it stores now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_bytes: Option<u64>,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    extra: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, kind, message: message.into(), extra: None }
    }

    fn with(mut self, extra: Value) -> Self {
        self.extra = Some(extra);
        self
    }

    fn bad_input(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    fn conflict(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.kind, "message": self.message});
        if let Some(Value::Object(extra)) = self.extra {
            body.as_object_mut().expect("an object").extend(extra);
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // What the caller sent cannot be used (a cursor of another query, a key with NUL).
            StoreError::Invalid(message) => ApiError::bad_input(message),
            // 507, not 413: the request may be one record; what is full is the tenant's share
            // of the store, and sending less will not help until it drains or is raised.
            StoreError::OverQuota { ref tenant, stored_bytes, quota_bytes } => {
                let extra = json!({"limit": "stored_mib", "max": quota_bytes >> 20, "stored_bytes": stored_bytes,
                                   "tenant": tenant});
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "over_quota", e.to_string()).with(extra)
            }
            // The disk, not the request: the same call succeeds once the host writes again.
            e if e.is_unwritable() => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", e.to_string())
            }
            e => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        let status = match &e {
            RegistryError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            RegistryError::Conflict(_) => StatusCode::CONFLICT,
            RegistryError::NotFound(_) => StatusCode::NOT_FOUND,
            RegistryError::Store(_) | RegistryError::Files { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let kind = match &e {
            RegistryError::Rejected(_) => "rejected",
            RegistryError::Conflict(_) => "conflict",
            RegistryError::NotFound(_) => "not_found",
            _ => "internal",
        };
        ApiError::new(status, kind, e.to_string())
    }
}

impl From<ConfigErrors> for ApiError {
    fn from(e: ConfigErrors) -> Self {
        let problems: Vec<String> = e.problems().iter().map(|p| p.to_string()).collect();
        ApiError::bad_input(e.to_string()).with(json!({"problems": problems}))
    }
}

impl From<SetupError> for ApiError {
    fn from(e: SetupError) -> Self {
        ApiError::bad_input(e.to_string())
    }
}

/// The caller's scope, from `Authorization: Bearer <token>`.
pub struct Caller(Scope, Option<String>);

impl FromRequestParts<Api> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, Self::Rejection> {
        let unauthorized = |why: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", why);
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return Err(unauthorized("send `Authorization: Bearer <token>`"));
        };
        if api.operator.is_some_and(|h| h == tokens::hash(token)) {
            return Ok(Caller(Scope::Operator, None));
        }
        match api.control.store().tokens().holder(token)? {
            Some(h) => Ok(Caller(h.scope, h.decrypt.then_some(h.name))),
            None => Err(unauthorized("unknown token")),
        }
    }
}

impl Caller {
    /// Who acts, for audits.
    fn actor(&self) -> String {
        match &self.0 {
            Scope::Operator => "operator".into(),
            Scope::Tenant(t) => format!("tenant:{t}"),
        }
    }

    fn may_see(&self, tenant: &str) -> bool {
        match &self.0 {
            Scope::Operator => true,
            Scope::Tenant(t) => t == tenant,
        }
    }

    /// May this caller see `tenant`, and does this host run it? Both fail the same way.
    fn tenant(&self, api: &Api, tenant: &str) -> Result<Intake, ApiError> {
        match api.control.intake(tenant) {
            Some(intake) if self.may_see(tenant) => Ok(intake),
            _ => Err(ApiError::not_found(format!("no tenant `{tenant}`"))),
        }
    }

    /// Routes that answer plaintext receivers: only a token granted `decrypt` (never the
    /// operator's by itself: reading buyers' addresses is a grant of its own), for its
    /// tenant; its name goes in the audit.
    fn decrypt(&self, tenant: &str) -> Result<&str, ApiError> {
        match (&self.0, &self.1) {
            (Scope::Tenant(t), Some(name)) if t == tenant => Ok(name),
            _ => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "decrypting receivers needs a tenant token granted decrypt (wharf token create <tenant> --name … --decrypt)",
            )),
        }
    }

    /// Operator-only routes: 403 for tenant tokens.
    fn operator(&self) -> Result<(), ApiError> {
        match self.0 {
            Scope::Operator => Ok(()),
            Scope::Tenant(_) => Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "only the operator may do this")),
        }
    }
}

#[utoipa::path(get, path = "/healthz", tag = "service", summary = "The process is up",
    responses((status = 200, description = "ok", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}

/// 503 while the host is stopping, or while its store cannot write (a full disk, say: the
/// host takes nothing it could not keep, and serves again by itself once the disk writes).
#[utoipa::path(get, path = "/readyz", tag = "service", summary = "Ready to take requests",
    responses(
        (status = 200, description = "ready", body = String, content_type = "text/plain"),
        (status = 503, body = String, content_type = "text/plain",
         description = "stopping, or `the store cannot write: …` while the data folder takes no writes"),
    ))]
async fn readyz(State(api): State<Api>) -> impl IntoResponse {
    if !api.ready.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopping".to_owned());
    }
    match api.control.store().unwritable() {
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("the store cannot write: {why}")),
        None => (StatusCode::OK, "ready".to_owned()),
    }
}

/// Who a token is: what a client (the console) needs to know before it shows anything.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// Every tenant, and the operator's routes.
    pub operator: bool,
    /// A tenant token's tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Whether the token may decrypt receivers.
    pub decrypt: bool,
}

#[utoipa::path(get, path = "/v1/whoami", tag = "service", summary = "Who the token is: the operator, or a tenant's",
    security(("bearer" = [])),
    responses((status = 200, description = "The token's scope", body = WhoAmI)))]
async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(match &caller.0 {
        Scope::Operator => WhoAmI { operator: true, tenant: None, decrypt: false },
        Scope::Tenant(t) => WhoAmI { operator: false, tenant: Some(t.clone()), decrypt: caller.1.is_some() },
    })
}

#[utoipa::path(get, path = "/openapi.json", tag = "service", summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
async fn openapi_json() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(openapi::document())
}

/// Holds back the answer to a successful request that may have written until what it wrote
/// is on disk; answers 503 instead when the flush fails. Requests that only read (GET, HEAD)
/// pass straight through.
async fn durable_answers(State(api): State<Api>, request: axum::extract::Request, next: Next) -> Response {
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD);
    let response = next.run(request).await;
    if !writes || !response.status().is_success() {
        return response;
    }
    match api.control.store().durable().await {
        Ok(()) => response,
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Prometheus text (see [`crate::metrics`]); operator only, since the labels name every tenant.
#[utoipa::path(get, path = "/metrics", tag = "service", summary = "Prometheus text exposition",
    description = "Per shop: orders pulled and delivered, updates pushed, pending, dead-lettered. Per tenant: \
                   plugin calls in flight and the quota. Per tenant, plugin and operation: calls, failures, latency.",
    security(("bearer" = ["operator"])),
    responses((status = 200, description = "The figures", body = String, content_type = "text/plain")))]
async fn metrics(State(api): State<Api>, caller: Caller) -> Result<Response, ApiError> {
    use crate::metrics::{QuarantinedRow, Scrape, ShopRow, TenantRow};
    caller.operator()?;
    let store = api.control.store();
    let mut scrape = Scrape::default();
    for p in api.control.progress().snapshot(store)? {
        scrape.shops.push(ShopRow {
            pulled: p.pulled as u64,
            delivered: p.delivered as u64,
            pushed: p.pushed as u64,
            pending: p.pending as u64,
            dead_lettered: p.dead_lettered as u64,
            quarantined: p.quarantined as u64,
            auth_failed: p.state == crate::sync::scheduler::ShopState::AuthFailed,
            tenant: p.tenant,
            shop: p.shop,
        });
    }
    let tenants: std::collections::BTreeSet<String> = scrape.shops.iter().map(|s| s.tenant.clone()).collect();
    for tenant in tenants {
        let mut counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        for q in store.quarantine().list(&tenant, None)? {
            let module = crate::model::Module::from_stored(&q.stream).map_or(q.stream, |m| m.name().to_owned());
            *counts.entry((q.shop_id, module, q.field)).or_default() += 1;
        }
        for ((shop, module, field), records) in counts {
            scrape.quarantined.push(QuarantinedRow { tenant: tenant.clone(), shop, module, field, records });
        }
    }
    for (tenant, _) in api.control.tenants() {
        let stored_bytes = store.usage().bytes(&tenant)?;
        if let Some((in_flight, quota)) = api.control.usage(&tenant) {
            scrape.tenants.push(TenantRow {
                calls_in_flight: in_flight as u64,
                quota_concurrent_calls: u64::from(quota.concurrent_calls),
                stored_bytes,
                quota_stored_bytes: quota.stored_bytes(),
                quota_cpu_millis_per_second: u64::from(quota.cpu_millis_per_second),
                tenant,
            });
        }
    }
    let calls = api.control.registry().sandbox().metrics().clone();
    let deliveries = api.control.progress().deliveries().clone();
    let text = crate::metrics::render(scrape, calls, deliveries);
    Ok(([(axum::http::header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}
