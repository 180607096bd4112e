//! After-sales (refunds, returns, exchanges…) in no platform's words: what a buyer asked for
//! after paying, and where that request is.
//!
//! One [`AfterSale`] concerns some lines of one order. Its [`AfterSaleKind`] says what the buyer
//! wants and its [`AfterSaleStatus`] where it is; each simulator maps both to its own codes. The
//! life of an after-sale ([`AfterSale::apply`]):
//!
//! ```text
//! money back, no goods (refund before/after shipping, price protection):
//!     requested ─agree→ agreed ─refund paid→ refunded
//! goods back then money (return and refund):
//!     requested ─agree→ awaiting_return ─buyer ships→ returned ─confirm→ refunded
//! goods back, something else out (exchange, repair):
//!     requested ─agree→ awaiting_return ─buyer ships→ returned ─confirm→ closed
//! goods out (reissue):
//!     requested ─agree→ closed
//! any: requested ─refuse→ refused; returned ─refuse→ refused (the goods that came back)
//! buyer withdraws: requested or awaiting_return ─withdraw→ closed
//! ```
//!
//! So `closed` means "over, no money moved": withdrawn by the buyer, or, for the kinds that
//! refund nothing (exchange, repair, reissue), done. [`AfterSale::succeeded`] tells the two
//! apart (a withdrawn after-sale of those kinds is never generated). Every change stamps
//! `updated_ms` (whole seconds, strictly later) and bumps `version`.

use crate::rng::SimRng;

/// What the buyer asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AfterSaleKind {
    /// The order was paid, not shipped: stop the parcel and refund (拦截).
    RefundBeforeShipping,
    /// Shipped, but the buyer wants money back without sending goods back.
    RefundAfterShipping,
    ReturnAndRefund,
    Exchange,
    /// Something was missing: the seller sends it again.
    Reissue,
    /// The price dropped after purchase: part of the line's money back.
    PriceProtection,
    Repair,
}

impl AfterSaleKind {
    pub const ALL: [Self; 7] = [
        Self::RefundBeforeShipping,
        Self::RefundAfterShipping,
        Self::ReturnAndRefund,
        Self::Exchange,
        Self::Reissue,
        Self::PriceProtection,
        Self::Repair,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RefundBeforeShipping => "refund_before_shipping",
            Self::RefundAfterShipping => "refund_after_shipping",
            Self::ReturnAndRefund => "return_and_refund",
            Self::Exchange => "exchange",
            Self::Reissue => "reissue",
            Self::PriceProtection => "price_protection",
            Self::Repair => "repair",
        }
    }

    /// Whether the buyer sends goods back.
    pub fn returns_goods(self) -> bool {
        matches!(self, Self::ReturnAndRefund | Self::Exchange | Self::Repair)
    }

    /// Whether money goes back to the buyer.
    pub fn refunds_money(self) -> bool {
        matches!(
            self,
            Self::RefundBeforeShipping | Self::RefundAfterShipping | Self::ReturnAndRefund | Self::PriceProtection
        )
    }
}

/// Where an after-sale is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AfterSaleStatus {
    Requested,
    /// The seller agreed to refund; the money is on its way.
    Agreed,
    /// The seller agreed; the buyer is to send the goods back.
    AwaitingReturn,
    /// The buyer sent the goods back (the return waybill is known); the seller is to confirm.
    Returned,
    Refunded,
    Refused,
    Closed,
}

impl AfterSaleStatus {
    pub const ALL: [Self; 7] = [
        Self::Requested,
        Self::Agreed,
        Self::AwaitingReturn,
        Self::Returned,
        Self::Refunded,
        Self::Refused,
        Self::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Agreed => "agreed",
            Self::AwaitingReturn => "awaiting_return",
            Self::Returned => "returned",
            Self::Refunded => "refunded",
            Self::Refused => "refused",
            Self::Closed => "closed",
        }
    }

    /// Whether nothing more happens to it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Refunded | Self::Refused | Self::Closed)
    }
}

/// A step in an after-sale's life, by the seller, the buyer or the platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterSaleAction {
    /// The seller agrees (to refund, to take the goods back, to reissue).
    Agree,
    /// The seller refuses the request, or the goods that came back.
    Refuse,
    /// The buyer sends the goods back: (carrier, tracking number).
    BuyerReturns { carrier: String, tracking_no: String },
    /// The seller received the goods back.
    ConfirmReturn,
    /// The platform paid the agreed refund out.
    RefundPaid,
    /// The buyer withdraws the request.
    Withdraw,
}

impl AfterSaleAction {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Agree => "agree",
            Self::Refuse => "refuse",
            Self::BuyerReturns { .. } => "buyer_returns",
            Self::ConfirmReturn => "confirm_return",
            Self::RefundPaid => "refund_paid",
            Self::Withdraw => "withdraw",
        }
    }
}

/// An action a seller took through the platform's API, as the simulator recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SellerAction {
    pub after_sale_id: u64,
    pub action: AfterSaleAction,
    /// The reason given (refusals need one on most platforms).
    pub reason: Option<String>,
    pub at_ms: i64,
}

/// One line an after-sale concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AfterSaleLine {
    /// The line's (sub-order's) number: [`super::Line::line_no`], Taobao's `oid`.
    pub line_no: u64,
    /// The platform's SKU number (0 when the line has none).
    pub sku_no: u64,
    /// The merchant's SKU code.
    pub outer_sku_id: String,
    pub quantity: i64,
    /// Fen refunded for this line (0 for kinds that refund nothing).
    pub refund: i64,
}

/// One after-sale. Money in fen, instants in UTC ms (whole seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AfterSale {
    /// Unique in the shop; simulators format it.
    pub id: u64,
    pub order_no: u64,
    pub lines: Vec<AfterSaleLine>,
    pub kind: AfterSaleKind,
    pub status: AfterSaleStatus,
    /// Goods money refunded: Σ lines' `refund`; never more than was paid for them.
    pub refund_amount: i64,
    /// Shipping refunded (only when a refund before shipping covers the whole order).
    pub shipping_refund: i64,
    pub reason: String,
    /// The buyer's return parcel (carrier, tracking number), once sent.
    pub return_waybill: Option<(String, String)>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// 1 when created; grows by one with each change.
    pub version: u64,
}

/// The first after-sale id: 19 digits like 抖店's, and within `u64`.
pub const FIRST_AFTER_SALE_NO: u64 = 7_100_000_000_000_000_000;

/// Reasons a buyer gives, per kind.
pub fn reasons(kind: AfterSaleKind) -> &'static [&'static str] {
    match kind {
        AfterSaleKind::RefundBeforeShipping => &["不想要了", "拍错了/订单信息有误", "地址填写错误", "未按约定时间发货"],
        AfterSaleKind::RefundAfterShipping => &["快递一直未送达", "少件/漏发", "商品破损"],
        AfterSaleKind::ReturnAndRefund => &["七天无理由退货", "质量问题", "商品与描述不符", "尺码不合适"],
        AfterSaleKind::Exchange => &["尺码不合适", "颜色/款式与描述不符"],
        AfterSaleKind::Reissue => &["少件/漏发", "配件缺失"],
        AfterSaleKind::PriceProtection => &["商品降价"],
        AfterSaleKind::Repair => &["质量问题", "使用后出现故障"],
    }
}

/// Return carriers a buyer uses, as (display name, code prefix of the tracking number).
pub const RETURN_CARRIERS: &[(&str, &str)] =
    &[("中通快递", "ZT"), ("圆通速递", "YT"), ("顺丰速运", "SF"), ("韵达快递", "YD"), ("申通快递", "ST")];

/// A return waybill drawn from `rng`.
pub fn draw_return_waybill(rng: &mut SimRng) -> (String, String) {
    let (name, prefix) = *rng.pick(RETURN_CARRIERS);
    (name.to_owned(), format!("{prefix}{:012}", rng.below(1_000_000_000_000)))
}

/// Why an action was refused: the status does not allow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotAllowed {
    pub action: &'static str,
    pub status: AfterSaleStatus,
    pub kind: AfterSaleKind,
}

impl std::fmt::Display for NotAllowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is not allowed on a {} after-sale that is {}",
            self.action,
            self.kind.as_str(),
            self.status.as_str()
        )
    }
}

impl AfterSale {
    /// Whether the after-sale is over and the buyer got what they asked for.
    pub fn succeeded(&self) -> bool {
        match self.status {
            AfterSaleStatus::Refunded => true,
            AfterSaleStatus::Closed => !self.kind.refunds_money(),
            _ => false,
        }
    }

    /// Money back to the buyer in all: goods and shipping.
    pub fn refund_total(&self) -> i64 {
        self.refund_amount + self.shipping_refund
    }

    /// The status `action` leads to, or why it is not allowed.
    pub fn next_status(&self, action: &AfterSaleAction) -> Result<AfterSaleStatus, NotAllowed> {
        use AfterSaleStatus::*;
        let kind = self.kind;
        let next = match (action, self.status) {
            (AfterSaleAction::Agree, Requested) if kind == AfterSaleKind::Reissue => Some(Closed),
            (AfterSaleAction::Agree, Requested) if kind.returns_goods() => Some(AwaitingReturn),
            (AfterSaleAction::Agree, Requested) => Some(Agreed),
            (AfterSaleAction::Refuse, Requested | Returned) => Some(Refused),
            (AfterSaleAction::BuyerReturns { .. }, AwaitingReturn) => Some(Returned),
            (AfterSaleAction::ConfirmReturn, Returned) if kind.refunds_money() => Some(Refunded),
            (AfterSaleAction::ConfirmReturn, Returned) => Some(Closed),
            (AfterSaleAction::RefundPaid, Agreed) => Some(Refunded),
            (AfterSaleAction::Withdraw, Requested | AwaitingReturn) => Some(Closed),
            _ => None,
        };
        next.ok_or(NotAllowed { action: action.name(), status: self.status, kind })
    }

    /// Takes `action` at `now_ms`: the new status, `updated_ms` (whole seconds, strictly later)
    /// and `version`; the return waybill when the buyer ships.
    pub fn apply(&mut self, action: &AfterSaleAction, now_ms: i64) -> Result<(), NotAllowed> {
        let next = self.next_status(action)?;
        self.status = next;
        if let AfterSaleAction::BuyerReturns { carrier, tracking_no } = action {
            self.return_waybill = Some((carrier.clone(), tracking_no.clone()));
        }
        self.updated_ms = (now_ms / 1000 * 1000).max(self.updated_ms + 1000);
        self.version += 1;
        Ok(())
    }

    /// The step the buyer, the platform or the seller at the platform's console takes next, if
    /// any: what live traffic does to an open after-sale. A request is agreed, or (one in five,
    /// for money refunded after shipping) withdrawn; an agreed refund is paid; a return is sent
    /// back with a waybill from `rng`; returned goods are confirmed.
    pub fn natural_step(&self, rng: &mut SimRng) -> Option<AfterSaleAction> {
        Some(match self.status {
            AfterSaleStatus::Requested
                if matches!(self.kind, AfterSaleKind::RefundAfterShipping | AfterSaleKind::ReturnAndRefund)
                    && rng.percent(20) =>
            {
                AfterSaleAction::Withdraw
            }
            AfterSaleStatus::Requested => AfterSaleAction::Agree,
            AfterSaleStatus::Agreed => AfterSaleAction::RefundPaid,
            AfterSaleStatus::AwaitingReturn => {
                let (carrier, tracking_no) = draw_return_waybill(rng);
                AfterSaleAction::BuyerReturns { carrier, tracking_no }
            }
            AfterSaleStatus::Returned => AfterSaleAction::ConfirmReturn,
            AfterSaleStatus::Refunded | AfterSaleStatus::Refused | AfterSaleStatus::Closed => return None,
        })
    }
}

/// A line that may be part of a new after-sale: its number, SKU, quantity and what was paid
/// for it (fen), as the platform's own model has them.
#[derive(Clone, Debug)]
pub struct Claimable {
    pub line_no: u64,
    pub sku_no: u64,
    pub outer_sku_id: String,
    pub quantity: i64,
    pub paid: i64,
}

/// What a new after-sale is, before its lines are drawn.
#[derive(Clone, Copy, Debug)]
pub struct NewAfterSale {
    pub id: u64,
    pub order_no: u64,
    pub kind: AfterSaleKind,
    /// The order's shipping fee (fen), refunded with a whole-order refund before shipping.
    pub shipping_fee: i64,
    pub created_ms: i64,
}

/// Builds a new after-sale of `kind` on some of `lines` (all of them for a refund before
/// shipping, which also refunds `shipping_fee`; otherwise one line picked by `rng`, some of its
/// quantity), created at `created_ms` (whole seconds). `claimed(line_no)` is what open or
/// successful after-sales already take from a line (fen); a line with nothing left is not
/// picked, and `None` comes back when no line is left.
pub fn draw_after_sale(
    rng: &mut SimRng,
    new: NewAfterSale,
    lines: &[Claimable],
    claimed: impl Fn(u64) -> i64,
) -> Option<AfterSale> {
    let NewAfterSale { id, order_no, kind, shipping_fee, created_ms } = new;
    let open: Vec<&Claimable> =
        lines.iter().filter(|l| l.paid - claimed(l.line_no) > 0 || !kind.refunds_money()).collect();
    if open.is_empty() {
        return None;
    }
    let whole_order = kind == AfterSaleKind::RefundBeforeShipping;
    let picked: Vec<&Claimable> = if whole_order { open.clone() } else { vec![*rng.pick(&open)] };
    let mut out = Vec::with_capacity(picked.len());
    for l in picked {
        let left = (l.paid - claimed(l.line_no)).max(0);
        let quantity = if whole_order { l.quantity } else { rng.range(1, l.quantity.max(1)) };
        let refund = match kind {
            AfterSaleKind::Exchange | AfterSaleKind::Reissue | AfterSaleKind::Repair => 0,
            // A tenth of what was paid for the units, at least a fen.
            AfterSaleKind::PriceProtection => (l.paid * quantity / l.quantity.max(1) / 10).max(1),
            _ => l.paid * quantity / l.quantity.max(1),
        }
        .min(left);
        out.push(AfterSaleLine {
            line_no: l.line_no,
            sku_no: l.sku_no,
            outer_sku_id: l.outer_sku_id.clone(),
            quantity,
            refund,
        });
    }
    let all_lines = whole_order && out.len() == lines.len() && out.iter().zip(lines).all(|(a, l)| a.refund == l.paid);
    let created_ms = created_ms / 1000 * 1000;
    Some(AfterSale {
        id,
        order_no,
        refund_amount: out.iter().map(|l| l.refund).sum(),
        lines: out,
        kind,
        status: AfterSaleStatus::Requested,
        shipping_refund: if all_lines { shipping_fee } else { 0 },
        reason: (*rng.pick(reasons(kind))).to_owned(),
        return_waybill: None,
        created_ms,
        updated_ms: created_ms,
        version: 1,
    })
}

/// The kind an after-sale on an order really is: a refund before shipping when nothing was
/// shipped, and not that when something was.
pub fn fit_kind(kind: AfterSaleKind, shipped: bool) -> AfterSaleKind {
    match (kind, shipped) {
        (_, false) => AfterSaleKind::RefundBeforeShipping,
        (AfterSaleKind::RefundBeforeShipping, true) => AfterSaleKind::RefundAfterShipping,
        (kind, true) => kind,
    }
}

/// What open or successful after-sales in `after_sales` take from line `line_no` (fen).
pub fn claimed_on(after_sales: &[AfterSale], line_no: u64) -> i64 {
    after_sales
        .iter()
        .filter(|a| !matches!(a.status, AfterSaleStatus::Refused | AfterSaleStatus::Closed))
        .flat_map(|a| &a.lines)
        .filter(|l| l.line_no == line_no)
        .map(|l| l.refund)
        .sum()
}

/// The next id after every id in `after_sales`, a seeded stride apart.
pub fn next_id(after_sales: &[AfterSale], rng: &mut SimRng) -> u64 {
    after_sales.iter().map(|a| a.id).max().unwrap_or(FIRST_AFTER_SALE_NO) + 1 + rng.below(97)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(kind: AfterSaleKind, shipping_fee: i64, created_ms: i64) -> NewAfterSale {
        NewAfterSale { id: 1, order_no: 1, kind, shipping_fee, created_ms }
    }

    fn sale(kind: AfterSaleKind) -> AfterSale {
        let lines = [Claimable { line_no: 11, sku_no: 5, outer_sku_id: "A".into(), quantity: 3, paid: 300 }];
        draw_after_sale(&mut SimRng::new(1), new(kind, 800, 10_500), &lines, |_| 0).unwrap()
    }

    #[test]
    fn lifecycles() {
        let mut a = sale(AfterSaleKind::ReturnAndRefund);
        assert_eq!((a.status, a.version, a.updated_ms), (AfterSaleStatus::Requested, 1, 10_000));
        assert!(a.refund_amount <= 300 && a.refund_amount > 0 && a.shipping_refund == 0);
        assert!(a.apply(&AfterSaleAction::ConfirmReturn, 20_000).is_err());
        a.apply(&AfterSaleAction::Agree, 10_000).unwrap();
        assert_eq!((a.status, a.version, a.updated_ms), (AfterSaleStatus::AwaitingReturn, 2, 11_000));
        let ship = AfterSaleAction::BuyerReturns { carrier: "中通快递".into(), tracking_no: "ZT1".into() };
        a.apply(&ship, 50_000).unwrap();
        assert_eq!(a.return_waybill, Some(("中通快递".into(), "ZT1".into())));
        a.apply(&AfterSaleAction::ConfirmReturn, 60_000).unwrap();
        assert_eq!((a.status, a.version), (AfterSaleStatus::Refunded, 4));
        assert!(a.succeeded() && a.status.is_final());

        let mut r = sale(AfterSaleKind::RefundBeforeShipping);
        assert_eq!((r.refund_amount, r.shipping_refund, r.lines[0].quantity), (300, 800, 3), "the whole order");
        r.apply(&AfterSaleAction::Agree, 0).unwrap();
        r.apply(&AfterSaleAction::RefundPaid, 0).unwrap();
        assert_eq!(r.status, AfterSaleStatus::Refunded);

        let mut x = sale(AfterSaleKind::Exchange);
        assert_eq!(x.refund_amount, 0);
        x.apply(&AfterSaleAction::Refuse, 0).unwrap();
        assert!(!x.succeeded());
        let mut re = sale(AfterSaleKind::Reissue);
        re.apply(&AfterSaleAction::Agree, 0).unwrap();
        assert!(re.succeeded() && re.status == AfterSaleStatus::Closed);
    }

    #[test]
    fn amounts_never_exceed_what_is_left() {
        let lines = [Claimable { line_no: 11, sku_no: 5, outer_sku_id: "A".into(), quantity: 2, paid: 300 }];
        let a = draw_after_sale(&mut SimRng::new(2), new(AfterSaleKind::RefundAfterShipping, 0, 0), &lines, |_| 250)
            .unwrap();
        assert!(a.refund_amount <= 50);
        assert!(
            draw_after_sale(&mut SimRng::new(2), new(AfterSaleKind::ReturnAndRefund, 0, 0), &lines, |_| 300).is_none()
        );
        assert_eq!(fit_kind(AfterSaleKind::Exchange, false), AfterSaleKind::RefundBeforeShipping);
        assert_eq!(fit_kind(AfterSaleKind::RefundBeforeShipping, true), AfterSaleKind::RefundAfterShipping);
    }
}
