//! The idempotency key of an order in SAP: `PurchaseOrderByCustomer`, which names the shop.
//!
//! A push looks for a sales order by its customer purchase order number before creating one
//! (the OData lookup and create, and the ORDERS05 IDoc's `E1EDK01`/`E1EDK02 BELNR`), so that
//! number must say which order it is. Order ids are unique only per (platform, shop): two
//! shops may sell an order `1001` each, and a bare order id would make the second one
//! `already-exists` pointing at the first one's sales order, and lose it. SAP itself neither
//! makes the number unique nor would tell the two apart.
//!
//! The key is `<prefix>-<order id>`, where the prefix belongs to one shop:
//! - configured per shop in `po_prefix_by_shop`, a JSON object keyed by `<platform>:<shop_id>`
//!   (`{"taobao:tb-1": "TB1", "ecshop:main": "EC"}`): 1 to [`MAX_PREFIX_CHARS`] ASCII letters
//!   and digits, no two shops alike, none shaped like a derived default;
//! - otherwise derived from the shop, deterministically ([`default_prefix`]): two letters of
//!   the platform and 8 hex digits of a hash of `<platform>:<shop_id>` (`TB3CAEFEF1` for `taobao:tb-1`);
//! - or empty for at most one shop, whose key is then the bare order id: the way to keep
//!   finding the sales orders this plugin created before keys named the shop.
//!
//! `PurchaseOrderByCustomer` is CHAR 35 (VBKD-BSTKD). A key longer than that fails its order
//! with `invalid_input` on `order_id`, never cut: cutting could make two orders one key.
//!
//! Reading back (shipments, logistics and ERP statuses report the platform order id), a
//! number `<head>-<rest>` whose head is a configured prefix or has the derived shape is
//! `<rest>`; any other number (an order pushed before keys named the shop, or one typed in
//! SAP) is reported as it is.

use std::collections::BTreeMap;

use wharf_sdk::types::{ConnectorError, Order};

use crate::settings::PO_PREFIX_BY_SHOP;

/// VBKD-BSTKD, the customer's purchase order number, is CHAR 35.
pub const MAX_PO_CHARS: usize = 35;
/// A prefix is short, so the order id keeps most of the 35 characters: a derived one is 10.
pub const MAX_PREFIX_CHARS: usize = 10;
/// Between the prefix and the order id. Prefixes never contain it, so the first one ends the
/// prefix and the key reads back unambiguously.
pub const SEPARATOR: char = '-';
/// Hex digits of the hash in a derived prefix: 32 bits keep two shops of one tenant from
/// sharing a prefix (one chance in about 4 billion per pair).
const HASH_HEX_DIGITS: usize = 8;
/// The two letters of the platforms Wharf knows; any other platform uses its first two
/// letters or digits, upper-cased (`X` when it has fewer).
const PLATFORM_LETTERS: &[(&str, &str)] = &[("taobao", "TB"), ("jd", "JD"), ("douyin", "DY"), ("ecshop", "EC")];

/// How `po_prefix_by_shop` names a shop: `<platform>:<shop_id>`.
pub fn shop_key(platform: &str, shop_id: &str) -> String {
    format!("{platform}:{shop_id}")
}

/// The prefix of a shop that has none configured: the platform's two letters and 8 upper-case
/// hex digits of FNV-1a (64 bit) of `<platform>:<shop_id>`, folded to 32 bits. Stable across
/// versions and machines: it is part of every key already in SAP.
pub fn default_prefix(platform: &str, shop_id: &str) -> String {
    let letters = match PLATFORM_LETTERS.iter().find(|(p, _)| *p == platform) {
        Some((_, letters)) => (*letters).to_owned(),
        None => {
            let mut letters: String =
                platform.chars().filter(char::is_ascii_alphanumeric).take(2).map(|c| c.to_ascii_uppercase()).collect();
            while letters.len() < 2 {
                letters.push('X');
            }
            letters
        }
    };
    let hash = fnv1a64(shop_key(platform, shop_id).as_bytes());
    let folded = (hash >> 32) ^ (hash & 0xFFFF_FFFF);
    format!("{letters}{folded:0width$X}", width = HASH_HEX_DIGITS)
}

/// FNV-1a, 64 bit: tiny, stable and well spread over short strings.
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(PRIME))
}

/// Whether `prefix` has the shape of a derived one: two upper-case letters or digits and 8
/// upper-case hex digits.
pub fn has_default_shape(prefix: &str) -> bool {
    let bytes = prefix.as_bytes();
    bytes.len() == 2 + HASH_HEX_DIGITS
        && bytes[..2].iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && bytes[2..].iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
}

/// Why a configured prefix is refused, if it is.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Ok(());
    }
    if prefix.len() > MAX_PREFIX_CHARS || !prefix.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "expected 1 to {MAX_PREFIX_CHARS} ASCII letters and digits (or \"\" for the one shop \
             whose keys are bare order ids), got {prefix:?}"
        ));
    }
    if has_default_shape(prefix) {
        return Err(format!(
            "expected a prefix not shaped like a derived one (two letters and 8 hex digits, which \
             another shop's default could equal), got {prefix:?}"
        ));
    }
    Ok(())
}

/// The configured prefixes, by `<platform>:<shop_id>`, checked: each well-formed, no two
/// shops alike, at most one empty. Errors name the config key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefixes(BTreeMap<String, String>);

impl Prefixes {
    pub fn new(by_shop: BTreeMap<String, String>) -> Result<Self, ConnectorError> {
        let invalid =
            |reason: String| ConnectorError::invalid_input(wharf_sdk::config::field(PO_PREFIX_BY_SHOP), reason);
        let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
        for (shop, prefix) in &by_shop {
            match shop.split_once(':') {
                Some((platform, shop_id)) if !platform.is_empty() && !shop_id.is_empty() => {}
                _ => {
                    return Err(invalid(format!(
                        "expected keys \"<platform>:<shop_id>\" like \"taobao:tb-1\", got {shop:?}"
                    )));
                }
            }
            check_prefix(prefix).map_err(|reason| invalid(format!("{shop:?}: {reason}")))?;
            if let Some(other) = owner.insert(prefix, shop) {
                return Err(invalid(format!(
                    "expected one prefix per shop (keys of two shops must differ), got {prefix:?} \
                     for both {other:?} and {shop:?}"
                )));
            }
        }
        Ok(Self(by_shop))
    }

    /// The prefix of a shop: configured, else derived.
    pub fn of(&self, platform: &str, shop_id: &str) -> String {
        self.0.get(&shop_key(platform, shop_id)).cloned().unwrap_or_else(|| default_prefix(platform, shop_id))
    }

    /// The platform order id a `PurchaseOrderByCustomer` stands for (see the module docs).
    pub fn order_id<'a>(&self, purchase_order: &'a str) -> &'a str {
        match purchase_order.split_once(SEPARATOR) {
            Some((head, rest))
                if !rest.is_empty()
                    && (has_default_shape(head) || self.0.values().any(|p| !p.is_empty() && p == head)) =>
            {
                rest
            }
            _ => purchase_order,
        }
    }

    /// The key of `order`, or `invalid_input` on `order_id` when it is empty or the key would
    /// exceed 35 characters.
    pub fn purchase_order(&self, order: &Order) -> Result<String, ConnectorError> {
        self.key(&order.platform, &order.shop_id, &order.order_id, "order_id")
    }

    /// The key of document `id` of a shop (an order id, or an after-sale id for a customer
    /// return or credit memo request): `<prefix>-<id>`, or `invalid_input` on `field` when the
    /// id is empty or the key would exceed 35 characters.
    pub fn key(&self, platform: &str, shop_id: &str, id: &str, field: &str) -> Result<String, ConnectorError> {
        let id = id.trim();
        if id.is_empty() {
            return Err(ConnectorError::invalid_input(
                field,
                format!("expected the platform's id ({field}), got an empty string"),
            ));
        }
        let prefix = self.of(platform, shop_id);
        let key = if prefix.is_empty() { id.to_owned() } else { format!("{prefix}{SEPARATOR}{id}") };
        let chars = key.chars().count();
        if chars > MAX_PO_CHARS {
            return Err(ConnectorError::invalid_input(
                field,
                format!(
                    "expected a key of at most {MAX_PO_CHARS} characters for SAP's \
                     PurchaseOrderByCustomer (CHAR {MAX_PO_CHARS}, the key that keeps pushes \
                     idempotent; cutting it could make two documents one), got {chars}: {key:?} \
                     (prefix {prefix:?} of shop {:?}, then the id); set a shorter prefix \
                     in config {PO_PREFIX_BY_SHOP}",
                    shop_key(platform, shop_id)
                ),
            ));
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{line, order};

    fn prefixes(pairs: &[(&str, &str)]) -> Result<Prefixes, ConnectorError> {
        Prefixes::new(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    fn order_of(platform: &str, shop_id: &str, id: &str) -> Order {
        let mut o = order(id, vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0);
        o.platform = platform.into();
        o.shop_id = shop_id.into();
        o
    }

    #[test]
    fn derived_prefixes_are_stable_and_name_the_platform() {
        // Pinned: these are in SAP once orders are pushed; a change would create them again.
        assert_eq!(default_prefix("taobao", "tb-1"), "TB3CAEFEF1");
        assert_eq!(default_prefix("ecshop", "tb-1"), "EC14064B6C");
        assert_eq!(default_prefix("pinduoduo", "s"), "PICF403301");
        assert_eq!(&default_prefix("x", "s")[..2], "XX");
        assert_ne!(default_prefix("taobao", "a"), default_prefix("taobao", "b"));
        for (platform, shop) in [("taobao", "tb-1"), ("jd", "京东"), ("", "")] {
            assert!(has_default_shape(&default_prefix(platform, shop)));
        }
    }

    #[test]
    fn two_shops_with_one_order_id_get_two_keys() {
        let p = prefixes(&[("ecshop:main", "EC")]).unwrap();
        let taobao = p.purchase_order(&order_of("taobao", "tb-1", "1001")).unwrap();
        let ecshop = p.purchase_order(&order_of("ecshop", "main", "1001")).unwrap();
        assert_eq!(taobao, format!("{}-1001", default_prefix("taobao", "tb-1")));
        assert_eq!(ecshop, "EC-1001");
        assert_eq!((p.order_id(&taobao), p.order_id(&ecshop)), ("1001", "1001"));
        // Numbers Wharf did not key are reported as they are.
        for other in ["1001", "PO-2025-7", "TB-1", "-1", "EC-"] {
            assert_eq!(p.order_id(other), other);
        }
        assert_eq!(p.order_id("EC-A-1"), "A-1");
    }

    #[test]
    fn one_shop_may_keep_bare_order_ids() {
        let p = prefixes(&[("taobao:tb-1", "")]).unwrap();
        assert_eq!(p.purchase_order(&order_of("taobao", "tb-1", " 1001 ")).unwrap(), "1001");
        assert!(prefixes(&[("taobao:a", ""), ("jd:b", "")]).is_err());
    }

    #[test]
    fn a_key_longer_than_sap_keeps_fails_its_order() {
        let p = prefixes(&[]).unwrap();
        let id = "9".repeat(MAX_PO_CHARS - 11);
        assert_eq!(p.purchase_order(&order_of("taobao", "tb-1", &id)).unwrap().len(), MAX_PO_CHARS);
        let long = format!("{id}9");
        match p.purchase_order(&order_of("taobao", "tb-1", &long)) {
            Err(ConnectorError::InvalidInput(f)) => {
                assert_eq!(f.field, "order_id");
                assert!(
                    f.reason.contains("at most 35")
                        && f.reason.contains(&long)
                        && f.reason.contains("\"taobao:tb-1\"")
                        && f.reason.contains("po_prefix_by_shop"),
                    "{}",
                    f.reason
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            p.purchase_order(&order_of("taobao", "tb-1", "  ")),
            Err(ConnectorError::InvalidInput(f)) if f.field == "order_id"
        ));
    }

    #[test]
    fn bad_prefix_tables_name_the_key() {
        for bad in [
            vec![("tb-1", "TB")],
            vec![(":tb-1", "TB")],
            vec![("taobao:", "TB")],
            vec![("taobao:a", "TB-1")],
            vec![("taobao:a", "ABCDEFGHIJK")],
            vec![("taobao:a", "淘宝")],
            vec![("taobao:a", "TB12345678")],
            vec![("taobao:a", "TB"), ("jd:a", "TB")],
        ] {
            match prefixes(&bad) {
                Err(ConnectorError::InvalidInput(f)) => {
                    assert_eq!(f.field, "config.po_prefix_by_shop", "{bad:?}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(prefixes(&[("taobao:a", "tb12345678")]).is_ok(), "lower case");
    }
}
