//! The OData v2 side of the simulator: entity sets, query options, envelopes, errors, and
//! the value formats (`/Date(ms)/`, `PT14H30M00S`, decimals as strings).

use serde_json::{Map, Value, json};

use super::filter::{self, Filter};
use crate::taobao::{Params, encode_pairs};

/// An entity set: its properties and navigation properties (with the target's properties).
#[derive(Clone, Copy, Debug)]
pub struct EntitySet {
    pub name: &'static str,
    /// The entity type, for `__metadata.type`.
    pub type_name: &'static str,
    pub properties: &'static [&'static str],
    pub navigation: &'static [(&'static str, &'static [&'static str])],
}

/// An SAP Gateway error: HTTP status and the `error` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SapError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl SapError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self { status, code: code.to_owned(), message: message.into() }
    }

    /// A malformed request: SAP Gateway's runtime code for invalid query options and payloads.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "/IWBEP/CM_MGW_RT/020", message)
    }

    /// `{"error":{"code","message":{"lang","value"},"innererror":{…,"errordetails":[…]}}}`.
    pub fn body(&self) -> String {
        json!({"error": {
            "code": self.code,
            "message": {"lang": "en", "value": self.message},
            "innererror": {
                "transactionid": "0000000000000000000000000000000A",
                "timestamp": "20250530080000.0000000",
                "errordetails": [{"code": self.code, "message": self.message, "propertyref": "", "severity": "error", "target": ""}]
            }
        }})
        .to_string()
    }
}

/// `/Date(ms)/`.
pub fn date(ms: i64) -> String {
    format!("/Date({ms})/")
}

/// The SAP date (midnight UTC of the calendar day at `offset_minutes`) of an instant.
pub fn date_of(ms: i64, offset_minutes: i32) -> String {
    let local = ms + i64::from(offset_minutes) * 60_000;
    date(local.div_euclid(86_400_000) * 86_400_000)
}

/// `PT14H30M05S`: the time of day of an instant at `offset_minutes`.
pub fn time_of(ms: i64, offset_minutes: i32) -> String {
    let seconds = (ms + i64::from(offset_minutes) * 60_000).rem_euclid(86_400_000) / 1000;
    format!("PT{:02}H{:02}M{:02}S", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

/// Thousandths as SAP's three-decimal quantity string: 5000 → `"5.000"`.
pub fn quantity(thousandths: i64) -> String {
    let sign = if thousandths < 0 { "-" } else { "" };
    let m = thousandths.unsigned_abs();
    format!("{sign}{}.{:03}", m / 1000, m % 1000)
}

/// A decimal string with at most `scale` decimals as units of `10^-scale`.
pub fn parse_decimal(text: &str, scale: u32) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || frac.len() > scale as usize || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: i64 = int.parse().ok()?;
    for i in 0..scale as usize {
        n = n.checked_mul(10)?.checked_add(frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0')))?;
    }
    Some(if negative { -n } else { n })
}

/// The query options of one request.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub filter: Option<Filter>,
    pub select: Option<Vec<String>>,
    pub expand: Vec<String>,
    pub orderby: Vec<(String, bool)>,
    pub top: Option<usize>,
    pub skip: usize,
    pub inlinecount: bool,
}

fn count_option(params: &Params, name: &str) -> Result<Option<usize>, SapError> {
    params
        .get(name)
        .map(|v| {
            v.parse::<usize>().map_err(|_| SapError::bad_request(format!("Invalid system query option {name}={v}")))
        })
        .transpose()
}

impl Options {
    /// Reads and checks the options against `set`. `$skiptoken` (from a `__next` link) is an
    /// absolute offset and adds to `$skip`.
    pub fn parse(params: &Params, set: &EntitySet) -> Result<Self, SapError> {
        for (key, _) in params.iter() {
            let known = [
                "$filter",
                "$select",
                "$expand",
                "$orderby",
                "$top",
                "$skip",
                "$skiptoken",
                "$inlinecount",
                "$format",
                "sap-client",
            ];
            if key.starts_with('$') && !known.contains(&key) {
                return Err(SapError::bad_request(format!("System query option '{key}' is not supported")));
            }
        }
        if let Some(format) = params.get("$format")
            && format != "json"
        {
            return Err(SapError::bad_request(format!("The simulator answers $format=json only, got {format:?}")));
        }
        let filter = params.get("$filter").map(filter::parse).transpose().map_err(|e| SapError::bad_request(e.0))?;
        let expand: Vec<String> =
            params.get("$expand").map(|e| e.split(',').map(|s| s.trim().to_owned()).collect()).unwrap_or_default();
        for nav in &expand {
            if !set.navigation.iter().any(|(n, _)| n == nav) {
                return Err(SapError::bad_request(format!("Property '{nav}' is invalid for $expand on {}", set.name)));
            }
        }
        let select = match params.get("$select") {
            None => None,
            Some(s) => {
                let fields: Vec<String> = s.split(',').map(|f| f.trim().to_owned()).collect();
                for field in &fields {
                    let known = match field.split_once('/') {
                        None => {
                            set.properties.contains(&field.as_str()) || set.navigation.iter().any(|(n, _)| n == field)
                        }
                        Some((nav, property)) => {
                            expand.contains(&nav.to_owned())
                                && set.navigation.iter().any(|(n, props)| *n == nav && props.contains(&property))
                        }
                    };
                    if !known {
                        return Err(SapError::bad_request(format!(
                            "Property '{field}' is invalid in $select on {}",
                            set.name
                        )));
                    }
                }
                Some(fields)
            }
        };
        let mut orderby = Vec::new();
        if let Some(o) = params.get("$orderby") {
            for part in o.split(',') {
                let mut words = part.split_whitespace();
                let property = words.next().unwrap_or_default().to_owned();
                let descending = match words.next() {
                    None | Some("asc") => false,
                    Some("desc") => true,
                    Some(other) => {
                        return Err(SapError::bad_request(format!("Invalid $orderby direction {other:?}")));
                    }
                };
                if !set.properties.contains(&property.as_str()) {
                    return Err(SapError::bad_request(format!(
                        "Property '{property}' is invalid in $orderby on {}",
                        set.name
                    )));
                }
                orderby.push((property, descending));
            }
        }
        // What SAP's metadata marks non-filterable or non-sortable is refused, as a Gateway
        // enforcing the flags does.
        super::edmx::sap().check_query(
            set.type_name,
            filter.as_ref().map(Filter::properties).unwrap_or_default(),
            orderby.iter().map(|(p, _)| p.as_str()),
        )?;
        let inlinecount = match params.get("$inlinecount") {
            None | Some("none") => false,
            Some("allpages") => true,
            Some(other) => {
                return Err(SapError::bad_request(format!("Invalid $inlinecount {other:?}")));
            }
        };
        Ok(Self {
            filter,
            select,
            expand,
            orderby,
            top: count_option(params, "$top")?,
            skip: count_option(params, "$skip")?.unwrap_or(0) + count_option(params, "$skiptoken")?.unwrap_or(0),
            inlinecount,
        })
    }
}

/// Answers a collection request: filter, order, count, page (at most `page_cap` rows, with a
/// `__next` link to the rest of what `$top` asked, keeping the request's other options),
/// expand and select.
pub fn collection(
    set: &EntitySet,
    rows: Vec<Value>,
    options: &Options,
    page_cap: usize,
    self_url: &str,
    params: &Params,
) -> Result<Value, SapError> {
    let mut kept = Vec::new();
    for row in rows {
        let passes = match &options.filter {
            None => true,
            Some(f) => f.matches(&row).map_err(|e| SapError::bad_request(e.0))?,
        };
        if passes {
            kept.push(row);
        }
    }
    if !options.orderby.is_empty() {
        kept.sort_by(|a, b| {
            for (property, descending) in &options.orderby {
                let key = |v: &Value| {
                    v.get(property).and_then(Value::as_str).map(str::as_bytes).map(<[u8]>::to_vec).unwrap_or_default()
                };
                let ordering = key(a).cmp(&key(b));
                let ordering = if *descending { ordering.reverse() } else { ordering };
                if ordering.is_ne() {
                    return ordering;
                }
            }
            std::cmp::Ordering::Equal
        });
    }
    let count = kept.len();
    let wanted = options.top.unwrap_or(usize::MAX);
    let returned: Vec<Value> = kept.into_iter().skip(options.skip).take(wanted.min(page_cap)).collect();
    let remaining_wanted = wanted.saturating_sub(returned.len());
    let more_exist = count > options.skip + returned.len();
    let mut d = Map::new();
    if options.inlinecount {
        d.insert("__count".into(), Value::String(count.to_string()));
    }
    d.insert("results".into(), Value::Array(returned.into_iter().map(|r| shape(set, r, options)).collect()));
    if more_exist && remaining_wanted > 0 && wanted > page_cap {
        let skiptoken = (options.skip + page_cap).to_string();
        let top = options.top.map(|top| (top - page_cap).to_string());
        let mut pairs: Vec<(&str, &str)> =
            params.iter().filter(|(k, _)| !matches!(*k, "$skip" | "$top" | "$skiptoken")).collect();
        pairs.push(("$skiptoken", &skiptoken));
        if let Some(top) = &top {
            pairs.push(("$top", top));
        }
        let next = format!("{self_url}?{}", encode_pairs(pairs));
        d.insert("__next".into(), Value::String(next));
    }
    Ok(json!({ "d": d }))
}

/// Drops what `$expand` / `$select` did not ask for; unexpanded navigation is deferred.
pub fn shape(set: &EntitySet, mut row: Value, options: &Options) -> Value {
    let Value::Object(map) = &mut row else {
        return row;
    };
    for (nav, _) in set.navigation {
        if !options.expand.iter().any(|e| e == nav) {
            let uri =
                map.get("__metadata").and_then(|m| m.get("uri")).and_then(Value::as_str).unwrap_or_default().to_owned();
            map.insert((*nav).to_owned(), json!({"__deferred": {"uri": format!("{uri}/{nav}")}}));
        }
    }
    let Some(select) = &options.select else {
        return row;
    };
    let keep_top: Vec<&str> = select.iter().map(|f| f.split('/').next().unwrap_or_default()).collect();
    map.retain(|k, _| k == "__metadata" || keep_top.contains(&k.as_str()));
    for (nav, _) in set.navigation {
        let fields: Vec<&str> = select.iter().filter_map(|f| f.strip_prefix(&format!("{nav}/"))).collect();
        if fields.is_empty() {
            continue;
        }
        let keep = |item: &mut Value| {
            if let Value::Object(item) = item {
                item.retain(|k, _| k == "__metadata" || fields.contains(&k.as_str()));
            }
        };
        match map.get_mut(*nav) {
            // To many: `{"results": [...]}`; to one: the entity itself.
            Some(Value::Object(n)) if n.contains_key("results") => {
                if let Some(Value::Array(items)) = n.get_mut("results") {
                    items.iter_mut().for_each(keep);
                }
            }
            Some(one @ Value::Object(_)) => keep(one),
            _ => {}
        }
    }
    row
}

/// `{"__metadata": {...}}` of an entity with key predicate `key` (`'4711'` or
/// `DeliveryDocument='8000',DeliveryDocumentItem='10'`).
pub fn metadata(base: &str, set: &EntitySet, key: &str) -> Value {
    let uri = format!("{base}/{}({key})", set.name);
    json!({"id": uri, "uri": uri, "type": set.type_name})
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: EntitySet = EntitySet {
        name: "A_X",
        type_name: "SRV.A_XType",
        properties: &["K", "V"],
        navigation: &[("to_Y", &["A", "B"])],
    };

    fn options(query: &str) -> Result<(Options, Params), SapError> {
        let mut p = Params::default();
        p.extend_from_urlencoded(query.as_bytes()).unwrap();
        Ok((Options::parse(&p, &SET)?, p))
    }

    fn rows() -> Vec<Value> {
        (1..=5)
            .map(|i| json!({"__metadata": {"uri": format!("u/A_X('{i}')")}, "K": i.to_string(), "V": "v", "to_Y": {"results": [{"A": 1, "B": 2}]}}))
            .collect()
    }

    #[test]
    fn paging_counting_and_next_links() {
        let (o, p) =
            options("$filter=K%20gt%20%271%27&$orderby=K%20desc&$top=3&$skip=1&$inlinecount=allpages").unwrap();
        let body = collection(&SET, rows(), &o, 2, "http://h/A_X", &p).unwrap();
        assert_eq!(body["d"]["__count"], "4");
        let keys: Vec<&str> =
            body["d"]["results"].as_array().unwrap().iter().map(|r| r["K"].as_str().unwrap()).collect();
        assert_eq!(keys, ["4", "3"]);
        let next = body["d"]["__next"].as_str().unwrap();
        assert!(next.starts_with("http://h/A_X?") && next.ends_with("&%24skiptoken=3&%24top=1"), "{next}");
        let (o, p) = options(next.split_once('?').unwrap().1).unwrap();
        let body = collection(&SET, rows(), &o, 2, "http://h/A_X", &p).unwrap();
        assert_eq!(body["d"]["results"][0]["K"], "2");
        assert!(body["d"].get("__next").is_none());
    }

    #[test]
    fn select_and_expand() {
        let (o, p) = options("$select=K,to_Y/A&$expand=to_Y").unwrap();
        let body = collection(&SET, rows(), &o, 100, "u", &p).unwrap();
        assert_eq!(
            body["d"]["results"][0],
            json!({"__metadata": {"uri": "u/A_X('1')"}, "K": "1", "to_Y": {"results": [{"A": 1}]}})
        );
        let (o, p) = options("").unwrap();
        let body = collection(&SET, rows(), &o, 100, "u", &p).unwrap();
        assert_eq!(body["d"]["results"][0]["to_Y"], json!({"__deferred": {"uri": "u/A_X('1')/to_Y"}}));
        for bad in [
            "$select=Nope",
            "$select=to_Y/A",
            "$expand=to_Z",
            "$orderby=Nope",
            "$top=x",
            "$filter=K%20eq",
            "$format=xml",
            "$search=x",
        ] {
            assert!(options(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(date_of(1_748_563_200_000 - 1, 480), "/Date(1748563200000)/");
        assert_eq!(time_of(1_748_563_200_000 + 5_000, 480), "PT08H00M05S");
        assert_eq!(quantity(5_000), "5.000");
        assert_eq!(quantity(-250), "-0.250");
        assert_eq!(parse_decimal("12.5", 2), Some(1_250));
        assert_eq!(parse_decimal("-0.50", 2), Some(-50));
        assert_eq!(parse_decimal("1.234", 2), None);
        assert_eq!(parse_decimal("x", 2), None);
        assert_eq!(parse_decimal(".5", 2), None);
    }
}
