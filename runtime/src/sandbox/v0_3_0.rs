//! Contract `wharf:connector@0.3.0` (`wit/since_v0.3.0`), the latest: after-sales and the
//! merchant's answers, receivers decrypted for waybills, invoices; batch limits in the
//! descriptor. Everything 0.2.0 had converts as it did (`since_v0_2_0!`).

use super::state::CallState;
use super::{Call, Outcome, Reply};
use crate::capability::{config, credentials as cred, http as host_http, log as host_log};
use crate::engine::Engine;
use crate::error::LoadError;
use crate::model as m;
use std::sync::Arc;
use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

pub const CONTRACT: &str = "0.3.0";
const MARKETPLACE_EXPORT: &str = "wharf:connector/marketplace-connector@0.3.0";
const ERP_EXPORT: &str = "wharf:connector/erp-connector@0.3.0";

mod marketplace {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.3.0",
        world: "marketplace",
        imports: {
            // Both may do heavy or slow work: async, so it runs off the store's thread and the
            // deadline can cut it; trappable, so the deadline is checked when they return.
            "wharf:connector/http.send": async | trappable,
            "wharf:connector/credentials.sign": async | trappable,
            // Not traced: wasmtime's tracing would log the message unscrubbed; the host logs it
            // itself, scrubbed.
            "wharf:connector/log.log": exact,
            default: tracing,
        },
        exports: { default: async },
    });
}

mod erp {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.3.0",
        world: "erp",
        exports: { default: async },
        with: {
            "wharf:connector/types": super::marketplace::wharf::connector::types,
            "wharf:connector/http": super::marketplace::wharf::connector::http,
            "wharf:connector/credentials": super::marketplace::wharf::connector::credentials,
            "wharf:connector/config": super::marketplace::wharf::connector::config,
            "wharf:connector/log": super::marketplace::wharf::connector::log,
        },
    });
}

use marketplace::wharf::connector::{
    config as w_config, credentials as w_cred, http as w_http, log as w_log, types as w,
};

super::contract::since_v0_2_0!($);
super::contract::contract!($;
    PullAfterSales, GetAfterSale, PushAfterSaleActions, DecryptReceivers, PushInvoices, PushAfterSales, PullInvoices,
);

type CallResult = Result<Result<Reply, m::ConnectorError>, Outcome>;

fn batch_limits(d: &w::Descriptor) -> Vec<m::BatchLimit> {
    d.batch_limits.iter().map(|l| m::BatchLimit { operation: operation(l.operation), max_items: l.max_items }).collect()
}

async fn marketplace_since(g: &MarketplaceGuest, store: &mut Store<CallState>, call: Call) -> CallResult {
    match call {
        Call::PullAfterSales { window, cursor } => {
            let window = w::TimeWindow { from: window.from.millis(), to: window.to.millis() };
            let r = g.call_pull_after_sales(&mut *store, window, cursor.as_deref()).await?;
            reply(r, after_sale_page, Reply::AfterSales)
        }
        Call::GetAfterSale { after_sale_id } => {
            let r = g.call_get_after_sale(&mut *store, &after_sale_id).await?;
            reply(r, after_sale, Reply::AfterSale)
        }
        Call::PushAfterSaleActions(actions) => {
            let input: Vec<w::AfterSaleAction> = actions.iter().map(action_to).collect();
            let r = g.call_push_after_sale_actions(&mut *store, &input).await?;
            reply(r, |v| same_len(input.len(), items(v)?), Reply::Items)
        }
        Call::DecryptReceivers { purpose, refs } => {
            let purpose = match purpose {
                m::DecryptPurpose::Waybill => w::DecryptPurpose::Waybill,
                m::DecryptPurpose::Delivery => w::DecryptPurpose::Delivery,
                m::DecryptPurpose::AfterSale => w::DecryptPurpose::AfterSale,
            };
            let input: Vec<w::ReceiverRef> = refs
                .iter()
                .map(|r| w::ReceiverRef { order_id: r.order_id.clone(), privacy_ref: r.privacy_ref.clone() })
                .collect();
            let r = g.call_decrypt_receivers(&mut *store, purpose, &input).await?;
            reply(
                r,
                |v| {
                    let v = same_len(refs.len(), v)?;
                    refs.iter()
                        .zip(v)
                        .map(|(asked, answer)| match answer {
                            Ok(p) if p.order_id != asked.order_id => Err(format!(
                                "decrypt-receivers: asked for order {} and was answered for order {}",
                                asked.order_id, p.order_id
                            )),
                            Ok(p) => Ok(Ok(plain_receiver(p))),
                            Err(e) => Ok(Err(e.into())),
                        })
                        .collect()
                },
                Reply::Decrypted,
            )
        }
        Call::PushInvoices(invoices) => {
            let input: Vec<w::InvoiceUpload> = invoices.iter().map(invoice_to).collect();
            let r = g.call_push_invoices(&mut *store, &input).await?;
            reply(r, |v| same_len(input.len(), items(v)?), Reply::Items)
        }
        other => super::contract::not_in_this_contract(&other, m::Role::Marketplace, CONTRACT),
    }
}

async fn erp_since(g: &ErpGuest, store: &mut Store<CallState>, call: Call) -> CallResult {
    match call {
        Call::PushAfterSales(after_sales) => {
            let input: Vec<w::AfterSale> = after_sales.iter().map(after_sale_to).collect();
            let r = g.call_push_after_sales(&mut *store, &input).await?;
            reply(
                r,
                |v| {
                    Ok(same_len(input.len(), v)?
                        .into_iter()
                        .map(|r| m::OrderPushResult {
                            order_id: r.order_id,
                            outcome: match r.outcome {
                                w::OrderPushOutcome::Created(erp_ref) => m::OrderPushOutcome::Created { erp_ref },
                                w::OrderPushOutcome::AlreadyExists(erp_ref) => {
                                    m::OrderPushOutcome::AlreadyExists { erp_ref }
                                }
                                w::OrderPushOutcome::Failed(e) => m::OrderPushOutcome::Failed { error: e.into() },
                            },
                        })
                        .collect())
                },
                Reply::OrderPushes,
            )
        }
        Call::PullInvoices(request) => {
            let request: w::PullRequest = request.into();
            let r = g.call_pull_invoices(&mut *store, &request).await?;
            reply(
                r,
                |p| {
                    Ok(m::Page {
                        items: p.items.into_iter().map(invoice_from).collect(),
                        rejected: p.rejected.into_iter().map(rejected).collect(),
                        next_cursor: p.next_cursor,
                    })
                },
                Reply::Invoices,
            )
        }
        other => super::contract::not_in_this_contract(&other, m::Role::Erp, CONTRACT),
    }
}

fn kind_from(k: w::AfterSaleKind) -> m::AfterSaleKind {
    use m::AfterSaleKind as M;
    use w::AfterSaleKind as W;
    match k {
        W::RefundBeforeShipping => M::RefundBeforeShipping,
        W::RefundAfterShipping => M::RefundAfterShipping,
        W::ReturnAndRefund => M::ReturnAndRefund,
        W::Exchange => M::Exchange,
        W::Reissue => M::Reissue,
        W::PriceProtection => M::PriceProtection,
        W::Repair => M::Repair,
    }
}

fn kind_to(k: m::AfterSaleKind) -> w::AfterSaleKind {
    use m::AfterSaleKind as M;
    use w::AfterSaleKind as W;
    match k {
        M::RefundBeforeShipping => W::RefundBeforeShipping,
        M::RefundAfterShipping => W::RefundAfterShipping,
        M::ReturnAndRefund => W::ReturnAndRefund,
        M::Exchange => W::Exchange,
        M::Reissue => W::Reissue,
        M::PriceProtection => W::PriceProtection,
        M::Repair => W::Repair,
    }
}

fn after_sale_status_from(s: w::AfterSaleStatus) -> m::AfterSaleStatus {
    use m::AfterSaleStatus as M;
    use w::AfterSaleStatus as W;
    match s {
        W::Requested => M::Requested,
        W::Agreed => M::Agreed,
        W::AwaitingReturn => M::AwaitingReturn,
        W::Returned => M::Returned,
        W::Refunded => M::Refunded,
        W::Refused => M::Refused,
        W::Closed => M::Closed,
    }
}

fn after_sale_status_to(s: m::AfterSaleStatus) -> w::AfterSaleStatus {
    use m::AfterSaleStatus as M;
    use w::AfterSaleStatus as W;
    match s {
        M::Requested => W::Requested,
        M::Agreed => W::Agreed,
        M::AwaitingReturn => W::AwaitingReturn,
        M::Returned => W::Returned,
        M::Refunded => W::Refunded,
        M::Refused => W::Refused,
        M::Closed => W::Closed,
    }
}

/// Lifted as it came; the boundary checks it (`boundary::Checked`), so one bad after-sale goes
/// to its page's `rejected` instead of failing the call.
fn after_sale(a: w::AfterSale) -> Result<m::AfterSale, String> {
    Ok(m::AfterSale {
        platform: a.platform,
        shop_id: a.shop_id,
        after_sale_id: a.after_sale_id,
        order_id: a.order_id,
        lines: a
            .lines
            .into_iter()
            .map(|l| m::AfterSaleLine { line_id: l.line_id, outer_sku_id: l.outer_sku_id, quantity: l.quantity })
            .collect(),
        kind: kind_from(a.kind),
        status: after_sale_status_from(a.status),
        platform_status: a.platform_status,
        currency: a.currency,
        refund_amount: a.refund_amount,
        shipping_refund: a.shipping_refund,
        reason: a.reason,
        return_waybill: a.return_waybill.map(|r| m::ReturnWaybill { carrier: r.carrier, tracking_no: r.tracking_no }),
        created_at: m::Timestamp(a.created_at),
        updated_at: m::Timestamp(a.updated_at),
        refund_version: a.refund_version,
    })
}

fn after_sale_page(p: w::AfterSalePage) -> Result<m::Page<m::AfterSale>, String> {
    Ok(m::Page {
        items: p.items.into_iter().map(after_sale).collect::<Result<_, _>>()?,
        rejected: p.rejected.into_iter().map(rejected).collect(),
        next_cursor: p.next_cursor,
    })
}

fn after_sale_to(a: &m::AfterSale) -> w::AfterSale {
    w::AfterSale {
        platform: a.platform.clone(),
        shop_id: a.shop_id.clone(),
        after_sale_id: a.after_sale_id.clone(),
        order_id: a.order_id.clone(),
        lines: a
            .lines
            .iter()
            .map(|l| w::AfterSaleLine {
                line_id: l.line_id.clone(),
                outer_sku_id: l.outer_sku_id.clone(),
                quantity: l.quantity,
            })
            .collect(),
        kind: kind_to(a.kind),
        status: after_sale_status_to(a.status),
        platform_status: a.platform_status.clone(),
        currency: a.currency.clone(),
        refund_amount: a.refund_amount,
        shipping_refund: a.shipping_refund,
        reason: a.reason.clone(),
        return_waybill: a
            .return_waybill
            .as_ref()
            .map(|r| w::ReturnWaybill { carrier: r.carrier.clone(), tracking_no: r.tracking_no.clone() }),
        created_at: a.created_at.millis(),
        updated_at: a.updated_at.millis(),
        refund_version: a.refund_version,
    }
}

fn action_to(a: &m::AfterSaleAction) -> w::AfterSaleAction {
    use m::AfterSaleDecision as M;
    use w::AfterSaleDecision as W;
    w::AfterSaleAction {
        after_sale_id: a.after_sale_id.clone(),
        order_id: a.order_id.clone(),
        decision: match a.decision {
            M::AgreeRefund => W::AgreeRefund,
            M::RefuseRefund => W::RefuseRefund,
            M::AgreeReturn => W::AgreeReturn,
            M::RefuseReturn => W::RefuseReturn,
            M::ConfirmReturned => W::ConfirmReturned,
        },
        reason: a.reason.clone(),
        refund_version: a.refund_version,
    }
}

fn plain_receiver(p: w::PlainReceiver) -> m::PlainReceiver {
    m::PlainReceiver {
        order_id: p.order_id,
        name: p.name,
        phone: p.phone,
        phone_extension: p.phone_extension,
        province: p.province,
        city: p.city,
        district: p.district,
        town: p.town,
        address: p.address,
    }
}

fn invoice_kind_to(k: m::InvoiceKind) -> w::InvoiceKind {
    match k {
        m::InvoiceKind::Paper => w::InvoiceKind::Paper,
        m::InvoiceKind::Electronic => w::InvoiceKind::Electronic,
        m::InvoiceKind::VatSpecial => w::InvoiceKind::VatSpecial,
    }
}

fn invoice_to(i: &m::InvoiceUpload) -> w::InvoiceUpload {
    w::InvoiceUpload {
        order_id: i.order_id.clone(),
        kind: invoice_kind_to(i.kind),
        title: i.title.clone(),
        tax_id: i.tax_id.clone(),
        invoice_no: i.invoice_no.clone(),
        invoice_code: i.invoice_code.clone(),
        amount: i.amount,
        issued_at: i.issued_at.millis(),
        file_url: i.file_url.clone(),
        file_type: i.file_type.map(|t| match t {
            m::InvoiceFileType::Pdf => w::InvoiceFileType::Pdf,
            m::InvoiceFileType::Ofd => w::InvoiceFileType::Ofd,
        }),
    }
}

fn invoice_from(i: w::InvoiceUpload) -> m::InvoiceUpload {
    m::InvoiceUpload {
        order_id: i.order_id,
        kind: match i.kind {
            w::InvoiceKind::Paper => m::InvoiceKind::Paper,
            w::InvoiceKind::Electronic => m::InvoiceKind::Electronic,
            w::InvoiceKind::VatSpecial => m::InvoiceKind::VatSpecial,
        },
        title: i.title,
        tax_id: i.tax_id,
        invoice_no: i.invoice_no,
        invoice_code: i.invoice_code,
        amount: i.amount,
        issued_at: m::Timestamp(i.issued_at),
        file_url: i.file_url,
        file_type: i.file_type.map(|t| match t {
            w::InvoiceFileType::Pdf => m::InvoiceFileType::Pdf,
            w::InvoiceFileType::Ofd => m::InvoiceFileType::Ofd,
        }),
    }
}
