//! SAP's published service metadata, and what the simulator takes from it.
//!
//! `tests/sim/sap-edmx/` holds SAP's EDMX of the six services, copied unchanged (see its
//! README for where each comes from). They are compiled in and read once, with a reader of
//! just the EDMX the files contain (no XML crate): per entity type, each property's Edm type
//! and scale and whether SAP marks it `sap:filterable="false"` or `sap:sortable="false"`, and
//! each navigation property's target type. The gateway then answers as a Gateway that
//! enforces those flags would ([`Metadata::check_query`]: a `$filter` or `$orderby` on such a
//! property is a 400 with an OData error body) and serves every `Edm.Decimal` padded to its
//! declared scale ([`Metadata::pad_decimals`]: `"40.00000000000000"` for a `Scale=14`
//! quantity), as SAP may. Entity sets without published metadata (`API_BATCH_SRV`) are
//! served as before, unchecked.
//!
//! UNSURE: the refusal's message code and text are not captured from a real system; the
//! status and the OData error shape are SAP Gateway's.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::odata::SapError;

/// The EDMX files, by file name.
pub const FILES: &[(&str, &str)] = &[
    ("API_SALES_ORDER_SRV.edmx", include_str!("../../sap-edmx/API_SALES_ORDER_SRV.edmx")),
    ("API_MATERIAL_STOCK_SRV.edmx", include_str!("../../sap-edmx/API_MATERIAL_STOCK_SRV.edmx")),
    ("API_OUTBOUND_DELIVERY_SRV_0002.edmx", include_str!("../../sap-edmx/API_OUTBOUND_DELIVERY_SRV_0002.edmx")),
    ("API_SLSPRICINGCONDITIONRECORD_SRV.edmx", include_str!("../../sap-edmx/API_SLSPRICINGCONDITIONRECORD_SRV.edmx")),
    ("API_CUSTOMER_RETURN_SRV.edmx", include_str!("../../sap-edmx/API_CUSTOMER_RETURN_SRV.edmx")),
    ("API_CREDIT_MEMO_REQUEST_SRV.edmx", include_str!("../../sap-edmx/API_CREDIT_MEMO_REQUEST_SRV.edmx")),
];

/// One property of an entity type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    /// `Edm.String`, `Edm.Decimal`…
    pub edm_type: String,
    pub precision: Option<u32>,
    pub scale: Option<u32>,
    /// False when SAP marks it `sap:filterable="false"`.
    pub filterable: bool,
    /// False when SAP marks it `sap:sortable="false"`.
    pub sortable: bool,
}

/// An entity type: its properties and navigation properties (name → target type, qualified).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntityType {
    pub properties: BTreeMap<String, Property>,
    pub navigation: BTreeMap<String, String>,
}

/// The entity types of every file, by qualified name (`API_SALES_ORDER_SRV.A_SalesOrderType`).
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    pub types: BTreeMap<String, EntityType>,
}

/// SAP's metadata, read on first use.
pub fn sap() -> &'static Metadata {
    static METADATA: OnceLock<Metadata> = OnceLock::new();
    METADATA.get_or_init(|| {
        let mut metadata = Metadata::default();
        for (_, text) in FILES {
            metadata.read(text);
        }
        metadata
    })
}

/// One start or end tag: its name, its attributes, and whether it closes an element.
struct Tag<'a> {
    name: &'a str,
    attributes: Vec<(&'a str, String)>,
    end: bool,
    self_closing: bool,
}

impl Tag<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// The tags of an XML document in order (comments, declarations and text skipped).
fn tags(xml: &str) -> Vec<Tag<'_>> {
    let bytes = xml.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(open) = xml[i..].find('<').map(|o| i + o) {
        if xml[open..].starts_with("<!--") {
            i = xml[open..].find("-->").map_or(xml.len(), |e| open + e + 3);
            continue;
        }
        if xml[open..].starts_with("<?") || xml[open..].starts_with("<!") {
            i = xml[open..].find('>').map_or(xml.len(), |e| open + e + 1);
            continue;
        }
        let mut j = open + 1;
        let end = bytes.get(j) == Some(&b'/');
        if end {
            j += 1;
        }
        let name_start = j;
        while j < bytes.len() && !matches!(bytes[j], b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>') {
            j += 1;
        }
        let name = &xml[name_start..j];
        let mut attributes = Vec::new();
        let mut self_closing = false;
        loop {
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            match bytes.get(j) {
                None => break,
                Some(b'>') => {
                    j += 1;
                    break;
                }
                Some(b'/') => {
                    self_closing = true;
                    j += 1;
                    continue;
                }
                Some(_) => {}
            }
            let attr_start = j;
            while j < bytes.len() && bytes[j] != b'=' && !bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            let attr = &xml[attr_start..j];
            while j < bytes.len() && bytes[j] != b'"' && bytes[j] != b'\'' {
                j += 1;
            }
            let Some(&quote) = bytes.get(j) else { break };
            let value_start = j + 1;
            let value_end = xml[value_start..].find(char::from(quote)).map_or(xml.len(), |e| value_start + e);
            attributes.push((attr, unescape(&xml[value_start..value_end])));
            j = value_end + 1;
        }
        out.push(Tag { name, attributes, end, self_closing });
        i = j.max(open + 1);
    }
    out
}

impl Metadata {
    /// Adds the entity types of one EDMX document.
    fn read(&mut self, xml: &str) {
        let mut namespace = String::new();
        let mut entity: Option<String> = None;
        let mut association: Option<String> = None;
        // (qualified association, role) → qualified end type.
        let mut ends: BTreeMap<(String, String), String> = BTreeMap::new();
        // (qualified entity type, navigation property, qualified association, to role).
        let mut navigations: Vec<(String, String, String, String)> = Vec::new();
        for tag in tags(xml) {
            match (tag.name, tag.end) {
                ("Schema", false) => namespace = tag.get("Namespace").unwrap_or_default().into(),
                ("EntityType", false) if !tag.self_closing => {
                    let name = format!("{namespace}.{}", tag.get("Name").unwrap_or_default());
                    self.types.entry(name.clone()).or_default();
                    entity = Some(name);
                }
                ("EntityType", true) => entity = None,
                ("Association", false) if !tag.self_closing => {
                    association = Some(format!("{namespace}.{}", tag.get("Name").unwrap_or_default()));
                }
                ("Association", true) => association = None,
                ("End", false) => {
                    if let (Some(a), Some(role), Some(end_type)) = (&association, tag.get("Role"), tag.get("Type")) {
                        ends.insert((a.clone(), role.to_owned()), end_type.to_owned());
                    }
                }
                ("Property", false) => {
                    let (Some(e), Some(name)) = (&entity, tag.get("Name")) else {
                        continue;
                    };
                    let number = |key: &str| tag.get(key).and_then(|v| v.parse().ok());
                    let property = Property {
                        edm_type: tag.get("Type").unwrap_or_default().to_owned(),
                        precision: number("Precision"),
                        scale: number("Scale"),
                        filterable: tag.get("sap:filterable") != Some("false"),
                        sortable: tag.get("sap:sortable") != Some("false"),
                    };
                    if let Some(t) = self.types.get_mut(e) {
                        t.properties.insert(name.to_owned(), property);
                    }
                }
                ("NavigationProperty", false) => {
                    if let (Some(e), Some(name), Some(relationship), Some(role)) =
                        (&entity, tag.get("Name"), tag.get("Relationship"), tag.get("ToRole"))
                    {
                        navigations.push((e.clone(), name.to_owned(), relationship.to_owned(), role.to_owned()));
                    }
                }
                _ => {}
            }
        }
        for (entity, name, relationship, role) in navigations {
            if let (Some(target), Some(t)) = (ends.get(&(relationship, role)), self.types.get_mut(&entity)) {
                t.navigation.insert(name, target.clone());
            }
        }
    }

    pub fn entity_type(&self, qualified: &str) -> Option<&EntityType> {
        self.types.get(qualified)
    }

    /// Refuses, as a Gateway enforcing the flags would, a `$filter` on a property SAP marks
    /// non-filterable or an `$orderby` on one it marks non-sortable. Types without published
    /// metadata, and properties it does not list, are not checked here.
    pub fn check_query<'p>(
        &self,
        type_name: &str,
        filtered: impl IntoIterator<Item = &'p str>,
        ordered: impl IntoIterator<Item = &'p str>,
    ) -> Result<(), SapError> {
        let Some(entity) = self.entity_type(type_name) else {
            return Ok(());
        };
        let short = type_name.rsplit('.').next().unwrap_or(type_name);
        for (names, option, flag, allowed) in [
            (
                filtered.into_iter().collect::<Vec<_>>(),
                "$filter",
                "sap:filterable",
                (|p: &Property| p.filterable) as fn(&Property) -> bool,
            ),
            (ordered.into_iter().collect(), "$orderby", "sap:sortable", |p: &Property| p.sortable),
        ] {
            for name in names {
                if entity.properties.get(name).is_some_and(|p| !allowed(p)) {
                    return Err(SapError::bad_request(format!(
                        "Property '{name}' of entity type '{short}' cannot be used in {option} \
                         ({flag}=\"false\" in the service metadata)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Pads every `Edm.Decimal` string of an entity of `type_name` (and of the entities its
    /// expanded navigation properties hold) to the property's declared scale, by value:
    /// `"5.000"` of a `Scale=14` property becomes `"5.00000000000000"`, of a `Scale=0` one
    /// `"5"`.
    pub fn pad_decimals(&self, type_name: &str, value: &mut Value) {
        let Some(entity) = self.entity_type(type_name) else {
            return;
        };
        let Value::Object(map) = value else {
            return;
        };
        for (key, field) in map.iter_mut() {
            if let Some(property) = entity.properties.get(key) {
                if let (Value::String(text), "Edm.Decimal", Some(scale)) =
                    (&*field, property.edm_type.as_str(), property.scale)
                    && let Some(padded) = pad(text, scale)
                {
                    *field = Value::String(padded);
                }
            } else if let Some(target) = entity.navigation.get(key) {
                match field {
                    Value::Object(nav) if nav.contains_key("results") => {
                        if let Some(Value::Array(items)) = nav.get_mut("results") {
                            for item in items {
                                self.pad_decimals(target, item);
                            }
                        }
                    }
                    Value::Object(_) => self.pad_decimals(target, field),
                    _ => {}
                }
            }
        }
    }
}

/// A decimal string with exactly `scale` decimals, by value (`None` when `text` is no decimal
/// or would need rounding, which the simulator never renders).
pub fn pad(text: &str, scale: u32) -> Option<String> {
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (int, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(fraction) {
        return None;
    }
    let fraction = fraction.trim_end_matches('0');
    let scale = scale as usize;
    if fraction.len() > scale {
        return None;
    }
    Some(if scale == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{fraction:0<scale$}") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_flags_types_and_scales_sap_publishes() {
        let m = sap();
        assert_eq!(m.types.len(), 64, "{:?}", m.types.keys().collect::<Vec<_>>());
        let stock = m.entity_type("API_MATERIAL_STOCK_SRV.A_MatlStkInAcctModType").unwrap();
        let quantity = &stock.properties["MatlWrhsStkQtyInMatlBaseUnit"];
        assert_eq!(
            (quantity.edm_type.as_str(), quantity.precision, quantity.scale),
            ("Edm.Decimal", Some(31), Some(14))
        );
        assert!(stock.properties.values().all(|p| p.filterable));
        let header = m.entity_type("API_OUTBOUND_DELIVERY_SRV.A_OutbDeliveryHeaderType").unwrap();
        for name in ["DeliveryDocument", "OverallGoodsMovementStatus", "SalesOrganization", "LastChangeDate"] {
            assert!(!header.properties[name].filterable && !header.properties[name].sortable, "{name}");
        }
        assert_eq!(header.navigation["to_DeliveryDocumentItem"], "API_OUTBOUND_DELIVERY_SRV.A_OutbDeliveryItemType");
        let order = m.entity_type("API_SALES_ORDER_SRV.A_SalesOrderType").unwrap();
        assert!(order.properties["PurchaseOrderByCustomer"].filterable);
        assert_eq!(order.navigation["to_SubsequentProcFlowDoc"], "API_SALES_ORDER_SRV.A_SalesOrderSubsqntProcFlowType");
        assert_eq!(order.navigation["to_Item"], "API_SALES_ORDER_SRV.A_SalesOrderItemType");
    }

    /// Counts taken from the same files with a full XML parser (Python's ElementTree): this
    /// reader of just what the files contain misses nothing.
    #[test]
    fn every_property_and_flag_is_read() {
        let properties: Vec<&Property> = sap().types.values().flat_map(|t| t.properties.values()).collect();
        let count = |test: fn(&Property) -> bool| properties.iter().filter(|p| test(p)).count();
        assert_eq!(properties.len(), 1747);
        assert_eq!(count(|p| !p.filterable), 352);
        assert_eq!(count(|p| !p.sortable), 354);
        assert_eq!(count(|p| p.edm_type == "Edm.Decimal"), 161);
        assert_eq!(count(|p| p.edm_type == "Edm.Decimal" && p.scale.is_none()), 0);
    }

    /// What the simulator serves is what SAP's metadata declares: every property and
    /// navigation property of its entity sets, where SAP published the service.
    #[test]
    fn the_simulated_sets_are_sap_s() {
        use super::super::model::{
            CREDIT_MEMO_REQUEST_SET, CUSTOMER_RETURN_SET, DELIVERY_ITEM_SET, DELIVERY_SET, PRICE_RECORD_SET,
            PRICE_VALIDITY_SET, SALES_ORDER_SET, STOCK_SET,
        };
        let mut unknown = Vec::new();
        for set in [
            SALES_ORDER_SET,
            STOCK_SET,
            DELIVERY_SET,
            DELIVERY_ITEM_SET,
            PRICE_VALIDITY_SET,
            PRICE_RECORD_SET,
            CUSTOMER_RETURN_SET,
            CREDIT_MEMO_REQUEST_SET,
        ] {
            let entity = sap().entity_type(set.type_name).unwrap();
            for property in set.properties {
                if !entity.properties.contains_key(*property) {
                    unknown.push(format!("{}.{property}", set.name));
                }
            }
            for (nav, properties) in set.navigation {
                let Some(target) = entity.navigation.get(*nav) else {
                    unknown.push(format!("{}.{nav}", set.name));
                    continue;
                };
                let target = sap().entity_type(target).unwrap();
                for property in *properties {
                    if !target.properties.contains_key(*property) {
                        unknown.push(format!("{}.{nav}/{property}", set.name));
                    }
                }
            }
        }
        assert!(unknown.is_empty(), "{unknown:?}");
    }

    #[test]
    fn refuses_what_sap_marks_and_passes_the_rest() {
        let m = sap();
        let header = "API_OUTBOUND_DELIVERY_SRV.A_OutbDeliveryHeaderType";
        let e = m.check_query(header, ["OverallGoodsMovementStatus"], []).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "/IWBEP/CM_MGW_RT/020"));
        assert!(
            e.message.contains("'OverallGoodsMovementStatus'") && e.message.contains("sap:filterable"),
            "{}",
            e.message
        );
        assert!(m.check_query(header, [], ["DeliveryDocument"]).unwrap_err().message.contains("sap:sortable"));
        let order = "API_SALES_ORDER_SRV.A_SalesOrderType";
        assert!(
            m.check_query(
                order,
                ["SalesOrganization", "PurchaseOrderByCustomer", "LastChangeDateTime"],
                ["SalesOrder"]
            )
            .is_ok()
        );
        assert!(m.check_query("API_BATCH_SRV.A_BatchType", ["Material"], ["Material"]).is_ok());
    }

    #[test]
    fn pads_decimals_to_their_declared_scale() {
        assert_eq!(pad("40.000", 14).as_deref(), Some("40.00000000000000"));
        assert_eq!(pad("1.000", 0).as_deref(), Some("1"));
        assert_eq!(pad("-0.25", 3).as_deref(), Some("-0.250"));
        assert_eq!(pad("12.50", 2).as_deref(), Some("12.50"));
        assert_eq!(pad("1.25", 1), None);
        assert_eq!(pad("x", 3), None);
        let mut header = json!({"DeliveryDocument": "8", "to_DeliveryDocumentItem": {"results": [
            {"ActualDeliveryQuantity": "2", "DeliveryQuantityUnit": "EA"}]}});
        sap().pad_decimals("API_OUTBOUND_DELIVERY_SRV.A_OutbDeliveryHeaderType", &mut header);
        assert_eq!(header["to_DeliveryDocumentItem"]["results"][0]["ActualDeliveryQuantity"], "2.000");
        let mut stock = json!({"Material": "A", "MatlWrhsStkQtyInMatlBaseUnit": "40.000"});
        sap().pad_decimals("API_MATERIAL_STOCK_SRV.A_MatlStkInAcctModType", &mut stock);
        assert_eq!(stock["MatlWrhsStkQtyInMatlBaseUnit"], "40.00000000000000");
    }
}
