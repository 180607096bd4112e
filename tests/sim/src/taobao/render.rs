//! Writes trades as TOP's JSON, only with the fields the caller asked for.
//!
//! Rendering is hand-written into one `String` (no intermediate `serde_json::Value`) because
//! benchmarks pull thousands of trades a second through the simulator; ids are written as
//! raw JSON numbers, which is what TOP does and what a serde `u64` would also do, but this
//! keeps the choice explicit (and switchable to strings).

use super::model::{SimOrder, SimTrade};
use super::wire::Obj;

/// Trade-level fields in the order they are written. Bit `i` of [`FieldSet::trade`] selects
/// `TRADE_FIELDS[i]`.
pub const TRADE_FIELDS: &[&str] = &[
    "tid",
    "status",
    "type",
    "buyer_nick",
    "buyer_open_uid",
    "oaid",
    "payment",
    "post_fee",
    "total_fee",
    "discount_fee",
    "adjust_fee",
    "receiver_name",
    "receiver_mobile",
    "receiver_phone",
    "receiver_state",
    "receiver_city",
    "receiver_district",
    "receiver_town",
    "receiver_address",
    "receiver_zip",
    "created",
    "modified",
    "pay_time",
    "consign_time",
    "end_time",
    "seller_memo",
    "buyer_message",
    "shipping_type",
    "invoice_kind",
    "invoice_name",
    "invoice_type",
];

/// Sub-order fields in the order they are written.
pub const ORDER_FIELDS: &[&str] = &[
    "oid",
    "num_iid",
    "sku_id",
    "outer_iid",
    "outer_sku_id",
    "title",
    "sku_properties_name",
    "num",
    "price",
    "total_fee",
    "discount_fee",
    "adjust_fee",
    "payment",
    "divide_order_fee",
    "status",
    "refund_status",
];

/// Which fields a `fields` parameter selected.
///
/// TOP's `fields` lists trade fields by name and selects sub-orders with `orders` (all their
/// fields) or `orders.<field>` (just those). Unknown names are ignored, as TOP does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSet {
    trade: u64,
    order: u64,
    orders: bool,
}

impl FieldSet {
    pub fn parse(fields: &str) -> Self {
        let mut set = Self { trade: 0, order: 0, orders: false };
        for name in fields.split(',').map(str::trim) {
            if name == "orders" {
                set.orders = true;
                set.order = u64::MAX;
            } else if let Some(sub) = name.strip_prefix("orders.") {
                set.orders = true;
                if let Some(i) = ORDER_FIELDS.iter().position(|f| *f == sub) {
                    set.order |= 1 << i;
                }
            } else if let Some(i) = TRADE_FIELDS.iter().position(|f| *f == name) {
                set.trade |= 1 << i;
            }
        }
        set
    }

    #[cfg(test)]
    pub fn all() -> Self {
        Self { trade: u64::MAX, order: u64::MAX, orders: true }
    }

    pub fn is_empty(&self) -> bool {
        self.trade == 0 && !self.orders
    }
}

/// Replaces one trade field's JSON value with raw text (a malformed-response knob).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldOverride {
    pub field: String,
    pub raw_json: String,
}

/// How ids are written: JSON numbers (TOP's way) or strings.
#[derive(Clone, Copy, Debug)]
pub struct IdStyle {
    pub as_strings: bool,
}

impl IdStyle {
    pub fn write(self, obj: &mut Obj<'_>, name: &str, id: u64) {
        if self.as_strings {
            obj.str(name, &id.to_string());
        } else {
            obj.num(name, id);
        }
    }
}

/// Appends one trade object. `patch` is consumed (set to `None`) if its field is written.
pub fn write_trade(out: &mut String, t: &SimTrade, fields: &FieldSet, ids: IdStyle, patch: &mut Option<FieldOverride>) {
    let mut obj = Obj::open(out);
    let r = t.receiver.as_ref();
    for (i, &name) in TRADE_FIELDS.iter().enumerate() {
        if fields.trade & (1 << i) == 0 {
            continue;
        }
        if patch.as_ref().is_some_and(|p| p.field == name) {
            if let Some(p) = patch.take() {
                obj.raw(name, &p.raw_json);
            }
            continue;
        }
        let opt_str = |obj: &mut Obj<'_>, v: Option<&str>| {
            if let Some(v) = v {
                obj.str(name, v);
            }
        };
        match name {
            "tid" => ids.write(&mut obj, name, t.tid),
            "status" => obj.str(name, t.status.as_str()),
            "type" => obj.str(name, t.trade_type),
            "buyer_nick" => obj.str(name, &t.buyer_nick),
            "buyer_open_uid" => obj.str(name, &t.buyer_open_uid),
            "oaid" => opt_str(&mut obj, t.oaid.as_deref()),
            "payment" => obj.yuan(name, t.payment),
            "post_fee" => obj.yuan(name, t.post_fee),
            "total_fee" => obj.yuan(name, t.total_fee),
            "discount_fee" => obj.yuan(name, t.discount_fee),
            "adjust_fee" => obj.yuan(name, t.adjust_fee),
            "receiver_name" => opt_str(&mut obj, r.map(|r| r.name.as_str())),
            "receiver_mobile" => opt_str(&mut obj, r.and_then(|r| r.mobile.as_deref())),
            "receiver_phone" => opt_str(&mut obj, r.and_then(|r| r.phone.as_deref())),
            "receiver_state" => opt_str(&mut obj, r.map(|r| r.state.as_str())),
            "receiver_city" => opt_str(&mut obj, r.map(|r| r.city.as_str())),
            "receiver_district" => opt_str(&mut obj, r.map(|r| r.district.as_str())),
            "receiver_town" => opt_str(&mut obj, r.and_then(|r| r.town.as_deref())),
            "receiver_address" => opt_str(&mut obj, r.map(|r| r.address.as_str())),
            "receiver_zip" => opt_str(&mut obj, r.and_then(|r| r.zip.as_deref())),
            "created" => obj.time(name, t.created_ms),
            "modified" => obj.time(name, t.modified_ms),
            "pay_time" => {
                if let Some(ms) = t.pay_time_ms {
                    obj.time(name, ms);
                }
            }
            "consign_time" => {
                if let Some(ms) = t.consign_time_ms {
                    obj.time(name, ms);
                }
            }
            "end_time" => {
                if let Some(ms) = t.end_time_ms {
                    obj.time(name, ms);
                }
            }
            "seller_memo" => opt_str(&mut obj, t.seller_memo.as_deref()),
            "buyer_message" => opt_str(&mut obj, t.buyer_message.as_deref()),
            "shipping_type" => obj.str(name, t.shipping_type),
            "invoice_kind" => opt_str(&mut obj, t.invoice.as_ref().map(|i| i.kind)),
            "invoice_name" => opt_str(&mut obj, t.invoice.as_ref().map(|i| i.name.as_str())),
            "invoice_type" => opt_str(&mut obj, t.invoice.as_ref().and_then(|i| i.invoice_type.as_deref())),
            _ => {}
        }
    }
    if fields.orders {
        let out = obj.key("orders");
        out.push_str("{\"order\":[");
        for (i, o) in t.orders.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_order(out, o, fields.order, ids);
        }
        out.push_str("]}");
    }
    obj.close();
}

fn write_order(out: &mut String, o: &SimOrder, mask: u64, ids: IdStyle) {
    let mut obj = Obj::open(out);
    for (i, &name) in ORDER_FIELDS.iter().enumerate() {
        if mask & (1 << i) == 0 {
            continue;
        }
        match name {
            "oid" => ids.write(&mut obj, name, o.oid),
            "num_iid" => ids.write(&mut obj, name, o.num_iid),
            "sku_id" => {
                if let Some(id) = o.sku_id {
                    ids.write(&mut obj, name, id);
                }
            }
            "outer_iid" => {
                if let Some(v) = &o.outer_iid {
                    obj.str(name, v);
                }
            }
            "outer_sku_id" => {
                if let Some(v) = &o.outer_sku_id {
                    obj.str(name, v);
                }
            }
            "title" => obj.str(name, &o.title),
            "sku_properties_name" => {
                if let Some(v) = &o.sku_properties_name {
                    obj.str(name, v);
                }
            }
            "num" => obj.num(name, o.num),
            "price" => obj.yuan(name, o.price),
            "total_fee" => obj.yuan(name, o.total_fee),
            "discount_fee" => obj.yuan(name, o.discount_fee),
            "adjust_fee" => obj.yuan(name, o.adjust_fee),
            "payment" => obj.yuan(name, o.payment),
            "divide_order_fee" => {
                if let Some(v) = o.divide_order_fee {
                    obj.yuan(name, v);
                }
            }
            "status" => obj.str(name, o.status.as_str()),
            "refund_status" => {
                if let Some(r) = o.refund_status {
                    obj.str(name, r.as_str());
                }
            }
            _ => {}
        }
    }
    obj.close();
}

#[cfg(test)]
mod tests {
    use super::super::generate::{GenParams, generate};
    use super::*;

    fn sample() -> SimTrade {
        let g = generate(&GenParams {
            seed: 3,
            orders: 20,
            items: 20,
            now_ms: 1_700_000_000_000,
            modified_span_ms: 86_400_000,
        });
        g.trades.into_iter().find(|t| t.orders.len() > 1 && t.receiver.is_some()).unwrap()
    }

    #[test]
    fn only_requested_fields() {
        let t = sample();
        let mut s = String::new();
        write_trade(&mut s, &t, &FieldSet::parse("tid, modified"), IdStyle { as_strings: false }, &mut None);
        let expected = format!("{{\"tid\":{},\"modified\":\"{}\"}}", t.tid, super::super::wire::gmt8(t.modified_ms));
        assert_eq!(s, expected);
    }

    #[test]
    fn full_trade_parses_and_keeps_big_ids_exact() {
        let t = sample();
        let mut s = String::new();
        write_trade(&mut s, &t, &FieldSet::all(), IdStyle { as_strings: false }, &mut None);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["tid"].as_u64(), Some(t.tid));
        assert_eq!(v["payment"], super::super::wire::yuan(t.payment));
        let orders = v["orders"]["order"].as_array().unwrap();
        assert_eq!(orders.len(), t.orders.len());
        assert_eq!(orders[0]["oid"].as_u64(), Some(t.orders[0].oid));
        assert_eq!(v["receiver_state"], t.receiver.as_ref().unwrap().state);
    }

    #[test]
    fn orders_subfields_and_string_ids() {
        let t = sample();
        let mut s = String::new();
        write_trade(
            &mut s,
            &t,
            &FieldSet::parse("tid,orders.oid,orders.title"),
            IdStyle { as_strings: true },
            &mut None,
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["tid"], t.tid.to_string());
        let o = &v["orders"]["order"][0];
        assert_eq!(o.as_object().unwrap().len(), 2);
        assert_eq!(o["oid"], t.orders[0].oid.to_string());
    }

    #[test]
    fn override_is_written_once() {
        let t = sample();
        let mut s = String::new();
        let mut patch = Some(FieldOverride { field: "payment".into(), raw_json: "\"abc\"".into() });
        write_trade(&mut s, &t, &FieldSet::all(), IdStyle { as_strings: false }, &mut patch);
        assert!(patch.is_none());
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["payment"], "abc");
    }
}
