//! JD's receiver decryption and its audit (platforms.md, "Receiver privacy"):
//! `jingdong.jos.order.oaid.decrypt` answers the receiver behind an order's `consigneeInfo.oaid`,
//! and every access must be logged back through `jingdong.security.orderinfo.log.upload`. Both
//! are recorded ([`DecryptCall`], [`LogUpload`]) so a test can assert each decrypt was logged.
//!
//! UNSURE, kept here (platforms.md names only the methods): the decrypt takes
//! `getReceiverInfoListReqVO{scenesType, orderInfos[{orderId, oaid}]}` (at most
//! [`MAX_PER_CALL`]) and answers `returnType{success, code, msg, data[{orderId, oaid,
//! customerName, consMobilePhone, isVirtualNumber, province, city, county, town,
//! fullAddress}]}`; `scenesType` takes TOP's scene codes; an unknown `(orderId, oaid)` fails the
//! call (`success:false`). The log upload takes `orderIds` (array or comma list), `operation`
//! (`decrypt`, `print`, `view`…), `userAccount`, `userIp`, and answers
//! `uploadResult{success}`.

use serde_json::{Map, Value, json};

use super::Shared;
use super::render::{full_address, oaid};
use crate::privacy::{DecryptCall, DecryptItem, PlainReceiver, answered_phone};
use crate::serve::lock;
use crate::shop::Order;

pub const OAID_DECRYPT: &str = "jingdong.jos.order.oaid.decrypt";
pub const LOG_UPLOAD: &str = "jingdong.security.orderinfo.log.upload";
pub const METHODS: &[&str] = &[OAID_DECRYPT, LOG_UPLOAD];
pub const RESULT_KEYS: &[(&str, &str)] = &[(OAID_DECRYPT, "returnType"), (LOG_UPLOAD, "uploadResult")];
pub const MAX_PER_CALL: usize = 20;
pub const SCENES: &[&str] = &["1001", "1002", "1003", "1004", "1005", "1006", "1007", "2001", "2002"];

/// One accepted `jingdong.security.orderinfo.log.upload`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogUpload {
    pub order_ids: Vec<String>,
    pub operation: String,
    pub user_account: String,
    pub user_ip: Option<String>,
    pub at_ms: i64,
}

/// The receiver of `order` as the decrypt answers it (its phone virtual one time in four).
pub fn plaintext(order: &Order) -> PlainReceiver {
    let r = &order.receiver;
    let (phone, virtual_phone) = answered_phone(&oaid(order), &r.phone);
    PlainReceiver {
        name: r.name.clone(),
        phone,
        virtual_phone,
        province: r.province.clone(),
        city: r.city.clone(),
        district: r.district.clone(),
        town: r.town.clone(),
        address: r.address.clone(),
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn refused(code: &str, msg: impl Into<String>) -> Value {
    json!({"success": false, "code": code, "msg": msg.into()})
}

pub(crate) fn run(shared: &Shared, method: &str, p: &Map<String, Value>) -> Value {
    let now = shared.clock.now_ms();
    if method == LOG_UPLOAD {
        return log_upload(shared, p, now);
    }
    let mut record =
        DecryptCall { method: OAID_DECRYPT.to_owned(), scene: None, items: Vec::new(), refused: None, at_ms: now };
    let answer = decrypt(shared, p, &mut record);
    if answer["success"] != true {
        record.refused = answer["msg"].as_str().map(str::to_owned);
        record.items.iter_mut().for_each(|i| i.ok = false);
    }
    lock(&shared.decrypt_calls).push(record);
    answer
}

fn decrypt(shared: &Shared, p: &Map<String, Value>, record: &mut DecryptCall) -> Value {
    let Some(Value::Object(vo)) = p.get("getReceiverInfoListReqVO") else {
        return refused("PARAM_ERROR", "getReceiverInfoListReqVO is required");
    };
    record.scene = vo.get("scenesType").and_then(text);
    if !record.scene.as_deref().is_some_and(|s| SCENES.contains(&s)) {
        return refused(
            "PARAM_ERROR",
            format!("scenesType must be one of {}, got {:?}", SCENES.join(","), record.scene),
        );
    }
    let infos = match vo.get("orderInfos") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        _ => return refused("PARAM_ERROR", "orderInfos must be a non-empty array"),
    };
    if infos.len() > MAX_PER_CALL {
        return refused("PARAM_ERROR", format!("orderInfos holds at most {MAX_PER_CALL}, got {}", infos.len()));
    }
    let shop = lock(&shared.shop);
    let mut data = Vec::with_capacity(infos.len());
    for info in infos {
        let order_id = info.get("orderId").and_then(text).unwrap_or_default();
        let given = info.get("oaid").and_then(text).unwrap_or_default();
        record.items.push(DecryptItem { reference: given.clone(), order_id: order_id.clone(), ok: false });
        let order = order_id
            .parse::<u64>()
            .ok()
            .and_then(|no| shop.orders.iter().find(|o| o.order_no == no))
            .filter(|o| oaid(o) == given);
        let Some(order) = order else {
            return refused("DECRYPT_FAILED", format!("order {order_id}: unknown oaid"));
        };
        let plain = plaintext(order);
        data.push(json!({
            "orderId": order_id,
            "oaid": given,
            "customerName": plain.name,
            "consMobilePhone": plain.phone,
            "isVirtualNumber": plain.virtual_phone,
            "province": plain.province,
            "city": plain.city,
            "county": plain.district,
            "town": plain.town.clone().unwrap_or_default(),
            "fullAddress": full_address(order),
        }));
    }
    record.items.iter_mut().for_each(|i| i.ok = true);
    json!({"success": true, "code": "0", "msg": "", "data": data})
}

fn log_upload(shared: &Shared, p: &Map<String, Value>, now_ms: i64) -> Value {
    let order_ids: Vec<String> = match p.get("orderIds") {
        Some(Value::Array(list)) => list.iter().filter_map(text).collect(),
        Some(v) => text(v)
            .map(|t| t.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let operation = p.get("operation").and_then(text);
    let account = p.get("userAccount").and_then(text);
    let (Some(operation), Some(user_account)) = (operation, account) else {
        return refused("PARAM_ERROR", "operation and userAccount are required");
    };
    if order_ids.is_empty() {
        return refused("PARAM_ERROR", "orderIds is required");
    }
    let user_ip = p.get("userIp").and_then(text);
    lock(&shared.log_uploads).push(LogUpload { order_ids, operation, user_account, user_ip, at_ms: now_ms });
    json!({"success": true, "code": "0", "msg": ""})
}
