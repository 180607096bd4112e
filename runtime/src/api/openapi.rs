//! The OpenAPI document `GET /openapi.json` serves, generated from the code: each handler's
//! `#[utoipa::path]` gives its route, parameters, body and answers, and the types those name
//! derive their schemas (`ToSchema`, `IntoParams`), so the canonical records, the answers and
//! the enumerations (modules, order statuses, sheet kinds) are the ones the handlers use.
//! `super::routes` builds the router and the document from one list, so neither can have a
//! route the other lacks.
//!
//! What every operation shares is added by [`Shared`] once the paths are in, rather than
//! repeated on each handler, because it comes from layers and extractors every route passes
//! through, not from the handler: 400 (a query, path or body the route cannot take), and by
//! what the operation declares: with a bearer token 401, 500 and 503 (the token is looked up
//! in the store, every write waits for the disk), operator only (`"bearer": ["operator"]`)
//! 403, with a body 413, with a JSON body 415. Handlers list the errors of their own.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::Value;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{IntoParams, Modify, OpenApi, ToResponse};

use super::Error;

const DESCRIPTION: &str = "Docks marketplaces to ERPs. Every /v1 route needs a bearer token: the operator's \
    (WHARF_OPERATOR_TOKEN on the server), or one scoped to a tenant (POST /v1/tenants/{tenant}/tokens). \
    A tenant token reaching for another tenant gets 404, as if it did not exist; operator-only routes \
    (security role `operator`) answer it 403. Every error is JSON, {\"error\": kind, \"message\": …} (the Error \
    schema), an unknown route (404) or method (405) included. Input is strict: an unknown body field or query \
    parameter, or a limit out of its range, is refused with 400, never ignored or clamped; a JSON body must \
    be sent as application/json (else 415). Instants are RFC 3339, money is integer minor units (fen).";

#[derive(OpenApi)]
#[openapi(
    info(title = "Wharf", description = DESCRIPTION),
    components(
        schemas(Error),
        responses(
            InvalidInput, Unauthorized, Forbidden, DecryptForbidden, RateLimited, NotFound, Conflict, TooLarge,
            UnsupportedMediaType, Rejected, Internal, StoreUnavailable, OverQuota
        )
    ),
    modifiers(&Bearer)
)]
pub(crate) struct ApiDoc;

/// The document, built once: the routes' paths with what they share added.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = super::routes().into_openapi();
        Shared.modify(&mut doc);
        doc
    })
}

/// The document as JSON, for what reads it back (the strict query's table, tests).
fn json() -> &'static Value {
    static JSON: OnceLock<Value> = OnceLock::new();
    JSON.get_or_init(|| serde_json::to_value(document()).expect("the document serializes"))
}

/// The `bearer` scheme operations name in `security`.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The errors every operation shares (see the module's documentation).
struct Shared;

impl Modify for Shared {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            for op in operations_mut(item) {
                let security = serde_json::to_value(&op.security).unwrap_or_default();
                let roles: Vec<&Value> =
                    security.as_array().into_iter().flatten().filter_map(|r| r.get("bearer")).collect();
                let mut statuses = vec![("400", "InvalidInput")];
                if !roles.is_empty() {
                    statuses.extend([("401", "Unauthorized"), ("500", "Internal"), ("503", "StoreUnavailable")]);
                }
                if roles.iter().any(|r| r.as_array().is_some_and(|r| r.iter().any(|r| r == "operator"))) {
                    statuses.push(("403", "Forbidden"));
                }
                if let Some(RefOr::T(body)) = &mut op.request_body {
                    // A file upload (wasm, xlsx) has no Option to say so: it is never optional.
                    if !body.content.contains_key("application/json") {
                        body.required = Some(utoipa::openapi::Required::True);
                    }
                    statuses.push(("413", "TooLarge"));
                    if body.content.contains_key("application/json") {
                        statuses.push(("415", "UnsupportedMediaType"));
                    }
                }
                for (status, name) in statuses {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                }
            }
        }
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head]
        .into_iter()
        .filter_map(Option::as_mut)
}

/// A string that is one of `names`: path parameters whose values the host knows (modules, update
/// and sheet kinds, queues), read from the code that matches them.
pub(crate) fn names<'a>(names: impl IntoIterator<Item = &'a str>) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names)).into()
}

/// An error answer: the Error schema, described.
fn error(description: impl Into<String>) -> RefOr<Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build();
    ResponseBuilder::new().description(description).content("application/json", content).build().into()
}

/// The error answers, by what they mean; operations refer to them by name.
macro_rules! errors {
    ($($name:ident: $description:expr;)*) => {$(
        pub(crate) struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), error($description))
            }
        }
    )*};
}

errors! {
    InvalidInput: "invalid_input: a body, query or path the route cannot take, the message naming what and where: an \
        unknown body field (with the fields expected there; `field` is where, e.g. `[0].quantiy` in the first record), \
        an unknown query parameter (`unknown`, with the `accepted` ones), a value of another type, an integer out of \
        its range (`field`, `min`, `max`: a `limit` is refused, never clamped), a body sent to a route that takes none, \
        or a value the host refuses; a tenant document lists every problem in `problems`";
    Unauthorized: "unauthorized: no bearer token, or an unknown one";
    Forbidden: "forbidden: only the operator may do this";
    DecryptForbidden: "forbidden: decrypting receivers needs a tenant token granted decrypt (the operator's token \
        is not: reading buyers' addresses is a grant of its own)";
    RateLimited: "rate_limited: too many requests of this kind for the tenant just now; the message says when to retry";
    NotFound: "not_found: no such thing, or a tenant this token may not see";
    Conflict: "conflict: it exists already, or it cannot change that way (see message)";
    TooLarge: format!(
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
    );
    UnsupportedMediaType: "unsupported_media_type: the route takes a JSON body, and the request did not say \
        `Content-Type: application/json`";
    Rejected: "rejected: the plugin failed validation and never served";
    Internal: "store or internal: the host could not read or write its store";
    StoreUnavailable: "store_unavailable: the store cannot write now (a full disk, a database away); what the \
        request changed is not kept. The same request succeeds once the store writes again (GET /readyz says when)";
    OverQuota: "over_quota: the tenant stores as much as its quota allows (`limit` stored_mib, `max` in MiB, \
        `stored_bytes` now); new orders, updates and imports are refused until deliveries and updates owed drain, \
        dead letters are discarded, or the quota is raised. Not 413: a smaller request would be refused too";
}

/// Path parameters many operations share, named once (`params(TenantPath)`); the handlers read
/// them by position from the route.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "only describes the path")]
pub(crate) struct TenantPath {
    /// The tenant's id
    tenant: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "only describes the path")]
pub(crate) struct ShopPath {
    /// The shop's id within the tenant
    shop: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "only describes the path")]
pub(crate) struct SkuPath {
    /// The merchant's SKU code (outer_sku_id)
    sku: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "only describes the path")]
pub(crate) struct TokenIdPath {
    /// The token's id, as listed (never the token itself)
    id: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "only describes the path")]
pub(crate) struct PluginPath {
    /// The plugin's name (its descriptor's name)
    name: String,
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
        let doc = json();
        let mut table = BTreeMap::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let params = op["parameters"].as_array().into_iter().flatten().map(|p| resolve(doc, p));
                let query = params
                    .filter(|p| p["in"] == "query")
                    .map(|p| {
                        let schema = resolve(doc, &p["schema"]);
                        let integer = schema["type"] == "integer"
                            || schema["type"].as_array().is_some_and(|t| t.iter().any(|t| t == "integer"));
                        let range =
                            integer.then(|| Some((schema["minimum"].as_i64()?, schema["maximum"].as_i64()?))).flatten();
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
        let mut table = BTreeSet::new();
        for (path, item) in json()["paths"].as_object().into_iter().flatten() {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Follows a `$ref` within the document, or panics naming it.
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

    #[test]
    #[ignore = "prints the document"]
    fn print() {
        println!("{}", serde_json::to_string_pretty(json()).unwrap());
    }

    /// The document is OpenAPI 3.1 as utoipa's own types read it back, and every operation has
    /// an operationId of its own.
    #[test]
    fn the_document_reads_back_and_every_operation_has_its_own_id() {
        let doc = json();
        assert_eq!(doc["openapi"], "3.1.0");
        let back: utoipa::openapi::OpenApi = serde_json::from_value(doc.clone()).expect("utoipa reads it back");
        assert_eq!(&serde_json::to_value(&back).unwrap(), doc, "reads back as it was");
        let mut ids = BTreeSet::new();
        for (path, method, op) in operations(doc) {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(ids.insert(id), "{method} {path}: operationId {id} twice");
        }
        assert_eq!(ids.len(), 57, "{ids:?}");
        assert!(doc["info"]["description"].as_str().unwrap().contains("Input is strict"));
    }

    /// A body the handler needs is marked required; only the replay's, which may be left out
    /// to replay every queue, is not.
    #[test]
    fn request_bodies_are_required_unless_they_may_be_left_out() {
        let doc = json();
        let optional: Vec<String> = operations(doc)
            .into_iter()
            .filter(|(_, _, op)| op.get("requestBody").is_some_and(|b| b["required"] != true))
            .map(|(path, method, _)| format!("{method} {path}"))
            .collect();
        assert_eq!(optional, ["post /v1/tenants/{tenant}/dead-letters/replay"]);
    }

    /// The query parameters `super::extract::strict_query` lets through are the ones each
    /// handler reads: a parameter the document lacks would be refused, one the handler lacks
    /// ignored. Every other operation takes none.
    #[test]
    fn the_documented_query_parameters_are_the_handlers() {
        use crate::api::operations::{AuditQuery, QuarantineQuery, WaitingQuery};
        use crate::api::plugins::UploadQuery;
        use crate::store::OrderQuery;
        let mut expected: BTreeMap<(String, String), &[&str]> = BTreeMap::new();
        for (path, method, names) in [
            ("/v1/tenants/{tenant}/orders", "get", fields::<OrderQuery>()),
            ("/v1/tenants/{tenant}/orders.xlsx", "get", fields::<OrderQuery>()),
            ("/v1/tenants/{tenant}/after-sales", "get", fields::<crate::store::AfterSaleQuery>()),
            ("/v1/tenants/{tenant}/after-sales.xlsx", "get", fields::<crate::store::AfterSaleQuery>()),
            ("/v1/tenants/{tenant}/imports/{kind}/template.xlsx", "get", fields::<crate::api::erp::TemplateQuery>()),
            ("/v1/tenants/{tenant}/updates/waiting", "get", fields::<WaitingQuery>()),
            ("/v1/tenants/{tenant}/quarantine", "get", fields::<QuarantineQuery>()),
            ("/v1/tenants/{tenant}/audit", "get", fields::<AuditQuery>()),
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
        // The macros take literal ranges: they are the store's.
        let limit = |path: &str| {
            let params = &query_parameters()[&(path.to_owned(), "get".to_owned())];
            params.iter().find(|p| p.name == "limit").and_then(|p| p.range).expect("a limit has a range")
        };
        let orders = (1, crate::store::orders::MAX_PAGE_SIZE as i64);
        assert_eq!(limit("/v1/tenants/{tenant}/orders"), orders);
        assert_eq!(limit("/v1/tenants/{tenant}/orders.xlsx"), orders);
        let waiting = (1, crate::store::pushes::MAX_WAITING_PAGE as i64);
        assert_eq!(limit("/v1/tenants/{tenant}/updates/waiting"), waiting);
    }

    /// Every error the API answers is JSON (the one Error shape), and so is every error the
    /// document describes; the only plain-text answers are the probes' and the metrics'.
    #[test]
    fn every_documented_error_is_json() {
        let doc = json();
        for (path, method, op) in operations(doc) {
            for (status, response) in op["responses"].as_object().expect("responses") {
                let response = resolve(doc, response);
                let media: Vec<&String> =
                    response["content"].as_object().into_iter().flatten().map(|(m, _)| m).collect();
                let plain = (path == "/readyz" && status == "503") || status.starts_with('2');
                if !plain {
                    assert_eq!(media, ["application/json"], "{method} {path} {status}");
                    // The Error schema, or one that carries its two fields (an import's rows).
                    let schema = resolve(doc, &response["content"]["application/json"]["schema"]);
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
            assert_eq!(op["responses"].get("413").is_some(), op.get("requestBody").is_some(), "{method} {path}: 413");
        }
    }

    #[test]
    fn the_signature_header_is_the_one_read() {
        let upload = &json()["paths"]["/v1/plugins"]["post"];
        let header = upload["parameters"].as_array().unwrap().iter().find(|p| p["in"] == "header").unwrap();
        assert!(header["name"].as_str().unwrap().eq_ignore_ascii_case(crate::api::plugins::SIGNATURE_HEADER));
    }

    /// Enumerations are the code's: modules, sheet kinds, update kinds, order statuses, queues.
    #[test]
    fn enumerations_come_from_the_code() {
        let doc = json();
        let path_enum = |path: &str, method: &str, name: &str| -> Vec<String> {
            let op = &doc["paths"][path][method];
            let param = op["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap();
            serde_json::from_value(param["schema"]["enum"].clone()).unwrap_or_else(|e| panic!("{path} {name}: {e}"))
        };
        let modules: Vec<String> = crate::config::Module::ALL.iter().map(|m| m.name().to_owned()).collect();
        assert_eq!(path_enum("/v1/tenants/{tenant}/shops/{shop}/modules/{module}", "put", "module"), modules);
        let sheets: Vec<String> = crate::sheet::SheetKind::ALL.iter().map(|k| k.name().to_owned()).collect();
        assert_eq!(path_enum("/v1/tenants/{tenant}/imports/{kind}", "post", "kind"), sheets);
        let kinds: Vec<String> = super::super::erp::update_kinds().map(str::to_owned).collect();
        assert_eq!(path_enum("/v1/tenants/{tenant}/updates/{kind}", "post", "kind"), kinds);
        assert_eq!(
            path_enum("/v1/tenants/{tenant}/dead-letters/{queue}/{id}/replay", "post", "queue"),
            ["deliveries", "pushes"]
        );
        let statuses: Vec<String> = crate::model::OrderStatus::ALL.iter().map(|s| s.name().to_owned()).collect();
        assert_eq!(
            serde_json::from_value::<Vec<String>>(doc["components"]["schemas"]["OrderStatus"]["enum"].clone()).unwrap(),
            statuses
        );
        let schedule = &doc["components"]["schemas"]["TenantDocument"]["properties"]["schedule"];
        assert_eq!(serde_json::from_value::<Vec<String>>(schedule["propertyNames"]["enum"].clone()).unwrap(), modules);
    }

    #[test]
    fn every_path_parameter_is_defined() {
        let doc = json();
        for (path, method, op) in operations(doc) {
            let in_path: BTreeSet<&str> =
                path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
            let defined: BTreeSet<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| resolve(doc, p))
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
        let doc = json();
        for (path, method, op) in operations(doc) {
            assert!(op["summary"].is_string(), "{method} {path}: no summary");
            let responses = op["responses"].as_object().expect("responses");
            assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path}: no success answer");
            let secured = path.starts_with("/v1/") || path == "/metrics";
            assert_eq!(op.get("security").is_some(), secured, "{method} {path}: security");
            assert_eq!(responses.contains_key("401"), secured, "{method} {path}: 401");
            let operator = path.starts_with("/v1/plugins") || path == "/metrics";
            // Decrypting answers 403 to every token not granted it, the operator's included.
            let granted = path.ends_with("/receivers/decrypt");
            assert_eq!(
                responses.contains_key("403"),
                operator || granted || op["security"][0]["bearer"][0] == "operator",
                "{method} {path}: 403"
            );
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
        walk(doc, doc);
    }

    /// Descriptions come from doc comments: none may carry rustdoc's links, nor an alias's
    /// schema (`Money` is an `i64` the derive cannot see through).
    #[test]
    fn descriptions_read_as_prose() {
        let text = json().to_string();
        assert!(!text.contains("[`"), "a rustdoc link in the document");
        assert!(json()["components"]["schemas"].get("i64").is_none(), "money is an integer, not a schema");
    }
}
