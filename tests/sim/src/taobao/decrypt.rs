//! `taobao.top.oaid.decrypt`: the real receiver behind a trade's OAID (platforms.md, "Receiver
//! privacy"): at most 20 per call, each with a scene code (1001–1007 order scenes, 2001–2002
//! after-sales); some phones come back as virtual numbers `18877771111-123`.
//!
//! The shop keeps only the masked receiver; the plaintext is derived from the OAID and the
//! mask ([`plaintext`]: every `*` filled in, deterministically), so the same OAID always
//! decrypts alike. UNSURE, kept here: the request is `query_list`, a JSON array of `{oaid, tid,
//! scene}`; the answer `top_oaid_decrypt_response.receiver_list.receiver[]` with `oaid`, `tid`,
//! `name`, `mobile`, `phone`, `state`, `city`, `district`, `town`, `address_detail`, `zip`
//! and, for a virtual number, `secret_no_expire_time`; an unknown OAID (or one not of that
//! trade) fails the call with code 15 [`SUB_CODE_DECRYPT_FAILED`].

use serde_json::{Value, json};

use super::error::TopError;
use super::methods::{Call, response_root};
use super::model::SimTrade;
use super::state::State;
use super::wire::gmt8;
use crate::privacy::{DecryptCall, DecryptItem, PlainReceiver, answered_phone, digest};
use crate::rng::SimRng;

pub const OAID_DECRYPT: &str = "taobao.top.oaid.decrypt";
/// At most this many OAIDs per call.
pub const MAX_PER_CALL: usize = 20;
/// The scene codes TOP accepts.
pub const SCENES: &[&str] = &["1001", "1002", "1003", "1004", "1005", "1006", "1007", "2001", "2002"];
pub const SUB_CODE_DECRYPT_FAILED: &str = "isv.oaid-decrypt-failed";
/// A virtual number lasts this long (UNSURE).
const VIRTUAL_NUMBER_TTL_MS: i64 = 15 * 86_400 * 1000;

const GIVEN_NAMES: &[&str] = &["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军"];

/// The receiver behind `trade`'s OAID, as the decrypt answers it; `None` when the trade has no
/// OAID or no receiver.
pub fn plaintext(trade: &SimTrade) -> Option<PlainReceiver> {
    let oaid = trade.oaid.as_deref()?;
    let r = trade.receiver.as_ref()?;
    let mut rng = SimRng::new(digest(oaid));
    let mut fill = |masked: &str| -> String {
        masked.chars().map(|c| if c == '*' { char::from(b'1' + rng.below(9) as u8) } else { c }).collect()
    };
    let real_mobile = r.mobile.as_deref().or(r.phone.as_deref()).map(&mut fill).unwrap_or_default();
    let address = fill(&r.address);
    let surname = r.name.trim_end_matches('*');
    let name = format!("{surname}{}", GIVEN_NAMES[rng.below(GIVEN_NAMES.len() as u64) as usize]);
    let (phone, virtual_phone) = answered_phone(oaid, &real_mobile);
    Some(PlainReceiver {
        name,
        phone,
        virtual_phone,
        province: r.state.clone(),
        city: r.city.clone(),
        district: r.district.clone(),
        town: r.town.clone(),
        address,
    })
}

/// Runs the call and records it in `state`'s decrypt log.
pub fn decrypt(state: &mut State, call: Call<'_>) -> Result<String, TopError> {
    let mut record = DecryptCall {
        method: OAID_DECRYPT.to_owned(),
        scene: None,
        items: Vec::new(),
        refused: None,
        at_ms: call.now_ms,
    };
    let outcome = answer(state, &call, &mut record);
    if let Err(e) = &outcome {
        record.refused = Some(e.sub_msg.clone().unwrap_or_else(|| e.msg.clone()));
        record.items.iter_mut().for_each(|i| i.ok = false);
    }
    state.decrypt_calls.push(record);
    outcome
}

fn answer(state: &State, call: &Call<'_>, record: &mut DecryptCall) -> Result<String, TopError> {
    let text = call.params.get("query_list").ok_or_else(|| TopError::missing("query_list"))?;
    let Ok(Value::Array(list)) = serde_json::from_str::<Value>(text) else {
        return Err(TopError::invalid("query_list", "query_list must be a JSON array of {oaid, tid, scene}"));
    };
    if list.is_empty() || list.len() > MAX_PER_CALL {
        return Err(TopError::invalid(
            "query_list",
            format!("query_list must hold 1..={MAX_PER_CALL} items, got {}", list.len()),
        ));
    }
    let field = |q: &Value, k: &str| match q.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let mut receivers = Vec::with_capacity(list.len());
    for q in &list {
        let oaid = field(q, "oaid").unwrap_or_default();
        let tid = field(q, "tid").unwrap_or_default();
        let scene = field(q, "scene");
        record.scene = record.scene.clone().or_else(|| scene.clone());
        record.items.push(DecryptItem { reference: oaid.clone(), order_id: tid.clone(), ok: false });
        match scene.as_deref() {
            Some(s) if SCENES.contains(&s) => {}
            other => {
                return Err(TopError::invalid(
                    "scene",
                    format!("scene must be one of {}, got {other:?}", SCENES.join(",")),
                ));
            }
        }
        let trade =
            tid.parse::<u64>().ok().and_then(|t| state.trade(t)).filter(|t| t.oaid.as_deref() == Some(oaid.as_str()));
        let (Some(trade), Some(plain)) = (trade, trade.and_then(plaintext)) else {
            return Err(TopError::remote(SUB_CODE_DECRYPT_FAILED, format!("oaid 解密失败: tid {tid}")));
        };
        let r = trade.receiver.as_ref();
        let mut out = json!({
            "oaid": oaid,
            "tid": tid,
            "name": plain.name,
            "mobile": plain.phone,
            "phone": "",
            "state": plain.province,
            "city": plain.city,
            "district": plain.district,
            "town": plain.town.clone().unwrap_or_default(),
            "address_detail": plain.address,
            "zip": r.and_then(|r| r.zip.clone()).unwrap_or_default(),
        });
        if plain.virtual_phone {
            out["secret_no_expire_time"] = json!(gmt8(call.now_ms + VIRTUAL_NUMBER_TTL_MS));
        }
        receivers.push(out);
    }
    record.items.iter_mut().for_each(|i| i.ok = true);
    Ok(json!({ response_root(OAID_DECRYPT): {"receiver_list": {"receiver": receivers}} }).to_string())
}
