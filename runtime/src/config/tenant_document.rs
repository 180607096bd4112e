//! A tenant as the HTTP API takes it: the JSON twin of a `[tenants.<id>]` table, with an `id`
//! and with secret values inline where the file has `env:`/`file:` references.
//!
//! The document is checked by the very rules that check the file (it is rendered to TOML and
//! validated), so a tenant made over the API can hold nothing a file could not, and a problem
//! is reported at the same path (`tenants.acme.shops[0].plugin: no plugin named …`).
//!
//! Secrets are write-only: [`redacted`] is what the API answers with (names of credentials,
//! never values), and [`keep_secrets`] lets an update leave credentials out to keep them.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::error::ConfigErrors;
use super::model::Tenant;
use super::validate;

/// What a redacted webhook secret reads as.
pub const SET: &str = "(set)";

/// The environment names secrets are passed to the checker under; the document's own values
/// never pass through the real environment.
const SECRET_ENV_PREFIX: &str = "WHARF_DOCUMENT_SECRET_";

/// The tenant `doc` describes, checked with the file's rules; plugin names must be `available`.
pub fn tenant(doc: &Value, available: &[String]) -> Result<Tenant, ConfigErrors> {
    let bad = |message: String| ConfigErrors::one("tenant", message);
    let Some(object) = doc.as_object() else {
        return Err(bad("expected a JSON object".into()));
    };
    let Some(id) = object.get("id").and_then(Value::as_str) else {
        return Err(bad("`id` is missing or not a string".into()));
    };
    let mut table = object.clone();
    table.remove("id");
    let mut secrets = BTreeMap::new();
    let path = format!("tenants.{id}");
    referenced(&mut table, &mut secrets, &path)?;
    let as_toml = toml::Value::try_from(Value::Object(table))
        .map_err(|e| ConfigErrors::one(path.clone(), format!("cannot be read as a tenant table: {e}")))?;
    let mut tenants = toml::Table::new();
    tenants.insert(id.to_owned(), as_toml);
    let mut root = toml::Table::new();
    root.insert("tenants".into(), toml::Value::Table(tenants));
    let text = toml::to_string(&root)
        .map_err(|e| ConfigErrors::one(path.clone(), format!("cannot be read as a tenant table: {e}")))?;
    let names = |_: &Path| Ok(available.to_vec());
    let env = |name: &str| secrets.get(name).cloned();
    let config =
        validate::build(&text, &validate::Inputs { base_dir: Path::new("."), plugins: Some(&names), env: &env })?;
    for old in &config.deprecated {
        tracing::warn!(tenant = %id, "{old}");
    }
    config.tenants.get(id).cloned().ok_or_else(|| bad(format!("tenant {id:?} was not read back")))
}

/// Replaces every inline secret of `table` by an `env:` reference to its value in `secrets`.
fn referenced(
    table: &mut Map<String, Value>,
    secrets: &mut BTreeMap<String, String>,
    path: &str,
) -> Result<(), ConfigErrors> {
    let mut refer = |value: &mut Value, at: String| -> Result<(), ConfigErrors> {
        let Some(text) = value.as_str() else {
            return Err(ConfigErrors::one(at, "expected the secret as a string"));
        };
        let name = format!("{SECRET_ENV_PREFIX}{}", secrets.len());
        secrets.insert(name.clone(), text.to_owned());
        *value = Value::String(format!("env:{name}"));
        Ok(())
    };
    for (i, shop) in table.get_mut("shops").and_then(Value::as_array_mut).into_iter().flatten().enumerate() {
        if let Some(credentials) = shop.get_mut("credentials").and_then(Value::as_object_mut) {
            for (name, value) in credentials.iter_mut() {
                refer(value, format!("{path}.shops[{i}].credentials.{name}"))?;
            }
        }
    }
    if let Some(credentials) =
        table.get_mut("erp").and_then(|e| e.get_mut("credentials")).and_then(Value::as_object_mut)
    {
        for (name, value) in credentials.iter_mut() {
            refer(value, format!("{path}.erp.credentials.{name}"))?;
        }
    }
    if let Some(secret) = table.get_mut("webhook").and_then(|w| w.get_mut("secret")) {
        refer(secret, format!("{path}.webhook.secret"))?;
    }
    let previous = table.get_mut("webhook").and_then(|w| w.get_mut("previous_secrets")).and_then(Value::as_array_mut);
    for (i, secret) in previous.into_iter().flatten().enumerate() {
        refer(secret, format!("{path}.webhook.previous_secrets[{i}]"))?;
    }
    Ok(())
}

/// `doc` as the API shows it: credentials as the list of their names, the webhook secret as
/// [`SET`].
pub fn redacted(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let names = |credentials: &mut Value| {
        if let Some(map) = credentials.as_object() {
            *credentials = Value::Array(map.keys().cloned().map(Value::String).collect());
        }
    };
    for shop in doc.get_mut("shops").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(c) = shop.get_mut("credentials") {
            names(c);
        }
    }
    if let Some(c) = doc.get_mut("erp").and_then(|e| e.get_mut("credentials")) {
        names(c);
    }
    if let Some(secret) = doc.get_mut("webhook").and_then(|w| w.get_mut("secret")) {
        *secret = Value::String(SET.into());
    }
    let previous = doc.get_mut("webhook").and_then(|w| w.get_mut("previous_secrets")).and_then(Value::as_array_mut);
    for secret in previous.into_iter().flatten() {
        *secret = Value::String(SET.into());
    }
    doc
}

/// Fills in `new` the credentials it leaves out (or gives as a redacted list, as read back from
/// the API) from `old`: shops by id, the ERP plugin's, the webhook secret.
pub fn keep_secrets(new: &mut Value, old: &Value) {
    let fill = |new: Option<&mut Value>, old: Option<&Value>| {
        let (Some(new), Some(old)) = (new, old.and_then(Value::as_object)) else { return };
        let Some(object) = new.as_object_mut() else { return };
        let given = object.get("credentials").and_then(Value::as_object).cloned().unwrap_or_default();
        let mut merged = old.get("credentials").and_then(Value::as_object).cloned().unwrap_or_default();
        merged.extend(given);
        if !merged.is_empty() {
            object.insert("credentials".into(), Value::Object(merged));
        }
    };
    let old_shops: Vec<Value> = old.get("shops").and_then(Value::as_array).cloned().unwrap_or_default();
    for shop in new.get_mut("shops").and_then(Value::as_array_mut).into_iter().flatten() {
        let id = shop.get("id").and_then(Value::as_str).map(str::to_owned);
        let before = old_shops.iter().find(|s| s.get("id").and_then(Value::as_str) == id.as_deref());
        fill(Some(shop), before);
    }
    fill(new.get_mut("erp"), old.get("erp"));
    if let (Some(hook), Some(secret)) =
        (new.get_mut("webhook").and_then(Value::as_object_mut), old.get("webhook").and_then(|w| w.get("secret")))
        && hook.get("secret").is_none_or(|s| s.as_str() == Some(SET))
    {
        hook.insert("secret".into(), secret.clone());
    }
    // Previous secrets read back redacted keep their values, by position.
    let old_previous = old.get("webhook").and_then(|w| w.get("previous_secrets")).and_then(Value::as_array);
    let new_previous = new.get_mut("webhook").and_then(|w| w.get_mut("previous_secrets")).and_then(Value::as_array_mut);
    if let (Some(new), Some(old)) = (new_previous, old_previous) {
        for (value, before) in new.iter_mut().zip(old) {
            if value.as_str() == Some(SET) {
                *value = before.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plugins() -> Vec<String> {
        vec!["taobao".into(), "sap".into()]
    }

    fn doc() -> Value {
        json!({
            "id": "acme",
            "shops": [{"id": "tb", "platform": "taobao", "plugin": "taobao",
                       "config": {"app_key": "k"}, "credentials": {"app_secret": "s3cret-app", "session": "session-token"}}],
            "webhook": {"url": "https://erp.example/orders", "secret": "hook-key"},
            "schedule": {"orders": "10s"},
            "quota": {"calls_per_second": 5, "concurrent_calls": 2}
        })
    }

    #[test]
    fn a_document_becomes_a_tenant_with_its_secrets() {
        let tenant = tenant(&doc(), &plugins()).unwrap();
        assert_eq!(tenant.id, "acme");
        assert_eq!(tenant.shops[0].secrets.get("app_secret").unwrap().expose(), "s3cret-app");
        assert_eq!(tenant.quota.calls_per_second, 5);
        assert_eq!(tenant.quota.concurrent_calls, 2);
        assert_eq!(tenant.quota.memory_mib, crate::config::model::DEFAULT_QUOTA_MEMORY_MIB);
        match &tenant.erp {
            crate::config::ErpRoute::Webhook(w) => assert_eq!(w.secret.expose(), "hook-key"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn problems_are_reported_at_the_file_paths() {
        let mut d = doc();
        d["shops"][0]["plugin"] = json!("jdd");
        d["quota"]["concurrent_calls"] = json!(0);
        let errors = tenant(&d, &plugins()).unwrap_err().to_string();
        assert!(errors.contains("tenants.acme.shops[0].plugin: no plugin named \"jdd\""), "{errors}");
        assert!(errors.contains("tenants.acme.quota.concurrent_calls: zero"), "{errors}");
        let errors = tenant(&json!({"shops": []}), &plugins()).unwrap_err().to_string();
        assert!(errors.contains("`id`"), "{errors}");
        let mut d = doc();
        d["shops"][0]["credentials"]["session"] = json!(5);
        assert!(tenant(&d, &plugins()).unwrap_err().to_string().contains("tenants.acme.shops[0].credentials.session"));
        // A secret too short to scrub safely is refused where it is set, without its value.
        let mut d = doc();
        d["shops"][0]["credentials"]["session"] = json!("4711");
        let errors = tenant(&d, &plugins()).unwrap_err().to_string();
        assert!(
            errors.contains("tenants.acme.shops[0].credentials.session: the secret")
                && errors.contains("shorter than 8"),
            "{errors}"
        );
        assert!(!errors.contains("4711"), "{errors}");
    }

    #[test]
    fn secrets_are_never_shown_and_kept_when_left_out() {
        let shown = redacted(&doc());
        let text = shown.to_string();
        assert!(!text.contains("s3cret") && !text.contains("hook-key") && !text.contains("session-token"), "{text}");
        assert_eq!(shown["shops"][0]["credentials"], json!(["app_secret", "session"]));
        // Sending back what was shown, with one secret changed, keeps the other.
        let mut update = shown.clone();
        update["shops"][0]["credentials"] = json!({"session": "new-session"});
        keep_secrets(&mut update, &doc());
        let tenant = tenant(&update, &plugins()).unwrap();
        assert_eq!(tenant.shops[0].secrets.get("app_secret").unwrap().expose(), "s3cret-app");
        assert_eq!(tenant.shops[0].secrets.get("session").unwrap().expose(), "new-session");
        match &tenant.erp {
            crate::config::ErpRoute::Webhook(w) => assert_eq!(w.secret.expose(), "hook-key"),
            other => panic!("{other:?}"),
        }
    }
}
