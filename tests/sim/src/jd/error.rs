//! JOS's gateway error envelope and the codes the simulator answers with.
//!
//! `{"error_response":{"code":"12","zh_desc":"无效签名","en_desc":"Invalid Signature"}}`: the
//! code is a string. The codes and texts below follow JOS's published gateway table (2, 4, 5,
//! 7, 8, 11, 12, 14, 15) and platforms.md (19); the ones marked UNSURE are our reading, kept
//! here alone so they are easy to correct.

use serde_json::json;

/// The JOS gateway codes the simulator uses.
pub mod codes {
    /// "限制时间内调用失败次数" / "App Call Limited". UNSURE: the most plausible JOS throttle
    /// code; JOS's text carries no wait, so the simulator appends TOP's wording
    /// ("This ban will last for N more seconds": JOS grew out of TOP) and the JD plugin reads
    /// it from there.
    pub const CALL_LIMITED: &str = "2";
    pub const MISSING_VERSION: &str = "4";
    pub const UNSUPPORTED_VERSION: &str = "5";
    pub const MISSING_TIMESTAMP: &str = "7";
    pub const INVALID_TIMESTAMP: &str = "8";
    pub const MISSING_SIGNATURE: &str = "11";
    pub const INVALID_SIGNATURE: &str = "12";
    /// UNSURE: a `360buy_param_json` that is not a JSON object.
    pub const INVALID_PARAM_JSON: &str = "13";
    pub const MISSING_METHOD: &str = "14";
    pub const INVALID_METHOD: &str = "15";
    /// UNSURE: missing and unknown app keys.
    pub const MISSING_APP_KEY: &str = "16";
    pub const INVALID_APP_KEY: &str = "17";
    /// UNSURE: a request without `access_token`.
    pub const MISSING_ACCESS_TOKEN: &str = "18";
    /// An expired, revoked or unknown access token (platforms.md).
    pub const INVALID_ACCESS_TOKEN: &str = "19";
}

/// One refusal at the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JosError {
    pub code: &'static str,
    pub zh_desc: String,
    pub en_desc: String,
}

impl JosError {
    pub fn new(code: &'static str, zh_desc: impl Into<String>, en_desc: impl Into<String>) -> Self {
        Self { code, zh_desc: zh_desc.into(), en_desc: en_desc.into() }
    }

    /// Throttled for `secs` more seconds (see [`codes::CALL_LIMITED`]).
    pub fn throttled(secs: u64) -> Self {
        Self::new(
            codes::CALL_LIMITED,
            format!("限制时间内调用失败次数，{secs}秒后解除"),
            format!("App Call Limited, This ban will last for {secs} more seconds"),
        )
    }

    pub fn token_expired() -> Self {
        Self::new(codes::INVALID_ACCESS_TOKEN, "token已过期或者不存在，请重新授权访问", "Invalid access_token")
    }

    pub fn to_json(&self) -> String {
        json!({"error_response": {"code": self.code, "zh_desc": self.zh_desc, "en_desc": self.en_desc}}).to_string()
    }
}
