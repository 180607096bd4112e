//! Plaintext receivers for printing waybills: only for a tenant token granted `decrypt`, a
//! few requests a second per tenant, every use audited (token, orders, purpose, reason). The
//! answer is the only place the plaintext goes: not the store, not the log, not the audit.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::extract::{JsonBody, Path};
use super::openapi::{DecryptForbidden, NotFound, RateLimited, TenantPath};
use super::{Api, ApiError, Caller};
use crate::model::{ConnectorError, DecryptPurpose, Operation, PlainReceiver, ReceiverRef};
use crate::store::OrderKey;

/// Decrypt requests a tenant may make per second: a label printer asks for a batch at a time,
/// and a script walking every order at full speed is what the audit and this limit are for.
pub const DECRYPTS_PER_SECOND: u32 = 5;
/// Orders one request may name: a printer's batch (Taobao's own limit is 20 per call; the
/// host makes several calls).
pub const MAX_ORDERS_PER_DECRYPT: usize = 100;

/// One order whose receiver is wanted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRef {
    pub shop_id: String,
    pub order_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecryptRequest {
    /// At most 100.
    pub orders: Vec<OrderRef>,
    pub purpose: DecryptPurpose,
    /// Why, in words, for the audit (a print run, a call to the buyer…).
    pub reason: String,
}

/// One order's answer: its receiver, or why not.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Decrypted {
    pub shop_id: String,
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<PlainReceiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ConnectorError>,
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/receivers/decrypt", tag = "erp",
    summary = "Plaintext receivers of orders, for printing waybills: a token granted decrypt only, audited, kept nowhere",
    security(("bearer" = [])),
    params(TenantPath),
    request_body = DecryptRequest,
    responses(
        (status = 200, description = "One answer per order, in order", body = Vec<Decrypted>),
        (status = 403, response = DecryptForbidden),
        (status = 404, response = NotFound),
        (status = 429, response = RateLimited),
    ))]
pub async fn decrypt_receivers(
    State(api): State<Api>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(request): JsonBody<DecryptRequest>,
) -> Result<Json<Vec<Decrypted>>, ApiError> {
    let intake = caller.tenant(&api, &tenant)?;
    let token = caller.decrypt(&tenant)?.to_owned();
    if request.orders.is_empty() || request.orders.len() > MAX_ORDERS_PER_DECRYPT {
        return Err(ApiError::bad_input(format!(
            "orders: expected 1 to {MAX_ORDERS_PER_DECRYPT} orders, got {}",
            request.orders.len()
        )));
    }
    if request.reason.trim().is_empty() {
        return Err(ApiError::bad_input("reason: say why the receivers are decrypted; it goes in the audit"));
    }
    if let Err(wait) = api.decrypts.take(&tenant) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "at most {DECRYPTS_PER_SECOND} decrypt requests a second per tenant; retry in {} ms",
                wait.as_millis()
            ),
        ));
    }
    // Audited before anything is decrypted: a crash after the answer leaves the record.
    let orders: Vec<String> = request.orders.iter().map(|o| format!("{}/{}", o.shop_id, o.order_id)).collect();
    api.audit(
        &caller,
        &tenant,
        "receivers_decrypted",
        json!({"token": token, "orders": orders, "purpose": request.purpose, "reason": request.reason}),
    )?;

    let mut answers: Vec<Decrypted> = request
        .orders
        .iter()
        .map(|o| Decrypted { shop_id: o.shop_id.clone(), order_id: o.order_id.clone(), receiver: None, error: None })
        .collect();
    // By shop: each shop's references go to its plugin, in its batches.
    let mut shops: Vec<&str> = request.orders.iter().map(|o| o.shop_id.as_str()).collect();
    shops.sort_unstable();
    shops.dedup();
    for shop_id in shops {
        let Some((plugin, shop)) = api.control.shop(&tenant, shop_id) else {
            for a in answers.iter_mut().filter(|a| a.shop_id == shop_id) {
                a.error =
                    Some(ConnectorError::NotFound { message: format!("no shop `{shop_id}` in tenant `{tenant}`") });
            }
            continue;
        };
        if !plugin.descriptor().operations.contains(&Operation::DecryptReceivers) {
            for a in answers.iter_mut().filter(|a| a.shop_id == shop_id) {
                a.error = Some(ConnectorError::Unsupported { operation: Operation::DecryptReceivers.name().into() });
            }
            continue;
        }
        let platform = plugin.descriptor().platform.clone();
        let mut asked: Vec<(usize, ReceiverRef)> = Vec::new();
        for (i, a) in answers.iter_mut().enumerate().filter(|(_, a)| a.shop_id == shop_id) {
            let key =
                OrderKey { platform: platform.clone(), shop_id: shop_id.to_owned(), order_id: a.order_id.clone() };
            let stored = intake.store.orders().get(&tenant, &key)?;
            match stored.and_then(|s| s.order.receiver).and_then(|r| r.privacy_ref) {
                Some(privacy_ref) => asked.push((i, ReceiverRef { order_id: a.order_id.clone(), privacy_ref })),
                None => {
                    a.error = Some(ConnectorError::NotFound {
                        message: "no stored order with a receiver reference to decrypt".into(),
                    })
                }
            }
        }
        let refs = asked.iter().map(|(_, r)| r.clone()).collect();
        let results = crate::receivers::decrypt(&plugin, &shop, request.purpose, refs).await;
        for ((i, _), result) in asked.into_iter().zip(results) {
            match result {
                Ok(receiver) => answers[i].receiver = Some(receiver),
                Err(error) => answers[i].error = Some(error),
            }
        }
    }
    Ok(Json(answers))
}
