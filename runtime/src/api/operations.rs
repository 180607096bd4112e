//! Operations on a running tenant: module switches per shop, per-SKU overrides, manual stock
//! holds, the dead-letter queues (list with reasons, replay one or all, discard with a
//! reason), and the quarantine of records plugins could not map (list, retry, discard).
//! Every change is audited with who made it.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Api, ApiError, Caller, JsonBody};
use crate::config::Module;
use crate::model::Timestamp;
use crate::store::{Hold, SkuSync};

pub async fn list_switches(State(api): State<Api>, caller: Caller, Path(tenant): Path<String>) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let list = intake.store.switches().list(&tenant)?;
    Ok(Json(serde_json::to_value(list).expect("switches serialize")))
}

#[derive(Deserialize)]
pub struct OnOff {
    on: bool,
}

pub async fn switch_module(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, shop, module)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<OnOff>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    if !intake.shops.iter().any(|s| s.shop_id == shop) {
        return Err(ApiError::not_found(format!("tenant `{tenant}` runs no shop `{shop}`")));
    }
    if Module::from_name(&module).is_none() {
        let known: Vec<&str> = Module::ALL.iter().map(|m| m.name()).collect();
        return Err(ApiError::not_found(format!("no module `{module}` ({})", known.join(", "))));
    }
    intake.switch_module(&shop, &module, body.on, &caller.actor(), Timestamp::now())?;
    Ok(Json(json!({"shop": shop, "module": module, "on": body.on})))
}

pub async fn switch_sku(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, sku, kind)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<OnOff>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let sync: SkuSync = serde_json::from_value(json!(kind))
        .map_err(|_| ApiError::not_found(format!("no per-SKU switch `{kind}` (stock, price, listing)")))?;
    intake.switch_sku(&sku, sync, body.on, &caller.actor(), Timestamp::now())?;
    Ok(Json(json!({"sku": sku, "kind": kind, "on": body.on})))
}

pub async fn set_hold(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, sku)): Path<(String, String)>,
    JsonBody(hold): JsonBody<Hold>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let now = Timestamp::now();
    if hold.until <= now {
        return Err(ApiError::bad_input("until: the hold would already be over; give an RFC 3339 instant in the future"));
    }
    let report = intake.hold(&sku, &hold, &caller.actor(), now)?;
    Ok(Json(serde_json::to_value(report).expect("reports serialize")))
}

pub async fn release_hold(State(api): State<Api>, caller: Caller, Path((tenant, sku)): Path<(String, String)>) -> Result<StatusCode, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    intake.release(&sku, &caller.actor(), Timestamp::now())?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn dead_letters(State(api): State<Api>, caller: Caller, Path(tenant): Path<String>) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let deliveries = intake.store.outbox().dead_letters(&tenant)?;
    let pushes = intake.store.pushes().dead_letters(&tenant)?;
    Ok(Json(json!({"deliveries": deliveries, "pushes": pushes})))
}

/// The two queues: order deliveries to the ERP, updates to marketplaces.
const QUEUES: [&str; 2] = ["deliveries", "pushes"];

fn queue(name: &str) -> Result<&'static str, ApiError> {
    QUEUES.iter().copied().find(|q| *q == name).ok_or_else(|| ApiError::not_found(format!("no queue `{name}` (deliveries, pushes)")))
}

pub async fn replay(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, queue_name, id)): Path<(String, String, u64)>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({"replayed": id})))
}

#[derive(Deserialize, Default)]
pub struct ReplayAll {
    #[serde(default)]
    queue: Option<String>,
}

/// Replays every dead letter of the tenant (of one queue, if given).
pub async fn replay_all(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Option<Json<ReplayAll>>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let only = body.and_then(|Json(b)| b.queue).map(|q| queue(&q)).transpose()?;
    let now = Timestamp::now().0;
    let mut replayed = 0usize;
    if only.is_none_or(|q| q == "deliveries") {
        for letter in intake.store.outbox().dead_letters(&tenant)? {
            replayed += usize::from(intake.store.outbox().replay(&tenant, letter.delivery.id, now)?);
        }
    }
    if only.is_none_or(|q| q == "pushes") {
        for letter in intake.store.pushes().dead_letters(&tenant)? {
            replayed += usize::from(intake.store.pushes().replay(&tenant, letter.push.id, now)?);
        }
    }
    api.audit(&caller, &tenant, "dead_letter.replay_all", json!({"queue": only, "replayed": replayed}))?;
    Ok(Json(json!({"replayed": replayed})))
}

#[derive(Deserialize)]
pub struct Discard {
    reason: String,
}

pub async fn discard(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, queue_name, id)): Path<(String, String, u64)>,
    JsonBody(body): JsonBody<Discard>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({"discarded": id})))
}

#[derive(Deserialize)]
pub struct QuarantineQuery {
    #[serde(default)]
    shop: Option<String>,
}

/// Records the tenant's plugins could not map, with their reasons (of one shop when asked).
pub async fn quarantine(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<QuarantineQuery>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let records = intake.store.quarantine().list(&tenant, query.shop.as_deref())?;
    Ok(Json(json!({"records": records})))
}

/// Asks the shop's next order round to fetch the record again (`get-order`): it flows if it
/// maps now. Only orders can be fetched one by one; an ERP feed's record comes again with
/// the ERP's next change of it.
pub async fn retry_quarantined(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, shop, module, id)): Path<(String, String, String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    if module != crate::sync::orders::STREAM {
        return Err(ApiError::conflict(format!(
            "only orders are fetched again one by one; a `{module}` record comes again with the ERP's next change of it"
        )));
    }
    if !intake.store.quarantine().retry(&tenant, &shop, &module, &id)? {
        return Err(ApiError::not_found(format!("no quarantined record {shop}/{module}/{id}")));
    }
    api.audit(&caller, &tenant, "quarantine.retry", json!({"shop": shop, "module": module, "id": id}))?;
    Ok((StatusCode::ACCEPTED, Json(json!({"retried": 1, "ids": [id]}))))
}

pub async fn discard_quarantined(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, shop, module, id)): Path<(String, String, String, String)>,
    JsonBody(body): JsonBody<Discard>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::bad_input("reason: say why the record is dropped (it goes to the audit log)"));
    }
    let Some(entry) = intake.store.quarantine().remove(&tenant, &shop, &module, &id)? else {
        return Err(ApiError::not_found(format!("no quarantined record {shop}/{module}/{id}")));
    };
    api.audit(
        &caller,
        &tenant,
        "quarantine.discard",
        json!({"shop": shop, "module": module, "id": id, "field": entry.field, "reason": body.reason}),
    )?;
    Ok(Json(json!({"discarded": id})))
}

/// Stored orders of the tenant that cannot be read back: every listing and round skips them.
pub async fn unreadable_orders(State(api): State<Api>, caller: Caller, Path(tenant): Path<String>) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let records = intake.store.orders().unreadable(&tenant)?;
    Ok(Json(json!({"records": records})))
}

/// Removes one unreadable stored order (a readable one is never removed this way); the next
/// sighting of the order on its platform stores it afresh.
pub async fn discard_unreadable_order(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, platform, shop, id)): Path<(String, String, String, String)>,
    JsonBody(body): JsonBody<Discard>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({"discarded": id})))
}
