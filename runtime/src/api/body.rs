//! Request bodies over [`MAX_BODY_BYTES`]: 413 in the API's JSON error shape, heard by the
//! client.
//!
//! axum's own refusal is plain text, and it comes while the client is still writing: hyper then
//! closes the connection on unread bytes, the kernel answers the client's next write with a
//! reset, and most clients report a broken connection instead of the 413. So the refusal is
//! made here, after reading and throwing away what the client still sends (up to
//! [`MAX_DRAIN_BYTES`], for [`DRAIN_TIME`] at most), and the connection is closed cleanly
//! after the answer. A body announced over the limit is refused before any handler runs; a
//! chunked one is counted as handlers read it, and refused at the first byte over.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, MAX_BODY_BYTES};

/// What is read and thrown away of a body over the limit so its sender hears the 413. Clients
/// write their whole body before they read an answer; a body just over the limit (the usual
/// mistake: a file a little too big) is read to its end, at the cost of bandwidth, not memory.
/// Past this, the connection is closed and the client may see it reset.
pub const MAX_DRAIN_BYTES: u64 = MAX_BODY_BYTES as u64;

/// How long a refused body is drained at most: a 64 MiB body takes a few seconds on a slow
/// office line; a client trickling bytes does not hold the connection longer.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The refusal, with the limit named (`limit`, `max`), and the connection closed after it.
fn too_large(declared: Option<u64>) -> Response {
    let size = declared.map_or_else(|| "the request body".to_owned(), |n| format!("a request body of {n} bytes"));
    let mut response = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "{size} is over the API's limit of {} MiB ({MAX_BODY_BYTES} bytes); send less per request",
            MAX_BODY_BYTES >> 20
        ),
    )
    .with(json!({"limit": "body_bytes", "max": MAX_BODY_BYTES}))
    .into_response();
    response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    response
}

/// The middleware: every request of the router passes through it.
pub async fn limit(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if let Some(declared) = declared
        && declared > MAX_BODY_BYTES as u64
    {
        // A client that waits for `100 Continue` has sent nothing yet and will send nothing.
        let waits =
            parts.headers.get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !waits && declared <= MAX_BODY_BYTES as u64 + MAX_DRAIN_BYTES {
            drain(body).await;
        }
        return too_large(Some(declared));
    }
    let over = Arc::new(Mutex::new(None));
    let counted = Body::new(Counted { inner: Some(body), seen: 0, over: over.clone() });
    let response = next.run(Request::from_parts(parts, counted)).await;
    let rest = over.lock().map(|mut o| o.take()).unwrap_or_default();
    match rest {
        Some(rest) => {
            drain(rest).await;
            too_large(None)
        }
        None => response,
    }
}

/// Reads and drops what is left of `body`, within [`MAX_DRAIN_BYTES`] and [`DRAIN_TIME`].
async fn drain(mut body: Body) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut seen = 0u64;
        while let Some(Ok(frame)) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            seen += frame.data_ref().map_or(0, |d| d.len() as u64);
            if seen > MAX_DRAIN_BYTES {
                break;
            }
        }
    })
    .await;
}

/// The body as handlers read it: counted, and at the first byte over the limit, an error for
/// the handler and the rest of the body handed to [`limit`] to drain.
struct Counted {
    inner: Option<Body>,
    seen: u64,
    over: Arc<Mutex<Option<Body>>>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body is over the API's limit of {MAX_BODY_BYTES} bytes")]
struct OverLimit;

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(Some(Err(axum::Error::new(OverLimit)))) };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.seen += frame.data_ref().map_or(0, |d| d.len() as u64);
                if this.seen > MAX_BODY_BYTES as u64 {
                    let rest = this.inner.take();
                    if let Ok(mut over) = this.over.lock() {
                        *over = rest;
                    }
                    return Poll::Ready(Some(Err(axum::Error::new(OverLimit))));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_some_and(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.as_ref().map(HttpBody::size_hint).unwrap_or_default()
    }
}
