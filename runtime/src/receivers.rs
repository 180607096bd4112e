//! Receivers in plaintext, for printing a waybill now: asked of the shop's plugin with the
//! order's privacy reference, in batches no larger than the plugin declares
//! (`decrypt-receivers` batch limit), and handed back to the caller. Nothing here stores,
//! logs or counts the plaintext: [`PlainReceiver`]'s `Debug` shows the order id only, and the
//! audit (the API's) records who asked, for which orders and why.

use crate::error::CallError;
use crate::model::{ConnectorError, DecryptPurpose, Operation, PlainReceiver, ReceiverRef};
use crate::sandbox::{Call, Reply};
use crate::{Plugin, Shop};

/// References one call carries when the plugin declares no limit: Taobao's documented 20,
/// the smallest of the platforms'.
pub const DEFAULT_BATCH: usize = 20;

/// One answer per reference, in the order given: a receiver, or why not. A call that fails
/// as a whole fails its batch's references with that error; the other batches still answer.
pub async fn decrypt(
    plugin: &Plugin,
    shop: &Shop,
    purpose: DecryptPurpose,
    refs: Vec<ReceiverRef>,
) -> Vec<Result<PlainReceiver, ConnectorError>> {
    let batch = plugin.descriptor().batch_limit(Operation::DecryptReceivers).unwrap_or(DEFAULT_BATCH).max(1);
    let mut out = Vec::with_capacity(refs.len());
    for chunk in refs.chunks(batch) {
        match plugin.call(shop, Call::DecryptReceivers { purpose, refs: chunk.to_vec() }).await {
            Ok(Reply::Decrypted(answers)) => out.extend(answers),
            Ok(_) => unreachable!("the sandbox checks decrypt-receivers answers one result per reference"),
            Err(e) => {
                let error = whole_call(&e);
                out.extend(chunk.iter().map(|_| Err(error.clone())));
            }
        }
    }
    out
}

/// A failed call as each of its references' error: the plugin's own, or the host's reason.
fn whole_call(e: &CallError) -> ConnectorError {
    match e.connector_error() {
        Some(c) => c.clone(),
        None => ConnectorError::Transient { reason: e.to_string() },
    }
}
