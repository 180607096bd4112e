//! Product sheets: one row per product to upload, each a [`Product`].
//!
//! | column | | takes |
//! |---|---|---|
//! | `erp_product_id` | required | the ERP's product id; once per sheet |
//! | `title` | required | text |
//! | `default_price` | required | yuan >= 0 with at most 2 decimals |
//! | `suggested_retail_price` | | yuan |
//! | `stock` | | a whole number >= 0; blank is 0 |
//! | `list_when_in_stock` | | true/false (yes/no, 1/0, 是/否); blank is false |
//! | `barcode`, `base_product_id` | | codes |
//! | `approval_no`, `spec`, `manufacturer`, `category` | | text |

use super::cell::Value;
use super::column::{Column, Form};
use super::rows::{Reject, Row, Rows, Seen};
use crate::model::Product;
use crate::sync::intake::Update;

pub(super) const ABOUT: &str = "One row per product to upload to the platforms. A product may appear once per sheet.";

/// The Chinese header of each column (import reads either; a Chinese template writes these).
pub(super) const CHINESE: &[(&str, &str)] = &[
    ("erp_product_id", "ERP商品编码"),
    ("title", "商品标题"),
    ("default_price", "售价"),
    ("suggested_retail_price", "建议零售价"),
    ("stock", "库存"),
    ("list_when_in_stock", "有货即上架"),
    ("barcode", "条码"),
    ("approval_no", "批准文号"),
    ("spec", "规格"),
    ("manufacturer", "生产厂家"),
    ("base_product_id", "标品ID"),
    ("category", "类目"),
];

pub(super) const COLUMNS: &[Column] = &[
    Column::required("erp_product_id", Form::Code, "The ERP's product id.", "P-10023"),
    Column::required("title", Form::Text, "The product's title.", "维生素C片 100片"),
    Column::required("default_price", Form::Money, "The selling price in yuan.", "39.90"),
    Column::optional("suggested_retail_price", Form::Money, "The suggested retail price in yuan.", "45.00"),
    Column::optional("stock", Form::Count, "Units on sale at upload. Blank is 0.", "100"),
    Column::optional(
        "list_when_in_stock",
        Form::Flag,
        "List at once when stock > 0; otherwise the product waits for review or a listing change.",
        "true",
    ),
    Column::optional("barcode", Form::Code, "The barcode (EAN / UPC).", "6901234567892"),
    Column::optional(
        "approval_no",
        Form::Text,
        "The approval number (批准文号), for regulated goods.",
        "国药准字H20000001",
    ),
    Column::optional("spec", Form::Text, "The specification (规格).", "0.1g*100片"),
    Column::optional("manufacturer", Form::Text, "The manufacturer.", "某某制药有限公司"),
    Column::optional("base_product_id", Form::Code, "The platform's base product, when matched by hand.", "880012"),
    Column::optional("category", Form::Text, "The platform category.", "50023717"),
];

#[derive(Default)]
pub(super) struct Sheet {
    products: Vec<Product>,
    seen: Seen<String>,
}

impl Rows for Sheet {
    fn take(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let erp_product_id = row.must("erp_product_id", Value::code)?;
        if let Some(first) = self.seen.before(erp_product_id.clone(), row.number) {
            return Err(row.reject("erp_product_id", format!("{erp_product_id:?} is already on row {first}")));
        }
        let product = Product {
            title: row.must("title", Value::text)?,
            default_price: row.must("default_price", Value::money)?,
            suggested_retail_price: row.may("suggested_retail_price", Value::money)?,
            stock: {
                let stock = row.may("stock", |v| v.whole(0, u64::from(u32::MAX)))?.unwrap_or(0);
                u32::try_from(stock).map_err(|_| row.reject("stock", "too large"))?
            },
            list_when_in_stock: row.may("list_when_in_stock", Value::flag)?.unwrap_or(false),
            barcode: row.may("barcode", Value::code)?,
            approval_no: row.may("approval_no", Value::text)?,
            spec: row.may("spec", Value::text)?,
            manufacturer: row.may("manufacturer", Value::text)?,
            base_product_id: row.may("base_product_id", Value::code)?,
            category: row.may("category", Value::text)?,
            erp_product_id,
        };
        self.products.push(product);
        Ok(())
    }

    fn finish(self) -> Update {
        Update::Products(self.products)
    }
}

#[cfg(test)]
mod tests {
    use super::super::SheetKind;
    use super::super::fixture::{Cell, accepted, import, rejected, workbook};
    use super::*;

    #[test]
    fn products_from_rows() {
        let header = [
            "erp_product_id",
            "title",
            "default_price",
            "stock",
            "list_when_in_stock",
            "barcode",
            "suggested_retail_price",
        ]
        .map(Cell::s);
        let rows: Vec<Vec<Cell>> = vec![
            header.to_vec(),
            vec![
                Cell::n(10023.0),
                Cell::s("维生素C"),
                Cell::n(39.9),
                Cell::n(100.0),
                Cell::Bool(true),
                Cell::n(6901234567892.0),
                Cell::s("45"),
            ],
            vec![Cell::s("P-2"), Cell::n(2024.0), Cell::s("0")],
        ];
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let imported = import(SheetKind::Products, &workbook(&refs), 0);
        assert_eq!(accepted(&imported), vec![2, 3]);
        let Some(Update::Products(products)) = imported.update else { panic!("{imported:?}") };
        assert_eq!(products[0].erp_product_id, "10023");
        assert_eq!(products[0].default_price, 3990);
        assert_eq!(products[0].suggested_retail_price, Some(4500));
        assert_eq!((products[0].stock, products[0].list_when_in_stock), (100, true));
        assert_eq!(products[0].barcode.as_deref(), Some("6901234567892"));
        assert_eq!(products[1].title, "2024");
        assert_eq!((products[1].default_price, products[1].stock, products[1].list_when_in_stock), (0, 0, false));
        assert_eq!(products[1].barcode, None);
    }

    #[test]
    fn bad_product_rows_are_named() {
        let header = ["erp_product_id", "title", "default_price", "list_when_in_stock"].map(Cell::s);
        let rows: Vec<Vec<Cell>> = vec![
            header.to_vec(),
            vec![Cell::s("P1"), Cell::s("T"), Cell::n(1.0)],
            vec![Cell::s("P1"), Cell::s("T"), Cell::n(1.0)],
            vec![Cell::s("P2"), Cell::Blank, Cell::n(1.0)],
            vec![Cell::s("P3"), Cell::s("T"), Cell::Blank],
            vec![Cell::s("P4"), Cell::s("T"), Cell::n(1.0), Cell::s("sometimes")],
        ];
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let imported = import(SheetKind::Products, &workbook(&refs), 0);
        assert_eq!(imported.update, None);
        let expect: Vec<(u32, String, String)> = vec![
            (3, "A (erp_product_id)".into(), "erp_product_id: \"P1\" is already on row 2".into()),
            (4, "B (title)".into(), "title: required, but the cell is empty".into()),
            (5, "C (default_price)".into(), "default_price: required, but the cell is empty".into()),
            (
                6,
                "D (list_when_in_stock)".into(),
                "list_when_in_stock: expected true or false (also yes/no, 1/0, 是/否), got \"sometimes\"".into(),
            ),
        ];
        assert_eq!(rejected(&imported), expect);
    }
}
