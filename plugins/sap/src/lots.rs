//! `pull-lots`: the lots (batches) on sale per material, from batch master data
//! (`API_BATCH_SRV` / `A_Batch`) and unrestricted stock (`API_MATERIAL_STOCK_SRV`).
//!
//! The walk goes over the batch master, ordered by material with a key-set cursor
//! (`Material gt '<last>'`, a page ending on a material boundary), so every material managed
//! in batches, and only those, gets a [`LotSync`]: the marketplace replaces its lots with the
//! list, and a material whose batches are all sold out gets an empty list, which drops the
//! stale lots there. For the materials of a page, own unrestricted stock (`InventoryStockType`
//! `01`, no special stock, in the configured `plant` or all) is read in lookups of a few
//! materials and summed per batch over plants and storage locations, under the rules of
//! [`crate::stock`] (whole units, base unit = sales unit, a negative sum is 0). A lot is a
//! batch with stock > 0: `produced_on` / `expires_on` are the batch's `ManufactureDate` /
//! `ShelfLifeExpirationDate` (`/Date(ms)/` → `YYYY-MM-DD`; absent when SAP has none). Stock of
//! a batch the master does not list (plant-level batches of another plant) is still a lot,
//! without dates, and is logged. Lots are ordered by batch number.
//!
//! The pull is a snapshot: the request's window is not used.

use std::collections::BTreeMap;

use serde_json::Value;
use wharf_sdk::json::Node;
use wharf_sdk::types::{ConnectorError, Lot, LotPage, LotSync, PullRequest};

use crate::keyset::{self, Walk};
use crate::odata::{self, Client};
use crate::settings::Settings;
use crate::stock;
use crate::transport::Transport;

pub const SERVICE: &str = "API_BATCH_SRV";
pub const ENTITY_SET: &str = "A_Batch";
const SELECT: &str = "Material,BatchIdentifyingPlant,Batch,ManufactureDate,ShelfLifeExpirationDate";
const ORDER_BY: &str = "Material,Batch,BatchIdentifyingPlant";
const STOCK_SELECT: &str =
    "Material,Plant,StorageLocation,Batch,MaterialBaseUnit,MatlWrhsStkQtyInMatlBaseUnit";
const STOCK_ORDER_BY: &str = "Material,Batch,Plant,StorageLocation";
/// Cursors this module writes: `lots1:<last material of the previous page>`.
pub const CURSOR_PREFIX: &str = "lots1:";
/// Materials asked per stock lookup: 20 `or`-ed clauses keep the URL near 1 KB, well inside
/// SAP's (and proxies') URL limits.
pub const MATERIALS_PER_LOOKUP: usize = 20;

/// One batch master record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BatchRow {
    material: String,
    batch: String,
    produced_on: Option<String>,
    expires_on: Option<String>,
}

fn parse_batch(row: &Value, path: String) -> Result<BatchRow, ConnectorError> {
    let node = Node::root(row, path);
    Ok(BatchRow {
        material: node.str("Material")?,
        batch: node.str("Batch")?,
        produced_on: odata::opt_date(&node, "ManufactureDate")?,
        expires_on: odata::opt_date(&node, "ShelfLifeExpirationDate")?,
    })
}

/// Unrestricted stock per material and batch, in thousandths.
fn batch_stock<T: Transport>(
    client: &mut Client<'_, T>,
    settings: &Settings,
    materials: &[&str],
) -> Result<BTreeMap<(String, String), i64>, ConnectorError> {
    let mut sums: BTreeMap<(String, String), i64> = BTreeMap::new();
    for chunk in materials.chunks(MATERIALS_PER_LOOKUP) {
        let mut filter = vec![
            odata::any_eq("Material", chunk.iter().copied()),
            odata::eq("InventoryStockType", stock::UNRESTRICTED),
            odata::eq("InventorySpecialStockType", ""),
            format!("Batch ne {}", odata::literal("")),
        ];
        if let Some(plant) = &settings.plant {
            filter.push(odata::eq("Plant", plant));
        }
        let rows = keyset::read_all(
            client,
            stock::SERVICE,
            stock::ENTITY_SET,
            &filter,
            STOCK_SELECT,
            STOCK_ORDER_BY,
        )?;
        for (i, row) in rows.iter().enumerate() {
            let node = Node::root(row, format!("{}.d.results[{i}]", stock::ENTITY_SET));
            let material = node.str("Material")?;
            stock::check_unit(settings, &material, &node.str("MaterialBaseUnit")?)?;
            let thousandths = odata::quantity_thousandths(&node, "MatlWrhsStkQtyInMatlBaseUnit")?;
            let sum = sums
                .entry((material.clone(), node.str("Batch")?))
                .or_insert(0);
            *sum = stock::add(*sum, thousandths, &material)?;
        }
    }
    Ok(sums)
}

/// One page of lot syncs.
pub fn pull_lots<T: Transport>(
    transport: &mut T,
    settings: &Settings,
    request: &PullRequest,
) -> Result<LotPage, ConnectorError> {
    let mut filter = Vec::new();
    if let Some(plant) = &settings.plant {
        // Batches are unique per material (or per plant, when the batch level is the plant).
        filter.push(format!(
            "({} or {})",
            odata::eq("BatchIdentifyingPlant", ""),
            odata::eq("BatchIdentifyingPlant", plant)
        ));
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
    let groups = keyset::read_groups(
        &mut client,
        &walk,
        request.cursor.as_deref(),
        parse_batch,
        |b: &BatchRow| &b.material,
    )?;
    // Material → batch → dates; the first master record of a batch wins.
    let mut master: BTreeMap<String, BTreeMap<String, BatchRow>> = BTreeMap::new();
    for row in groups.rows {
        master
            .entry(row.material.clone())
            .or_default()
            .entry(row.batch.clone())
            .or_insert(row);
    }
    let materials: Vec<&str> = master.keys().map(String::as_str).collect();
    let mut stock = batch_stock(&mut client, settings, &materials)?;
    let mut items = Vec::with_capacity(master.len());
    for (material, batches) in &master {
        let mut lots = Vec::new();
        let in_stock: Vec<(String, i64)> = stock
            .iter()
            .filter(|((m, _), _)| m == material)
            .map(|((_, b), q)| (b.clone(), *q))
            .collect();
        for (batch, thousandths) in in_stock {
            stock.remove(&(material.clone(), batch.clone()));
            let what = format!("batch {batch} of {material}");
            let quantity = stock::sellable(&mut client, material, &what, thousandths)?;
            if quantity == 0 {
                continue;
            }
            let dates = batches.get(&batch);
            if dates.is_none() {
                client.note(
                    "stock of a batch without batch master data published without dates",
                    &[("batch", what)],
                );
            }
            lots.push(Lot {
                batch_no: batch,
                produced_on: dates.and_then(|d| d.produced_on.clone()),
                expires_on: dates.and_then(|d| d.expires_on.clone()),
                quantity,
            });
        }
        items.push(LotSync {
            outer_sku_id: material.clone(),
            product_id: None,
            sku_id: None,
            lots,
        });
    }
    Ok(LotPage {
        items,
        rejected: Vec::new(),
        next_cursor: groups.next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::settings;
    use crate::transport::scripted::{Scripted, json};
    use serde_json::json;

    fn batches(
        rows: &[(&str, &str, Option<&str>)],
    ) -> Result<wharf_sdk::http::Response, ConnectorError> {
        let results: Vec<Value> = rows
            .iter()
            .map(|(m, b, made)| json!({"Material": m, "BatchIdentifyingPlant": "", "Batch": b,
                "ManufactureDate": made, "ShelfLifeExpirationDate": made.map(|_| "/Date(1798761600000)/")}))
            .collect();
        json(200, &json!({"d": {"results": results}}).to_string())
    }

    fn stock(rows: &[(&str, &str, &str)]) -> Result<wharf_sdk::http::Response, ConnectorError> {
        let results: Vec<Value> = rows
            .iter()
            .map(|(m, b, q)| {
                json!({"Material": m, "Plant": "1000", "StorageLocation": "0001", "Batch": b,
                "MaterialBaseUnit": "EA", "MatlWrhsStkQtyInMatlBaseUnit": q})
            })
            .collect();
        json(200, &json!({"d": {"results": results}}).to_string())
    }

    fn request(cursor: Option<&str>) -> PullRequest {
        PullRequest {
            window: None,
            cursor: cursor.map(str::to_owned),
        }
    }

    type Summary = Vec<(String, Vec<(String, u32, Option<String>)>)>;

    fn summary(page: &LotPage) -> Summary {
        page.items
            .iter()
            .map(|s| {
                (
                    s.outer_sku_id.clone(),
                    s.lots
                        .iter()
                        .map(|l| (l.batch_no.clone(), l.quantity, l.produced_on.clone()))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn lots_on_sale_per_material_and_empty_lists_for_sold_out_ones() {
        let s = settings(&[("page_size", "5"), ("plant", "1000")]);
        let made = Some("/Date(1735689600000)/");
        let mut t = Scripted::answering(vec![
            batches(&[
                ("A", "B1", made),
                ("A", "B2", None),
                ("C", "B9", made),
                ("D", "B1", made),
                ("D", "B2", made),
            ]),
            stock(&[
                ("A", "B1", "2.000"),
                // Padded to the declared scale (14), as a Gateway may send it.
                ("A", "B1", "3.00000000000000"),
                ("A", "B2", "0.00000000000000"),
                ("A", "BX", "1"),
            ]),
        ]);
        let page = pull_lots(&mut t, &s, &request(None)).unwrap();
        let day = Some("2025-01-01".to_owned());
        assert_eq!(
            summary(&page),
            vec![
                (
                    "A".to_owned(),
                    vec![("B1".to_owned(), 5, day), ("BX".to_owned(), 1, None)]
                ),
                ("C".to_owned(), vec![]),
            ]
        );
        assert_eq!(
            page.items[0].lots[0].expires_on.as_deref(),
            Some("2027-01-01")
        );
        assert_eq!(page.next_cursor.as_deref(), Some("lots1:C"));
        assert_eq!(
            t.url(0),
            "https://my-s4.example.com/sap/opu/odata/sap/API_BATCH_SRV/A_Batch?\
             $filter=(BatchIdentifyingPlant eq '' or BatchIdentifyingPlant eq '1000')\
             &$select=Material,BatchIdentifyingPlant,Batch,ManufactureDate,ShelfLifeExpirationDate\
             &$orderby=Material,Batch,BatchIdentifyingPlant&$top=5&$skip=0&$format=json"
        );
        assert!(
            t.url(1).contains(
                "A_MatlStkInAcctMod?$filter=(Material eq 'A' or Material eq 'C') and InventoryStockType eq '01' \
                 and InventorySpecialStockType eq '' and Batch ne '' and Plant eq '1000'&"
            ),
            "{}",
            t.url(1)
        );
        assert_eq!(
            t.notes,
            ["stock of a batch without batch master data published without dates"]
        );
    }

    #[test]
    fn the_last_page_has_no_cursor_and_bad_rows_are_named() {
        let s = settings(&[]);
        let mut t = Scripted::answering(vec![batches(&[("D", "B1", None)]), stock(&[])]);
        let page = pull_lots(&mut t, &s, &request(Some("lots1:C"))).unwrap();
        assert_eq!(summary(&page), vec![("D".to_owned(), vec![])]);
        assert_eq!(page.next_cursor, None);
        assert!(
            t.url(0).contains("$filter=Material gt 'C'&"),
            "{}",
            t.url(0)
        );

        let mut t = Scripted::answering(vec![batches(&[("D", "B1", Some("2025-01-01"))])]);
        match pull_lots(&mut t, &s, &request(None)) {
            Err(ConnectorError::InvalidInput(f)) => {
                assert_eq!(f.field, "A_Batch.d.results[0].ManufactureDate")
            }
            other => panic!("{other:?}"),
        }
        let mut t = Scripted::answering(vec![
            batches(&[("D", "B1", None)]),
            stock(&[("D", "B1", "1.500")]),
        ]);
        match pull_lots(&mut t, &s, &request(None)) {
            Err(ConnectorError::InvalidInput(f)) => assert_eq!(
                f.field,
                "A_MatlStkInAcctMod(Material='D').MatlWrhsStkQtyInMatlBaseUnit"
            ),
            other => panic!("{other:?}"),
        }
        let mut t = Scripted::default();
        assert!(matches!(
            pull_lots(&mut t, &s, &request(Some("stock1:A"))),
            Err(ConnectorError::InvalidInput(f)) if f.field == "cursor"
        ));
    }
}
