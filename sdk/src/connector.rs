//! Writing a plugin without the operations it does not implement.
//!
//! The generated [`Guest`] trait asks for every operation of the contract. A plugin that
//! implements [`Marketplace`] instead writes only what it supports: every other operation
//! answers `unsupported(<operation>)`, as the contract requires of operations a plugin does
//! not implement, and the blanket impl below makes it a [`Guest`] for
//! [`export_marketplace!`](crate::export_marketplace).
//!
//! ```ignore
//! struct Douyin;
//! impl wharf_sdk::connector::Marketplace for Douyin {
//!     fn describe() -> Descriptor { ... }
//!     fn pull_orders(window: TimeWindow, cursor: Option<String>) -> Result<OrderPage, ConnectorError> { ... }
//! }
//! wharf_sdk::export_marketplace!(Douyin);
//! ```

use crate::erp::Guest as ErpGuest;
use crate::marketplace::Guest;
use crate::types::{
    AfterSale, AfterSaleAction, AfterSalePage, ConnectorError, CustomerMapping, CustomerPage, DecryptPurpose,
    DecryptResult, Descriptor, ErpStatus, ErpStatusPage, InvoicePage, InvoiceUpload, ItemResult, ListingChange,
    Logistics, LogisticsPage, LotPage, LotSync, Operation, Order, OrderPage, OrderPushResult, PricePage, PriceUpdate,
    Product, ProductPage, PullRequest, ReceiverRef, ShipmentDetail, ShipmentPage, StockPage, StockUpdate, TimeWindow,
};

type Pushed = Result<Vec<ItemResult>, ConnectorError>;

/// The contract version these bindings implement: a plugin's descriptor `wit-version`.
pub const WIT_VERSION: &str = "0.4.0";

/// A marketplace plugin; every operation but [`Marketplace::describe`] defaults to
/// `unsupported`. List the ones implemented in the descriptor's `operations`.
pub trait Marketplace {
    fn describe() -> Descriptor;

    fn pull_orders(_window: TimeWindow, _cursor: Option<String>) -> Result<OrderPage, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::PullOrders))
    }
    fn get_order(_order_id: String) -> Result<Order, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::GetOrder))
    }
    fn push_stock(_updates: Vec<StockUpdate>) -> Pushed {
        Err(ConnectorError::unsupported(Operation::PushStock))
    }
    fn push_prices(_updates: Vec<PriceUpdate>) -> Pushed {
        Err(ConnectorError::unsupported(Operation::PushPrices))
    }
    fn push_lots(_updates: Vec<LotSync>) -> Pushed {
        Err(ConnectorError::unsupported(Operation::PushLots))
    }
    fn push_listing(_changes: Vec<ListingChange>) -> Pushed {
        Err(ConnectorError::unsupported(Operation::PushListing))
    }
    fn push_products(_products: Vec<Product>) -> Pushed {
        Err(ConnectorError::unsupported(Operation::PushProducts))
    }
    fn push_customers(_mappings: Vec<CustomerMapping>) -> Pushed {
        Err(ConnectorError::unsupported(Operation::PushCustomers))
    }
    fn push_logistics(_updates: Vec<Logistics>) -> Pushed {
        Err(ConnectorError::unsupported(Operation::PushLogistics))
    }
    fn push_shipments(_details: Vec<ShipmentDetail>) -> Pushed {
        Err(ConnectorError::unsupported(Operation::PushShipments))
    }
    fn push_erp_status(_updates: Vec<ErpStatus>) -> Pushed {
        Err(ConnectorError::unsupported(Operation::PushErpStatus))
    }
    fn pull_after_sales(_window: TimeWindow, _cursor: Option<String>) -> Result<AfterSalePage, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::PullAfterSales))
    }
    fn get_after_sale(_after_sale_id: String) -> Result<AfterSale, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::GetAfterSale))
    }
    fn push_after_sale_actions(_actions: Vec<AfterSaleAction>) -> Pushed {
        Err(ConnectorError::unsupported(Operation::PushAfterSaleActions))
    }
    fn decrypt_receivers(
        _purpose: DecryptPurpose,
        _refs: Vec<ReceiverRef>,
    ) -> Result<Vec<DecryptResult>, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::DecryptReceivers))
    }
    fn push_invoices(_invoices: Vec<InvoiceUpload>) -> Pushed {
        Err(ConnectorError::unsupported(Operation::PushInvoices))
    }
}

impl<T: Marketplace> Guest for T {
    fn describe() -> Descriptor {
        T::describe()
    }
    fn pull_orders(window: TimeWindow, cursor: Option<String>) -> Result<OrderPage, ConnectorError> {
        T::pull_orders(window, cursor)
    }
    fn get_order(order_id: String) -> Result<Order, ConnectorError> {
        T::get_order(order_id)
    }
    fn push_stock(updates: Vec<StockUpdate>) -> Pushed {
        T::push_stock(updates)
    }
    fn push_prices(updates: Vec<PriceUpdate>) -> Pushed {
        T::push_prices(updates)
    }
    fn push_lots(updates: Vec<LotSync>) -> Pushed {
        T::push_lots(updates)
    }
    fn push_listing(changes: Vec<ListingChange>) -> Pushed {
        T::push_listing(changes)
    }
    fn push_products(products: Vec<Product>) -> Pushed {
        T::push_products(products)
    }
    fn push_customers(mappings: Vec<CustomerMapping>) -> Pushed {
        T::push_customers(mappings)
    }
    fn push_logistics(updates: Vec<Logistics>) -> Pushed {
        T::push_logistics(updates)
    }
    fn push_shipments(details: Vec<ShipmentDetail>) -> Pushed {
        T::push_shipments(details)
    }
    fn push_erp_status(updates: Vec<ErpStatus>) -> Pushed {
        T::push_erp_status(updates)
    }
    fn pull_after_sales(window: TimeWindow, cursor: Option<String>) -> Result<AfterSalePage, ConnectorError> {
        T::pull_after_sales(window, cursor)
    }
    fn get_after_sale(after_sale_id: String) -> Result<AfterSale, ConnectorError> {
        T::get_after_sale(after_sale_id)
    }
    fn push_after_sale_actions(actions: Vec<AfterSaleAction>) -> Pushed {
        T::push_after_sale_actions(actions)
    }
    fn decrypt_receivers(
        purpose: DecryptPurpose,
        refs: Vec<ReceiverRef>,
    ) -> Result<Vec<DecryptResult>, ConnectorError> {
        T::decrypt_receivers(purpose, refs)
    }
    fn push_invoices(invoices: Vec<InvoiceUpload>) -> Pushed {
        T::push_invoices(invoices)
    }
}

/// An ERP plugin; every operation but [`Erp::describe`] defaults to `unsupported`, as for
/// [`Marketplace`].
pub trait Erp {
    fn describe() -> Descriptor;

    fn push_orders(_orders: Vec<Order>) -> Result<Vec<OrderPushResult>, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::PushOrders))
    }
    fn pull_stock(_request: PullRequest) -> Result<StockPage, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::PullStock))
    }
    fn pull_prices(_request: PullRequest) -> Result<PricePage, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::PullPrices))
    }
    fn pull_lots(_request: PullRequest) -> Result<LotPage, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::PullLots))
    }
    fn pull_products(_request: PullRequest) -> Result<ProductPage, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::PullProducts))
    }
    fn pull_customers(_request: PullRequest) -> Result<CustomerPage, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::PullCustomers))
    }
    fn pull_logistics(_request: PullRequest) -> Result<LogisticsPage, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::PullLogistics))
    }
    fn pull_shipments(_request: PullRequest) -> Result<ShipmentPage, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::PullShipments))
    }
    fn pull_erp_status(_request: PullRequest) -> Result<ErpStatusPage, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::PullErpStatus))
    }
    fn push_after_sales(_after_sales: Vec<AfterSale>) -> Result<Vec<OrderPushResult>, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::PushAfterSales))
    }
    fn pull_invoices(_request: PullRequest) -> Result<InvoicePage, ConnectorError> {
        Err(ConnectorError::unsupported(Operation::PullInvoices))
    }
}

impl<T: Erp> ErpGuest for T {
    fn describe() -> Descriptor {
        T::describe()
    }
    fn push_orders(orders: Vec<Order>) -> Result<Vec<OrderPushResult>, ConnectorError> {
        T::push_orders(orders)
    }
    fn pull_stock(request: PullRequest) -> Result<StockPage, ConnectorError> {
        T::pull_stock(request)
    }
    fn pull_prices(request: PullRequest) -> Result<PricePage, ConnectorError> {
        T::pull_prices(request)
    }
    fn pull_lots(request: PullRequest) -> Result<LotPage, ConnectorError> {
        T::pull_lots(request)
    }
    fn pull_products(request: PullRequest) -> Result<ProductPage, ConnectorError> {
        T::pull_products(request)
    }
    fn pull_customers(request: PullRequest) -> Result<CustomerPage, ConnectorError> {
        T::pull_customers(request)
    }
    fn pull_logistics(request: PullRequest) -> Result<LogisticsPage, ConnectorError> {
        T::pull_logistics(request)
    }
    fn pull_shipments(request: PullRequest) -> Result<ShipmentPage, ConnectorError> {
        T::pull_shipments(request)
    }
    fn pull_erp_status(request: PullRequest) -> Result<ErpStatusPage, ConnectorError> {
        T::pull_erp_status(request)
    }
    fn push_after_sales(after_sales: Vec<AfterSale>) -> Result<Vec<OrderPushResult>, ConnectorError> {
        T::push_after_sales(after_sales)
    }
    fn pull_invoices(request: PullRequest) -> Result<InvoicePage, ConnectorError> {
        T::pull_invoices(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Role;

    struct OnlyOrders;

    impl Marketplace for OnlyOrders {
        fn describe() -> Descriptor {
            Descriptor {
                name: "only-orders".into(),
                version: "0.1.0".into(),
                platform: "test".into(),
                role: Role::Marketplace,
                wit_version: WIT_VERSION.into(),
                operations: vec![Operation::GetOrder],
                http_hosts: Vec::new(),
                config_keys: Vec::new(),
                batch_limits: Vec::new(),
            }
        }
        fn get_order(order_id: String) -> Result<Order, ConnectorError> {
            Err(ConnectorError::not_found(order_id))
        }
    }

    fn unsupported_name<T: std::fmt::Debug>(r: Result<T, ConnectorError>) -> String {
        match r {
            Err(ConnectorError::Unsupported(op)) => op,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn implemented_operations_run_and_the_rest_are_unsupported_by_name() {
        assert_eq!(<OnlyOrders as Guest>::describe().name, "only-orders");
        assert!(include_str!("../../wit/since_v0.4.0/worlds.wit").contains(&format!("wharf:connector@{WIT_VERSION}")));
        assert!(matches!(<OnlyOrders as Guest>::get_order("7".into()), Err(ConnectorError::NotFound(id)) if id == "7"));
        assert_eq!(
            unsupported_name(<OnlyOrders as Guest>::pull_orders(TimeWindow { from: 0, to: 1 }, None)),
            "pull-orders"
        );
        assert_eq!(unsupported_name(<OnlyOrders as Guest>::push_stock(Vec::new())), "push-stock");
        assert_eq!(unsupported_name(<OnlyOrders as Guest>::push_prices(Vec::new())), "push-prices");
        assert_eq!(unsupported_name(<OnlyOrders as Guest>::push_lots(Vec::new())), "push-lots");
        assert_eq!(unsupported_name(<OnlyOrders as Guest>::push_listing(Vec::new())), "push-listing");
        assert_eq!(unsupported_name(<OnlyOrders as Guest>::push_products(Vec::new())), "push-products");
        assert_eq!(unsupported_name(<OnlyOrders as Guest>::push_customers(Vec::new())), "push-customers");
        assert_eq!(unsupported_name(<OnlyOrders as Guest>::push_logistics(Vec::new())), "push-logistics");
        assert_eq!(unsupported_name(<OnlyOrders as Guest>::push_shipments(Vec::new())), "push-shipments");
        assert_eq!(unsupported_name(<OnlyOrders as Guest>::push_erp_status(Vec::new())), "push-erp-status");
        assert_eq!(
            unsupported_name(<OnlyOrders as Guest>::pull_after_sales(TimeWindow { from: 0, to: 1 }, None)),
            "pull-after-sales"
        );
        assert_eq!(unsupported_name(<OnlyOrders as Guest>::get_after_sale("R1".into())), "get-after-sale");
        assert_eq!(
            unsupported_name(<OnlyOrders as Guest>::push_after_sale_actions(Vec::new())),
            "push-after-sale-actions"
        );
        assert_eq!(
            unsupported_name(<OnlyOrders as Guest>::decrypt_receivers(DecryptPurpose::Waybill, Vec::new())),
            "decrypt-receivers"
        );
        assert_eq!(unsupported_name(<OnlyOrders as Guest>::push_invoices(Vec::new())), "push-invoices");
    }
}
