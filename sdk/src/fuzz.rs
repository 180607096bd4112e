//! Fuzzing a plugin's mapping with mutated real-shaped answers (feature `fuzz`, for plugins'
//! dev tests).
//!
//! Earlier fuzzing found plugins reading garbage as data: `orderPayment:"-797.49"` became a
//! paid total of −79,749 fen, `1e5` read as 100,000 yuan, orders without lines passed, and
//! `consigneeInfo:"abc"` read as "no receiver". This module keeps that from coming back:
//! [`mutations`] turns one real-shaped answer into many, each with one labelled mutation (a
//! JSON path and a kind: a wrong type, a negative amount, a zero quantity, an exponent, extra
//! decimals, an empty string, a removed key, an empty array, a huge number, non-ASCII junk,
//! control characters; or a whole body that is not the answer: HTML, empty, cut off), and
//! [`check`] holds the plugin's mapping of each to the oracle:
//!
//! - it never panics;
//! - a body that is not the platform's answer is `transient`;
//! - a mutation that makes a field the mapping reads invalid for the model is a typed error
//!   (`invalid_input` or a rejected record) whose field names the mutated key;
//! - anything else maps to records that keep the canonical invariants ([`Record::invariants`])
//!   and differ from the unmutated baseline only in the canonical fields the mutated key maps
//!   to ([`Field::maps_to`]), faithfully (new text shows up verbatim).
//!
//! What a key means (an amount, a quantity, an id, free text…) and where it maps is the plugin's
//! table of [`Field`]s; a key the table does not name is taken as unread, so any change it
//! causes is a failure. The generator is a fixed-seed PRNG, so a run is reproducible and a
//! failure's label is enough to replay it.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Map, Value};

use crate::reject::Mapped;
use crate::types::{ConnectorError, Order, PriceKind, PriceUpdate, StockUpdate};

/// The seed plugins' fuzz tests use: any fixed value makes runs reproducible; this one is the
/// issue's number and the project's name in ASCII.
pub const SEED: u64 = 0x0C_5768_6172_6600;

/// How many mutations a plugin's fuzz test runs: enough to cover every (path, kind) of a
/// real-shaped answer several times over with different junk, small enough to stay within a
/// few seconds in a debug build.
pub const BUDGET: usize = 2_000;

/// Share of the budget spent on whole-body mutations (HTML, empty, cut off), in percent.
const WHOLE_BODY_PERCENT: usize = 3;

/// Text put in place of a value whose raw JSON (an exponent literal, an integer beyond 64 bits)
/// `serde_json` cannot hold; replaced in the serialized body.
const RAW_MARKER: &str = "\u{1}wharf-fuzz-raw\u{1}";

/// Set (to anything) to print every mutation's label and verdict.
pub const VERBOSE_VAR: &str = "WHARF_FUZZ_VERBOSE";

/// How many failures a report quotes in full.
const MAX_QUOTED_FAILURES: usize = 40;

/// splitmix64: small, fast, and the same sequence on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// `a.b[2].c`.
pub fn display_path(path: &[Step]) -> String {
    join(path, |i| i.to_string())
}

/// `a.b[].c`: the path with its indices dropped, what [`Field`] patterns match.
pub fn pattern_of(path: &[Step]) -> String {
    join(path, |_| String::new())
}

fn join(path: &[Step], index: impl Fn(usize) -> String) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{}]", index(*i))),
        }
    }
    out
}

/// The JSON types a wrong-type mutation puts in a value's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Number,
    Object,
    Array,
    Null,
    Bool,
}

/// What a mutation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The value replaced by one of another JSON type.
    WrongType(Type),
    /// A number or numeric string made negative.
    Negative,
    /// A number or numeric string made 0.
    Zero,
    /// The JSON number literal `1e5` in place of the value.
    Exponent,
    /// The string `"1e5"` in place of a numeric value.
    ExponentString,
    /// A JSON number with a fraction (`2.5`) in place of an integer or decimal.
    Float,
    /// More decimals than the value had, not all zero (`"59.951"`).
    ExtraDecimals,
    EmptyString,
    RemovedKey,
    EmptyArray,
    /// A number too big for what it counts (beyond 64 bits, or just fitting).
    Huge,
    /// Non-ASCII text in place of, or after, a string.
    Junk,
    /// Control characters in a string.
    Control,
    /// The whole body an HTML error page.
    Html,
    /// The whole body empty.
    EmptyBody,
    /// The whole body cut off.
    Truncated,
}

impl Kind {
    /// Mutations of the whole body rather than of one value.
    pub fn is_whole_body(self) -> bool {
        matches!(self, Kind::Html | Kind::EmptyBody | Kind::Truncated)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::WrongType(t) => write!(f, "wrong type ({t:?})"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// One mutated answer.
#[derive(Debug, Clone)]
pub struct Mutation {
    /// Where: empty for whole-body mutations and for the document root.
    pub path: Vec<Step>,
    pub kind: Kind,
    /// The new scalar as text, when the mutation put one in (what a faithful mapping shows).
    pub value: Option<String>,
    pub body: Vec<u8>,
}

impl Mutation {
    /// `trade.orders.order[1].price Negative`, for reports and replays.
    pub fn label(&self) -> String {
        let path = display_path(&self.path);
        format!("{} {}", if path.is_empty() { "<root>" } else { &path }, self.kind)
    }

    /// The last object key on the path: what an error about this mutation must name.
    pub fn key(&self) -> Option<&str> {
        self.path.iter().rev().find_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
    }
}

/// `count` mutations of `document`, one each, drawn with `seed`: every (path, kind) that
/// applies comes once in a shuffled order before any comes again (with other junk); a few
/// percent are whole-body mutations.
pub fn mutations(document: &Value, seed: u64, count: usize) -> Vec<Mutation> {
    let mut rng = Rng::new(seed);
    let mut nodes = Vec::new();
    collect(document, &mut Vec::new(), &mut nodes);
    let mut candidates: Vec<(usize, Kind)> = Vec::new();
    for (i, (path, value)) in nodes.iter().enumerate() {
        for kind in kinds_for(value, !path.is_empty() && matches!(path.last(), Some(Step::Key(_)))) {
            candidates.push((i, kind));
        }
    }
    let whole = (count * WHOLE_BODY_PERCENT / 100).max(3).min(count);
    let body = serde_json::to_vec(document).unwrap_or_default();
    let mut out = Vec::with_capacity(count);
    for n in 0..whole {
        let kind = [Kind::Html, Kind::EmptyBody, Kind::Truncated][n % 3];
        out.push(whole_body(kind, &body, &mut rng));
    }
    let mut order: Vec<usize> = Vec::new();
    while out.len() < count && !candidates.is_empty() {
        if order.is_empty() {
            order = (0..candidates.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
        }
        let (node, kind) = candidates[order.pop().unwrap_or_default()];
        let path = &nodes[node].0;
        out.push(apply(document, path, kind, &mut rng));
    }
    out
}

fn collect<'a>(value: &'a Value, path: &mut Vec<Step>, out: &mut Vec<(Vec<Step>, &'a Value)>) {
    out.push((path.clone(), value));
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(Step::Key(k.clone()));
                collect(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Step::Index(i));
                collect(v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Whether a string is a plain decimal (`"59.95"`, `"2"`, `"-1.5"`).
fn is_decimal(s: &str) -> bool {
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    digits(int) && digits(frac)
}

fn kinds_for(value: &Value, removable: bool) -> Vec<Kind> {
    use Kind::*;
    let mut kinds = Vec::new();
    if removable {
        kinds.push(RemovedKey);
    }
    let wrong = |types: &[Type]| types.iter().map(|t| WrongType(*t)).collect::<Vec<_>>();
    match value {
        Value::String(s) => {
            kinds.extend(wrong(&[Type::Number, Type::Object, Type::Array, Type::Null, Type::Bool]));
            kinds.extend([EmptyString, Junk, Control]);
            if is_decimal(s) {
                kinds.extend([Negative, Zero, Exponent, ExponentString, Float, ExtraDecimals, Huge]);
            }
        }
        Value::Number(_) => {
            kinds.extend(wrong(&[Type::String, Type::Object, Type::Array, Type::Null, Type::Bool]));
            kinds.extend([Negative, Zero, Exponent, ExponentString, Float, Huge, EmptyString]);
        }
        Value::Object(_) => {
            kinds.extend(wrong(&[Type::String, Type::Number, Type::Array, Type::Null, Type::Bool]));
            kinds.push(EmptyString);
        }
        Value::Array(_) => {
            kinds.extend(wrong(&[Type::String, Type::Number, Type::Object, Type::Null]));
            kinds.push(EmptyArray);
        }
        Value::Bool(_) => kinds.extend(wrong(&[Type::String, Type::Number, Type::Null])),
        Value::Null => kinds.extend(wrong(&[Type::String, Type::Number, Type::Object])),
    }
    kinds
}

const JUNK: &[&str] = &["锟斤拷", "\u{FFFD}\u{FFFD}", "ñ̃", "😀", "\u{202E}evil", "\u{200B}", "ｆｕｌｌ"];
const CONTROL: &[&str] = &["\u{0}", "\t", "\n", "\r\n", "\u{7}", "\u{1b}[2J", "\u{7f}"];
const HUGE_NUMBERS: &[&str] =
    &["123456789012345678901234", "18446744073709551616", "9223372036854775808", "4294967296"];
const HUGE_DECIMALS: &[&str] = &["92233720368547758.08", "99999999999999999999", "900000000000000.00", "4294967296"];

/// A decimal as a valid JSON number literal: `"0001"` → `1`, `"-007.50"` → `-7.50`.
fn number_literal(decimal: &str) -> String {
    let (sign, unsigned) = match decimal.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", decimal),
    };
    let trimmed = unsigned.trim_start_matches('0');
    let int_part =
        if trimmed.is_empty() || trimmed.starts_with('.') { format!("0{trimmed}") } else { trimmed.to_owned() };
    format!("{sign}{int_part}")
}

/// `value` with the mutation `kind` (None: the key removed), and the new scalar as text.
fn mutated_value(value: &Value, kind: Kind, rng: &mut Rng) -> (Option<Value>, Option<String>) {
    use Kind::*;
    let raw = |text: &str| (Some(Value::String(format!("{RAW_MARKER}{text}{RAW_MARKER}"))), Some(text.to_owned()));
    let string = |s: String| (Some(Value::String(s.clone())), Some(s));
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let is_string = value.is_string();
    match kind {
        RemovedKey => (None, None),
        WrongType(Type::Null) => (Some(Value::Null), None),
        WrongType(Type::Object) => (Some(Value::Object(Map::new())), None),
        WrongType(Type::Array) => (Some(Value::Array(Vec::new())), None),
        WrongType(Type::Bool) => (Some(Value::Bool(true)), None),
        WrongType(Type::String) => match value {
            Value::Number(_) => string(text),
            Value::Bool(b) => string(b.to_string()),
            _ => string("abc".to_owned()),
        },
        WrongType(Type::Number) => match value {
            // A numeric string as the number it spells (exact literal), else a plain number.
            Value::String(s) if is_decimal(s) => raw(&number_literal(s)),
            _ => raw("12345"),
        },
        Negative => {
            let negated = match text.strip_prefix('-') {
                // Already negative: more so.
                Some(_) => format!("{text}1"),
                None if text == "0" || text.is_empty() => "-1".to_owned(),
                None => format!("-{text}"),
            };
            if is_string { string(negated) } else { raw(&number_literal(&negated)) }
        }
        // 0 is "none" on several platforms (ECShop's ids and times): no value to show.
        Zero => {
            if is_string {
                (Some(Value::String("0".to_owned())), None)
            } else {
                (raw("0").0, None)
            }
        }
        Exponent => raw("1e5"),
        ExponentString => string("1e5".to_owned()),
        Float => raw(&number_literal(&format!("{}.5", text.split('.').next().unwrap_or("1")))),
        ExtraDecimals => {
            let more = if text.contains('.') { format!("{text}01") } else { format!("{text}.001") };
            if is_string { string(more) } else { raw(&more) }
        }
        // Empty is absent, not a value a mapping shows.
        EmptyString => (Some(Value::String(String::new())), None),
        EmptyArray => (Some(Value::Array(Vec::new())), None),
        Huge => {
            if is_string {
                string((*rng.pick(HUGE_DECIMALS)).to_owned())
            } else {
                raw(rng.pick::<&str>(HUGE_NUMBERS))
            }
        }
        // What a faithful mapping shows is the junk itself (the rest may be reformatted).
        Junk => {
            let junk = *rng.pick(JUNK);
            let new = if rng.below(2) == 0 { junk.to_owned() } else { format!("{text}{junk}") };
            (Some(Value::String(new)), Some(junk.to_owned()))
        }
        Control => {
            let control = *rng.pick(CONTROL);
            (Some(Value::String(format!("{text}{control}"))), Some(control.to_owned()))
        }
        Html | EmptyBody | Truncated => (Some(value.clone()), None),
    }
}

fn apply(document: &Value, path: &[Step], kind: Kind, rng: &mut Rng) -> Mutation {
    let mut doc = document.clone();
    let mut value_text = None;
    match path.split_last() {
        None => {
            let (new, text) = mutated_value(&doc, kind, rng);
            doc = new.unwrap_or(Value::Null);
            value_text = text;
        }
        Some((last, parents)) => {
            let mut parent = &mut doc;
            for step in parents {
                parent = match step {
                    Step::Key(k) => &mut parent[k.as_str()],
                    Step::Index(i) => &mut parent[*i],
                };
            }
            match last {
                Step::Key(k) => {
                    if let Value::Object(map) = parent {
                        let (new, text) = mutated_value(&map[k.as_str()], kind, rng);
                        value_text = text;
                        match new {
                            Some(v) => {
                                map.insert(k.clone(), v);
                            }
                            None => {
                                map.remove(k);
                            }
                        }
                    }
                }
                Step::Index(i) => {
                    if let Value::Array(items) = parent {
                        let (new, text) = mutated_value(&items[*i], kind, rng);
                        value_text = text;
                        items[*i] = new.unwrap_or(Value::Null);
                    }
                }
            }
        }
    }
    let text = serde_json::to_string(&doc).unwrap_or_default();
    // A raw literal replaces its marker and the quotes around it.
    let quoted = format!("\"{}", serde_json::to_string(RAW_MARKER).unwrap_or_default().trim_matches('"'));
    let body = match text.find(&quoted) {
        Some(start) => {
            let inner_start = start + quoted.len();
            let end_marker = serde_json::to_string(RAW_MARKER).unwrap_or_default();
            let end_marker = format!("{}\"", end_marker.trim_matches('"'));
            match text[inner_start..].find(&end_marker) {
                Some(len) => {
                    format!(
                        "{}{}{}",
                        &text[..start],
                        &text[inner_start..inner_start + len],
                        &text[inner_start + len + end_marker.len()..]
                    )
                }
                None => text,
            }
        }
        None => text,
    };
    Mutation { path: path.to_vec(), kind, value: value_text, body: body.into_bytes() }
}

/// What a proxy in front of a platform answers under status 200 when the platform is down.
const HTML_PAGE: &[u8] = b"<html><head><title>502 Bad Gateway</title></head><body>\
<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>";

fn whole_body(kind: Kind, body: &[u8], rng: &mut Rng) -> Mutation {
    let body = match kind {
        Kind::Html => HTML_PAGE.to_vec(),
        Kind::EmptyBody => [&b""[..], b"   \r\n"][rng.below(2)].to_vec(),
        _ => body[..rng.below(body.len().max(1))].to_vec(),
    };
    Mutation { path: Vec::new(), kind, value: None, body }
}

/// What a platform key means to the mapping, which decides what a mutation of it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Not read: no mutation may change the output or fail the call.
    Unread,
    /// Part of the platform's envelope (a success key, a business status): any typed error,
    /// or no change.
    Envelope,
    /// The page's list of records: removing or emptying it may leave fewer records, and any
    /// typed error about it stops the call.
    Rows,
    /// One record itself: any mutation of it is an error (a rejection naming any field).
    Record,
    /// A record's lines, of which there must be at least one.
    Lines,
    /// An optional object (receiver, invoice): absent is fine, anything but an object is not.
    Object,
    /// An optional list whose emptiness is meaningful (a line's spec).
    List,
    /// Money that cannot be negative, as the platform sends it (decimal string or fen).
    Amount,
    /// Money that may be negative (a manual price change either way).
    SignedAmount,
    /// A signed decimal quantity read by value (SAP stock, where negative stock exists).
    Decimal,
    /// A count of goods: whole, at least 1.
    Quantity,
    /// An id: integer or string, kept exactly as text.
    Id,
    /// Free text, kept verbatim.
    Text,
    /// Text whose presence alone maps, not its value (ECShop's `inv_content` asks for an
    /// invoice): any string may change the output, any other type is an error.
    Presence,
    /// A code looked up in a table (a status, a kind): anything else is an error.
    Code,
    /// An instant.
    Time,
}

/// Whether a mutation of `kind` may change the output of a key with `role` (when the mapping
/// does not refuse it): absent values where absence is allowed, and new values the model
/// allows. Everything else must be refused, or leave the output as it was (the value was not
/// read in this record).
pub fn may_change(role: Role, kind: Kind) -> bool {
    use Kind::*;
    use Role::*;
    let absent = matches!(kind, RemovedKey | WrongType(Type::Null) | EmptyString);
    match role {
        Unread | Envelope | Record | Lines => false,
        // An empty list in place of the list (or of its wrapper: OData's bare-array `d`).
        Rows => absent || matches!(kind, EmptyArray | WrongType(Type::Array)),
        List => absent || kind == EmptyArray,
        Object => absent,
        Amount => absent || matches!(kind, Zero | Huge),
        SignedAmount | Decimal => absent || matches!(kind, Zero | Huge | Negative),
        Quantity => matches!(kind, Huge),
        Id => {
            absent
                || matches!(
                    kind,
                    Negative
                        | Zero
                        | Huge
                        | ExponentString
                        | ExtraDecimals
                        | Junk
                        | WrongType(Type::String | Type::Number)
                )
        }
        Text => {
            absent
                || matches!(
                    kind,
                    Negative | Zero | Huge | ExponentString | ExtraDecimals | Junk | Control | WrongType(Type::String)
                )
        }
        Presence => {
            absent
                || matches!(
                    kind,
                    Negative | Zero | Huge | ExponentString | ExtraDecimals | Junk | Control | WrongType(Type::String)
                )
        }
        Code => absent || matches!(kind, Zero),
        Time => absent || matches!(kind, Zero | Huge),
    }
}

/// One platform key the mapping reads: its pattern (the path with indices as `[]`, relative to
/// the record; see [`Spec`]), its role, and the canonical fields it maps to (patterns too:
/// `lines[].unit_price`; a trailing `*` matches any rest: `receiver.*`).
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub pattern: &'static str,
    pub role: Role,
    pub maps_to: &'static [&'static str],
    /// Keys other than this one an error about it may name: checks across fields (a payment
    /// above goods + freight is blamed on the payment whichever figure moved).
    pub also_named: &'static [&'static str],
}

/// `Field` without cross-field names.
pub const fn field(pattern: &'static str, role: Role, maps_to: &'static [&'static str]) -> Field {
    Field { pattern, role, maps_to, also_named: &[] }
}

/// How a plugin's answer is laid out and what its keys mean.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Where a record sits (`data.shop_order_list[]`); record fields are relative to it.
    pub record: &'static str,
    /// The record's keys.
    pub fields: &'static [Field],
    /// Keys outside the records (the envelope, the list), relative to the document root.
    pub envelope: &'static [Field],
    pub rules: Rules,
}

/// Which canonical invariants a platform's records keep beyond the model's own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    /// Discounts may be negative (Taobao's manual price raise; see its mapping).
    pub surcharges: bool,
    /// The lines' totals plus shipping add up to the paid total.
    pub lines_add_up: bool,
    /// The lines' `unit_price × quantity` add up to the goods total.
    pub goods_add_up: bool,
}

/// A canonical record the oracle can compare and check.
pub trait Record {
    /// What pairs a record with its baseline and names it in a rejection.
    fn key(&self) -> String;
    /// Every canonical field as text, by path (`lines[1].quantity`; absent options left out).
    fn fields(&self) -> BTreeMap<String, String>;
    /// What the canonical model requires of it, as violations.
    fn invariants(&self, rules: &Rules) -> Vec<String>;
}

impl Record for Order {
    fn key(&self) -> String {
        self.order_id.clone()
    }

    fn fields(&self) -> BTreeMap<String, String> {
        let mut f = Fields::default();
        f.put("platform", &self.platform);
        f.put("shop_id", &self.shop_id);
        f.put("order_id", &self.order_id);
        f.put("status", format!("{:?}", self.status));
        f.put("platform_status", &self.platform_status);
        f.put("refund_status", format!("{:?}", self.refund_status));
        f.put("created_at", self.created_at);
        f.opt("paid_at", self.paid_at);
        f.put("updated_at", self.updated_at);
        f.put("currency", &self.currency);
        f.put("goods_total", self.goods_total);
        f.put("shipping_fee", self.shipping_fee);
        f.put("discount_total", self.discount_total);
        f.put("paid_total", self.paid_total);
        f.opt("buyer_id", self.buyer_id.as_ref());
        f.opt("buyer_nick", self.buyer_nick.as_ref());
        f.opt("buyer_message", self.buyer_message.as_ref());
        f.opt("seller_memo", self.seller_memo.as_ref());
        f.opt("erp_customer_code", self.erp_customer_code.as_ref());
        if let Some(r) = &self.receiver {
            f.put("receiver", "");
            for (k, v) in [
                ("name", &r.name),
                ("phone", &r.phone),
                ("province", &r.province),
                ("city", &r.city),
                ("district", &r.district),
                ("town", &r.town),
                ("address", &r.address),
                ("postcode", &r.postcode),
                ("privacy_ref", &r.privacy_ref),
            ] {
                f.opt(&format!("receiver.{k}"), v.as_ref());
            }
            f.put("receiver.masked", r.masked);
        }
        if let Some(i) = &self.invoice {
            f.put("invoice", "");
            f.put("invoice.kind", format!("{:?}", i.kind));
            for (k, v) in [
                ("title", &i.title),
                ("tax_id", &i.tax_id),
                ("bank", &i.bank),
                ("account", &i.account),
                ("address", &i.address),
                ("phone", &i.phone),
            ] {
                f.opt(&format!("invoice.{k}"), v.as_ref());
            }
        }
        for (n, l) in self.lines.iter().enumerate() {
            let p = |k: &str| format!("lines[{n}].{k}");
            f.put(&p("line_id"), &l.line_id);
            f.opt(&p("product_id"), l.product_id.as_ref());
            f.opt(&p("sku_id"), l.sku_id.as_ref());
            f.opt(&p("outer_product_id"), l.outer_product_id.as_ref());
            f.opt(&p("outer_sku_id"), l.outer_sku_id.as_ref());
            f.put(&p("title"), &l.title);
            f.opt(&p("sku_properties"), l.sku_properties.as_ref());
            f.put(&p("quantity"), l.quantity);
            f.put(&p("unit_price"), l.unit_price);
            f.put(&p("discount"), l.discount);
            f.put(&p("line_total"), l.line_total);
            f.opt(&p("batch_no"), l.batch_no.as_ref());
            f.put(&p("refund_status"), format!("{:?}", l.refund_status));
        }
        f.0
    }

    fn invariants(&self, rules: &Rules) -> Vec<String> {
        let mut v = Vec::new();
        for (name, id) in [("platform", &self.platform), ("shop_id", &self.shop_id), ("order_id", &self.order_id)] {
            if id.is_empty() {
                v.push(format!("{name} is empty"));
            }
        }
        for (name, amount) in [
            ("goods_total", self.goods_total),
            ("shipping_fee", self.shipping_fee),
            ("paid_total", self.paid_total),
            ("discount_total", self.discount_total),
        ] {
            if amount < 0 && !(rules.surcharges && name == "discount_total") {
                v.push(format!("{name} is negative: {amount}"));
            }
        }
        let sum = self.goods_total.checked_add(self.shipping_fee).and_then(|s| s.checked_sub(self.discount_total));
        if sum != Some(self.paid_total) {
            v.push(format!(
                "goods_total {} + shipping_fee {} − discount_total {} ≠ paid_total {}",
                self.goods_total, self.shipping_fee, self.discount_total, self.paid_total
            ));
        }
        if self.lines.is_empty() {
            v.push("no lines".to_owned());
        }
        let mut line_totals: Option<i64> = Some(0);
        let mut gross_totals: Option<i64> = Some(0);
        for (n, l) in self.lines.iter().enumerate() {
            if l.line_id.is_empty() {
                v.push(format!("lines[{n}].line_id is empty"));
            }
            if l.quantity == 0 {
                v.push(format!("lines[{n}].quantity is 0"));
            }
            if l.unit_price < 0 || l.line_total < 0 || (l.discount < 0 && !rules.surcharges) {
                v.push(format!("lines[{n}] has a negative amount: {} {} {}", l.unit_price, l.discount, l.line_total));
            }
            let gross = l.unit_price.checked_mul(i64::from(l.quantity));
            if gross.and_then(|g| g.checked_sub(l.discount)) != Some(l.line_total) {
                v.push(format!(
                    "lines[{n}]: unit_price {} × quantity {} − discount {} ≠ line_total {}",
                    l.unit_price, l.quantity, l.discount, l.line_total
                ));
            }
            line_totals = line_totals.and_then(|s| s.checked_add(l.line_total));
            gross_totals = gross_totals.zip(gross).and_then(|(s, g)| s.checked_add(g));
        }
        if rules.lines_add_up && line_totals.and_then(|s| s.checked_add(self.shipping_fee)) != Some(self.paid_total) {
            v.push(format!(
                "the lines' totals {line_totals:?} + shipping_fee {} ≠ paid_total {}",
                self.shipping_fee, self.paid_total
            ));
        }
        if rules.goods_add_up && gross_totals != Some(self.goods_total) {
            v.push(format!("the lines' unit_price × quantity {gross_totals:?} ≠ goods_total {}", self.goods_total));
        }
        for (k, value) in self.fields() {
            if value.is_empty() && !matches!(k.as_str(), "receiver" | "invoice") && k != "lines" {
                let optional = !matches!(k.rsplit('.').next(), Some("title" | "platform_status"));
                if optional {
                    v.push(format!("{k} is an empty string (absent values are none)"));
                }
            }
        }
        v
    }
}

impl Record for PriceUpdate {
    fn key(&self) -> String {
        self.outer_sku_id.clone()
    }

    fn fields(&self) -> BTreeMap<String, String> {
        let mut f = Fields::default();
        f.put("outer_sku_id", &self.outer_sku_id);
        f.opt("product_id", self.product_id.as_ref());
        f.opt("sku_id", self.sku_id.as_ref());
        f.put("currency", &self.currency);
        for (n, p) in self.prices.iter().enumerate() {
            let kind = match &p.kind {
                PriceKind::Default => "default".to_owned(),
                PriceKind::SuggestedRetail => "suggested_retail".to_owned(),
                PriceKind::RegionGroup(g) => format!("region_group({g})"),
                PriceKind::CustomerGroup(g) => format!("customer_group({g})"),
            };
            f.put(&format!("prices[{n}].kind"), kind);
            f.put(&format!("prices[{n}].amount"), p.amount);
        }
        f.0
    }

    fn invariants(&self, _rules: &Rules) -> Vec<String> {
        let mut v = Vec::new();
        if self.outer_sku_id.is_empty() {
            v.push("outer_sku_id is empty".to_owned());
        }
        // ISO 4217: three capital letters.
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            v.push(format!("currency {:?} is not an ISO 4217 code", self.currency));
        }
        for (n, p) in self.prices.iter().enumerate() {
            if p.amount < 0 {
                v.push(format!("prices[{n}].amount is negative: {}", p.amount));
            }
            if self.prices[..n].iter().any(|q| q.kind == p.kind) {
                v.push(format!("prices[{n}]: a second {:?} price", p.kind));
            }
        }
        v
    }
}

impl Record for StockUpdate {
    fn key(&self) -> String {
        self.outer_sku_id.clone()
    }

    fn fields(&self) -> BTreeMap<String, String> {
        let mut f = Fields::default();
        f.put("outer_sku_id", &self.outer_sku_id);
        f.opt("product_id", self.product_id.as_ref());
        f.opt("sku_id", self.sku_id.as_ref());
        f.put("quantity", self.quantity);
        f.opt("warehouse", self.warehouse.as_ref());
        f.put("version", self.version);
        f.0
    }

    fn invariants(&self, _rules: &Rules) -> Vec<String> {
        let mut v = Vec::new();
        if self.outer_sku_id.is_empty() {
            v.push("outer_sku_id is empty".to_owned());
        }
        if self.warehouse.as_deref() == Some("") {
            v.push("warehouse is an empty string".to_owned());
        }
        v
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Fields {
    fn put(&mut self, key: &str, value: impl ToString) {
        self.0.insert(key.to_owned(), value.to_string());
    }

    fn opt(&mut self, key: &str, value: Option<impl ToString>) {
        if let Some(value) = value {
            self.put(key, value);
        }
    }
}

/// What the oracle made of the mutations.
#[derive(Debug, Default)]
pub struct Report {
    pub mutations: usize,
    /// Whole-body mutations answered `transient`.
    pub transient: usize,
    /// Typed errors (the call's `invalid_input`, or a rejected record) naming the field.
    pub errors: usize,
    /// Mapped exactly as the baseline (the value was not read, or read as the same).
    pub unchanged: usize,
    /// Mapped differently, within the fields the key maps to and keeping the invariants.
    pub faithful: usize,
    pub failures: Vec<String>,
}

impl Report {
    pub fn summary(&self) -> String {
        format!(
            "{} mutations: {} transient, {} typed errors, {} unchanged, {} faithful changes, {} failures",
            self.mutations,
            self.transient,
            self.errors,
            self.unchanged,
            self.faithful,
            self.failures.len()
        )
    }

    /// Prints the summary and panics with the first failures if there are any.
    pub fn assert_clean(&self, plugin: &str) {
        println!("{plugin} fuzz: {}", self.summary());
        if !self.failures.is_empty() {
            let quoted: Vec<&str> = self.failures.iter().take(MAX_QUOTED_FAILURES).map(String::as_str).collect();
            panic!("{plugin} fuzz: {}\n{}", self.summary(), quoted.join("\n"));
        }
    }
}

/// What one mapped answer gave: the call's error, or its records, each mapped or rejected.
pub type Outcome<T> = Result<Vec<Mapped<T>>, ConnectorError>;

/// Runs `count` mutations of the answer `body` (drawn with `seed`) through `map`, and holds
/// each outcome to the oracle described in the module docs against the mapping of `body`
/// itself, which must map every record and keep the invariants.
pub fn check<T: Record>(
    spec: &Spec,
    body: &[u8],
    seed: u64,
    count: usize,
    map: impl Fn(&[u8]) -> Outcome<T>,
) -> Report {
    let document: Value = serde_json::from_slice(body).unwrap_or_else(|e| panic!("the fixture is not JSON: {e}"));
    let baseline = match map(body) {
        Ok(records) => records
            .into_iter()
            .map(|r| r.unwrap_or_else(|rejected| panic!("the fixture does not map: {rejected:?}")))
            .collect::<Vec<T>>(),
        Err(e) => panic!("the fixture does not map: {e:?}"),
    };
    assert!(!baseline.is_empty(), "the fixture maps to no records");
    for record in &baseline {
        let violations = record.invariants(&spec.rules);
        assert!(violations.is_empty(), "the fixture's record {} breaks invariants: {violations:?}", record.key());
    }
    let mut report = Report::default();
    let verbose = std::env::var_os(VERBOSE_VAR).is_some();
    for mutation in mutations(&document, seed, count) {
        report.mutations += 1;
        let outcome = catch_unwind(AssertUnwindSafe(|| map(&mutation.body)));
        let verdict = match outcome {
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                Err(format!("panicked: {message}"))
            }
            Ok(outcome) => judge(spec, &baseline, &mutation, outcome),
        };
        if verbose {
            let said = match &verdict {
                Ok(Verdict::Transient) => "transient",
                Ok(Verdict::Error) => "error",
                Ok(Verdict::Unchanged) => "unchanged",
                Ok(Verdict::Faithful) => "faithful",
                Err(_) => "FAILED",
            };
            println!("{said}: {}", mutation.label());
        }
        match verdict {
            Ok(Verdict::Transient) => report.transient += 1,
            Ok(Verdict::Error) => report.errors += 1,
            Ok(Verdict::Unchanged) => report.unchanged += 1,
            Ok(Verdict::Faithful) => report.faithful += 1,
            Err(why) => report.failures.push(format!("{}: {why}", mutation.label())),
        }
    }
    report
}

enum Verdict {
    Transient,
    Error,
    Unchanged,
    Faithful,
}

/// The field entry for a mutated path, and whether the path is the record itself.
fn lookup(spec: &Spec, mutation: &Mutation) -> Field {
    let pattern = pattern_of(&mutation.path);
    let unread = field("", Role::Unread, &[]);
    if pattern == spec.record {
        return field(spec.record, Role::Record, &[]);
    }
    let relative = pattern.strip_prefix(spec.record).and_then(|rest| rest.strip_prefix('.'));
    let (table, key) = match relative {
        Some(rest) => (spec.fields, rest),
        None => (spec.envelope, pattern.as_str()),
    };
    table.iter().find(|f| f.pattern == key).copied().unwrap_or(unread)
}

/// Whether the error's `field` names the mutated key (or one the entry allows).
fn names(error_field: &str, mutation: &Mutation, entry: &Field) -> bool {
    let Some(key) = mutation.key() else {
        return true;
    };
    let segments: Vec<&str> = error_field.split('.').map(|s| s.split(['[', '(']).next().unwrap_or(s)).collect();
    segments.contains(&key) || entry.also_named.iter().any(|k| segments.contains(k))
}

fn allowed(maps_to: &[&str], canonical: &str) -> bool {
    if canonical.is_empty() {
        // A new record, judged by its id.
        return true;
    }
    let pattern = canonical
        .split('[')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.to_owned()
            } else {
                part.split_once(']').map_or(part.to_owned(), |(_, rest)| format!("]{rest}"))
            }
        })
        .collect::<Vec<_>>()
        .join("[");
    maps_to.iter().any(|m| match m.strip_suffix('*') {
        Some(prefix) => pattern.starts_with(prefix),
        None => *m == pattern,
    })
}

fn judge<T: Record>(spec: &Spec, baseline: &[T], mutation: &Mutation, outcome: Outcome<T>) -> Result<Verdict, String> {
    let whole = mutation.kind.is_whole_body() || mutation.path.is_empty();
    if whole {
        return match outcome {
            Err(ConnectorError::Transient(_)) => Ok(Verdict::Transient),
            other => Err(format!("expected transient for a body that is not the answer, got {}", brief(&other))),
        };
    }
    let entry = lookup(spec, mutation);
    let records = match outcome {
        // The envelope, or the page's list, broken: any typed error stops the call.
        Err(_) if matches!(entry.role, Role::Envelope | Role::Rows) => return Ok(Verdict::Error),
        Err(ConnectorError::InvalidInput(e)) => {
            return if entry.role == Role::Unread {
                Err(format!("an unread key failed the call: {} {}", e.field, e.reason))
            } else if names(&e.field, mutation, &entry) {
                Ok(Verdict::Error)
            } else {
                Err(format!("the error names {:?}, not the mutated key: {}", e.field, e.reason))
            };
        }
        Err(other) => return Err(format!("expected a typed field error or a mapping, got {other:?}")),
        Ok(records) => records,
    };
    let mut rejected = Vec::new();
    let mut mapped: BTreeMap<String, &T> = BTreeMap::new();
    for r in &records {
        match r {
            Ok(record) => {
                mapped.insert(record.key(), record);
            }
            Err(rejection) => rejected.push(rejection),
        }
    }
    for rejection in &rejected {
        if rejection.id.is_empty() {
            return Err("a rejection without the record's id".to_owned());
        }
        if entry.role == Role::Unread {
            return Err(format!("an unread key rejected a record: {} {}", rejection.field, rejection.reason));
        }
        if entry.role != Role::Record && !names(&rejection.field, mutation, &entry) {
            return Err(format!(
                "the rejection names {:?}, not the mutated key: {}",
                rejection.field, rejection.reason
            ));
        }
    }
    // Compare what mapped with the baseline, record by record: the rejected records aside, a
    // record may only change where the key maps.
    let rejected_ids: Vec<&str> = rejected.iter().map(|r| r.id.as_str()).collect();
    let mut changes: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    let mut lost: Vec<&T> = Vec::new();
    for old in baseline {
        match mapped.remove(&old.key()) {
            Some(new) => diff(old, new, &mut changes),
            None if rejected_ids.contains(&old.key().as_str()) => {}
            // Its id (or the record itself) unreadable: set aside by its place in the answer.
            None if !rejected.is_empty() && matches!(entry.role, Role::Id | Role::Record) => {}
            None => lost.push(old),
        }
    }
    let new: Vec<&T> = mapped.into_values().collect();
    for record in &new {
        let violations = record.invariants(&spec.rules);
        if !violations.is_empty() {
            return Err(format!("mapped, breaking invariants: {violations:?}"));
        }
    }
    // A record whose id was mutated comes back under the new id, or as a record of its own
    // (rows grouped by the id): faithful when the new id shows the mutation.
    let renamed = |record: &&T| {
        entry.role == Role::Id
            && may_change(entry.role, mutation.kind)
            && mutation.value.as_deref().is_some_and(|v| record.key().contains(v))
    };
    match (lost.len(), new.len()) {
        (0, 0) => {}
        (1, 1) if rejected.is_empty() => diff(lost[0], new[0], &mut changes),
        (_, 0) if entry.role == Role::Rows && may_change(entry.role, mutation.kind) => return Ok(Verdict::Faithful),
        (0, _) if new.iter().all(renamed) => {
            changes.push((String::new(), None, new.first().map(|r| r.key())));
        }
        (l, n) => return Err(format!("{l} records lost and {n} new ones")),
    }
    changes.retain(|(k, _, _)| !k.is_empty() || rejected.is_empty());
    // Whatever mapped keeps the model's invariants, whether or not anything changed.
    for record in records.iter().flatten() {
        let violations = record.invariants(&spec.rules);
        if !violations.is_empty() {
            return Err(format!("mapped, breaking invariants: {violations:?}"));
        }
    }
    if !rejected.is_empty() {
        return match changes.iter().find(|(k, _, _)| !allowed(entry.maps_to, k)) {
            None => Ok(Verdict::Error),
            Some((k, old, new)) => Err(format!("rejected a record, and changed {k} of another: {old:?} → {new:?}")),
        };
    }
    if changes.is_empty() {
        return Ok(Verdict::Unchanged);
    }
    let described =
        || changes.iter().map(|(k, old, new)| format!("{k}: {old:?} → {new:?}")).collect::<Vec<_>>().join(", ");
    if !may_change(entry.role, mutation.kind) {
        return Err(format!("mapped silently ({:?} key): {}", entry.role, described()));
    }
    if let Some((k, _, _)) = changes.iter().find(|(k, _, _)| !allowed(entry.maps_to, k)) {
        return Err(format!("changed {k}, which the key does not map to: {}", described()));
    }
    if let (Some(value), Role::Id | Role::Text) = (&mutation.value, entry.role) {
        // Shown as it is, or escaped inside JSON text (`privacy_ref`).
        let escaped = serde_json::to_string(value).unwrap_or_default();
        let escaped = escaped.trim_matches('"');
        let shown = changes
            .iter()
            .any(|(_, _, new)| new.as_deref().is_some_and(|n| n.contains(value.as_str()) || n.contains(escaped)));
        if !shown {
            return Err(format!("changed without showing the new value {value:?}: {}", described()));
        }
    }
    Ok(Verdict::Faithful)
}

fn diff<T: Record>(old: &T, new: &T, changes: &mut Vec<(String, Option<String>, Option<String>)>) {
    let (old, new) = (old.fields(), new.fields());
    for (k, v) in &old {
        if new.get(k) != Some(v) {
            changes.push((k.clone(), Some(v.clone()), new.get(k).cloned()));
        }
    }
    for (k, v) in &new {
        if !old.contains_key(k) {
            changes.push((k.clone(), None, Some(v.clone())));
        }
    }
}

fn brief<T>(outcome: &Outcome<T>) -> String {
    match outcome {
        Ok(records) => format!("{} records", records.len()),
        Err(e) => format!("{e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"r": {"id": 7, "price": "59.95", "title": "T恤", "lines": [{"n": 2}], "o": {"a": null}, "ok": true}})
    }

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let a = mutations(&doc(), SEED, 300);
        let b = mutations(&doc(), SEED, 300);
        assert_eq!(a.len(), 300);
        assert!(a.iter().zip(&b).all(|(x, y)| x.body == y.body && x.label() == y.label()));
        assert_ne!(
            mutations(&doc(), SEED + 1, 300).iter().map(|m| m.body.clone()).collect::<Vec<_>>(),
            a.iter().map(|m| m.body.clone()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_path_and_kind_comes_before_any_repeats() {
        let all = mutations(&doc(), SEED, 400);
        let labels: std::collections::BTreeSet<String> = all.iter().map(Mutation::label).collect();
        for expected in [
            "r.price Negative",
            "r.price Exponent",
            "r.price ExtraDecimals",
            "r.lines[0].n Zero",
            "r.lines EmptyArray",
            "r.o wrong type (String)",
            "r.title Junk",
            "r.id RemovedKey",
            "<root> Html",
            "<root> EmptyBody",
            "<root> Truncated",
        ] {
            assert!(labels.contains(expected), "{expected} missing from {labels:?}");
        }
    }

    #[test]
    fn mutations_write_the_raw_literals_they_say() {
        let all = mutations(&doc(), SEED, 400);
        let body = |label: &str| {
            let m = all.iter().find(|m| m.label() == label).unwrap();
            String::from_utf8(m.body.clone()).unwrap()
        };
        assert!(body("r.price Exponent").contains("\"price\":1e5"), "{}", body("r.price Exponent"));
        assert!(body("r.price Negative").contains("\"price\":\"-59.95\""));
        assert!(body("r.price ExtraDecimals").contains("\"price\":\"59.9501\""));
        assert!(body("r.price wrong type (Number)").contains("\"price\":59.95"));
        assert!(body("r.lines[0].n Float").contains("\"n\":2.5"));
        assert_eq!(number_literal("0001"), "1");
        assert_eq!(number_literal("-007.50"), "-7.50");
        assert_eq!(number_literal("0.5"), "0.5");
        assert_eq!(number_literal("000"), "0");
        assert!(body("r.lines EmptyArray").contains("\"lines\":[]"));
        assert!(!body("r.id RemovedKey").contains("\"id\""));
        assert!(body("r.o wrong type (String)").contains("\"o\":\"abc\""));
        for m in &all {
            let text = String::from_utf8_lossy(&m.body);
            assert!(!text.contains("wharf-fuzz-raw"), "{}: {text}", m.label());
            if !m.kind.is_whole_body() {
                serde_json::from_slice::<Value>(&m.body).unwrap_or_else(|e| panic!("{}: {e}: {text}", m.label()));
            }
        }
    }

    #[test]
    fn what_a_role_may_change() {
        assert!(!may_change(Role::Amount, Kind::Negative));
        assert!(may_change(Role::SignedAmount, Kind::Negative));
        assert!(!may_change(Role::Quantity, Kind::Zero));
        assert!(!may_change(Role::Amount, Kind::Exponent));
        assert!(!may_change(Role::Lines, Kind::EmptyArray));
        assert!(may_change(Role::List, Kind::EmptyArray));
        assert!(!may_change(Role::Object, Kind::WrongType(Type::String)));
        assert!(may_change(Role::Object, Kind::RemovedKey));
        assert!(may_change(Role::Text, Kind::Junk));
        assert!(!may_change(Role::Text, Kind::WrongType(Type::Number)));
        assert!(!may_change(Role::Unread, Kind::RemovedKey));
    }

    #[test]
    fn errors_must_name_the_mutated_key() {
        let m = Mutation {
            path: vec![Step::Key("r".into()), Step::Key("lines".into()), Step::Index(0), Step::Key("n".into())],
            kind: Kind::Zero,
            value: None,
            body: Vec::new(),
        };
        let entry = field("lines[].n", Role::Quantity, &[]);
        assert!(names("r.lines[0].n", &m, &entry));
        assert!(names("lines[0].n", &m, &entry));
        assert!(!names("r.price", &m, &entry));
        assert!(names("r.price", &m, &Field { also_named: &["price"], ..entry }));
        assert_eq!(pattern_of(&m.path), "r.lines[].n");
        assert!(allowed(&["lines[].quantity"], "lines[3].quantity"));
        assert!(allowed(&["receiver.*"], "receiver.phone"));
        assert!(!allowed(&["lines[].quantity"], "paid_total"));
    }

    /// A record of one id and one price, to hold toy mappings to the oracle.
    #[derive(Debug)]
    struct Toy {
        id: String,
        price: i64,
    }

    impl Record for Toy {
        fn key(&self) -> String {
            self.id.clone()
        }
        fn fields(&self) -> BTreeMap<String, String> {
            [("id".to_owned(), self.id.clone()), ("price".to_owned(), self.price.to_string())].into()
        }
        fn invariants(&self, _: &Rules) -> Vec<String> {
            if self.price < 0 { vec!["negative price".to_owned()] } else { Vec::new() }
        }
    }

    const TOY: Spec = Spec {
        record: "r",
        fields: &[field("id", Role::Id, &["id"]), field("price", Role::Amount, &["price"])],
        envelope: &[],
        rules: Rules { surcharges: false, lines_add_up: false, goods_add_up: false },
    };

    fn toy(body: &[u8], strict: bool) -> Outcome<Toy> {
        let doc = crate::json::parse_answer(body, "toy")?;
        if !doc.is_object() {
            return Err(crate::json::not_the_envelope("toy", "an object", &doc));
        }
        let root = crate::json::Node::root(&doc, "");
        let r = root.object("r")?;
        let price = if strict {
            r.amount("price")?
        } else {
            // What the plugins did before: garbage read as absent, negatives kept.
            r.raw("price").and_then(|v| crate::json::as_yuan(v).ok()).unwrap_or(0)
        };
        Ok(vec![Ok(Toy { id: r.id("id")?, price })])
    }

    #[test]
    fn the_oracle_catches_silent_mappings_and_passes_strict_ones() {
        let body = br#"{"r": {"id": "7", "price": "5.00", "note": "x"}}"#;
        let strict = check(&TOY, body, SEED, 300, |b| toy(b, true));
        assert!(strict.failures.is_empty(), "{:?}", strict.failures);
        assert!(strict.transient > 0 && strict.errors > 0 && strict.unchanged > 0 && strict.faithful > 0);
        let lax = check(&TOY, body, SEED, 300, |b| toy(b, false));
        for expected in
            ["r.price Negative: mapped, breaking invariants", "r.price wrong type (Object): mapped silently"]
        {
            assert!(lax.failures.iter().any(|f| f.starts_with(expected)), "{expected}: {:?}", lax.failures);
        }
        let panicky = check(&TOY, body, SEED, 300, |b| {
            assert!(!String::from_utf8_lossy(b).contains("1e5"), "boom");
            toy(b, true)
        });
        assert!(panicky.failures.iter().any(|f| f.contains("panicked: boom")), "{:?}", panicky.failures);
    }

    #[test]
    fn the_prng_is_splitmix64() {
        // The first output of splitmix64 seeded with 0, as published with the algorithm.
        assert_eq!(Rng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }
}
