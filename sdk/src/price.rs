//! Price updates for platforms that keep one selling price per SKU.
//!
//! A canonical [`PriceUpdate`] may carry several prices (default, suggested retail, region and
//! customer groups). Taobao and ECShop, among others, have a single price per SKU: they take
//! the `default` one and must refuse the rest by name (`prices[1].kind`), never drop them
//! silently, so the operator sees that a group price went nowhere.

use crate::types::{ConnectorError, PriceKind, PriceUpdate};

/// The amount (minor units) of the one `default` price of `update`, whose currency must be
/// `currency`. Any other kind, a second default, no default, or a negative amount is
/// `invalid_input` naming the offending field.
pub fn single_default(update: &PriceUpdate, currency: &str) -> Result<i64, ConnectorError> {
    if update.currency != currency {
        return Err(ConnectorError::invalid_input(
            "currency",
            format!("expected {currency:?} (the platform's only currency), got {:?}", update.currency),
        ));
    }
    let mut found: Option<(usize, i64)> = None;
    for (i, price) in update.prices.iter().enumerate() {
        let other = match &price.kind {
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
            PriceKind::SuggestedRetail => "suggested_retail".to_owned(),
            PriceKind::RegionGroup(group) => format!("region_group({group})"),
            PriceKind::CustomerGroup(group) => format!("customer_group({group})"),
        };
        return Err(ConnectorError::invalid_input(
            format!("prices[{i}].kind"),
            format!("expected only the default price (the platform keeps one price per SKU), got {other}"),
        ));
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
    fn the_default_price_and_nothing_else() {
        assert_eq!(single_default(&update("CNY", vec![(PriceKind::Default, 1990)]), "CNY").unwrap(), 1990);
        let cases = [
            (update("USD", vec![(PriceKind::Default, 1)]), "currency"),
            (update("CNY", vec![]), "prices"),
            (update("CNY", vec![(PriceKind::Default, -1)]), "prices[0].amount"),
            (update("CNY", vec![(PriceKind::Default, 1), (PriceKind::Default, 2)]), "prices[1].kind"),
            (
                update("CNY", vec![(PriceKind::Default, 1), (PriceKind::RegionGroup("south".into()), 2)]),
                "prices[1].kind",
            ),
            (update("CNY", vec![(PriceKind::SuggestedRetail, 2)]), "prices[0].kind"),
        ];
        for (u, expected) in cases {
            assert_eq!(field(single_default(&u, "CNY")), expected, "{u:?}");
        }
        match single_default(&update("CNY", vec![(PriceKind::CustomerGroup("vip".into()), 2)]), "CNY") {
            Err(ConnectorError::InvalidInput(f)) => {
                assert!(f.reason.contains("customer_group(vip)"), "{}", f.reason)
            }
            other => panic!("{other:?}"),
        }
    }
}
