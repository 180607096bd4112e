//! After-sales for the ERP: read by query (unsynced unless told; `intercept=true` for the
//! parcels a warehouse must stop) and acknowledged version by version, as orders are.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::erp::{XLSX, every_page, xlsx};
use super::extract::{JsonBody, Path, Query};
use super::openapi::{NotFound, TenantPath};
use super::{Api, ApiError, Caller};
use crate::sheet;
use crate::store::{AckOutcome, AfterSaleKey, AfterSaleQuery, AfterSaleQueryPage, Store};

#[utoipa::path(get, path = "/v1/tenants/{tenant}/after-sales", tag = "erp",
    summary = "After-sales by sync state (unsynced unless told), updated_at range, status, intercept, shop, order id; paged",
    security(("bearer" = [])),
    params(TenantPath, AfterSaleQuery),
    responses(
        (status = 200, description = "One page, in key order", body = AfterSaleQueryPage),
        (status = 404, response = NotFound),
    ))]
pub async fn query_after_sales(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<AfterSaleQuery>,
) -> Result<Json<AfterSaleQueryPage>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let page = intake.store.after_sales().query(&tenant, &query)?;
    // On disk before the ERP sees it, as for orders.
    intake.store.durable().await?;
    Ok(Json(page))
}

/// `GET …/after-sales.xlsx`: the after-sales the same query would list, every page, in one
/// workbook, for the merchant who answers them by hand (the answers go back as an
/// `after_sales` sheet: `POST …/imports/after_sales`).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/after-sales.xlsx", tag = "erp",
    summary = "The after-sales the same query lists, every page from the cursor on, as a spreadsheet",
    security(("bearer" = [])),
    params(TenantPath, AfterSaleQuery),
    responses((status = 200, description = "The workbook", content_type = XLSX), (status = 404, response = NotFound)))]
pub async fn export_after_sales(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<AfterSaleQuery>,
) -> Result<Response, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let file_name = format!("{tenant}-after-sales.xlsx");
    let store = intake.store.clone();
    // Off the async workers, like the orders' export.
    let bytes = tokio::task::spawn_blocking(move || workbook(&store, &tenant, query)).await.map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("the export failed: {e}"))
    })??;
    intake.store.durable().await?; // as for the JSON query
    Ok(xlsx(bytes, &file_name))
}

fn workbook(store: &Store, tenant: &str, mut query: AfterSaleQuery) -> Result<Vec<u8>, ApiError> {
    let after_sales = every_page("after-sales", query.cursor.take(), |cursor| {
        query.cursor = cursor;
        let page = store.after_sales().query(tenant, &query)?;
        Ok((page.after_sales, page.next_cursor))
    })?;
    sheet::export_after_sales(&after_sales)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
}

/// One acknowledgement: the after-sale's key and the version the ERP took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AfterSaleAck {
    pub platform: String,
    pub shop_id: String,
    pub after_sale_id: String,
    #[schema(minimum = 1)]
    pub version: u64,
}

/// What became of one acknowledgement: `synced`, `stale` (with `current`), `not_found` or
/// `unreadable`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AfterSaleAckAnswer {
    pub after_sale_id: String,
    pub version: u64,
    #[serde(flatten)]
    pub outcome: AckOutcome,
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/after-sales/ack", tag = "erp",
    summary = "Acknowledge after-sale versions the ERP took: each becomes synced unless it changed since",
    security(("bearer" = [])),
    params(TenantPath),
    request_body = Vec<AfterSaleAck>,
    responses(
        (status = 200, description = "One outcome per acknowledgement, in order", body = Vec<AfterSaleAckAnswer>),
        (status = 404, response = NotFound),
    ))]
pub async fn ack_after_sales(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(acks): JsonBody<Vec<AfterSaleAck>>,
) -> Result<Json<Vec<AfterSaleAckAnswer>>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let mut out = Vec::with_capacity(acks.len());
    for ack in acks {
        let key = AfterSaleKey { platform: ack.platform, shop_id: ack.shop_id, after_sale_id: ack.after_sale_id };
        let outcome = intake.store.after_sales().ack(&tenant, &key, ack.version)?;
        out.push(AfterSaleAckAnswer { after_sale_id: key.after_sale_id, version: ack.version, outcome });
    }
    Ok(Json(out))
}
