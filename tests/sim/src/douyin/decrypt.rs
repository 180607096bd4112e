//! `order.batchDecrypt`: the plaintext behind 抖店's receiver ciphertexts (platforms.md,
//! "Receiver privacy"): at most 50 per call; phones may come back as virtual numbers `a-b`.
//!
//! UNSURE, kept here: the request is `cipher_infos: [{auth_id, cipher_text}]` (`auth_id` the
//! shop order id); the answer `data{decrypt_infos[{auth_id, cipher_text, decrypt_text, err_no,
//! err_msg, is_virtual_tel, phone_no_a, phone_no_b}], custom_err{err_code, err_msg}}`. A
//! ciphertext that is not one of that order's (name, phone or address) is an error of its item
//! alone ([`ERR_UNKNOWN_CIPHER`]); the others are decrypted.

use serde_json::{Value, json};

use super::error::DyError;
use super::methods::Params;
use super::render::cipher;
use crate::privacy::{DecryptCall, DecryptItem, PlainReceiver, answered_phone};
use crate::shop::{Order, Shop};

pub const BATCH_DECRYPT: &str = "order.batchDecrypt";
pub const MAX_PER_CALL: usize = 50;
/// An item's `err_no` for a ciphertext the order does not have (UNSURE).
pub const ERR_UNKNOWN_CIPHER: i64 = 300_008;

/// The receiver of `order` as a decrypt answers it (its phone virtual one time in four).
pub fn plaintext(order: &Order) -> PlainReceiver {
    let r = &order.receiver;
    let (phone, virtual_phone) = answered_phone(&cipher(&r.phone, '$'), &r.phone);
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

/// Decrypts `cipher_infos`, recording the call in `log`.
pub fn batch_decrypt(shop: &Shop, log: &mut Vec<DecryptCall>, p: &Params<'_>, now_ms: i64) -> Result<Value, DyError> {
    let mut record =
        DecryptCall { method: BATCH_DECRYPT.to_owned(), scene: None, items: Vec::new(), refused: None, at_ms: now_ms };
    let outcome = answer(shop, p, &mut record);
    if let Err(e) = &outcome {
        record.refused = Some(e.sub_msg.clone());
    }
    log.push(record);
    outcome
}

fn answer(shop: &Shop, p: &Params<'_>, record: &mut DecryptCall) -> Result<Value, DyError> {
    let infos = match p.0.get("cipher_infos") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        _ => return Err(DyError::business_param("cipher_infos 须为非空数组")),
    };
    if infos.len() > MAX_PER_CALL {
        return Err(DyError::business_param(format!("cipher_infos 最多 {MAX_PER_CALL} 个，收到 {}", infos.len())));
    }
    let mut out = Vec::with_capacity(infos.len());
    for info in infos {
        let Value::Object(info) = info else {
            return Err(DyError::business_param(format!("cipher_infos 的元素须为对象，收到 {info}")));
        };
        let item = Params(info);
        let auth_id = item.required_text("auth_id")?;
        let text = item.required_text("cipher_text")?;
        let order = auth_id.parse::<u64>().ok().and_then(|no| shop.orders.iter().find(|o| o.order_no == no));
        let plain = order.map(plaintext);
        let found = order.and_then(|o| {
            let r = &o.receiver;
            if text == cipher(&r.name, '#') {
                Some((r.name.clone(), None))
            } else if text == cipher(&r.address, '#') {
                Some((r.address.clone(), None))
            } else if text == cipher(&r.phone, '$') {
                plain.as_ref().map(|p| (p.phone.clone(), Some(p.virtual_phone)))
            } else {
                None
            }
        });
        record.items.push(DecryptItem { reference: text.clone(), order_id: auth_id.clone(), ok: found.is_some() });
        out.push(match found {
            Some((decrypted, phone)) => {
                let is_virtual = phone == Some(true);
                let (a, b) = if is_virtual { decrypted.split_once('-').unwrap_or((&decrypted, "")) } else { ("", "") };
                json!({
                    "auth_id": auth_id, "cipher_text": text, "decrypt_text": decrypted, "err_no": 0, "err_msg": "",
                    "is_virtual_tel": is_virtual, "phone_no_a": a, "phone_no_b": b,
                })
            }
            None => json!({
                "auth_id": auth_id, "cipher_text": text, "decrypt_text": "", "err_no": ERR_UNKNOWN_CIPHER,
                "err_msg": "密文不存在或不属于该订单", "is_virtual_tel": false, "phone_no_a": "", "phone_no_b": "",
            }),
        });
    }
    Ok(json!({"decrypt_infos": out, "custom_err": {"err_code": 0, "err_msg": ""}}))
}
