//! The simulator's ground truth: trades, the item catalog and recorded shipments, as typed
//! values (fen integers, UTC-ms instants) that tests compare canonical output against.

/// A TOP trade status (platforms.md, "Trade status").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TradeStatus {
    TradeNoCreatePay,
    WaitBuyerPay,
    PayPending,
    WaitPreAuthConfirm,
    WaitSellerSendGoods,
    SellerConsignedPart,
    PaidForbidConsign,
    WaitBuyerConfirmGoods,
    TradeBuyerSigned,
    TradeFinished,
    TradeClosed,
    TradeClosedByTaobao,
}

impl TradeStatus {
    pub const ALL: [Self; 12] = [
        Self::TradeNoCreatePay,
        Self::WaitBuyerPay,
        Self::PayPending,
        Self::WaitPreAuthConfirm,
        Self::WaitSellerSendGoods,
        Self::SellerConsignedPart,
        Self::PaidForbidConsign,
        Self::WaitBuyerConfirmGoods,
        Self::TradeBuyerSigned,
        Self::TradeFinished,
        Self::TradeClosed,
        Self::TradeClosedByTaobao,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TradeNoCreatePay => "TRADE_NO_CREATE_PAY",
            Self::WaitBuyerPay => "WAIT_BUYER_PAY",
            Self::PayPending => "PAY_PENDING",
            Self::WaitPreAuthConfirm => "WAIT_PRE_AUTH_CONFIRM",
            Self::WaitSellerSendGoods => "WAIT_SELLER_SEND_GOODS",
            Self::SellerConsignedPart => "SELLER_CONSIGNED_PART",
            Self::PaidForbidConsign => "PAID_FORBID_CONSIGN",
            Self::WaitBuyerConfirmGoods => "WAIT_BUYER_CONFIRM_GOODS",
            Self::TradeBuyerSigned => "TRADE_BUYER_SIGNED",
            Self::TradeFinished => "TRADE_FINISHED",
            Self::TradeClosed => "TRADE_CLOSED",
            Self::TradeClosedByTaobao => "TRADE_CLOSED_BY_TAOBAO",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The canonical order status per the Taobao mapping contract and the canonical model's
    /// rules: `PAID_FORBID_CONSIGN` is held (paid, not shippable); `TRADE_CLOSED` is closed
    /// here, and cancelled when nothing shipped ([`SimTrade::canonical_status`] knows).
    pub fn canonical(self) -> &'static str {
        match self {
            Self::TradeNoCreatePay | Self::WaitBuyerPay | Self::PayPending | Self::WaitPreAuthConfirm => "unpaid",
            Self::WaitSellerSendGoods => "paid",
            Self::PaidForbidConsign => "held",
            Self::SellerConsignedPart => "partially_shipped",
            Self::WaitBuyerConfirmGoods | Self::TradeBuyerSigned => "shipped",
            Self::TradeFinished => "completed",
            Self::TradeClosed => "closed",
            Self::TradeClosedByTaobao => "cancelled",
        }
    }

    /// Whether the buyer has paid (so the trade carries a `pay_time`).
    pub fn is_paid(self) -> bool {
        !matches!(
            self,
            Self::TradeNoCreatePay
                | Self::WaitBuyerPay
                | Self::PayPending
                | Self::WaitPreAuthConfirm
                | Self::TradeClosedByTaobao
        )
    }

    /// Whether goods have left (so the trade carries a `consign_time`).
    pub fn is_consigned(self) -> bool {
        matches!(
            self,
            Self::SellerConsignedPart | Self::WaitBuyerConfirmGoods | Self::TradeBuyerSigned | Self::TradeFinished
        )
    }

    /// Whether the trade is over (so it carries an `end_time`).
    pub fn is_final(self) -> bool {
        matches!(self, Self::TradeFinished | Self::TradeClosed | Self::TradeClosedByTaobao)
    }

    /// Whether `taobao.logistics.offline.send` may ship it.
    pub fn can_ship(self) -> bool {
        matches!(self, Self::WaitSellerSendGoods | Self::SellerConsignedPart)
    }
}

/// A sub-order refund status (platforms.md, "Sub-order").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefundStatus {
    NoRefund,
    WaitSellerAgree,
    WaitBuyerReturnGoods,
    WaitSellerConfirmGoods,
    SellerRefuseBuyer,
    Closed,
    Success,
}

impl RefundStatus {
    pub const ALL: [Self; 7] = [
        Self::NoRefund,
        Self::WaitSellerAgree,
        Self::WaitBuyerReturnGoods,
        Self::WaitSellerConfirmGoods,
        Self::SellerRefuseBuyer,
        Self::Closed,
        Self::Success,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoRefund => "NO_REFUND",
            Self::WaitSellerAgree => "WAIT_SELLER_AGREE",
            Self::WaitBuyerReturnGoods => "WAIT_BUYER_RETURN_GOODS",
            Self::WaitSellerConfirmGoods => "WAIT_SELLER_CONFIRM_GOODS",
            Self::SellerRefuseBuyer => "SELLER_REFUSE_BUYER",
            Self::Closed => "CLOSED",
            Self::Success => "SUCCESS",
        }
    }

    /// The canonical line refund status per the mapping contract.
    pub fn canonical(self) -> &'static str {
        match self {
            Self::NoRefund | Self::Closed | Self::SellerRefuseBuyer => "none",
            Self::WaitSellerAgree | Self::WaitBuyerReturnGoods | Self::WaitSellerConfirmGoods => "requested",
            Self::Success => "refunded",
        }
    }
}

/// The receiver block of a trade, as the platform shows it (masked unless `oaid` is absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimReceiver {
    pub name: String,
    pub mobile: Option<String>,
    pub phone: Option<String>,
    /// `receiver_state`: the province.
    pub state: String,
    pub city: String,
    pub district: String,
    pub town: Option<String>,
    pub address: String,
    pub zip: Option<String>,
}

impl SimReceiver {
    /// The canonical `phone`: mobile, else landline.
    pub fn canonical_phone(&self) -> Option<&str> {
        self.mobile.as_deref().or(self.phone.as_deref())
    }

    fn any_masked(&self) -> bool {
        let fields = [
            Some(self.name.as_str()),
            self.mobile.as_deref(),
            self.phone.as_deref(),
            Some(self.state.as_str()),
            Some(self.city.as_str()),
            Some(self.district.as_str()),
            self.town.as_deref(),
            Some(self.address.as_str()),
            self.zip.as_deref(),
        ];
        fields.into_iter().flatten().any(|v| v.contains('*'))
    }
}

/// Invoice request on a trade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimInvoice {
    /// `invoice_kind`: "1", "2" or "3".
    pub kind: &'static str,
    /// `invoice_name`: the title on the invoice.
    pub name: String,
    /// `invoice_type`: free text describing the invoice type, sometimes absent.
    pub invoice_type: Option<String>,
}

impl SimInvoice {
    /// The canonical invoice kind per the mapping contract ("3" → vat_special is marked UNSURE
    /// there).
    pub fn canonical_kind(&self) -> &'static str {
        match self.kind {
            "1" => "electronic",
            "2" => "paper",
            _ => "vat_special",
        }
    }
}

/// One sub-order (`orders.order[]`). Money in fen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOrder {
    pub oid: u64,
    pub num_iid: u64,
    pub sku_id: Option<u64>,
    pub outer_iid: Option<String>,
    pub outer_sku_id: Option<String>,
    pub title: String,
    pub sku_properties_name: Option<String>,
    pub num: i64,
    pub price: i64,
    /// `price × num`.
    pub total_fee: i64,
    /// Item-level promotion on this line.
    pub discount_fee: i64,
    /// This line's share of the trade's manual price adjustment (may be negative).
    pub adjust_fee: i64,
    /// `total_fee − discount_fee + adjust_fee`: before shop-wide coupons.
    pub payment: i64,
    /// `payment` minus this line's share of shop-wide coupons; absent on "legacy" trades,
    /// which then have no shop-wide coupon (so `payment` is the paid amount).
    pub divide_order_fee: Option<i64>,
    pub status: TradeStatus,
    /// `None`: the field is absent on the wire.
    pub refund_status: Option<RefundStatus>,
}

impl SimOrder {
    pub fn oid_string(&self) -> String {
        self.oid.to_string()
    }

    /// Canonical `line_total`: `divide_order_fee`, else `payment`.
    pub fn line_total(&self) -> i64 {
        self.divide_order_fee.unwrap_or(self.payment)
    }

    /// Canonical line `discount`: `price × num − line_total`.
    pub fn canonical_discount(&self) -> i64 {
        self.price * self.num - self.line_total()
    }

    /// Canonical line refund status.
    pub fn canonical_refund_status(&self) -> &'static str {
        self.refund_status.map_or("none", RefundStatus::canonical)
    }
}

/// One trade. Money in fen; instants in UTC ms (whole seconds, as TOP has no finer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimTrade {
    pub tid: u64,
    pub status: TradeStatus,
    /// `type`, e.g. "fixed".
    pub trade_type: &'static str,
    pub buyer_nick: String,
    pub buyer_open_uid: String,
    pub oaid: Option<String>,
    /// `Σ orders.total_fee`.
    pub total_fee: i64,
    pub post_fee: i64,
    /// Item promotions plus shop-wide coupons.
    pub discount_fee: i64,
    /// Seller's manual adjustment; negative lowers the price.
    pub adjust_fee: i64,
    /// `total_fee + post_fee − discount_fee + adjust_fee`.
    pub payment: i64,
    pub receiver: Option<SimReceiver>,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub pay_time_ms: Option<i64>,
    pub consign_time_ms: Option<i64>,
    pub end_time_ms: Option<i64>,
    pub buyer_message: Option<String>,
    pub seller_memo: Option<String>,
    pub shipping_type: &'static str,
    pub invoice: Option<SimInvoice>,
    pub orders: Vec<SimOrder>,
}

impl SimTrade {
    pub fn tid_string(&self) -> String {
        self.tid.to_string()
    }

    /// Canonical order status.
    pub fn canonical_status(&self) -> &'static str {
        match (self.status, self.consign_time_ms) {
            // Closed before anything shipped (unpaid timeout, cancelled, refunded in full
            // before shipping): cancelled.
            (TradeStatus::TradeClosed, None) => "cancelled",
            (status, _) => status.canonical(),
        }
    }

    /// Canonical order refund status: any line requested → requested; else any refunded →
    /// refunded; else none.
    pub fn canonical_refund_status(&self) -> &'static str {
        let lines: Vec<&str> = self.orders.iter().map(SimOrder::canonical_refund_status).collect();
        if lines.contains(&"requested") {
            "requested"
        } else if lines.contains(&"refunded") {
            "refunded"
        } else {
            "none"
        }
    }

    /// Canonical `discount_total`: `discount_fee − adjust_fee`.
    pub fn discount_total(&self) -> i64 {
        self.discount_fee - self.adjust_fee
    }

    /// Canonical `receiver.masked`: an `oaid` is present or any receiver value contains `*`.
    pub fn receiver_masked(&self) -> bool {
        self.oaid.is_some() || self.receiver.as_ref().is_some_and(SimReceiver::any_masked)
    }

    /// Checks the money identities the generator promises; `Err` names the one that broke.
    pub fn check_money(&self) -> Result<(), String> {
        let goods: i64 = self.orders.iter().map(|o| o.price * o.num).sum();
        if goods != self.total_fee {
            return Err(format!("tid {}: total_fee {} != Σ price×num {goods}", self.tid, self.total_fee));
        }
        let expected = self.total_fee + self.post_fee - self.discount_fee + self.adjust_fee;
        if self.payment != expected {
            return Err(format!("tid {}: payment {} != {expected}", self.tid, self.payment));
        }
        let lines: i64 = self.orders.iter().map(SimOrder::line_total).sum();
        if lines != self.payment - self.post_fee {
            return Err(format!(
                "tid {}: Σ line totals {lines} != payment − post_fee {}",
                self.tid,
                self.payment - self.post_fee
            ));
        }
        for o in &self.orders {
            if o.total_fee != o.price * o.num || o.payment != o.total_fee - o.discount_fee + o.adjust_fee {
                return Err(format!("tid {} oid {}: line fees inconsistent", self.tid, o.oid));
            }
            if o.line_total() < 0 {
                return Err(format!("tid {} oid {}: negative line total", self.tid, o.oid));
            }
        }
        Ok(())
    }
}

/// One SKU of a catalog item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimSku {
    pub sku_id: u64,
    /// `pid:vid;pid:vid`, what `properties` in `taobao.item.sku.price.update` refers to.
    pub properties: String,
    /// `颜色分类:红色;尺码:XL`.
    pub properties_name: String,
    pub outer_id: Option<String>,
    pub price: i64,
    pub quantity: i64,
}

/// A catalog item. `num` is the item's stock: `Σ skus.quantity` when it has SKUs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimItem {
    pub num_iid: u64,
    pub title: String,
    pub outer_id: Option<String>,
    /// The lowest SKU price, or the item's own price when it has no SKUs.
    pub price: i64,
    pub num: i64,
    /// On sale (`approve_status` "onsale") rather than in the warehouse ("instock").
    pub listed: bool,
    pub skus: Vec<SimSku>,
    pub modified_ms: i64,
}

impl SimItem {
    pub fn sku(&self, sku_id: u64) -> Option<&SimSku> {
        self.skus.iter().find(|s| s.sku_id == sku_id)
    }

    pub fn sku_by_outer_id(&self, outer_id: &str) -> Option<&SimSku> {
        self.skus.iter().find(|s| s.outer_id.as_deref() == Some(outer_id))
    }
}

/// A `taobao.logistics.offline.send` the simulator accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimShipment {
    pub tid: u64,
    pub out_sid: String,
    pub company_code: String,
    /// The sub-orders shipped (`sub_tid` with `is_split=1`), or all of them.
    pub oids: Vec<u64>,
    pub at_ms: i64,
}
