//! The OpenAPI document `GET /openapi.json` serves: what the API answers, for clients and
//! their generators. Written by hand next to the routes it describes (`super::Api::router`).
//!
//! One function per module of routes lists its operations; [`Op`] spells out what every
//! operation shares (the bearer token, the error answers by `$ref`), so each entry says only
//! what is its own. Enumerations the host already knows (modules, order statuses, sheet kinds,
//! quota limits) are read from the code rather than copied.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use super::erp::XLSX;
use crate::config::model::{
    DEFAULT_QUOTA_CALLS_PER_SECOND, DEFAULT_QUOTA_CONCURRENT_CALLS, DEFAULT_QUOTA_CPU_MILLIS_PER_SECOND,
    DEFAULT_QUOTA_MEMORY_MIB,
};
use crate::model::Module;
use crate::model::OrderStatus;
use crate::sheet::SheetKind;
use crate::store::orders::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::store::pushes::{DEFAULT_WAITING_PAGE, MAX_WAITING_PAGE};

/// The kinds `POST /v1/tenants/{tenant}/updates/{kind}` takes: the modules that go out to
/// the shops (`crate::model::modules`).
fn update_kinds() -> impl Iterator<Item = &'static str> {
    Module::ALL.into_iter().filter(|m| m.spec().push.is_some()).map(Module::name)
}
/// The per-SKU switches: the modules one SKU can be switched off for.
fn sku_switches() -> impl Iterator<Item = &'static str> {
    Module::per_sku().map(Module::name)
}
/// The dead-letter queues (`super::operations`).
const QUEUES: [&str; 2] = ["deliveries", "pushes"];
/// The upload's signature header as clients write it (`super::plugins::SIGNATURE_HEADER` is
/// the same name in lowercase: header names ignore case).
const SIGNATURE: &str = "X-Wharf-Signature";

/// The document, OpenAPI 3.1.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (path, method, op) in [service(), plugins(), tenants(), erp(), operations()].into_iter().flatten() {
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[method] = Value::Object(op.0);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Wharf", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Docks marketplaces to ERPs. Every /v1 route needs a bearer token: the operator's \
                     (WHARF_OPERATOR_TOKEN on the server), or one scoped to a tenant (POST /v1/tenants/{tenant}/tokens). \
                     A tenant token reaching for another tenant gets 404, as if it did not exist; operator-only routes \
                     answer it 403. Every error is JSON, {\"error\": kind, \"message\": …} (the Error schema), an unknown route \
                     (404) or method (405) included. Input is strict: an unknown body field or query parameter, or a \
                     limit out of its range, is refused with 400, never ignored or clamped; a JSON body must be sent \
                     as application/json (else 415). Instants are RFC 3339, money is integer minor units (fen)."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": parameters(),
            "responses": responses(),
            "schemas": schemas(),
        },
        "paths": paths,
    })
}

/// A query parameter as the document describes it: its name and, for an integer, its range.
pub(crate) struct QueryParameter {
    pub name: String,
    pub range: Option<(i64, i64)>,
}

/// The query parameters of every operation, by (path as routed, lowercase method), read from
/// [`document`]: what `super::extract::strict_query` holds every request to, so a route takes
/// exactly the parameters it documents.
pub(crate) fn query_parameters() -> &'static BTreeMap<(String, String), Vec<QueryParameter>> {
    static TABLE: OnceLock<BTreeMap<(String, String), Vec<QueryParameter>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let doc = document();
        let mut table = BTreeMap::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let params = op["parameters"].as_array().into_iter().flatten().map(|p| resolve(&doc, p));
                let query = params
                    .filter(|p| p["in"] == "query")
                    .map(|p| {
                        let schema = &p["schema"];
                        let range = (schema["type"] == "integer")
                            .then(|| Some((schema["minimum"].as_i64()?, schema["maximum"].as_i64()?)))
                            .flatten();
                        QueryParameter { name: p["name"].as_str().unwrap_or_default().to_owned(), range }
                    })
                    .collect();
                table.insert((path.clone(), method.clone()), query);
            }
        }
        table
    })
}

/// The operations that take a body, as (path as routed, lowercase method), read from
/// [`document`]: any other is sent without one (`super::extract::strict_query` refuses a body
/// there rather than ignore it).
pub(crate) fn takes_body(path: &str, method: &str) -> bool {
    static TABLE: OnceLock<BTreeSet<(String, String)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let doc = document();
        let mut table = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                if op.get("requestBody").is_some() {
                    table.insert((path.clone(), method.clone()));
                }
            }
        }
        table
    });
    table.contains(&(path.to_owned(), method.to_owned()))
}

/// Follows a `$ref` within the document.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap_or(value),
        None => value,
    }
}

/// One operation, built up by what it adds to the defaults.
struct Op(Map<String, Value>);

/// Where an operation is served: path, lowercase method, operation.
type Route = (&'static str, &'static str, Op);

impl Op {
    /// An operation anyone may call. Any operation may answer 400: a query parameter it does
    /// not document is refused (see `super::extract`), as is a path or body it cannot read.
    fn open(summary: &str) -> Self {
        let mut op = Map::new();
        op.insert("summary".into(), json!(summary));
        op.insert("responses".into(), json!({}));
        Op(op).fails(&[400])
    }

    /// Behind the bearer token: any token may call it (tenant tokens for their own tenant).
    fn secured(summary: &str) -> Self {
        let mut op = Op::open(summary);
        op.0.insert("security".into(), json!([{"bearer": []}]));
        op.fails(&[401, 500])
    }

    /// Operator only: tenant tokens get 403.
    fn operator(summary: &str) -> Self {
        Op::secured(summary).fails(&[403])
    }

    /// What the summary leaves out.
    fn describe(mut self, text: &str) -> Self {
        self.0.insert("description".into(), json!(text));
        self
    }

    fn params(mut self, params: impl IntoIterator<Item = Value>) -> Self {
        let list = self.0.entry("parameters").or_insert_with(|| json!([]));
        if let Value::Array(list) = list {
            list.extend(params);
        }
        self
    }

    /// A required body of `media`; any body may be over the API's limit (413).
    fn body(mut self, media: &str, schema: Value) -> Self {
        self.0.insert("requestBody".into(), json!({"required": true, "content": {media: {"schema": schema}}}));
        self.fails(&[413])
    }

    /// A JSON body (`super::extract::JsonBody`): sent as another media type, 415; not JSON, of
    /// another shape or with an unknown field, 400.
    fn json_body(self, schema: Value) -> Self {
        self.body("application/json", schema).fails(&[400, 415])
    }

    /// The body may be left out.
    fn optional(mut self) -> Self {
        if let Some(body) = self.0.get_mut("requestBody") {
            body["required"] = json!(false);
        }
        self
    }

    fn answers(mut self, status: &str, response: Value) -> Self {
        if let Some(Value::Object(responses)) = self.0.get_mut("responses") {
            responses.insert(status.into(), response);
        }
        self
    }

    fn ok(self, response: Value) -> Self {
        self.answers("200", response)
    }

    fn created(self, response: Value) -> Self {
        self.answers("201", response)
    }

    /// 204: done, nothing to say.
    fn gone(self, what: &str) -> Self {
        self.answers("204", json!({"description": what}))
    }

    /// The shared error answers, by status (see [`responses`]).
    fn fails(mut self, statuses: &[u16]) -> Self {
        for status in statuses {
            self = self.answers(&status.to_string(), reference("responses", &status.to_string()));
        }
        self
    }
}

fn reference(section: &str, name: &str) -> Value {
    json!({"$ref": format!("#/components/{section}/{name}")})
}

fn schema(name: &str) -> Value {
    reference("schemas", name)
}

fn param(name: &str) -> Value {
    reference("parameters", name)
}

fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

/// An object with these properties, of which `required` must be present.
fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

/// A string from `values`.
fn one_of<'a>(values: impl IntoIterator<Item = &'a str>) -> Value {
    json!({"type": "string", "enum": values.into_iter().collect::<Vec<_>>()})
}

fn in_path(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

fn in_query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": schema})
}

/// A JSON answer.
fn answer(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// A file or text answer of `media`.
fn file(description: &str, media: &str) -> Value {
    json!({"description": description, "content": {media: {}}})
}

/// An object of these string fields, all present.
fn texts(names: &[&str]) -> Value {
    let properties: Map<String, Value> = names.iter().map(|n| ((*n).to_owned(), json!({"type": "string"}))).collect();
    object(names, Value::Object(properties))
}

/// A body that is only `{"version": …}`.
fn version_body() -> Value {
    object(&["version"], json!({"version": {"type": "string", "examples": ["1.1.0"]}}))
}

/// A body that is only `{"on": bool}`.
fn on_off() -> Value {
    object(&["on"], json!({"on": {"type": "boolean"}}))
}

/// The filters of the order query, shared by the JSON page and the `.xlsx` export.
fn order_query() -> Vec<Value> {
    let string = || json!({"type": "string"});
    let instant = || json!({"type": "string", "format": "date-time"});
    vec![
        in_query("sync", "ERP sync state (default unsynced)", one_of(["unsynced", "synced"])),
        in_query("any_sync", "Both sync states (overrides sync)", json!({"type": "boolean"})),
        in_query("updated_from", "updated_at at or after this instant", instant()),
        in_query("updated_to", "updated_at before this instant", instant()),
        in_query("status", "Canonical order status", one_of(OrderStatus::ALL.map(OrderStatus::name))),
        in_query("platform", "e.g. taobao", string()),
        in_query("shop_id", "The shop's id in the tenant", string()),
        in_query("order_id", "The platform's order id", string()),
        in_query(
            "limit",
            "Orders per page; a value out of the range is refused (400), not capped",
            json!({"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE}),
        ),
        in_query("cursor", "A previous page's next_cursor", string()),
    ]
}

/// Parameters several operations share, by name.
fn parameters() -> Value {
    let string = || json!({"type": "string"});
    json!({
        "tenant": in_path("tenant", "The tenant's id", string()),
        "name": in_path("name", "The plugin's name (its descriptor's name)", string()),
        "shop": in_path("shop", "The shop's id within the tenant", string()),
        "sku": in_path("sku", "The merchant's SKU code (outer_sku_id)", string()),
        "queue": in_path("queue", "Order deliveries to the ERP, or updates to the marketplaces", one_of(QUEUES)),
        "id": in_path("id", "The dead letter's id, as the list shows it", json!({"type": "integer", "minimum": 0})),
    })
}

/// The error answers, by status; [`Op::fails`] refers to them.
fn responses() -> Value {
    let error = |description: &str| answer(description, schema("Error"));
    json!({
        "400": error(
            "invalid_input: a body, query or path the route cannot take, the message naming what and where: an unknown \
             body field (with the fields expected there; `field` is where, e.g. `[0].quantiy` in the first record), an unknown \
             query parameter (`unknown`, with the `accepted` ones), a value of another type, an integer out of its \
             range (`field`, `min`, `max`: a `limit` is refused, never clamped), or a value the host refuses; a tenant \
             document lists every problem in `problems`"
        ),
        "401": error("unauthorized: no bearer token, or an unknown one"),
        "403": error("forbidden: only the operator may do this"),
        "404": error("not_found: no such thing, or a tenant this token may not see"),
        "409": error("conflict: it exists already, or it cannot change that way (see message)"),
        "413": error(&format!(
            "too_large, naming the bound in `limit` and its figure in `max`: the body is larger than the host takes \
             (body_bytes, {} MiB; the connection is closed after the answer), an update carries more than {} records \
             (records_per_update), or a workbook passes one of an import's bounds: uncompressed_bytes ({} MiB \
             unpacked), shared_strings ({}), shared_strings_bytes ({} MiB), parts ({}), rows ({}), text_bytes ({} MiB)",
            super::MAX_BODY_BYTES >> 20,
            super::erp::MAX_RECORDS_PER_UPDATE,
            crate::sheet::MAX_UNCOMPRESSED_BYTES >> 20,
            crate::sheet::MAX_SHARED_STRINGS,
            crate::sheet::MAX_SHARED_STRINGS_BYTES >> 20,
            crate::sheet::MAX_PARTS,
            crate::sheet::MAX_ROWS,
            crate::sheet::MAX_TEXT_BYTES >> 20
        )),
        "507": error(
            "over_quota: the tenant stores as much as its quota allows (`limit` stored_mib, `max` in MiB, `stored_bytes` \
             now); new orders, updates and imports are refused until deliveries and updates owed drain, dead letters \
             are discarded, or the quota is raised. Not 413: a smaller request would be refused too"
        ),
        "415": error(
            "unsupported_media_type: the route takes a JSON body, and the request did not say `Content-Type: \
             application/json`"
        ),
        "422": error("rejected: the plugin failed validation and never served"),
        "500": error("store or internal: the host could not read or write its store"),
    })
}

/// An update waiting for platform ids, as `GET …/updates/waiting` lists it.
fn waiting_update() -> Value {
    let (count, string) = (|| json!({"type": "integer", "minimum": 0}), || json!({"type": "string"}));
    let instant = || json!({"type": "string", "format": "date-time"});
    let mut properties = json!({
        "id": count(), "tenant": string(), "shop": string(), "module": string(), "item": string(),
        "version": count(), "attempts": count(), "next_attempt_at": instant(), "enqueued_at": instant(),
    });
    properties["record"] = json!({"type": "object", "description": "The canonical record, as the ERP sent it"});
    properties["last_error"] = json!({"type": ["string", "null"], "description": "Why it waits"});
    properties["waiting_for_sku"] = json!({"type": "string", "description": "The SKU whose platform ids it waits for"});
    object(&["id", "shop", "module", "item", "record", "enqueued_at", "waiting_for_sku"], properties)
}

fn schemas() -> Value {
    let string = || json!({"type": "string"});
    let strings = || json!({"type": "object", "additionalProperties": {"type": "string"}});
    let count = || json!({"type": "integer", "minimum": 0});
    let instant = || json!({"type": "string", "format": "date-time"});
    let modules: Vec<&str> = Module::ALL.iter().map(|m| m.name()).collect();
    json!({
        "Error": {"type": "object", "required": ["error", "message"],
                  "properties": {"error": {"type": "string", "examples": ["invalid_input", "not_found", "rejected"]},
                                 "message": string(),
                                 "limit": {"type": "string", "description": "With too_large and over_quota: the bound passed",
                                           "examples": ["body_bytes", "rows", "stored_mib"]},
                                 "max": {"type": "integer", "description": "With `limit`: its figure, in the unit its name says; with `field`: the largest value it takes"},
                                 "problems": {"type": "array", "items": string(),
                                              "description": "Every problem of a tenant document, each at its path"},
                                 "field": {"type": "string", "examples": ["[0].quantiy", "shops[1].id", "limit", "id"],
                                           "description": "With invalid_input: where in the body, or which query or path parameter"},
                                 "unknown": {"type": "array", "items": string(),
                                             "description": "With invalid_input: the query parameters the route does not take"},
                                 "accepted": {"type": "array", "items": string(),
                                              "description": "With `unknown`: the query parameters the route takes"},
                                 "min": {"type": "integer", "description": "With `field`: the least value it takes"}}},
        "Quota": {"type": "object", "description": "What the tenant may use of the host; every field optional in a document",
                  "properties": {
                      "calls_per_second": {"type": "integer", "minimum": 1, "default": DEFAULT_QUOTA_CALLS_PER_SECOND},
                      "concurrent_calls": {"type": "integer", "minimum": 1, "maximum": crate::engine::POOL_COMPONENT_INSTANCES,
                                           "default": DEFAULT_QUOTA_CONCURRENT_CALLS},
                      "memory_mib": {"type": "integer", "minimum": 1, "maximum": DEFAULT_QUOTA_MEMORY_MIB,
                                     "default": DEFAULT_QUOTA_MEMORY_MIB},
                      "cpu_millis_per_second": {"type": "integer", "minimum": 1,
                                                "default": DEFAULT_QUOTA_CPU_MILLIS_PER_SECOND,
                                                "description": "CPU time the tenant's plugin calls may use per second; \
                                                                over it, its calls wait and pause while other tenants run"},
                      "stored_mib": {"type": "integer", "minimum": 1, "default": crate::config::model::DEFAULT_QUOTA_STORED_MIB,
                                     "description": "What the tenant may keep in the store (orders, deliveries and updates owed, \
                                                     dead letters, quarantine); at it, new intake is refused with 507"}}},
        "Credentials": {"description": "Write-only: send the secrets by the names the plugin asks for; read back their names only",
                        "oneOf": [strings(), {"type": "array", "items": string(), "readOnly": true}]},
        "Shop": object(&["id", "platform", "plugin"], json!({
            "id": string(), "platform": {"type": "string", "examples": ["taobao"]}, "plugin": string(),
            "enabled": {"type": "boolean", "default": true},
            "config": strings(), "credentials": schema("Credentials")})),
        "TenantDocument": {
            "description": "A [tenants.<id>] table of the configuration file as JSON, checked by the same rules. \
                            The ERP route is exactly one of erp, webhook and pull.",
            "type": "object", "required": ["id", "shops"],
            "properties": {
                "id": {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"},
                "origin": {"enum": ["config", "api"], "readOnly": true,
                           "description": "Tenants of the configuration file are read-only over the API"},
                "shops": array(schema("Shop")),
                "erp": object(&["plugin"], json!({"plugin": string(), "config": strings(), "credentials": schema("Credentials")})),
                "webhook": object(&["url", "secret"], json!({"url": {"type": "string", "format": "uri"},
                    "secret": {"type": "string", "description": "The HMAC key; reads back as \"(set)\""}})),
                "pull": {"type": "object", "maxProperties": 0, "description": "The ERP pulls orders from the API"},
                "schedule": {"type": "object", "propertyNames": one_of(modules.iter().copied()),
                             "additionalProperties": {"type": "string", "examples": ["30s", "5m", "off"]}},
                "carriers": {"type": "object", "description": "ERP carrier code → platform → that platform's code",
                             "additionalProperties": strings()},
                "erp_status": {"type": "object", "additionalProperties": {"type": "string", "examples": ["note", "move:completed"]}},
                "quota": schema("Quota")}},
        "ShopProgress": object(
            &["tenant", "shop", "state", "pulled", "delivered", "pushed", "pending", "dead_lettered", "quarantined"],
            json!({
                "tenant": string(), "shop": string(),
                "state": {"enum": ["ok", "auth_failed", "over_quota"], "description": "auth_failed: the platform refused the shop's \
                          credentials; nothing is pulled until they are updated (then it tries again at once). over_quota: \
                          the tenant stores as much as quota.stored_mib allows; new orders and updates are refused until \
                          what is owed drains, dead letters are discarded or the quota is raised"},
                "auth_error": {"type": ["string", "null"], "description": "With auth_failed: the platform's message"},
                "auth_failed_since": {"type": ["string", "null"], "format": "date-time"},
                "next_try": {"type": ["string", "null"], "format": "date-time",
                             "description": "With auth_failed: the next try (the wait doubles up to 15 minutes)"},
                "pulled": count(), "delivered": count(), "pushed": count(), "pending": count(),
                "dead_lettered": count(), "quarantined": count(), "last_error": {"type": ["string", "null"]}})),
        "Usage": object(&["tenant", "calls_in_flight", "calls_total", "cpu_seconds_total", "cpu_wait_seconds_total", "stored_bytes", "quota"], json!({
            "tenant": string(), "calls_in_flight": count(), "calls_total": count(),
            "cpu_seconds_total": {"type": "number", "description": "CPU time the tenant's plugin calls used so far"},
            "cpu_wait_seconds_total": {"type": "number",
                                       "description": "Time its calls waited or paused on its CPU budget (cpu_millis_per_second)"},
            "stored_bytes": {"type": "integer", "minimum": 0,
                             "description": "What the tenant keeps in the store (orders, deliveries and updates owed, dead letters, quarantine)"},
            "quota": schema("Quota")})),
        "Descriptor": object(&["name", "version", "platform", "role", "wit_version", "operations", "http_hosts", "config_keys"], json!({
            "name": string(), "version": string(), "platform": string(), "role": one_of(["marketplace", "erp"]),
            "wit_version": string(), "operations": array(string()), "http_hosts": array(string()),
            "config_keys": array(object(&["name", "description", "secret", "required"], json!({
                "name": string(), "description": string(), "secret": {"type": "boolean"}, "required": {"type": "boolean"},
                "default_value": string()})))})),
        "PluginSummary": object(&["name", "active", "previous", "versions", "pins", "grants"], json!({
            "name": string(), "active": string(), "previous": {"type": ["string", "null"]},
            "versions": array(string()),
            "pins": {"type": "object", "description": "tenant → pinned version (canaries)", "additionalProperties": string()},
            "grants": {"type": "array", "items": string(), "description": "Hosts (name or name:port) the plugin may reach"},
            "awaiting_grant": {"type": "string", "description": "A version from the plugin folder that serves once the hosts it declares are granted (`active` is empty while it is the name's only version)"}})),
        "PluginDetail": {"allOf": [schema("PluginSummary"),
                                   object(&["descriptor"], json!({"descriptor": schema("Descriptor")}))]},
        "VersionInfo": object(&["version", "sha256", "uploaded_at", "source", "signed_by", "active"], json!({
            "version": string(), "sha256": string(), "uploaded_at": instant(), "source": one_of(["upload", "folder"]),
            "signed_by": {"type": ["string", "null"], "description": "Key id of the trusted key that signed it"},
            "active": {"type": "boolean"}})),
        "Admission": object(&["name", "version", "sha256", "active", "known", "descriptor"], json!({
            "name": string(), "version": string(), "sha256": string(),
            "active": {"type": "boolean", "description": "Whether it serves now"},
            "known": {"type": "boolean", "description": "These very bytes were admitted before; nothing changed"},
            "descriptor": schema("Descriptor")})),
        "Activation": object(&["name", "active", "previous"], json!({
            "name": string(), "active": string(), "previous": {"type": ["string", "null"]}})),
        "Order": {"type": "object", "description": "A canonical order (wit/canonical-model.md): money in fen, instants RFC 3339",
                  "required": ["platform", "shop_id", "order_id", "status", "updated_at", "lines"]},
        "StoredOrder": object(&["order", "version", "sync", "stored_at"], json!({
            "order": schema("Order"), "version": {"type": "integer", "minimum": 1},
            "sync": one_of(["unsynced", "synced"]), "stored_at": instant()})),
        "OrderPage": object(&["orders", "next_cursor"], json!({
            "orders": array(schema("StoredOrder")), "next_cursor": {"type": ["string", "null"]},
            "unreadable": {"type": "integer", "minimum": 1, "description": "Stored records skipped because they cannot be read (GET …/orders/unreadable lists them); absent when none"}})),
        "Ack": object(&["platform", "shop_id", "order_id", "version"], json!({
            "platform": string(), "shop_id": string(), "order_id": string(), "version": {"type": "integer", "minimum": 1}})),
        "AckOutcome": object(&["order_id", "version", "outcome"], json!({
            "order_id": string(), "version": {"type": "integer"},
            "outcome": one_of(["synced", "stale", "not_found", "unreadable"]),
            "current": {"type": "integer", "description": "With `stale`: the version the order is at now"}})),
        "UpdateReport": object(&["queued", "unchanged", "stale", "unsupported", "refused", "rejected"], json!({
            "queued": count(), "unchanged": count(), "stale": count(), "unsupported": count(), "refused": count(),
            "rejected": array(object(&["index", "reason"], json!({"index": count(), "reason": string()})))})),
        "ImportRow": object(&["row", "accepted"], json!({
            "row": {"type": "integer", "minimum": 1, "description": "The sheet's row number (the header is row 1)"},
            "accepted": {"type": "boolean"},
            "column": {"type": ["string", "null"], "examples": ["B"]}, "reason": {"type": ["string", "null"]}})),
        "ImportReport": object(&["applied", "rows"], json!({
            "applied": {"type": "boolean"}, "rows": array(schema("ImportRow")),
            "report": schema("UpdateReport"),
            "error": {"const": "rejected"}, "message": string()})),
        "Hold": object(&["quantity", "until"], json!({
            "quantity": {"type": "integer", "minimum": 0, "maximum": u32::MAX}, "until": instant(), "note": string()})),
        "Switches": object(&["modules_off", "skus_off", "holds"], json!({
            "modules_off": array(object(&["shop", "module"], json!({"shop": string(), "module": string()}))),
            "skus_off": array(object(&["sku", "kind"], json!({"sku": string(), "kind": one_of(sku_switches())}))),
            "holds": array(schema("HeldSku"))})),
        "Quarantined": object(
            &["tenant", "shop_id", "stream", "id", "field", "reason", "plugin", "first_seen", "last_seen", "times"],
            json!({
                "tenant": string(), "shop_id": string(), "stream": string(), "id": string(), "field": string(),
                "reason": string(), "excerpt": string(), "plugin": string(), "tried_by": {"type": ["string", "null"]},
                "first_seen": instant(), "last_seen": instant(), "times": count()})),
        "UnreadableOrder": object(
            &["platform", "shop_id", "order_id", "reason", "bytes"],
            json!({"platform": string(), "shop_id": string(), "order_id": string(), "reason": string(), "bytes": count()})),
        "DeadLetters": object(&["deliveries", "pushes"], json!({
            "deliveries": array(object(&["delivery", "reason", "at"], json!({
                "delivery": object(&["id", "enqueued_at", "next_attempt_at"], json!({
                    "id": count(), "enqueued_at": instant(), "next_attempt_at": instant()})),
                "reason": string(), "at": instant()}))),
            "pushes": array(object(&["push", "reason", "at"], json!({
                "push": object(&["id", "enqueued_at", "next_attempt_at"], json!({
                    "id": count(), "enqueued_at": instant(), "next_attempt_at": instant()})),
                "reason": string(), "at": instant()})))})),
        "Replayed": object(&["replayed", "deliveries", "pushes"], json!({
            "replayed": {"type": "integer", "minimum": 0, "description": "How many letters were queued again"},
            "deliveries": {"type": "array", "items": count(), "description": "Their ids in the deliveries queue"},
            "pushes": {"type": "array", "items": count(), "description": "Their ids in the pushes queue"}})),
        "WaitingUpdate": waiting_update(),
        "HeldSku": {"allOf": [object(&["sku"], json!({"sku": string()})), schema("Hold")]},
    })
}

/// Health, readiness, this document, metrics.
fn service() -> Vec<Route> {
    let text = |what: &str| file(what, "text/plain");
    vec![
        ("/healthz", "get", Op::open("The process is up").ok(text("ok"))),
        (
            "/readyz",
            "get",
            Op::open("Ready to take requests")
                .ok(text("ready"))
                .answers("503", text("stopping, or `the store cannot write: …` while the data folder takes no writes")),
        ),
        ("/openapi.json", "get", Op::open("This document").ok(answer("OpenAPI 3.1", json!({"type": "object"})))),
        (
            "/metrics",
            "get",
            Op::operator("Prometheus text exposition")
                .describe(
                    "Per shop: orders pulled and delivered, updates pushed, pending, dead-lettered. Per tenant: \
                     plugin calls in flight and the quota. Per tenant, plugin and operation: calls, failures, latency.",
                )
                .ok(text("The figures")),
        ),
    ]
}

fn plugins() -> Vec<Route> {
    let name = || param("name");
    let upload = [
        in_query("activate", "Serve this version at once", json!({"type": "boolean", "default": false})),
        in_query(
            "grant",
            "Hosts granted with the upload, comma-separated",
            json!({"type": "string", "examples": ["eco.taobao.com,gw.api.taobao.com"]}),
        ),
        json!({"name": SIGNATURE, "in": "header", "schema": {"type": "string", "contentEncoding": "base64"},
               "description": "The ed25519 signature of the .wasm bytes (required when the host requires signed plugins)"}),
    ];
    let hosts =
        json!({"type": "array", "items": {"type": "string"}, "examples": [["eco.taobao.com", "127.0.0.1:8080"]]});
    vec![
        (
            "/v1/plugins",
            "get",
            Op::operator("Every plugin: active and previous version, versions, pins, grants")
                .ok(answer("The plugins", array(schema("PluginSummary")))),
        ),
        (
            "/v1/plugins",
            "post",
            Op::operator("Upload a plugin version; it serves only once validated")
                .describe(
                    "A name's first version serves at once; later ones only with activate=true. Every host the \
                     plugin declares must be granted first (earlier, or with grant=).",
                )
                .params(upload)
                .body("application/wasm", json!({"description": "The component's bytes"}))
                .created(answer("A new version, admitted", schema("Admission")))
                .ok(answer("These very bytes were admitted before; nothing changed", schema("Admission")))
                .fails(&[400, 409, 413, 422]),
        ),
        (
            "/v1/plugins/{name}",
            "get",
            Op::operator("One plugin, with the descriptor of its active version")
                .params([name()])
                .ok(answer("The plugin", schema("PluginDetail")))
                .fails(&[404]),
        ),
        (
            "/v1/plugins/{name}/versions",
            "get",
            Op::operator("Every admitted version of a plugin")
                .params([name()])
                .ok(answer("By version", array(schema("VersionInfo"))))
                .fails(&[404]),
        ),
        (
            "/v1/plugins/{name}/activate",
            "post",
            Op::operator("Serve this version from the next call on (calls running finish on the old one)")
                .params([name()])
                .json_body(version_body())
                .ok(answer("Now active", schema("Activation")))
                .fails(&[404]),
        ),
        (
            "/v1/plugins/{name}/rollback",
            "post",
            Op::operator("Serve the previously active version again")
                .params([name()])
                .ok(answer("Now active", schema("Activation")))
                .fails(&[404, 409]),
        ),
        (
            "/v1/plugins/{name}/pins/{tenant}",
            "put",
            Op::operator("Keep a tenant on a version whatever is active (a canary)")
                .params([name(), param("tenant")])
                .json_body(version_body())
                .ok(answer("The pin", texts(&["name", "tenant", "version"])))
                .fails(&[404]),
        ),
        (
            "/v1/plugins/{name}/pins/{tenant}",
            "delete",
            Op::operator("Let the tenant follow the active version again")
                .params([name(), param("tenant")])
                .gone("Unpinned")
                .fails(&[404]),
        ),
        (
            "/v1/plugins/{name}/grants",
            "put",
            Op::operator("Set the hosts the plugin may reach (replaces the list); tenants using it start again")
                .params([name()])
                .json_body(object(&["hosts"], json!({"hosts": hosts})))
                .ok(answer(
                    "The grants",
                    object(
                        &["name", "grants"],
                        json!({"name": {"type": "string"}, "grants": array(json!({"type": "string"}))}),
                    ),
                ))
                .fails(&[400, 404, 409]),
        ),
    ]
}

fn tenants() -> Vec<Route> {
    let tenant = || param("tenant");
    let shop = || param("shop");
    let document = || answer("The tenant (credentials by name only)", schema("TenantDocument"));
    let one_shop = || answer("The shop (credentials by name only)", schema("Shop"));
    vec![
        (
            "/v1/tenants",
            "get",
            Op::secured("Tenants: every one for the operator, its own for a tenant token")
                .ok(answer("The tenants", array(schema("TenantDocument")))),
        ),
        (
            "/v1/tenants",
            "post",
            Op::operator("Create a tenant from a document; it runs at once")
                .json_body(schema("TenantDocument"))
                .created(document())
                .fails(&[400, 409]),
        ),
        ("/v1/tenants/{tenant}", "get", Op::secured("One tenant").params([tenant()]).ok(document()).fails(&[404])),
        (
            "/v1/tenants/{tenant}",
            "put",
            Op::operator("Replace a tenant's document; credentials left out keep their stored values")
                .describe("409 for a tenant of the configuration file: change it there and restart.")
                .params([tenant()])
                .json_body(schema("TenantDocument"))
                .ok(document())
                .fails(&[400, 404, 409]),
        ),
        (
            "/v1/tenants/{tenant}",
            "delete",
            Op::operator("Stop and delete a tenant").params([tenant()]).gone("Deleted").fails(&[404, 409]),
        ),
        (
            "/v1/tenants/{tenant}/shops",
            "get",
            Op::secured("A tenant's shops")
                .params([tenant()])
                .ok(answer("The shops", array(schema("Shop"))))
                .fails(&[404]),
        ),
        (
            "/v1/tenants/{tenant}/shops",
            "post",
            Op::operator("Add a shop; the tenant starts again with it")
                .params([tenant()])
                .json_body(schema("Shop"))
                .created(one_shop())
                .fails(&[400, 404, 409]),
        ),
        (
            "/v1/tenants/{tenant}/shops/{shop}",
            "get",
            Op::secured("One shop").params([tenant(), shop()]).ok(one_shop()).fails(&[404]),
        ),
        (
            "/v1/tenants/{tenant}/shops/{shop}",
            "put",
            Op::operator("Replace a shop; credentials left out keep their stored values")
                .params([tenant(), shop()])
                .json_body(schema("Shop"))
                .ok(one_shop())
                .fails(&[400, 404, 409]),
        ),
        (
            "/v1/tenants/{tenant}/shops/{shop}",
            "delete",
            Op::operator("Remove a shop").params([tenant(), shop()]).gone("Removed").fails(&[400, 404, 409]),
        ),
        (
            "/v1/tenants/{tenant}/tokens",
            "post",
            Op::operator("A token scoped to this tenant; shown once, stored hashed")
                .params([tenant()])
                .json_body(object(&["name"], json!({"name": {"type": "string", "examples": ["erp"]}})))
                .created(answer("The token", texts(&["token", "tenant", "name"])))
                .fails(&[404]),
        ),
        (
            "/v1/tenants/{tenant}/usage",
            "get",
            Op::secured("Plugin calls running now against the quota, and calls so far")
                .params([tenant()])
                .ok(answer("Usage", schema("Usage")))
                .fails(&[404]),
        ),
        (
            "/v1/tenants/{tenant}/progress",
            "get",
            Op::secured("Each shop's figures since start and its state: ok, or auth_failed with the platform's words")
                .params([tenant()])
                .ok(answer("One entry per shop", object(&["shops"], json!({"shops": array(schema("ShopProgress"))}))))
                .fails(&[404]),
        ),
    ]
}

fn erp() -> Vec<Route> {
    let tenant = || param("tenant");
    let sheet_kind = || in_path("kind", "What the sheet's rows are", one_of(SheetKind::ALL.map(SheetKind::name)));
    let records = json!({"description": "Canonical records of the kind (wit/canonical-model.md): a list, or one record",
                         "oneOf": [array(json!({"type": "object"})), {"type": "object"}]});
    vec![
        (
            "/v1/tenants/{tenant}/orders",
            "get",
            Op::secured("Orders by sync state (unsynced unless told), updated_at range, status, shop, order id; paged")
                .params([tenant()])
                .params(order_query())
                .ok(answer("One page, in key order", schema("OrderPage")))
                .fails(&[400, 404]),
        ),
        (
            "/v1/tenants/{tenant}/orders.xlsx",
            "get",
            Op::secured("The orders the same query lists, every page from the cursor on, as a spreadsheet")
                .params([tenant()])
                .params(order_query())
                .ok(file("The workbook", XLSX))
                .fails(&[400, 404]),
        ),
        (
            "/v1/tenants/{tenant}/orders/ack",
            "post",
            Op::secured("Acknowledge order versions the ERP took: each becomes synced unless the order changed since")
                .params([tenant()])
                .json_body(array(schema("Ack")))
                .ok(answer("One outcome per acknowledgement, in order", array(schema("AckOutcome"))))
                .fails(&[404]),
        ),
        (
            "/v1/tenants/{tenant}/updates/{kind}",
            "post",
            Op::secured("ERP → marketplace updates, stored before the answer and queued for every shop they concern")
                .params([tenant(), in_path("kind", "What the records are", one_of(update_kinds()))])
                .json_body(records)
                .ok(answer("What became of the records", schema("UpdateReport")))
                .fails(&[400, 404, 507]),
        ),
        (
            "/v1/tenants/{tenant}/imports/{kind}",
            "post",
            Op::secured("The same updates from a spreadsheet: applied whole or not at all, with a report per row")
                .params([tenant(), sheet_kind()])
                .body(XLSX, json!({"description": "The .xlsx file; start from the template"}))
                .ok(answer("Applied: every row accepted", schema("ImportReport")))
                .answers("422", answer("Rejected: some row was refused, nothing was applied", schema("ImportReport")))
                .fails(&[400, 404, 413, 507]),
        ),
        (
            "/v1/tenants/{tenant}/imports/{kind}/template.xlsx",
            "get",
            Op::secured("An empty sheet with the header row an import expects")
                .params([tenant(), sheet_kind()])
                .ok(file("The workbook", XLSX))
                .fails(&[404]),
        ),
    ]
}

fn operations() -> Vec<Route> {
    let tenant = || param("tenant");
    let dead_letter = || [param("tenant"), param("queue"), param("id")];
    let quarantined = || {
        [
            param("tenant"),
            param("shop"),
            in_path("module", "`orders`, or the ERP feed the record came in", json!({"type": "string"})),
            in_path("id", "The record's own platform id", json!({"type": "string"})),
        ]
    };
    let switched = |item: &str, kind: &str| {
        let properties = json!({item: {"type": "string"}, kind: {"type": "string"}, "on": {"type": "boolean"}});
        answer("The switch as it is now", object(&[item, kind, "on"], properties))
    };
    let id_answer = |key: &str| answer("The dead letter's id", object(&[key], json!({key: {"type": "integer"}})));
    let modules = || in_path("module", "The module", one_of(Module::ALL.map(Module::name)));
    vec![
        (
            "/v1/tenants/{tenant}/switches",
            "get",
            Op::secured("What is switched off, and the holds")
                .params([tenant()])
                .ok(answer(
                    "Only what is off: on is the default",
                    schema("Switches"),
                ))
                .fails(&[404]),
        ),
        (
            "/v1/tenants/{tenant}/shops/{shop}/modules/{module}",
            "put",
            Op::secured("Pause or resume one module of one shop; what arrives meanwhile is kept")
                .params([tenant(), param("shop"), modules()])
                .json_body(on_off())
                .ok(switched("shop", "module"))
                .fails(&[404]),
        ),
        (
            "/v1/tenants/{tenant}/skus/{sku}/{kind}",
            "put",
            Op::secured("Turn one kind of push off or on for one SKU, in every shop")
                .params([
                    tenant(),
                    param("sku"),
                    in_path("kind", "What is pushed", one_of(sku_switches())),
                ])
                .json_body(on_off())
                .ok(switched("sku", "kind"))
                .fails(&[404]),
        ),
        (
            "/v1/tenants/{tenant}/holds/{sku}",
            "put",
            Op::secured(
                "Set a SKU's stock by hand until an instant; automatic stock waits meanwhile",
            )
            .params([tenant(), param("sku")])
            .json_body(json!({"allOf": [schema("Hold"), {"properties": {"sku": {"type": "string",
                "description": "The path's SKU again, as GET …/switches lists a hold (so a listed hold can be sent back); \
                                another one is refused"}}}]}))
            .ok(answer(
                "The hold as it is now (as `switches` lists it), and the held stock queued for the shops that take stock",
                json!({"allOf": [schema("HeldSku"), object(&["queued"], json!({"queued": schema("UpdateReport")}))]}),
            ))
            .fails(&[400, 404]),
        ),
        (
            "/v1/tenants/{tenant}/holds/{sku}",
            "delete",
            Op::secured("End a hold now; the ERP's figure goes out again")
                .params([tenant(), param("sku")])
                .gone("Released")
                .fails(&[404]),
        ),
        (
            "/v1/tenants/{tenant}/dead-letters",
            "get",
            Op::secured("Dead letters with their reasons, by queue")
                .params([tenant()])
                .ok(answer("The dead letters", schema("DeadLetters")))
                .fails(&[404]),
        ),
        (
            "/v1/tenants/{tenant}/dead-letters/replay",
            "post",
            Op::secured("Queue every dead letter again (of one queue, if the body names it)")
                .params([tenant()])
                .json_body(json!({"type": "object", "properties": {"queue": one_of(QUEUES)}}))
                .optional()
                .ok(answer("How many, and which", schema("Replayed")))
                .fails(&[404]),
        ),
        (
            "/v1/tenants/{tenant}/dead-letters/{queue}/{id}/replay",
            "post",
            Op::secured("Queue one dead letter again")
                .params(dead_letter())
                .ok(answer("The letter queued again (a count of 1 and its id)", schema("Replayed")))
                .fails(&[400, 404]),
        ),
        (
            "/v1/tenants/{tenant}/dead-letters/{queue}/{id}/discard",
            "post",
            Op::secured("Drop a dead letter for good; the reason goes to the audit log")
                .params(dead_letter())
                .json_body(object(
                    &["reason"],
                    json!({"reason": {"type": "string", "minLength": 1}}),
                ))
                .ok(id_answer("discarded"))
                .fails(&[400, 404]),
        ),
        (
            "/v1/tenants/{tenant}/updates/waiting",
            "get",
            Op::secured(
                "Updates waiting for a shop's platform ids of their SKU (no order has shown the SKU yet); an order that \
                 shows it makes them due",
            )
            .params([
                tenant(),
                in_query("shop", "Only this shop's", json!({"type": "string"})),
                in_query("sku", "Only this SKU's (outer_sku_id)", json!({"type": "string"})),
                in_query(
                    "limit",
                    "Updates per page; a value out of the range is refused (400), not capped",
                    json!({"type": "integer", "minimum": 1, "maximum": MAX_WAITING_PAGE, "default": DEFAULT_WAITING_PAGE}),
                ),
                in_query("cursor", "A previous page's next_cursor", json!({"type": "string"})),
            ])
            .ok(answer(
                "One page, by shop, SKU and age",
                object(
                    &["updates", "next_cursor"],
                    json!({"updates": array(schema("WaitingUpdate")), "next_cursor": {"type": ["string", "null"]}}),
                ),
            ))
            .fails(&[400, 404]),
        ),
        (
            "/v1/tenants/{tenant}/updates/waiting/purge",
            "post",
            Op::secured("Drop waiting updates for good (of a shop, a SKU, both, or all); the reason goes to the audit log")
                .params([tenant()])
                .json_body(object(
                    &["reason"],
                    json!({
                        "shop": {"type": "string"}, "sku": {"type": "string"},
                        "all": {"type": "boolean", "description": "Every waiting update of the tenant (instead of shop/sku)"},
                        "reason": {"type": "string", "minLength": 1}}),
                ))
                .ok(answer("How many", object(&["purged"], json!({"purged": {"type": "integer", "minimum": 0}}))))
                .fails(&[400, 404]),
        ),
        (
            "/v1/tenants/{tenant}/quarantine",
            "get",
            Op::secured("Records the tenant's plugins could not map, with their reasons")
                .params([tenant(), in_query("shop", "Only this shop's", json!({"type": "string"}))])
                .ok(answer("The quarantined records", object(&["records"], json!({"records": array(schema("Quarantined"))}))))
                .fails(&[404]),
        ),
        (
            "/v1/tenants/{tenant}/quarantine/{shop}/{module}/{id}/retry",
            "post",
            Op::secured("Fetch a quarantined order again in the shop's next round (get-order); it flows if it maps")
                .params(quarantined())
                .answers(
                    "202",
                    answer(
                        "Queued for the next round",
                        object(&["retried", "ids"], json!({"retried": {"type": "integer", "minimum": 0}, "ids": array(json!({"type": "string"}))})),
                    ),
                )
                .fails(&[404, 409]),
        ),
        (
            "/v1/tenants/{tenant}/quarantine/{shop}/{module}/{id}/discard",
            "post",
            Op::secured("Drop a quarantined record for good; the reason goes to the audit log")
                .params(quarantined())
                .json_body(object(&["reason"], json!({"reason": {"type": "string", "minLength": 1}})))
                .ok(answer("The record's id", object(&["discarded"], json!({"discarded": {"type": "string"}}))))
                .fails(&[400, 404]),
        ),
        (
            "/v1/tenants/{tenant}/orders/unreadable",
            "get",
            Op::secured("Stored orders that cannot be read back, with why; every listing and round skips them")
                .params([tenant()])
                .ok(answer("The unreadable records", object(&["records"], json!({"records": array(schema("UnreadableOrder"))}))))
                .fails(&[404]),
        ),
        (
            "/v1/tenants/{tenant}/orders/unreadable/{platform}/{shop}/{id}/discard",
            "post",
            Op::secured("Remove an unreadable stored order (never a readable one); the reason goes to the audit log")
                .params([
                    tenant(),
                    in_path("platform", "The order's platform", json!({"type": "string"})),
                    param("shop"),
                    in_path("id", "The order's id", json!({"type": "string"})),
                ])
                .json_body(object(&["reason"], json!({"reason": {"type": "string", "minLength": 1}})))
                .ok(answer("The order's id", object(&["discarded"], json!({"discarded": {"type": "string"}}))))
                .fails(&[400, 404]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every route `Api::router` registers, as (path, methods). Keep it in step with the router:
    /// [`the_list_is_the_routers`] reads the router's source to check.
    const ROUTES: &[(&str, &[&str])] = &[
        ("/healthz", &["get"]),
        ("/readyz", &["get"]),
        ("/openapi.json", &["get"]),
        ("/metrics", &["get"]),
        ("/v1/plugins", &["get", "post"]),
        ("/v1/plugins/{name}", &["get"]),
        ("/v1/plugins/{name}/versions", &["get"]),
        ("/v1/plugins/{name}/activate", &["post"]),
        ("/v1/plugins/{name}/rollback", &["post"]),
        ("/v1/plugins/{name}/pins/{tenant}", &["put", "delete"]),
        ("/v1/plugins/{name}/grants", &["put"]),
        ("/v1/tenants", &["get", "post"]),
        ("/v1/tenants/{tenant}", &["get", "put", "delete"]),
        ("/v1/tenants/{tenant}/shops", &["get", "post"]),
        ("/v1/tenants/{tenant}/shops/{shop}", &["get", "put", "delete"]),
        ("/v1/tenants/{tenant}/tokens", &["post"]),
        ("/v1/tenants/{tenant}/usage", &["get"]),
        ("/v1/tenants/{tenant}/progress", &["get"]),
        ("/v1/tenants/{tenant}/orders", &["get"]),
        ("/v1/tenants/{tenant}/orders.xlsx", &["get"]),
        ("/v1/tenants/{tenant}/orders/ack", &["post"]),
        ("/v1/tenants/{tenant}/updates/{kind}", &["post"]),
        ("/v1/tenants/{tenant}/updates/waiting", &["get"]),
        ("/v1/tenants/{tenant}/updates/waiting/purge", &["post"]),
        ("/v1/tenants/{tenant}/imports/{kind}", &["post"]),
        ("/v1/tenants/{tenant}/imports/{kind}/template.xlsx", &["get"]),
        ("/v1/tenants/{tenant}/switches", &["get"]),
        ("/v1/tenants/{tenant}/shops/{shop}/modules/{module}", &["put"]),
        ("/v1/tenants/{tenant}/skus/{sku}/{kind}", &["put"]),
        ("/v1/tenants/{tenant}/holds/{sku}", &["put", "delete"]),
        ("/v1/tenants/{tenant}/dead-letters", &["get"]),
        ("/v1/tenants/{tenant}/dead-letters/replay", &["post"]),
        ("/v1/tenants/{tenant}/dead-letters/{queue}/{id}/replay", &["post"]),
        ("/v1/tenants/{tenant}/dead-letters/{queue}/{id}/discard", &["post"]),
        ("/v1/tenants/{tenant}/quarantine", &["get"]),
        ("/v1/tenants/{tenant}/quarantine/{shop}/{module}/{id}/retry", &["post"]),
        ("/v1/tenants/{tenant}/quarantine/{shop}/{module}/{id}/discard", &["post"]),
        ("/v1/tenants/{tenant}/orders/unreadable", &["get"]),
        ("/v1/tenants/{tenant}/orders/unreadable/{platform}/{shop}/{id}/discard", &["post"]),
    ];

    const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

    fn listed() -> BTreeSet<(String, String)> {
        ROUTES
            .iter()
            .flat_map(|(path, methods)| methods.iter().map(|m| ((*path).to_owned(), (*m).to_owned())))
            .collect()
    }

    /// Follows a `$ref` within the document.
    fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("{r} does not resolve")),
            None => value,
        }
    }

    /// `(path, method, operation)` of every operation in the document.
    fn operations(doc: &Value) -> Vec<(&str, &str, &Value)> {
        let paths = doc["paths"].as_object().expect("paths is an object");
        paths
            .iter()
            .flat_map(|(path, item)| {
                let item = item.as_object().expect("a path item is an object");
                item.iter().map(move |(method, op)| (path.as_str(), method.as_str(), op))
            })
            .collect()
    }

    /// The `.route("path", get(..).post(..))` calls of `Api::router`, read from its source.
    fn router_routes() -> BTreeSet<(String, String)> {
        let source = include_str!("mod.rs");
        let mut out = BTreeSet::new();
        // rustfmt may break a long `.route(` call after its parenthesis.
        for call in source.split(".route(").skip(1) {
            let call = call.trim_start().strip_prefix('"').expect("a route's path is a string literal");
            let (path, rest) = call.split_once('"').expect("a route's path is a string literal");
            let handlers = rest.split(".route(").next().unwrap_or(rest).split(".layer(").next().unwrap_or(rest);
            let mut found = false;
            for method in METHODS {
                let named = handlers.match_indices(&format!("{method}(")).any(|(at, _)| {
                    handlers[..at].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
                });
                if named {
                    out.insert((path.to_owned(), method.to_owned()));
                    found = true;
                }
            }
            assert!(found, "no method read for the route {path}");
        }
        out
    }

    /// Panics naming what only one side has.
    #[track_caller]
    fn same(what: &str, left: (&str, BTreeSet<(String, String)>), right: (&str, BTreeSet<(String, String)>)) {
        let only = |a: &BTreeSet<_>, b: &BTreeSet<_>| a.difference(b).cloned().collect::<Vec<(String, String)>>();
        let (l, r) = (only(&left.1, &right.1), only(&right.1, &left.1));
        assert!(l.is_empty() && r.is_empty(), "{what}: only in {}: {l:?}; only in {}: {r:?}", left.0, right.0);
    }

    /// The fields serde reads of `T` (a struct without flattened fields), as `deserialize_struct`
    /// is told them.
    fn fields<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
        use serde::de::{Deserializer, Visitor};
        #[derive(Debug)]
        struct Stop;
        impl std::fmt::Display for Stop {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("stop")
            }
        }
        impl std::error::Error for Stop {}
        impl serde::de::Error for Stop {
            fn custom<M: std::fmt::Display>(_: M) -> Self {
                Stop
            }
        }
        struct Probe<'a>(&'a mut &'static [&'static str]);
        impl<'de> Deserializer<'de> for Probe<'_> {
            type Error = Stop;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
                Err(Stop)
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Stop> {
                *self.0 = fields;
                Err(Stop)
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
                unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
            }
        }
        let mut fields: &'static [&'static str] = &[];
        let _ = T::deserialize(Probe(&mut fields));
        fields
    }

    /// The query parameters `super::extract::strict_query` lets through are the ones each
    /// handler reads: a parameter the document lacks would be refused, one the handler lacks
    /// ignored. Every other operation takes none.
    #[test]
    fn the_documented_query_parameters_are_the_handlers() {
        use crate::api::operations::{QuarantineQuery, WaitingQuery};
        use crate::api::plugins::UploadQuery;
        use crate::store::OrderQuery;
        let mut expected: BTreeMap<(String, String), &[&str]> = BTreeMap::new();
        for (path, method, names) in [
            ("/v1/tenants/{tenant}/orders", "get", fields::<OrderQuery>()),
            ("/v1/tenants/{tenant}/orders.xlsx", "get", fields::<OrderQuery>()),
            ("/v1/tenants/{tenant}/updates/waiting", "get", fields::<WaitingQuery>()),
            ("/v1/tenants/{tenant}/quarantine", "get", fields::<QuarantineQuery>()),
            ("/v1/plugins", "post", fields::<UploadQuery>()),
        ] {
            assert!(!names.is_empty(), "{method} {path}: no fields read");
            expected.insert((path.to_owned(), method.to_owned()), names);
        }
        for ((path, method), params) in query_parameters() {
            let documented: BTreeSet<&str> = params.iter().map(|p| p.name.as_str()).collect();
            let read: BTreeSet<&str> =
                expected.get(&(path.clone(), method.clone())).copied().unwrap_or_default().iter().copied().collect();
            assert_eq!(documented, read, "{method} {path}: documented query parameters (left) vs the handler's");
        }
        let limits: Vec<_> = query_parameters()
            .values()
            .flatten()
            .filter(|p| p.name == "limit")
            .map(|p| p.range.expect("a limit has a range"))
            .collect();
        assert_eq!(limits.len(), 3, "{limits:?}");
        assert!(limits.iter().all(|(min, max)| *min == 1 && *max == 1000), "{limits:?}");
    }

    /// Every error the API answers is JSON (the one Error shape), and so is every error the
    /// document describes; the only plain-text answers are the probes' and the metrics'.
    #[test]
    fn every_documented_error_is_json() {
        let doc = document();
        for (path, method, op) in operations(&doc) {
            for (status, response) in op["responses"].as_object().expect("responses") {
                let response = resolve(&doc, response);
                let media: Vec<&String> =
                    response["content"].as_object().into_iter().flatten().map(|(m, _)| m).collect();
                let plain = (path == "/readyz" && status == "503") || status.starts_with('2');
                if !plain {
                    assert_eq!(media, ["application/json"], "{method} {path} {status}");
                    // The Error schema, or one that carries its two fields (an import's rows).
                    let schema = resolve(&doc, &response["content"]["application/json"]["schema"]);
                    let fields = &schema["properties"];
                    assert!(
                        fields.get("error").is_some() && fields.get("message").is_some(),
                        "{method} {path} {status}: {schema}"
                    );
                }
            }
            assert!(op["responses"].get("400").is_some(), "{method} {path}: any operation may answer 400");
            let json_body = op["requestBody"]["content"].get("application/json").is_some();
            assert_eq!(op["responses"].get("415").is_some(), json_body, "{method} {path}: 415 with a JSON body only");
        }
    }

    #[test]
    fn the_signature_header_is_the_one_read() {
        assert!(SIGNATURE.eq_ignore_ascii_case(crate::api::plugins::SIGNATURE_HEADER));
    }

    #[test]
    fn the_list_is_the_routers() {
        same("routes", ("Api::router", router_routes()), ("ROUTES", listed()));
    }

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let doc = document();
        let documented: BTreeSet<(String, String)> =
            operations(&doc).into_iter().map(|(p, m, _)| (p.to_owned(), m.to_owned())).collect();
        same("routes", ("the document", documented), ("ROUTES", listed()));
    }

    #[test]
    fn every_path_parameter_is_defined() {
        let doc = document();
        for (path, method, op) in operations(&doc) {
            let in_path: BTreeSet<&str> =
                path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
            let defined: BTreeSet<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| resolve(&doc, p))
                .filter(|p| p["in"] == "path")
                .map(|p| {
                    assert_eq!(p["required"], true, "{method} {path}: path parameter {} must be required", p["name"]);
                    p["name"].as_str().expect("a parameter has a name")
                })
                .collect();
            assert_eq!(in_path, defined, "{method} {path}: path parameters (left: in the path)");
        }
    }

    #[test]
    fn every_operation_answers_and_every_reference_resolves() {
        let doc = document();
        for (path, method, op) in operations(&doc) {
            assert!(op["summary"].is_string(), "{method} {path}: no summary");
            let responses = op["responses"].as_object().expect("responses");
            assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path}: no success answer");
            let secured = path.starts_with("/v1/") || path == "/metrics";
            assert_eq!(op.get("security").is_some(), secured, "{method} {path}: security");
            assert_eq!(responses.contains_key("401"), secured, "{method} {path}: 401");
        }
        fn walk(doc: &Value, value: &Value) {
            match value {
                Value::Object(map) => {
                    resolve(doc, value);
                    map.values().for_each(|v| walk(doc, v));
                }
                Value::Array(list) => list.iter().for_each(|v| walk(doc, v)),
                _ => {}
            }
        }
        walk(&doc, &doc);
    }
}
