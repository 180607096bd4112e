//! The ERP side (seed 002 §1.4.1, §2.1, §2.3): orders by query and their acknowledgements,
//! ERP → marketplace updates of every kind (one record or many), and the same by spreadsheet,
//! with orders exported to one.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{JsonBody, Path, Query, typed};
use super::modules::{self, Deprecated};
use super::{Api, ApiError, Caller};
use crate::model::{Module, Timestamp};
use crate::sheet::{self, SheetKind};
use crate::store::{OrderKey, OrderQuery};
use crate::sync::intake::Update;

/// The media type of `.xlsx` files.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Orders a spreadsheet export holds at most: past this, an export is better paged through the
/// JSON query. 100,000 rows is about what a spreadsheet program opens comfortably.
pub const MAX_EXPORT_ORDERS: usize = 100_000;

pub async fn query_orders(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<OrderQuery>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let page = intake.store.orders().query(&tenant, &query)?;
    // What the ERP reads is on disk before it sees it: the version it acknowledges can never
    // come back, after a crash, holding other content.
    intake.store.durable().await?;
    Ok(Json(serde_json::to_value(page).expect("orders serialize")))
}

/// One acknowledgement: the order's key and the version the ERP took. Its fields side by side
/// (not the key flattened) so that an unknown one is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    platform: String,
    shop_id: String,
    order_id: String,
    version: u64,
}

pub async fn ack_orders(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(acks): JsonBody<Vec<Ack>>,
) -> Result<Json<Value>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let mut out = Vec::with_capacity(acks.len());
    for ack in acks {
        let key = OrderKey { platform: ack.platform, shop_id: ack.shop_id, order_id: ack.order_id };
        let outcome = intake.store.orders().ack(&tenant, &key, ack.version)?;
        // `{"order_id", "version", "outcome": "synced" | "stale" (with "current") | "not_found"}`
        let mut answer = serde_json::to_value(outcome).expect("outcomes serialize");
        answer["order_id"] = json!(key.order_id);
        answer["version"] = json!(ack.version);
        out.push(answer);
    }
    Ok(Json(Value::Array(out)))
}

/// `POST …/updates/{kind}`: a list of canonical records, or one record.
/// Records one update call may carry. An ERP's batch is hundreds to a few thousand rows; one
/// call of 1.1 million stock records held a tenant's API for 97 s and 1.6 GB while it was parsed
/// and queued. 10,000 rows parse and store in well under a second and fit the body limit.
pub const MAX_RECORDS_PER_UPDATE: usize = 10_000;

pub async fn submit_updates(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, kind)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<(Deprecated, Json<Value>), ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let (module, deprecated) = modules::module(&kind, "update kind", |m| m.spec().push.is_some())?;
    let body = match body {
        Value::Array(_) => body,
        single => Value::Array(vec![single]),
    };
    let records = body.as_array().map_or(0, Vec::len);
    if records > MAX_RECORDS_PER_UPDATE {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "{records} records in one {module} update; the host takes at most {MAX_RECORDS_PER_UPDATE} per call: \
                 send them in several calls"
            ),
        )
        .with(json!({"limit": "records_per_update", "max": MAX_RECORDS_PER_UPDATE})));
    }
    // Typing and storing up to the limit is CPU and disk work: off the async workers, so the
    // API and health checks of every tenant keep answering meanwhile.
    let report = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        // Records are read strictly: an unknown field is refused naming it, its record
        // (`field`: `[3]`) and the fields there are.
        let what = module.name();
        let update = match module {
            Module::Stock => Update::Stock(typed(body, what)?),
            Module::Prices => Update::Prices(typed(body, what)?),
            Module::Lots => Update::Lots(typed(body, what)?),
            Module::Listing => Update::Listing(typed(body, what)?),
            Module::Products => Update::Products(typed(body, what)?),
            Module::Customers => Update::Customers(typed(body, what)?),
            Module::Logistics => Update::Logistics(typed(body, what)?),
            Module::Shipments => Update::Shipments(typed(body, what)?),
            Module::ErpStatus => Update::ErpStatus(typed(body, what)?),
            Module::Orders => unreachable!("orders do not go out to the shops (refused above)"),
        };
        // Stored before the answer: what the ERP hears as accepted is never lost.
        let report = intake.submit(&update, Timestamp::now())?;
        Ok(report)
    })
    .await
    .map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("the update was not stored: {e}"))
    })??;
    Ok((deprecated, Json(serde_json::to_value(report).expect("reports serialize"))))
}

fn sheet_kind(kind: &str) -> Result<(SheetKind, Deprecated), ApiError> {
    let (module, deprecated) = modules::module(kind, "spreadsheet import", |m| m.spec().sheet)?;
    Ok((SheetKind::of(module).expect("the table's sheets have a kind"), deprecated))
}

/// `POST …/imports/{kind}`: an `.xlsx`; applied whole or not at all, with a report per row.
///
/// A workbook past one of the sheet's bounds (unpacked size, shared strings, parts, rows, text;
/// see [`sheet::SheetError::limit`]) is 413 `too_large` naming the bound (`limit`, `max`): each
/// is about how much one request asks the host to unpack and hold, not about whether what it
/// holds is right, and the remedy is the same for all (split the file), which is what 413 says.
/// 422 stays what it is elsewhere: rows read and refused for their content.
pub async fn import_sheet(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, kind)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let (kind, deprecated) = sheet_kind(&kind)?;
    // A row without a version gets one on arrival, like any update sent without one
    // (`Store::next_version`).
    let now = Timestamp::now();
    // Unpacking, parsing and storing a workbook is seconds of CPU at the bounds: off the async
    // workers, so every tenant's API and the health checks keep answering meanwhile.
    let (imported, report) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let imported = sheet::import(kind, &body, 0).map_err(|e| match e.limit() {
            Some((limit, max)) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
                .with(json!({"limit": limit, "max": max})),
            None => ApiError::bad_input(e.to_string()),
        })?;
        if imported.rows.is_empty() {
            return Err(ApiError::bad_input(format!(
                "the sheet has a header row but no data rows; nothing to import ({} template: GET …/imports/{}/template.xlsx)",
                kind.name(),
                kind.name()
            )));
        }
        let report = match &imported.update {
            Some(update) => Some(intake.submit(update, now)?),
            None => None,
        };
        Ok((imported, report))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("the import failed: {e}")))??;
    let Some(report) = report else {
        let rejected = imported.rows.iter().filter(|r| !r.accepted).count();
        let body = json!({"error": "rejected", "applied": false,
                          "message": format!("{rejected} of {} rows rejected; nothing was applied", imported.rows.len()),
                          "rows": imported.rows});
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, deprecated, Json(body)).into_response());
    };
    api.audit(
        &caller,
        &tenant,
        &format!("import.{}", kind.name()),
        json!({"rows": imported.rows.len(), "report": report}),
    )?;
    Ok((deprecated, Json(json!({"applied": true, "rows": imported.rows, "report": report}))).into_response())
}

pub async fn sheet_template(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, kind)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.tenant(&api, &tenant)?;
    let (kind, deprecated) = sheet_kind(&kind)?;
    Ok((deprecated, xlsx(sheet::template(kind), &format!("{}-template.xlsx", kind.name()))).into_response())
}

/// `GET …/orders.xlsx`: the orders the same query would list, every page, in one workbook.
pub async fn export_orders(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<OrderQuery>,
) -> Result<Response, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let file_name = format!("{tenant}-orders.xlsx");
    let store = intake.store.clone();
    // Reading up to the export's bound and writing the workbook is CPU and disk work: off the
    // async workers, like imports.
    let bytes =
        tokio::task::spawn_blocking(move || export_workbook(&intake, &tenant, query)).await.map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("the export failed: {e}"))
        })??;
    store.durable().await?; // as for the JSON query
    Ok(xlsx(bytes, &file_name))
}

fn export_workbook(
    intake: &crate::sync::intake::Intake,
    tenant: &str,
    mut query: OrderQuery,
) -> Result<Vec<u8>, ApiError> {
    let mut orders = Vec::new();
    loop {
        let page = intake.store.orders().query(tenant, &query)?;
        orders.extend(page.orders);
        if orders.len() > MAX_EXPORT_ORDERS {
            return Err(ApiError::bad_input(format!(
                "more than {MAX_EXPORT_ORDERS} orders match; narrow the query (updated_from/updated_to) or page through the JSON"
            )));
        }
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    sheet::export_orders(&orders)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
}

fn xlsx(bytes: Vec<u8>, file_name: &str) -> Response {
    let disposition = format!("attachment; filename=\"{file_name}\"");
    ([(header::CONTENT_TYPE, XLSX.to_owned()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response()
}
