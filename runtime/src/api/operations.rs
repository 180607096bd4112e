//! Operations on a running tenant: module switches per shop, per-SKU overrides, manual stock
//! holds, the dead-letter queues (list with reasons, replay one or all, discard with a
//! reason), the quarantine of records plugins could not map (list, retry, discard), and the
//! updates waiting for a shop's platform ids of their SKU (list, purge).
//! Every change is audited with who made it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{JsonBody, Path, Query};
use super::modules::{self, Deprecated};
use super::{Api, ApiError, Caller};
use crate::model::{Module, Timestamp};
use crate::store::{Hold, WaitingFilter};

pub async fn list_switches(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let list = intake.store.switches().list(&tenant)?;
    Ok(Json(serde_json::to_value(list).expect("switches serialize")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnOff {
    on: bool,
}

pub async fn switch_module(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, shop, module)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<OnOff>,
) -> Result<(Deprecated, Json<Value>), ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    if !intake.shops.iter().any(|s| s.shop_id == shop) {
        return Err(ApiError::not_found(format!("tenant `{tenant}` runs no shop `{shop}`")));
    }
    let (module, deprecated) = modules::module(&module, "module", |_| true)?;
    intake.switch_module(&shop, module, body.on, &caller.actor(), Timestamp::now())?;
    Ok((deprecated, Json(json!({"shop": shop, "module": module.name(), "on": body.on}))))
}

pub async fn switch_sku(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, sku, kind)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<OnOff>,
) -> Result<(Deprecated, Json<Value>), ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let (module, deprecated) = modules::module(&kind, "per-SKU switch", |m| m.spec().per_sku)?;
    intake.switch_sku(&sku, module, body.on, &caller.actor(), Timestamp::now())?;
    Ok((deprecated, Json(json!({"sku": sku, "kind": module.name(), "on": body.on}))))
}

/// A hold as `PUT …/holds/{sku}` takes it, and as `GET …/switches` lists it (`sku` included),
/// so a listed hold can be sent back as it is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    quantity: u32,
    until: Timestamp,
    #[serde(default)]
    note: Option<String>,
    /// The SKU of the path, again (as the list shows it); another one is refused.
    #[serde(default)]
    sku: Option<String>,
}

pub async fn set_hold(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, sku)): Path<(String, String)>,
    JsonBody(body): JsonBody<HoldBody>,
) -> Result<Json<Value>, ApiError> {
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
    let report = intake.hold(&sku, &hold, &caller.actor(), now)?;
    // The hold as `switch list` shows it, with what was queued for the shops.
    let mut answer = json!({"sku": sku});
    if let (Value::Object(out), Value::Object(fields)) =
        (&mut answer, serde_json::to_value(&hold).expect("holds serialize"))
    {
        out.extend(fields);
    }
    answer["queued"] = serde_json::to_value(report).expect("reports serialize");
    Ok(Json(answer))
}

pub async fn release_hold(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, sku)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    intake.release(&sku, &caller.actor(), Timestamp::now())?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn dead_letters(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let deliveries = intake.store.outbox().dead_letters(&tenant)?;
    let pushes = intake.store.pushes().dead_letters(&tenant)?;
    let answer = |letter: Value, inner: &str| with_instants(letter, inner);
    Ok(Json(json!({
        "deliveries": deliveries.iter().map(|l| answer(serde_json::to_value(l).expect("letters serialize"), "delivery")).collect::<Vec<_>>(),
        "pushes": pushes.iter().map(|l| answer(serde_json::to_value(l).expect("letters serialize"), "push")).collect::<Vec<_>>(),
    })))
}

/// The store keeps a letter's instants as UTC milliseconds (`at_ms`, `enqueued_ms`,
/// `next_attempt_ms`); the API answers every instant in RFC 3339, as everywhere else, under
/// the name without `_ms` (`at`, `enqueued_at`, `next_attempt_at`).
fn with_instants(mut letter: Value, inner: &str) -> Value {
    instants(&mut letter, &[("at_ms", "at")]);
    if let Some(entry) = letter.get_mut(inner) {
        instants(entry, &[("enqueued_ms", "enqueued_at"), ("next_attempt_ms", "next_attempt_at")]);
    }
    letter
}

/// Renames each `(from, to)` field of `object` from UTC milliseconds to an RFC 3339 instant.
fn instants(object: &mut Value, fields: &[(&str, &str)]) {
    let Value::Object(map) = object else { return };
    for (from, to) in fields {
        if let Some(ms) = map.remove(*from).and_then(|v| v.as_i64()) {
            map.insert((*to).to_owned(), json!(Timestamp(ms).to_string()));
        }
    }
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
    let mut ids = Replayed::default();
    ids.queue(&queue_name).push(id);
    Ok(Json(ids.answer()))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReplayAll {
    #[serde(default)]
    queue: Option<String>,
}

/// Replays every dead letter of the tenant (of one queue, if given).
pub async fn replay_all(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Option<JsonBody<ReplayAll>>,
) -> Result<Json<Value>, ApiError> {
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
    let answer = replayed.answer();
    api.audit(&caller, &tenant, "dead_letter.replay_all", json!({"queue": only, "replayed": answer["replayed"]}))?;
    Ok(Json(answer))
}

/// What a replay queued again: one answer shape for one letter and for all of them, a count
/// and the ids per queue (ids are unique within a queue).
#[derive(Default)]
struct Replayed {
    deliveries: Vec<u64>,
    pushes: Vec<u64>,
}

impl Replayed {
    fn queue(&mut self, name: &str) -> &mut Vec<u64> {
        if name == "deliveries" { &mut self.deliveries } else { &mut self.pushes }
    }

    fn answer(&self) -> Value {
        json!({"replayed": self.deliveries.len() + self.pushes.len(), "deliveries": self.deliveries, "pushes": self.pushes})
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
pub struct WaitingQuery {
    #[serde(default)]
    shop: Option<String>,
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    cursor: Option<String>,
}

/// Updates waiting for the platform's ids of their SKU (no order of the shop has shown the SKU
/// yet), a page at a time, by shop, SKU and age.
pub async fn waiting_updates(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<WaitingQuery>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let filter = WaitingFilter { shop: query.shop, sku: query.sku };
    let page = intake.store.pushes().waiting(&tenant, &filter, query.limit, query.cursor.as_deref())?;
    let updates: Vec<Value> = page
        .updates
        .iter()
        .map(|p| {
            let mut v = serde_json::to_value(p).expect("updates serialize");
            instants(&mut v, &[("enqueued_ms", "enqueued_at"), ("next_attempt_ms", "next_attempt_at")]);
            v
        })
        .collect();
    Ok(Json(json!({"updates": updates, "next_cursor": page.next_cursor})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Purge {
    #[serde(default)]
    shop: Option<String>,
    #[serde(default)]
    sku: Option<String>,
    /// Every waiting update of the tenant: said explicitly, so an empty body purges nothing.
    #[serde(default)]
    all: bool,
    reason: String,
}

/// Drops waiting updates for good (of a shop, a SKU, both, or `all`); the reason goes to the
/// audit log. The ERP's next value for such a SKU queues again.
pub async fn purge_waiting_updates(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<Purge>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({"purged": purged})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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

/// The stored name of the module a quarantine path names (current or former spelling; see
/// [`crate::model::modules::stored_name`]).
fn stored(module: String) -> String {
    Module::named(&module).map_or(module, |n| n.module.stored().to_owned())
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
    Ok(Json(json!({"discarded": id})))
}

/// Stored orders of the tenant that cannot be read back: every listing and round skips them.
pub async fn unreadable_orders(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
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
            key,
            version: 1,
            attempts: 3,
            next_attempt_ms: 1_794_355_260_000,
            last_error: Some("409".into()),
            enqueued_ms: 1_794_355_200_000,
        };
        let letter = DeadLetter { delivery, reason: "refused".into(), at_ms: 1_794_355_200_500 };
        let answer = with_instants(serde_json::to_value(&letter).unwrap(), "delivery");
        assert_eq!(answer["at"], "2026-11-11T00:00:00.500Z", "{answer}");
        assert_eq!(answer["delivery"]["enqueued_at"], "2026-11-11T00:00:00Z", "{answer}");
        assert_eq!(answer["delivery"]["next_attempt_at"], "2026-11-11T00:01:00Z", "{answer}");
        assert!(!answer.to_string().contains("_ms\""), "no epoch milliseconds left: {answer}");
    }

    #[test]
    fn a_replay_answers_a_count_and_the_ids_for_one_letter_as_for_all() {
        let mut one = Replayed::default();
        one.queue("pushes").push(42);
        assert_eq!(one.answer(), json!({"replayed": 1, "deliveries": [], "pushes": [42]}));
        let all = Replayed { deliveries: vec![1, 2], pushes: vec![42] };
        assert_eq!(all.answer(), json!({"replayed": 3, "deliveries": [1, 2], "pushes": [42]}));
    }
}
