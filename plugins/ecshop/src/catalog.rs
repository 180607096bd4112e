//! What the ERP says about goods beyond stock and price: lots on sale (`push-lots`) and new
//! products (`push-products`).
//!
//! **Lots.** ECShop has no lot table; the bridge keeps its own (`ecs_wharf_goods_lot`, see
//! `bridge/README.md`). A lot sync is the full list of a SKU's lots on sale: the bridge
//! deletes that SKU's lots and inserts the ones sent, in one transaction, so no stale lot
//! remains.
//!
//! **Products.** A product becomes one `ecs_goods` row without products (attribute
//! combinations), its `goods_sn` the ERP's product id, so a re-sent product updates the same
//! goods. `shop_price` is the default price, `market_price` the suggested retail price (else
//! the default), `goods_number` the stock. It goes on sale (`is_on_sale` 1) only when the ERP
//! says to list it once in stock and it is; otherwise it waits for the shop's review or a
//! listing push. ECShop 2.7 has no barcode, approval number, spec or manufacturer column, so
//! those go into `goods_brief` (the short description buyers see, where a pharmacy shows them
//! anyway) as `条形码:…;批准文号:…;规格:…;生产厂家:…`. `category` is ECShop's `cat_id` (a
//! number; absent: 0, uncategorised). `base_product_id` has no meaning in ECShop (it has no
//! platform catalog to match) and is not sent.

use serde_json::{Value, json};
use wharf_sdk::api::Api;
use wharf_sdk::batch;
use wharf_sdk::json::Node;
use wharf_sdk::money;
use wharf_sdk::types::{ConnectorError, ItemResult, LotSync, Product, PushAck};

use crate::fulfilment::{MAX_BATCH_NO_CHARS, date};
use crate::push::{MAX_PRICE_FEN, MAX_SN_CHARS, MAX_STOCK, goods_ref, text};

pub const LOTS: &str = "lots";
pub const PRODUCT: &str = "product";

/// `ecs_goods.goods_name` is varchar(120), `goods_brief` varchar(255).
const MAX_GOODS_NAME_CHARS: usize = 120;
const MAX_GOODS_BRIEF_CHARS: usize = 255;
/// `ecs_goods.cat_id` is smallint(5) unsigned.
const MAX_CAT_ID: u32 = 65_535;

/// The bridge body of one lot sync.
pub fn lots_body(sync: &LotSync) -> Result<Value, ConnectorError> {
    let sn = text("outer_sku_id", &sync.outer_sku_id, MAX_SN_CHARS, "the merchant code (goods_sn or product_sn)")?;
    let mut lots = Vec::with_capacity(sync.lots.len());
    for (i, lot) in sync.lots.iter().enumerate() {
        let field = |name: &str| format!("lots[{i}].{name}");
        let batch_no = text(&field("batch_no"), &lot.batch_no, MAX_BATCH_NO_CHARS, "a lot number")?;
        if sync.lots[..i].iter().any(|earlier| earlier.batch_no == lot.batch_no) {
            return Err(ConnectorError::invalid_input(
                field("batch_no"),
                format!("expected each lot once, got {batch_no:?} again"),
            ));
        }
        let produced_on = date(&field("produced_on"), lot.produced_on.as_deref())?;
        let expires_on = date(&field("expires_on"), lot.expires_on.as_deref())?;
        if let (Some(p), Some(e)) = (&produced_on, &expires_on)
            && e < p
        {
            return Err(ConnectorError::invalid_input(
                field("expires_on"),
                format!("expected a date on or after produced_on {p}, got {e}"),
            ));
        }
        if lot.quantity > MAX_STOCK {
            return Err(ConnectorError::invalid_input(
                field("quantity"),
                format!("expected at most {MAX_STOCK} (ECShop keeps stock in a smallint), got {}", lot.quantity),
            ));
        }
        lots.push(json!({"batch_no": batch_no, "produced_on": produced_on, "expires_on": expires_on, "quantity": lot.quantity}));
    }
    Ok(json!({"sn": sn, "lots": lots}))
}

/// A price that fits `decimal(10,2)`, as yuan text.
fn price(field: &str, fen: i64) -> Result<String, ConnectorError> {
    if !(0..=MAX_PRICE_FEN).contains(&fen) {
        return Err(ConnectorError::invalid_input(
            field,
            format!("expected 0 to {MAX_PRICE_FEN} fen (decimal(10,2)), got {fen}"),
        ));
    }
    Ok(money::format_yuan(fen))
}

/// What ECShop has no column for, as `goods_brief` text (see the module docs).
fn brief(product: &Product) -> Result<String, ConnectorError> {
    let parts = [
        ("条形码", &product.barcode),
        ("批准文号", &product.approval_no),
        ("规格", &product.spec),
        ("生产厂家", &product.manufacturer),
    ];
    let brief: Vec<String> = parts
        .iter()
        .filter_map(|(label, value)| {
            value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(|v| format!("{label}:{v}"))
        })
        .collect();
    let brief = brief.join(";");
    if brief.chars().count() > MAX_GOODS_BRIEF_CHARS {
        return Err(ConnectorError::invalid_input(
            "spec",
            format!(
                "expected barcode, approval_no, spec and manufacturer to fit ECShop's goods_brief ({MAX_GOODS_BRIEF_CHARS} characters), got {brief:?}"
            ),
        ));
    }
    Ok(brief)
}

/// The bridge body of one product.
pub fn product_body(product: &Product) -> Result<Value, ConnectorError> {
    let goods_sn = text("erp_product_id", &product.erp_product_id, MAX_SN_CHARS, "the ERP's product id (goods_sn)")?;
    let goods_name = text("title", &product.title, MAX_GOODS_NAME_CHARS, "a title")?;
    if product.stock > MAX_STOCK {
        return Err(ConnectorError::invalid_input(
            "stock",
            format!("expected at most {MAX_STOCK} (ECShop keeps stock in a smallint), got {}", product.stock),
        ));
    }
    let cat_id = match product.category.as_deref() {
        None => 0,
        Some(c) => c.parse::<u32>().ok().filter(|n| (1..=MAX_CAT_ID).contains(n)).ok_or_else(|| {
            ConnectorError::invalid_input(
                "category",
                format!("expected an ECShop cat_id (1 to {MAX_CAT_ID}), got {c:?}"),
            )
        })?,
    };
    Ok(json!({
        "goods_sn": goods_sn,
        "goods_name": goods_name,
        "shop_price": price("default_price", product.default_price)?,
        "market_price": price(
            "suggested_retail_price",
            product.suggested_retail_price.unwrap_or(product.default_price),
        )?,
        "goods_number": product.stock,
        "is_on_sale": product.list_when_in_stock && product.stock > 0,
        "cat_id": cat_id,
        "goods_brief": brief(product)?,
    }))
}

pub fn push_lots(api: &mut impl Api, updates: Vec<LotSync>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(updates, |sync| goods_ref(LOTS, &api.call(LOTS, &lots_body(&sync)?)?))
}

pub fn push_products(api: &mut impl Api, products: Vec<Product>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(products, |product| {
        let answer = api.call(PRODUCT, &product_body(&product)?)?;
        Ok(PushAck { platform_ref: Some(Node::root(&answer, PRODUCT).id("goods_id")?) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::invalid_field;
    use wharf_sdk::api::Scripted;
    use wharf_sdk::types::Lot;

    fn lot(batch_no: &str, produced_on: Option<&str>, expires_on: Option<&str>, quantity: u32) -> Lot {
        Lot {
            batch_no: batch_no.into(),
            produced_on: produced_on.map(Into::into),
            expires_on: expires_on.map(Into::into),
            quantity,
        }
    }

    fn sync(sku: &str, lots: Vec<Lot>) -> LotSync {
        LotSync { outer_sku_id: sku.into(), product_id: None, sku_id: None, lots }
    }

    #[test]
    fn lot_syncs_send_the_full_list() {
        let mut api = Scripted::answering(vec![
            Ok(json!({"sn": "SKU-1", "goods_id": 101, "product_id": 7, "lots": 2})),
            Ok(json!({"sn": "SKU-2", "goods_id": 102, "product_id": null, "lots": 0})),
            Err(ConnectorError::not_found("no goods_sn or product_sn \"SKU-9\"")),
        ]);
        let results = push_lots(
            &mut api,
            vec![
                sync("SKU-1", vec![lot("B1", Some("2026-01-01"), Some("2028-01-01"), 5), lot("B2", None, None, 3)]),
                sync("SKU-2", vec![]),
                sync("SKU-9", vec![lot("B1", None, None, 1)]),
                sync("SKU-1", vec![lot("B1", None, Some("2026-13-01"), 1)]),
                sync("SKU-1", vec![lot("B1", Some("2027-01-01"), Some("2026-01-01"), 1)]),
                sync("SKU-1", vec![lot("B1", None, None, 1), lot("B1", None, None, 2)]),
                sync("SKU-1", vec![lot(" ", None, None, 1)]),
                sync("SKU-1", vec![lot("B1", None, None, 70_000)]),
            ],
        )
        .unwrap();
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("7"));
        assert_eq!(results[1].as_ref().unwrap().platform_ref.as_deref(), Some("102"));
        assert!(matches!(&results[2], Err(ConnectorError::NotFound(m)) if m.contains("SKU-9")));
        assert_eq!(invalid_field(&results[3]), Some("lots[0].expires_on"));
        assert_eq!(invalid_field(&results[4]), Some("lots[0].expires_on"));
        assert_eq!(invalid_field(&results[5]), Some("lots[1].batch_no"));
        assert_eq!(invalid_field(&results[6]), Some("lots[0].batch_no"));
        assert_eq!(invalid_field(&results[7]), Some("lots[0].quantity"));
        assert_eq!(
            api.calls[0].1,
            json!({"sn": "SKU-1", "lots": [
                {"batch_no": "B1", "produced_on": "2026-01-01", "expires_on": "2028-01-01", "quantity": 5},
                {"batch_no": "B2", "produced_on": null, "expires_on": null, "quantity": 3},
            ]})
        );
        assert_eq!(api.calls[1].1, json!({"sn": "SKU-2", "lots": []}));
        assert_eq!(api.calls.len(), 3);
    }

    fn product(id: &str, stock: u32, list: bool) -> Product {
        Product {
            erp_product_id: id.into(),
            title: "阿莫西林胶囊".into(),
            barcode: Some("6901234567892".into()),
            approval_no: Some("国药准字H20003263".into()),
            spec: Some("0.25g*24粒".into()),
            manufacturer: None,
            base_product_id: None,
            category: None,
            default_price: 1990,
            suggested_retail_price: None,
            stock,
            list_when_in_stock: list,
        }
    }

    #[test]
    fn products_become_goods() {
        let mut api = Scripted::answering(vec![
            Ok(json!({"goods_id": 300, "goods_sn": "P-1", "created": true})),
            Ok(json!({"goods_id": 301, "goods_sn": "P-2", "created": false})),
        ]);
        let held =
            Product { suggested_retail_price: Some(2500), category: Some("12".into()), ..product("P-2", 0, true) };
        let results = push_products(
            &mut api,
            vec![
                product("P-1", 10, true),
                held,
                Product { category: Some("药品".into()), ..product("P-3", 1, true) },
                Product { default_price: -1, ..product("P-4", 1, true) },
                product("", 1, true),
                Product { spec: Some("x".repeat(300)), ..product("P-5", 1, true) },
            ],
        )
        .unwrap();
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("300"));
        assert_eq!(
            api.calls[0].1,
            json!({
                "goods_sn": "P-1", "goods_name": "阿莫西林胶囊", "shop_price": "19.90", "market_price": "19.90",
                "goods_number": 10, "is_on_sale": true, "cat_id": 0,
                "goods_brief": "条形码:6901234567892;批准文号:国药准字H20003263;规格:0.25g*24粒",
            })
        );
        let held = &api.calls[1].1;
        assert_eq!(
            (held["is_on_sale"].clone(), held["market_price"].clone(), held["cat_id"].clone()),
            (json!(false), json!("25.00"), json!(12))
        );
        assert_eq!(invalid_field(&results[2]), Some("category"));
        assert_eq!(invalid_field(&results[3]), Some("default_price"));
        assert_eq!(invalid_field(&results[4]), Some("erp_product_id"));
        assert_eq!(invalid_field(&results[5]), Some("spec"));
        assert_eq!(api.calls.len(), 2);
    }

    #[test]
    fn list_only_when_told_and_in_stock() {
        assert_eq!(product_body(&product("P", 0, true)).unwrap()["is_on_sale"], false);
        assert_eq!(product_body(&product("P", 5, false)).unwrap()["is_on_sale"], false);
        assert_eq!(product_body(&product("P", 5, true)).unwrap()["is_on_sale"], true);
    }
}
