//! `pull-stock`: unrestricted stock per material from `API_MATERIAL_STOCK_SRV`.
//!
//! `A_MatlStkInAcctMod` has one row per material, plant, storage location, batch and special
//! stock. What a marketplace may sell is the material's own unrestricted-use stock
//! (`InventoryStockType` `01`, no special stock: sales-order or consignment stock belongs to
//! someone else), summed exactly over its plants (or the configured `plant`), storage
//! locations and batches. SAP keeps quantities with three decimals; a sum that is not a whole
//! number of units fails the pull with `invalid_input` (marketplaces count whole pieces, and
//! rounding either way would sell what is not there or hide what is). A negative sum (plants
//! that allow negative stock) is 0 to sell, and is logged. Stock is counted in the material's
//! base unit, so a base unit other than the unit the tenant sells the SKU in (`unit_table`)
//! is an error too rather than a silently wrong quantity.
//!
//! The pull is a snapshot: the request's window is not used (the stock list has no change
//! date). Pages walk the list ordered by material with a key-set cursor (`Material gt
//! '<last>'`), so rows that appear or vanish between calls cannot shift a page; a page ends on
//! a material boundary, so no material is split between two pages. Every update carries the
//! pull's time as its version, which grows from pull to pull.

use std::collections::BTreeMap;

use wharf_sdk::json::Node;
use wharf_sdk::money;
use wharf_sdk::types::{ConnectorError, PullRequest, StockPage, StockUpdate};

use crate::odata::{self, Client, QUANTITY_DECIMALS, Query};
use crate::settings::Settings;
use crate::transport::Transport;

pub const SERVICE: &str = "API_MATERIAL_STOCK_SRV";
pub const ENTITY_SET: &str = "A_MatlStkInAcctMod";
/// `InventoryStockType` of unrestricted-use stock.
pub const UNRESTRICTED: &str = "01";
const SELECT: &str =
    "Material,Plant,StorageLocation,Batch,MaterialBaseUnit,MatlWrhsStkQtyInMatlBaseUnit";
const ORDER_BY: &str = "Material,Plant,StorageLocation,Batch";
/// Cursors this module writes: `stock1:<last material of the previous page>`.
pub const CURSOR_PREFIX: &str = "stock1:";
/// OData pages one call may read before giving up: a single material with more rows than
/// this many pages hold is a configuration problem (raise `page_size`).
pub const MAX_PAGES_PER_CALL: usize = 50;

#[derive(Debug, Clone)]
struct Row {
    material: String,
    unit: String,
    thousandths: i64,
}

fn parse_row(row: &serde_json::Value, path: String) -> Result<Row, ConnectorError> {
    let node = Node::root(row, path);
    Ok(Row {
        material: node.str("Material")?,
        unit: node.str("MaterialBaseUnit")?,
        thousandths: odata::quantity_thousandths(&node, "MatlWrhsStkQtyInMatlBaseUnit")?,
    })
}

/// One page of stock updates.
pub fn pull_stock<T: Transport>(
    transport: &mut T,
    settings: &Settings,
    request: &PullRequest,
    now_ms: i64,
) -> Result<StockPage, ConnectorError> {
    let after = odata::cursor_key(request.cursor.as_deref(), CURSOR_PREFIX)?;
    let mut filter = vec![
        odata::eq("InventoryStockType", UNRESTRICTED),
        odata::eq("InventorySpecialStockType", ""),
    ];
    if let Some(plant) = &settings.plant {
        filter.push(odata::eq("Plant", plant));
    }
    if let Some(material) = &after {
        filter.push(format!("Material gt {}", odata::literal(material)));
    }
    let mut client = Client::new(transport, settings);
    let mut rows: Vec<Row> = Vec::new();
    let mut skip = 0usize;
    let mut next_cursor = None;
    for page in 0.. {
        if page == MAX_PAGES_PER_CALL {
            return Err(ConnectorError::platform(
                "stock-paging",
                format!(
                    "one material spans more than {MAX_PAGES_PER_CALL} pages of {} rows; raise config page_size",
                    settings.page_size
                ),
            ));
        }
        let query = Query::new()
            .with("$filter", odata::all(&filter))
            .with("$select", SELECT)
            .with("$orderby", ORDER_BY)
            .with("$top", settings.page_size.to_string())
            .with("$skip", skip.to_string());
        let answer = client.get(SERVICE, ENTITY_SET, &query)?;
        let n = answer.results.len();
        for (i, row) in answer.results.iter().enumerate() {
            rows.push(parse_row(row, format!("{ENTITY_SET}.d.results[{i}]"))?);
        }
        let more = n > 0 && (n == settings.page_size as usize || answer.next.is_some());
        if !more {
            break;
        }
        // The last material may continue on the next page: keep the ones before it, and
        // start the next call after them.
        let last = rows.last().map(|r| r.material.clone()).unwrap_or_default();
        if let Some(complete) = rows
            .iter()
            .rev()
            .find(|r| r.material != last)
            .map(|r| r.material.clone())
        {
            rows.retain(|r| r.material != last);
            next_cursor = Some(format!("{CURSOR_PREFIX}{complete}"));
            break;
        }
        skip += n;
    }
    let items = updates(&mut client, settings, rows, now_ms)?;
    Ok(StockPage { items, next_cursor })
}

/// Sums rows per material (see the module docs).
fn updates<T: Transport>(
    client: &mut Client<'_, T>,
    settings: &Settings,
    rows: Vec<Row>,
    now_ms: i64,
) -> Result<Vec<StockUpdate>, ConnectorError> {
    let mut sums: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for row in rows {
        let path = |key: &str| {
            format!(
                "{ENTITY_SET}(Material={}).{key}",
                odata::literal(&row.material)
            )
        };
        let expected_unit = settings.units.unit(&row.material);
        if row.unit != expected_unit {
            return Err(ConnectorError::invalid_input(
                path("MaterialBaseUnit"),
                format!(
                    "expected {expected_unit:?} (the unit the SKU is sold in, from config unit_table): stock is \
                     counted in the base unit and would be published in the wrong unit; got {:?}",
                    row.unit
                ),
            ));
        }
        let entry = sums
            .entry(row.material.clone())
            .or_insert((0, row.unit.clone()));
        entry.0 = entry.0.checked_add(row.thousandths).ok_or_else(|| {
            ConnectorError::invalid_input(
                path("MatlWrhsStkQtyInMatlBaseUnit"),
                "expected a sum that fits 64 bits",
            )
        })?;
    }
    let version = u64::try_from(now_ms).unwrap_or_default();
    let mut items = Vec::with_capacity(sums.len());
    for (material, (thousandths, _)) in sums {
        let quantity = if thousandths < 0 {
            client.note(
                "negative unrestricted stock published as 0",
                &[
                    ("material", material.clone()),
                    (
                        "quantity",
                        money::format_minor_units(thousandths, QUANTITY_DECIMALS),
                    ),
                ],
            );
            0
        } else {
            odata::whole_units(thousandths).map_err(|reason| {
                ConnectorError::invalid_input(
                    format!(
                        "{ENTITY_SET}(Material={}).MatlWrhsStkQtyInMatlBaseUnit",
                        odata::literal(&material)
                    ),
                    reason,
                )
            })?
        };
        items.push(StockUpdate {
            outer_sku_id: material,
            product_id: None,
            sku_id: None,
            quantity,
            warehouse: settings.plant.clone(),
            version,
        });
    }
    Ok(items)
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
        PullRequest {
            window: None,
            cursor: cursor.map(str::to_owned),
        }
    }

    #[test]
    fn sums_batches_and_ends_pages_on_a_material_boundary() {
        let s = settings(&[("page_size", "3"), ("plant", "1000")]);
        let mut t = Scripted::answering(vec![json(
            200,
            &rows(&[("A", "1.000"), ("A", "2.000"), ("B", "5.000")]),
        )]);
        let page = pull_stock(&mut t, &s, &request(None), 1_000).unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(
            (page.items[0].outer_sku_id.as_str(), page.items[0].quantity),
            ("A", 3)
        );
        assert_eq!(
            (page.items[0].warehouse.as_deref(), page.items[0].version),
            (Some("1000"), 1_000)
        );
        assert_eq!(page.next_cursor.as_deref(), Some("stock1:A"));
        assert_eq!(
            t.url(0),
            "https://my-s4.example.com/sap/opu/odata/sap/API_MATERIAL_STOCK_SRV/A_MatlStkInAcctMod?\
             $filter=InventoryStockType eq '01' and InventorySpecialStockType eq '' and Plant eq '1000'\
             &$select=Material,Plant,StorageLocation,Batch,MaterialBaseUnit,MatlWrhsStkQtyInMatlBaseUnit\
             &$orderby=Material,Plant,StorageLocation,Batch&$top=3&$skip=0&$format=json"
        );

        let mut t = Scripted::answering(vec![json(
            200,
            &rows(&[("B", "5.000"), ("B", "1.000"), ("C", "0.500")]),
        )]);
        let page = pull_stock(&mut t, &s, &request(Some("stock1:A")), 2_000).unwrap();
        assert!(t.url(0).contains("and Material gt 'A'"), "{}", t.url(0));
        assert_eq!(
            page.items
                .iter()
                .map(|i| (i.outer_sku_id.as_str(), i.quantity))
                .collect::<Vec<_>>(),
            [("B", 6)]
        );
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
        assert_eq!(
            page.items
                .iter()
                .map(|i| (i.outer_sku_id.as_str(), i.quantity))
                .collect::<Vec<_>>(),
            [("A", 3)]
        );
        assert_eq!(page.next_cursor.as_deref(), Some("stock1:A"));
        assert!(t.url(1).contains("$skip=2"));
        assert_eq!(page.items[0].warehouse, None);
    }

    #[test]
    fn the_last_page_has_no_cursor_and_negative_stock_is_zero() {
        let s = settings(&[("page_size", "10")]);
        let mut t = Scripted::answering(vec![json(
            200,
            &rows(&[("A", "-2.000"), ("B", "0.250"), ("B", "0.750")]),
        )]);
        let page = pull_stock(&mut t, &s, &request(None), 1).unwrap();
        assert_eq!(
            page.items
                .iter()
                .map(|i| (i.outer_sku_id.as_str(), i.quantity))
                .collect::<Vec<_>>(),
            [("A", 0), ("B", 1)]
        );
        assert_eq!(page.next_cursor, None);
        assert_eq!(t.notes.len(), 1);
    }

    #[test]
    fn inexact_or_foreign_unit_stock_is_refused() {
        let s = settings(&[]);
        let mut t = Scripted::answering(vec![json(200, &rows(&[("A", "2.500")]))]);
        match pull_stock(&mut t, &s, &request(None), 1) {
            Err(ConnectorError::InvalidInput(f)) => {
                assert_eq!(
                    f.field,
                    "A_MatlStkInAcctMod(Material='A').MatlWrhsStkQtyInMatlBaseUnit"
                );
                assert!(
                    f.reason.contains("whole number") && f.reason.contains("2.500"),
                    "{}",
                    f.reason
                );
            }
            other => panic!("{other:?}"),
        }
        let s = settings(&[("unit_table", r#"{"A":"KG"}"#)]);
        let mut t = Scripted::answering(vec![json(200, &rows(&[("A", "2")]))]);
        assert!(
            matches!(pull_stock(&mut t, &s, &request(None), 1), Err(ConnectorError::InvalidInput(f)) if f.field.ends_with("MaterialBaseUnit"))
        );
        let mut t = Scripted::answering(vec![json(
            200,
            r#"{"d":{"results":[{"Material":"A","MaterialBaseUnit":"EA","MatlWrhsStkQtyInMatlBaseUnit":"x"}]}}"#,
        )]);
        assert!(
            matches!(pull_stock(&mut t, &s, &request(None), 1), Err(ConnectorError::InvalidInput(f)) if f.field == "A_MatlStkInAcctMod.d.results[0].MatlWrhsStkQtyInMatlBaseUnit")
        );
        assert!(
            matches!(pull_stock(&mut t, &s, &request(Some("v9")), 1), Err(ConnectorError::InvalidInput(f)) if f.field == "cursor")
        );
    }
}
