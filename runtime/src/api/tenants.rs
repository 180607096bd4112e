//! Tenants and their shops: made, changed and removed by the operator while the host runs,
//! kept in the store as sealed documents; credentials are write-only. Tenants of the config
//! file are listed too, read-only. Also tenant tokens and usage.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use super::extract::{JsonBody, Path};
use super::openapi::{Conflict, NotFound, ShopPath, TenantPath, TokenIdPath};
use super::{Api, ApiError, Caller};
use crate::config::model::{
    DEFAULT_QUOTA_CALLS_PER_SECOND, DEFAULT_QUOTA_CONCURRENT_CALLS, DEFAULT_QUOTA_CPU_MILLIS_PER_SECOND,
    DEFAULT_QUOTA_MEMORY_MIB, DEFAULT_QUOTA_STORED_MIB,
};
use crate::config::tenant_document::{self, keep_secrets, redacted};
use crate::config::{ErpRoute, Module, Quota, Tenant};
use crate::store::Scope;
use crate::store::tokens::{self, TokenInfo};
use crate::sync::scheduler::{Origin, ShopProgress};

/// A tenant as the tenant routes take and answer it: a `[tenants.<id>]` table of the
/// configuration file as JSON, with its `id`. The handlers keep it as JSON and check it by the
/// file's own rules (`tenant_document`, the same validator as the file, which refuses what a
/// file could not hold), so this type only tells the document and clients its shape.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(description = "A [tenants.<id>] table of the configuration file as JSON, checked by the same rules. \
    The ERP route is exactly one of erp, webhook and pull. Credentials are write-only: read back, they are their names.")]
pub struct TenantDocument {
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub id: String,
    /// Tenants of the configuration file are read-only over the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(read_only)]
    pub origin: Option<TenantOrigin>,
    #[serde(default)]
    pub shops: Vec<ShopDocument>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp: Option<ErpDocument>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookDocument>,
    /// The ERP pulls orders from the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull: Option<PullDocument>,
    /// How often each module runs, per module (`30s`, `5m`, `off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schedule)]
    pub schedule: Option<BTreeMap<String, String>>,
    /// ERP carrier code → platform → that platform's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carriers: Option<BTreeMap<String, BTreeMap<String, String>>>,
    /// ERP status → what is done with it (`note`, `move:completed`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp_status: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaDocument>,
    /// The language its staff read (`zh`, the default, or `en`): spreadsheet templates come
    /// with headers in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(zh|en)$")]
    pub language: Option<String>,
}

/// The schedule's keys are the modules (`crate::config::Module`).
fn schedule() -> RefOr<Schema> {
    let interval = ObjectBuilder::new().schema_type(Type::String).examples(["30s", "5m", "off"]);
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(Schema::from(super::openapi::names(Module::ALL.iter().map(|m| m.name())))))
        .additional_properties(Some(interval))
        .into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantOrigin {
    Config,
    Api,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopDocument {
    pub id: String,
    #[schema(examples("taobao"))]
    pub platform: String,
    pub plugin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(default = true)]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    /// Hosts the shop's plugin may reach besides those granted to the plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<String>>,
}

/// Write-only: sent as the secrets by the names the plugin asks for, read back as those names.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Credentials {
    Secrets(BTreeMap<String, String>),
    Names(Vec<String>),
}

/// The ERP is a plugin.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErpDocument {
    pub plugin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<String>>,
}

/// Orders are posted to the ERP's URL, signed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookDocument {
    #[schema(format = "uri")]
    pub url: String,
    /// The signing key (`whsec_…`); reads back as `(set)`.
    pub secret: String,
    /// Keys still signing during a rotation; read back as `(set)` each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secrets: Option<Vec<String>>,
    /// Events per POST, 1 to 100 (default 1): above 1, each POST is a `batch` event holding
    /// up to that many, each with its own idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
}

/// Nothing to set: the ERP pulls orders from the API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PullDocument {}

/// What the tenant may use of the host; every field may be left out for its default.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaDocument {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, default = json!(DEFAULT_QUOTA_CALLS_PER_SECOND))]
    pub calls_per_second: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, default = json!(DEFAULT_QUOTA_CONCURRENT_CALLS))]
    pub concurrent_calls: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, default = json!(DEFAULT_QUOTA_MEMORY_MIB))]
    pub memory_mib: Option<u32>,
    /// CPU time the tenant's plugin calls may use per second; over it, its calls wait and pause
    /// while other tenants run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, default = json!(DEFAULT_QUOTA_CPU_MILLIS_PER_SECOND))]
    pub cpu_millis_per_second: Option<u32>,
    /// What the tenant may keep in the store (orders, deliveries and updates owed, dead letters,
    /// quarantine); at it, new intake is refused with 507.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, default = json!(DEFAULT_QUOTA_STORED_MIB))]
    pub stored_mib: Option<u32>,
}

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
            if w.batch > 1 {
                hook["batch"] = json!(w.batch);
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
    json!({"id": t.id, "origin": TenantOrigin::Config, "shops": shops, route: erp, "schedule": schedule, "carriers": carriers,
           "erp_status": erp_status, "quota": t.quota, "language": t.language.code()})
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
    out["origin"] = json!(TenantOrigin::Api);
    Ok(out)
}

#[utoipa::path(get, path = "/v1/tenants", tag = "tenants",
    summary = "Tenants: every one for the operator, its own for a tenant token",
    security(("bearer" = [])),
    responses((status = 200, description = "The tenants (credentials by name only)", body = Vec<TenantDocument>)))]
pub async fn list_tenants(State(api): State<Api>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let mut ids: Vec<String> = api.config_tenants.keys().cloned().collect();
    ids.extend(api.control.store().tenants().all()?.into_iter().map(|(id, _)| id));
    ids.sort();
    ids.dedup();
    let out: Vec<Value> =
        ids.iter().filter(|id| caller.may_see(id)).filter_map(|id| view(&api, &caller, id).ok()).collect();
    Ok(Json(Value::Array(out)))
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}", tag = "tenants", summary = "One tenant",
    security(("bearer" = [])),
    params(TenantPath),
    responses(
        (status = 200, description = "The tenant (credentials by name only)", body = TenantDocument),
        (status = 404, response = NotFound),
    ))]
pub async fn show_tenant(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    view(&api, &caller, &id).map(Json)
}

#[utoipa::path(post, path = "/v1/tenants", tag = "tenants",
    summary = "Create a tenant from a document; it runs at once",
    security(("bearer" = ["operator"])),
    request_body = TenantDocument,
    responses(
        (status = 201, description = "The tenant (credentials by name only)", body = TenantDocument),
        (status = 409, response = Conflict),
    ))]
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

#[utoipa::path(put, path = "/v1/tenants/{tenant}", tag = "tenants",
    summary = "Replace a tenant's document; credentials left out keep their stored values",
    description = "The path's id is the tenant's. 409 for a tenant of the configuration file: change it there and restart.",
    security(("bearer" = ["operator"])),
    params(TenantPath),
    request_body = TenantDocument,
    responses(
        (status = 200, description = "The tenant (credentials by name only)", body = TenantDocument),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ))]
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

#[utoipa::path(delete, path = "/v1/tenants/{tenant}", tag = "tenants", summary = "Stop and delete a tenant",
    security(("bearer" = ["operator"])),
    params(TenantPath),
    responses((status = 204, description = "Deleted"), (status = 404, response = NotFound), (status = 409, response = Conflict)))]
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

#[utoipa::path(get, path = "/v1/tenants/{tenant}/shops", tag = "tenants", summary = "A tenant's shops",
    security(("bearer" = [])),
    params(TenantPath),
    responses(
        (status = 200, description = "The shops (credentials by name only)", body = Vec<ShopDocument>),
        (status = 404, response = NotFound),
    ))]
pub async fn list_shops(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = view(&api, &caller, &id)?;
    Ok(Json(tenant.get("shops").cloned().unwrap_or(json!([]))))
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/shops/{shop}", tag = "tenants", summary = "One shop",
    security(("bearer" = [])),
    params(TenantPath, ShopPath),
    responses(
        (status = 200, description = "The shop (credentials by name only)", body = ShopDocument),
        (status = 404, response = NotFound),
    ))]
pub async fn show_shop(
    State(api): State<Api>,
    caller: Caller,
    Path((id, shop)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let tenant = view(&api, &caller, &id)?;
    let found = tenant["shops"].as_array().into_iter().flatten().find(|s| s["id"] == json!(shop)).cloned();
    found.map(Json).ok_or_else(|| ApiError::not_found(format!("tenant `{id}` has no shop `{shop}`")))
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/shops", tag = "tenants",
    summary = "Add a shop; the tenant starts again with it",
    security(("bearer" = ["operator"])),
    params(TenantPath),
    request_body = ShopDocument,
    responses(
        (status = 201, description = "The shop (credentials by name only)", body = ShopDocument),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ))]
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

#[utoipa::path(put, path = "/v1/tenants/{tenant}/shops/{shop}", tag = "tenants",
    summary = "Replace a shop; credentials left out keep their stored values",
    description = "The path's id is the shop's.",
    security(("bearer" = ["operator"])),
    params(TenantPath, ShopPath),
    request_body = ShopDocument,
    responses(
        (status = 200, description = "The shop (credentials by name only)", body = ShopDocument),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ))]
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

#[utoipa::path(delete, path = "/v1/tenants/{tenant}/shops/{shop}", tag = "tenants", summary = "Remove a shop",
    security(("bearer" = ["operator"])),
    params(TenantPath, ShopPath),
    responses((status = 204, description = "Removed"), (status = 404, response = NotFound), (status = 409, response = Conflict)))]
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
    shown["origin"] = json!(TenantOrigin::Api);
    Ok(shown)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    #[schema(examples("erp"))]
    pub name: String,
    /// May it decrypt receivers (`POST …/receivers/decrypt`, for printing waybills)? Every
    /// use is audited under the token's name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub decrypt: bool,
}

/// A new tenant token: the only time it is shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Token {
    pub token: String,
    pub tenant: String,
    pub name: String,
    /// What lists and revokes it (`GET`/`DELETE …/tokens`).
    pub id: String,
}

/// Only the operator makes tokens; the new one is scoped to the tenant in the path.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/tokens", tag = "tenants",
    summary = "A token scoped to this tenant; shown once, stored hashed",
    security(("bearer" = ["operator"])),
    params(TenantPath),
    request_body = NewToken,
    responses((status = 201, description = "The token", body = Token), (status = 404, response = NotFound)))]
pub async fn create_token(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<NewToken>,
) -> Result<(StatusCode, Json<Token>), ApiError> {
    caller.operator()?;
    caller.tenant(&api, &tenant)?;
    let token =
        api.control.store().tokens().create_granting(&body.name, Scope::Tenant(tenant.clone()), body.decrypt)?;
    if body.decrypt {
        api.audit(&caller, &tenant, "token_granted_decrypt", json!({"name": body.name}))?;
    }
    let id = tokens::Tokens::id(&token);
    Ok((StatusCode::CREATED, Json(Token { token, tenant, name: body.name, id })))
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/tokens", tag = "tenants",
    summary = "The tenant's tokens, by id and name (never the tokens themselves)",
    security(("bearer" = ["operator"])),
    params(TenantPath),
    responses((status = 200, description = "Its tokens", body = Vec<TokenInfo>), (status = 404, response = NotFound)))]
pub async fn list_tokens(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    caller.operator()?;
    caller.tenant(&api, &tenant)?;
    Ok(Json(api.control.store().tokens().list(&tenant)?))
}

#[utoipa::path(delete, path = "/v1/tenants/{tenant}/tokens/{id}", tag = "tenants",
    summary = "Revoke a token: it stops working at once (audited)",
    security(("bearer" = ["operator"])),
    params(TenantPath, TokenIdPath),
    responses((status = 204, description = "Revoked"), (status = 404, response = NotFound)))]
pub async fn revoke_token(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.operator()?;
    caller.tenant(&api, &tenant)?;
    let revoked = api.control.store().tokens().revoke(&tenant, &id)?;
    let Some(info) = revoked else {
        return Err(ApiError::not_found(format!("tenant {tenant} has no token {id}")));
    };
    api.audit(&caller, &tenant, "token_revoked", json!({"id": info.id, "name": info.name}))?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a tenant uses now against its quota, and its calls and CPU time so far.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Usage {
    pub tenant: String,
    pub calls_in_flight: usize,
    pub calls_total: u64,
    /// CPU time the tenant's plugin calls used so far.
    pub cpu_seconds_total: f64,
    /// Time its calls waited or paused on its CPU budget (`cpu_millis_per_second`).
    pub cpu_wait_seconds_total: f64,
    /// What the tenant keeps in the store (orders, deliveries and updates owed, dead letters,
    /// quarantine).
    pub stored_bytes: u64,
    pub quota: Quota,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/usage", tag = "tenants",
    summary = "Plugin calls running now against the quota, and calls so far",
    security(("bearer" = [])),
    params(TenantPath),
    responses((status = 200, description = "Usage", body = Usage), (status = 404, response = NotFound)))]
pub async fn usage(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Usage>, ApiError> {
    caller.tenant(&api, &tenant)?;
    let (in_flight, quota) =
        api.control.usage(&tenant).ok_or_else(|| ApiError::not_found(format!("no tenant `{tenant}`")))?;
    let metrics = api.control.registry().sandbox().metrics();
    let (cpu, cpu_wait) = metrics.cpu_of(&tenant);
    let stored_bytes = api.control.store().usage().bytes(&tenant)?;
    Ok(Json(Usage {
        calls_in_flight: in_flight,
        calls_total: metrics.calls_of(&tenant),
        cpu_seconds_total: cpu.as_secs_f64(),
        cpu_wait_seconds_total: cpu_wait.as_secs_f64(),
        stored_bytes,
        quota,
        tenant,
    }))
}

/// Each shop's figures and state, as the progress lines log them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Progress {
    pub shops: Vec<ShopProgress>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/progress", tag = "tenants",
    summary = "Each shop's figures since start and its state: ok, or auth_failed with the platform's words",
    security(("bearer" = [])),
    params(TenantPath),
    responses((status = 200, description = "One entry per shop", body = Progress), (status = 404, response = NotFound)))]
pub async fn progress(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Progress>, ApiError> {
    caller.tenant(&api, &tenant)?;
    let shops =
        api.control.progress().snapshot(api.control.store())?.into_iter().filter(|p| p.tenant == tenant).collect();
    Ok(Json(Progress { shops }))
}
