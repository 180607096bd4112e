//! `pull-prices`: marketplace prices per material from sales pricing condition records
//! (`API_SLSPRICINGCONDITIONRECORD_SRV`).
//!
//! Each canonical price kind has a condition type in the config ([`PriceConditions`]):
//! `default` (`PR00` unless configured), and, when configured, `suggested_retail`,
//! `region_group(group)` (the group from the validity field `price_region_field`) and
//! `customer_group(group)` (the group from `CustomerPriceGroup`). The walk goes over
//! `A_SlsPrcgCndnRecdValidity` of those types in the tenant's sales organisation and
//! distribution channel, not specific to one customer, valid today (in the SAP system's zone),
//! with the condition record expanded (`to_SlsPrcgConditionRecord`: rate, currency, pricing
//! unit), ordered by material with a key-set cursor (`Material gt '<last>'`; a page ends on a
//! material boundary). Records marked deleted are left out.
//!
//! Amounts are decimal strings of the rate's currency, read exactly and by value into minor
//! units (two decimals; SAP pads rates to their declared scale, which is not an error); a rate per N units is divided down to one unit and must come out exact. A
//! percentage, a negative amount, a pricing unit other than the unit the SKU is sold in, two
//! currencies for one material, or two valid records of one kind (and group) for one material
//! are `invalid_input` naming the record's field: guessing would publish a wrong price.
//!
//! A material is one record: one whose condition records cannot be mapped so is rejected as
//! a whole, named by its material number with the offending record's field, and gets no
//! [`PriceUpdate`] (publishing its other prices would mix a stale price with fresh ones); the
//! other materials of the page flow ([`crate::keyset`]).

use std::collections::BTreeMap;

use serde_json::Value;
use wharf_sdk::decimal;
use wharf_sdk::json::Node;
use wharf_sdk::money::{self, YUAN_DECIMALS};
use wharf_sdk::time;
use wharf_sdk::types::{ConnectorError, FieldError, Price, PriceKind, PricePage, PriceUpdate, PullRequest};

use crate::keyset::{self, Walk};
use crate::odata::{self, Client, QUANTITY_SCALE};
use crate::settings::{PriceConditions, Settings};
use crate::transport::Transport;

pub const SERVICE: &str = "API_SLSPRICINGCONDITIONRECORD_SRV";
pub const ENTITY_SET: &str = "A_SlsPrcgCndnRecdValidity";
/// The condition record of a validity period (navigation property, one to one).
pub const RECORD: &str = "to_SlsPrcgConditionRecord";
const RECORD_FIELDS: &[&str] = &[
    "ConditionRateValue",
    "ConditionRateValueUnit",
    "ConditionQuantity",
    "ConditionQuantityUnit",
    "ConditionIsDeleted",
];
/// `ConditionRateValueUnit` of a percentage condition.
const PERCENT: &str = "%";
/// Cursors this module writes: `prices1:<last material of the previous page>`.
pub const CURSOR_PREFIX: &str = "prices1:";

/// What a condition type stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Default,
    SuggestedRetail,
    RegionGroup,
    CustomerGroup,
}

/// The configured condition types and the kind each stands for.
fn kinds(conditions: &PriceConditions) -> Vec<(&str, Kind)> {
    let mut kinds = vec![(conditions.default.as_str(), Kind::Default)];
    for (condition_type, kind) in [
        (&conditions.suggested_retail, Kind::SuggestedRetail),
        (&conditions.region_group, Kind::RegionGroup),
        (&conditions.customer_group, Kind::CustomerGroup),
    ] {
        if let Some(t) = condition_type {
            kinds.push((t.as_str(), kind));
        }
    }
    kinds
}

/// One valid price as read.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    material: String,
    /// `A_SlsPrcgCndnRecdValidity(ConditionRecord='…')`: where to blame it.
    path: String,
    kind: PriceKind,
    currency: String,
    amount: i64,
    /// Deleted, or outside its validity (a server that ignored the filter).
    skip: bool,
}

fn parse_row(row: &Value, list_path: String, settings: &Settings, today: &str) -> Result<Row, ConnectorError> {
    let node = Node::root(row, list_path);
    let material = node.str("Material")?;
    let record = node.str("ConditionRecord")?;
    let node = Node::root(row, format!("{ENTITY_SET}(ConditionRecord={})", odata::literal(&record)));
    let condition_type = node.str("ConditionType")?;
    let prices = &settings.prices;
    let kind = wharf_sdk::status::lookup(&kinds(prices), &condition_type, &node.path_of("ConditionType"))?;
    let group = |key: &str| -> Result<String, FieldError> {
        match node.opt_str(key)? {
            Some(g) if !g.trim().is_empty() => Ok(g.trim().to_owned()),
            other => Err(node.error_at(key, format!("expected the group of a {condition_type} price, got {other:?}"))),
        }
    };
    let kind = match kind {
        Kind::Default => PriceKind::Default,
        Kind::SuggestedRetail => PriceKind::SuggestedRetail,
        Kind::RegionGroup => PriceKind::RegionGroup(group(&prices.region_field)?),
        Kind::CustomerGroup => PriceKind::CustomerGroup(group("CustomerPriceGroup")?),
    };
    let from = odata::opt_date(&node, "ConditionValidityStartDate")?;
    let to = odata::opt_date(&node, "ConditionValidityEndDate")?;
    let valid = from.as_deref().is_none_or(|f| f <= today) && to.as_deref().is_none_or(|t| t >= today);

    let rec = node.required(RECORD)?;
    let deleted = rec.opt_bool("ConditionIsDeleted")?.unwrap_or(false);
    let currency = rec.str("ConditionRateValueUnit")?;
    // An amount's unit is an ISO 4217 currency code: three capital letters.
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        let what = if currency == PERCENT { "a percentage" } else { "not a currency code" };
        return Err(rec
            .error_at(
                "ConditionRateValueUnit",
                format!(
                    "expected an ISO 4217 currency like \"CNY\" (a {condition_type} price is an amount), got \
                     {currency:?} ({what})"
                ),
            )
            .into());
    }
    let rate_text = rec.str("ConditionRateValue")?;
    // By value: SAP pads the rate to its declared scale ("12.500" or "12.500000000").
    let rate = decimal::parse_scaled(&rec.path_of("ConditionRateValue"), &rate_text, YUAN_DECIMALS)?;
    if rate < 0 {
        return Err(rec
            .error_at("ConditionRateValue", format!("expected a price of at least 0, got {rate_text:?}"))
            .into());
    }
    let per = odata::quantity_thousandths(&rec, "ConditionQuantity")?;
    let unit = rec.str("ConditionQuantityUnit")?;
    let expected_unit = settings.units.unit(&material);
    if unit != expected_unit {
        return Err(rec
            .error_at(
                "ConditionQuantityUnit",
                format!(
                    "expected {expected_unit:?} (the unit the SKU is sold in, from config unit_table): \
                     the price would be published per the wrong unit; got {unit:?}"
                ),
            )
            .into());
    }
    let scaled = rate.checked_mul(QUANTITY_SCALE).ok_or_else(|| {
        rec.error_at(
            "ConditionRateValue",
            format!("expected a price that fits 64-bit minor units per thousandth of a unit, got {rate_text:?}"),
        )
    })?;
    let amount = match scaled {
        s if per > 0 && s % per == 0 => s / per,
        _ => {
            return Err(rec
                .error_at(
                    "ConditionQuantity",
                    format!(
                        "expected a pricing unit that gives a whole minor unit per {unit}: {rate_text} per {} {unit}",
                        money::format_minor_units(per, odata::QUANTITY_DECIMALS)
                    ),
                )
                .into());
        }
    };
    Ok(Row { material, path: node.path().to_owned(), kind, currency, amount, skip: deleted || !valid })
}

/// Price updates from the rows of whole materials (see the module docs).
fn updates(rows: Vec<Row>) -> Result<Vec<PriceUpdate>, ConnectorError> {
    let mut by_material: BTreeMap<String, (PriceUpdate, Vec<String>)> = BTreeMap::new();
    for row in rows.into_iter().filter(|r| !r.skip) {
        let (update, paths) = by_material.entry(row.material.clone()).or_insert_with(|| {
            (
                PriceUpdate {
                    outer_sku_id: row.material.clone(),
                    product_id: None,
                    sku_id: None,
                    currency: row.currency.clone(),
                    prices: Vec::new(),
                },
                Vec::new(),
            )
        });
        if update.currency != row.currency {
            return Err(ConnectorError::invalid_input(
                format!("{}.{RECORD}.ConditionRateValueUnit", row.path),
                format!(
                    "expected {:?} like the other prices of material {} ({}), got {:?}",
                    update.currency, row.material, paths[0], row.currency
                ),
            ));
        }
        if let Some(i) = update.prices.iter().position(|p| p.kind == row.kind) {
            return Err(ConnectorError::invalid_input(
                format!("{}.ConditionType", row.path),
                format!(
                    "expected one valid record per price kind of material {}, got a second {:?} price (first: {})",
                    row.material, row.kind, paths[i]
                ),
            ));
        }
        update.prices.push(Price { kind: row.kind, amount: row.amount });
        paths.push(row.path);
    }
    Ok(by_material.into_values().map(|(u, _)| u).collect())
}

/// One page of price updates, valid at `now_ms`.
pub fn pull_prices<T: Transport>(
    transport: &mut T,
    settings: &Settings,
    request: &PullRequest,
    now_ms: i64,
) -> Result<PricePage, ConnectorError> {
    let today = time::ms_to_calendar_date(now_ms, settings.utc_offset_minutes);
    let prices = &settings.prices;
    let types: Vec<&str> = kinds(prices).into_iter().map(|(t, _)| t).collect();
    let filter = vec![
        odata::any_eq("ConditionType", types.iter().copied()),
        odata::eq("SalesOrganization", &settings.header.sales_org),
        odata::eq("DistributionChannel", &settings.header.distribution_channel),
        odata::eq("Customer", ""),
        format!("Material ne {}", odata::literal("")),
        format!("ConditionValidityStartDate le {}", odata::date_literal(&today)),
        format!("ConditionValidityEndDate ge {}", odata::date_literal(&today)),
    ];
    let mut select: Vec<String> = [
        "Material",
        "ConditionRecord",
        "ConditionType",
        "ConditionValidityStartDate",
        "ConditionValidityEndDate",
        "CustomerPriceGroup",
    ]
    .iter()
    .map(|f| (*f).to_owned())
    .collect();
    if !select.contains(&prices.region_field) {
        select.push(prices.region_field.clone());
    }
    select.extend(RECORD_FIELDS.iter().map(|f| format!("{RECORD}/{f}")));
    let select = select.join(",");
    let walk = Walk {
        service: SERVICE,
        entity_set: ENTITY_SET,
        filter,
        key: "Material",
        select: &select,
        expand: Some(RECORD),
        order_by: "Material,ConditionRecord",
        cursor_prefix: CURSOR_PREFIX,
    };
    let mut client = Client::new(transport, settings);
    let groups = keyset::read_groups(&mut client, &walk, request.cursor.as_deref())?;
    let (items, rejected) = keyset::map_groups(&groups.groups, |material| {
        let rows = material
            .rows
            .iter()
            .map(|row| parse_row(&row.value, row.path.clone(), settings, &today))
            .collect::<Result<Vec<_>, _>>()?;
        updates(rows)
    })?;
    Ok(PricePage {
        items: items.into_iter().flatten().collect(),
        rejected: [groups.rejected, rejected].concat(),
        next_cursor: groups.next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::settings;
    use crate::transport::scripted::{Scripted, json};
    use serde_json::json;

    /// 2025-05-30 12:00 in Shanghai.
    const NOW: i64 = 1_748_577_600_000;

    fn record(material: &str, n: &str, kind: &str, rate: &str, group: &str) -> Value {
        json!({"Material": material, "ConditionRecord": n, "ConditionType": kind,
               "ConditionValidityStartDate": "/Date(1735689600000)/", "ConditionValidityEndDate": "/Date(253402214400000)/",
               "CustomerPriceGroup": group, "Region": group,
               "to_SlsPrcgConditionRecord": {"ConditionRateValue": rate, "ConditionRateValueUnit": "CNY",
                   "ConditionQuantity": "1", "ConditionQuantityUnit": "EA", "ConditionIsDeleted": false}})
    }

    fn answer(rows: Vec<Value>) -> Result<wharf_sdk::http::Response, ConnectorError> {
        json(200, &json!({"d": {"results": rows}}).to_string())
    }

    fn configured(extra: &[(&str, &str)]) -> Settings {
        let mut pairs = vec![
            ("price_condition_retail", "ZSRP"),
            ("price_condition_region", "ZRGP"),
            ("price_condition_customer_group", "ZCPG"),
        ];
        pairs.extend_from_slice(extra);
        settings(&pairs)
    }

    fn request(cursor: Option<&str>) -> PullRequest {
        PullRequest { window: None, cursor: cursor.map(str::to_owned) }
    }

    #[test]
    fn prices_per_material_by_kind() {
        let s = configured(&[("page_size", "7")]);
        let mut per_ten = record("B", "7", "PR00", "125.000000000", "");
        per_ten[RECORD]["ConditionQuantity"] = json!("10.000");
        let mut deleted = record("B", "8", "ZSRP", "1", "");
        deleted[RECORD]["ConditionIsDeleted"] = json!(true);
        let mut t = Scripted::answering(vec![answer(vec![
            record("A", "1", "PR00", "12.50", ""),
            record("A", "2", "ZSRP", "15", ""),
            record("A", "3", "ZRGP", "13.00", "GD"),
            record("A", "4", "ZCPG", "11.9", "02"),
            per_ten,
            deleted,
        ])]);
        let page = pull_prices(&mut t, &s, &request(None), NOW).unwrap();
        assert_eq!(page.next_cursor, None);
        type Summary<'a> = Vec<(&'a str, &'a str, Vec<(PriceKind, i64)>)>;
        let got: Summary = page
            .items
            .iter()
            .map(|u| {
                (
                    u.outer_sku_id.as_str(),
                    u.currency.as_str(),
                    u.prices.iter().map(|p| (p.kind.clone(), p.amount)).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "A",
                    "CNY",
                    vec![
                        (PriceKind::Default, 1_250),
                        (PriceKind::SuggestedRetail, 1_500),
                        (PriceKind::RegionGroup("GD".into()), 1_300),
                        (PriceKind::CustomerGroup("02".into()), 1_190),
                    ]
                ),
                ("B", "CNY", vec![(PriceKind::Default, 1_250)]),
            ]
        );
        assert_eq!(
            t.url(0),
            "https://my-s4.example.com/sap/opu/odata/sap/API_SLSPRICINGCONDITIONRECORD_SRV/A_SlsPrcgCndnRecdValidity?\
             $filter=(ConditionType eq 'PR00' or ConditionType eq 'ZSRP' or ConditionType eq 'ZRGP' or ConditionType eq 'ZCPG') \
             and SalesOrganization eq '1000' and DistributionChannel eq '10' and Customer eq '' and Material ne '' \
             and ConditionValidityStartDate le datetime'2025-05-30T00:00:00' and ConditionValidityEndDate ge datetime'2025-05-30T00:00:00'\
             &$select=Material,ConditionRecord,ConditionType,ConditionValidityStartDate,ConditionValidityEndDate,CustomerPriceGroup,Region,\
             to_SlsPrcgConditionRecord/ConditionRateValue,to_SlsPrcgConditionRecord/ConditionRateValueUnit,\
             to_SlsPrcgConditionRecord/ConditionQuantity,to_SlsPrcgConditionRecord/ConditionQuantityUnit,\
             to_SlsPrcgConditionRecord/ConditionIsDeleted&$expand=to_SlsPrcgConditionRecord\
             &$orderby=Material,ConditionRecord&$top=7&$skip=0&$format=json"
        );
    }

    #[test]
    fn only_the_default_kind_unless_configured_and_pages_end_on_materials() {
        let s = settings(&[("page_size", "2"), ("price_region_field", "SalesDistrict")]);
        let mut t = Scripted::answering(vec![answer(vec![
            record("A", "1", "PR00", "1", ""),
            record("B", "2", "PR00", "2", ""),
        ])]);
        let page = pull_prices(&mut t, &s, &request(Some("prices1:0")), NOW).unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.next_cursor.as_deref(), Some("prices1:A"));
        let url = t.url(0);
        assert!(url.contains("$filter=(ConditionType eq 'PR00') and "), "{url}");
        assert!(url.contains(",CustomerPriceGroup,SalesDistrict,to_"), "{url}");
        assert!(url.contains("and Material gt '0'&"), "{url}");
    }

    /// The field and reason of material A, rejected alone: B, after it, still flows.
    fn refused(mut rows: Vec<Value>) -> (String, String) {
        let s = configured(&[]);
        rows.push(record("B", "9", "PR00", "1", ""));
        let mut t = Scripted::answering(vec![answer(rows)]);
        let page = pull_prices(&mut t, &s, &request(None), NOW).unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].outer_sku_id, "B");
        let [r] = &page.rejected[..] else { panic!("{:?}", page.rejected) };
        assert_eq!(r.id, "A");
        assert!(r.excerpt.as_deref().is_some_and(|e| e.starts_with("[{")));
        (r.field.clone(), r.reason.clone())
    }

    #[test]
    fn one_bad_material_is_rejected_and_the_others_flow() {
        let s = configured(&[("page_size", "4")]);
        let mut t = Scripted::answering(vec![answer(vec![
            record("A", "1", "PR00", "1", ""),
            record("B", "2", "PR00", "oops", ""),
            record("B", "3", "ZSRP", "2", ""),
            record("C", "4", "PR00", "3", ""),
        ])]);
        let page = pull_prices(&mut t, &s, &request(None), NOW).unwrap();
        let materials: Vec<&str> = page.items.iter().map(|u| u.outer_sku_id.as_str()).collect();
        assert_eq!(materials, ["A"]);
        let [r] = &page.rejected[..] else { panic!("{:?}", page.rejected) };
        assert_eq!(
            (r.id.as_str(), r.field.as_str()),
            ("B", "A_SlsPrcgCndnRecdValidity(ConditionRecord='2').to_SlsPrcgConditionRecord.ConditionRateValue")
        );
        // C may go on on the next page: the cursor stands after B.
        assert_eq!(page.next_cursor.as_deref(), Some("prices1:B"));
        let mut t = Scripted::answering(vec![json(429, "")]);
        assert!(matches!(pull_prices(&mut t, &s, &request(None), NOW), Err(ConnectorError::RateLimited(_))));
    }

    #[test]
    fn bad_records_are_named() {
        let path = |n: &str, key: &str| format!("A_SlsPrcgCndnRecdValidity(ConditionRecord='{n}').{key}");
        assert_eq!(
            refused(vec![record("A", "1", "PR00", "12.5x", "")]).0,
            path("1", "to_SlsPrcgConditionRecord.ConditionRateValue")
        );
        assert_eq!(
            refused(vec![record("A", "1", "PR00", "-1", "")]).0,
            path("1", "to_SlsPrcgConditionRecord.ConditionRateValue")
        );
        assert_eq!(refused(vec![record("A", "1", "ZCPG", "1", "")]).0, path("1", "CustomerPriceGroup"));
        assert_eq!(refused(vec![record("A", "1", "ZXXX", "1", "")]).0, path("1", "ConditionType"));
        let mut percent = record("A", "1", "PR00", "1", "");
        percent[RECORD]["ConditionRateValueUnit"] = json!("%");
        assert_eq!(refused(vec![percent]).0, path("1", "to_SlsPrcgConditionRecord.ConditionRateValueUnit"));
        for junk in ["CNY\n", "元", "cny", ""] {
            let mut odd = record("A", "1", "PR00", "1", "");
            odd[RECORD]["ConditionRateValueUnit"] = json!(junk);
            assert_eq!(refused(vec![odd]).0, path("1", "to_SlsPrcgConditionRecord.ConditionRateValueUnit"), "{junk:?}");
        }
        // A rate too big to scale is the rate's fault, not the pricing unit's.
        assert_eq!(
            refused(vec![record("A", "1", "PR00", "900000000000000.00", "")]).0,
            path("1", "to_SlsPrcgConditionRecord.ConditionRateValue")
        );
        let mut per_three = record("A", "1", "PR00", "1.00", "");
        per_three[RECORD]["ConditionQuantity"] = json!("3");
        assert_eq!(refused(vec![per_three]).0, path("1", "to_SlsPrcgConditionRecord.ConditionQuantity"));
        let mut kg = record("A", "1", "PR00", "1.00", "");
        kg[RECORD]["ConditionQuantityUnit"] = json!("KG");
        assert_eq!(refused(vec![kg]).0, path("1", "to_SlsPrcgConditionRecord.ConditionQuantityUnit"));
        let (field, reason) = refused(vec![record("A", "1", "PR00", "1", ""), record("A", "2", "PR00", "2", "")]);
        assert_eq!(field, path("2", "ConditionType"));
        assert!(reason.contains("ConditionRecord='1'"), "{reason}");
        let mut usd = record("A", "2", "ZSRP", "1", "");
        usd[RECORD]["ConditionRateValueUnit"] = json!("USD");
        assert_eq!(
            refused(vec![record("A", "1", "PR00", "1", ""), usd]).0,
            path("2", "to_SlsPrcgConditionRecord.ConditionRateValueUnit")
        );
    }

    #[test]
    fn rates_are_read_by_value() {
        let page = |rate: &str| {
            let mut t = Scripted::answering(vec![answer(vec![record("A", "1", "PR00", rate, "")])]);
            pull_prices(&mut t, &configured(&[]), &request(None), NOW)
        };
        for padded in ["12.5", "12.50", "12.500", "12.500000000", "12.50000000000000"] {
            assert_eq!(page(padded).unwrap().items[0].prices[0].amount, 1_250, "{padded}");
        }
        let (field, reason) = refused(vec![record("A", "1", "PR00", "12.505", "")]);
        assert_eq!(
            field,
            "A_SlsPrcgCndnRecdValidity(ConditionRecord='1').to_SlsPrcgConditionRecord.ConditionRateValue"
        );
        assert!(reason.contains("at most 2 decimals"), "{reason}");
    }
}
