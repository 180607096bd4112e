//! 抖店's answer envelopes and error codes.
//!
//! UNSURE, and kept here alone so it is easy to correct: the codes follow 抖店's published
//! table of platform error codes as open-source SDKs copy it (10000 success, 20000 service
//! unavailable, 40001 missing parameter, 40003 invalid parameter with `sub_code`s such as
//! `isv.signature-invalid` and `isv.access-token-expired`, 40004 invalid business parameter,
//! 50002 business failure, 60000 throttled, 70000 no such API). How long a throttle lasts is
//! not something 抖店 documents; the simulator says it in `sub_msg` as `请N秒后重试`, which is
//! where the plugin reads it. The older envelope carries the same code in `err_no`.

use serde_json::{Value, json};

use super::Envelope;

/// The codes the simulator answers with.
pub mod codes {
    pub const SUCCESS: i64 = 10000;
    pub const SERVICE_UNAVAILABLE: i64 = 20000;
    pub const MISSING_PARAMETER: i64 = 40001;
    pub const INVALID_PARAMETER: i64 = 40003;
    pub const INVALID_BUSINESS_PARAMETER: i64 = 40004;
    pub const BUSINESS_FAILED: i64 = 50002;
    pub const THROTTLED: i64 = 60000;
    pub const NO_SUCH_API: i64 = 70000;
}

/// One error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DyError {
    pub code: i64,
    pub msg: String,
    pub sub_code: String,
    pub sub_msg: String,
}

impl DyError {
    pub fn new(code: i64, msg: &str, sub_code: &str, sub_msg: impl Into<String>) -> Self {
        Self { code, msg: msg.to_owned(), sub_code: sub_code.to_owned(), sub_msg: sub_msg.into() }
    }

    pub fn missing(sub_code: &str, what: &str) -> Self {
        Self::new(codes::MISSING_PARAMETER, "缺少必选参数", sub_code, format!("缺少参数 {what}"))
    }

    pub fn invalid(sub_code: &str, sub_msg: impl Into<String>) -> Self {
        Self::new(codes::INVALID_PARAMETER, "非法的参数", sub_code, sub_msg)
    }

    /// A business parameter the method refuses.
    pub fn business_param(sub_msg: impl Into<String>) -> Self {
        Self::new(codes::INVALID_BUSINESS_PARAMETER, "非法的参数", "isv.business-param-invalid", sub_msg)
    }

    pub fn business_failed(sub_msg: impl Into<String>) -> Self {
        Self::new(codes::BUSINESS_FAILED, "业务处理失败", "isv.business-failed", sub_msg)
    }

    pub fn throttled(retry_after_secs: u64) -> Self {
        Self::new(
            codes::THROTTLED,
            "触发限流，请稍后重试",
            "isv.api-flow-limited",
            format!("触发限流，请{retry_after_secs}秒后重试"),
        )
    }

    pub fn token_expired() -> Self {
        Self::invalid("isv.access-token-expired", "access_token已过期")
    }

    pub fn no_such_api(method: &str) -> Self {
        Self::new(codes::NO_SUCH_API, "接口服务已下线", "isp.api-service-off", format!("API {method} 不存在或已下线"))
    }

    /// The whole answer body in `envelope`'s shape.
    pub fn body(&self, envelope: Envelope, log_id: &str) -> String {
        match envelope {
            Envelope::Current => json!({
                "log_id": log_id, "code": self.code, "msg": self.msg,
                "sub_code": self.sub_code, "sub_msg": self.sub_msg, "data": {},
            }),
            Envelope::Legacy => {
                json!({"err_no": self.code, "message": format!("{}: {}", self.msg, self.sub_msg), "data": null})
            }
        }
        .to_string()
    }
}

/// A successful answer carrying `data`.
pub fn success_body(data: Value, envelope: Envelope, log_id: &str) -> String {
    match envelope {
        Envelope::Current => json!({
            "log_id": log_id, "code": codes::SUCCESS, "msg": "success", "sub_code": "", "sub_msg": "", "data": data,
        }),
        Envelope::Legacy => json!({"err_no": 0, "message": "success", "data": data}),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes() {
        let ok: Value = serde_json::from_str(&success_body(json!({"n": 1}), Envelope::Current, "L1")).unwrap();
        assert_eq!(ok["code"], 10000);
        assert_eq!(ok["data"]["n"], 1);
        assert_eq!(ok["log_id"], "L1");
        let old: Value = serde_json::from_str(&success_body(json!({"n": 1}), Envelope::Legacy, "L1")).unwrap();
        assert_eq!((old["err_no"].as_i64(), old["data"]["n"].as_i64()), (Some(0), Some(1)));
        let e: Value = serde_json::from_str(&DyError::throttled(3).body(Envelope::Current, "L2")).unwrap();
        assert_eq!(e["code"], 60000);
        assert!(e["sub_msg"].as_str().unwrap().contains("3秒"));
        let e: Value = serde_json::from_str(&DyError::token_expired().body(Envelope::Legacy, "L3")).unwrap();
        assert_eq!(e["err_no"], 40003);
        assert!(e["message"].as_str().unwrap().contains("access_token已过期"));
    }
}
