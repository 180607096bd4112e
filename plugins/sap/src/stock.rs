//! `pull-stock`: unrestricted stock per material from `API_MATERIAL_STOCK_SRV`.
//!
//! `A_MatlStkInAcctMod` has one row per material, plant, storage location, batch and special
//! stock. What a marketplace may sell is the material's own unrestricted-use stock
//! (`InventoryStockType` `01`, no special stock: sales-order or consignment stock belongs to
//! someone else), summed exactly over its plants (or the configured `plant`), storage
//! locations and batches. SAP keeps quantities with three decimals (a Gateway may pad them to
//! the declared scale, 14: they are read by value); a sum that is not a whole number of units
//! is `invalid_input` (marketplaces count whole pieces, and rounding either way would sell
//! what is not there or hide what is). A negative sum (plants that allow negative stock) is 0
//! to sell, and is logged. Stock is counted in the material's base unit, so a base unit other
//! than the unit the tenant sells the SKU in (`unit_table`) is an error too rather than a
//! silently wrong quantity.
//!
//! A material is one record: one whose rows cannot be mapped (a missing field, an unreadable
//! quantity, a foreign unit, a sum that is not whole) is rejected as a whole, named by its
//! material number with the offending field, and kept out of the page; its stock is not
//! published (a partial sum would be wrong), and the other materials of the page flow
//! ([`crate::keyset`]).
//!
//! The pull is a snapshot: the request's window is not used (the stock list has no change
//! date). Pages walk the list ordered by material with a key-set cursor (`Material gt
//! '<last>'`), so rows that appear or vanish between calls cannot shift a page; a page ends on
//! a material boundary, so no material is split between two pages. Every update carries the
//! pull's time as its version, which grows from pull to pull.

use wharf_sdk::json::Node;
use wharf_sdk::money;
use wharf_sdk::types::{ConnectorError, PullRequest, StockPage, StockUpdate};

use crate::keyset::{self, Group, Walk};
use crate::odata::{self, Client, QUANTITY_DECIMALS};
use crate::settings::Settings;
use crate::transport::Transport;

pub const SERVICE: &str = "API_MATERIAL_STOCK_SRV";
pub const ENTITY_SET: &str = "A_MatlStkInAcctMod";
/// `InventoryStockType` of unrestricted-use stock.
pub const UNRESTRICTED: &str = "01";
const SELECT: &str = "Material,Plant,StorageLocation,Batch,MaterialBaseUnit,MatlWrhsStkQtyInMatlBaseUnit";
const ORDER_BY: &str = "Material,Plant,StorageLocation,Batch";
/// Cursors this module writes: `stock1:<last material of the previous page>`.
pub const CURSOR_PREFIX: &str = "stock1:";

/// One page of stock updates.
pub fn pull_stock<T: Transport>(
    transport: &mut T,
    settings: &Settings,
    request: &PullRequest,
    now_ms: i64,
) -> Result<StockPage, ConnectorError> {
    let mut filter = vec![odata::eq("InventoryStockType", UNRESTRICTED), odata::eq("InventorySpecialStockType", "")];
    if let Some(plant) = &settings.plant {
        filter.push(odata::eq("Plant", plant));
    }
    let walk = Walk {
        service: SERVICE,
        entity_set: ENTITY_SET,
        filter,
        key: "Material",
        select: SELECT,
        expand: None,
        order_by: ORDER_BY,
        cursor_prefix: CURSOR_PREFIX,
    };
    let mut client = Client::new(transport, settings);
    let groups = keyset::read_groups(&mut client, &walk, request.cursor.as_deref())?;
    let version = u64::try_from(now_ms).unwrap_or_default();
    let (items, rejected) =
        keyset::map_groups(&groups.groups, |material| update(&mut client, settings, material, version))?;
    Ok(StockPage { items, rejected: [groups.rejected, rejected].concat(), next_cursor: groups.next_cursor })
}

/// `A_MatlStkInAcctMod(Material='…').<key>`: where a material's summed stock is blamed.
pub fn material_field(material: &str, key: &str) -> String {
    format!("{ENTITY_SET}(Material={}).{key}", odata::literal(material))
}

/// Refuses stock counted in a base unit other than the unit the SKU is sold in (see the
/// module docs); `row` is the stock row, blamed on its `MaterialBaseUnit`.
pub fn check_unit(settings: &Settings, material: &str, row: &Node<'_>) -> Result<(), ConnectorError> {
    let unit = row.str("MaterialBaseUnit")?;
    let expected_unit = settings.units.unit(material);
    if unit == expected_unit {
        return Ok(());
    }
    Err(ConnectorError::invalid_input(
        row.path_of("MaterialBaseUnit"),
        format!(
            "expected {expected_unit:?} (the unit the SKU is sold in, from config unit_table): stock is \
             counted in the base unit and would be published in the wrong unit; got {unit:?}"
        ),
    ))
}

/// Adds a row's thousandths to a sum, refusing an overflow.
pub fn add(sum: i64, thousandths: i64, material: &str) -> Result<i64, ConnectorError> {
    sum.checked_add(thousandths).ok_or_else(|| {
        ConnectorError::invalid_input(
            material_field(material, "MatlWrhsStkQtyInMatlBaseUnit"),
            "expected a sum that fits 64 bits",
        )
    })
}

/// What may be sold of a summed quantity: whole units; a negative sum is 0 (and logged).
/// `what` names it in the log (`material FG-1`, `batch B1 of FG-1`).
pub fn sellable<T: Transport>(
    client: &mut Client<'_, T>,
    material: &str,
    what: &str,
    thousandths: i64,
) -> Result<u32, ConnectorError> {
    if thousandths < 0 {
        client.note(
            "negative unrestricted stock published as 0",
            &[("stock", what.to_owned()), ("quantity", money::format_minor_units(thousandths, QUANTITY_DECIMALS))],
        );
        return Ok(0);
    }
    odata::whole_units(thousandths).map_err(|reason| {
        ConnectorError::invalid_input(material_field(material, "MatlWrhsStkQtyInMatlBaseUnit"), reason)
    })
}

/// The stock update of one material: its rows summed (see the module docs).
fn update<T: Transport>(
    client: &mut Client<'_, T>,
    settings: &Settings,
    material: &Group,
    version: u64,
) -> Result<StockUpdate, ConnectorError> {
    let mut sum = 0;
    for row in &material.rows {
        let node = row.node();
        check_unit(settings, &material.key, &node)?;
        let thousandths = odata::quantity_thousandths(&node, "MatlWrhsStkQtyInMatlBaseUnit")?;
        sum = add(sum, thousandths, &material.key)?;
    }
    let what = format!("material {}", material.key);
    Ok(StockUpdate {
        quantity: sellable(client, &material.key, &what, sum)?,
        outer_sku_id: material.key.clone(),
        product_id: None,
        sku_id: None,
        warehouse: settings.plant.clone(),
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::settings;
    use crate::transport::scripted::{Scripted, json};
    use serde_json::json;

    fn rows(rows: &[(&str, &str)]) -> String {
        let results: Vec<serde_json::Value> = rows
            .iter()
            .map(|(m, q)| json!({"Material": m, "Plant": "1000", "StorageLocation": "0001", "Batch": "", "MaterialBaseUnit": "EA", "MatlWrhsStkQtyInMatlBaseUnit": q}))
            .collect();
        json!({"d": {"results": results}}).to_string()
    }

    fn request(cursor: Option<&str>) -> PullRequest {
        PullRequest { window: None, cursor: cursor.map(str::to_owned) }
    }

    #[test]
    fn sums_batches_and_ends_pages_on_a_material_boundary() {
        let s = settings(&[("page_size", "3"), ("plant", "1000")]);
        let mut t = Scripted::answering(vec![json(200, &rows(&[("A", "1.000"), ("A", "2.000"), ("B", "5.000")]))]);
        let page = pull_stock(&mut t, &s, &request(None), 1_000).unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!((page.items[0].outer_sku_id.as_str(), page.items[0].quantity), ("A", 3));
        assert_eq!((page.items[0].warehouse.as_deref(), page.items[0].version), (Some("1000"), 1_000));
        assert_eq!(page.next_cursor.as_deref(), Some("stock1:A"));
        assert_eq!(
            t.url(0),
            "https://my-s4.example.com/sap/opu/odata/sap/API_MATERIAL_STOCK_SRV/A_MatlStkInAcctMod?\
             $filter=InventoryStockType eq '01' and InventorySpecialStockType eq '' and Plant eq '1000'\
             &$select=Material,Plant,StorageLocation,Batch,MaterialBaseUnit,MatlWrhsStkQtyInMatlBaseUnit\
             &$orderby=Material,Plant,StorageLocation,Batch&$top=3&$skip=0&$format=json"
        );

        let mut t = Scripted::answering(vec![json(200, &rows(&[("B", "5.000"), ("B", "1.000"), ("C", "0.500")]))]);
        let page = pull_stock(&mut t, &s, &request(Some("stock1:A")), 2_000).unwrap();
        assert!(t.url(0).contains("and Material gt 'A'"), "{}", t.url(0));
        assert_eq!(page.items.iter().map(|i| (i.outer_sku_id.as_str(), i.quantity)).collect::<Vec<_>>(), [("B", 6)]);
        assert_eq!(page.next_cursor.as_deref(), Some("stock1:B"));
    }

    #[test]
    fn a_material_longer_than_a_page_is_read_to_its_end() {
        let s = settings(&[("page_size", "2")]);
        let mut t = Scripted::answering(vec![
            json(200, &rows(&[("A", "1"), ("A", "1")])),
            json(200, &rows(&[("A", "1"), ("B", "4.000")])),
        ]);
        let page = pull_stock(&mut t, &s, &request(None), 1).unwrap();
        assert_eq!(page.items.iter().map(|i| (i.outer_sku_id.as_str(), i.quantity)).collect::<Vec<_>>(), [("A", 3)]);
        assert_eq!(page.next_cursor.as_deref(), Some("stock1:A"));
        assert!(t.url(1).contains("$skip=2"));
        assert_eq!(page.items[0].warehouse, None);
    }

    #[test]
    fn the_last_page_has_no_cursor_and_negative_stock_is_zero() {
        let s = settings(&[("page_size", "10")]);
        let mut t = Scripted::answering(vec![json(200, &rows(&[("A", "-2.000"), ("B", "0.250"), ("B", "0.750")]))]);
        let page = pull_stock(&mut t, &s, &request(None), 1).unwrap();
        assert_eq!(
            page.items.iter().map(|i| (i.outer_sku_id.as_str(), i.quantity)).collect::<Vec<_>>(),
            [("A", 0), ("B", 1)]
        );
        assert_eq!(page.next_cursor, None);
        assert_eq!(t.notes.len(), 1);
    }

    /// SAP declares the stock quantity `Precision=31 Scale=14` and a Gateway may pad it:
    /// `"40.00000000000000"` is 40 pieces, not "too many decimals".
    #[test]
    fn quantities_padded_to_their_declared_scale_map_by_value() {
        let s = settings(&[]);
        let mut t = Scripted::answering(vec![json(
            200,
            &rows(&[("A", "40.00000000000000"), ("B", "0.25000000000000"), ("B", "0.75000000000000")]),
        )]);
        let page = pull_stock(&mut t, &s, &request(None), 1).unwrap();
        assert_eq!(
            page.items.iter().map(|i| (i.outer_sku_id.as_str(), i.quantity)).collect::<Vec<_>>(),
            [("A", 40), ("B", 1)]
        );
        let mut t = Scripted::answering(vec![json(200, &rows(&[("A", "40.00000000000001")]))]);
        let page = pull_stock(&mut t, &s, &request(None), 1).unwrap();
        assert!(page.items.is_empty());
        let [r] = &page.rejected[..] else { panic!("{:?}", page.rejected) };
        assert_eq!(
            (r.id.as_str(), r.field.as_str()),
            ("A", "A_MatlStkInAcctMod.d.results[0].MatlWrhsStkQtyInMatlBaseUnit")
        );
        assert!(r.reason.contains("at most 3 decimals"), "{}", r.reason);
    }

    /// `(id, field)` of each rejected material.
    fn rejected(page: &StockPage) -> Vec<(&str, &str)> {
        page.rejected.iter().map(|r| (r.id.as_str(), r.field.as_str())).collect()
    }

    fn quantities(page: &StockPage) -> Vec<(&str, u32)> {
        page.items.iter().map(|i| (i.outer_sku_id.as_str(), i.quantity)).collect()
    }

    #[test]
    fn one_bad_material_is_rejected_and_the_others_flow() {
        let s = settings(&[("page_size", "5")]);
        let mut t = Scripted::answering(vec![json(
            200,
            &rows(&[("A", "1.000"), ("B", "2.000"), ("B", "1.5x"), ("C", "4.000"), ("D", "1.000")]),
        )]);
        let page = pull_stock(&mut t, &s, &request(None), 1).unwrap();
        assert_eq!(quantities(&page), [("A", 1), ("C", 4)]);
        assert_eq!(rejected(&page), [("B", "A_MatlStkInAcctMod.d.results[2].MatlWrhsStkQtyInMatlBaseUnit")]);
        let excerpt = page.rejected[0].excerpt.as_deref().unwrap_or_default();
        assert!(
            excerpt.starts_with('{') && excerpt.contains(r#""Material":"B""#) && excerpt.contains("1.5x"),
            "{excerpt}"
        );
        // The page still ends after the last whole material.
        assert_eq!(page.next_cursor.as_deref(), Some("stock1:C"));
    }

    #[test]
    fn inexact_or_foreign_unit_stock_is_rejected() {
        let s = settings(&[]);
        let mut t = Scripted::answering(vec![json(200, &rows(&[("A", "2.500"), ("B", "1")]))]);
        let page = pull_stock(&mut t, &s, &request(None), 1).unwrap();
        assert_eq!(quantities(&page), [("B", 1)]);
        assert_eq!(rejected(&page), [("A", "A_MatlStkInAcctMod(Material='A').MatlWrhsStkQtyInMatlBaseUnit")]);
        let reason = &page.rejected[0].reason;
        assert!(reason.contains("whole number") && reason.contains("2.500"), "{reason}");
        let s = settings(&[("unit_table", r#"{"A":"KG"}"#)]);
        let mut t = Scripted::answering(vec![json(200, &rows(&[("A", "2"), ("B", "1")]))]);
        let page = pull_stock(&mut t, &s, &request(None), 1).unwrap();
        assert_eq!(quantities(&page), [("B", 1)]);
        assert_eq!(rejected(&page), [("A", "A_MatlStkInAcctMod.d.results[0].MaterialBaseUnit")]);
        let s = settings(&[]);
        let mut t = Scripted::answering(vec![json(
            200,
            &serde_json::json!({"d": {"results": [
                {"Material": "A", "MaterialBaseUnit": "EA", "MatlWrhsStkQtyInMatlBaseUnit": "x"},
                {"Material": "B", "MaterialBaseUnit": "EA", "MatlWrhsStkQtyInMatlBaseUnit": "1"},
                {"MaterialBaseUnit": "EA"}
            ]}})
            .to_string(),
        )]);
        let page = pull_stock(&mut t, &s, &request(None), 1).unwrap();
        assert!(page.items.is_empty());
        assert_eq!(
            rejected(&page),
            [
                ("A_MatlStkInAcctMod.d.results[2] (no readable Material)", "A_MatlStkInAcctMod.d.results[2].Material"),
                // The row without a material may be one of B's: B's sum cannot be trusted.
                ("B", "A_MatlStkInAcctMod.d.results[2].Material"),
                ("A", "A_MatlStkInAcctMod.d.results[0].MatlWrhsStkQtyInMatlBaseUnit"),
            ]
        );
        // Errors about the call still fail it.
        assert!(
            matches!(pull_stock(&mut t, &s, &request(Some("v9")), 1), Err(ConnectorError::InvalidInput(f)) if f.field == "cursor")
        );
        let mut t = Scripted::answering(vec![json(503, "down")]);
        assert!(matches!(pull_stock(&mut t, &s, &request(None), 1), Err(ConnectorError::Transient(_))));
        let mut t = Scripted::answering(vec![json(200, r#"{"error":"not odata"}"#)]);
        assert!(pull_stock(&mut t, &s, &request(None), 1).is_err());
    }
}
