//! TOP's error envelope and the codes the simulator answers with (platforms.md, "Error
//! envelope").

use super::wire::Obj;

/// One TOP error: `{"error_response":{"code":…,"msg":…,"sub_code":…,"sub_msg":…,"request_id":…}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopError {
    pub code: i64,
    pub msg: String,
    pub sub_code: Option<String>,
    pub sub_msg: Option<String>,
}

impl TopError {
    pub fn new(code: i64, msg: impl Into<String>) -> Self {
        Self { code, msg: msg.into(), sub_code: None, sub_msg: None }
    }

    pub fn with_sub(mut self, sub_code: impl Into<String>, sub_msg: impl Into<String>) -> Self {
        self.sub_code = Some(sub_code.into());
        self.sub_msg = Some(sub_msg.into());
        self
    }

    /// Code 7, with the ban's remaining time in the wording TOP uses.
    pub fn throttled(remaining_secs: u64) -> Self {
        Self::new(7, "App Call Limited").with_sub(
            "accesscontrol.limited-by-app-access-count",
            format!("This ban will last for {remaining_secs} more seconds"),
        )
    }

    /// Code 10: the platform is down for a moment; retrying is safe.
    pub fn unavailable() -> Self {
        Self::new(10, "Service Currently Unavailable").with_sub("isp.unknown-error", "服务暂时不可用")
    }

    /// Code 40: a required business or system parameter is absent.
    pub fn missing(param: &str) -> Self {
        Self::new(40, format!("Missing required arguments:{param}"))
            .with_sub("isv.missing-parameter", format!("{param} is required"))
    }

    /// Code 41: a parameter is present but unusable.
    pub fn invalid(param: &str, why: impl Into<String>) -> Self {
        Self::new(41, format!("Invalid arguments:{param}")).with_sub("isv.invalid-parameter", why)
    }

    /// Code 15: the business service refused; `isv.*` sub codes blame the caller.
    pub fn remote(sub_code: impl Into<String>, sub_msg: impl Into<String>) -> Self {
        Self::new(15, "Remote service error").with_sub(sub_code, sub_msg)
    }

    pub fn to_json(&self, request_id: &str) -> String {
        let mut out = String::with_capacity(160);
        out.push_str("{\"error_response\":");
        let mut obj = Obj::open(&mut out);
        obj.num("code", self.code);
        obj.str("msg", &self.msg);
        if let Some(s) = &self.sub_code {
            obj.str("sub_code", s);
        }
        if let Some(s) = &self.sub_msg {
            obj.str("sub_msg", s);
        }
        obj.str("request_id", request_id);
        obj.close();
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_envelope() {
        let json = TopError::throttled(12).to_json("abc123");
        assert_eq!(
            json,
            r#"{"error_response":{"code":7,"msg":"App Call Limited","sub_code":"accesscontrol.limited-by-app-access-count","sub_msg":"This ban will last for 12 more seconds","request_id":"abc123"}}"#
        );
    }
}
