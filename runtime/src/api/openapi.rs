//! The OpenAPI document `GET /openapi.json` serves: what the API answers, for clients and
//! their generators. Written by hand next to the routes it describes (`super::Api::router`).

use serde_json::{Value, json};

/// The document, OpenAPI 3.1.
pub fn document() -> Value {
    let tenant = json!({"name": "tenant", "in": "path", "required": true, "schema": {"type": "string"}});
    let error = json!({"description": "An error: {\"error\": kind, \"message\": …}", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let records = json!({"content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}, "required": true});
    let ok = |what: &str| json!({"description": what, "content": {"application/json": {"schema": {"type": "object"}}}});
    let secured = json!([{"bearer": []}]);
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Wharf", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Docks marketplaces to ERPs. Every /v1 route needs a bearer token: the operator's, or one scoped to the tenant in the path (another tenant's gets 404)."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error", "message"],
                                  "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}}
        },
        "paths": {
            "/healthz": {"get": {"summary": "The process is up", "responses": {"200": {"description": "ok"}}}},
            "/readyz": {"get": {"summary": "Ready to take requests (503 while stopping)", "responses": {"200": {"description": "ready"}, "503": {"description": "stopping"}}}},
            "/metrics": {"get": {"summary": "Prometheus text: per shop orders pulled and delivered, updates pushed, pending, dead-lettered (operator only)",
                                  "security": secured, "responses": {"200": {"description": "text/plain; version=0.0.4"}, "403": error}}},
            "/v1/tenants/{tenant}/orders": {"get": {
                "summary": "Orders by sync state (unsynced unless told), updated_at range, status, order id; paged",
                "security": secured, "parameters": [tenant,
                    {"name": "sync", "in": "query", "schema": {"enum": ["unsynced", "synced"]}},
                    {"name": "any_sync", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "updated_from", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    {"name": "updated_to", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    {"name": "status", "in": "query", "schema": {"type": "string"}},
                    {"name": "order_id", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 1000}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": ok("{orders: [{order, version, sync, stored_at}], next_cursor}"), "401": error, "404": error}}},
            "/v1/tenants/{tenant}/orders/ack": {"post": {
                "summary": "Acknowledge (platform, shop_id, order_id, version): that version becomes synced",
                "security": secured, "parameters": [tenant], "requestBody": records,
                "responses": {"200": ok("one outcome per ack: Synced, Stale{current}, NotFound"), "401": error, "404": error}}},
            "/v1/tenants/{tenant}/updates/{kind}": {"post": {
                "summary": "ERP → marketplace updates, stored before the answer and queued for every shop they concern",
                "security": secured,
                "parameters": [tenant, {"name": "kind", "in": "path", "required": true,
                    "schema": {"enum": ["stock", "prices", "lots", "listing", "products", "customers", "logistics", "shipments", "erp-status"]}}],
                "requestBody": records,
                "responses": {"200": ok("{queued, unchanged, stale, unsupported, refused, rejected: [{index, reason}]}"), "400": error, "401": error, "404": error}}},
            "/v1/tenants/{tenant}/dead-letters": {"get": {"summary": "Dead letters with their reasons: order deliveries and marketplace updates",
                "security": secured, "parameters": [tenant], "responses": {"200": ok("{deliveries, pushes}"), "401": error, "404": error}}},
            "/v1/tenants/{tenant}/dead-letters/{queue}/{id}/replay": {"post": {"summary": "Queue a dead letter again",
                "security": secured,
                "parameters": [tenant, {"name": "queue", "in": "path", "required": true, "schema": {"enum": ["deliveries", "pushes"]}},
                               {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": {"200": ok("{replayed}"), "401": error, "404": error}}},
            "/v1/tenants/{tenant}/tokens": {"post": {"summary": "A token scoped to this tenant (operator only); shown once, stored hashed",
                "security": secured, "parameters": [tenant],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}},
                "responses": {"201": ok("{token, tenant, name}"), "403": error, "404": error}}}
        }
    })
}
