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
//! A material is one record: one whose batch master or batch stock cannot be mapped (a
//! missing field, an unreadable date or quantity, a foreign unit, a sum that is not whole) is
//! rejected as a whole, named by its material number with the offending field, and gets no
//! [`LotSync`] (a partial list would drop lots that are there); the other materials of the
//! page flow ([`crate::keyset`]).
//!
//! The pull is a snapshot: the request's window is not used.

use std::collections::BTreeMap;

use wharf_sdk::types::{ConnectorError, Lot, LotPage, LotSync, PullRequest, Rejected};

use crate::keyset::{self, Group, Row, Walk};
use crate::odata::{self, Client};
use crate::settings::Settings;
use crate::stock;
use crate::transport::Transport;

pub const SERVICE: &str = "API_BATCH_SRV";
pub const ENTITY_SET: &str = "A_Batch";
const SELECT: &str = "Material,BatchIdentifyingPlant,Batch,ManufactureDate,ShelfLifeExpirationDate";
const ORDER_BY: &str = "Material,Batch,BatchIdentifyingPlant";
const STOCK_SELECT: &str = "Material,Plant,StorageLocation,Batch,MaterialBaseUnit,MatlWrhsStkQtyInMatlBaseUnit";
const STOCK_ORDER_BY: &str = "Material,Batch,Plant,StorageLocation";
/// Cursors this module writes: `lots1:<last material of the previous page>`.
pub const CURSOR_PREFIX: &str = "lots1:";
/// Materials asked per stock lookup: 20 `or`-ed clauses keep the URL near 1 KB, well inside
/// SAP's (and proxies') URL limits.
pub const MATERIALS_PER_LOOKUP: usize = 20;

/// One batch master record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BatchRow {
    produced_on: Option<String>,
    expires_on: Option<String>,
}

/// A material's batch master: batch → dates; the first master record of a batch wins.
fn master_of(material: &Group) -> Result<BTreeMap<String, BatchRow>, ConnectorError> {
    let mut batches = BTreeMap::new();
    for row in &material.rows {
        let node = row.node();
        let batch = node.str("Batch")?;
        let dates = BatchRow {
            produced_on: odata::opt_date(&node, "ManufactureDate")?,
            expires_on: odata::opt_date(&node, "ShelfLifeExpirationDate")?,
        };
        batches.entry(batch).or_insert(dates);
    }
    Ok(batches)
}

/// The unrestricted batch stock rows of `materials`, grouped by material, and the rows
/// without a readable material (rejected).
fn batch_stock<T: Transport>(
    client: &mut Client<'_, T>,
    settings: &Settings,
    materials: &[&str],
) -> Result<(BTreeMap<String, Group>, Vec<Rejected>), ConnectorError> {
    let mut groups = BTreeMap::new();
    let mut rejected = Vec::new();
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
        let rows = keyset::read_all(client, stock::SERVICE, stock::ENTITY_SET, &filter, STOCK_SELECT, STOCK_ORDER_BY)?;
        let rows = rows.into_iter().enumerate().map(|(i, row)| Row::at(stock::ENTITY_SET, i, row)).collect();
        let (found, unkeyed) = keyset::group(rows, "Material")?;
        groups.extend(found.into_iter().map(|g| (g.key.clone(), g)));
        rejected.extend(unkeyed);
    }
    Ok((groups, rejected))
}

/// The lots of one material: its batch stock summed per batch (see the module docs).
fn lot_sync<T: Transport>(
    client: &mut Client<'_, T>,
    settings: &Settings,
    material: &str,
    master: &BTreeMap<String, BatchRow>,
    stock_rows: &Group,
) -> Result<LotSync, ConnectorError> {
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for row in &stock_rows.rows {
        let node = row.node();
        stock::check_unit(settings, material, &node)?;
        let thousandths = odata::quantity_thousandths(&node, "MatlWrhsStkQtyInMatlBaseUnit")?;
        let sum = sums.entry(node.str("Batch")?).or_insert(0);
        *sum = stock::add(*sum, thousandths, material)?;
    }
    let mut lots = Vec::new();
    for (batch, thousandths) in sums {
        let what = format!("batch {batch} of {material}");
        let quantity = stock::sellable(client, material, &what, thousandths)?;
        if quantity == 0 {
            continue;
        }
        let dates = master.get(&batch);
        if dates.is_none() {
            client.note("stock of a batch without batch master data published without dates", &[("batch", what)]);
        }
        lots.push(Lot {
            batch_no: batch,
            produced_on: dates.and_then(|d| d.produced_on.clone()),
            expires_on: dates.and_then(|d| d.expires_on.clone()),
            quantity,
        });
    }
    Ok(LotSync { outer_sku_id: material.to_owned(), product_id: None, sku_id: None, lots })
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
    let groups = keyset::read_groups(&mut client, &walk, request.cursor.as_deref())?;
    let mut rejected = groups.rejected;
    let mut masters = Vec::with_capacity(groups.groups.len());
    for group in &groups.groups {
        match keyset::settle_group(group, master_of(group))? {
            Ok(master) => masters.push((group.key.as_str(), master)),
            Err(r) => rejected.push(r),
        }
    }
    let materials: Vec<&str> = masters.iter().map(|(m, _)| *m).collect();
    let (stock, unkeyed) = batch_stock(&mut client, settings, &materials)?;
    rejected.extend(unkeyed);
    let mut items = Vec::with_capacity(masters.len());
    for (material, master) in &masters {
        let none = Group { key: (*material).to_owned(), rows: Vec::new() };
        let stock_rows = stock.get(*material).unwrap_or(&none);
        let sync = lot_sync(&mut client, settings, material, master, stock_rows);
        match keyset::settle_group(stock_rows, sync)? {
            Ok(sync) => items.push(sync),
            Err(r) => rejected.push(r),
        }
    }
    Ok(LotPage { items, rejected, next_cursor: groups.next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::settings;
    use crate::transport::scripted::{Scripted, json};
    use serde_json::{Value, json};

    fn batches(rows: &[(&str, &str, Option<&str>)]) -> Result<wharf_sdk::http::Response, ConnectorError> {
        let results: Vec<Value> = rows
            .iter()
            .map(|(m, b, made)| {
                json!({"Material": m, "BatchIdentifyingPlant": "", "Batch": b,
                "ManufactureDate": made, "ShelfLifeExpirationDate": made.map(|_| "/Date(1798761600000)/")})
            })
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
        PullRequest { window: None, cursor: cursor.map(str::to_owned) }
    }

    type Summary = Vec<(String, Vec<(String, u32, Option<String>)>)>;

    fn summary(page: &LotPage) -> Summary {
        page.items
            .iter()
            .map(|s| {
                (
                    s.outer_sku_id.clone(),
                    s.lots.iter().map(|l| (l.batch_no.clone(), l.quantity, l.produced_on.clone())).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn lots_on_sale_per_material_and_empty_lists_for_sold_out_ones() {
        let s = settings(&[("page_size", "5"), ("plant", "1000")]);
        let made = Some("/Date(1735689600000)/");
        let mut t = Scripted::answering(vec![
            batches(&[("A", "B1", made), ("A", "B2", None), ("C", "B9", made), ("D", "B1", made), ("D", "B2", made)]),
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
                ("A".to_owned(), vec![("B1".to_owned(), 5, day), ("BX".to_owned(), 1, None)]),
                ("C".to_owned(), vec![]),
            ]
        );
        assert_eq!(page.items[0].lots[0].expires_on.as_deref(), Some("2027-01-01"));
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
        assert_eq!(t.notes, ["stock of a batch without batch master data published without dates"]);
    }

    /// `(id, field)` of each rejected material.
    fn rejected(page: &LotPage) -> Vec<(&str, &str)> {
        page.rejected.iter().map(|r| (r.id.as_str(), r.field.as_str())).collect()
    }

    #[test]
    fn one_bad_material_is_rejected_and_the_others_flow() {
        let s = settings(&[("page_size", "10")]);
        let made = Some("/Date(1735689600000)/");
        let mut t = Scripted::answering(vec![
            batches(&[("A", "B1", made), ("B", "B1", Some("yesterday")), ("C", "B1", made), ("D", "B1", made)]),
            stock(&[("A", "B1", "2"), ("C", "B1", "1"), ("C", "B1", "0.5"), ("D", "B1", "3")]),
        ]);
        let page = pull_lots(&mut t, &s, &request(None)).unwrap();
        let day = Some("2025-01-01".to_owned());
        assert_eq!(
            summary(&page),
            vec![
                ("A".to_owned(), vec![("B1".to_owned(), 2, day.clone())]),
                ("D".to_owned(), vec![("B1".to_owned(), 3, day)]),
            ]
        );
        assert_eq!(
            rejected(&page),
            [
                ("B", "A_Batch.d.results[1].ManufactureDate"),
                ("C", "A_MatlStkInAcctMod(Material='C').MatlWrhsStkQtyInMatlBaseUnit"),
            ]
        );
        // The stock of a rejected master is not asked for; the sum's excerpt is its rows.
        assert!(!t.url(1).contains("'B'"), "{}", t.url(1));
        let excerpt = page.rejected[1].excerpt.as_deref().unwrap_or_default();
        assert!(excerpt.starts_with('[') && excerpt.contains("0.5"), "{excerpt}");
        assert_eq!(page.next_cursor, None);
    }

    #[test]
    fn the_last_page_has_no_cursor_and_bad_rows_are_named() {
        let s = settings(&[]);
        let mut t = Scripted::answering(vec![batches(&[("D", "B1", None)]), stock(&[])]);
        let page = pull_lots(&mut t, &s, &request(Some("lots1:C"))).unwrap();
        assert_eq!(summary(&page), vec![("D".to_owned(), vec![])]);
        assert_eq!(page.next_cursor, None);
        assert!(t.url(0).contains("$filter=Material gt 'C'&"), "{}", t.url(0));

        let mut t = Scripted::answering(vec![batches(&[("D", "B1", Some("2025-01-01"))])]);
        let page = pull_lots(&mut t, &s, &request(None)).unwrap();
        assert_eq!(rejected(&page), [("D", "A_Batch.d.results[0].ManufactureDate")]);
        assert!(page.items.is_empty());
        let mut t = Scripted::answering(vec![batches(&[("D", "B1", None)]), stock(&[("D", "B1", "1.500")])]);
        let page = pull_lots(&mut t, &s, &request(None)).unwrap();
        assert_eq!(rejected(&page), [("D", "A_MatlStkInAcctMod(Material='D').MatlWrhsStkQtyInMatlBaseUnit")]);
        let mut t = Scripted::default();
        assert!(matches!(
            pull_lots(&mut t, &s, &request(Some("stock1:A"))),
            Err(ConnectorError::InvalidInput(f)) if f.field == "cursor"
        ));
    }
}
