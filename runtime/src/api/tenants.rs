//! Tenants and their shops: made, changed and removed by the operator while the host runs,
//! kept in the store as sealed documents; credentials are write-only. Tenants of the config
//! file are listed too, read-only. Also tenant tokens and usage.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{JsonBody, Path};
use super::{Api, ApiError, Caller};
use crate::config::tenant_document::{self, keep_secrets, redacted};
use crate::config::{ErpRoute, Tenant};
use crate::store::Scope;
use crate::sync::scheduler::Origin;

/// A config-file tenant as the API shows it: the whole tenant in the document shape that
/// `POST /v1/tenants` takes (shops, ERP route, schedule, carriers, ERP-status table, quota),
/// so it can be posted back; like every answer, credentials by name only, never a secret.
fn config_view(t: &Tenant) -> Value {
    let shops: Vec<Value> = t
        .shops
        .iter()
        .map(|s| {
            json!({"id": s.id, "platform": s.platform, "plugin": s.plugin, "enabled": s.enabled, "config": s.config,
                   "credentials": s.secrets.names().collect::<Vec<_>>()})
        })
        .collect();
    let (route, erp) = match &t.erp {
        ErpRoute::Plugin(p) => (
            "erp",
            json!({"plugin": p.plugin, "config": p.config, "credentials": p.secrets.names().collect::<Vec<_>>()}),
        ),
        ErpRoute::Webhook(w) => {
            let mut hook = json!({"url": w.url.as_str(), "secret": tenant_document::SET});
            if !w.previous.is_empty() {
                hook["previous_secrets"] = json!(vec![tenant_document::SET; w.previous.len()]);
            }
            ("webhook", hook)
        }
        ErpRoute::Pull => ("pull", json!({})),
    };
    let schedule: serde_json::Map<String, Value> =
        t.schedule.iter().map(|(module, every)| (module.name().to_owned(), json!(every.to_string()))).collect();
    let carriers: serde_json::Map<String, Value> =
        t.carriers.iter().map(|(code, platforms)| (code.to_owned(), json!(platforms))).collect();
    let erp_status: serde_json::Map<String, Value> =
        t.erp_status.iter().map(|(status, action)| (status.name().to_owned(), json!(action.to_string()))).collect();
    json!({"id": t.id, "origin": "config", "shops": shops, route: erp, "schedule": schedule, "carriers": carriers,
           "erp_status": erp_status, "quota": t.quota})
}

/// The tenant `id` as the caller may see it.
fn view(api: &Api, caller: &Caller, id: &str) -> Result<Value, ApiError> {
    let missing = || ApiError::not_found(format!("no tenant `{id}`"));
    if !caller.may_see(id) {
        return Err(missing());
    }
    if let Some(t) = api.config_tenants.get(id) {
        return Ok(config_view(t));
    }
    let doc = api.control.store().tenants().get(id)?.ok_or_else(missing)?;
    let mut out = redacted(&doc);
    out["origin"] = json!("api");
    Ok(out)
}

pub async fn list_tenants(State(api): State<Api>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let mut ids: Vec<String> = api.config_tenants.keys().cloned().collect();
    ids.extend(api.control.store().tenants().all()?.into_iter().map(|(id, _)| id));
    ids.sort();
    ids.dedup();
    let out: Vec<Value> =
        ids.iter().filter(|id| caller.may_see(id)).filter_map(|id| view(&api, &caller, id).ok()).collect();
    Ok(Json(Value::Array(out)))
}

pub async fn show_tenant(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    view(&api, &caller, &id).map(Json)
}

pub async fn create_tenant(
    State(api): State<Api>,
    caller: Caller,
    JsonBody(mut doc): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.operator()?;
    if let Some(object) = doc.as_object_mut() {
        object.remove("origin"); // as GET shows it
    }
    let id = doc
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_input("`id` is missing or not a string"))?
        .to_owned();
    if api.config_tenants.contains_key(&id) || api.control.store().tenants().get(&id)?.is_some() {
        return Err(ApiError::conflict(format!("tenant `{id}` exists; change it with PUT /v1/tenants/{id}")));
    }
    let shown = save(&api, &caller, doc, "tenant.create").await?;
    Ok((StatusCode::CREATED, Json(shown)))
}

pub async fn update_tenant(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(mut doc): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    caller.operator()?;
    let old = editable(&api, &id)?;
    let Some(object) = doc.as_object_mut() else { return Err(ApiError::bad_input("expected a JSON object")) };
    object.insert("id".into(), json!(id));
    object.remove("origin");
    keep_secrets(&mut doc, &old);
    save(&api, &caller, doc, "tenant.update").await.map(Json)
}

pub async fn delete_tenant(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.operator()?;
    editable(&api, &id)?;
    api.control.remove(&id).await;
    api.control.store().tenants().remove(&id)?;
    api.audit(&caller, &id, "tenant.delete", json!({}))?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_shops(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = view(&api, &caller, &id)?;
    Ok(Json(tenant.get("shops").cloned().unwrap_or(json!([]))))
}

pub async fn show_shop(
    State(api): State<Api>,
    caller: Caller,
    Path((id, shop)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let tenant = view(&api, &caller, &id)?;
    let found = tenant["shops"].as_array().into_iter().flatten().find(|s| s["id"] == json!(shop)).cloned();
    found.map(Json).ok_or_else(|| ApiError::not_found(format!("tenant `{id}` has no shop `{shop}`")))
}

pub async fn add_shop(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(shop): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.operator()?;
    let mut doc = editable(&api, &id)?;
    let shop_id = shop
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_input("shop `id` is missing or not a string"))?;
    let shops = shops_of(&mut doc)?;
    if shops.iter().any(|s| s["id"] == json!(shop_id)) {
        return Err(ApiError::conflict(format!("tenant `{id}` has a shop `{shop_id}`; change it with PUT")));
    }
    let shop_id = shop_id.to_owned();
    shops.push(shop);
    let shown = save(&api, &caller, doc, "shop.add").await?;
    let out = shown["shops"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["id"] == json!(shop_id))
        .cloned()
        .unwrap_or_default();
    Ok((StatusCode::CREATED, Json(out)))
}

pub async fn update_shop(
    State(api): State<Api>,
    caller: Caller,
    Path((id, shop_id)): Path<(String, String)>,
    JsonBody(mut shop): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    caller.operator()?;
    let old = editable(&api, &id)?;
    let mut doc = old.clone();
    let Some(object) = shop.as_object_mut() else { return Err(ApiError::bad_input("expected a JSON object")) };
    object.insert("id".into(), json!(shop_id));
    let shops = shops_of(&mut doc)?;
    let Some(slot) = shops.iter_mut().find(|s| s["id"] == json!(shop_id)) else {
        return Err(ApiError::not_found(format!("tenant `{id}` has no shop `{shop_id}`")));
    };
    *slot = shop;
    keep_secrets(&mut doc, &old);
    let shown = save(&api, &caller, doc, "shop.update").await?;
    let out = shown["shops"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["id"] == json!(shop_id))
        .cloned()
        .unwrap_or_default();
    Ok(Json(out))
}

pub async fn remove_shop(
    State(api): State<Api>,
    caller: Caller,
    Path((id, shop_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.operator()?;
    let mut doc = editable(&api, &id)?;
    let shops = shops_of(&mut doc)?;
    let before = shops.len();
    shops.retain(|s| s["id"] != json!(shop_id));
    if shops.len() == before {
        return Err(ApiError::not_found(format!("tenant `{id}` has no shop `{shop_id}`")));
    }
    save(&api, &caller, doc, "shop.remove").await?;
    Ok(StatusCode::NO_CONTENT)
}

fn shops_of(doc: &mut Value) -> Result<&mut Vec<Value>, ApiError> {
    let object = doc.as_object_mut().ok_or_else(|| ApiError::bad_input("the stored tenant is not an object"))?;
    object
        .entry("shops")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or_else(|| ApiError::bad_input("`shops` is not a list"))
}

/// The stored document of an API tenant; config tenants are read-only.
fn editable(api: &Api, id: &str) -> Result<Value, ApiError> {
    if api.config_tenants.contains_key(id) {
        return Err(ApiError::conflict(format!(
            "tenant `{id}` is declared in the configuration file; change it there and restart"
        )));
    }
    api.control.store().tenants().get(id)?.ok_or_else(|| ApiError::not_found(format!("no tenant `{id}`")))
}

/// Checks `doc` by the config file's rules, keeps it, and runs the tenant as it says;
/// returns what the API shows of it.
async fn save(api: &Api, caller: &Caller, doc: Value, action: &str) -> Result<Value, ApiError> {
    let tenant = tenant_document::tenant(&doc, &api.control.registry().names())?;
    api.control.store().tenants().put(&tenant.id, &doc)?;
    api.control.apply(&tenant, Origin::Api).await?;
    let shown = redacted(&doc);
    api.audit(caller, &tenant.id, action, json!({"tenant": shown}))?;
    let mut shown = shown;
    shown["origin"] = json!("api");
    Ok(shown)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
}

/// Only the operator makes tokens; the new one is scoped to the tenant in the path.
pub async fn create_token(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<NewToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.operator()?;
    caller.tenant(&api, &tenant)?;
    let token = api.control.store().tokens().create(&body.name, Scope::Tenant(tenant.clone()))?;
    Ok((StatusCode::CREATED, Json(json!({"token": token, "tenant": tenant, "name": body.name}))))
}

/// What the tenant uses now against its quota, and its calls and CPU time so far.
pub async fn usage(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.tenant(&api, &tenant)?;
    let (in_flight, quota) =
        api.control.usage(&tenant).ok_or_else(|| ApiError::not_found(format!("no tenant `{tenant}`")))?;
    let metrics = api.control.registry().sandbox().metrics();
    let (cpu, cpu_wait) = metrics.cpu_of(&tenant);
    let stored = api.control.store().usage().bytes(&tenant)?;
    Ok(Json(json!({"tenant": tenant, "calls_in_flight": in_flight, "calls_total": metrics.calls_of(&tenant),
                   "cpu_seconds_total": cpu.as_secs_f64(), "cpu_wait_seconds_total": cpu_wait.as_secs_f64(),
                   "stored_bytes": stored,
                   "quota": quota})))
}

/// Each shop's figures and state, as the progress lines log them.
pub async fn progress(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.tenant(&api, &tenant)?;
    let shops: Vec<_> =
        api.control.progress().snapshot(api.control.store())?.into_iter().filter(|p| p.tenant == tenant).collect();
    Ok(Json(json!({"shops": shops})))
}
