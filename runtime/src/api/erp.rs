//! The ERP side (seed 002 §1.4.1, §2.1, §2.3): orders by query and their acknowledgements,
//! ERP → marketplace updates of every kind (one record or many), and the same by spreadsheet,
//! with orders exported to one.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::extract::{JsonBody, Path, Query, typed};
use super::modules::{self, Deprecated};
use super::openapi::{NotFound, OverQuota, ShopPath, TenantPath, TooLarge, names};
use super::{Api, ApiError, Caller};
use crate::model::{
    AfterSaleAction, CustomerMapping, ErpStatus, InvoiceUpload, ListingChange, Logistics, LotSync, Module, PriceUpdate,
    Product, ShipmentDetail, StockUpdate, Timestamp,
};
use crate::sheet::{self, RowOutcome, SheetKind};
use crate::store::{AckOutcome, OrderKey, OrderQuery, OrderQueryPage, StoredOrder};
use crate::sync::intake::{Report, Update};

/// The media type of `.xlsx` files.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Orders a spreadsheet export holds at most: past this, an export is better paged through the
/// JSON query. 100,000 rows is about what a spreadsheet program opens comfortably.
pub const MAX_EXPORT_ORDERS: usize = 100_000;

/// The kinds `POST …/updates/{kind}` takes, as [`submit_updates`] matches them: the modules
/// of the table that go out to the shops (`crate::model::modules`).
pub fn update_kinds() -> impl Iterator<Item = &'static str> {
    Module::ALL.into_iter().filter(|m| m.spec().push.is_some()).map(Module::name)
}

/// The `{kind}` of `…/updates/{kind}`, for the document.
pub(crate) struct UpdateKind;

impl PartialSchema for UpdateKind {
    fn schema() -> RefOr<Schema> {
        names(update_kinds())
    }
}

impl ToSchema for UpdateKind {}

/// The `{kind}` of `…/imports/{kind}`, for the document.
pub(crate) struct SheetKindName;

impl PartialSchema for SheetKindName {
    fn schema() -> RefOr<Schema> {
        names(SheetKind::ALL.map(SheetKind::name))
    }
}

impl ToSchema for SheetKindName {}

/// The body of `POST …/updates/{kind}`: canonical records of the kind in the path
/// (wit/canonical-model.md), a list of them or one.
pub struct UpdateRecords;

impl PartialSchema for UpdateRecords {
    fn schema() -> RefOr<Schema> {
        let mut collected = Vec::new();
        let names: Vec<_> = RECORDS.iter().map(|record| record(&mut collected)).collect();
        let record =
            || names.iter().fold(AnyOfBuilder::new(), |any, name| any.item(Ref::from_schema_name(name.as_ref())));
        AnyOfBuilder::new()
            .item(record())
            .item(ArrayBuilder::new().items(record()))
            .description(Some(
                "Canonical records of the kind in the path (wit/canonical-model.md): a list, or one record",
            ))
            .into()
    }
}

impl ToSchema for UpdateRecords {
    fn schemas(schemas: &mut Schemas) {
        for record in RECORDS {
            record(schemas);
        }
    }
}

type Schemas = Vec<(String, RefOr<Schema>)>;

/// The record types of [`update_kinds`]: each adds its schema (and those it needs) and names it.
const RECORDS: [fn(&mut Schemas) -> std::borrow::Cow<'static, str>; 11] = [
    record::<AfterSaleAction>,
    record::<InvoiceUpload>,
    record::<StockUpdate>,
    record::<PriceUpdate>,
    record::<LotSync>,
    record::<ListingChange>,
    record::<Product>,
    record::<CustomerMapping>,
    record::<Logistics>,
    record::<ShipmentDetail>,
    record::<ErpStatus>,
];

fn record<T: ToSchema>(schemas: &mut Schemas) -> std::borrow::Cow<'static, str> {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
    T::name()
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/orders", tag = "erp",
    summary = "Orders by sync state (unsynced unless told), updated_at range, status, shop, order id; paged",
    security(("bearer" = [])),
    params(TenantPath, OrderQuery),
    responses(
        (status = 200, description = "One page, in key order", body = OrderQueryPage),
        (status = 404, response = NotFound),
    ))]
pub async fn query_orders(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<OrderQuery>,
) -> Result<Json<OrderQueryPage>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let page = intake.store.orders().query(&tenant, &query)?;
    // What the ERP reads is on disk before it sees it: the version it acknowledges can never
    // come back, after a crash, holding other content.
    intake.store.durable().await?;
    Ok(Json(page))
}

/// Every version of one order Wharf kept (the latest `store::orders::KEPT_VERSIONS`), oldest
/// first: how it changed, as the console's order detail shows it.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/orders/{platform}/{shop}/{id}/versions", tag = "erp",
    summary = "Every version of one order kept, oldest first, the current one last",
    security(("bearer" = [])),
    params(
        TenantPath,
        ("platform" = String, Path, description = "The order's platform"),
        ShopPath,
        ("id" = String, Path, description = "The order's id"),
    ),
    responses((status = 200, description = "Its versions", body = Vec<StoredOrder>), (status = 404, response = NotFound)))]
pub async fn order_versions(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, platform, shop_id, order_id)): Path<(String, String, String, String)>,
) -> Result<Json<Vec<StoredOrder>>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let key = OrderKey { platform, shop_id, order_id };
    let versions = intake.store.orders().versions(&tenant, &key)?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("no order {}/{}/{}", key.platform, key.shop_id, key.order_id)));
    }
    intake.store.durable().await?;
    Ok(Json(versions))
}

/// One acknowledgement: the order's key and the version the ERP took. Its fields side by side
/// (not the key flattened) so that an unknown one is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    pub platform: String,
    pub shop_id: String,
    pub order_id: String,
    #[schema(minimum = 1)]
    pub version: u64,
}

/// What became of one acknowledgement: `synced`, `stale` (with the version the order is at
/// now, `current`), `not_found` or `unreadable`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AckAnswer {
    pub order_id: String,
    pub version: u64,
    #[serde(flatten)]
    pub outcome: AckOutcome,
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/orders/ack", tag = "erp",
    summary = "Acknowledge order versions the ERP took: each becomes synced unless the order changed since",
    security(("bearer" = [])),
    params(TenantPath),
    request_body = Vec<Ack>,
    responses(
        (status = 200, description = "One outcome per acknowledgement, in order", body = Vec<AckAnswer>),
        (status = 404, response = NotFound),
    ))]
pub async fn ack_orders(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(acks): JsonBody<Vec<Ack>>,
) -> Result<Json<Vec<AckAnswer>>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let mut out = Vec::with_capacity(acks.len());
    for ack in acks {
        let key = OrderKey { platform: ack.platform, shop_id: ack.shop_id, order_id: ack.order_id };
        let outcome = intake.store.orders().ack(&tenant, &key, ack.version)?;
        out.push(AckAnswer { order_id: key.order_id, version: ack.version, outcome });
    }
    Ok(Json(out))
}

/// Records one update call may carry. An ERP's batch is hundreds to a few thousand rows; one
/// call of 1.1 million stock records held a tenant's API for 97 s and 1.6 GB while it was parsed
/// and queued. 10,000 rows parse and store in well under a second and fit the body limit.
pub const MAX_RECORDS_PER_UPDATE: usize = 10_000;

/// `POST …/updates/{kind}`: a list of canonical records, or one record.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/updates/{kind}", tag = "erp",
    summary = "ERP → marketplace updates, stored before the answer and queued for every shop they concern",
    security(("bearer" = [])),
    params(TenantPath, ("kind" = inline(UpdateKind), Path, description = "What the records are")),
    request_body = UpdateRecords,
    responses(
        (status = 200, description = "What became of the records", body = Report),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 507, response = OverQuota),
    ))]
pub async fn submit_updates(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, kind)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<(Deprecated, Json<Report>), ApiError> {
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
            Module::AfterSales => Update::AfterSaleActions(typed(body, what)?),
            Module::Invoices => Update::Invoices(typed(body, what)?),
            Module::Orders => unreachable!("orders come in from the shops (refused above)"),
        };
        // Stored before the answer: what the ERP hears as accepted is never lost.
        let report = intake.submit(&update, Timestamp::now())?;
        Ok(report)
    })
    .await
    .map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("the update was not stored: {e}"))
    })??;
    Ok((deprecated, Json(report)))
}

fn sheet_kind(kind: &str) -> Result<(SheetKind, Deprecated), ApiError> {
    let (module, deprecated) = modules::module(kind, "spreadsheet import", |m| m.spec().sheet)?;
    Ok((SheetKind::of(module).expect("the table's sheets have a kind"), deprecated))
}

/// Every row of a workbook applied, with a report per row and what became of the records.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    /// Always `true` here (a rejected sheet answers `ImportRejected`).
    pub applied: bool,
    pub rows: Vec<RowOutcome>,
    pub report: Report,
}

/// A workbook with a row refused: nothing applied, every row's outcome. An error (`error`,
/// `message`) that carries the report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportRejected {
    #[schema(examples("rejected"))]
    pub error: String,
    pub message: String,
    /// Always `false` here.
    pub applied: bool,
    pub rows: Vec<RowOutcome>,
}

// A workbook past one of the sheet's bounds (unpacked size, shared strings, parts, rows, text;
// see `sheet::SheetError::limit`) is 413 `too_large` naming the bound (`limit`, `max`): each is
// about how much one request asks the host to unpack and hold, not about whether what it holds
// is right, and the remedy is the same for all (split the file), which is what 413 says. 422
// stays what it is elsewhere: rows read and refused for their content.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/imports/{kind}", tag = "erp",
    summary = "The same updates from a spreadsheet: applied whole or not at all, with a report per row",
    security(("bearer" = [])),
    params(TenantPath, ("kind" = inline(SheetKindName), Path, description = "What the sheet's rows are")),
    request_body(content_type = XLSX, description = "The .xlsx file; start from the template"),
    responses(
        (status = 200, description = "Applied: every row accepted", body = ImportReport),
        (status = 422, description = "Rejected: some row was refused, nothing was applied", body = ImportRejected),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 507, response = OverQuota),
    ))]
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
        let body = ImportRejected {
            error: "rejected".to_owned(),
            message: format!("{rejected} of {} rows rejected; nothing was applied", imported.rows.len()),
            applied: false,
            rows: imported.rows,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, deprecated, Json(body)).into_response());
    };
    api.audit(
        &caller,
        &tenant,
        &format!("import.{}", kind.name()),
        json!({"rows": imported.rows.len(), "report": report}),
    )?;
    Ok((deprecated, Json(ImportReport { applied: true, rows: imported.rows, report })).into_response())
}

/// The template's language.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    /// `zh` (Chinese headers, 商家编码) or `en` (the canonical field names, outer_sku_id);
    /// the tenant's `language` when not given (Chinese unless configured). An import reads
    /// either.
    #[param(example = "zh")]
    pub lang: Option<String>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/imports/{kind}/template.xlsx", tag = "erp",
    summary = "An empty sheet with the header row an import expects, in Chinese or English",
    security(("bearer" = [])),
    params(TenantPath, ("kind" = inline(SheetKindName), Path, description = "What the sheet's rows are"), TemplateQuery),
    responses((status = 200, description = "The workbook", content_type = XLSX), (status = 404, response = NotFound)))]
pub async fn sheet_template(
    State(api): State<Api>,
    caller: Caller,
    Path((tenant, kind)): Path<(String, String)>,
    Query(query): Query<TemplateQuery>,
) -> Result<Response, ApiError> {
    caller.tenant(&api, &tenant)?;
    let (kind, deprecated) = sheet_kind(&kind)?;
    let language = match query.lang.as_deref() {
        // The tenant's own language, as its configuration says.
        None => api.desired(&tenant).map(|t| t.language).unwrap_or_default(),
        Some(code) => sheet::Language::parse(code).ok_or_else(|| {
            ApiError::bad_input(format!("lang: expected zh or en, got {code:?}")).with(json!({"field": "lang"}))
        })?,
    };
    Ok((deprecated, xlsx(sheet::template(kind, language), &format!("{}-template.xlsx", kind.name()))).into_response())
}

/// `GET …/orders.xlsx`: the orders the same query would list, every page, in one workbook.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/orders.xlsx", tag = "erp",
    summary = "The orders the same query lists, every page from the cursor on, as a spreadsheet",
    security(("bearer" = [])),
    params(TenantPath, OrderQuery),
    responses((status = 200, description = "The workbook", content_type = XLSX), (status = 404, response = NotFound)))]
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
    let orders = every_page("orders", query.cursor.take(), |cursor| {
        query.cursor = cursor;
        let page = intake.store.orders().query(tenant, &query)?;
        Ok((page.orders, page.next_cursor))
    })?;
    sheet::export_orders(&orders)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
}

/// Every record a paged query lists for an export: `page(cursor)` answers one page and the
/// next cursor, from `cursor` (the request's own) on. More than [`MAX_EXPORT_ORDERS`] `what`
/// is refused: page through the JSON instead.
pub(super) fn every_page<T>(
    what: &str,
    mut cursor: Option<String>,
    mut page: impl FnMut(Option<String>) -> Result<(Vec<T>, Option<String>), ApiError>,
) -> Result<Vec<T>, ApiError> {
    let mut all = Vec::new();
    loop {
        let (records, next) = page(cursor)?;
        all.extend(records);
        if all.len() > MAX_EXPORT_ORDERS {
            return Err(ApiError::bad_input(format!(
                "more than {MAX_EXPORT_ORDERS} {what} match; narrow the query (updated_from/updated_to) or page through the JSON"
            )));
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

pub(super) fn xlsx(bytes: Vec<u8>, file_name: &str) -> Response {
    let disposition = format!("attachment; filename=\"{file_name}\"");
    ([(header::CONTENT_TYPE, XLSX.to_owned()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response()
}
