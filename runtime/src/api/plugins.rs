//! Plugin routes, operator only: upload, list, inspect, versions, activate, roll back, pin a
//! tenant to a version (a canary), grant hosts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{JsonBody, Path, Query};
use super::{Api, ApiError, Caller, OPERATOR_LOG};
use crate::registry::{Candidate, Source};

/// The header carrying the base64 ed25519 signature of an uploaded `.wasm`.
pub const SIGNATURE_HEADER: &str = "x-wharf-signature";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// Serve it at once (a name's first version always does).
    #[serde(default)]
    activate: bool,
    /// Hosts granted with the upload, comma-separated.
    #[serde(default)]
    grant: Option<String>,
}

/// `POST /v1/plugins`: the body is the `.wasm`; it serves only once validated.
pub async fn upload_plugin(
    State(api): State<Api>,
    caller: Caller,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.operator()?;
    let signature = match headers.get(SIGNATURE_HEADER).map(|v| v.to_str()) {
        Some(Ok(s)) => Some(s.trim().to_owned()),
        Some(Err(_)) => return Err(ApiError::bad_input(format!("{SIGNATURE_HEADER}: expected base64 text"))),
        None => None,
    };
    let grant: Vec<String> = query
        .grant
        .iter()
        .flat_map(|g| g.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    let candidate = Candidate {
        wasm: &body,
        signature: signature.as_deref(),
        source: Source::Upload,
        grant: &grant,
        activate: query.activate,
    };
    let admitted = api.control.registry().admit(candidate).await?;
    let status = if admitted.known { StatusCode::OK } else { StatusCode::CREATED };
    api.audit(
        &caller,
        OPERATOR_LOG,
        "plugin.upload",
        json!({"name": admitted.name, "version": admitted.version, "sha256": admitted.sha256}),
    )?;
    Ok((status, Json(serde_json::to_value(admitted).expect("admissions serialize"))))
}

pub async fn list_plugins(State(api): State<Api>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.operator()?;
    Ok(Json(serde_json::to_value(api.control.registry().list()).expect("summaries serialize")))
}

pub async fn show_plugin(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.operator()?;
    let (summary, descriptor) = api.control.registry().show(&name)?;
    let mut out = serde_json::to_value(summary).expect("summaries serialize");
    out["descriptor"] = serde_json::to_value(descriptor).expect("descriptors serialize");
    Ok(Json(out))
}

pub async fn plugin_versions(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.operator()?;
    let registry = api.control.registry();
    let (summary, _) = registry.show(&name)?;
    let versions: Vec<Value> = registry
        .versions(&name)?
        .into_iter()
        .map(|v| {
            let active = v.version == summary.active;
            let mut out = serde_json::to_value(v).expect("versions serialize");
            out["active"] = Value::Bool(active);
            out
        })
        .collect();
    Ok(Json(Value::Array(versions)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionBody {
    version: String,
}

pub async fn activate_plugin(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<VersionBody>,
) -> Result<Json<Value>, ApiError> {
    caller.operator()?;
    let (active, previous) = api.control.registry().activate(&name, &body.version).await?;
    api.audit(&caller, OPERATOR_LOG, "plugin.activate", json!({"name": name, "active": active, "previous": previous}))?;
    Ok(Json(json!({"name": name, "active": active, "previous": previous})))
}

pub async fn rollback_plugin(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.operator()?;
    let (active, previous) = api.control.registry().rollback(&name).await?;
    api.audit(&caller, OPERATOR_LOG, "plugin.rollback", json!({"name": name, "active": active, "previous": previous}))?;
    Ok(Json(json!({"name": name, "active": active, "previous": previous})))
}

pub async fn pin_plugin(
    State(api): State<Api>,
    caller: Caller,
    Path((name, tenant)): Path<(String, String)>,
    JsonBody(body): JsonBody<VersionBody>,
) -> Result<Json<Value>, ApiError> {
    caller.operator()?;
    if api.control.origin(&tenant).is_none() {
        return Err(ApiError::not_found(format!("no tenant `{tenant}`")));
    }
    api.control.registry().pin(&name, &tenant, &body.version).await?;
    api.audit(&caller, OPERATOR_LOG, "plugin.pin", json!({"name": name, "tenant": tenant, "version": body.version}))?;
    Ok(Json(json!({"name": name, "tenant": tenant, "version": body.version})))
}

pub async fn unpin_plugin(
    State(api): State<Api>,
    caller: Caller,
    Path((name, tenant)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.operator()?;
    if !api.control.registry().unpin(&name, &tenant).await? {
        return Err(ApiError::not_found(format!("{name} has no pin for tenant `{tenant}`")));
    }
    api.audit(&caller, OPERATOR_LOG, "plugin.unpin", json!({"name": name, "tenant": tenant}))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    hosts: Vec<String>,
}

/// Sets the hosts a plugin may reach; the tenants using it start again with the new grants.
pub async fn grant_plugin(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<GrantBody>,
) -> Result<Json<Value>, ApiError> {
    caller.operator()?;
    let grants = api.control.registry().set_grants(&name, body.hosts).await?;
    api.control.reapply_using(&name, &|id| api.desired(id)).await?;
    api.audit(&caller, OPERATOR_LOG, "plugin.grants", json!({"name": name, "grants": grants}))?;
    Ok(Json(json!({"name": name, "grants": grants})))
}
