//! `decrypt-receivers` over `taobao.top.oaid.decrypt`: the real receiver behind a trade's OAID
//! (the order's `privacy_ref`), for printing a waybill.
//!
//! TOP takes at most [`MAX_PER_CALL`] OAIDs a call, each with a scene code ([`scene`]); that is
//! the batch limit the descriptor declares, and a call with more is refused (`invalid-input`),
//! never split here (the host splits). A virtual number comes back `18877771111-123` in
//! `mobile`: `phone` + `phone_extension`.
//!
//! Plaintext is returned and nothing else: no `note`, no log line, no error text carries it.
//!
//! UNSURE, kept here: the request is `query_list`, a JSON array of `{oaid, tid, scene}`; the
//! answer `receiver_list.receiver[]` with `oaid`, `tid`, `name`, `mobile`, `phone`, `state`,
//! `city`, `district`, `town`, `address_detail`. An OAID TOP cannot decrypt fails the call
//! (error 15), which is the call's error.

use serde_json::{Value, json};
use wharf_sdk::after_sale::{check_batch, split_phone};
use wharf_sdk::api::Api;
use wharf_sdk::json::Node;
use wharf_sdk::types::{ConnectorError, DecryptPurpose, DecryptResult, Operation, PlainReceiver, ReceiverRef};

use crate::top;

pub const OAID_DECRYPT: &str = "taobao.top.oaid.decrypt";
/// TOP's limit: OAIDs per call.
pub const MAX_PER_CALL: u32 = 20;

/// The scene code of a purpose. TOP's order scenes are 1001–1007 and its after-sale scenes
/// 2001–2002 (platforms.md). UNSURE which code within each range names what, so one per range,
/// kept here alone:
/// - `waybill` and `delivery` → 1001, the first order scene: both reveal the receiver to ship
///   that order (a label, or a delivery note or call), which is what the order scenes are for;
/// - `after_sale` → 2001, the first after-sales scene: the receiver is revealed to handle a
///   return or reissue, which TOP audits apart from shipping.
pub fn scene(purpose: DecryptPurpose) -> &'static str {
    match purpose {
        DecryptPurpose::Waybill | DecryptPurpose::Delivery => "1001",
        DecryptPurpose::AfterSale => "2001",
    }
}

fn check(r: &ReceiverRef) -> Result<(), ConnectorError> {
    if r.order_id.is_empty() || !r.order_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::invalid_input(
            "order_id",
            format!("expected a Taobao tid (decimal digits), got {:?}", r.order_id),
        ));
    }
    if r.privacy_ref.trim().is_empty() || r.privacy_ref.starts_with('{') {
        return Err(ConnectorError::invalid_input(
            "privacy_ref",
            format!("order {}: expected the trade's OAID, got another text", r.order_id),
        ));
    }
    Ok(())
}

fn plain(order_id: &str, r: &Node<'_>) -> Result<PlainReceiver, ConnectorError> {
    // A mobile never has a `-` of its own: one there is a virtual number's extension. A
    // landline (`phone`) is kept whole.
    let (phone, phone_extension) = match r.opt_str("mobile")? {
        Some(mobile) => split_phone(&mobile),
        None => (r.opt_str("phone")?.unwrap_or_default(), None),
    };
    Ok(PlainReceiver {
        order_id: order_id.to_owned(),
        name: r.opt_str("name")?.unwrap_or_default(),
        phone,
        phone_extension,
        province: r.opt_str("state")?,
        city: r.opt_str("city")?,
        district: r.opt_str("district")?,
        town: r.opt_str("town")?,
        address: r.opt_str("address_detail")?.unwrap_or_default(),
    })
}

/// The receivers behind `refs`, one answer per reference, in order; one call for all.
pub fn decrypt_receivers(
    api: &mut impl Api,
    purpose: DecryptPurpose,
    refs: Vec<ReceiverRef>,
) -> Result<Vec<DecryptResult>, ConnectorError> {
    check_batch(Operation::DecryptReceivers, refs.len(), MAX_PER_CALL)?;
    let checked: Vec<Result<(), ConnectorError>> = refs.iter().map(check).collect();
    let query: Vec<Value> = refs
        .iter()
        .zip(&checked)
        .filter(|(_, ok)| ok.is_ok())
        .map(|(r, _)| json!({"oaid": r.privacy_ref, "tid": r.order_id, "scene": scene(purpose)}))
        .collect();
    let response = if query.is_empty() {
        Value::Null
    } else {
        api.call(OAID_DECRYPT, &json!({"query_list": Value::Array(query).to_string()}))?
    };
    let root = Node::root(&response, top::response_key(OAID_DECRYPT));
    let receivers = match root.opt_object("receiver_list")? {
        Some(list) => list.required("receiver")?.elements()?,
        None => Vec::new(),
    };
    refs.into_iter()
        .zip(checked)
        .map(|(r, ok)| {
            if let Err(e) = ok {
                return Ok(Err(e));
            }
            let found = receivers.iter().find(|n| {
                n.opt_str("oaid").ok().flatten().as_deref() == Some(r.privacy_ref.as_str())
                    && n.opt_id("tid").ok().flatten().is_none_or(|tid| tid == r.order_id)
            });
            Ok(match found {
                Some(n) => plain(&r.order_id, n),
                None => {
                    Err(ConnectorError::not_found(format!("order {}: TOP decrypted nothing for its OAID", r.order_id)))
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_sdk::api::Scripted;

    fn reference(tid: &str, oaid: &str) -> ReceiverRef {
        ReceiverRef { order_id: tid.into(), privacy_ref: oaid.into() }
    }

    #[test]
    fn one_call_with_the_scene_of_the_purpose_and_virtual_numbers_split() {
        let answer = json!({"receiver_list": {"receiver": [
            {"oaid": "OA1", "tid": "3912345678901234567", "name": "张三", "mobile": "18877771111-123",
             "state": "浙江省", "city": "杭州市", "district": "西湖区", "town": "", "address_detail": "文三路100号",
             "secret_no_expire_time": "2026-11-26 00:00:00"},
            {"oaid": "OA2", "tid": 42, "name": "李四", "mobile": "13812345678", "address_detail": "天目山路1号"},
        ]}});
        let mut api = Scripted::answering(vec![Ok(answer)]);
        let refs = vec![
            reference("3912345678901234567", "OA1"),
            reference("42", "OA2"),
            reference("43", "OA3"),
            reference("44", r###"{"name":"##x##"}"###),
        ];
        let out = decrypt_receivers(&mut api, DecryptPurpose::Waybill, refs).unwrap();
        assert_eq!(api.methods(), [OAID_DECRYPT]);
        let query: Value = serde_json::from_str(&api.param(0, "query_list").unwrap()).unwrap();
        assert_eq!(query.as_array().unwrap().len(), 3);
        assert_eq!(query[0], json!({"oaid": "OA1", "tid": "3912345678901234567", "scene": "1001"}));
        let first = out[0].as_ref().unwrap();
        assert_eq!((first.phone.as_str(), first.phone_extension.as_deref()), ("18877771111", Some("123")));
        assert_eq!(
            (first.name.as_str(), first.province.as_deref(), first.town.as_deref()),
            ("张三", Some("浙江省"), None)
        );
        let second = out[1].as_ref().unwrap();
        assert_eq!((second.phone.as_str(), second.phone_extension.as_deref()), ("13812345678", None));
        assert!(matches!(&out[2], Err(ConnectorError::NotFound(_))));
        assert!(matches!(&out[3], Err(ConnectorError::InvalidInput(f)) if f.field == "privacy_ref"));
    }

    #[test]
    fn scenes_by_purpose_and_the_limit() {
        assert_eq!((scene(DecryptPurpose::Waybill), scene(DecryptPurpose::Delivery)), ("1001", "1001"));
        assert_eq!(scene(DecryptPurpose::AfterSale), "2001");
        let mut api = Scripted::default();
        let refs = (0..=MAX_PER_CALL).map(|n| reference("1", &format!("OA{n}"))).collect();
        assert!(matches!(
            decrypt_receivers(&mut api, DecryptPurpose::AfterSale, refs),
            Err(ConnectorError::InvalidInput(f)) if f.field == "refs"
        ));
        assert!(api.calls.is_empty());
        let mut api = Scripted::answering(vec![Err(ConnectorError::platform("15", "isv.oaid-decrypt-failed"))]);
        let refs = vec![reference("1", "OA1")];
        assert!(decrypt_receivers(&mut api, DecryptPurpose::AfterSale, refs).is_err());
        assert!(api.param(0, "query_list").unwrap().contains("\"2001\""));
    }
}
