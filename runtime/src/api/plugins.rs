//! Plugin routes, operator only: upload, list, inspect, versions, activate, roll back, pin a
//! tenant to a version (a canary), grant hosts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::extract::{JsonBody, Path, Query};
use super::openapi::{Conflict, NotFound, PluginPath, Rejected, TenantPath};
use super::{Api, ApiError, Caller, OPERATOR_LOG};
use crate::model::Descriptor;
use crate::registry::{Admitted, Candidate, Source, Summary, VersionInfo};

/// The header carrying the base64 ed25519 signature of an uploaded `.wasm`.
pub const SIGNATURE_HEADER: &str = "x-wharf-signature";

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// Serve this version at once (a name's first version always does)
    #[serde(default)]
    #[param(default = false)]
    activate: bool,
    /// Hosts granted with the upload, comma-separated
    #[serde(default)]
    #[param(example = "eco.taobao.com,gw.api.taobao.com")]
    grant: Option<String>,
}

/// `POST /v1/plugins`: the body is the `.wasm`; it serves only once validated.
#[utoipa::path(post, path = "/v1/plugins", tag = "plugins",
    summary = "Upload a plugin version; it serves only once validated",
    description = "A name's first version serves at once; later ones only with activate=true. Every host the \
                   plugin declares must be granted first (earlier, or with grant=).",
    security(("bearer" = ["operator"])),
    params(UploadQuery, ("X-Wharf-Signature" = Option<String>, Header,
        description = "The ed25519 signature of the .wasm bytes, base64 (required when the host requires signed plugins)")),
    request_body(content_type = "application/wasm", description = "The component's bytes"),
    responses(
        (status = 201, description = "A new version, admitted", body = Admitted),
        (status = 200, description = "These very bytes were admitted before; nothing changed", body = Admitted),
        (status = 409, response = Conflict),
        (status = 422, response = Rejected),
    ))]
pub async fn upload_plugin(
    State(api): State<Api>,
    caller: Caller,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Admitted>), ApiError> {
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
    Ok((status, Json(admitted)))
}

#[utoipa::path(get, path = "/v1/plugins", tag = "plugins",
    summary = "Every plugin: active and previous version, versions, pins, grants",
    security(("bearer" = ["operator"])),
    responses((status = 200, description = "The plugins", body = Vec<Summary>)))]
pub async fn list_plugins(State(api): State<Api>, caller: Caller) -> Result<Json<Vec<Summary>>, ApiError> {
    caller.operator()?;
    Ok(Json(api.control.registry().list()))
}

/// A plugin with the descriptor of its active version.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginDetail {
    #[serde(flatten)]
    pub summary: Summary,
    pub descriptor: Descriptor,
}

#[utoipa::path(get, path = "/v1/plugins/{name}", tag = "plugins",
    summary = "One plugin, with the descriptor of its active version",
    security(("bearer" = ["operator"])),
    params(PluginPath),
    responses((status = 200, description = "The plugin", body = PluginDetail), (status = 404, response = NotFound)))]
pub async fn show_plugin(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<PluginDetail>, ApiError> {
    caller.operator()?;
    let (summary, descriptor) = api.control.registry().show(&name)?;
    Ok(Json(PluginDetail { summary, descriptor }))
}

/// An admitted version, and whether it is the one serving.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginVersion {
    #[serde(flatten)]
    pub info: VersionInfo,
    pub active: bool,
}

#[utoipa::path(get, path = "/v1/plugins/{name}/versions", tag = "plugins",
    summary = "Every admitted version of a plugin",
    security(("bearer" = ["operator"])),
    params(PluginPath),
    responses((status = 200, description = "By version", body = Vec<PluginVersion>), (status = 404, response = NotFound)))]
pub async fn plugin_versions(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Vec<PluginVersion>>, ApiError> {
    caller.operator()?;
    let registry = api.control.registry();
    let (summary, _) = registry.show(&name)?;
    let versions = registry
        .versions(&name)?
        .into_iter()
        .map(|info| PluginVersion { active: info.version == summary.active, info })
        .collect();
    Ok(Json(versions))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionBody {
    #[schema(examples("1.1.0"))]
    pub version: String,
}

/// Which version serves a plugin now, and which served before.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Activation {
    pub name: String,
    pub active: String,
    pub previous: Option<String>,
}

#[utoipa::path(post, path = "/v1/plugins/{name}/activate", tag = "plugins",
    summary = "Serve this version from the next call on (calls running finish on the old one)",
    security(("bearer" = ["operator"])),
    params(PluginPath),
    request_body = VersionBody,
    responses((status = 200, description = "Now active", body = Activation), (status = 404, response = NotFound)))]
pub async fn activate_plugin(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<VersionBody>,
) -> Result<Json<Activation>, ApiError> {
    caller.operator()?;
    let (active, previous) = api.control.registry().activate(&name, &body.version).await?;
    api.audit(&caller, OPERATOR_LOG, "plugin.activate", json!({"name": name, "active": active, "previous": previous}))?;
    Ok(Json(Activation { name, active, previous }))
}

#[utoipa::path(post, path = "/v1/plugins/{name}/rollback", tag = "plugins",
    summary = "Serve the previously active version again",
    security(("bearer" = ["operator"])),
    params(PluginPath),
    responses(
        (status = 200, description = "Now active", body = Activation),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ))]
pub async fn rollback_plugin(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Activation>, ApiError> {
    caller.operator()?;
    let (active, previous) = api.control.registry().rollback(&name).await?;
    api.audit(&caller, OPERATOR_LOG, "plugin.rollback", json!({"name": name, "active": active, "previous": previous}))?;
    Ok(Json(Activation { name, active, previous }))
}

/// A tenant kept on a version whatever is active.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Pin {
    pub name: String,
    pub tenant: String,
    pub version: String,
}

#[utoipa::path(put, path = "/v1/plugins/{name}/pins/{tenant}", tag = "plugins",
    summary = "Keep a tenant on a version whatever is active (a canary)",
    security(("bearer" = ["operator"])),
    params(PluginPath, TenantPath),
    request_body = VersionBody,
    responses((status = 200, description = "The pin", body = Pin), (status = 404, response = NotFound)))]
pub async fn pin_plugin(
    State(api): State<Api>,
    caller: Caller,
    Path((name, tenant)): Path<(String, String)>,
    JsonBody(body): JsonBody<VersionBody>,
) -> Result<Json<Pin>, ApiError> {
    caller.operator()?;
    if api.control.origin(&tenant).is_none() {
        return Err(ApiError::not_found(format!("no tenant `{tenant}`")));
    }
    api.control.registry().pin(&name, &tenant, &body.version).await?;
    api.audit(&caller, OPERATOR_LOG, "plugin.pin", json!({"name": name, "tenant": tenant, "version": body.version}))?;
    Ok(Json(Pin { name, tenant, version: body.version }))
}

#[utoipa::path(delete, path = "/v1/plugins/{name}/pins/{tenant}", tag = "plugins",
    summary = "Let the tenant follow the active version again",
    security(("bearer" = ["operator"])),
    params(PluginPath, TenantPath),
    responses((status = 204, description = "Unpinned"), (status = 404, response = NotFound)))]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    /// Hosts (`name` or `name:port`) the plugin may reach; replaces the list.
    #[schema(examples(json!(["eco.taobao.com", "127.0.0.1:8080"])))]
    pub hosts: Vec<String>,
}

/// The hosts a plugin may reach now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Grants {
    pub name: String,
    pub grants: Vec<String>,
}

/// Sets the hosts a plugin may reach; the tenants using it start again with the new grants.
#[utoipa::path(put, path = "/v1/plugins/{name}/grants", tag = "plugins",
    summary = "Set the hosts the plugin may reach (replaces the list); tenants using it start again",
    security(("bearer" = ["operator"])),
    params(PluginPath),
    request_body = GrantBody,
    responses(
        (status = 200, description = "The grants", body = Grants),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ))]
pub async fn grant_plugin(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<GrantBody>,
) -> Result<Json<Grants>, ApiError> {
    caller.operator()?;
    let grants = api.control.registry().set_grants(&name, body.hosts).await?;
    api.control.reapply_using(&name, &|id| api.desired(id)).await?;
    api.audit(&caller, OPERATOR_LOG, "plugin.grants", json!({"name": name, "grants": grants}))?;
    Ok(Json(Grants { name, grants }))
}
