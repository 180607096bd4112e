//! `push-orders` as ORDERS05 IDocs: one XML document per order, posted to `idoc_endpoint`
//! (SAP's IDoc-over-HTTP inbound service, or PI/PO in front of it).
//!
//! Idempotency here is the receiver's: there is nothing to look up before sending, so a
//! re-sent order is a second IDoc, and what keeps it from becoming a second sales order is
//! SAP's duplicate check on the customer purchase order number (E1EDK02 QUALF 001 `BELNR`,
//! and E1EDK01 `BELNR`: the order's key, which names the shop, [`crate::key`]) in the
//! receiving sales document type. Every accepted IDoc is
//! reported `created`; its `erp_ref` is the IDoc number when the receiver answers one
//! (`<DOCNUM>` in the body), else the purchase order number.
//!
//! Segments, in ORDERS05's order: `EDI_DC40` (control record), `E1EDK01` (currency, document
//! number), `E1EDK14` (sales area and order type), `E1EDK03` (dates), `E1EDK05` (header
//! conditions: freight, order-level discount), `E1EDKA1` (`AG` sold-to, `WE` ship-to with the
//! receiver as the platform shows it, masked values as they are), `E1EDK02` (customer
//! purchase order), `E1EDP01` per item with `E1EDP19` (our material number and text).

use wharf_sdk::time;
use wharf_sdk::types::{ConnectorError, Order, OrderPushOutcome, OrderPushResult};

use crate::odata::{self, Client, Failure};
use crate::order::{self, Draft, Item, Shipping};
use crate::settings::{IdocSettings, Settings};
use crate::transport::Transport;
use wharf_sdk::xml::XmlWriter;

pub const CONTENT_TYPE: &str = "application/xml; charset=utf-8";
pub const IDOC_TYPE: &str = "ORDERS05";
pub const MESSAGE_TYPE: &str = "ORDERS";
/// EDI_DC40-DIRECT: 2 = inbound (into SAP).
const DIRECTION_INBOUND: &str = "2";
/// Every ORDERS05 segment is written with `SEGMENT="1"`, as SAP's own XML IDocs are.
const SEGMENT: [(&str, &str); 1] = [("SEGMENT", "1")];
/// The country of every receiver: Wharf's marketplaces deliver within China.
const RECEIVER_COUNTRY: &str = "CN";

/// E1EDK14 qualifiers: 008 sales organisation, 007 distribution channel, 006 division, 012
/// order type.
const ORG_SALES_ORG: &str = "008";
const ORG_DISTRIBUTION_CHANNEL: &str = "007";
const ORG_DIVISION: &str = "006";
const ORG_ORDER_TYPE: &str = "012";
/// E1EDK03 date qualifiers. UNSURE: 012 is the document date and 002 the requested
/// delivery date in SAP's ORDERS05 documentation as we read it; both are kept here.
const DATE_DOCUMENT: &str = "012";
const DATE_REQUESTED_DELIVERY: &str = "002";
/// E1EDK02 QUALF 001: the customer's purchase order.
const REF_CUSTOMER_PO: &str = "001";
/// E1EDP19 QUALF 002: the material number as the receiver (we, the vendor) knows it.
const MATERIAL_OURS: &str = "002";
/// E1EDKA1 partner functions: sold-to and ship-to.
const PARTNER_SOLD_TO: &str = "AG";
const PARTNER_SHIP_TO: &str = "WE";

/// Field lengths (characters) of the segments' free-text fields.
const NAME_CHARS: usize = 35;
const STREET_CHARS: usize = 35;
const CITY_CHARS: usize = 35;
const POSTCODE_CHARS: usize = 10;
const PHONE_CHARS: usize = 25;
const ITEM_TEXT_CHARS: usize = 70;
/// E1EDP19-IDTNR is CHAR 35 (shorter than S/4HANA's 40-character material numbers).
const IDTNR_CHARS: usize = 35;

/// Texts cut to fit a field, for the operator's logs.
#[derive(Debug, Default)]
pub struct Cuts(pub Vec<String>);

impl Cuts {
    /// The first `max` characters of `text`, noting a cut.
    fn fit(&mut self, field: &str, text: &str, max: usize) -> String {
        if text.chars().count() <= max {
            return text.to_owned();
        }
        self.0.push(field.to_owned());
        text.chars().take(max).collect()
    }
}

/// The ORDERS05 document of one order, created at `now_ms`.
pub fn document(
    draft: &Draft,
    settings: &Settings,
    idoc: &IdocSettings,
    now_ms: i64,
    cuts: &mut Cuts,
) -> Result<String, ConnectorError> {
    for (i, item) in draft.items.iter().enumerate() {
        if item.material.chars().count() > IDTNR_CHARS {
            return Err(ConnectorError::invalid_input(
                format!("lines[{i}].outer_sku_id"),
                format!(
                    "expected at most {IDTNR_CHARS} characters (ORDERS05 E1EDP19-IDTNR), got {}",
                    item.material.chars().count()
                ),
            ));
        }
    }
    let (credat, cretim) = time::ms_to_sap_datetime(now_ms, settings.utc_offset_minutes);
    let sap_date =
        |d: &str| time::calendar_to_sap_date(d).map_err(|e| ConnectorError::invalid_input("created_at", e.to_string()));
    let document_date = sap_date(&draft.document_date)?;
    let delivery_date = sap_date(&draft.requested_delivery_date)?;
    let h = &settings.header;

    let mut w = XmlWriter::new();
    w.open(IDOC_TYPE, &[]).open("IDOC", &[("BEGIN", "1")]);
    w.open("EDI_DC40", &SEGMENT)
        .leaf("TABNAM", "EDI_DC40")
        .opt_leaf("MANDT", settings.sap_client.as_deref())
        .leaf("DIRECT", DIRECTION_INBOUND)
        .leaf("IDOCTYP", IDOC_TYPE)
        .leaf("MESTYP", MESSAGE_TYPE)
        .opt_leaf("SNDPOR", idoc.sender_port.as_deref())
        .leaf("SNDPRT", &idoc.sender_partner_type)
        .leaf("SNDPRN", &idoc.sender_partner)
        .opt_leaf("RCVPOR", idoc.receiver_port.as_deref())
        .leaf("RCVPRT", &idoc.receiver_partner_type)
        .opt_leaf("RCVPRN", idoc.receiver_partner.as_deref())
        .leaf("CREDAT", &credat)
        .leaf("CRETIM", &cretim)
        .close("EDI_DC40");
    w.open("E1EDK01", &SEGMENT).leaf("CURCY", &draft.currency).leaf("BELNR", &draft.purchase_order).close("E1EDK01");
    for (qualifier, id) in [
        (ORG_SALES_ORG, &h.sales_org),
        (ORG_DISTRIBUTION_CHANNEL, &h.distribution_channel),
        (ORG_DIVISION, &h.division),
        (ORG_ORDER_TYPE, &h.order_type),
    ] {
        w.open("E1EDK14", &SEGMENT).leaf("QUALF", qualifier).leaf("ORGID", id).close("E1EDK14");
    }
    for (qualifier, date) in [(DATE_DOCUMENT, &document_date), (DATE_REQUESTED_DELIVERY, &delivery_date)] {
        w.open("E1EDK03", &SEGMENT).leaf("IDDAT", qualifier).leaf("DATUM", date).close("E1EDK03");
    }
    let mut header_conditions = Vec::new();
    if let Some(Shipping::Condition { condition_type, amount }) = &draft.shipping {
        header_conditions.push((condition_type.as_str(), *amount));
    }
    if settings.pricing.price_condition_type.is_some() && draft.order_adjustment != 0 {
        header_conditions.push((settings.pricing.discount_condition_type.as_str(), draft.order_adjustment));
    }
    for (condition_type, amount) in header_conditions {
        // ALCKZ: + surcharge, − discount; the amount itself is unsigned.
        w.open("E1EDK05", &SEGMENT)
            .leaf("ALCKZ", if amount < 0 { "-" } else { "+" })
            .leaf("KSCHL", condition_type)
            .leaf("BETRG", &draft.amount(amount.abs()))
            .leaf("KOEIN", &draft.currency)
            .close("E1EDK05");
    }
    w.open("E1EDKA1", &SEGMENT).leaf("PARVW", PARTNER_SOLD_TO).leaf("PARTN", &draft.sold_to).close("E1EDKA1");
    if let Some(r) = &draft.receiver {
        w.open("E1EDKA1", &SEGMENT).leaf("PARVW", PARTNER_SHIP_TO);
        if let Some(name) = &r.name {
            w.leaf("NAME1", &cuts.fit("NAME1", name, NAME_CHARS));
        }
        if let Some(address) = &r.address {
            let street: String = address.chars().take(STREET_CHARS).collect();
            let rest: String = address.chars().skip(STREET_CHARS).collect();
            w.leaf("STRAS", &street);
            if !rest.is_empty() {
                w.leaf("STRS2", &cuts.fit("STRS2", &rest, STREET_CHARS));
            }
        }
        if let Some(city) = &r.city {
            w.leaf("ORT01", &cuts.fit("ORT01", city, CITY_CHARS));
        }
        if let Some(district) = &r.district {
            w.leaf("ORT02", &cuts.fit("ORT02", district, CITY_CHARS));
        }
        if let Some(postcode) = &r.postcode {
            w.leaf("PSTLZ", &cuts.fit("PSTLZ", postcode, POSTCODE_CHARS));
        }
        w.leaf("LAND1", RECEIVER_COUNTRY);
        if let Some(phone) = &r.phone {
            w.leaf("TELF1", &cuts.fit("TELF1", phone, PHONE_CHARS));
        }
        w.close("E1EDKA1");
    }
    w.open("E1EDK02", &SEGMENT)
        .leaf("QUALF", REF_CUSTOMER_PO)
        .leaf("BELNR", &draft.purchase_order)
        .leaf("DATUM", &document_date)
        .close("E1EDK02");
    let service_item = match &draft.shipping {
        Some(Shipping::Item(item)) => Some(item),
        _ => None,
    };
    for item in draft.items.iter().chain(service_item) {
        write_item(&mut w, draft, item, cuts);
    }
    w.close("IDOC").close(IDOC_TYPE);
    w.finish().map_err(|e| ConnectorError::invalid_input("order", e.to_string()))
}

fn write_item(w: &mut XmlWriter, draft: &Draft, item: &Item, cuts: &mut Cuts) {
    w.open("E1EDP01", &SEGMENT)
        .leaf("POSEX", &item.number)
        .leaf("MENGE", &item.quantity.to_string())
        .leaf("MENEE", &item.unit)
        .leaf("VPREI", &draft.amount(item.unit_price))
        .leaf("NETWR", &draft.amount(item.line_total));
    w.open("E1EDP19", &SEGMENT)
        .leaf("QUALF", MATERIAL_OURS)
        .leaf("IDTNR", &item.material)
        .leaf("KTEXT", &cuts.fit("KTEXT", &item.title, ITEM_TEXT_CHARS))
        .close("E1EDP19");
    w.close("E1EDP01");
}

/// The IDoc number in the receiver's answer (`<DOCNUM>0000000000123456</DOCNUM>`), if any.
///
/// UNSURE: what an IDoc-over-HTTP receiver answers varies (SAP's inbound service, PI/PO);
/// a DOCNUM is used when one is there, and any 2xx is acceptance.
pub fn answered_docnum(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<DOCNUM>")? + "<DOCNUM>".len();
    let end = start + text[start..].find("</DOCNUM>")?;
    let number = text[start..end].trim();
    (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())).then(|| number.to_owned())
}

fn push_one<T: Transport>(
    client: &mut Client<'_, T>,
    idoc: &IdocSettings,
    order: &Order,
    now_ms: i64,
) -> Result<OrderPushOutcome, Failure> {
    let settings = client.settings();
    let draft = Draft::from_order(order, settings)?;
    let mut cuts = Cuts::default();
    let xml = document(&draft, settings, idoc, now_ms, &mut cuts)?;
    if !cuts.0.is_empty() {
        client.note(
            "ORDERS05 texts cut to their field lengths",
            &[("order_id", order.order_id.clone()), ("fields", cuts.0.join(","))],
        );
    }
    let response = client.post_raw(&idoc.endpoint, CONTENT_TYPE, xml.into_bytes())?;
    if !(200..300).contains(&response.status) {
        // SAP's own error body when the receiver sends one; the status otherwise.
        return Err(odata::error_from(&response).into());
    }
    Ok(OrderPushOutcome::Created(answered_docnum(&response.body).unwrap_or(draft.purchase_order)))
}

/// Pushes `orders` as IDocs, one result each; no answer, refused credentials and throttling
/// stop the call.
pub fn push_orders<T: Transport>(
    transport: &mut T,
    settings: &Settings,
    orders: Vec<Order>,
    now_ms: i64,
) -> Result<Vec<OrderPushResult>, ConnectorError> {
    let Some(idoc) = settings.idoc.as_ref() else {
        return Err(ConnectorError::invalid_input(
            "config.idoc_endpoint",
            "expected IDoc settings in mode idoc, got none",
        ));
    };
    let mut client = Client::new(transport, settings);
    order::push_each(orders, |order| push_one(&mut client, idoc, order, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{PAID_AT, line, order, two_line_order};
    use crate::settings::tests::settings;
    use crate::transport::scripted::{Scripted, with_headers};

    fn idoc_settings(extra: &[(&str, &str)]) -> Settings {
        let mut pairs = vec![
            ("mode", "idoc"),
            ("idoc_endpoint", "https://pi.example.com/sap/bc/idoc_xml"),
            ("idoc_sender_partner", "WHARF"),
            ("idoc_receiver_partner", "S4HCLNT100"),
            ("sap_client", "100"),
        ];
        pairs.extend_from_slice(extra);
        settings(&pairs)
    }

    #[test]
    fn the_document_has_every_segment_in_order() {
        let mut o = two_line_order();
        o.receiver.as_mut().unwrap().address = Some(format!("科技园路{}号 A&B <栋>", "1".repeat(40)));
        let s = idoc_settings(&[]);
        let mut cuts = Cuts::default();
        let xml =
            document(&Draft::from_order(&o, &s).unwrap(), &s, s.idoc.as_ref().unwrap(), PAID_AT, &mut cuts).unwrap();
        let stras = format!("<STRAS>科技园路{}</STRAS>", "1".repeat(31));
        let strs2 = format!("<STRS2>{}号 A&amp;B &lt;栋&gt;</STRS2>", "1".repeat(9));
        let expected_in_order: Vec<&str> = vec![
            "<ORDERS05>",
            "<IDOC BEGIN=\"1\">",
            "<EDI_DC40 SEGMENT=\"1\">",
            "<TABNAM>EDI_DC40</TABNAM>",
            "<MANDT>100</MANDT>",
            "<DIRECT>2</DIRECT>",
            "<IDOCTYP>ORDERS05</IDOCTYP>",
            "<MESTYP>ORDERS</MESTYP>",
            "<SNDPRT>LS</SNDPRT>",
            "<SNDPRN>WHARF</SNDPRN>",
            "<RCVPRT>LS</RCVPRT>",
            "<RCVPRN>S4HCLNT100</RCVPRN>",
            "<CREDAT>20250530</CREDAT>",
            "<CRETIM>160000</CRETIM>",
            "<E1EDK01 SEGMENT=\"1\">",
            "<CURCY>CNY</CURCY>",
            "<BELNR>TB83B130B5-3012345678901</BELNR>",
            "<QUALF>008</QUALF>",
            "<ORGID>1000</ORGID>",
            "<QUALF>012</QUALF>",
            "<ORGID>OR</ORGID>",
            "<IDDAT>012</IDDAT>",
            "<DATUM>20250530</DATUM>",
            "<IDDAT>002</IDDAT>",
            "<ALCKZ>+</ALCKZ>",
            "<KSCHL>ZFRE</KSCHL>",
            "<BETRG>8.00</BETRG>",
            "<ALCKZ>-</ALCKZ>",
            "<KSCHL>RB00</KSCHL>",
            "<BETRG>0.50</BETRG>",
            "<PARVW>AG</PARVW>",
            "<PARTN>C0001</PARTN>",
            "<PARVW>WE</PARVW>",
            "<NAME1>张*</NAME1>",
            &stras,
            &strs2,
            "<ORT01>深圳市</ORT01>",
            "<ORT02>南山区</ORT02>",
            "<PSTLZ>518000</PSTLZ>",
            "<LAND1>CN</LAND1>",
            "<TELF1>138****0000</TELF1>",
            "<E1EDK02 SEGMENT=\"1\">",
            "<QUALF>001</QUALF>",
            "<BELNR>TB83B130B5-3012345678901</BELNR>",
            "<E1EDP01 SEGMENT=\"1\">",
            "<POSEX>000010</POSEX>",
            "<MENGE>2</MENGE>",
            "<MENEE>EA</MENEE>",
            "<VPREI>12.50</VPREI>",
            "<NETWR>24.00</NETWR>",
            "<E1EDP19 SEGMENT=\"1\">",
            "<QUALF>002</QUALF>",
            "<IDTNR>FG-001</IDTNR>",
            "<KTEXT>Item &amp; &lt;1&gt;</KTEXT>",
            "<POSEX>000020</POSEX>",
            "<IDTNR>FG-002</IDTNR>",
            "</ORDERS05>",
        ];
        let mut at = 0;
        for piece in expected_in_order {
            match xml[at..].find(piece) {
                Some(i) => at += i + piece.len(),
                None => panic!("{piece} missing after byte {at} in\n{xml}"),
            }
        }
        assert!(cuts.0.is_empty(), "{:?}", cuts.0);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    }

    #[test]
    fn posts_each_order_and_reads_the_idoc_number() {
        let s = idoc_settings(&[]);
        let mut t = Scripted::answering(vec![
            with_headers(200, &[], "<IDOC_ACK><DOCNUM>0000000000004711</DOCNUM></IDOC_ACK>"),
            with_headers(200, &[], ""),
            with_headers(400, &[], r#"{"error":{"code":"EA/123","message":{"value":"Partner profile not found"}}}"#),
        ]);
        let orders = vec![
            order("1", vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0),
            order("2", vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0),
            order("3", vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0),
        ];
        let results = push_orders(&mut t, &s, orders, PAID_AT).unwrap();
        assert_eq!(results[0].outcome, OrderPushOutcome::Created("0000000000004711".into()));
        assert_eq!(
            results[1].outcome,
            OrderPushOutcome::Created("TB83B130B5-2".into()),
            "without an IDoc number, the key SAP will know the order by"
        );
        assert!(
            matches!(&results[2].outcome, OrderPushOutcome::Failed(ConnectorError::Platform(p)) if p.code == "EA/123")
        );
        assert_eq!(t.sent[0].url, "https://pi.example.com/sap/bc/idoc_xml");
        assert_eq!(t.header(0, "content-type"), Some(CONTENT_TYPE));
        assert_eq!(t.header(0, "authorization"), Some("Basic {{secret-basic:sap_user,sap_password}}"));
        let mut t = Scripted::answering(vec![with_headers(401, &[], "")]);
        assert!(matches!(
            push_orders(&mut t, &s, vec![order("1", vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0)], PAID_AT),
            Err(ConnectorError::Auth(_))
        ));
    }

    #[test]
    fn the_customer_po_is_the_key_naming_the_shop() {
        let s = idoc_settings(&[("po_prefix_by_shop", r#"{"ecshop:main": "EC"}"#)]);
        let of = |platform: &str, shop_id: &str| {
            let mut o = order("1001", vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0);
            o.platform = platform.into();
            o.shop_id = shop_id.into();
            o
        };
        let mut t = Scripted::answering(vec![with_headers(200, &[], ""), with_headers(200, &[], "")]);
        let results = push_orders(&mut t, &s, vec![of("taobao", "tb-1"), of("ecshop", "main")], PAID_AT).unwrap();
        for (call, key) in [(0, "TB3CAEFEF1-1001"), (1, "EC-1001")] {
            let xml = String::from_utf8(t.sent[call].body.clone()).unwrap();
            let belnr = format!("<BELNR>{key}</BELNR>");
            assert_eq!(xml.matches(&belnr).count(), 2, "E1EDK01 and E1EDK02: {xml}");
            assert_eq!(results[call].outcome, OrderPushOutcome::Created(key.into()));
            assert_eq!(results[call].order_id, "1001");
        }
    }

    #[test]
    fn long_texts_are_cut_and_long_materials_refused() {
        let mut o = order("1", vec![line(1, Some(&"M".repeat(36)), 1, 100, 0)], 0, 0);
        let s = idoc_settings(&[]);
        let idoc = s.idoc.as_ref().unwrap();
        let error = document(&Draft::from_order(&o, &s).unwrap(), &s, idoc, PAID_AT, &mut Cuts::default()).unwrap_err();
        assert!(matches!(error, ConnectorError::InvalidInput(f) if f.field == "lines[0].outer_sku_id"));
        o.lines[0].outer_sku_id = Some("FG-1".into());
        o.lines[0].title = "长".repeat(80);
        let mut cuts = Cuts::default();
        let xml = document(&Draft::from_order(&o, &s).unwrap(), &s, idoc, PAID_AT, &mut cuts).unwrap();
        assert_eq!(cuts.0, ["KTEXT"]);
        assert!(xml.contains(&format!("<KTEXT>{}</KTEXT>", "长".repeat(70))));
    }

    #[test]
    fn docnum_reading() {
        assert_eq!(answered_docnum(b"<a><DOCNUM> 42 </DOCNUM></a>").as_deref(), Some("42"));
        assert_eq!(answered_docnum(b"<DOCNUM>x</DOCNUM>"), None);
        assert_eq!(answered_docnum(b""), None);
    }
}
