//! Orders to a workbook: sheet `orders` (one row per order) and sheet `lines` (one row per
//! order line), for operators who reconcile by hand or feed an ERP that only takes files; and
//! after-sales the same way (sheets `after_sales` and `lines`), for the merchant who answers
//! them by hand (the answers go back in as an `after_sales` sheet).
//!
//! Headers are the canonical snake_case names (receiver fields prefixed `receiver_`).
//! Instants are Excel datetimes in the shops' time zone, China Standard Time (UTC+8; the format
//! says `+08:00`), as the platforms' back offices show them; money is in major units with two
//! decimals, from the integer minor units (n / 100 is the double nearest the exact decimal,
//! the same number Excel would hold had the amount been typed); ids stay text. Each column's
//! header and value are written side by side in one table, so they cannot drift apart.

use rust_xlsxwriter::{Format, Workbook, Worksheet};

use super::SheetError;
use crate::model::{AfterSaleLine, Money, OrderLine, RefundStatus, Timestamp};
use crate::store::{StoredAfterSale, StoredOrder, SyncState};

/// Rows of an Excel sheet (2^20), the header included.
const EXCEL_ROWS: usize = 1_048_576;
/// Characters Excel holds in one cell; a longer value (a buyer's message) is cut with a note.
const EXCEL_CELL_CHARS: usize = 32_767;
/// Appended to a value cut at [`EXCEL_CELL_CHARS`].
const CUT: &str = "…(cut: Excel holds at most 32767 characters)";
/// Excel's serial of the Unix epoch (1970-01-01) in the 1900 date system.
const UNIX_EPOCH_SERIAL: f64 = 25_569.0;
const MS_PER_DAY: f64 = 86_400_000.0;
/// Instants Excel can show as dates: from 1900-03-01 (earlier serials carry the 1900 leap
/// year bug) to the end of 9999. Others are written as RFC 3339 text.
const EXCEL_FIRST_MS: i64 = -2_203_891_200_000;
const EXCEL_LAST_MS: i64 = 253_402_300_799_999;
const MINOR_PER_MAJOR: f64 = 100.0;
const DATETIME_FORMAT: &str = "yyyy-mm-dd hh:mm:ss \"+08:00\"";
/// China Standard Time's offset from UTC: the shops' time zone (Asia/Shanghai, which has kept
/// no daylight saving since 1991), in which their staff read times.
const SHOP_OFFSET_MS: i64 = 8 * 3600 * 1000;
const MONEY_FORMAT: &str = "0.00";
/// Width of every column, in Excel's character units; times and order ids fit.
const COLUMN_WIDTH: f64 = 20.0;

/// What one cell of the export holds.
enum Out<'a> {
    Blank,
    Text(&'a str),
    /// A name made for the cell (an enum's JSON name).
    Owned(String),
    Number(f64),
    Money(Money),
    Instant(Timestamp),
}

impl<'a> Out<'a> {
    fn opt(s: Option<&'a str>) -> Out<'a> {
        s.map_or(Out::Blank, Out::Text)
    }
}

/// An order column: its header and how to read its value.
type OrderColumn = (&'static str, for<'a> fn(&'a StoredOrder) -> Out<'a>);
/// A line column: its header and how to read its value from the line and its order.
type LineColumn = (&'static str, for<'a> fn(&'a StoredOrder, &'a OrderLine) -> Out<'a>);
/// An after-sale column, and one of its lines.
type AfterSaleColumn = (&'static str, for<'a> fn(&'a StoredAfterSale) -> Out<'a>);
type AfterSaleLineColumn = (&'static str, for<'a> fn(&'a StoredAfterSale, &'a AfterSaleLine) -> Out<'a>);

/// A canonical enum's JSON name, as the API writes it.
fn named<T: serde::Serialize>(value: &T) -> Out<'static> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Out::Owned(s),
        _ => Out::Blank,
    }
}

fn sync(state: SyncState) -> Out<'static> {
    Out::Text(match state {
        SyncState::Unsynced => "unsynced",
        SyncState::Synced => "synced",
    })
}

fn refund(status: RefundStatus) -> &'static str {
    match status {
        RefundStatus::None => "none",
        RefundStatus::Requested => "requested",
        RefundStatus::Refunded => "refunded",
    }
}

fn receiver<'a>(o: &'a StoredOrder, field: fn(&'a crate::model::Receiver) -> Option<&'a String>) -> Out<'a> {
    Out::opt(o.order.receiver.as_ref().and_then(field).map(String::as_str))
}

const ORDER_COLUMNS: &[OrderColumn] = &[
    ("platform", |o| Out::Text(&o.order.platform)),
    ("shop_id", |o| Out::Text(&o.order.shop_id)),
    ("order_id", |o| Out::Text(&o.order.order_id)),
    ("status", |o| Out::Text(o.order.status.name())),
    ("platform_status", |o| Out::Text(&o.order.platform_status)),
    ("refund_status", |o| Out::Text(refund(o.order.refund_status))),
    ("created_at", |o| Out::Instant(o.order.created_at)),
    ("paid_at", |o| o.order.paid_at.map_or(Out::Blank, Out::Instant)),
    ("updated_at", |o| Out::Instant(o.order.updated_at)),
    ("currency", |o| Out::Text(&o.order.currency)),
    ("goods_total", |o| Out::Money(o.order.goods_total)),
    ("shipping_fee", |o| Out::Money(o.order.shipping_fee)),
    ("discount_total", |o| Out::Money(o.order.discount_total)),
    ("paid_total", |o| Out::Money(o.order.paid_total)),
    ("buyer_nick", |o| Out::opt(o.order.buyer_nick.as_deref())),
    ("buyer_message", |o| Out::opt(o.order.buyer_message.as_deref())),
    ("seller_memo", |o| Out::opt(o.order.seller_memo.as_deref())),
    ("receiver_name", |o| receiver(o, |r| r.name.as_ref())),
    ("receiver_phone", |o| receiver(o, |r| r.phone.as_ref())),
    ("receiver_province", |o| receiver(o, |r| r.province.as_ref())),
    ("receiver_city", |o| receiver(o, |r| r.city.as_ref())),
    ("receiver_district", |o| receiver(o, |r| r.district.as_ref())),
    ("receiver_town", |o| receiver(o, |r| r.town.as_ref())),
    ("receiver_address", |o| receiver(o, |r| r.address.as_ref())),
    ("erp_customer_code", |o| Out::opt(o.order.erp_customer_code.as_deref())),
    ("sync", |o| sync(o.sync)),
    ("version", |o| Out::Number(o.version as f64)),
];

const LINE_COLUMNS: &[LineColumn] = &[
    ("platform", |o, _| Out::Text(&o.order.platform)),
    ("shop_id", |o, _| Out::Text(&o.order.shop_id)),
    ("order_id", |o, _| Out::Text(&o.order.order_id)),
    ("line_id", |_, l| Out::Text(&l.line_id)),
    ("product_id", |_, l| Out::opt(l.product_id.as_deref())),
    ("sku_id", |_, l| Out::opt(l.sku_id.as_deref())),
    ("outer_sku_id", |_, l| Out::opt(l.outer_sku_id.as_deref())),
    ("title", |_, l| Out::Text(&l.title)),
    ("sku_properties", |_, l| Out::opt(l.sku_properties.as_deref())),
    ("quantity", |_, l| Out::Number(f64::from(l.quantity))),
    ("unit_price", |_, l| Out::Money(l.unit_price)),
    ("line_total", |_, l| Out::Money(l.line_total)),
    ("discount", |_, l| Out::Money(l.discount)),
    ("batch_no", |_, l| Out::opt(l.batch_no.as_deref())),
    ("refund_status", |_, l| Out::Text(refund(l.refund_status))),
];

const AFTER_SALE_COLUMNS: &[AfterSaleColumn] = &[
    ("platform", |a| Out::Text(&a.after_sale.platform)),
    ("shop_id", |a| Out::Text(&a.after_sale.shop_id)),
    ("after_sale_id", |a| Out::Text(&a.after_sale.after_sale_id)),
    ("order_id", |a| Out::Text(&a.after_sale.order_id)),
    ("kind", |a| named(&a.after_sale.kind)),
    ("status", |a| named(&a.after_sale.status)),
    ("platform_status", |a| Out::Text(&a.after_sale.platform_status)),
    ("intercept", |a| Out::Text(if a.intercept { "true" } else { "false" })),
    ("currency", |a| Out::Text(&a.after_sale.currency)),
    ("refund_amount", |a| Out::Money(a.after_sale.refund_amount)),
    ("shipping_refund", |a| Out::Money(a.after_sale.shipping_refund)),
    ("reason", |a| Out::opt(a.after_sale.reason.as_deref())),
    ("return_carrier", |a| Out::opt(a.after_sale.return_waybill.as_ref().map(|w| w.carrier.as_str()))),
    ("return_tracking_no", |a| Out::opt(a.after_sale.return_waybill.as_ref().map(|w| w.tracking_no.as_str()))),
    ("created_at", |a| Out::Instant(a.after_sale.created_at)),
    ("updated_at", |a| Out::Instant(a.after_sale.updated_at)),
    ("refund_version", |a| a.after_sale.refund_version.map_or(Out::Blank, |v| Out::Number(v as f64))),
    ("sync", |a| sync(a.sync)),
    ("version", |a| Out::Number(a.version as f64)),
];

const AFTER_SALE_LINE_COLUMNS: &[AfterSaleLineColumn] = &[
    ("platform", |a, _| Out::Text(&a.after_sale.platform)),
    ("shop_id", |a, _| Out::Text(&a.after_sale.shop_id)),
    ("after_sale_id", |a, _| Out::Text(&a.after_sale.after_sale_id)),
    ("order_id", |a, _| Out::Text(&a.after_sale.order_id)),
    ("line_id", |_, l| Out::Text(&l.line_id)),
    ("outer_sku_id", |_, l| Out::opt(l.outer_sku_id.as_deref())),
    ("quantity", |_, l| l.quantity.map_or(Out::Blank, |q| Out::Number(f64::from(q)))),
];

/// The formats cells are written with.
struct Formats {
    header: Format,
    instant: Format,
    money: Format,
}

/// A workbook of `orders`: sheet `orders`, then sheet `lines`.
pub fn export_orders(orders: &[StoredOrder]) -> Result<Vec<u8>, SheetError> {
    let line_count: usize = orders.iter().map(|o| o.order.lines.len()).sum();
    fits(&[("orders", orders.len()), ("order lines", line_count)])?;
    let formats = Formats::new();
    let mut book = Workbook::new();
    let order_rows = orders.iter().map(|o| ORDER_COLUMNS.iter().map(|(_, value)| value(o)).collect());
    table(book.add_worksheet().set_name("orders")?, ORDER_COLUMNS.iter().map(|(name, _)| *name), order_rows, &formats)?;
    let line_rows = orders
        .iter()
        .flat_map(|o| o.order.lines.iter().map(move |l| LINE_COLUMNS.iter().map(|(_, value)| value(o, l)).collect()));
    table(book.add_worksheet().set_name("lines")?, LINE_COLUMNS.iter().map(|(name, _)| *name), line_rows, &formats)?;
    Ok(book.save_to_buffer()?)
}

/// A workbook of `after_sales`: sheet `after_sales`, then sheet `lines` (the order lines each
/// concerns).
pub fn export_after_sales(after_sales: &[StoredAfterSale]) -> Result<Vec<u8>, SheetError> {
    let line_count: usize = after_sales.iter().map(|a| a.after_sale.lines.len()).sum();
    fits(&[("after-sales", after_sales.len()), ("after-sale lines", line_count)])?;
    let formats = Formats::new();
    let mut book = Workbook::new();
    let rows = after_sales.iter().map(|a| AFTER_SALE_COLUMNS.iter().map(|(_, value)| value(a)).collect());
    let headers = AFTER_SALE_COLUMNS.iter().map(|(name, _)| *name);
    table(book.add_worksheet().set_name("after_sales")?, headers, rows, &formats)?;
    let line_rows = after_sales.iter().flat_map(|a| {
        a.after_sale.lines.iter().map(move |l| AFTER_SALE_LINE_COLUMNS.iter().map(|(_, value)| value(a, l)).collect())
    });
    let headers = AFTER_SALE_LINE_COLUMNS.iter().map(|(name, _)| *name);
    table(book.add_worksheet().set_name("lines")?, headers, line_rows, &formats)?;
    Ok(book.save_to_buffer()?)
}

/// Refuses `(what, rows)` counts one Excel sheet cannot hold.
fn fits(counts: &[(&str, usize)]) -> Result<(), SheetError> {
    for &(what, rows) in counts {
        if rows >= EXCEL_ROWS {
            return Err(SheetError::Write(format!(
                "{rows} {what} do not fit one Excel sheet (at most {} rows); export fewer",
                EXCEL_ROWS - 1
            )));
        }
    }
    Ok(())
}

impl Formats {
    fn new() -> Self {
        Formats {
            header: Format::new().set_bold(),
            instant: Format::new().set_num_format(DATETIME_FORMAT),
            money: Format::new().set_num_format(MONEY_FORMAT),
        }
    }
}

/// Writes the bold, frozen header row `headers`, then `rows` below it, with a filter.
fn table<'a>(
    sheet: &mut Worksheet,
    headers: impl Iterator<Item = &'static str>,
    rows: impl Iterator<Item = Vec<Out<'a>>>,
    formats: &Formats,
) -> Result<(), SheetError> {
    let mut width: u16 = 0;
    for (col, name) in headers.enumerate() {
        let col = col as u16;
        sheet.write_string_with_format(0, col, name, &formats.header)?;
        sheet.set_column_width(col, COLUMN_WIDTH)?;
        width = col + 1;
    }
    sheet.set_freeze_panes(1, 0)?;
    let mut last_row: u32 = 0;
    for (i, cells) in rows.enumerate() {
        // Fits: the caller checked the row count against Excel's.
        last_row = (i + 1) as u32;
        for (col, out) in cells.into_iter().enumerate() {
            write(sheet, last_row, col as u16, out, formats)?;
        }
    }
    if width > 0 {
        sheet.autofilter(0, 0, last_row, width - 1)?;
    }
    Ok(())
}

fn write(sheet: &mut Worksheet, row: u32, col: u16, out: Out<'_>, formats: &Formats) -> Result<(), SheetError> {
    match out {
        Out::Blank => {}
        Out::Text(s) => {
            sheet.write_string(row, col, fit(s).as_ref())?;
        }
        Out::Owned(s) => {
            sheet.write_string(row, col, fit(&s).as_ref())?;
        }
        Out::Number(n) => {
            sheet.write_number(row, col, n)?;
        }
        Out::Money(m) => {
            sheet.write_number_with_format(row, col, m as f64 / MINOR_PER_MAJOR, &formats.money)?;
        }
        Out::Instant(t) if (EXCEL_FIRST_MS..=EXCEL_LAST_MS).contains(&t.0.saturating_add(SHOP_OFFSET_MS)) => {
            let local = t.0 + SHOP_OFFSET_MS;
            sheet.write_number_with_format(
                row,
                col,
                UNIX_EPOCH_SERIAL + local as f64 / MS_PER_DAY,
                &formats.instant,
            )?;
        }
        Out::Instant(t) => {
            sheet.write_string(row, col, t.to_string())?;
        }
    }
    Ok(())
}

/// `s`, or its first characters and [`CUT`] when Excel could not hold it.
fn fit(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().count() <= EXCEL_CELL_CHARS {
        return s.into();
    }
    let keep = EXCEL_CELL_CHARS - CUT.chars().count();
    let mut out: String = s.chars().take(keep).collect();
    out.push_str(CUT);
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Order, OrderStatus, Receiver};
    use calamine::{Data, Reader, Xlsx};
    use std::io::Cursor;

    fn order() -> StoredOrder {
        let line = |id: &str, qty, price| OrderLine {
            line_id: id.into(),
            product_id: Some("652341234567".into()),
            sku_id: Some("4987654321012345678".into()),
            outer_product_id: None,
            outer_sku_id: Some("SKU-1".into()),
            title: "维生素C".into(),
            sku_properties: None,
            quantity: qty,
            unit_price: price,
            discount: 5,
            line_total: price * i64::from(qty) - 5,
            batch_no: None,
            refund_status: RefundStatus::None,
        };
        StoredOrder {
            order: Order {
                platform: "taobao".into(),
                shop_id: "tb".into(),
                order_id: "2451234567890123456".into(),
                status: OrderStatus::Paid,
                platform_status: "WAIT_SELLER_SEND_GOODS".into(),
                refund_status: RefundStatus::None,
                created_at: Timestamp::parse_rfc3339("2026-11-11T00:00:05Z").unwrap(),
                paid_at: None,
                updated_at: Timestamp::parse_rfc3339("2026-11-11T08:30:00.250Z").unwrap(),
                currency: "CNY".into(),
                goods_total: 20007,
                shipping_fee: 0,
                discount_total: -3,
                paid_total: 19990,
                buyer_id: None,
                buyer_nick: Some("t**1".into()),
                buyer_message: Some("x".repeat(40_000)),
                seller_memo: None,
                receiver: Some(Receiver {
                    name: Some("张*".into()),
                    phone: Some("138****0000".into()),
                    province: Some("浙江省".into()),
                    city: Some("杭州市".into()),
                    district: Some("西湖区".into()),
                    town: None,
                    address: Some("**路1号".into()),
                    postcode: None,
                    masked: true,
                    privacy_ref: None,
                }),
                invoice: None,
                erp_customer_code: None,
                lines: vec![line("1", 2, 10000), line("2", 1, 12)],
            },
            version: 3,
            sync: SyncState::Unsynced,
            stored_at: Timestamp(0),
        }
    }

    fn column(header: &[Data], name: &str) -> usize {
        header.iter().position(|h| *h == Data::String(name.into())).unwrap()
    }

    #[test]
    fn orders_and_lines_read_back() {
        let bytes = export_orders(&[order()]).unwrap();
        let mut book = Xlsx::new(Cursor::new(bytes.as_slice())).unwrap();
        assert_eq!(book.sheet_names(), vec!["orders".to_owned(), "lines".to_owned()]);

        let orders = book.worksheet_range("orders").unwrap();
        let rows: Vec<&[Data]> = orders.rows().collect();
        assert_eq!(rows.len(), 2);
        let (header, row) = (rows[0], rows[1]);
        assert_eq!(row[column(header, "order_id")], Data::String("2451234567890123456".into()));
        assert_eq!(row[column(header, "paid_total")], Data::Float(199.9));
        assert_eq!(row[column(header, "goods_total")], Data::Float(200.07));
        assert_eq!(row[column(header, "discount_total")], Data::Float(-0.03));
        assert_eq!(row[column(header, "paid_at")], Data::Empty);
        assert_eq!(row[column(header, "receiver_city")], Data::String("杭州市".into()));
        assert_eq!(row[column(header, "sync")], Data::String("unsynced".into()));
        assert_eq!(row[column(header, "version")], Data::Float(3.0));
        let Data::DateTime(created) = &row[column(header, "created_at")] else {
            panic!("{:?}", row[column(header, "created_at")])
        };
        // 2026-11-11T00:00:05Z is 08:00:05 in China.
        assert_eq!(created.to_ymd_hms_milli(), (2026, 11, 11, 8, 0, 5, 0));
        let Data::DateTime(updated) = &row[column(header, "updated_at")] else { panic!() };
        assert_eq!(updated.to_ymd_hms_milli(), (2026, 11, 11, 16, 30, 0, 250));
        let Data::String(message) = &row[column(header, "buyer_message")] else { panic!() };
        assert_eq!(message.chars().count(), EXCEL_CELL_CHARS);
        assert!(message.ends_with(CUT));

        let lines = book.worksheet_range("lines").unwrap();
        let rows: Vec<&[Data]> = lines.rows().collect();
        assert_eq!(rows.len(), 3);
        let header = rows[0];
        assert_eq!(rows[1][column(header, "sku_id")], Data::String("4987654321012345678".into()));
        assert_eq!(rows[1][column(header, "line_total")], Data::Float(199.95));
        assert_eq!(rows[2][column(header, "unit_price")], Data::Float(0.12));
        assert_eq!(rows[2][column(header, "quantity")], Data::Float(1.0));
        assert_eq!(rows[2][column(header, "order_id")], Data::String("2451234567890123456".into()));
    }

    #[test]
    fn after_sales_and_their_lines_read_back() {
        use crate::model::{AfterSale, AfterSaleKind, AfterSaleStatus, ReturnWaybill};
        let stored = StoredAfterSale {
            after_sale: AfterSale {
                platform: "taobao".into(),
                shop_id: "tb".into(),
                after_sale_id: "120389123012".into(),
                order_id: "2451234567890123456".into(),
                lines: vec![AfterSaleLine {
                    line_id: "1".into(),
                    outer_sku_id: Some("SKU-1".into()),
                    quantity: Some(2),
                }],
                kind: AfterSaleKind::ReturnAndRefund,
                status: AfterSaleStatus::AwaitingReturn,
                platform_status: "WAIT_BUYER_RETURN_GOODS".into(),
                currency: "CNY".into(),
                refund_amount: 19990,
                shipping_refund: 0,
                reason: Some("七天无理由".into()),
                return_waybill: Some(ReturnWaybill { carrier: "SF".into(), tracking_no: "SF1234567890".into() }),
                created_at: Timestamp::parse_rfc3339("2026-11-12T01:00:00Z").unwrap(),
                updated_at: Timestamp::parse_rfc3339("2026-11-12T02:00:00Z").unwrap(),
                refund_version: Some(1_731_376_800_000),
            },
            intercept: false,
            version: 2,
            sync: SyncState::Synced,
            stored_at: Timestamp(0),
        };
        let bytes = export_after_sales(&[stored]).unwrap();
        let mut book = Xlsx::new(Cursor::new(bytes.as_slice())).unwrap();
        assert_eq!(book.sheet_names(), vec!["after_sales".to_owned(), "lines".to_owned()]);
        let sheet = book.worksheet_range("after_sales").unwrap();
        let rows: Vec<&[Data]> = sheet.rows().collect();
        let (header, row) = (rows[0], rows[1]);
        assert_eq!(row[column(header, "after_sale_id")], Data::String("120389123012".into()));
        assert_eq!(row[column(header, "kind")], Data::String("return_and_refund".into()));
        assert_eq!(row[column(header, "status")], Data::String("awaiting_return".into()));
        assert_eq!(row[column(header, "intercept")], Data::String("false".into()));
        assert_eq!(row[column(header, "refund_amount")], Data::Float(199.9));
        assert_eq!(row[column(header, "return_tracking_no")], Data::String("SF1234567890".into()));
        assert_eq!(row[column(header, "refund_version")], Data::Float(1_731_376_800_000.0));
        assert_eq!(row[column(header, "sync")], Data::String("synced".into()));
        let lines = book.worksheet_range("lines").unwrap();
        let rows: Vec<&[Data]> = lines.rows().collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1][column(rows[0], "outer_sku_id")], Data::String("SKU-1".into()));
        assert_eq!(rows[1][column(rows[0], "quantity")], Data::Float(2.0));
    }

    #[test]
    fn header_is_bold_and_odd_instants_are_text() {
        let mut o = order();
        o.order.created_at = Timestamp(i64::MIN);
        o.order.lines.clear();
        let bytes = export_orders(&[o]).unwrap();
        let mut book = Xlsx::new(Cursor::new(bytes.as_slice())).unwrap();
        let orders = book.worksheet_range("orders").unwrap();
        let header: Vec<Data> = orders.rows().next().unwrap().to_vec();
        let created = orders.get_value((1, column(&header, "created_at") as u32)).unwrap();
        assert!(matches!(created, Data::String(s) if s.ends_with("ms")), "{created:?}");
        assert_eq!(book.worksheet_range("lines").unwrap().rows().count(), 1);
        // The header is bold (calamine does not read the frozen pane; `table` sets it).
        let styles = book.worksheet_style("orders").unwrap();
        assert!(styles.get((0, 0)).and_then(|s| s.font.as_ref()).is_some_and(|f| f.is_bold()));
        assert!(!styles.get((1, 0)).and_then(|s| s.font.as_ref()).is_some_and(|f| f.is_bold()));
        assert!(export_orders(&[]).is_ok());
    }
}
