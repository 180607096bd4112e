//! `decrypt-receivers` over `jingdong.jos.order.oaid.decrypt`, each decrypt logged back to JD
//! with `jingdong.security.orderinfo.log.upload` in the same call (JD requires every access to
//! receiver data to be logged; canonical-model.md, Decrypt).
//!
//! A receiver's `privacy_ref` is its labelled ciphertexts with the order's `oaid`
//! ([`crate::mapping::PRIVACY_REF_FIELD`]); the OAID is what the decrypt takes. The plaintext is
//! handed back only once its access is logged: a log upload that fails fails the call, and the
//! plaintext is dropped. Virtual numbers (`isVirtualNumber`, `a-b`) go to `phone` +
//! `phone_extension`.
//!
//! Plaintext is returned and nothing else: no `note`, no log line, no error text carries it.
//!
//! UNSURE, kept here (platforms.md names only the methods): the decrypt takes
//! `getReceiverInfoListReqVO{scenesType, orderInfos[{orderId, oaid}]}` and answers
//! `returnType{success, code, msg, data[{orderId, oaid, customerName, consMobilePhone,
//! isVirtualNumber, province, city, county, town, fullAddress}]}`, `scenesType` taking TOP's
//! scene codes ([`scene`]); at most [`MAX_PER_CALL`] orders a call (JD documents no number we
//! could find; TOP's 20 is taken); the log upload takes `orderIds` (comma list), `operation`
//! ([`LOG_OPERATION`]), `userAccount` ([`LOG_USER`]) and answers `uploadResult{success}`.

use serde_json::{Value, json};
use wharf_sdk::after_sale::{check_batch, split_virtual_phone};
use wharf_sdk::api::Api;
use wharf_sdk::json::Node;
use wharf_sdk::privacy::read_ref;
use wharf_sdk::types::{ConnectorError, DecryptPurpose, DecryptResult, Operation, PlainReceiver, ReceiverRef};

use crate::jos;
use crate::mapping::PRIVACY_REF_FIELD;

pub const OAID_DECRYPT: &str = "jingdong.jos.order.oaid.decrypt";
pub const LOG_UPLOAD: &str = "jingdong.security.orderinfo.log.upload";
/// Orders per decrypt (see the module docs).
pub const MAX_PER_CALL: u32 = 20;
/// What the log says was done.
pub const LOG_OPERATION: &str = "decrypt";
/// Who the log says did it: the connector, on the host's behalf (the host audits the person).
pub const LOG_USER: &str = "wharf";

/// The scene of a purpose, in TOP's codes (as JD's decrypt takes them): an order scene to ship,
/// an after-sales scene to handle a return or reissue (see the Taobao plugin's choice).
pub fn scene(purpose: DecryptPurpose) -> &'static str {
    match purpose {
        DecryptPurpose::Waybill | DecryptPurpose::Delivery => "1001",
        DecryptPurpose::AfterSale => "2001",
    }
}

fn oaid(r: &ReceiverRef) -> Result<String, ConnectorError> {
    if r.order_id.is_empty() || !r.order_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::invalid_input(
            "order_id",
            format!("expected a JD order id (decimal digits), got {:?}", r.order_id),
        ));
    }
    read_ref(&r.privacy_ref)
        .and_then(|mut labelled| labelled.remove(PRIVACY_REF_FIELD))
        .filter(|o| !o.is_empty())
        .ok_or_else(|| {
            ConnectorError::invalid_input(
                "privacy_ref",
                format!("order {}: expected the labelled ciphertexts with the order's oaid, got none", r.order_id),
            )
        })
}

fn plain(order_id: &str, n: &Node<'_>) -> Result<PlainReceiver, ConnectorError> {
    let is_virtual = n.opt_bool("isVirtualNumber")?.unwrap_or(false);
    let (phone, phone_extension) = split_virtual_phone(&n.opt_str("consMobilePhone")?.unwrap_or_default(), is_virtual);
    Ok(PlainReceiver {
        order_id: order_id.to_owned(),
        name: n.opt_str("customerName")?.unwrap_or_default(),
        phone,
        phone_extension,
        province: n.opt_str("province")?,
        city: n.opt_str("city")?,
        district: n.opt_str("county")?,
        town: n.opt_str("town")?,
        address: n.opt_str("fullAddress")?.unwrap_or_default(),
    })
}

/// The receivers behind `refs`, one answer per reference, in order: one decrypt for all, then
/// one log upload naming every order decrypted.
pub fn decrypt_receivers(
    api: &mut impl Api,
    purpose: DecryptPurpose,
    refs: Vec<ReceiverRef>,
) -> Result<Vec<DecryptResult>, ConnectorError> {
    check_batch(Operation::DecryptReceivers, refs.len(), MAX_PER_CALL)?;
    let oaids: Vec<Result<String, ConnectorError>> = refs.iter().map(oaid).collect();
    let infos: Vec<Value> = refs
        .iter()
        .zip(&oaids)
        .filter_map(|(r, o)| o.as_ref().ok().map(|o| json!({"orderId": r.order_id, "oaid": o})))
        .collect();
    if infos.is_empty() {
        // No reference was readable: each is its own error, and nothing is asked.
        return Ok(oaids.into_iter().filter_map(Result::err).map(Err).collect());
    }
    let vo = json!({"scenesType": scene(purpose), "orderInfos": infos});
    let response = api.call(OAID_DECRYPT, &json!({"getReceiverInfoListReqVO": vo}))?;
    let root = Node::root(&response, jos::response_key(OAID_DECRYPT));
    let result = jos::business(root.required("returnType")?)?;
    let data = match result.opt_array("data")? {
        Some(list) => list.elements()?,
        None => Vec::new(),
    };

    let answers: Vec<DecryptResult> = refs
        .iter()
        .zip(oaids)
        .map(|(r, o)| {
            let o = o?;
            let found = data.iter().find(|n| {
                n.opt_id("orderId").ok().flatten().as_deref() == Some(r.order_id.as_str())
                    && n.opt_str("oaid").ok().flatten().is_none_or(|given| given == o)
            });
            match found {
                Some(n) => plain(&r.order_id, n),
                None => {
                    Err(ConnectorError::not_found(format!("order {}: JD decrypted nothing for its oaid", r.order_id)))
                }
            }
        })
        .collect();

    // Every access is logged before any plaintext leaves the plugin.
    let decrypted: Vec<&str> =
        refs.iter().zip(&answers).filter(|(_, a)| a.is_ok()).map(|(r, _)| r.order_id.as_str()).collect();
    if !decrypted.is_empty() {
        let params = json!({"orderIds": decrypted.join(","), "operation": LOG_OPERATION, "userAccount": LOG_USER});
        let response = api.call(LOG_UPLOAD, &params)?;
        jos::business(Node::root(&response, jos::response_key(LOG_UPLOAD)).required("uploadResult")?)?;
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_sdk::api::Scripted;

    fn reference(order_id: &str, oaid: &str) -> ReceiverRef {
        ReceiverRef { order_id: order_id.into(), privacy_ref: json!({"name": "~AgAAAA1~", "oaid": oaid}).to_string() }
    }

    fn decrypted() -> Result<Value, ConnectorError> {
        Ok(json!({"returnType": {"success": true, "code": "0", "data": [
            {"orderId": "301", "oaid": "OA1", "customerName": "张三", "consMobilePhone": "13700001111-5678",
             "isVirtualNumber": true, "province": "北京", "city": "北京市", "county": "朝阳区", "town": "", "fullAddress": "北京朝阳区建国路1号"},
            {"orderId": 302, "oaid": "OA2", "customerName": "李四", "consMobilePhone": "13812345678", "isVirtualNumber": false,
             "fullAddress": "上海浦东1号"},
        ]}}))
    }

    #[test]
    fn decrypts_then_logs_every_order_decrypted() {
        let mut api = Scripted::answering(vec![decrypted(), Ok(json!({"uploadResult": {"success": true}}))]);
        let refs = vec![
            reference("301", "OA1"),
            reference("302", "OA2"),
            reference("303", "OA3"),
            ReceiverRef { order_id: "304".into(), privacy_ref: "OA4".into() },
        ];
        let out = decrypt_receivers(&mut api, DecryptPurpose::Delivery, refs).unwrap();
        assert_eq!(api.methods(), [OAID_DECRYPT, LOG_UPLOAD]);
        let vo = &api.calls[0].1["getReceiverInfoListReqVO"];
        assert_eq!(vo["scenesType"], "1001");
        assert_eq!(vo["orderInfos"].as_array().unwrap().len(), 3);
        assert_eq!(vo["orderInfos"][0], json!({"orderId": "301", "oaid": "OA1"}));
        let first = out[0].as_ref().unwrap();
        assert_eq!((first.phone.as_str(), first.phone_extension.as_deref()), ("13700001111", Some("5678")));
        assert_eq!((first.district.as_deref(), first.town.as_deref()), (Some("朝阳区"), None));
        assert_eq!(out[1].as_ref().unwrap().phone_extension, None);
        assert!(matches!(&out[2], Err(ConnectorError::NotFound(_))));
        assert!(matches!(&out[3], Err(ConnectorError::InvalidInput(f)) if f.field == "privacy_ref"));
        assert_eq!(api.param(1, "orderIds").as_deref(), Some("301,302"));
        assert_eq!(api.param(1, "operation").as_deref(), Some(LOG_OPERATION));
    }

    #[test]
    fn no_plaintext_leaves_unlogged_and_the_limit_is_refused() {
        let mut api = Scripted::answering(vec![
            decrypted(),
            Ok(json!({"uploadResult": {"success": false, "errorCode": "LOG_FAILED"}})),
        ]);
        let out = decrypt_receivers(&mut api, DecryptPurpose::AfterSale, vec![reference("301", "OA1")]);
        assert!(matches!(out, Err(ConnectorError::Platform(e)) if e.code == "LOG_FAILED"));
        assert_eq!(api.calls[0].1["getReceiverInfoListReqVO"]["scenesType"], "2001");
        let mut api = Scripted::default();
        let refs = (0..=MAX_PER_CALL).map(|n| reference("1", &format!("OA{n}"))).collect();
        assert!(matches!(
            decrypt_receivers(&mut api, DecryptPurpose::Waybill, refs),
            Err(ConnectorError::InvalidInput(f)) if f.field == "refs"
        ));
        // Nothing readable: no call at all, each reference its own error.
        let out = decrypt_receivers(&mut api, DecryptPurpose::Waybill, vec![reference("x", "OA1")]).unwrap();
        assert!(matches!(&out[0], Err(ConnectorError::InvalidInput(f)) if f.field == "order_id"));
        assert!(api.calls.is_empty());
    }
}
