//! Operations on a running tenant: module switches per shop, per-SKU overrides, manual stock
//! holds, the dead-letter queues (list with reasons, replay one or all, discard with a
//! reason), the quarantine of records plugins could not map (list, retry, discard), and the
//! updates waiting for a shop's platform ids of their SKU (list, purge).
//! Every change is audited with who made it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::extract::{JsonBody, Path, Query};
use super::modules::{self, Deprecated};
use super::openapi::{Conflict, NotFound, ShopPath, SkuPath, TenantPath, names};
use super::{Api, ApiError, Caller};
use crate::model::{Module, Timestamp};
use crate::store::{
    Carries, DeadLetter, DeadPush, Delivery, Hold, OrderKey, Push, Quarantined, SwitchList, Unreadable, WaitingFilter,
};
use crate::sync::intake::Report;

/// The `{module}` of `…/modules/{module}`, for the document: the modules of the table
/// (`crate::model::modules`).
pub(crate) struct ModuleName;

impl PartialSchema for ModuleName {
    fn schema() -> RefOr<Schema> {
        names(Module::ALL.map(Module::name))
    }
}

impl ToSchema for ModuleName {}

/// The `{kind}` of `…/skus/{sku}/{kind}`, for the document: the modules one SKU can be
/// switched off for.
pub(crate) struct SkuModuleName;

impl PartialSchema for SkuModuleName {
    fn schema() -> RefOr<Schema> {
        names(Module::per_sku().map(Module::name))
    }
}

impl ToSchema for SkuModuleName {}

/// A dead-letter queue's name, for the document.
pub(crate) struct QueueName;

impl PartialSchema for QueueName {
    fn schema() -> RefOr<Schema> {
        names(QUEUES)
    }
}

impl ToSchema for QueueName {}

fn queues() -> RefOr<Schema> {
    QueueName::schema()
}

/// A quarantined record: its shop, where it came from, its own id.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "only describes the path")]
pub(crate) struct QuarantinedPath {
    /// The shop's id within the tenant
    shop: String,
    /// `orders`, or the ERP feed the record came in
    module: String,
    /// The record's own platform id
    id: String,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/switches", tag = "operations",
    summary = "What is switched off, and the holds",
    security(("bearer" = [])),
    params(TenantPath),
    responses(
        (status = 200, description = "Only what is off: on is the default", body = SwitchList),
        (status = 404, response = NotFound),
    ))]
pub async fn list_switches(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<SwitchList>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    Ok(Json(intake.store.switches().list(&tenant)?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnOff {
    pub on: bool,
}

/// A shop's module switch as it is now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModuleSwitch {
    pub shop: String,
    pub module: String,
    pub on: bool,
}

/// A SKU's switch of one kind of push as it is now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SkuSwitch {
    pub sku: String,
    /// The module's name.
    #[schema(schema_with = SkuModuleName::schema)]
    pub kind: String,
    pub on: bool,
}

#[utoipa::path(put, path = "/v1/tenants/{tenant}/shops/{shop}/modules/{module}", tag = "operations",
    summary = "Pause or resume one module of one shop; what arrives meanwhile is kept",
    security(("bearer" = [])),
    params(TenantPath, ShopPath, ("module" = inline(ModuleName), Path, description = "The module")),
    request_body = OnOff,
    responses((status = 200, description = "The switch as it is now", body = ModuleSwitch), (status = 404, response = NotFound)))]
pub async fn switch_module(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, shop, module)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<OnOff>,
) -> Result<(Deprecated, Json<ModuleSwitch>), ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    if !intake.shops.iter().any(|s| s.shop_id == shop) {
        return Err(ApiError::not_found(format!("tenant `{tenant}` runs no shop `{shop}`")));
    }
    let (module, deprecated) = modules::module(&module, "module", |_| true)?;
    intake.switch_module(&shop, module, body.on, &caller.actor(), Timestamp::now())?;
    Ok((deprecated, Json(ModuleSwitch { shop, module: module.name().to_owned(), on: body.on })))
}

#[utoipa::path(put, path = "/v1/tenants/{tenant}/skus/{sku}/{kind}", tag = "operations",
    summary = "Turn one kind of push off or on for one SKU, in every shop",
    security(("bearer" = [])),
    params(TenantPath, SkuPath, ("kind" = inline(SkuModuleName), Path, description = "What is pushed")),
    request_body = OnOff,
    responses((status = 200, description = "The switch as it is now", body = SkuSwitch), (status = 404, response = NotFound)))]
pub async fn switch_sku(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, sku, kind)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<OnOff>,
) -> Result<(Deprecated, Json<SkuSwitch>), ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let (module, deprecated) = modules::module(&kind, "per-SKU switch", |m| m.spec().per_sku)?;
    intake.switch_sku(&sku, module, body.on, &caller.actor(), Timestamp::now())?;
    Ok((deprecated, Json(SkuSwitch { sku, kind: module.name().to_owned(), on: body.on })))
}

/// A hold as `PUT …/holds/{sku}` takes it, and as `GET …/switches` lists it (`sku` included),
/// so a listed hold can be sent back as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    pub quantity: u32,
    pub until: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The path's SKU again, as `GET …/switches` lists a hold (so a listed hold can be sent
    /// back); another one is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
}

/// A hold as it is now (as `switches` lists it), and the held stock queued for the shops that
/// take stock.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HoldAnswer {
    pub sku: String,
    #[serde(flatten)]
    pub hold: Hold,
    pub queued: Report,
}

#[utoipa::path(put, path = "/v1/tenants/{tenant}/holds/{sku}", tag = "operations",
    summary = "Set a SKU's stock by hand until an instant; automatic stock waits meanwhile",
    security(("bearer" = [])),
    params(TenantPath, SkuPath),
    request_body = HoldBody,
    responses((status = 200, description = "The hold, and what was queued", body = HoldAnswer), (status = 404, response = NotFound)))]
pub async fn set_hold(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, sku)): Path<(String, String)>,
    JsonBody(body): JsonBody<HoldBody>,
) -> Result<Json<HoldAnswer>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    if let Some(other) = body.sku.as_deref().filter(|s| *s != sku) {
        return Err(ApiError::bad_input(format!(
            "sku: the body says `{other}` but the path says `{sku}`; a hold is set on the path's SKU"
        )));
    }
    let hold = Hold { quantity: body.quantity, until: body.until, note: body.note };
    let now = Timestamp::now();
    if hold.until <= now {
        return Err(ApiError::bad_input(
            "until: the hold would already be over; give an RFC 3339 instant in the future",
        ));
    }
    let queued = intake.hold(&sku, &hold, &caller.actor(), now)?;
    Ok(Json(HoldAnswer { sku, hold, queued }))
}

#[utoipa::path(delete, path = "/v1/tenants/{tenant}/holds/{sku}", tag = "operations",
    summary = "End a hold now; the ERP's figure goes out again",
    security(("bearer" = [])),
    params(TenantPath, SkuPath),
    responses((status = 204, description = "Released"), (status = 404, response = NotFound)))]
pub async fn release_hold(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, sku)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    intake.release(&sku, &caller.actor(), Timestamp::now())?;
    Ok(StatusCode::NO_CONTENT)
}

/// The dead letters of both queues.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadLetters {
    pub deliveries: Vec<DeadDelivery>,
    pub pushes: Vec<DeadUpdate>,
}

/// A delivery given up on, with why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadDelivery {
    pub delivery: DeliveryView,
    pub reason: String,
    pub at: Timestamp,
}

/// An update given up on, with why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadUpdate {
    pub push: UpdateView,
    pub reason: String,
    pub at: Timestamp,
}

/// A delivery owed to the ERP. The store keeps its instants as UTC milliseconds; the API answers
/// every instant in RFC 3339, as everywhere else, under the name without `_ms`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: u64,
    pub tenant: String,
    /// Which route delivers it (`webhook`, an ERP plugin's name…).
    pub route: String,
    /// An order's version, or an after-sale's (`key.order_id` is then the after-sale's id).
    pub carries: Carries,
    pub key: OrderKey,
    pub version: u64,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub enqueued_at: Timestamp,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        DeliveryView {
            id: d.id,
            tenant: d.tenant.clone(),
            route: d.route.clone(),
            carries: d.carries,
            key: d.key.clone(),
            version: d.version,
            attempts: d.attempts,
            next_attempt_at: Timestamp(d.next_attempt_ms),
            last_error: d.last_error.clone(),
            enqueued_at: Timestamp(d.enqueued_ms),
        }
    }
}

/// An update owed to one shop, instants in RFC 3339 as for deliveries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UpdateView {
    pub id: u64,
    pub tenant: String,
    pub shop: String,
    /// The queue it waits in: a module name, or `hold` for a manual stock value.
    pub module: String,
    /// The item within the module: an `outer_sku_id`, an order id, a product id…
    pub item: String,
    /// The canonical record, as the ERP sent it.
    #[schema(value_type = Object)]
    pub record: Value,
    /// Stock: the SKU's version; other modules: the id.
    pub version: u64,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    /// Why it waits, or why it failed last.
    pub last_error: Option<String>,
    pub enqueued_at: Timestamp,
    /// The SKU whose platform ids it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for_sku: Option<String>,
}

impl From<&Push> for UpdateView {
    fn from(p: &Push) -> Self {
        UpdateView {
            id: p.id,
            tenant: p.tenant.clone(),
            shop: p.shop.clone(),
            module: p.module.clone(),
            item: p.item.clone(),
            record: p.record.clone(),
            version: p.version,
            attempts: p.attempts,
            next_attempt_at: Timestamp(p.next_attempt_ms),
            last_error: p.last_error.clone(),
            enqueued_at: Timestamp(p.enqueued_ms),
            waiting_for_sku: p.waiting_for_sku.clone(),
        }
    }
}

impl From<&DeadLetter> for DeadDelivery {
    fn from(l: &DeadLetter) -> Self {
        DeadDelivery { delivery: (&l.delivery).into(), reason: l.reason.clone(), at: Timestamp(l.at_ms) }
    }
}

impl From<&DeadPush> for DeadUpdate {
    fn from(l: &DeadPush) -> Self {
        DeadUpdate { push: (&l.push).into(), reason: l.reason.clone(), at: Timestamp(l.at_ms) }
    }
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/dead-letters", tag = "operations",
    summary = "Dead letters with their reasons, by queue",
    security(("bearer" = [])),
    params(TenantPath),
    responses((status = 200, description = "The dead letters", body = DeadLetters), (status = 404, response = NotFound)))]
pub async fn dead_letters(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<DeadLetters>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let deliveries = intake.store.outbox().dead_letters(&tenant)?;
    let pushes = intake.store.pushes().dead_letters(&tenant)?;
    Ok(Json(DeadLetters {
        deliveries: deliveries.iter().map(DeadDelivery::from).collect(),
        pushes: pushes.iter().map(DeadUpdate::from).collect(),
    }))
}

/// The two queues: order deliveries to the ERP, updates to marketplaces.
const QUEUES: [&str; 2] = ["deliveries", "pushes"];

fn queue(name: &str) -> Result<&'static str, ApiError> {
    QUEUES
        .iter()
        .copied()
        .find(|q| *q == name)
        .ok_or_else(|| ApiError::not_found(format!("no queue `{name}` (deliveries, pushes)")))
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/dead-letters/{queue}/{id}/replay", tag = "operations",
    operation_id = "replay_dead_letter",
    summary = "Queue one dead letter again",
    security(("bearer" = [])),
    params(
        TenantPath,
        ("queue" = inline(QueueName), Path, description = "Order deliveries to the ERP, or updates to the marketplaces"),
        ("id" = u64, Path, description = "The dead letter's id, as the list shows it"),
    ),
    responses(
        (status = 200, description = "The letter queued again (a count of 1 and its id)", body = Replayed),
        (status = 404, response = NotFound),
    ))]
pub async fn replay(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, queue_name, id)): Path<(String, String, u64)>,
) -> Result<Json<Replayed>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let now = Timestamp::now().0;
    let found = match queue(&queue_name)? {
        "deliveries" => intake.store.outbox().replay(&tenant, id, now)?,
        _ => intake.store.pushes().replay(&tenant, id, now)?,
    };
    if !found {
        return Err(ApiError::not_found(format!("no dead letter {queue_name}/{id}")));
    }
    api.audit(&caller, &tenant, "dead_letter.replay", json!({"queue": queue_name, "id": id}))?;
    let mut ids = Replayed::default();
    ids.queue(&queue_name).push(id);
    Ok(Json(ids.counted()))
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayAll {
    /// Only this queue's letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = queues)]
    pub queue: Option<String>,
}

/// Replays every dead letter of the tenant (of one queue, if given).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/dead-letters/replay", tag = "operations",
    operation_id = "replay_dead_letters",
    summary = "Queue every dead letter again (of one queue, if the body names it)",
    security(("bearer" = [])),
    params(TenantPath),
    request_body(content = Option<ReplayAll>, description = "May be left out: every queue"),
    responses((status = 200, description = "How many, and which", body = Replayed), (status = 404, response = NotFound)))]
pub async fn replay_all(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Option<JsonBody<ReplayAll>>,
) -> Result<Json<Replayed>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let only = body.and_then(|JsonBody(b)| b.queue).map(|q| queue(&q)).transpose()?;
    let now = Timestamp::now().0;
    let mut replayed = Replayed::default();
    if only.is_none_or(|q| q == "deliveries") {
        for letter in intake.store.outbox().dead_letters(&tenant)? {
            if intake.store.outbox().replay(&tenant, letter.delivery.id, now)? {
                replayed.deliveries.push(letter.delivery.id);
            }
        }
    }
    if only.is_none_or(|q| q == "pushes") {
        for letter in intake.store.pushes().dead_letters(&tenant)? {
            if intake.store.pushes().replay(&tenant, letter.push.id, now)? {
                replayed.pushes.push(letter.push.id);
            }
        }
    }
    let answer = replayed.counted();
    api.audit(&caller, &tenant, "dead_letter.replay_all", json!({"queue": only, "replayed": answer.replayed}))?;
    Ok(Json(answer))
}

/// What a replay queued again: one answer shape for one letter and for all of them, a count
/// and the ids per queue (ids are unique within a queue).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Replayed {
    /// How many letters were queued again.
    pub replayed: usize,
    /// Their ids in the deliveries queue.
    pub deliveries: Vec<u64>,
    /// Their ids in the pushes queue.
    pub pushes: Vec<u64>,
}

impl Replayed {
    fn queue(&mut self, name: &str) -> &mut Vec<u64> {
        if name == "deliveries" { &mut self.deliveries } else { &mut self.pushes }
    }

    fn counted(mut self) -> Self {
        self.replayed = self.deliveries.len() + self.pushes.len();
        self
    }
}

/// Why something is dropped for good; it goes to the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Discard {
    #[schema(min_length = 1)]
    pub reason: String,
}

/// The id of the dead letter dropped.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DiscardedLetter {
    pub discarded: u64,
}

/// The id of the record dropped.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DiscardedRecord {
    pub discarded: String,
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/dead-letters/{queue}/{id}/discard", tag = "operations",
    operation_id = "discard_dead_letter",
    summary = "Drop a dead letter for good; the reason goes to the audit log",
    security(("bearer" = [])),
    params(
        TenantPath,
        ("queue" = inline(QueueName), Path, description = "Order deliveries to the ERP, or updates to the marketplaces"),
        ("id" = u64, Path, description = "The dead letter's id, as the list shows it"),
    ),
    request_body = Discard,
    responses((status = 200, description = "The dead letter's id", body = DiscardedLetter), (status = 404, response = NotFound)))]
pub async fn discard(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, queue_name, id)): Path<(String, String, u64)>,
    JsonBody(body): JsonBody<Discard>,
) -> Result<Json<DiscardedLetter>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::bad_input("reason: say why the letter is dropped (it goes to the audit log)"));
    }
    let found = match queue(&queue_name)? {
        "deliveries" => intake.store.outbox().discard(&tenant, id)?,
        _ => intake.store.pushes().discard(&tenant, id)?,
    };
    if !found {
        return Err(ApiError::not_found(format!("no dead letter {queue_name}/{id}")));
    }
    api.audit(&caller, &tenant, "dead_letter.discard", json!({"queue": queue_name, "id": id, "reason": body.reason}))?;
    Ok(Json(DiscardedLetter { discarded: id }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WaitingQuery {
    /// Only this shop's
    #[serde(default)]
    shop: Option<String>,
    /// Only this SKU's (outer_sku_id)
    #[serde(default)]
    sku: Option<String>,
    /// Updates per page; a value out of the range is refused (400), not capped
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000, default = json!(crate::store::pushes::DEFAULT_WAITING_PAGE))]
    limit: Option<usize>,
    /// A previous page's next_cursor
    #[serde(default)]
    cursor: Option<String>,
}

/// One page of waiting updates, by shop, SKU and age.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WaitingUpdates {
    pub updates: Vec<UpdateView>,
    pub next_cursor: Option<String>,
}

/// Updates waiting for the platform's ids of their SKU (no order of the shop has shown the SKU
/// yet), a page at a time, by shop, SKU and age.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/updates/waiting", tag = "operations",
    summary = "Updates waiting for a shop's platform ids of their SKU (no order has shown the SKU yet); an order \
               that shows it makes them due",
    security(("bearer" = [])),
    params(TenantPath, WaitingQuery),
    responses((status = 200, description = "One page, by shop, SKU and age", body = WaitingUpdates), (status = 404, response = NotFound)))]
pub async fn waiting_updates(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<WaitingQuery>,
) -> Result<Json<WaitingUpdates>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let filter = WaitingFilter { shop: query.shop, sku: query.sku };
    let page = intake.store.pushes().waiting(&tenant, &filter, query.limit, query.cursor.as_deref())?;
    Ok(Json(WaitingUpdates {
        updates: page.updates.iter().map(UpdateView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Purge {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// Every waiting update of the tenant (instead of shop/sku): said explicitly, so an empty
    /// body purges nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
    #[schema(min_length = 1)]
    pub reason: String,
}

/// How many updates were dropped.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Purged {
    pub purged: usize,
}

/// Drops waiting updates for good (of a shop, a SKU, both, or `all`); the reason goes to the
/// audit log. The ERP's next value for such a SKU queues again.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/updates/waiting/purge", tag = "operations",
    summary = "Drop waiting updates for good (of a shop, a SKU, both, or all); the reason goes to the audit log",
    security(("bearer" = [])),
    params(TenantPath),
    request_body = Purge,
    responses((status = 200, description = "How many", body = Purged), (status = 404, response = NotFound)))]
pub async fn purge_waiting_updates(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<Purge>,
) -> Result<Json<Purged>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::bad_input("reason: say why the updates are dropped (it goes to the audit log)"));
    }
    if body.all == (body.shop.is_some() || body.sku.is_some()) {
        return Err(ApiError::bad_input(
            "purge: name a `shop`, a `sku` or both, or say `\"all\": true` for every waiting update (not both)",
        ));
    }
    let filter = WaitingFilter { shop: body.shop.clone(), sku: body.sku.clone() };
    // Up to every waiting update of the tenant: off the async workers.
    let (store, t) = (intake.store.clone(), tenant.clone());
    let purged =
        tokio::task::spawn_blocking(move || store.pushes().purge_waiting(&t, &filter)).await.map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("the purge task failed: {e}"))
        })??;
    let detail = json!({"shop": body.shop, "sku": body.sku, "all": body.all, "purged": purged, "reason": body.reason});
    api.audit(&caller, &tenant, "waiting_update.purge", detail)?;
    Ok(Json(Purged { purged }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuarantineQuery {
    /// Only this shop's
    #[serde(default)]
    shop: Option<String>,
}

/// The records set aside.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuarantineList {
    pub records: Vec<Quarantined>,
}

/// Records the tenant's plugins could not map, with their reasons (of one shop when asked).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/quarantine", tag = "operations",
    summary = "Records the tenant's plugins could not map, with their reasons",
    security(("bearer" = [])),
    params(TenantPath, QuarantineQuery),
    responses((status = 200, description = "The quarantined records", body = QuarantineList), (status = 404, response = NotFound)))]
pub async fn quarantine(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<QuarantineQuery>,
) -> Result<Json<QuarantineList>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let records = intake.store.quarantine().list(&tenant, query.shop.as_deref())?;
    Ok(Json(QuarantineList { records }))
}

/// Audit entries one answer holds unless asked for fewer; the most it holds.
pub const DEFAULT_AUDIT_ENTRIES: usize = 100;
pub const MAX_AUDIT_ENTRIES: usize = 1_000;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The last this many entries; a value out of the range is refused (400), not capped
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<usize>,
}

/// Who changed what, and who decrypted which receivers and why: the tenant's last entries,
/// oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditList {
    pub entries: Vec<crate::store::AuditEntry>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/audit", tag = "operations",
    summary = "The tenant's audit: switches, holds, dead letters, tokens granted decrypt, receivers decrypted",
    security(("bearer" = [])),
    params(TenantPath, AuditQuery),
    responses((status = 200, description = "The last entries, oldest first", body = AuditList), (status = 404, response = NotFound)))]
pub async fn audit(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let limit = query.limit.unwrap_or(DEFAULT_AUDIT_ENTRIES).clamp(1, MAX_AUDIT_ENTRIES);
    Ok(Json(AuditList { entries: intake.store.audit().recent(&tenant, limit)? }))
}

/// A quarantined order asked for again.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Retried {
    pub retried: usize,
    pub ids: Vec<String>,
}

/// The stored name of the module a quarantine path names (current or former spelling; see
/// [`crate::model::modules::stored_name`]).
fn stored(module: String) -> String {
    Module::named(&module).map_or(module, |n| n.module.stored().to_owned())
}

/// Asks the shop's next order round to fetch the record again (`get-order`): it flows if it
/// maps now. Only orders can be fetched one by one; an ERP feed's record comes again with
/// the ERP's next change of it.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/quarantine/{shop}/{module}/{id}/retry", tag = "operations",
    summary = "Fetch a quarantined order again in the shop's next round (get-order); it flows if it maps",
    security(("bearer" = [])),
    params(TenantPath, QuarantinedPath),
    responses(
        (status = 202, description = "Queued for the next round", body = Retried),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ))]
pub async fn retry_quarantined(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, shop, module, id)): Path<(String, String, String, String)>,
) -> Result<(StatusCode, Json<Retried>), ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let module = stored(module);
    if module != crate::sync::orders::STREAM {
        return Err(ApiError::conflict(format!(
            "only orders are fetched again one by one; a `{module}` record comes again with the ERP's next change of it"
        )));
    }
    if !intake.store.quarantine().retry(&tenant, &shop, &module, &id)? {
        return Err(ApiError::not_found(format!("no quarantined record {shop}/{module}/{id}")));
    }
    api.audit(&caller, &tenant, "quarantine.retry", json!({"shop": shop, "module": module, "id": id}))?;
    Ok((StatusCode::ACCEPTED, Json(Retried { retried: 1, ids: vec![id] })))
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/quarantine/{shop}/{module}/{id}/discard", tag = "operations",
    summary = "Drop a quarantined record for good; the reason goes to the audit log",
    security(("bearer" = [])),
    params(TenantPath, QuarantinedPath),
    request_body = Discard,
    responses((status = 200, description = "The record's id", body = DiscardedRecord), (status = 404, response = NotFound)))]
pub async fn discard_quarantined(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, shop, module, id)): Path<(String, String, String, String)>,
    JsonBody(body): JsonBody<Discard>,
) -> Result<Json<DiscardedRecord>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::bad_input("reason: say why the record is dropped (it goes to the audit log)"));
    }
    let module = stored(module);
    let Some(entry) = intake.store.quarantine().remove(&tenant, &shop, &module, &id)? else {
        return Err(ApiError::not_found(format!("no quarantined record {shop}/{module}/{id}")));
    };
    api.audit(
        &caller,
        &tenant,
        "quarantine.discard",
        json!({"shop": shop, "module": module, "id": id, "field": entry.field, "reason": body.reason}),
    )?;
    Ok(Json(DiscardedRecord { discarded: id }))
}

/// Stored orders that cannot be read back.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnreadableList {
    pub records: Vec<Unreadable>,
}

/// Stored orders of the tenant that cannot be read back: every listing and round skips them.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/orders/unreadable", tag = "operations",
    summary = "Stored orders that cannot be read back, with why; every listing and round skips them",
    security(("bearer" = [])),
    params(TenantPath),
    responses((status = 200, description = "The unreadable records", body = UnreadableList), (status = 404, response = NotFound)))]
pub async fn unreadable_orders(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<UnreadableList>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let records = intake.store.orders().unreadable(&tenant)?;
    Ok(Json(UnreadableList { records }))
}

/// Removes one unreadable stored order (a readable one is never removed this way); the next
/// sighting of the order on its platform stores it afresh.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/orders/unreadable/{platform}/{shop}/{id}/discard", tag = "operations",
    summary = "Remove an unreadable stored order (never a readable one); the reason goes to the audit log",
    security(("bearer" = [])),
    params(
        TenantPath,
        ("platform" = String, Path, description = "The order's platform"),
        ShopPath,
        ("id" = String, Path, description = "The order's id"),
    ),
    request_body = Discard,
    responses((status = 200, description = "The order's id", body = DiscardedRecord), (status = 404, response = NotFound)))]
pub async fn discard_unreadable_order(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, platform, shop, id)): Path<(String, String, String, String)>,
    JsonBody(body): JsonBody<Discard>,
) -> Result<Json<DiscardedRecord>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::bad_input("reason: say why the record is dropped (it goes to the audit log)"));
    }
    let key = crate::store::OrderKey { platform: platform.clone(), shop_id: shop.clone(), order_id: id.clone() };
    if !intake.store.orders().remove_unreadable(&tenant, &key)? {
        return Err(ApiError::not_found(format!("no unreadable stored order {platform}/{shop}/{id}")));
    }
    api.audit(
        &caller,
        &tenant,
        "orders.discard_unreadable",
        json!({"platform": platform, "shop": shop, "id": id, "reason": body.reason}),
    )?;
    Ok(Json(DiscardedRecord { discarded: id }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DeadLetter, Delivery, OrderKey};

    #[test]
    fn dead_letters_answer_their_instants_in_rfc_3339() {
        let key = OrderKey { platform: "taobao".into(), shop_id: "tb".into(), order_id: "1".into() };
        let delivery = Delivery {
            id: 7,
            tenant: "acme".into(),
            route: "webhook".into(),
            carries: Default::default(),
            key,
            version: 1,
            attempts: 3,
            next_attempt_ms: 1_794_355_260_000,
            last_error: Some("409".into()),
            enqueued_ms: 1_794_355_200_000,
        };
        let letter = DeadLetter { delivery, reason: "refused".into(), at_ms: 1_794_355_200_500 };
        let answer = serde_json::to_value(DeadDelivery::from(&letter)).unwrap();
        assert_eq!(answer["at"], "2026-11-11T00:00:00.500Z", "{answer}");
        assert_eq!(answer["delivery"]["enqueued_at"], "2026-11-11T00:00:00Z", "{answer}");
        assert_eq!(answer["delivery"]["next_attempt_at"], "2026-11-11T00:01:00Z", "{answer}");
        assert!(!answer.to_string().contains("_ms\""), "no epoch milliseconds left: {answer}");
    }

    #[test]
    fn a_replay_answers_a_count_and_the_ids_for_one_letter_as_for_all() {
        let mut one = Replayed::default();
        one.queue("pushes").push(42);
        let json = |r: Replayed| serde_json::to_value(r.counted()).unwrap();
        assert_eq!(json(one), json!({"replayed": 1, "deliveries": [], "pushes": [42]}));
        let all = Replayed { deliveries: vec![1, 2], pushes: vec![42], ..Replayed::default() };
        assert_eq!(json(all), json!({"replayed": 3, "deliveries": [1, 2], "pushes": [42]}));
    }
}
