//! ERP customers → ECShop users (`push-customers`).
//!
//! ECShop 2.7 users (`ecs_users`) have no company, credit-code or ERP-number column. Which
//! user an ERP customer is: UNSURE, and decided in one place, the bridge's
//! `wharf_match_customer`: the given `platform_customer_id` (a user_id) when the host knows
//! it, else the user whose login name (`user_name`) is the customer's 统一社会信用代码 (B2B
//! shops register companies under it). The mapping (user, ERP code, credit code, name) goes
//! into the bridge's own table `ecs_wharf_customer`. Not matched: `not_found` naming the
//! credit code.

use serde_json::{Value, json};
use wharf_sdk::api::Api;
use wharf_sdk::batch;
use wharf_sdk::json::Node;
use wharf_sdk::types::{ConnectorError, CustomerMapping, ItemResult, PushAck};

use crate::push::text;

pub const CUSTOMER: &str = "customer";

/// `ecs_users.user_name` is varchar(60), as is the bridge table's `erp_customer_code`;
/// its `name` is varchar(120).
const MAX_CODE_CHARS: usize = 60;
const MAX_NAME_CHARS: usize = 120;
/// `ecs_users.user_id` is mediumint(8) unsigned.
const MAX_USER_ID: u32 = 16_777_215;

/// The bridge body of one customer mapping.
pub fn customer_body(mapping: &CustomerMapping) -> Result<Value, ConnectorError> {
    let code = text("erp_customer_code", &mapping.erp_customer_code, MAX_CODE_CHARS, "the ERP's customer number")?;
    let name = text("name", &mapping.name, MAX_NAME_CHARS, "the customer's name")?;
    let credit_code = match mapping.credit_code.as_deref() {
        Some(c) => Some(text("credit_code", c, MAX_CODE_CHARS, "a 统一社会信用代码")?),
        None => None,
    };
    let user_id = match mapping.platform_customer_id.as_deref() {
        Some(id) => Some(id.parse::<u32>().ok().filter(|n| (1..=MAX_USER_ID).contains(n)).ok_or_else(|| {
            ConnectorError::invalid_input(
                "platform_customer_id",
                format!("expected an ECShop user_id (1 to {MAX_USER_ID}), got {id:?}"),
            )
        })?),
        None => None,
    };
    if credit_code.is_none() && user_id.is_none() {
        return Err(ConnectorError::invalid_input(
            "credit_code",
            "expected a credit code (or a platform_customer_id) to match the ECShop user by, got neither",
        ));
    }
    Ok(json!({"erp_customer_code": code, "name": name, "credit_code": credit_code, "user_id": user_id}))
}

pub fn push_customers(api: &mut impl Api, mappings: Vec<CustomerMapping>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(mappings, |mapping| {
        let answer = api.call(CUSTOMER, &customer_body(&mapping)?)?;
        Ok(PushAck { platform_ref: Some(Node::root(&answer, CUSTOMER).id("user_id")?) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::invalid_field;
    use wharf_sdk::api::Scripted;

    fn mapping(code: &str, credit: Option<&str>, user: Option<&str>) -> CustomerMapping {
        CustomerMapping {
            erp_customer_code: code.into(),
            name: "深圳市某某医药有限公司".into(),
            credit_code: credit.map(Into::into),
            platform_customer_id: user.map(Into::into),
        }
    }

    #[test]
    fn customers_match_by_credit_code_or_user_id() {
        let mut api = Scripted::answering(vec![
            Ok(json!({"user_id": 12, "user_name": "91440300MA5F000001", "erp_customer_code": "C001"})),
            Err(ConnectorError::not_found("no user whose user_name is the credit code \"91440300MA5F999999\"")),
            Ok(json!({"user_id": 7, "user_name": "buyer7", "erp_customer_code": "C003"})),
        ]);
        let results = push_customers(
            &mut api,
            vec![
                mapping("C001", Some("91440300MA5F000001"), None),
                mapping("C002", Some("91440300MA5F999999"), None),
                mapping("C003", None, Some("7")),
                mapping("C004", None, None),
                mapping("C005", None, Some("abc")),
                mapping("", Some("x"), None),
            ],
        )
        .unwrap();
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("12"));
        assert!(matches!(&results[1], Err(ConnectorError::NotFound(m)) if m.contains("91440300MA5F999999")));
        assert_eq!(
            api.calls[2].1,
            json!({"erp_customer_code": "C003", "name": "深圳市某某医药有限公司", "credit_code": null, "user_id": 7})
        );
        assert_eq!(invalid_field(&results[3]), Some("credit_code"));
        assert_eq!(invalid_field(&results[4]), Some("platform_customer_id"));
        assert_eq!(invalid_field(&results[5]), Some("erp_customer_code"));
        assert_eq!(api.calls.len(), 3);
    }
}
