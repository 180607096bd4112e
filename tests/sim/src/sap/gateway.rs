//! The HTTP front: faults, Basic auth, the CSRF handshake, then the services.
//!
//! Reads answer as SAP's published metadata says ([`edmx`]): a `$filter` or `$orderby` on a
//! property marked non-filterable or non-sortable is refused with 400, and `Edm.Decimal`
//! values come padded to their declared scale.
//!
//! Served paths: `/sap/opu/odata/sap/<service>/<entity set>` for `API_SALES_ORDER_SRV`
//! (`A_SalesOrder`: GET, and POST deep inserts), `API_MATERIAL_STOCK_SRV`
//! (`A_MatlStkInAcctMod`), `API_OUTBOUND_DELIVERY_SRV;v=0002` (`A_OutbDeliveryHeader`,
//! `A_OutbDeliveryItem`), `API_BATCH_SRV` (`A_Batch`), `API_SLSPRICINGCONDITIONRECORD_SRV`
//! (`A_SlsPrcgCndnRecdValidity` with `to_SlsPrcgConditionRecord`, `A_SlsPrcgConditionRecord`),
//! `API_CUSTOMER_RETURN_SRV` (`A_CustomerReturn`: GET, and POST deep inserts),
//! `API_CREDIT_MEMO_REQUEST_SRV` (`A_CreditMemoRequest`: GET, and POST deep inserts), and
//! `/sap/bc/idoc_xml` (POST an ORDERS05 IDoc). A `sap-client` parameter other than the
//! system's is a failed logon, as in SAP.
//!
//! CSRF, as SAP Gateway does it: a GET with `X-CSRF-Token: Fetch` opens a session (cookie
//! `SAP_SESSIONID_<SID>_<client>`, plus `sap-usercontext`) and answers its token in
//! `x-csrf-token`; a modifying request must carry that token and that session's cookie, else
//! 403 with `x-csrf-token: Required` and the text "CSRF token validation failed". The IDoc
//! endpoint is an ICF service outside Gateway and takes no token.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::model::{
    BATCH_SET, CREDIT_MEMO_REQUEST_SET, CUSTOMER_RETURN_SET, DELIVERY_ITEM_SET, DELIVERY_SET, PRICE_RECORD_SET,
    PRICE_VALIDITY_SET, RefundCategory, SALES_ORDER_SET, STOCK_SET, render_batch, render_delivery,
    render_delivery_item, render_price_record, render_price_validity, render_refund_document, render_sales_order,
    render_stock,
};
use super::odata::{EntitySet, Options, SapError, collection, shape};
use super::{Shared, create, edmx};
use crate::faults::Refusal;
use crate::serve::lock;
use crate::taobao::Params;

pub const ODATA_ROOT: &str = "/sap/opu/odata/sap";
pub const SALES_ORDER_SERVICE: &str = "API_SALES_ORDER_SRV";
pub const STOCK_SERVICE: &str = "API_MATERIAL_STOCK_SRV";
pub const DELIVERY_SERVICE: &str = "API_OUTBOUND_DELIVERY_SRV;v=0002";
pub const BATCH_SERVICE: &str = "API_BATCH_SRV";
pub const PRICE_SERVICE: &str = "API_SLSPRICINGCONDITIONRECORD_SRV";
pub const CUSTOMER_RETURN_SERVICE: &str = "API_CUSTOMER_RETURN_SRV";
pub const CREDIT_MEMO_REQUEST_SERVICE: &str = "API_CREDIT_MEMO_REQUEST_SRV";
/// SAP's IDoc-over-HTTP inbound service.
pub const IDOC_PATH: &str = "/sap/bc/idoc_xml";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const CSRF_FAILED: &str = "CSRF token validation failed";

/// One answer: status, headers, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    fn json(status: u16, body: String) -> Self {
        Self { status, headers: vec![("content-type".into(), "application/json; charset=utf-8".into())], body }
    }

    fn text(status: u16, content_type: &str, body: impl Into<String>) -> Self {
        Self { status, headers: vec![("content-type".into(), content_type.into())], body: body.into() }
    }

    fn error(e: &SapError) -> Self {
        Self::json(e.status, e.body())
    }

    fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(serve).with_state(shared)
}

async fn serve(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = shared.handle(method.as_str(), uri.path(), uri.query().unwrap_or_default(), &headers, &body);
    let mut response =
        (StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), answer.body).into_response();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (name.parse::<axum::http::HeaderName>(), value.parse()) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// The standard base64 alphabet, for the expected `Authorization` value.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `Basic base64(user:password)`.
pub fn basic_authorization(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The session id in the request's cookies, if any.
fn session_of(headers: &HeaderMap, cookie_name: &str) -> Option<String> {
    headers.get_all("cookie").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == cookie_name).then(|| value.to_owned())
    })
}

impl Shared {
    fn session_cookie_name(&self) -> String {
        format!("SAP_SESSIONID_{}_{}", self.config.system_id, self.config.sap_client)
    }

    /// Handles one request.
    pub fn handle(&self, method: &str, path: &str, query: &str, headers: &HeaderMap, body: &[u8]) -> Answer {
        let entity = path.rsplit('/').next().unwrap_or_default();
        *lock(&self.calls).entry(format!("{method} {entity}")).or_default() += 1;

        match lock(&self.faults).before(Instant::now()) {
            Some(Refusal::HttpStatus(status)) => {
                return Answer::text(
                    status,
                    "text/html",
                    format!("<html><body><h1>{status}</h1><p>ICM: service unavailable</p></body></html>"),
                );
            }
            Some(Refusal::Throttled { retry_after_secs }) => {
                return Answer::text(429, "text/plain", "Rate limit exceeded")
                    .with("retry-after", retry_after_secs.to_string());
            }
            Some(Refusal::Unauthorized) => return self.logon_failed(),
            None => {}
        }
        let mut params = Params::default();
        if params.extend_from_urlencoded(query.as_bytes()).is_err() {
            return Answer::error(&SapError::bad_request("The query string is not valid URL encoding"));
        }
        let expected = basic_authorization(&self.config.user, &self.config.password);
        if header(headers, "authorization") != Some(expected.as_str()) {
            return self.logon_failed();
        }
        if params.get("sap-client").is_some_and(|c| c != self.config.sap_client) {
            return self.logon_failed();
        }
        let base = format!("http://{}", header(headers, "host").unwrap_or("127.0.0.1"));

        if path == IDOC_PATH {
            return match method {
                "POST" => self.receive_idoc(headers, body),
                _ => Answer::text(405, "text/plain", "Method not allowed"),
            };
        }
        let Some(rest) = path.strip_prefix(ODATA_ROOT).and_then(|r| r.strip_prefix('/')) else {
            return Answer::text(404, "text/html", "<html><body>Not found</body></html>");
        };
        let Some((service, entity_set)) = rest.rsplit_once('/') else {
            return Answer::error(&SapError::new(404, "/IWFND/MED/170", format!("No service found for {rest}")));
        };
        // `A_OutbDeliveryHeader('80000001')`: one entity by its key.
        let (entity_set, key) = match entity_set.split_once('(') {
            None => (entity_set, None),
            Some((name, predicate)) => {
                let predicate = predicate.replace("%27", "'");
                match predicate.strip_suffix(')').and_then(|k| k.strip_prefix('\'')).and_then(|k| k.strip_suffix('\''))
                {
                    Some(k) => (name, Some(k.replace("''", "'"))),
                    None => {
                        return Answer::error(&SapError::bad_request(format!("Invalid key predicate in {entity_set}")));
                    }
                }
            }
        };
        let set = match (service, entity_set) {
            (SALES_ORDER_SERVICE, "A_SalesOrder") => SALES_ORDER_SET,
            (STOCK_SERVICE, "A_MatlStkInAcctMod") => STOCK_SET,
            (DELIVERY_SERVICE, "A_OutbDeliveryHeader") => DELIVERY_SET,
            (DELIVERY_SERVICE, "A_OutbDeliveryItem") => DELIVERY_ITEM_SET,
            (BATCH_SERVICE, "A_Batch") => BATCH_SET,
            (PRICE_SERVICE, "A_SlsPrcgCndnRecdValidity") => PRICE_VALIDITY_SET,
            (PRICE_SERVICE, "A_SlsPrcgConditionRecord") => PRICE_RECORD_SET,
            (CUSTOMER_RETURN_SERVICE, "A_CustomerReturn") => CUSTOMER_RETURN_SET,
            (CREDIT_MEMO_REQUEST_SERVICE, "A_CreditMemoRequest") => CREDIT_MEMO_REQUEST_SET,
            _ => {
                return Answer::error(&SapError::new(
                    404,
                    "/IWFND/MED/170",
                    format!("No service found for namespace /SAP/, name {service}, resource {entity_set}"),
                ));
            }
        };
        let service_base = format!("{base}{ODATA_ROOT}/{service}");
        if let Some(key) = key {
            return match method {
                "GET" => self.read_one(&set, &key, &params, &service_base),
                _ => Answer::error(&SapError::new(
                    405,
                    "/IWBEP/CM_MGW_RT/021",
                    format!("The method {method} is not allowed on {entity_set}('{key}')"),
                )),
            };
        }
        match method {
            "GET" => {
                let fetch = header(headers, CSRF_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("fetch"));
                let answer = self.read(&set, &params, &service_base);
                if fetch && answer.status == 200 { self.open_session(headers, answer) } else { answer }
            }
            "POST"
                if [SALES_ORDER_SET.name, CUSTOMER_RETURN_SET.name, CREDIT_MEMO_REQUEST_SET.name]
                    .contains(&set.name) =>
            {
                if !self.token_valid(headers) {
                    return Answer::text(403, "text/plain; charset=utf-8", CSRF_FAILED).with(CSRF_HEADER, "Required");
                }
                match set.name {
                    "A_CustomerReturn" => {
                        self.create_refund_document(RefundCategory::CustomerReturn, body, &service_base)
                    }
                    "A_CreditMemoRequest" => {
                        self.create_refund_document(RefundCategory::CreditMemoRequest, body, &service_base)
                    }
                    _ => self.create_sales_order(body, &service_base),
                }
            }
            "POST" | "PUT" | "PATCH" | "MERGE" | "DELETE" => Answer::error(&SapError::new(
                405,
                "/IWBEP/CM_MGW_RT/021",
                format!("The method {method} is not allowed on {entity_set}"),
            )),
            _ => Answer::text(405, "text/plain", "Method not allowed"),
        }
    }

    fn logon_failed(&self) -> Answer {
        Answer::text(
            401,
            "text/html",
            "<html><head><title>Logon Error Message</title></head><body>Logon failed</body></html>",
        )
        .with(
            "www-authenticate",
            format!(
                "Basic realm=\"SAP NetWeaver Application Server [{}/{}]\"",
                self.config.system_id, self.config.sap_client
            ),
        )
    }

    /// Every entity of `set`, rendered, decimals padded to their declared scale.
    fn rows(&self, set: &EntitySet, service_base: &str) -> Vec<Value> {
        let mut rows = self.render(set, service_base);
        for row in &mut rows {
            edmx::sap().pad_decimals(set.type_name, row);
        }
        rows
    }

    fn render(&self, set: &EntitySet, service_base: &str) -> Vec<Value> {
        let offset = self.config.utc_offset_minutes;
        {
            let state = lock(&self.state);
            match set.name {
                "A_SalesOrder" => state
                    .sales_orders
                    .iter()
                    .map(|o| render_sales_order(service_base, o, &state.deliveries, offset))
                    .collect(),
                "A_OutbDeliveryItem" => state
                    .deliveries
                    .iter()
                    .flat_map(|d| d.items.iter().map(|i| render_delivery_item(service_base, d, i, &state.batches)))
                    .collect(),
                "A_Batch" => state.batches.iter().map(|b| render_batch(service_base, b)).collect(),
                "A_SlsPrcgCndnRecdValidity" => {
                    state.prices.iter().map(|p| render_price_validity(service_base, p)).collect()
                }
                "A_SlsPrcgConditionRecord" => {
                    state.prices.iter().map(|p| render_price_record(service_base, p)).collect()
                }
                "A_MatlStkInAcctMod" => state.stock.iter().map(|r| render_stock(service_base, r)).collect(),
                "A_CustomerReturn" | "A_CreditMemoRequest" => state
                    .refund_documents
                    .iter()
                    .filter(|d| d.category.set().name == set.name)
                    .map(|d| render_refund_document(service_base, d, offset))
                    .collect(),
                _ => {
                    state.deliveries.iter().map(|d| render_delivery(service_base, d, &state.batches, offset)).collect()
                }
            }
        }
    }

    /// One entity by its key (`$select` and `$expand` apply; options about collections are
    /// refused). Only the sets the plugin reads by key have one simulated.
    ///
    /// UNSURE: the 404's code and text are SAP Gateway's as commonly seen ("Resource not
    /// found for segment …"), not captured from a real system.
    fn read_one(&self, set: &EntitySet, key: &str, params: &Params, service_base: &str) -> Answer {
        let options = match Options::parse(params, set) {
            Ok(o) => o,
            Err(e) => return Answer::error(&e),
        };
        for option in ["$filter", "$orderby", "$top", "$skip", "$skiptoken", "$inlinecount"] {
            if params.get(option).is_some() {
                return Answer::error(&SapError::bad_request(format!(
                    "System query option '{option}' is not allowed when reading a single entity of {}",
                    set.name
                )));
            }
        }
        let key_property = match set.name {
            "A_SalesOrder" => "SalesOrder",
            "A_OutbDeliveryHeader" => "DeliveryDocument",
            _ => {
                return Answer::error(&SapError::bad_request(format!(
                    "The simulator reads {} as a collection only",
                    set.name
                )));
            }
        };
        let found = self
            .rows(set, service_base)
            .into_iter()
            .find(|row| row.get(key_property).and_then(Value::as_str) == Some(key));
        match found {
            Some(row) => {
                let body = json!({ "d": shape(set, row, &options) }).to_string();
                Answer::json(200, lock(&self.faults).after(body))
            }
            None => Answer::error(&SapError::new(
                404,
                "/IWBEP/CM_MGW_RT/021",
                format!("Resource not found for segment '{}'", set.type_name.rsplit('.').next().unwrap_or(set.name)),
            )),
        }
    }

    fn read(&self, set: &EntitySet, params: &Params, service_base: &str) -> Answer {
        let options = match Options::parse(params, set) {
            Ok(o) => o,
            Err(e) => return Answer::error(&e),
        };
        let rows = self.rows(set, service_base);
        match collection(set, rows, &options, self.config.page_cap, &format!("{service_base}/{}", set.name), params) {
            Ok(body) => Answer::json(200, lock(&self.faults).after(body.to_string())),
            Err(e) => Answer::error(&e),
        }
    }

    /// Answers a Fetch with the session's token, opening a session when the request has none.
    fn open_session(&self, headers: &HeaderMap, answer: Answer) -> Answer {
        let cookie = self.session_cookie_name();
        let mut state = lock(&self.state);
        if let Some(session) = session_of(headers, &cookie)
            && let Some(token) = state.sessions.get(&session)
        {
            return answer.with(CSRF_HEADER, token.clone());
        }
        state.next_session += 1;
        let session = format!("S{:08}%3d", state.next_session);
        let token = format!("tok{:06}=={}", state.next_session, state.next_session * 7_919);
        state.sessions.insert(session.clone(), token.clone());
        answer
            .with(CSRF_HEADER, token)
            .with("set-cookie", format!("{cookie}={session}; path=/; HttpOnly"))
            .with("set-cookie", format!("sap-usercontext=sap-client={}; path=/", self.config.sap_client))
    }

    fn token_valid(&self, headers: &HeaderMap) -> bool {
        let Some(token) = header(headers, CSRF_HEADER) else {
            return false;
        };
        let state = lock(&self.state);
        session_of(headers, &self.session_cookie_name())
            .and_then(|s| state.sessions.get(&s))
            .is_some_and(|t| t == token)
    }

    fn create_sales_order(&self, body: &[u8], service_base: &str) -> Answer {
        let now = self.clock.now_ms();
        let mut state = lock(&self.state);
        if let Some(error) = state.refuse_creates.pop_front() {
            return Answer::error(&error);
        }
        let number = state.next_sales_order.to_string();
        let order = match create::sales_order(&state, body, number, now) {
            Ok(order) => order,
            Err(e) => return Answer::error(&e),
        };
        state.next_sales_order += 1;
        let mut rendered = render_sales_order(service_base, &order, &state.deliveries, self.config.utc_offset_minutes);
        edmx::sap().pad_decimals(SALES_ORDER_SET.type_name, &mut rendered);
        let location = format!("{service_base}/A_SalesOrder('{}')", order.sales_order);
        state.sales_orders.push(order);
        if state.lose_create_answers > 0 {
            state.lose_create_answers -= 1;
            return Answer::text(504, "text/html", "<html><body>504 Gateway Time-out</body></html>");
        }
        drop(state);
        let body = lock(&self.faults).after(serde_json::json!({ "d": rendered }).to_string());
        Answer::json(201, body).with("location", location)
    }

    /// Creates a customer return or credit memo request; the create knobs
    /// ([`super::SapSim::lose_next_create_answers`], [`super::SapSim::refuse_next_create`]) apply
    /// as to sales orders.
    fn create_refund_document(&self, category: RefundCategory, body: &[u8], service_base: &str) -> Answer {
        let now = self.clock.now_ms();
        let mut state = lock(&self.state);
        if let Some(error) = state.refuse_creates.pop_front() {
            return Answer::error(&error);
        }
        let number = match category {
            RefundCategory::CustomerReturn => state.next_customer_return,
            RefundCategory::CreditMemoRequest => state.next_credit_memo_request,
        }
        .to_string();
        let document = match create::refund_document(&state, category, body, number, now) {
            Ok(document) => document,
            Err(e) => return Answer::error(&e),
        };
        match category {
            RefundCategory::CustomerReturn => state.next_customer_return += 1,
            RefundCategory::CreditMemoRequest => state.next_credit_memo_request += 1,
        }
        let set = category.set();
        let mut rendered = render_refund_document(service_base, &document, self.config.utc_offset_minutes);
        edmx::sap().pad_decimals(set.type_name, &mut rendered);
        let location = format!("{service_base}/{}('{}')", set.name, document.number);
        state.refund_documents.push(document);
        if state.lose_create_answers > 0 {
            state.lose_create_answers -= 1;
            return Answer::text(504, "text/html", "<html><body>504 Gateway Time-out</body></html>");
        }
        drop(state);
        let body = lock(&self.faults).after(serde_json::json!({ "d": rendered }).to_string());
        Answer::json(201, body).with("location", location)
    }

    fn receive_idoc(&self, headers: &HeaderMap, body: &[u8]) -> Answer {
        let mut state = lock(&self.state);
        state.next_docnum += 1;
        let docnum = format!("{:016}", state.next_docnum);
        let content_type = header(headers, "content-type").unwrap_or_default();
        match create::idoc(body, content_type, docnum.clone(), self.clock.now_ms()) {
            Ok(idoc) => {
                state.idocs.push(idoc);
                Answer::text(
                    200,
                    "application/xml",
                    format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<IDOC_ACK><DOCNUM>{docnum}</DOCNUM><STATUS>53</STATUS></IDOC_ACK>\n"
                    ),
                )
            }
            Err(e) => Answer::error(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
        assert_eq!(basic_authorization("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    }
}
