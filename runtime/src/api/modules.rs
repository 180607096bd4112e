//! Modules named in a path (`…/modules/{module}`, `…/skus/{sku}/{kind}`, `…/updates/{kind}`,
//! `…/imports/{kind}`): the table's names ([`crate::model::modules`]), and for one release the
//! former ones. An answer to a former name carries `Deprecation: true` and a `Warning` that
//! names the current one, and the host logs it at WARN, so an ERP integrator's scripts are
//! fixed before the alias goes.

use axum::http::HeaderValue;
use axum::response::{IntoResponseParts, ResponseParts};

use super::ApiError;
use crate::model::Module;

/// The deprecation an answer carries, if the request used a former name.
#[derive(Debug, Default)]
pub struct Deprecated(Option<String>);

impl IntoResponseParts for Deprecated {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        if let Some(message) = self.0 {
            let headers = res.headers_mut();
            headers.insert("deprecation", HeaderValue::from_static("true"));
            // RFC 9111's 299 "miscellaneous persistent warning"; the message is ASCII (names only).
            if let Ok(value) = HeaderValue::from_str(&format!("299 wharf \"{}\"", message.replace('"', "'"))) {
                headers.insert("warning", value);
            }
        }
        Ok(res)
    }
}

/// The module `name` names among those `fits` keeps, or 404 listing them. `what` says what
/// the path segment is ("module", "per-SKU switch", "update kind", …).
pub fn module(name: &str, what: &str, fits: impl Fn(Module) -> bool) -> Result<(Module, Deprecated), ApiError> {
    match Module::named(name).filter(|n| fits(n.module)) {
        Some(named) => {
            let deprecation = named.deprecation();
            if let Some(message) = &deprecation {
                tracing::warn!(module = %named.module, "a request named a module by its former name: {message}");
            }
            Ok((named.module, Deprecated(deprecation)))
        }
        None => {
            let known = Module::names(Module::ALL.into_iter().filter(|m| fits(*m)));
            Err(ApiError::not_found(format!("no {what} `{name}` ({known})")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    #[test]
    fn a_former_name_is_served_and_flagged() {
        let (found, deprecated) = module("price", "module", |_| true).unwrap();
        assert_eq!(found, Module::Prices);
        let answer = (deprecated, "ok").into_response();
        assert_eq!(answer.headers()["deprecation"], "true");
        let warning = answer.headers()["warning"].to_str().unwrap();
        assert!(warning.starts_with("299 wharf ") && warning.contains("write `prices`"), "{warning}");
        let (_, current) = module("prices", "module", |_| true).unwrap();
        assert!((current, "ok").into_response().headers().get("deprecation").is_none());
    }

    #[test]
    fn an_unknown_or_unfitting_name_lists_the_ones_there_are() {
        let err = module("lots", "per-SKU switch", |m| m.spec().per_sku).unwrap_err();
        assert!(err.message.contains("no per-SKU switch `lots` (stock, prices, listing)"), "{}", err.message);
    }
}
