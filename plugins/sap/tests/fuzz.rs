//! The SAP stock and price mappings under mutated `API_MATERIAL_STOCK_SRV/A_MatlStkInAcctMod`
//! and `API_SLSPRICINGCONDITIONRECORD_SRV/A_SlsPrcgCndnRecdValidity` answers: a typed error
//! naming the field, or a faithful mapping, never a silent change (see `wharf_sdk::fuzz`).

use std::collections::BTreeMap;

use wharf_plugin_sap::settings::Settings;
use wharf_plugin_sap::transport::Transport;
use wharf_plugin_sap::{prices, stock};
use wharf_sdk::fuzz::{self, Field, Role::*, Rules, Spec, field};
use wharf_sdk::http::{Request, Response};
use wharf_sdk::types::{ConnectorError, PriceUpdate, PullRequest, StockUpdate};

/// A stock page as SAP Gateway answers it, per the EDMX in `tests/sim/sap-edmx/`: rows with
/// `__metadata`, quantities padded to the declared `Scale=14`, one material over two storage
/// locations and two batches (half units that add up to whole ones), and one in a single row.
const ANSWER: &[u8] = include_bytes!("fixtures/matl_stk_in_acct_mod.json");

/// 2025-05-30 08:00:00 UTC: the pull's time, every update's version.
const NOW: i64 = 1_748_592_000_000;

/// What each stock row key means and where it maps (the stock module's docs).
const FIELDS: &[Field] = &[
    // The material groups rows: another one moves the row's stock to another record, whose
    // sum (and what is left of the first one's) is checked again.
    Field {
        pattern: "Material",
        role: Id,
        maps_to: &["outer_sku_id", "quantity"],
        also_named: &["MatlWrhsStkQtyInMatlBaseUnit"],
    },
    field("MaterialBaseUnit", Code, &[]),
    Field {
        pattern: "MatlWrhsStkQtyInMatlBaseUnit",
        role: Decimal,
        maps_to: &["quantity"],
        also_named: &["MatlWrhsStkQtyInMatlBaseUnit"],
    },
];

const SPEC: Spec = Spec {
    record: "d.results[]",
    fields: FIELDS,
    // `d` may also be the bare array of rows older services answer: `[]` is an empty page.
    envelope: &[field("d", Rows, &[]), field("d.results", Rows, &[])],
    rules: Rules { surcharges: false, lines_add_up: false, goods_add_up: false },
};

/// Answers the first request with the mutated body and any further one with an empty page.
struct Answer<'a> {
    body: &'a [u8],
    calls: usize,
}

impl Transport for Answer<'_> {
    fn send(&mut self, _request: &Request) -> Result<Response, ConnectorError> {
        self.calls += 1;
        let body = if self.calls == 1 { self.body.to_vec() } else { br#"{"d":{"results":[]}}"#.to_vec() };
        Ok(Response { status: 200, headers: vec![("content-type".into(), "application/json".into())], body })
    }
}

fn settings() -> Settings {
    let config: BTreeMap<&str, &str> = [
        ("endpoint", "https://my-s4.example.com/"),
        ("sales_org", "1000"),
        ("distribution_channel", "10"),
        ("division", "00"),
        ("sold_to", "C0001"),
        ("plant", "1000"),
    ]
    .into();
    Settings::from_lookup(|k| config.get(k).map(|v| (*v).to_owned())).unwrap()
}

/// One stock page as `pull-stock` reads it: each material's update, or its rejection.
fn map(body: &[u8], settings: &Settings) -> fuzz::Outcome<StockUpdate> {
    let request = PullRequest { window: None, cursor: None };
    let page = stock::pull_stock(&mut Answer { body, calls: 0 }, settings, &request, NOW)?;
    Ok(page.items.into_iter().map(Ok).chain(page.rejected.into_iter().map(Err)).collect())
}

#[test]
fn mutated_stock_answers_map_faithfully_or_fail_by_name() {
    let settings = settings();
    fuzz::check(&SPEC, ANSWER, fuzz::SEED, fuzz::BUDGET, |body| map(body, &settings)).assert_clean("sap");
}

/// A pricing page as SAP Gateway answers it, per the EDMX in `tests/sim/sap-edmx/`: validity
/// rows with their condition record expanded, rates padded to their declared scale; a default
/// price, a region group's and a suggested retail price for one material, and a price per ten
/// units for another.
const PRICES: &[u8] = include_bytes!("fixtures/slsprcg_cndn_recd_validity.json");

/// What each validity row key means and where it maps (the prices module's docs).
const PRICE_FIELDS: &[Field] = &[
    Field {
        pattern: "Material",
        role: Id,
        maps_to: &["outer_sku_id", "currency", "prices*"],
        // Rows moved to another material meet its other records' currency and kinds.
        also_named: &["ConditionRateValueUnit", "ConditionType"],
    },
    // Names the record in errors only.
    field("ConditionRecord", Id, &[]),
    field("ConditionType", Code, &["prices*"]),
    // A record out of its validity is left out.
    field("ConditionValidityStartDate", Time, &["prices*"]),
    field("ConditionValidityEndDate", Time, &["prices*"]),
    field("Region", Text, &["prices[].kind"]),
    // The condition record is required: any mutation of it is an error.
    field("to_SlsPrcgConditionRecord", Lines, &[]),
    field("to_SlsPrcgConditionRecord.ConditionRateValue", Amount, &["prices[].amount"]),
    field("to_SlsPrcgConditionRecord.ConditionRateValueUnit", Code, &["currency"]),
    Field {
        pattern: "to_SlsPrcgConditionRecord.ConditionQuantity",
        role: Quantity,
        maps_to: &["prices[].amount"],
        also_named: &["ConditionQuantity"],
    },
    field("to_SlsPrcgConditionRecord.ConditionQuantityUnit", Code, &[]),
    // A deleted record is left out.
    field("to_SlsPrcgConditionRecord.ConditionIsDeleted", Code, &["prices*"]),
];

const PRICE_SPEC: Spec = Spec {
    record: "d.results[]",
    fields: PRICE_FIELDS,
    envelope: &[field("d", Rows, &[]), field("d.results", Rows, &[])],
    rules: Rules { surcharges: false, lines_add_up: false, goods_add_up: false },
};

fn price_settings() -> Settings {
    let config: BTreeMap<&str, &str> = [
        ("endpoint", "https://my-s4.example.com/"),
        ("sales_org", "1000"),
        ("distribution_channel", "10"),
        ("division", "00"),
        ("sold_to", "C0001"),
        ("price_condition_retail", "ZSRP"),
        ("price_condition_region", "ZRGP"),
    ]
    .into();
    Settings::from_lookup(|k| config.get(k).map(|v| (*v).to_owned())).unwrap()
}

/// One pricing page as `pull-prices` reads it: each material's prices, or its rejection.
fn map_prices(body: &[u8], settings: &Settings) -> fuzz::Outcome<PriceUpdate> {
    let request = PullRequest { window: None, cursor: None };
    let page = prices::pull_prices(&mut Answer { body, calls: 0 }, settings, &request, NOW)?;
    Ok(page.items.into_iter().map(Ok).chain(page.rejected.into_iter().map(Err)).collect())
}

#[test]
fn mutated_price_answers_map_faithfully_or_fail_by_name() {
    let settings = price_settings();
    fuzz::check(&PRICE_SPEC, PRICES, fuzz::SEED, fuzz::BUDGET, |body| map_prices(body, &settings))
        .assert_clean("sap prices");
}
