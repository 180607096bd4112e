//! The shop's mutable state: trades indexed by id and by `modified`, the item catalog and the
//! shipments received.

use std::collections::{BTreeSet, HashMap};

use super::error::TopError;
use super::generate::Generated;
use super::model::{RefundStatus, SimItem, SimShipment, SimTrade, TradeStatus};
use crate::raw::RawOrder;
use crate::rng::SimRng;
use crate::shop::{AfterSale, AfterSaleError, SellerAction, UploadedInvoice};

const SECOND_MS: i64 = 1000;

/// Carrier codes `taobao.logistics.offline.send` accepts. UNSURE: TOP's real list is longer
/// and comes from `taobao.logistics.companies.get`; these are the common ones.
pub const CARRIER_CODES: &[&str] = &[
    "POST", "EMS", "EYB", "SF", "STO", "YTO", "ZTO", "YUNDA", "HTKY", "ZJS", "TTKDEX", "DBL", "JD", "QFKD", "UC",
    "GTO", "FAST", "BEST", "JTSD", "DBKD", "OTHER",
];

/// Sub codes of the shipping errors. UNSURE: TOP returns codes of the form
/// `isv.logistics-offline-service-error:<Bxx>`; which `Bxx` means what is not public.
pub const SUB_CODE_NOT_SHIPPABLE: &str = "isv.logistics-offline-service-error:B04";
pub const SUB_CODE_BAD_CARRIER: &str = "isv.logistics-offline-service-error:B60";

pub struct State {
    trades: Vec<SimTrade>,
    by_tid: HashMap<u64, usize>,
    /// `(modified_ms, tid)` of every trade; iterated in reverse for "newest first".
    by_modified: BTreeSet<(i64, u64)>,
    items: Vec<SimItem>,
    by_num_iid: HashMap<u64, usize>,
    shipments: Vec<SimShipment>,
    /// Picks the trades `change_orders` touches; separate from the generator's stream.
    change_rng: SimRng,
    /// Trade documents served as given beside the shop ([`crate::raw`]).
    pub raw: Vec<RawOrder>,
    /// Refunds, in the order opened ([`super::refunds`]).
    refunds: Vec<AfterSale>,
    /// Draws new refunds and their steps; separate from the other streams.
    pub after_sale_rng: SimRng,
    /// Every refund action taken through the API, in order.
    pub seller_actions: Vec<SellerAction>,
    /// Every `taobao.top.oaid.decrypt` call, in order.
    pub decrypt_calls: Vec<crate::privacy::DecryptCall>,
    /// Every invoice `alibaba.einvoice.core.inv.upload` accepted, in order.
    pub invoices: Vec<UploadedInvoice>,
}

impl State {
    pub fn new(g: Generated, change_rng: SimRng) -> Self {
        let by_tid = g.trades.iter().enumerate().map(|(i, t)| (t.tid, i)).collect();
        let by_modified = g.trades.iter().map(|t| (t.modified_ms, t.tid)).collect();
        let by_num_iid = g.items.iter().enumerate().map(|(i, it)| (it.num_iid, i)).collect();
        Self {
            trades: g.trades,
            by_tid,
            by_modified,
            items: g.items,
            by_num_iid,
            shipments: Vec::new(),
            change_rng,
            raw: Vec::new(),
            refunds: Vec::new(),
            after_sale_rng: SimRng::new(0),
            seller_actions: Vec::new(),
            decrypt_calls: Vec::new(),
            invoices: Vec::new(),
        }
    }

    pub fn refunds(&self) -> &[AfterSale] {
        &self.refunds
    }

    /// Adds a new refund, opened at `at_ms`, and reflects it on its trade.
    pub fn push_refund(&mut self, sale: AfterSale, at_ms: i64) {
        let (tid, id) = (sale.order_no, sale.id);
        self.refunds.push(sale);
        self.sync_refund(tid, id, at_ms);
    }

    /// Changes refund `id` with `change` and reflects it on its trade; the refund as it is now.
    pub fn update_refund(
        &mut self,
        id: u64,
        change: impl FnOnce(&mut AfterSale) -> Result<(), AfterSaleError>,
    ) -> Result<AfterSale, AfterSaleError> {
        let i = self.refunds.iter().position(|a| a.id == id).ok_or(AfterSaleError::NotFound(id))?;
        change(&mut self.refunds[i])?;
        let (tid, at) = (self.refunds[i].order_no, self.refunds[i].updated_ms);
        self.sync_refund(tid, id, at);
        Ok(self.refunds[i].clone())
    }

    fn sync_refund(&mut self, tid: u64, id: u64, at_ms: i64) {
        let (Some(&index), Some(sale)) = (self.by_tid.get(&tid), self.refunds.iter().find(|a| a.id == id).cloned())
        else {
            return;
        };
        self.touch(index, at_ms, |t, at| super::refunds::sync_trade(t, &sale, at));
    }

    pub fn trade(&self, tid: u64) -> Option<&SimTrade> {
        self.by_tid.get(&tid).map(|&i| &self.trades[i])
    }

    /// All trades, newest `modified` first (ties: larger tid first).
    pub fn trades_newest_first(&self) -> impl Iterator<Item = &SimTrade> {
        self.by_modified.iter().rev().filter_map(|&(_, tid)| self.trade(tid))
    }

    /// Trades with `from_ms <= modified <= to_ms`, newest first.
    pub fn modified_between(&self, from_ms: i64, to_ms: i64) -> impl Iterator<Item = &SimTrade> {
        let range = if from_ms <= to_ms {
            self.by_modified.range((from_ms, 0)..=(to_ms, u64::MAX))
        } else {
            self.by_modified.range((0, 1)..(0, 1))
        };
        range.rev().filter_map(|&(_, tid)| self.trade(tid))
    }

    pub fn item(&self, num_iid: u64) -> Option<&SimItem> {
        self.by_num_iid.get(&num_iid).map(|&i| &self.items[i])
    }

    pub fn item_mut(&mut self, num_iid: u64) -> Option<&mut SimItem> {
        self.by_num_iid.get(&num_iid).map(|&i| &mut self.items[i])
    }

    pub fn items(&self) -> &[SimItem] {
        &self.items
    }

    pub fn shipments(&self) -> &[SimShipment] {
        &self.shipments
    }

    /// Every trade and sub-order id in the shop, so a new trade draws fresh ones.
    pub fn trade_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.trades.iter().flat_map(|t| std::iter::once(t.tid).chain(t.orders.iter().map(|o| o.oid)))
    }

    /// Adds a new trade (its tid must be new).
    pub fn insert_trade(&mut self, t: SimTrade) {
        self.by_tid.insert(t.tid, self.trades.len());
        self.by_modified.insert((t.modified_ms, t.tid));
        self.trades.push(t);
    }

    /// Applies `change` to a trade and moves it to `modified = max(now, old)` (seconds).
    fn touch(&mut self, index: usize, now_ms: i64, change: impl FnOnce(&mut SimTrade, i64)) {
        let now_ms = now_ms.div_euclid(SECOND_MS) * SECOND_MS;
        let t = &mut self.trades[index];
        self.by_modified.remove(&(t.modified_ms, t.tid));
        let modified = now_ms.max(t.modified_ms);
        change(t, modified);
        t.modified_ms = modified;
        self.by_modified.insert((t.modified_ms, t.tid));
    }

    /// Moves `k` trades one step along their lifecycle with `modified = now`, preferring
    /// trades that are not over yet; a finished or closed trade cannot move, so when there are
    /// not enough open ones it gets a new `seller_memo` instead. Returns the tids touched.
    pub fn change_orders(&mut self, k: usize, now_ms: i64) -> Vec<u64> {
        let mut order: Vec<usize> = (0..self.trades.len()).collect();
        // Fisher–Yates with the change stream, then open trades first (stable).
        for i in (1..order.len()).rev() {
            let j = self.change_rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        order.sort_by_key(|&i| self.trades[i].status.is_final());
        let memo_n = self.change_rng.below(1000);
        let mut touched = Vec::with_capacity(k.min(order.len()));
        for &i in order.iter().take(k) {
            self.touch(i, now_ms, |t, at| match next_status(t.status) {
                Some(next) => advance(t, next, at),
                None => t.seller_memo = Some(format!("售后跟进 #{memo_n}")),
            });
            touched.push(self.trades[i].tid);
        }
        touched
    }

    /// Moves the trade modified longest ago one step along its lifecycle (a new
    /// `seller_memo` when it is over) with `modified = now`; its tid.
    pub fn change_oldest(&mut self, now_ms: i64) -> Option<u64> {
        let &(_, tid) = self.by_modified.iter().next()?;
        let index = *self.by_tid.get(&tid)?;
        self.touch(index, now_ms, |t, at| match next_status(t.status) {
            Some(next) => advance(t, next, at),
            None => t.seller_memo = Some("售后跟进".to_owned()),
        });
        Some(tid)
    }

    /// `taobao.logistics.offline.send`: ships all lines, or `oids` of them when split.
    pub fn ship(
        &mut self,
        tid: u64,
        out_sid: &str,
        company_code: &str,
        oids: Option<&[u64]>,
        now_ms: i64,
    ) -> Result<(), TopError> {
        let &index = self
            .by_tid
            .get(&tid)
            .ok_or_else(|| TopError::remote("isv.trade-not-exist", format!("交易不存在: tid {tid}")))?;
        if !CARRIER_CODES.contains(&company_code) {
            return Err(TopError::remote(SUB_CODE_BAD_CARRIER, format!("物流公司编码不存在: {company_code}")));
        }
        let t = &self.trades[index];
        if !t.status.can_ship() {
            return Err(TopError::remote(SUB_CODE_NOT_SHIPPABLE, format!("订单状态 {} 不允许发货", t.status.as_str())));
        }
        if let Some(oids) = oids
            && let Some(bad) = oids.iter().find(|o| !t.orders.iter().any(|l| l.oid == **o))
        {
            return Err(TopError::invalid("sub_tid", format!("{bad} is not a sub-order of tid {tid}")));
        }
        let shipped: Vec<u64> = match oids {
            Some(o) => o.to_vec(),
            None => t.orders.iter().map(|l| l.oid).collect(),
        };
        self.touch(index, now_ms, |t, at| {
            for l in &mut t.orders {
                if shipped.contains(&l.oid) && l.status != TradeStatus::TradeClosed {
                    l.status = TradeStatus::WaitBuyerConfirmGoods;
                }
            }
            let waiting = t.orders.iter().any(|l| l.status == TradeStatus::WaitSellerSendGoods);
            t.status = if waiting { TradeStatus::SellerConsignedPart } else { TradeStatus::WaitBuyerConfirmGoods };
            t.consign_time_ms.get_or_insert(at);
        });
        let at_ms = self.trades[index].modified_ms;
        self.shipments.push(SimShipment {
            tid,
            out_sid: out_sid.to_string(),
            company_code: company_code.to_string(),
            oids: shipped,
            at_ms,
        });
        Ok(())
    }
}

/// The next status a trade moves to by itself (buyer pays, seller ships, buyer confirms).
fn next_status(s: TradeStatus) -> Option<TradeStatus> {
    use TradeStatus::*;
    match s {
        TradeNoCreatePay => Some(WaitBuyerPay),
        WaitBuyerPay | PayPending | WaitPreAuthConfirm | PaidForbidConsign => Some(WaitSellerSendGoods),
        WaitSellerSendGoods | SellerConsignedPart => Some(WaitBuyerConfirmGoods),
        WaitBuyerConfirmGoods | TradeBuyerSigned => Some(TradeFinished),
        TradeFinished | TradeClosed | TradeClosedByTaobao => None,
    }
}

fn advance(t: &mut SimTrade, next: TradeStatus, at: i64) {
    t.status = next;
    for l in &mut t.orders {
        if l.status != TradeStatus::TradeClosed {
            l.status = next;
        }
        if next == TradeStatus::TradeFinished
            && matches!(
                l.refund_status,
                Some(
                    RefundStatus::WaitSellerAgree
                        | RefundStatus::WaitBuyerReturnGoods
                        | RefundStatus::WaitSellerConfirmGoods
                )
            )
        {
            // A trade only finishes once its open refunds are settled.
            l.refund_status = Some(RefundStatus::Closed);
        }
    }
    if next.is_paid() {
        t.pay_time_ms.get_or_insert(at);
    }
    if next.is_consigned() {
        t.consign_time_ms.get_or_insert(at);
    }
    if next.is_final() {
        t.end_time_ms = Some(at);
    }
}

#[cfg(test)]
mod tests {
    use super::super::generate::{GenParams, generate};
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn state(orders: usize) -> State {
        let g = generate(&GenParams { seed: 5, orders, items: 30, now_ms: NOW, modified_span_ms: 3 * 86_400_000 });
        State::new(g, SimRng::new(99))
    }

    #[test]
    fn window_is_inclusive_and_newest_first() {
        let s = state(300);
        let all: Vec<&SimTrade> = s.trades_newest_first().collect();
        assert_eq!(all.len(), 300);
        assert!(all.windows(2).all(|w| w[0].modified_ms >= w[1].modified_ms));
        let pivot = all[100].modified_ms;
        let got: Vec<u64> = s.modified_between(pivot, pivot).map(|t| t.tid).collect();
        assert!(got.contains(&all[100].tid));
        assert_eq!(s.modified_between(pivot + 1, pivot).count(), 0);
    }

    #[test]
    fn change_orders_moves_status_and_modified() {
        let mut s = state(100);
        let before: HashMap<u64, TradeStatus> = s.trades.iter().map(|t| (t.tid, t.status)).collect();
        let now = NOW + 60_500;
        let tids = s.change_orders(10, now);
        assert_eq!(tids.len(), 10);
        for tid in &tids {
            let t = s.trade(*tid).unwrap();
            assert_eq!(t.modified_ms, NOW + 60_000);
            assert_ne!(t.status, before[tid]);
            t.check_money().unwrap();
        }
        assert_eq!(s.modified_between(NOW + 60_000, NOW + 60_000).count(), 10);
    }

    #[test]
    fn ship_checks_status_and_carrier() {
        let mut s = state(50);
        let tid = s.trades.iter().find(|t| t.status == TradeStatus::WaitSellerSendGoods).unwrap().tid;
        assert_eq!(
            s.ship(tid, "SF123", "NOPE", None, NOW).unwrap_err().sub_code.as_deref(),
            Some(SUB_CODE_BAD_CARRIER)
        );
        s.ship(tid, "SF123", "SF", None, NOW + 5000).unwrap();
        let t = s.trade(tid).unwrap();
        assert_eq!(t.status, TradeStatus::WaitBuyerConfirmGoods);
        assert_eq!(t.consign_time_ms, Some(NOW + 5000));
        assert_eq!(s.shipments().len(), 1);
        let again = s.ship(tid, "SF123", "SF", None, NOW).unwrap_err();
        assert_eq!(again.sub_code.as_deref(), Some(SUB_CODE_NOT_SHIPPABLE));
        assert_eq!(s.ship(1, "x", "SF", None, NOW).unwrap_err().code, 15);
    }
}
