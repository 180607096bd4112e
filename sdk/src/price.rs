//! Price updates for platforms that keep one selling price per SKU.
//!
//! A canonical [`PriceUpdate`] may carry several prices (default, suggested retail, region and
//! customer groups). Taobao and ECShop, among others, have a single price per SKU: they take
//! the `default` one. An ERP sends every kind it keeps to every shop of the tenant, so the
//! other kinds are not an error of the update: refusing them would dead-letter the default
//! price too. They are left out ([`left_out`] names them for a plugin's log line); a price
//! update with no default at all is refused by name.

use crate::types::{ConnectorError, PriceKind, PriceUpdate};

/// The kinds of `update` other than `default`, as `region_group(south)` and the like.
pub fn left_out(update: &PriceUpdate) -> Vec<String> {
    update
        .prices
        .iter()
        .filter_map(|p| match &p.kind {
            PriceKind::Default => None,
            PriceKind::SuggestedRetail => Some("suggested_retail".to_owned()),
            PriceKind::RegionGroup(group) => Some(format!("region_group({group})")),
            PriceKind::CustomerGroup(group) => Some(format!("customer_group({group})")),
        })
        .collect()
}

/// The amount (minor units) of the one `default` price of `update`, whose currency must be
/// `currency`. A second default, no default, or a negative amount is `invalid_input` naming
/// the offending field. Kinds the platform does not keep (suggested retail, region and
/// customer groups: an ERP sends every kind it has to every shop) are left out rather than
/// failing the default price that does apply; [`left_out`] names them for a log line.
pub fn single_default(update: &PriceUpdate, currency: &str) -> Result<i64, ConnectorError> {
    if update.currency != currency {
        return Err(ConnectorError::invalid_input(
            "currency",
            format!("expected {currency:?} (the platform's only currency), got {:?}", update.currency),
        ));
    }
    let mut found: Option<(usize, i64)> = None;
    for (i, price) in update.prices.iter().enumerate() {
        match &price.kind {
            PriceKind::Default if found.is_some() => {
                return Err(ConnectorError::invalid_input(
                    format!("prices[{i}].kind"),
                    "expected one default price, got a second",
                ));
            }
            PriceKind::Default => {
                found = Some((i, price.amount));
                continue;
            }
            PriceKind::SuggestedRetail | PriceKind::RegionGroup(_) | PriceKind::CustomerGroup(_) => {}
        }
    }
    match found {
        None => Err(ConnectorError::invalid_input("prices", "expected a default price, got none")),
        Some((i, amount)) if amount < 0 => Err(ConnectorError::invalid_input(
            format!("prices[{i}].amount"),
            format!("expected a non-negative amount, got {amount}"),
        )),
        Some((_, amount)) => Ok(amount),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Price;

    fn update(currency: &str, prices: Vec<(PriceKind, i64)>) -> PriceUpdate {
        PriceUpdate {
            outer_sku_id: "FG-1".into(),
            product_id: None,
            sku_id: None,
            currency: currency.into(),
            prices: prices.into_iter().map(|(kind, amount)| Price { kind, amount }).collect(),
        }
    }

    fn field(result: Result<i64, ConnectorError>) -> String {
        match result {
            Err(ConnectorError::InvalidInput(f)) => f.field,
            other => panic!("expected invalid_input, got {other:?}"),
        }
    }

    #[test]
    fn the_default_price_applies_and_other_kinds_are_left_out() {
        assert_eq!(single_default(&update("CNY", vec![(PriceKind::Default, 1990)]), "CNY").unwrap(), 1990);
        let cases = [
            (update("USD", vec![(PriceKind::Default, 1)]), "currency"),
            (update("CNY", vec![]), "prices"),
            (update("CNY", vec![(PriceKind::Default, -1)]), "prices[0].amount"),
            (update("CNY", vec![(PriceKind::Default, 1), (PriceKind::Default, 2)]), "prices[1].kind"),
            (update("CNY", vec![(PriceKind::SuggestedRetail, 2)]), "prices"),
        ];
        for (u, expected) in cases {
            assert_eq!(field(single_default(&u, "CNY")), expected, "{u:?}");
        }
        let mixed = update(
            "CNY",
            vec![
                (PriceKind::RegionGroup("south".into()), 2),
                (PriceKind::Default, 1),
                (PriceKind::CustomerGroup("vip".into()), 3),
            ],
        );
        assert_eq!(single_default(&mixed, "CNY").unwrap(), 1, "other kinds are left out, the default applies");
        assert_eq!(left_out(&mixed), ["region_group(south)", "customer_group(vip)"]);
    }
}
