//! PLACEHOLDER until the spreadsheet module lands.
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SheetKind { Stock, Prices, Lots, Products, Customers }

impl SheetKind {
    pub const ALL: [SheetKind; 5] = [SheetKind::Stock, SheetKind::Prices, SheetKind::Lots, SheetKind::Products, SheetKind::Customers];
    pub fn from_name(name: &str) -> Option<Self> { Self::ALL.into_iter().find(|k| k.name() == name) }
    pub fn name(self) -> &'static str {
        match self { SheetKind::Stock => "stock", SheetKind::Prices => "prices", SheetKind::Lots => "lots", SheetKind::Products => "products", SheetKind::Customers => "customers" }
    }
}

pub struct Imported { pub rows: Vec<RowOutcome>, pub update: Option<crate::sync::intake::Update> }

#[derive(Serialize)]
pub struct RowOutcome { pub row: u32, pub accepted: bool, pub column: Option<String>, pub reason: Option<String> }

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SheetError(String);

pub fn import(_kind: SheetKind, _xlsx: &[u8], _default_version: u64) -> Result<Imported, SheetError> { Err(SheetError("not yet".into())) }
pub fn template(_kind: SheetKind) -> Vec<u8> { Vec::new() }
pub fn export_orders(_orders: &[crate::store::StoredOrder]) -> Result<Vec<u8>, SheetError> { Err(SheetError("not yet".into())) }
