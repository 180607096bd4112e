//! The HTTP API `wharf serve` answers on: what ERPs and operators call.
//!
//! So far (issue 6 builds the rest on it): health, the ERP side of seed 002 (query orders by
//! sync state and acknowledge them; push stock, prices, lots, listing, products, customer
//! codes, logistics, shipment details and ERP statuses), the dead-letter queues, and tokens.
//! Every `/v1/tenants/{tenant}/…` route needs a bearer token: the operator's, or one scoped to
//! that very tenant; another tenant's token gets 404, as if the tenant did not exist, so a
//! token cannot even learn which tenants there are.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::Timestamp;
use crate::store::{OrderKey, OrderQuery, Scope, StoreError, tokens};
use crate::sync::intake::Update;
use crate::sync::scheduler::{Progress, Submitter};

pub mod openapi;

/// What the handlers share.
#[derive(Clone)]
pub struct Api {
    submitter: Submitter,
    progress: Option<Progress>,
    /// The SHA-256 of the operator's bootstrap token (`WHARF_OPERATOR_TOKEN`), if one is set.
    operator: Option<[u8; 32]>,
    ready: Arc<AtomicBool>,
}

impl Api {
    pub fn new(submitter: Submitter, operator_token: Option<&str>) -> Self {
        Api { submitter, progress: None, operator: operator_token.map(tokens::hash), ready: Arc::new(AtomicBool::new(true)) }
    }

    /// Serve the scheduler's live figures on `/metrics`.
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Set false while the host is stopping: `/readyz` answers 503 so load balancers move on.
    pub fn readiness(&self) -> Arc<AtomicBool> {
        self.ready.clone()
    }

    pub fn router(self) -> axum::Router {
        axum::Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
            .route("/openapi.json", get(|| async { Json(openapi::document()) }))
            .route("/metrics", get(metrics))
            .route("/v1/tenants/{tenant}/orders", get(query_orders))
            .route("/v1/tenants/{tenant}/orders/ack", post(ack_orders))
            .route("/v1/tenants/{tenant}/updates/{kind}", post(submit_updates))
            .route("/v1/tenants/{tenant}/dead-letters", get(dead_letters))
            .route("/v1/tenants/{tenant}/dead-letters/{queue}/{id}/replay", post(replay))
            .route("/v1/tenants/{tenant}/tokens", post(create_token))
            .with_state(self)
    }
}

/// An error as JSON: `{"error": kind, "message": …}`.
struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1, "message": self.2}))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string())
    }
}

fn not_found(tenant: &str) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "not_found", format!("no tenant `{tenant}`"))
}

/// The caller's scope, from `Authorization: Bearer <token>`.
struct Caller(Scope);

impl FromRequestParts<Api> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, Self::Rejection> {
        let unauthorized = |why: &str| ApiError(StatusCode::UNAUTHORIZED, "unauthorized", why.to_owned());
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return Err(unauthorized("send `Authorization: Bearer <token>`"));
        };
        if api.operator.is_some_and(|h| h == tokens::hash(token)) {
            return Ok(Caller(Scope::Operator));
        }
        match api.submitter.store().tokens().scope(token)? {
            Some(scope) => Ok(Caller(scope)),
            None => Err(unauthorized("unknown token")),
        }
    }
}

impl Caller {
    /// May this caller see `tenant`, and does this host run it? Both fail the same way.
    fn tenant<'a>(&self, api: &'a Api, tenant: &str) -> Result<crate::sync::intake::Intake<'a>, ApiError> {
        let allowed = match &self.0 {
            Scope::Operator => true,
            Scope::Tenant(t) => t == tenant,
        };
        match api.submitter.intake(tenant) {
            Some(intake) if allowed => Ok(intake),
            _ => Err(not_found(tenant)),
        }
    }
}

async fn readyz(State(api): State<Api>) -> impl IntoResponse {
    if api.ready.load(Ordering::Relaxed) { (StatusCode::OK, "ready") } else { (StatusCode::SERVICE_UNAVAILABLE, "stopping") }
}

/// Prometheus text, per shop; operator only, since the labels name every tenant.
async fn metrics(State(api): State<Api>, caller: Caller) -> Result<String, ApiError> {
    if caller.0 != Scope::Operator {
        return Err(ApiError(StatusCode::FORBIDDEN, "forbidden", "metrics are the operator's".into()));
    }
    let shops = match &api.progress {
        Some(p) => p.snapshot(api.submitter.store())?,
        None => Vec::new(),
    };
    let mut out = String::new();
    let families: [(&str, &str, &str, fn(&crate::sync::scheduler::ShopProgress) -> usize); 5] = [
        ("wharf_orders_pulled_total", "counter", "Order versions stored (new and changed) since start.", |p| p.pulled),
        ("wharf_orders_delivered_total", "counter", "Order versions the ERP took since start.", |p| p.delivered),
        ("wharf_updates_pushed_total", "counter", "Updates the platform confirmed since start.", |p| p.pushed),
        ("wharf_pending", "gauge", "Deliveries and updates still owed.", |p| p.pending),
        ("wharf_dead_letters", "gauge", "Deliveries and updates parked with a reason.", |p| p.dead_lettered),
    ];
    for (name, kind, help, value) in families {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for p in &shops {
            out.push_str(&format!("{name}{{tenant=\"{}\",shop=\"{}\"}} {}\n", p.tenant, p.shop, value(p)));
        }
    }
    Ok(out)
}

async fn query_orders(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<OrderQuery>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let page = intake.store.orders().query(&tenant, &query)?;
    Ok(Json(serde_json::to_value(page).expect("orders serialize")))
}

#[derive(Deserialize)]
struct Ack {
    #[serde(flatten)]
    key: OrderKey,
    version: u64,
}

async fn ack_orders(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(acks): Json<Vec<Ack>>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let mut out = Vec::with_capacity(acks.len());
    for ack in acks {
        let outcome = intake.store.orders().ack(&tenant, &ack.key, ack.version)?;
        out.push(json!({"order_id": ack.key.order_id, "version": ack.version, "outcome": format!("{outcome:?}")}));
    }
    Ok(Json(Value::Array(out)))
}

async fn submit_updates(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, kind)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let bad = |e: serde_json::Error| ApiError(StatusCode::BAD_REQUEST, "invalid_input", format!("{kind}: {e}"));
    use serde_json::from_value as parse;
    let update = match kind.as_str() {
        "stock" => Update::Stock(parse(body).map_err(bad)?),
        "prices" => Update::Prices(parse(body).map_err(bad)?),
        "lots" => Update::Lots(parse(body).map_err(bad)?),
        "listing" => Update::Listing(parse(body).map_err(bad)?),
        "products" => Update::Products(parse(body).map_err(bad)?),
        "customers" => Update::Customers(parse(body).map_err(bad)?),
        "logistics" => Update::Logistics(parse(body).map_err(bad)?),
        "shipments" => Update::Shipments(parse(body).map_err(bad)?),
        "erp-status" => Update::ErpStatus(parse(body).map_err(bad)?),
        other => {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no update kind `{other}` (stock, prices, lots, listing, products, customers, logistics, shipments, erp-status)"),
            ));
        }
    };
    // Stored before the answer: what the ERP hears as accepted is never lost.
    let report = intake.submit(&update, Timestamp::now())?;
    Ok(Json(serde_json::to_value(report).expect("reports serialize")))
}

async fn dead_letters(State(api): State<Api>, caller: Caller, Path(tenant): Path<String>) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let deliveries = intake.store.outbox().dead_letters(&tenant)?;
    let pushes = intake.store.pushes().dead_letters(&tenant)?;
    Ok(Json(json!({"deliveries": deliveries, "pushes": pushes})))
}

async fn replay(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, queue, id)): Path<(String, String, u64)>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let now = Timestamp::now().0;
    let found = match queue.as_str() {
        "deliveries" => intake.store.outbox().replay(&tenant, id, now)?,
        "pushes" => intake.store.pushes().replay(&tenant, id, now)?,
        _ => false,
    };
    if !found {
        return Err(ApiError(StatusCode::NOT_FOUND, "not_found", format!("no dead letter {queue}/{id}")));
    }
    Ok(Json(json!({"replayed": id})))
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
}

/// Only the operator makes tokens; the new one is scoped to the tenant in the path.
async fn create_token(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    Json(body): Json<NewToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if caller.0 != Scope::Operator {
        return Err(ApiError(StatusCode::FORBIDDEN, "forbidden", "only the operator makes tokens".into()));
    }
    let intake = caller.tenant(&api, &tenant)?;
    let token = intake.store.tokens().create(&body.name, Scope::Tenant(tenant.clone()))?;
    Ok((StatusCode::CREATED, Json(json!({"token": token, "tenant": tenant, "name": body.name}))))
}
