//! `decrypt-receivers` over `order.batchDecrypt`: the plaintext behind a receiver's
//! ciphertexts, for printing a waybill.
//!
//! A receiver's `privacy_ref` is its labelled ciphertexts (`{"address":…,"name":…,"phone":…}`,
//! [`crate::mapping::PRIVACY_REF_FIELDS`]); each is one `cipher_infos` entry `{auth_id: the shop
//! order id, cipher_text}`. 抖店 takes at most [`MAX_CIPHERTEXTS_PER_CALL`] ciphertexts a call,
//! so the batch limit declared for `decrypt-receivers` is [`MAX_RECEIVERS_PER_CALL`]
//! receivers, each up to three ciphertexts: one host batch is one platform call, and a call with
//! more receivers is refused (`invalid-input`), never split here.
//!
//! A virtual number comes back `is_virtual_tel` with `phone_no_a` (the number) and `phone_no_b`
//! (the extension), or as `a-b` in `decrypt_text`: it goes to `phone` + `phone_extension`.
//! Regions are not decrypted (抖店 sends them in the clear on the order), so they are none here.
//!
//! Plaintext is returned and nothing else: no `note`, no log line, no error text carries it.
//!
//! UNSURE, kept here: the answer `data{decrypt_infos[{auth_id, cipher_text, decrypt_text,
//! err_no, err_msg, is_virtual_tel, phone_no_a, phone_no_b}]}`, per item errors in `err_no`.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wharf_sdk::after_sale::{check_batch, split_virtual_phone};
use wharf_sdk::api::Api;
use wharf_sdk::json::Node;
use wharf_sdk::privacy::read_ref;
use wharf_sdk::types::{ConnectorError, DecryptPurpose, DecryptResult, Operation, PlainReceiver, ReceiverRef};

pub const BATCH_DECRYPT: &str = "order.batchDecrypt";
/// 抖店's limit: ciphertexts per `order.batchDecrypt`.
pub const MAX_CIPHERTEXTS_PER_CALL: u32 = 50;
/// Ciphertexts one receiver takes at most: name, phone, address.
pub const CIPHERTEXTS_PER_RECEIVER: u32 = 3;
/// The declared batch limit of `decrypt-receivers`: as many receivers as fit one call.
pub const MAX_RECEIVERS_PER_CALL: u32 = MAX_CIPHERTEXTS_PER_CALL / CIPHERTEXTS_PER_RECEIVER;

/// The labels a receiver's `privacy_ref` must hold.
const LABELS: [&str; 3] = ["name", "phone", "address"];

/// The ciphertexts of one reference, or why they cannot be read (the text itself is never
/// quoted: it is a ciphertext, but a caller may have put anything there).
fn ciphertexts(r: &ReceiverRef) -> Result<BTreeMap<String, String>, ConnectorError> {
    if r.order_id.is_empty() || !r.order_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::invalid_input(
            "order_id",
            format!("expected a 抖店 order id (decimal digits), got {:?}", r.order_id),
        ));
    }
    let labelled = read_ref(&r.privacy_ref).ok_or_else(|| {
        ConnectorError::invalid_input(
            "privacy_ref",
            format!("order {}: expected the labelled ciphertexts this plugin writes, got another text", r.order_id),
        )
    })?;
    for label in LABELS {
        if labelled.get(label).is_none_or(|c| c.is_empty()) {
            return Err(ConnectorError::invalid_input(
                "privacy_ref",
                format!("order {}: expected a `{label}` ciphertext, got none", r.order_id),
            ));
        }
    }
    Ok(labelled.into_iter().filter(|(label, _)| LABELS.contains(&label.as_str())).collect())
}

/// One decrypted item: its plaintext and, for a virtual phone, the extension.
struct Plain {
    text: String,
    extension: Option<String>,
}

/// Each item's answer by order id and ciphertext.
type Answers = BTreeMap<(String, String), Result<Plain, ConnectorError>>;

/// `decrypt_infos[]` by order (`auth_id`) and ciphertext, each plaintext or the item's own
/// error. By both: two orders of one buyer may carry the very same ciphertext.
fn read_answer(data: &Value) -> Result<Answers, ConnectorError> {
    let root = Node::root(data, "data");
    let mut out = BTreeMap::new();
    let Some(infos) = root.opt_array("decrypt_infos")? else {
        return Ok(out);
    };
    for info in infos.elements()? {
        let cipher = info.str("cipher_text")?;
        let auth_id = info.id("auth_id")?;
        let err_no = if info.has("err_no") { info.i64("err_no")? } else { 0 };
        let item = if err_no != 0 {
            Err(ConnectorError::platform(err_no.to_string(), info.opt_str("err_msg")?.unwrap_or_default()))
        } else {
            let text = info.str("decrypt_text")?;
            let is_virtual = info.opt_bool("is_virtual_tel")?.unwrap_or(false);
            let (a, b) = (info.opt_str("phone_no_a")?, info.opt_str("phone_no_b")?);
            Ok(match (is_virtual, a, b) {
                (true, Some(a), Some(b)) => Plain { text: a, extension: Some(b) },
                _ => {
                    let (text, extension) = split_virtual_phone(&text, is_virtual);
                    Plain { text, extension }
                }
            })
        };
        out.insert((auth_id, cipher), item);
    }
    Ok(out)
}

/// The receivers behind `refs`, one answer per reference, in order. `purpose` is the host's
/// audit; 抖店's decrypt takes none.
pub fn decrypt_receivers(
    api: &mut impl Api,
    _purpose: DecryptPurpose,
    refs: Vec<ReceiverRef>,
) -> Result<Vec<DecryptResult>, ConnectorError> {
    check_batch(Operation::DecryptReceivers, refs.len(), MAX_RECEIVERS_PER_CALL)?;
    let read: Vec<Result<BTreeMap<String, String>, ConnectorError>> = refs.iter().map(ciphertexts).collect();
    let cipher_infos: Vec<Value> = refs
        .iter()
        .zip(&read)
        .filter_map(|(r, c)| c.as_ref().ok().map(|c| (r, c)))
        .flat_map(|(r, c)| c.values().map(move |cipher| json!({"auth_id": r.order_id, "cipher_text": cipher})))
        .collect();
    let mut answers = if cipher_infos.is_empty() {
        BTreeMap::new()
    } else {
        read_answer(&api.call(BATCH_DECRYPT, &json!({"cipher_infos": cipher_infos}))?)?
    };
    Ok(refs
        .into_iter()
        .zip(read)
        .map(|(r, ciphers)| {
            let mut ciphers = ciphers?;
            let mut take = |label: &str| -> Result<Plain, ConnectorError> {
                let cipher = ciphers.remove(label).unwrap_or_default();
                match answers.remove(&(r.order_id.clone(), cipher)) {
                    Some(Ok(plain)) => Ok(plain),
                    Some(Err(ConnectorError::Platform(e))) => Err(ConnectorError::platform(
                        e.code,
                        format!("order {}: the `{label}` ciphertext: {}", r.order_id, e.message),
                    )),
                    Some(Err(other)) => Err(other),
                    None => Err(ConnectorError::transient(format!(
                        "order {}: 抖店 answered nothing for the `{label}` ciphertext",
                        r.order_id
                    ))),
                }
            };
            let name = take("name")?.text;
            let phone = take("phone")?;
            let address = take("address")?.text;
            Ok(PlainReceiver {
                order_id: r.order_id,
                name,
                phone: phone.text,
                phone_extension: phone.extension,
                province: None,
                city: None,
                district: None,
                town: None,
                address,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_sdk::api::Scripted;

    fn reference(order_id: &str, n: u32) -> ReceiverRef {
        ReceiverRef {
            order_id: order_id.into(),
            privacy_ref: json!({"name": format!("##N{n}*x#1##"), "phone": format!("$$P{n}*x$1$$"), "address": format!("##A{n}*x#1##")})
                .to_string(),
        }
    }

    fn ok(cipher: &str, auth_id: &str, text: &str) -> Value {
        json!({"auth_id": auth_id, "cipher_text": cipher, "decrypt_text": text, "err_no": 0, "err_msg": "",
            "is_virtual_tel": false, "phone_no_a": "", "phone_no_b": ""})
    }

    #[test]
    fn one_call_per_batch_with_every_ciphertext_and_virtual_numbers_split() {
        let answer = json!({"decrypt_infos": [
            ok("##N1*x#1##", "691", "张三"),
            {"auth_id": "691", "cipher_text": "$$P1*x$1$$", "decrypt_text": "13700001111-5678", "err_no": 0,
             "is_virtual_tel": true, "phone_no_a": "13700001111", "phone_no_b": "5678"},
            ok("##A1*x#1##", "691", "文三路100号"),
            ok("##N2*x#1##", "692", "李四"),
            {"auth_id": "692", "cipher_text": "$$P2*x$1$$", "decrypt_text": "17000002222-12", "err_no": 0, "is_virtual_tel": true},
            ok("##A2*x#1##", "692", "天目山路1号"),
            ok("##N3*x#1##", "693", "王五"),
            {"auth_id": "693", "cipher_text": "$$P3*x$1$$", "decrypt_text": "", "err_no": 300008, "err_msg": "密文不存在"},
            ok("##A3*x#1##", "693", "x"),
        ]});
        let mut api = Scripted::answering(vec![Ok(answer)]);
        let refs = vec![
            reference("691", 1),
            reference("692", 2),
            reference("693", 3),
            ReceiverRef { order_id: "694".into(), privacy_ref: "OAID".into() },
        ];
        let out = decrypt_receivers(&mut api, DecryptPurpose::Waybill, refs).unwrap();
        assert_eq!(api.methods(), [BATCH_DECRYPT]);
        assert_eq!(api.calls[0].1["cipher_infos"].as_array().unwrap().len(), 9);
        assert_eq!(api.calls[0].1["cipher_infos"][0]["auth_id"], "691");
        let first = out[0].as_ref().unwrap();
        assert_eq!((first.name.as_str(), first.address.as_str()), ("张三", "文三路100号"));
        assert_eq!((first.phone.as_str(), first.phone_extension.as_deref()), ("13700001111", Some("5678")));
        let second = out[1].as_ref().unwrap();
        assert_eq!((second.phone.as_str(), second.phone_extension.as_deref()), ("17000002222", Some("12")));
        assert!(
            matches!(&out[2], Err(ConnectorError::Platform(e)) if e.code == "300008" && !e.message.contains("王五"))
        );
        assert!(matches!(&out[3], Err(ConnectorError::InvalidInput(f)) if f.field == "privacy_ref"));
    }

    /// Two orders of one buyer can carry the very same ciphertexts: each gets its answer.
    #[test]
    fn orders_sharing_a_ciphertext_each_get_their_answer() {
        let answer = json!({"decrypt_infos": [
            ok("##N1*x#1##", "691", "张三"), ok("$$P1*x$1$$", "691", "13700001111"), ok("##A1*x#1##", "691", "文三路1号"),
            ok("##N1*x#1##", "692", "张三"), ok("$$P1*x$1$$", "692", "13700001111"), ok("##A1*x#1##", "692", "文三路1号"),
        ]});
        let mut api = Scripted::answering(vec![Ok(answer)]);
        let out = decrypt_receivers(&mut api, DecryptPurpose::Waybill, vec![reference("691", 1), reference("692", 1)])
            .unwrap();
        for (answer, order) in out.iter().zip(["691", "692"]) {
            let r = answer.as_ref().unwrap_or_else(|e| panic!("{order}: {e:?}"));
            assert_eq!((r.order_id.as_str(), r.name.as_str()), (order, "张三"));
        }
    }

    #[test]
    fn more_than_a_call_takes_is_refused_and_the_limit_fits_one_call() {
        assert_eq!(MAX_RECEIVERS_PER_CALL, 16);
        const { assert!(MAX_RECEIVERS_PER_CALL * CIPHERTEXTS_PER_RECEIVER <= MAX_CIPHERTEXTS_PER_CALL) };
        let mut api = Scripted::default();
        let refs = (0..=MAX_RECEIVERS_PER_CALL).map(|n| reference("691", n)).collect();
        assert!(matches!(
            decrypt_receivers(&mut api, DecryptPurpose::Waybill, refs),
            Err(ConnectorError::InvalidInput(f)) if f.field == "refs"
        ));
        assert!(api.calls.is_empty());
    }

    #[test]
    fn a_whole_call_error_fails_the_call() {
        let mut api = Scripted::answering(vec![Err(ConnectorError::auth("expired"))]);
        let out = decrypt_receivers(&mut api, DecryptPurpose::AfterSale, vec![reference("691", 1)]);
        assert!(matches!(out, Err(ConnectorError::Auth(_))));
    }
}
