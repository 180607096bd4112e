//! Typed errors of loading and calling plugins. Each names the plugin, its version, the
//! operation and the cause, so an operator can act on a log line alone.

use crate::model::{ConnectorError, Operation};
use std::path::PathBuf;
use std::time::Duration;

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read plugin {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("not a valid WebAssembly component: {0}")]
    InvalidComponent(String),
    #[error("the component exports none of the supported contracts ({supported}); it exports: {found}")]
    UnsupportedContract { supported: String, found: String },
    #[error("the component's imports cannot be satisfied by this host: {0}")]
    Link(String),
    #[error("plugin `describe` failed: {0}")]
    Describe(Box<CallError>),
    #[error("plugin {plugin} {version} describes itself wrongly: {reason}")]
    BadDescriptor { plugin: String, version: String, reason: String },
}

/// A failed call: who, what, and why.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin} {version}, operation {operation}: {cause}")]
pub struct CallError {
    pub plugin: String,
    pub version: String,
    pub operation: Operation,
    pub cause: Failure,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The plugin itself answered with a canonical error; the host's retry policy uses it.
    #[error("plugin error: {0}")]
    Plugin(ConnectorError),
    #[error("deadline of {0:?} exceeded")]
    Deadline(Duration),
    #[error("memory limit of {limit} bytes exceeded")]
    MemoryLimit { limit: usize },
    #[error("output of {size} bytes exceeds the cap of {limit} bytes")]
    OutputTooLarge { size: usize, limit: usize },
    #[error("plugin panicked: {0}")]
    Panic(String),
    #[error("trap: {0}")]
    Trap(String),
    /// The plugin broke the contract: an invalid record, an unsupported operation for its role,
    /// a reply that is not what the operation promises.
    #[error("contract violation: {0}")]
    Contract(String),
    /// A record the host refuses at the boundary (an instant past 9999, negative money, a
    /// control character in an id, …), naming the record and the field. Contract 0.1.0 only:
    /// from 0.2 such a record is a `rejected` entry of its page and the call goes on.
    #[error("invalid record: {0}")]
    InvalidRecord(crate::sandbox::boundary::RecordError),
    /// The host could not set up the call (instance pool exhausted, and similar).
    #[error("host failure: {0}")]
    Host(String),
}

impl CallError {
    /// The plugin's own canonical error, when that is what failed.
    pub fn connector_error(&self) -> Option<&ConnectorError> {
        match &self.cause {
            Failure::Plugin(e) => Some(e),
            _ => None,
        }
    }

    /// A stable short name of the cause for JSON output, metrics and tests.
    pub fn kind(&self) -> &'static str {
        match &self.cause {
            Failure::Plugin(_) => "plugin_error",
            Failure::Deadline(_) => "deadline",
            Failure::MemoryLimit { .. } => "memory_limit",
            Failure::OutputTooLarge { .. } => "output_too_large",
            Failure::Panic(_) => "panic",
            Failure::Trap(_) => "trap",
            Failure::Contract(_) => "contract_violation",
            Failure::InvalidRecord(_) => "invalid_record",
            Failure::Host(_) => "host",
        }
    }

    /// [`CallError::kind`], with the plugin's own error kind (`auth`, `transient`, …) in place
    /// of `plugin_error`: what `/metrics` counts per shop, so an operator tells expired
    /// credentials from an outage.
    pub fn cause_kind(&self) -> &'static str {
        match &self.cause {
            Failure::Plugin(e) => e.kind(),
            _ => self.kind(),
        }
    }

    /// The JSON the CLI prints on stderr.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "error": self.kind(),
            "plugin": self.plugin,
            "version": self.version,
            "operation": self.operation.name(),
            "message": self.to_string(),
        });
        if let Failure::Plugin(e) = &self.cause {
            v["plugin_error"] = serde_json::to_value(e).unwrap_or_default();
        }
        if let Failure::InvalidRecord(e) = &self.cause {
            v["record"] = serde_json::json!({"kind": e.record, "id": e.id, "field": e.field, "problem": e.problem});
        }
        v
    }
}
