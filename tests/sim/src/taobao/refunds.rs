//! TOP's refunds (退款 / 售后) over the shop's trades: one [`AfterSale`] per refund, on one
//! sub-order (TOP opens refunds per `oid`), kept in [`State`] as typed ground truth.
//!
//! The neutral kinds and statuses in TOP's words (platforms.md, "After-sales"):
//!
//! | neutral | `status` |
//! |---|---|
//! | requested | `WAIT_SELLER_AGREE` |
//! | agreed (refund under way) | `SUCCESS` (TOP pays out on agreement; the review here pays at once) |
//! | awaiting_return | `WAIT_BUYER_RETURN_GOODS` |
//! | returned | `WAIT_SELLER_CONFIRM_GOODS` |
//! | refunded | `SUCCESS` |
//! | refused | `SELLER_REFUSE_BUYER` |
//! | closed | `SUCCESS` for an exchange, repair or reissue done; `CLOSED` when withdrawn |
//!
//! | neutral kind | `dispute_type` |
//! |---|---|
//! | refund before/after shipping, price protection | `REFUND` |
//! | return and refund | `REFUND_AND_RETURN` |
//! | exchange | `TMALL_EXCHANGE` |
//! | repair | `REPAIR` |
//! | reissue | `RESHIPPING` |
//!
//! `good_status`: `BUYER_NOT_RECEIVED` for a refund before shipping, `BUYER_RETURNED_GOODS` once
//! the return waybill is known, else `BUYER_RECEIVED`. `refund_phase`: `aftersale` when the
//! trade was finished (received and confirmed), else `onsale`. `total_fee` is the trade's
//! payment (交易总金额), `refund_fee` what goes back (goods and shipping), `refund_version` the
//! neutral version. The sub-order's `refund_status` follows its refund, and the trade is
//! modified with each change.
//!
//! UNSURE, and kept here: the refusal sub codes ([`SUB_CODE_STALE_VERSION`],
//! [`SUB_CODE_STATUS_NOT_ALLOWED`], [`SUB_CODE_NOT_FOUND`]); the actions' parameters beyond
//! `refund_id`/`refund_version`/`refund_phase` (`taobao.rp.refund.review` also takes
//! `operator`, `result` true/false and `message`, required to refuse) and their answers
//! (`{"<root>":{"is_success":true}}`).

use serde_json::{Map, Value, json};

use super::error::TopError;
use super::form::Params;
use super::methods::{Call, response_root};
use super::model::{RefundStatus, SimTrade, TradeStatus};
use super::state::State;
use super::wire::{gmt8, parse_gmt8, yuan};
use crate::rng::SimRng;
use crate::shop::after_sale::{self, Claimable, NewAfterSale};
use crate::shop::{AfterSale, AfterSaleAction, AfterSaleError, AfterSaleKind, AfterSaleStatus, SellerAction};

pub const REFUNDS_RECEIVE_GET: &str = "taobao.refunds.receive.get";
pub const REFUND_GET: &str = "taobao.refund.get";
pub const REFUND_REVIEW: &str = "taobao.rp.refund.review";
pub const RETURNGOODS_AGREE: &str = "taobao.rp.returngoods.agree";
pub const RETURNGOODS_REFUSE: &str = "taobao.rp.returngoods.refuse";
pub const METHODS: &[&str] = &[REFUNDS_RECEIVE_GET, REFUND_GET, REFUND_REVIEW, RETURNGOODS_AGREE, RETURNGOODS_REFUSE];
/// The reads among [`METHODS`].
pub const READS: &[&str] = &[REFUNDS_RECEIVE_GET, REFUND_GET];

pub const SUB_CODE_STALE_VERSION: &str = "isv.refund-version-expired";
pub const SUB_CODE_STATUS_NOT_ALLOWED: &str = "isv.refund-status-not-support";
pub const SUB_CODE_NOT_FOUND: &str = "isv.refund-not-exist";

/// `page_size` bounds and default of `taobao.refunds.receive.get` (platforms.md: ≤ 100).
const MAX_PAGE_SIZE: u64 = 100;
const DEFAULT_PAGE_SIZE: u64 = 40;

/// A refund's `status`.
pub fn top_status(a: &AfterSale) -> RefundStatus {
    match a.status {
        AfterSaleStatus::Requested => RefundStatus::WaitSellerAgree,
        AfterSaleStatus::AwaitingReturn => RefundStatus::WaitBuyerReturnGoods,
        AfterSaleStatus::Returned => RefundStatus::WaitSellerConfirmGoods,
        AfterSaleStatus::Agreed | AfterSaleStatus::Refunded => RefundStatus::Success,
        AfterSaleStatus::Refused => RefundStatus::SellerRefuseBuyer,
        AfterSaleStatus::Closed if a.succeeded() => RefundStatus::Success,
        AfterSaleStatus::Closed => RefundStatus::Closed,
    }
}

pub fn dispute_type(kind: AfterSaleKind) -> &'static str {
    match kind {
        AfterSaleKind::RefundBeforeShipping | AfterSaleKind::RefundAfterShipping | AfterSaleKind::PriceProtection => {
            "REFUND"
        }
        AfterSaleKind::ReturnAndRefund => "REFUND_AND_RETURN",
        AfterSaleKind::Exchange => "TMALL_EXCHANGE",
        AfterSaleKind::Repair => "REPAIR",
        AfterSaleKind::Reissue => "RESHIPPING",
    }
}

pub fn good_status(a: &AfterSale) -> &'static str {
    if a.return_waybill.is_some() {
        "BUYER_RETURNED_GOODS"
    } else if a.kind == AfterSaleKind::RefundBeforeShipping {
        "BUYER_NOT_RECEIVED"
    } else {
        "BUYER_RECEIVED"
    }
}

pub fn refund_phase(trade: Option<&SimTrade>) -> &'static str {
    if trade.is_some_and(|t| t.status == TradeStatus::TradeFinished) { "aftersale" } else { "onsale" }
}

/// Every field a refund can carry; `with_review` adds `refund_version`, `refund_phase` and
/// `dispute_type` (what `taobao.refund.get` adds).
fn refund_json(a: &AfterSale, trade: Option<&SimTrade>, ids_as_strings: bool, with_review: bool) -> Map<String, Value> {
    let id = |n: u64| if ids_as_strings { json!(n.to_string()) } else { json!(n) };
    let line = a.lines.first();
    let order = trade.and_then(|t| line.and_then(|l| t.orders.iter().find(|o| o.oid == l.line_no)));
    let (company, sid) = a.return_waybill.clone().unwrap_or_default();
    let mut m = json!({
        "refund_id": id(a.id),
        "tid": id(a.order_no),
        "oid": id(line.map_or(0, |l| l.line_no)),
        "total_fee": yuan(trade.map_or(0, |t| t.payment)),
        "refund_fee": yuan(a.refund_total()),
        "status": top_status(a).as_str(),
        "good_status": good_status(a),
        "has_good_return": a.kind.returns_goods(),
        "company_name": company,
        "sid": sid,
        "reason": a.reason,
        "desc": a.reason,
        "created": gmt8(a.created_ms),
        "modified": gmt8(a.updated_ms),
        "buyer_nick": trade.map(|t| t.buyer_nick.clone()).unwrap_or_default(),
        "order_status": trade.map_or("", |t| t.status.as_str()),
        "title": order.map(|o| o.title.clone()).unwrap_or_default(),
        "num": line.map_or(0, |l| l.quantity),
        "num_iid": id(order.map_or(0, |o| o.num_iid)),
        "outer_id": line.map(|l| l.outer_sku_id.clone()).unwrap_or_default(),
    });
    if with_review {
        m["refund_version"] = json!(a.version);
        m["refund_phase"] = json!(refund_phase(trade));
        m["dispute_type"] = json!(dispute_type(a.kind));
    }
    match m {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The fields `fields` names (TOP answers only what was asked).
fn select(mut m: Map<String, Value>, fields: &str) -> Value {
    let names: Vec<&str> = fields.split(',').map(str::trim).collect();
    m.retain(|k, _| names.contains(&k.as_str()));
    Value::Object(m)
}

fn wrap(method: &str, inner: Value) -> String {
    json!({ response_root(method): inner }).to_string()
}

fn required<'p>(p: &'p Params, name: &str) -> Result<&'p str, TopError> {
    p.get(name).ok_or_else(|| TopError::missing(name))
}

fn required_u64(p: &Params, name: &str) -> Result<u64, TopError> {
    let v = required(p, name)?;
    v.parse().map_err(|_| TopError::invalid(name, format!("{name} must be a positive integer, got {v:?}")))
}

/// `taobao.refunds.receive.get`: refunds modified in `[start_modified, end_modified]`, newest
/// first, optionally of one `status`; `page_no` from 1, `page_size` 1..=100, `use_has_next`.
pub fn receive_get(state: &State, call: Call<'_>) -> Result<String, TopError> {
    let p = call.params;
    let fields = required(p, "fields")?;
    let time = |name: &str| -> Result<Option<i64>, TopError> {
        p.get(name)
            .map(|v| {
                parse_gmt8(v)
                    .ok_or_else(|| TopError::invalid(name, format!("{name} must be yyyy-MM-dd HH:mm:ss, got {v:?}")))
            })
            .transpose()
    };
    let (start, end) = (time("start_modified")?, time("end_modified")?);
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err(TopError::invalid("end_modified", "end_modified must not be before start_modified"));
    }
    let page_no = p.get("page_no").map_or(Ok(1), |v| v.parse::<u64>()).unwrap_or(0);
    if page_no == 0 {
        return Err(TopError::invalid("page_no", "page_no starts at 1"));
    }
    let page_size = p.get("page_size").map_or(Ok(DEFAULT_PAGE_SIZE), |v| v.parse::<u64>()).unwrap_or(0);
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(TopError::invalid("page_size", format!("page_size must be 1..={MAX_PAGE_SIZE}")));
    }
    let use_has_next = match p.get("use_has_next") {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(TopError::invalid("use_has_next", format!("use_has_next must be true or false, got {v:?}")));
        }
    };
    let status = p.get("status");
    let mut rows: Vec<&AfterSale> = state
        .refunds()
        .iter()
        .filter(|a| start.is_none_or(|s| s <= a.updated_ms) && end.is_none_or(|e| a.updated_ms <= e))
        .filter(|a| status.is_none_or(|s| top_status(a).as_str() == s))
        .collect();
    rows.sort_by_key(|a| std::cmp::Reverse((a.updated_ms, a.id)));
    let total = rows.len() as u64;
    let skip = (page_no - 1).saturating_mul(page_size);
    let page: Vec<Value> = rows
        .into_iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(page_size as usize)
        .map(|a| select(refund_json(a, state.trade(a.order_no), call.ids.as_strings, false), fields))
        .collect();
    let shown = page.len() as u64;
    let mut inner = json!({});
    if !page.is_empty() {
        inner["refunds"] = json!({ "refund": page });
    }
    if use_has_next {
        inner["has_next"] = json!(skip + shown < total);
    } else {
        inner["total_results"] = json!(total);
    }
    Ok(wrap(REFUNDS_RECEIVE_GET, inner))
}

fn find(state: &State, id: u64) -> Result<&AfterSale, TopError> {
    state
        .refunds()
        .iter()
        .find(|a| a.id == id)
        .ok_or_else(|| TopError::remote(SUB_CODE_NOT_FOUND, format!("退款单不存在: refund_id {id}")))
}

/// `taobao.refund.get`: one refund by `refund_id`, with `refund_version`, `refund_phase` and
/// `dispute_type`.
pub fn get(state: &State, call: Call<'_>) -> Result<String, TopError> {
    let p = call.params;
    let fields = required(p, "fields")?;
    let a = find(state, required_u64(p, "refund_id")?)?;
    let refund = select(refund_json(a, state.trade(a.order_no), call.ids.as_strings, true), fields);
    Ok(wrap(REFUND_GET, json!({ "refund": refund })))
}

/// Checks `refund_version` (when `required` or given) and `refund_phase` (when given) against
/// the refund as it is now.
fn check_version(state: &State, a: &AfterSale, p: &Params, version_required: bool) -> Result<(), TopError> {
    match p.get("refund_version") {
        None if version_required => return Err(TopError::missing("refund_version")),
        None => {}
        Some(v) if v.parse::<u64>().ok() == Some(a.version) => {}
        Some(v) => {
            return Err(TopError::remote(
                SUB_CODE_STALE_VERSION,
                format!("退款版本已过期: refund_version {v}, 当前 {}", a.version),
            ));
        }
    }
    if let Some(phase) = p.get("refund_phase") {
        let current = refund_phase(state.trade(a.order_no));
        if phase != current {
            return Err(TopError::invalid("refund_phase", format!("refund_phase is {current}, got {phase:?}")));
        }
    }
    Ok(())
}

fn not_allowed(a: &AfterSale, what: &str) -> TopError {
    TopError::remote(
        SUB_CODE_STATUS_NOT_ALLOWED,
        format!("退款状态 {} ({}) 不支持{what}", top_status(a).as_str(), dispute_type(a.kind)),
    )
}

/// The actions a call takes, in order, after its checks.
fn apply(
    state: &mut State,
    id: u64,
    actions: &[AfterSaleAction],
    reason: Option<String>,
    now_ms: i64,
) -> Result<(), TopError> {
    for action in actions {
        state
            .act_on_refund(id, action, now_ms)
            .map_err(|e| TopError::remote(SUB_CODE_STATUS_NOT_ALLOWED, e.to_string()))?;
        state.seller_actions.push(SellerAction {
            after_sale_id: id,
            action: action.clone(),
            reason: reason.clone(),
            at_ms: now_ms,
        });
    }
    Ok(())
}

/// `taobao.rp.refund.review`: `result=true` agrees — a refund without goods is paid at once,
/// returned goods are confirmed and refunded; `result=false` refuses (with `message`). Needs
/// the current `refund_version`.
pub fn review(state: &mut State, call: Call<'_>) -> Result<String, TopError> {
    let p = call.params;
    let id = required_u64(p, "refund_id")?;
    required(p, "operator")?;
    let agree = match required(p, "result")? {
        "true" => true,
        "false" => false,
        v => return Err(TopError::invalid("result", format!("result must be true or false, got {v:?}"))),
    };
    let message = p.get("message").map(str::to_owned);
    if !agree && message.is_none() {
        return Err(TopError::missing("message"));
    }
    let a = find(state, id)?;
    check_version(state, a, p, true)?;
    let actions: Vec<AfterSaleAction> = match (agree, a.status) {
        (true, AfterSaleStatus::Requested) if !a.kind.returns_goods() && a.kind.refunds_money() => {
            vec![AfterSaleAction::Agree, AfterSaleAction::RefundPaid]
        }
        (true, AfterSaleStatus::Returned) if a.kind.refunds_money() => vec![AfterSaleAction::ConfirmReturn],
        (false, AfterSaleStatus::Requested | AfterSaleStatus::Returned) => vec![AfterSaleAction::Refuse],
        _ => return Err(not_allowed(a, if agree { "同意退款" } else { "拒绝退款" })),
    };
    apply(state, id, &actions, message, call.now_ms)?;
    Ok(wrap(REFUND_REVIEW, json!({"is_success": true})))
}

/// `taobao.rp.returngoods.agree`: the seller agrees to take the goods back (a refund awaiting
/// the seller whose kind returns goods).
pub fn returngoods_agree(state: &mut State, call: Call<'_>) -> Result<String, TopError> {
    let p = call.params;
    let id = required_u64(p, "refund_id")?;
    let a = find(state, id)?;
    check_version(state, a, p, false)?;
    if !(a.status == AfterSaleStatus::Requested && a.kind.returns_goods()) {
        return Err(not_allowed(a, "同意退货"));
    }
    apply(state, id, &[AfterSaleAction::Agree], p.get("remark").map(str::to_owned), call.now_ms)?;
    Ok(wrap(RETURNGOODS_AGREE, json!({"is_success": true})))
}

/// `taobao.rp.returngoods.refuse`: the seller refuses the goods the buyer sent back.
pub fn returngoods_refuse(state: &mut State, call: Call<'_>) -> Result<String, TopError> {
    let p = call.params;
    let id = required_u64(p, "refund_id")?;
    let a = find(state, id)?;
    check_version(state, a, p, false)?;
    if a.status != AfterSaleStatus::Returned {
        return Err(not_allowed(a, "拒绝收货"));
    }
    apply(state, id, &[AfterSaleAction::Refuse], p.get("refuse_message").map(str::to_owned), call.now_ms)?;
    Ok(wrap(RETURNGOODS_REFUSE, json!({"is_success": true})))
}

impl State {
    /// Opens a refund of `kind` on one sub-order of trade `tid` (picked by `rng`) at `now_ms`;
    /// its `refund_id`. A paid trade not shipped gets a refund before shipping, a shipped one
    /// never does; `None` when the trade is unknown, unpaid or closed, or no sub-order has
    /// anything left to refund.
    pub fn add_refund(&mut self, rng: &mut SimRng, tid: u64, kind: AfterSaleKind, now_ms: i64) -> Option<u64> {
        let t = self.trade(tid)?;
        if !t.status.is_paid() || t.status.is_final() {
            return None;
        }
        let kind = after_sale::fit_kind(kind, t.status.is_consigned());
        let refunds = self.refunds();
        // Sub-orders with a refund already on the wire (generated ones included) are taken.
        let free: Vec<Claimable> = t
            .orders
            .iter()
            .filter(|o| matches!(o.refund_status, None | Some(RefundStatus::NoRefund)))
            .filter(|o| !refunds.iter().any(|a| a.lines.iter().any(|l| l.line_no == o.oid) && !a.status.is_final()))
            .map(|o| Claimable {
                line_no: o.oid,
                sku_no: o.sku_id.unwrap_or(0),
                outer_sku_id: o.outer_sku_id.clone().or_else(|| o.outer_iid.clone()).unwrap_or_default(),
                quantity: o.num,
                paid: o.line_total(),
            })
            .collect();
        if free.is_empty() {
            return None;
        }
        let line = rng.pick(&free).clone();
        let single_line = t.orders.len() == 1;
        let id = after_sale::next_id(refunds, rng);
        let created_ms = (now_ms / 1000 * 1000).max(t.modified_ms);
        let shipping_fee = if single_line { t.post_fee } else { 0 };
        let new = NewAfterSale { id, order_no: tid, kind, shipping_fee, created_ms };
        let sale = after_sale::draw_after_sale(rng, new, &[line], |oid| after_sale::claimed_on(refunds, oid))?;
        let at = sale.created_ms;
        self.push_refund(sale, at);
        Some(id)
    }

    /// Takes `action` on refund `id` at `now_ms`; the sub-order and the trade follow.
    pub fn act_on_refund(
        &mut self,
        id: u64,
        action: &AfterSaleAction,
        now_ms: i64,
    ) -> Result<AfterSale, AfterSaleError> {
        self.update_refund(id, |a| a.apply(action, now_ms).map_err(AfterSaleError::NotAllowed))
    }

    /// Moves one open refund (picked by `rng`) one natural step at `now_ms`; its id.
    pub fn advance_refund(&mut self, rng: &mut SimRng, now_ms: i64) -> Option<u64> {
        let open: Vec<(u64, AfterSale)> =
            self.refunds().iter().filter(|a| !a.status.is_final()).map(|a| (a.id, a.clone())).collect();
        let (id, sale) = (!open.is_empty()).then(|| rng.pick(&open).clone())?;
        let action = sale.natural_step(rng)?;
        self.act_on_refund(id, &action, now_ms).ok().map(|a| a.id)
    }

    /// Opens a refund on a random trade at `now_ms`: one waiting to be shipped when
    /// `intercept`, else a shipped or finished one with a random kind; its id.
    pub fn open_random_refund(&mut self, rng: &mut SimRng, now_ms: i64, intercept: bool) -> Option<u64> {
        let fits = |s: TradeStatus| {
            if intercept {
                s == TradeStatus::WaitSellerSendGoods
            } else {
                matches!(
                    s,
                    TradeStatus::WaitBuyerConfirmGoods | TradeStatus::TradeBuyerSigned | TradeStatus::TradeFinished
                )
            }
        };
        let candidates: Vec<u64> = self.trades_newest_first().filter(|t| fits(t.status)).map(|t| t.tid).collect();
        let &tid = (!candidates.is_empty()).then(|| rng.pick(&candidates))?;
        let kind = *rng.pick(&AfterSaleKind::ALL);
        self.add_refund(rng, tid, kind, now_ms)
    }

    /// `count` refunds on random paid trades, opened after each trade's last change and taken
    /// some natural steps further, all before `now_ms`.
    pub fn generate_refunds(&mut self, rng: &mut SimRng, count: usize, now_ms: i64) {
        for _ in 0..count {
            let open: Vec<(u64, i64)> = self
                .trades_newest_first()
                .filter(|t| t.status.is_paid() && !t.status.is_final())
                .map(|t| (t.tid, t.modified_ms))
                .collect();
            if open.is_empty() {
                return;
            }
            let (tid, modified) = *rng.pick(&open);
            let gap_s = ((now_ms - modified) / 1000).max(0);
            let mut at = modified + rng.range(0, gap_s / 2) * 1000;
            let kind = *rng.pick(&AfterSaleKind::ALL);
            let Some(id) = self.add_refund(rng, tid, kind, at) else { continue };
            for _ in 0..rng.below(4) {
                let Some(sale) = self.refunds().iter().find(|a| a.id == id) else { break };
                let Some(action) = sale.natural_step(rng) else { break };
                at = (at + rng.range(1, ((now_ms - at) / 4000).max(1)) * 1000).min(now_ms);
                if self.act_on_refund(id, &action, at).is_err() {
                    break;
                }
            }
        }
    }
}

/// The sub-order's `refund_status` and `status`, and the trade's status, after a change to
/// refund `a`: a refund paid closes the sub-order, and a trade whose every sub-order closed
/// is closed.
pub(super) fn sync_trade(t: &mut SimTrade, a: &AfterSale, at_ms: i64) {
    let status = top_status(a);
    for o in &mut t.orders {
        if a.lines.iter().any(|l| l.line_no == o.oid) {
            o.refund_status = Some(status);
            if a.status == AfterSaleStatus::Refunded {
                o.status = TradeStatus::TradeClosed;
            }
        }
    }
    if t.orders.iter().all(|o| o.status == TradeStatus::TradeClosed) && t.status != TradeStatus::TradeClosed {
        t.status = TradeStatus::TradeClosed;
        t.end_time_ms = Some(at_ms);
    }
}
