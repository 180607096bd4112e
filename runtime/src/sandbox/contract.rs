//! What every contract version shares: the host side of its imports, running its exports,
//! and conversions between its types and the canonical model, written once.
//!
//! Contract versions differ in a few types only (0.2.0 added the order status `held` and
//! `rejected` records in pages); everything else is the same WIT under another package
//! version, so bindgen makes distinct but identical Rust types. Rather than a copy of this
//! code per version, or a chain of field-by-field conversions from each old version to the
//! latest, [`contract!`] expands it inside each version's module, where `w` names that
//! version's types. What differs stays in the version's module, beside the invocation:
//! `status_from` / `status_to`, `order_page`, and `ErpPage` for each ERP page type. A future
//! version that changes another record moves that record's conversion out in the same way.

/// Expands the shared part of a contract version module; invoke it as
/// `contract!($; NewOperation, …)` (the `$` token lets the macros inside it name their own
/// fragments; the list names the `operation` cases later versions added). Expects in scope: the
/// `marketplace` and `erp` bindgen modules, `w` (types), `w_http`, `w_cred`, `w_config`, `w_log`,
/// `MARKETPLACE_EXPORT`, `ERP_EXPORT`, `CONTRACT`, the per-version items named above, and
/// `batch_limits`, `marketplace_since` and `erp_since`: what the version added to the descriptor
/// and the calls it added ([`no_newer_operations!`] for a version that added none).
macro_rules! contract {
    ($d:tt; $($added:ident),* $(,)?) => {
        /// One linker per world of this contract.
        pub struct Linkers {
            marketplace: Linker<CallState>,
            erp: Linker<CallState>,
        }

        /// A plugin of this contract, pre-instantiated for its world.
        #[derive(Clone)]
        pub enum Bindings {
            Marketplace(Arc<marketplace::MarketplacePre<CallState>>),
            Erp(Arc<erp::ErpPre<CallState>>),
        }

        impl Linkers {
            pub fn new(engine: &Engine) -> Result<Self, LoadError> {
                let link_err = |e: wasmtime::Error| LoadError::Link(format!("{e:#}"));
                let mut marketplace = Linker::new(engine.wasmtime());
                wasmtime_wasi::p2::add_to_linker_async(&mut marketplace).map_err(link_err)?;
                marketplace::Marketplace::add_to_linker::<CallState, HasSelf<CallState>>(&mut marketplace, |s| s)
                    .map_err(link_err)?;
                let mut erp = Linker::new(engine.wasmtime());
                wasmtime_wasi::p2::add_to_linker_async(&mut erp).map_err(link_err)?;
                erp::Erp::add_to_linker::<CallState, HasSelf<CallState>>(&mut erp, |s| s).map_err(link_err)?;
                Ok(Linkers { marketplace, erp })
            }

            /// Pre-instantiates `component` if it exports a world of this contract; `None` if it
            /// exports neither.
            pub fn bind(&self, component: &Component, exports: &[String]) -> Result<Option<Bindings>, LoadError> {
                let link_err = |e: wasmtime::Error| LoadError::Link(format!("{e:#}"));
                if exports.iter().any(|e| e == MARKETPLACE_EXPORT) {
                    let pre = self.marketplace.instantiate_pre(component).map_err(link_err)?;
                    let pre = marketplace::MarketplacePre::new(pre).map_err(link_err)?;
                    Ok(Some(Bindings::Marketplace(Arc::new(pre))))
                } else if exports.iter().any(|e| e == ERP_EXPORT) {
                    let pre = self.erp.instantiate_pre(component).map_err(link_err)?;
                    let pre = erp::ErpPre::new(pre).map_err(link_err)?;
                    Ok(Some(Bindings::Erp(Arc::new(pre))))
                } else {
                    Ok(None)
                }
            }
        }

        impl Bindings {
            pub fn role(&self) -> m::Role {
                match self {
                    Bindings::Marketplace(_) => m::Role::Marketplace,
                    Bindings::Erp(_) => m::Role::Erp,
                }
            }

            pub fn contract(&self) -> &'static str {
                CONTRACT
            }

            /// Instantiates into `store` and runs `call`.
            pub async fn run(
                &self,
                store: &mut Store<CallState>,
                call: Call,
            ) -> Result<Result<Reply, m::ConnectorError>, Outcome> {
                match self {
                    Bindings::Marketplace(pre) => {
                        let instance = pre.instantiate_async(&mut *store).await?;
                        run_marketplace(instance.wharf_connector_marketplace_connector(), store, call).await
                    }
                    Bindings::Erp(pre) => {
                        let instance = pre.instantiate_async(&mut *store).await?;
                        run_erp(instance.wharf_connector_erp_connector(), store, call).await
                    }
                }
            }
        }

        type MarketplaceGuest = marketplace::exports::wharf::connector::marketplace_connector::Guest;
        type ErpGuest = erp::exports::wharf::connector::erp_connector::Guest;

        /// Converts a plugin's `result<T, connector-error>` into the model, checking the records.
        fn reply<T, U>(
            r: Result<T, w::ConnectorError>,
            ok: impl FnOnce(T) -> Result<U, String>,
            wrap: impl FnOnce(U) -> Reply,
        ) -> Result<Result<Reply, m::ConnectorError>, Outcome> {
            match r {
                Ok(v) => ok(v).map(|v| Ok(wrap(v))).map_err(Outcome::Contract),
                Err(e) => Ok(Err(e.into())),
            }
        }

        fn items(v: Vec<w::ItemResult>) -> Result<Vec<m::ItemResult>, String> {
            Ok(v.into_iter()
                .map(|r| match r {
                    Ok(ack) => m::ItemResult::Ok(m::PushAck { platform_ref: ack.platform_ref }),
                    Err(e) => m::ItemResult::Error(e.into()),
                })
                .collect())
        }

        /// The number of results must match the number of items pushed.
        fn same_len<T>(expected: usize, v: Vec<T>) -> Result<Vec<T>, String> {
            if v.len() == expected {
                Ok(v)
            } else {
                Err(format!("pushed {expected} items but the plugin answered {} results", v.len()))
            }
        }

        async fn run_marketplace(
            g: &MarketplaceGuest,
            store: &mut Store<CallState>,
            call: Call,
        ) -> Result<Result<Reply, m::ConnectorError>, Outcome> {
            macro_rules! push {
                ($d method:ident, $d input:expr) => {{
                    let input: Vec<_> = $d input.into_iter().map(Into::into).collect();
                    let n = input.len();
                    let r = g.$d method(&mut *store, &input).await?;
                    reply(r, |v| same_len(n, items(v)?), Reply::Items)
                }};
            }
            match call {
                Call::Describe => Ok(Ok(Reply::Descriptor(descriptor(g.call_describe(&mut *store).await?)))),
                Call::PullOrders { window, cursor } => {
                    let window = w::TimeWindow { from: window.from.millis(), to: window.to.millis() };
                    let r = g.call_pull_orders(&mut *store, window, cursor.as_deref()).await?;
                    reply(r, order_page, Reply::OrderPage)
                }
                Call::GetOrder { order_id } => {
                    let r = g.call_get_order(&mut *store, &order_id).await?;
                    reply(r, order, Reply::Order)
                }
                Call::PushStock(v) => push!(call_push_stock, v),
                Call::PushPrices(v) => push!(call_push_prices, v),
                Call::PushLots(v) => push!(call_push_lots, v),
                Call::PushListing(v) => push!(call_push_listing, v),
                Call::PushProducts(v) => push!(call_push_products, v),
                Call::PushCustomers(v) => push!(call_push_customers, v),
                Call::PushLogistics(v) => push!(call_push_logistics, v),
                Call::PushShipments(v) => push!(call_push_shipments, v),
                Call::PushErpStatus(v) => push!(call_push_erp_status, v),
                other => marketplace_since(g, store, other).await,
            }
        }

        async fn run_erp(
            g: &ErpGuest,
            store: &mut Store<CallState>,
            call: Call,
        ) -> Result<Result<Reply, m::ConnectorError>, Outcome> {
            macro_rules! pull {
                ($d method:ident, $d req:expr, $d reply:ident) => {{
                    let req: w::PullRequest = $d req.into();
                    let r = g.$d method(&mut *store, &req).await?;
                    reply(
                        r,
                        |p| {
                            let (items, rejected, next_cursor) = ErpPage::parts(p);
                            Ok(m::Page { items: items.into_iter().map(Into::into).collect(), rejected, next_cursor })
                        },
                        Reply::$d reply,
                    )
                }};
            }
            match call {
                Call::Describe => Ok(Ok(Reply::Descriptor(descriptor(g.call_describe(&mut *store).await?)))),
                Call::PushOrders(orders) => {
                    // An order this contract cannot carry (a status it does not have) is answered
                    // here and never reaches the plugin; the rest go, and the answers are put back
                    // in the order the host gave.
                    let mut slots: Vec<Option<m::OrderPushResult>> = Vec::with_capacity(orders.len());
                    let mut input: Vec<w::Order> = Vec::with_capacity(orders.len());
                    for o in orders {
                        match order_to(&o) {
                            Ok(converted) => {
                                input.push(converted);
                                slots.push(None);
                            }
                            Err(error) => slots.push(Some(m::OrderPushResult {
                                order_id: o.order_id,
                                outcome: m::OrderPushOutcome::Failed { error },
                            })),
                        }
                    }
                    let n = input.len();
                    let r = g.call_push_orders(&mut *store, &input).await?;
                    reply(
                        r,
                        |v| {
                            let mut answered = same_len(n, v)?.into_iter().map(|r| m::OrderPushResult {
                                order_id: r.order_id,
                                outcome: match r.outcome {
                                    w::OrderPushOutcome::Created(erp_ref) => m::OrderPushOutcome::Created { erp_ref },
                                    w::OrderPushOutcome::AlreadyExists(erp_ref) => m::OrderPushOutcome::AlreadyExists { erp_ref },
                                    w::OrderPushOutcome::Failed(e) => m::OrderPushOutcome::Failed { error: e.into() },
                                },
                            });
                            Ok(slots.into_iter().map(|slot| slot.or_else(|| answered.next())).collect::<Option<Vec<_>>>().unwrap_or_default())
                        },
                        Reply::OrderPushes,
                    )
                }
                Call::PullStock(r) => pull!(call_pull_stock, r, Stock),
                Call::PullPrices(r) => pull!(call_pull_prices, r, Prices),
                Call::PullLots(r) => pull!(call_pull_lots, r, Lots),
                Call::PullProducts(r) => pull!(call_pull_products, r, Products),
                Call::PullCustomers(r) => pull!(call_pull_customers, r, Customers),
                Call::PullLogistics(r) => pull!(call_pull_logistics, r, Logistics),
                Call::PullShipments(r) => pull!(call_pull_shipments, r, Shipments),
                Call::PullErpStatus(r) => pull!(call_pull_erp_status, r, ErpStatuses),
                other => erp_since(g, store, other).await,
            }
        }

        // ---------------------------------------------------------------------------------------------
        // Host side of the imports.

        impl w::Host for CallState {}

        impl w_http::Host for CallState {
            async fn send(
                &mut self,
                request: w_http::Request,
            ) -> wasmtime::Result<Result<w_http::Response, w_http::HttpError>> {
                let request = host_http::Request {
                    method: match request.method {
                        w_http::Method::Get => host_http::Method::Get,
                        w_http::Method::Post => host_http::Method::Post,
                        w_http::Method::Put => host_http::Method::Put,
                        w_http::Method::Patch => host_http::Method::Patch,
                        w_http::Method::Delete => host_http::Method::Delete,
                        w_http::Method::Head => host_http::Method::Head,
                    },
                    url: request.url,
                    headers: request.headers,
                    body: request.body,
                    timeout: request.timeout_ms.map(|ms| std::time::Duration::from_millis(ms.into())),
                };
                let time_left = self.time_left();
                let (limits, operation) = (&self.limits, self.operation.name());
                let (timeout, max_body) = (limits.http_timeout, limits.http_response_bytes);
                let send = self.http.send(&self.shop, operation, request, self.secret_hosts(), timeout, time_left, max_body);
                let result = tokio::time::timeout(time_left, send).await;
                self.check_deadline()?;
                let Ok(result) = result else { return Ok(Err(w_http::HttpError::Timeout)) };
                Ok(match result {
                    Ok(r) => Ok(w_http::Response { status: r.status, headers: r.headers, body: r.body }),
                    Err(e) => Err(match e {
                        host_http::HttpError::Denied(s) => w_http::HttpError::Denied(s),
                        host_http::HttpError::Timeout => w_http::HttpError::Timeout,
                        host_http::HttpError::TooLarge(n) => w_http::HttpError::TooLarge(n),
                        host_http::HttpError::RateLimited(ms) => w_http::HttpError::RateLimited(ms),
                        host_http::HttpError::Unreachable(s) => w_http::HttpError::Unreachable(s),
                        host_http::HttpError::InvalidRequest(s) => w_http::HttpError::InvalidRequest(s),
                        e @ host_http::HttpError::SecretNotForHost { .. } => w_http::HttpError::Denied(e.to_string()),
                        e @ (host_http::HttpError::Secret(_) | host_http::HttpError::HostOwnedHeader(_)) => {
                            w_http::HttpError::InvalidRequest(e.to_string())
                        }
                        e @ host_http::HttpError::Undecodable(_) => w_http::HttpError::Unreachable(e.to_string()),
                    }),
                })
            }
        }

        impl w_cred::Host for CallState {
            async fn sign(
                &mut self,
                request: w_cred::SignRequest,
            ) -> wasmtime::Result<Result<String, w_cred::CredentialError>> {
                let request = cred::SignRequest {
                    secret: request.secret,
                    digest: match request.digest {
                        w_cred::Digest::Md5 => cred::Digest::Md5,
                        w_cred::Digest::HmacMd5 => cred::Digest::HmacMd5,
                        w_cred::Digest::HmacSha256 => cred::Digest::HmacSha256,
                    },
                    wrap: request.wrap,
                    hex: match request.hex {
                        w_cred::HexCase::Uppercase => cred::HexCase::Upper,
                        w_cred::HexCase::Lowercase => cred::HexCase::Lower,
                    },
                    message: request.message,
                };
                // Hashing up to `MAX_FILLED_BYTES` is CPU work: a large message goes to the
                // blocking pool, cut at the deadline; charged to the call either way.
                let secrets = self.shop.secrets.clone();
                let bytes = request.message.len();
                let signing = super::cpu::host_work(bytes, move || secrets.sign(&request));
                let signed = tokio::time::timeout(self.time_left(), signing).await;
                self.check_deadline()?;
                let signed = match signed {
                    Ok(Ok(signed)) => signed,
                    Ok(Err(join)) => return Err(wasmtime::Error::msg(format!("signing failed in the host: {join}"))),
                    Err(_) => return Err(wasmtime::Error::new(super::state::DeadlineExceeded)),
                };
                Ok(signed.map_err(|e| match e {
                    cred::CredentialError::UnknownSecret(s) => w_cred::CredentialError::UnknownSecret(s),
                    other => w_cred::CredentialError::InvalidRequest(other.to_string()),
                }))
            }

            fn has_secret(&mut self, name: String) -> bool {
                self.shop.secrets.contains(&name)
            }
        }

        impl w_config::Host for CallState {
            fn get(&mut self, key: String) -> Option<String> {
                config::get(&self.shop, Some(&self.descriptor), &key)
            }

            fn shop_id(&mut self) -> String {
                self.shop.shop_id.clone()
            }
        }

        impl w_log::Host for CallState {
            fn log(&mut self, level: w_log::Level, message: String, fields: Vec<(String, String)>) {
                let level = match level {
                    w_log::Level::Trace => host_log::Level::Trace,
                    w_log::Level::Debug => host_log::Level::Debug,
                    w_log::Level::Info => host_log::Level::Info,
                    w_log::Level::Warn => host_log::Level::Warn,
                    w_log::Level::Error => host_log::Level::Error,
                };
                // What a plugin logs is scrubbed like what it receives: no secret in the logs.
                let secrets = &self.shop.secrets;
                let message = secrets.scrub_str(&message);
                let fields: Vec<(String, String)> =
                    fields.into_iter().map(|(k, v)| (secrets.scrub_str(&k), secrets.scrub_str(&v))).collect();
                if !host_log::emit(&self.shop, &self.descriptor.name, level, &message, &fields) {
                    self.log_dropped += 1;
                }
            }
        }

        // ---------------------------------------------------------------------------------------------
        // Conversions between this contract's types and the model.

        impl From<w::ConnectorError> for m::ConnectorError {
            fn from(e: w::ConnectorError) -> Self {
                match e {
                    w::ConnectorError::Auth(message) => m::ConnectorError::Auth { message },
                    w::ConnectorError::RateLimited(r) => {
                        m::ConnectorError::RateLimited { retry_after_ms: r.retry_after_ms, message: r.message }
                    }
                    w::ConnectorError::InvalidInput(f) => m::ConnectorError::InvalidInput { field: f.field, reason: f.reason },
                    w::ConnectorError::NotFound(message) => m::ConnectorError::NotFound { message },
                    w::ConnectorError::Unsupported(operation) => m::ConnectorError::Unsupported { operation },
                    w::ConnectorError::Platform(p) => m::ConnectorError::Platform { code: p.code, message: p.message },
                    w::ConnectorError::Transient(reason) => m::ConnectorError::Transient { reason },
                }
            }
        }

        fn descriptor(d: w::Descriptor) -> m::Descriptor {
            let batch_limits = batch_limits(&d);
            m::Descriptor {
                batch_limits,
                name: d.name,
                version: d.version,
                platform: d.platform,
                role: match d.role {
                    w::Role::Marketplace => m::Role::Marketplace,
                    w::Role::Erp => m::Role::Erp,
                },
                wit_version: d.wit_version,
                operations: d.operations.into_iter().map(operation).collect(),
                http_hosts: d.http_hosts,
                config_keys: d
                    .config_keys
                    .into_iter()
                    .map(|k| m::ConfigKey {
                        name: k.name,
                        description: k.description,
                        secret: k.secret,
                        required: k.required,
                        default_value: k.default_value,
                    })
                    .collect(),
            }
        }

        fn operation(o: w::Operation) -> m::Operation {
            use m::Operation as M;
            use w::Operation as W;
            match o {
                W::PullOrders => M::PullOrders,
                W::GetOrder => M::GetOrder,
                W::PushStock => M::PushStock,
                W::PushPrices => M::PushPrices,
                W::PushLots => M::PushLots,
                W::PushListing => M::PushListing,
                W::PushProducts => M::PushProducts,
                W::PushCustomers => M::PushCustomers,
                W::PushLogistics => M::PushLogistics,
                W::PushShipments => M::PushShipments,
                W::PushErpStatus => M::PushErpStatus,
                W::PushOrders => M::PushOrders,
                W::PullStock => M::PullStock,
                W::PullPrices => M::PullPrices,
                W::PullLots => M::PullLots,
                W::PullProducts => M::PullProducts,
                W::PullCustomers => M::PullCustomers,
                W::PullLogistics => M::PullLogistics,
                W::PullShipments => M::PullShipments,
                W::PullErpStatus => M::PullErpStatus,
                $(W::$added => M::$added,)*
            }
        }

        /// Checks what types alone cannot: no negative quantities of money where none can be.
        fn order(o: w::Order) -> Result<m::Order, String> {
            if o.lines.iter().any(|l| l.line_id.is_empty()) {
                return Err(format!("order {}: a line has an empty line_id", o.order_id));
            }
            Ok(m::Order {
                platform: o.platform,
                shop_id: o.shop_id,
                order_id: o.order_id,
                status: status_from(o.status),
                platform_status: o.platform_status,
                refund_status: refund_from(o.refund_status),
                created_at: m::Timestamp(o.created_at),
                paid_at: o.paid_at.map(m::Timestamp),
                updated_at: m::Timestamp(o.updated_at),
                currency: o.currency,
                goods_total: o.goods_total,
                shipping_fee: o.shipping_fee,
                discount_total: o.discount_total,
                paid_total: o.paid_total,
                buyer_id: o.buyer_id,
                buyer_nick: o.buyer_nick,
                buyer_message: o.buyer_message,
                seller_memo: o.seller_memo,
                receiver: o.receiver.map(|r| m::Receiver {
                    name: r.name,
                    phone: r.phone,
                    province: r.province,
                    city: r.city,
                    district: r.district,
                    town: r.town,
                    address: r.address,
                    postcode: r.postcode,
                    masked: r.masked,
                    privacy_ref: r.privacy_ref,
                }),
                invoice: o.invoice.map(|i| m::Invoice {
                    kind: match i.kind {
                        w::InvoiceKind::Paper => m::InvoiceKind::Paper,
                        w::InvoiceKind::Electronic => m::InvoiceKind::Electronic,
                        w::InvoiceKind::VatSpecial => m::InvoiceKind::VatSpecial,
                    },
                    title: i.title,
                    tax_id: i.tax_id,
                    bank: i.bank,
                    account: i.account,
                    address: i.address,
                    phone: i.phone,
                }),
                erp_customer_code: o.erp_customer_code,
                lines: o
                    .lines
                    .into_iter()
                    .map(|l| m::OrderLine {
                        line_id: l.line_id,
                        product_id: l.product_id,
                        sku_id: l.sku_id,
                        outer_product_id: l.outer_product_id,
                        outer_sku_id: l.outer_sku_id,
                        title: l.title,
                        sku_properties: l.sku_properties,
                        quantity: l.quantity,
                        unit_price: l.unit_price,
                        discount: l.discount,
                        line_total: l.line_total,
                        batch_no: l.batch_no,
                        refund_status: refund_from(l.refund_status),
                    })
                    .collect(),
            })
        }

        fn refund_from(r: w::RefundStatus) -> m::RefundStatus {
            match r {
                w::RefundStatus::None => m::RefundStatus::None,
                w::RefundStatus::Requested => m::RefundStatus::Requested,
                w::RefundStatus::Refunded => m::RefundStatus::Refunded,
            }
        }

        fn refund_to(r: m::RefundStatus) -> w::RefundStatus {
            match r {
                m::RefundStatus::None => w::RefundStatus::None,
                m::RefundStatus::Requested => w::RefundStatus::Requested,
                m::RefundStatus::Refunded => w::RefundStatus::Refunded,
            }
        }

        /// The order in this contract's types, or why this contract cannot carry it.
        fn order_to(o: &m::Order) -> Result<w::Order, m::ConnectorError> {
            let o = o.clone();
            Ok(w::Order {
                    platform: o.platform,
                    shop_id: o.shop_id,
                    order_id: o.order_id,
                    status: status_to(o.status)?,
                    platform_status: o.platform_status,
                    refund_status: refund_to(o.refund_status),
                    created_at: o.created_at.millis(),
                    paid_at: o.paid_at.map(m::Timestamp::millis),
                    updated_at: o.updated_at.millis(),
                    currency: o.currency,
                    goods_total: o.goods_total,
                    shipping_fee: o.shipping_fee,
                    discount_total: o.discount_total,
                    paid_total: o.paid_total,
                    buyer_id: o.buyer_id,
                    buyer_nick: o.buyer_nick,
                    buyer_message: o.buyer_message,
                    seller_memo: o.seller_memo,
                    receiver: o.receiver.map(|r| w::Receiver {
                        name: r.name,
                        phone: r.phone,
                        province: r.province,
                        city: r.city,
                        district: r.district,
                        town: r.town,
                        address: r.address,
                        postcode: r.postcode,
                        masked: r.masked,
                        privacy_ref: r.privacy_ref,
                    }),
                    invoice: o.invoice.map(|i| w::Invoice {
                        kind: match i.kind {
                            m::InvoiceKind::Paper => w::InvoiceKind::Paper,
                            m::InvoiceKind::Electronic => w::InvoiceKind::Electronic,
                            m::InvoiceKind::VatSpecial => w::InvoiceKind::VatSpecial,
                        },
                        title: i.title,
                        tax_id: i.tax_id,
                        bank: i.bank,
                        account: i.account,
                        address: i.address,
                        phone: i.phone,
                    }),
                    erp_customer_code: o.erp_customer_code,
                    lines: o
                        .lines
                        .into_iter()
                        .map(|l| w::OrderLine {
                            line_id: l.line_id,
                            product_id: l.product_id,
                            sku_id: l.sku_id,
                            outer_product_id: l.outer_product_id,
                            outer_sku_id: l.outer_sku_id,
                            title: l.title,
                            sku_properties: l.sku_properties,
                            quantity: l.quantity,
                            unit_price: l.unit_price,
                            discount: l.discount,
                            line_total: l.line_total,
                            batch_no: l.batch_no,
                            refund_status: refund_to(l.refund_status),
                        })
                        .collect(),
            })
        }

        impl From<m::StockUpdate> for w::StockUpdate {
            fn from(s: m::StockUpdate) -> Self {
                w::StockUpdate {
                    outer_sku_id: s.outer_sku_id,
                    product_id: s.product_id,
                    sku_id: s.sku_id,
                    quantity: s.quantity,
                    warehouse: s.warehouse,
                    version: s.version,
                }
            }
        }

        impl From<w::StockUpdate> for m::StockUpdate {
            fn from(s: w::StockUpdate) -> Self {
                m::StockUpdate {
                    outer_sku_id: s.outer_sku_id,
                    product_id: s.product_id,
                    sku_id: s.sku_id,
                    quantity: s.quantity,
                    warehouse: s.warehouse,
                    version: s.version,
                }
            }
        }

        impl From<m::PriceUpdate> for w::PriceUpdate {
            fn from(p: m::PriceUpdate) -> Self {
                w::PriceUpdate {
                    outer_sku_id: p.outer_sku_id,
                    product_id: p.product_id,
                    sku_id: p.sku_id,
                    currency: p.currency,
                    prices: p
                        .prices
                        .into_iter()
                        .map(|p| w::Price {
                            kind: match p.kind {
                                m::PriceKind::Default => w::PriceKind::Default,
                                m::PriceKind::SuggestedRetail => w::PriceKind::SuggestedRetail,
                                m::PriceKind::RegionGroup { group_id } => w::PriceKind::RegionGroup(group_id),
                                m::PriceKind::CustomerGroup { group_id } => w::PriceKind::CustomerGroup(group_id),
                            },
                            amount: p.amount,
                        })
                        .collect(),
                }
            }
        }

        impl From<w::PriceUpdate> for m::PriceUpdate {
            fn from(p: w::PriceUpdate) -> Self {
                m::PriceUpdate {
                    outer_sku_id: p.outer_sku_id,
                    product_id: p.product_id,
                    sku_id: p.sku_id,
                    currency: p.currency,
                    prices: p
                        .prices
                        .into_iter()
                        .map(|p| m::Price {
                            kind: match p.kind {
                                w::PriceKind::Default => m::PriceKind::Default,
                                w::PriceKind::SuggestedRetail => m::PriceKind::SuggestedRetail,
                                w::PriceKind::RegionGroup(group_id) => m::PriceKind::RegionGroup { group_id },
                                w::PriceKind::CustomerGroup(group_id) => m::PriceKind::CustomerGroup { group_id },
                            },
                            amount: p.amount,
                        })
                        .collect(),
                }
            }
        }

        fn lot_to(l: m::Lot) -> w::Lot {
            w::Lot { batch_no: l.batch_no, produced_on: l.produced_on, expires_on: l.expires_on, quantity: l.quantity }
        }

        fn lot_from(l: w::Lot) -> m::Lot {
            m::Lot { batch_no: l.batch_no, produced_on: l.produced_on, expires_on: l.expires_on, quantity: l.quantity }
        }

        impl From<m::LotSync> for w::LotSync {
            fn from(l: m::LotSync) -> Self {
                w::LotSync {
                    outer_sku_id: l.outer_sku_id,
                    product_id: l.product_id,
                    sku_id: l.sku_id,
                    lots: l.lots.into_iter().map(lot_to).collect(),
                }
            }
        }

        impl From<w::LotSync> for m::LotSync {
            fn from(l: w::LotSync) -> Self {
                m::LotSync {
                    outer_sku_id: l.outer_sku_id,
                    product_id: l.product_id,
                    sku_id: l.sku_id,
                    lots: l.lots.into_iter().map(lot_from).collect(),
                }
            }
        }

        impl From<m::ListingChange> for w::ListingChange {
            fn from(l: m::ListingChange) -> Self {
                w::ListingChange { outer_sku_id: l.outer_sku_id, product_id: l.product_id, listed: l.listed }
            }
        }

        impl From<m::Product> for w::Product {
            fn from(p: m::Product) -> Self {
                w::Product {
                    erp_product_id: p.erp_product_id,
                    title: p.title,
                    barcode: p.barcode,
                    approval_no: p.approval_no,
                    spec: p.spec,
                    manufacturer: p.manufacturer,
                    base_product_id: p.base_product_id,
                    category: p.category,
                    default_price: p.default_price,
                    suggested_retail_price: p.suggested_retail_price,
                    stock: p.stock,
                    list_when_in_stock: p.list_when_in_stock,
                }
            }
        }

        impl From<w::Product> for m::Product {
            fn from(p: w::Product) -> Self {
                m::Product {
                    erp_product_id: p.erp_product_id,
                    title: p.title,
                    barcode: p.barcode,
                    approval_no: p.approval_no,
                    spec: p.spec,
                    manufacturer: p.manufacturer,
                    base_product_id: p.base_product_id,
                    category: p.category,
                    default_price: p.default_price,
                    suggested_retail_price: p.suggested_retail_price,
                    stock: p.stock,
                    list_when_in_stock: p.list_when_in_stock,
                }
            }
        }

        impl From<m::CustomerMapping> for w::CustomerMapping {
            fn from(c: m::CustomerMapping) -> Self {
                w::CustomerMapping {
                    erp_customer_code: c.erp_customer_code,
                    name: c.name,
                    credit_code: c.credit_code,
                    platform_customer_id: c.platform_customer_id,
                }
            }
        }

        impl From<w::CustomerMapping> for m::CustomerMapping {
            fn from(c: w::CustomerMapping) -> Self {
                m::CustomerMapping {
                    erp_customer_code: c.erp_customer_code,
                    name: c.name,
                    credit_code: c.credit_code,
                    platform_customer_id: c.platform_customer_id,
                }
            }
        }

        impl From<m::Logistics> for w::Logistics {
            fn from(l: m::Logistics) -> Self {
                w::Logistics {
                    order_id: l.order_id,
                    carrier_code: l.carrier_code,
                    tracking_no: l.tracking_no,
                    shipped_at: l.shipped_at.millis(),
                }
            }
        }

        impl From<w::Logistics> for m::Logistics {
            fn from(l: w::Logistics) -> Self {
                m::Logistics {
                    order_id: l.order_id,
                    carrier_code: l.carrier_code,
                    tracking_no: l.tracking_no,
                    shipped_at: m::Timestamp(l.shipped_at),
                }
            }
        }

        impl From<m::ShipmentDetail> for w::ShipmentDetail {
            fn from(s: m::ShipmentDetail) -> Self {
                w::ShipmentDetail {
                    order_id: s.order_id,
                    lines: s
                        .lines
                        .into_iter()
                        .map(|l| w::ShipmentLine {
                            outer_sku_id: l.outer_sku_id,
                            quantity: l.quantity,
                            batch_no: l.batch_no,
                            produced_on: l.produced_on,
                            expires_on: l.expires_on,
                        })
                        .collect(),
                }
            }
        }

        impl From<w::ShipmentDetail> for m::ShipmentDetail {
            fn from(s: w::ShipmentDetail) -> Self {
                m::ShipmentDetail {
                    order_id: s.order_id,
                    lines: s
                        .lines
                        .into_iter()
                        .map(|l| m::ShipmentLine {
                            outer_sku_id: l.outer_sku_id,
                            quantity: l.quantity,
                            batch_no: l.batch_no,
                            produced_on: l.produced_on,
                            expires_on: l.expires_on,
                        })
                        .collect(),
                }
            }
        }

        fn erp_status_code_to(c: m::ErpStatusCode) -> w::ErpStatusCode {
            match c {
                m::ErpStatusCode::Accepted => w::ErpStatusCode::Accepted,
                m::ErpStatusCode::Picking => w::ErpStatusCode::Picking,
                m::ErpStatusCode::Packed => w::ErpStatusCode::Packed,
                m::ErpStatusCode::OutOfStock => w::ErpStatusCode::OutOfStock,
                m::ErpStatusCode::Shipped => w::ErpStatusCode::Shipped,
                m::ErpStatusCode::Signed => w::ErpStatusCode::Signed,
                m::ErpStatusCode::Cancelled => w::ErpStatusCode::Cancelled,
            }
        }

        fn erp_status_code_from(c: w::ErpStatusCode) -> m::ErpStatusCode {
            match c {
                w::ErpStatusCode::Accepted => m::ErpStatusCode::Accepted,
                w::ErpStatusCode::Picking => m::ErpStatusCode::Picking,
                w::ErpStatusCode::Packed => m::ErpStatusCode::Packed,
                w::ErpStatusCode::OutOfStock => m::ErpStatusCode::OutOfStock,
                w::ErpStatusCode::Shipped => m::ErpStatusCode::Shipped,
                w::ErpStatusCode::Signed => m::ErpStatusCode::Signed,
                w::ErpStatusCode::Cancelled => m::ErpStatusCode::Cancelled,
            }
        }

        impl From<m::ErpStatus> for w::ErpStatus {
            fn from(s: m::ErpStatus) -> Self {
                w::ErpStatus { order_id: s.order_id, erp_status: erp_status_code_to(s.erp_status), at: s.at.millis(), note: s.note }
            }
        }

        impl From<w::ErpStatus> for m::ErpStatus {
            fn from(s: w::ErpStatus) -> Self {
                m::ErpStatus { order_id: s.order_id, erp_status: erp_status_code_from(s.erp_status), at: m::Timestamp(s.at), note: s.note }
            }
        }

        impl From<m::PullRequest> for w::PullRequest {
            fn from(r: m::PullRequest) -> Self {
                w::PullRequest {
                    window: r.window.map(|w| w::TimeWindow { from: w.from.millis(), to: w.to.millis() }),
                    cursor: r.cursor,
                }
            }
        }
    };
}

/// What a version that added no operations expands beside [`contract!`]: a descriptor without
/// batch limits, and every call past the shared ones answered [`not_in_this_contract`].
macro_rules! no_newer_operations {
    () => {
        fn batch_limits(_: &w::Descriptor) -> Vec<m::BatchLimit> {
            Vec::new()
        }

        async fn marketplace_since(
            _: &MarketplaceGuest,
            _: &mut Store<CallState>,
            call: Call,
        ) -> Result<Result<Reply, m::ConnectorError>, Outcome> {
            super::contract::not_in_this_contract(&call, m::Role::Marketplace, CONTRACT)
        }

        async fn erp_since(
            _: &ErpGuest,
            _: &mut Store<CallState>,
            call: Call,
        ) -> Result<Result<Reply, m::ConnectorError>, Outcome> {
            super::contract::not_in_this_contract(&call, m::Role::Erp, CONTRACT)
        }
    };
}

/// The order conversions and ERP pages of 0.2.0 and later (status `held`, `rejected` records
/// in pages), expanded in each of those versions' modules.
macro_rules! since_v0_2_0 {
    ($d:tt) => {
        fn status_from(s: w::OrderStatus) -> m::OrderStatus {
            match s {
                w::OrderStatus::Unpaid => m::OrderStatus::Unpaid,
                w::OrderStatus::Paid => m::OrderStatus::Paid,
                w::OrderStatus::Held => m::OrderStatus::Held,
                w::OrderStatus::PartiallyShipped => m::OrderStatus::PartiallyShipped,
                w::OrderStatus::Shipped => m::OrderStatus::Shipped,
                w::OrderStatus::Completed => m::OrderStatus::Completed,
                w::OrderStatus::Cancelled => m::OrderStatus::Cancelled,
                w::OrderStatus::Closed => m::OrderStatus::Closed,
            }
        }

        fn status_to(s: m::OrderStatus) -> Result<w::OrderStatus, m::ConnectorError> {
            Ok(match s {
                m::OrderStatus::Unpaid => w::OrderStatus::Unpaid,
                m::OrderStatus::Paid => w::OrderStatus::Paid,
                m::OrderStatus::Held => w::OrderStatus::Held,
                m::OrderStatus::PartiallyShipped => w::OrderStatus::PartiallyShipped,
                m::OrderStatus::Shipped => w::OrderStatus::Shipped,
                m::OrderStatus::Completed => w::OrderStatus::Completed,
                m::OrderStatus::Cancelled => w::OrderStatus::Cancelled,
                m::OrderStatus::Closed => w::OrderStatus::Closed,
            })
        }

        fn rejected(r: w::Rejected) -> m::Rejected {
            m::Rejected { id: r.id, field: r.field, reason: r.reason, excerpt: r.excerpt }
        }

        fn order_page(p: w::OrderPage) -> Result<m::OrderPage, String> {
            let orders = p.orders.into_iter().map(order).collect::<Result<_, _>>()?;
            Ok(m::OrderPage { orders, rejected: p.rejected.into_iter().map(rejected).collect(), next_cursor: p.next_cursor })
        }

        /// An ERP page's items, rejected records and cursor.
        trait ErpPage {
            type Item;
            fn parts(self) -> (Vec<Self::Item>, Vec<m::Rejected>, Option<String>);
        }

        macro_rules! erp_pages {
            ($d($d page:ident => $d item:ident),* $d(,)?) => {$d(
                impl ErpPage for w::$d page {
                    type Item = w::$d item;
                    fn parts(self) -> (Vec<w::$d item>, Vec<m::Rejected>, Option<String>) {
                        (self.items, self.rejected.into_iter().map(rejected).collect(), self.next_cursor)
                    }
                }
            )*};
        }

        erp_pages!(
            StockPage => StockUpdate, PricePage => PriceUpdate, LotPage => LotSync, ProductPage => Product,
            CustomerPage => CustomerMapping, LogisticsPage => Logistics, ShipmentPage => ShipmentDetail,
            ErpStatusPage => ErpStatus,
        );
    };
}

/// A call this contract version has no export for: `unsupported` when it is of the plugin's
/// world (a later version added it; the plugin's descriptor cannot list it, so the host only
/// gets here by a direct call), a contract error when it is of the other world.
pub(super) fn not_in_this_contract(
    call: &super::Call,
    role: crate::model::Role,
    contract: &str,
) -> Result<Result<super::Reply, crate::model::ConnectorError>, super::Outcome> {
    let operation = call.operation();
    if operation.role() == Some(role) {
        Ok(Err(crate::model::ConnectorError::Unsupported {
            operation: format!("{operation}: not in contract {contract}; the plugin needs a newer build"),
        }))
    } else {
        let world = match role {
            crate::model::Role::Marketplace => "a marketplace",
            crate::model::Role::Erp => "an ERP",
        };
        Err(super::Outcome::Contract(format!("`{operation}` is not {world} operation")))
    }
}

/// What 0.3.0 added (after-sales and the merchant's answers, receivers decrypted for waybills,
/// invoices, batch limits), expanded in 0.3.0 and every later version's module: the calls it
/// added (`batch_limits`, `marketplace_since`, `erp_since`) and their conversions.
macro_rules! since_v0_3_0 {
    () => {
        type CallResult = Result<Result<Reply, m::ConnectorError>, Outcome>;

        fn batch_limits(d: &w::Descriptor) -> Vec<m::BatchLimit> {
            d.batch_limits
                .iter()
                .map(|l| m::BatchLimit { operation: operation(l.operation), max_items: l.max_items })
                .collect()
        }

        async fn marketplace_since(g: &MarketplaceGuest, store: &mut Store<CallState>, call: Call) -> CallResult {
            match call {
                Call::PullAfterSales { window, cursor } => {
                    let window = w::TimeWindow { from: window.from.millis(), to: window.to.millis() };
                    let r = g.call_pull_after_sales(&mut *store, window, cursor.as_deref()).await?;
                    reply(r, after_sale_page, Reply::AfterSales)
                }
                Call::GetAfterSale { after_sale_id } => {
                    let r = g.call_get_after_sale(&mut *store, &after_sale_id).await?;
                    reply(r, after_sale, Reply::AfterSale)
                }
                Call::PushAfterSaleActions(actions) => {
                    let input: Vec<w::AfterSaleAction> = actions.iter().map(action_to).collect();
                    let r = g.call_push_after_sale_actions(&mut *store, &input).await?;
                    reply(r, |v| same_len(input.len(), items(v)?), Reply::Items)
                }
                Call::DecryptReceivers { purpose, refs } => {
                    let purpose = match purpose {
                        m::DecryptPurpose::Waybill => w::DecryptPurpose::Waybill,
                        m::DecryptPurpose::Delivery => w::DecryptPurpose::Delivery,
                        m::DecryptPurpose::AfterSale => w::DecryptPurpose::AfterSale,
                    };
                    let input: Vec<w::ReceiverRef> = refs
                        .iter()
                        .map(|r| w::ReceiverRef { order_id: r.order_id.clone(), privacy_ref: r.privacy_ref.clone() })
                        .collect();
                    let r = g.call_decrypt_receivers(&mut *store, purpose, &input).await?;
                    reply(
                        r,
                        |v| {
                            let v = same_len(refs.len(), v)?;
                            refs.iter()
                                .zip(v)
                                .map(|(asked, answer)| match answer {
                                    Ok(p) if p.order_id != asked.order_id => Err(format!(
                                        "decrypt-receivers: asked for order {} and was answered for order {}",
                                        asked.order_id, p.order_id
                                    )),
                                    Ok(p) => Ok(Ok(plain_receiver(p))),
                                    Err(e) => Ok(Err(e.into())),
                                })
                                .collect()
                        },
                        Reply::Decrypted,
                    )
                }
                Call::PushInvoices(invoices) => {
                    let input: Vec<w::InvoiceUpload> = invoices.iter().map(invoice_to).collect();
                    let r = g.call_push_invoices(&mut *store, &input).await?;
                    reply(r, |v| same_len(input.len(), items(v)?), Reply::Items)
                }
                other => super::contract::not_in_this_contract(&other, m::Role::Marketplace, CONTRACT),
            }
        }

        async fn erp_since(g: &ErpGuest, store: &mut Store<CallState>, call: Call) -> CallResult {
            match call {
                Call::PushAfterSales(after_sales) => {
                    let input: Vec<w::AfterSale> = after_sales.iter().map(after_sale_to).collect();
                    let r = g.call_push_after_sales(&mut *store, &input).await?;
                    reply(
                        r,
                        |v| {
                            Ok(same_len(input.len(), v)?
                                .into_iter()
                                .map(|r| m::OrderPushResult {
                                    order_id: r.order_id,
                                    outcome: match r.outcome {
                                        w::OrderPushOutcome::Created(erp_ref) => {
                                            m::OrderPushOutcome::Created { erp_ref }
                                        }
                                        w::OrderPushOutcome::AlreadyExists(erp_ref) => {
                                            m::OrderPushOutcome::AlreadyExists { erp_ref }
                                        }
                                        w::OrderPushOutcome::Failed(e) => {
                                            m::OrderPushOutcome::Failed { error: e.into() }
                                        }
                                    },
                                })
                                .collect())
                        },
                        Reply::OrderPushes,
                    )
                }
                Call::PullInvoices(request) => {
                    let request: w::PullRequest = request.into();
                    let r = g.call_pull_invoices(&mut *store, &request).await?;
                    reply(
                        r,
                        |p| {
                            Ok(m::Page {
                                items: p.items.into_iter().map(invoice_from).collect(),
                                rejected: p.rejected.into_iter().map(rejected).collect(),
                                next_cursor: p.next_cursor,
                            })
                        },
                        Reply::Invoices,
                    )
                }
                other => super::contract::not_in_this_contract(&other, m::Role::Erp, CONTRACT),
            }
        }

        fn kind_from(k: w::AfterSaleKind) -> m::AfterSaleKind {
            use m::AfterSaleKind as M;
            use w::AfterSaleKind as W;
            match k {
                W::RefundBeforeShipping => M::RefundBeforeShipping,
                W::RefundAfterShipping => M::RefundAfterShipping,
                W::ReturnAndRefund => M::ReturnAndRefund,
                W::Exchange => M::Exchange,
                W::Reissue => M::Reissue,
                W::PriceProtection => M::PriceProtection,
                W::Repair => M::Repair,
            }
        }

        fn kind_to(k: m::AfterSaleKind) -> w::AfterSaleKind {
            use m::AfterSaleKind as M;
            use w::AfterSaleKind as W;
            match k {
                M::RefundBeforeShipping => W::RefundBeforeShipping,
                M::RefundAfterShipping => W::RefundAfterShipping,
                M::ReturnAndRefund => W::ReturnAndRefund,
                M::Exchange => W::Exchange,
                M::Reissue => W::Reissue,
                M::PriceProtection => W::PriceProtection,
                M::Repair => W::Repair,
            }
        }

        fn after_sale_status_from(s: w::AfterSaleStatus) -> m::AfterSaleStatus {
            use m::AfterSaleStatus as M;
            use w::AfterSaleStatus as W;
            match s {
                W::Requested => M::Requested,
                W::Agreed => M::Agreed,
                W::AwaitingReturn => M::AwaitingReturn,
                W::Returned => M::Returned,
                W::Refunded => M::Refunded,
                W::Refused => M::Refused,
                W::Closed => M::Closed,
            }
        }

        fn after_sale_status_to(s: m::AfterSaleStatus) -> w::AfterSaleStatus {
            use m::AfterSaleStatus as M;
            use w::AfterSaleStatus as W;
            match s {
                M::Requested => W::Requested,
                M::Agreed => W::Agreed,
                M::AwaitingReturn => W::AwaitingReturn,
                M::Returned => W::Returned,
                M::Refunded => W::Refunded,
                M::Refused => W::Refused,
                M::Closed => W::Closed,
            }
        }

        /// Lifted as it came; the boundary checks it (`boundary::Checked`), so one bad after-sale goes
        /// to its page's `rejected` instead of failing the call.
        fn after_sale(a: w::AfterSale) -> Result<m::AfterSale, String> {
            Ok(m::AfterSale {
                platform: a.platform,
                shop_id: a.shop_id,
                after_sale_id: a.after_sale_id,
                order_id: a.order_id,
                lines: a
                    .lines
                    .into_iter()
                    .map(|l| m::AfterSaleLine {
                        line_id: l.line_id,
                        outer_sku_id: l.outer_sku_id,
                        quantity: l.quantity,
                    })
                    .collect(),
                kind: kind_from(a.kind),
                status: after_sale_status_from(a.status),
                platform_status: a.platform_status,
                currency: a.currency,
                refund_amount: a.refund_amount,
                shipping_refund: a.shipping_refund,
                reason: a.reason,
                return_waybill: a
                    .return_waybill
                    .map(|r| m::ReturnWaybill { carrier: r.carrier, tracking_no: r.tracking_no }),
                created_at: m::Timestamp(a.created_at),
                updated_at: m::Timestamp(a.updated_at),
                refund_version: a.refund_version,
            })
        }

        fn after_sale_page(p: w::AfterSalePage) -> Result<m::Page<m::AfterSale>, String> {
            Ok(m::Page {
                items: p.items.into_iter().map(after_sale).collect::<Result<_, _>>()?,
                rejected: p.rejected.into_iter().map(rejected).collect(),
                next_cursor: p.next_cursor,
            })
        }

        fn after_sale_to(a: &m::AfterSale) -> w::AfterSale {
            w::AfterSale {
                platform: a.platform.clone(),
                shop_id: a.shop_id.clone(),
                after_sale_id: a.after_sale_id.clone(),
                order_id: a.order_id.clone(),
                lines: a
                    .lines
                    .iter()
                    .map(|l| w::AfterSaleLine {
                        line_id: l.line_id.clone(),
                        outer_sku_id: l.outer_sku_id.clone(),
                        quantity: l.quantity,
                    })
                    .collect(),
                kind: kind_to(a.kind),
                status: after_sale_status_to(a.status),
                platform_status: a.platform_status.clone(),
                currency: a.currency.clone(),
                refund_amount: a.refund_amount,
                shipping_refund: a.shipping_refund,
                reason: a.reason.clone(),
                return_waybill: a
                    .return_waybill
                    .as_ref()
                    .map(|r| w::ReturnWaybill { carrier: r.carrier.clone(), tracking_no: r.tracking_no.clone() }),
                created_at: a.created_at.millis(),
                updated_at: a.updated_at.millis(),
                refund_version: a.refund_version,
            }
        }

        fn action_to(a: &m::AfterSaleAction) -> w::AfterSaleAction {
            use m::AfterSaleDecision as M;
            use w::AfterSaleDecision as W;
            w::AfterSaleAction {
                after_sale_id: a.after_sale_id.clone(),
                order_id: a.order_id.clone(),
                decision: match a.decision {
                    M::AgreeRefund => W::AgreeRefund,
                    M::RefuseRefund => W::RefuseRefund,
                    M::AgreeReturn => W::AgreeReturn,
                    M::RefuseReturn => W::RefuseReturn,
                    M::ConfirmReturned => W::ConfirmReturned,
                },
                reason: a.reason.clone(),
                refund_version: a.refund_version,
            }
        }

        fn plain_receiver(p: w::PlainReceiver) -> m::PlainReceiver {
            m::PlainReceiver {
                order_id: p.order_id,
                name: p.name,
                phone: p.phone,
                phone_extension: p.phone_extension,
                province: p.province,
                city: p.city,
                district: p.district,
                town: p.town,
                address: p.address,
            }
        }

        fn invoice_kind_to(k: m::InvoiceKind) -> w::InvoiceKind {
            match k {
                m::InvoiceKind::Paper => w::InvoiceKind::Paper,
                m::InvoiceKind::Electronic => w::InvoiceKind::Electronic,
                m::InvoiceKind::VatSpecial => w::InvoiceKind::VatSpecial,
            }
        }

        fn invoice_to(i: &m::InvoiceUpload) -> w::InvoiceUpload {
            w::InvoiceUpload {
                order_id: i.order_id.clone(),
                kind: invoice_kind_to(i.kind),
                title: i.title.clone(),
                tax_id: i.tax_id.clone(),
                invoice_no: i.invoice_no.clone(),
                invoice_code: i.invoice_code.clone(),
                amount: i.amount,
                issued_at: i.issued_at.millis(),
                file_url: i.file_url.clone(),
                file_type: i.file_type.map(|t| match t {
                    m::InvoiceFileType::Pdf => w::InvoiceFileType::Pdf,
                    m::InvoiceFileType::Ofd => w::InvoiceFileType::Ofd,
                }),
            }
        }

        fn invoice_from(i: w::InvoiceUpload) -> m::InvoiceUpload {
            m::InvoiceUpload {
                order_id: i.order_id,
                kind: match i.kind {
                    w::InvoiceKind::Paper => m::InvoiceKind::Paper,
                    w::InvoiceKind::Electronic => m::InvoiceKind::Electronic,
                    w::InvoiceKind::VatSpecial => m::InvoiceKind::VatSpecial,
                },
                title: i.title,
                tax_id: i.tax_id,
                invoice_no: i.invoice_no,
                invoice_code: i.invoice_code,
                amount: i.amount,
                issued_at: m::Timestamp(i.issued_at),
                file_url: i.file_url,
                file_type: i.file_type.map(|t| match t {
                    w::InvoiceFileType::Pdf => m::InvoiceFileType::Pdf,
                    w::InvoiceFileType::Ofd => m::InvoiceFileType::Ofd,
                }),
            }
        }
    };
}

pub(super) use {contract, no_newer_operations, since_v0_2_0, since_v0_3_0};
