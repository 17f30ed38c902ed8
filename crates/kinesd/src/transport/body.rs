//! Request bodies in, response bodies out.
//!
//! A request body is read within two bounds: its own size ([`MAX_BODY_BYTES`](super::MAX_BODY_BYTES))
//! and the server-wide budget of body bytes in memory. The budget is charged as bytes arrive, not
//! as a client declares them, so a client that announces a large body and then stalls holds only
//! what it sent; and a body must arrive within [`BODY_READ_TIMEOUT`], so a stalled upload gives its
//! share back. What was charged is held until the request has been answered.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::connection::Busy;
use crate::protocol::reply::FrameStream;
use crate::protocol::wire::BodyError;

/// The longest a request body may take to arrive by default (`TransportOptions::body_read_timeout`): a maximal 14.5 MiB body at 250 KB/s, and about
/// what the SDKs wait for an answer before they give up themselves (boto3 and the Java SDK
/// default to 60 s socket timeouts).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The body's bytes, and its share of the budget (held by the caller until it has answered).
pub async fn read(
    body: Incoming,
    declared: Option<u64>,
    limit: usize,
    budget: &Arc<Semaphore>,
    timeout: Duration,
) -> (Result<Bytes, BodyError>, Option<OwnedSemaphorePermit>) {
    let mut share: Option<OwnedSemaphorePermit> = None;
    let read = collect(body, declared, limit, budget, &mut share);
    match tokio::time::timeout(timeout, read).await {
        Ok(result) => (result, share),
        Err(_) => (Err(BodyError::Unreadable("the request body did not arrive in time".into())), share),
    }
}

async fn collect(
    mut body: Incoming,
    declared: Option<u64>,
    limit: usize,
    budget: &Arc<Semaphore>,
    share: &mut Option<OwnedSemaphorePermit>,
) -> Result<Bytes, BodyError> {
    let mut single: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut received = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Unreadable(e.to_string()))?;
        let Ok(data) = frame.into_data() else { continue };
        if data.is_empty() {
            continue;
        }
        received += data.len();
        if received > limit {
            return Err(BodyError::TooLarge(limit));
        }
        // The semaphore is never closed, so the acquisition cannot fail.
        if let Ok(more) = budget.clone().acquire_many_owned(data.len() as u32).await {
            match share {
                Some(held) => held.merge(more),
                None => *share = Some(more),
            }
        }
        // One frame is kept as it came; more are joined into one buffer, sized by the declared
        // length when there is one.
        match (&mut single, &mut joined) {
            (None, None) => single = Some(data),
            (Some(first), None) => {
                let capacity = declared.map_or(0, |n| n as usize).clamp(first.len() + data.len(), limit);
                let mut buffer = BytesMut::with_capacity(capacity);
                buffer.extend_from_slice(first);
                buffer.extend_from_slice(&data);
                single = None;
                joined = Some(buffer);
            }
            (_, Some(buffer)) => buffer.extend_from_slice(&data),
        }
    }
    Ok(match (single, joined) {
        (_, Some(buffer)) => buffer.freeze(),
        (Some(one), None) => one,
        (None, None) => Bytes::new(),
    })
}

/// A response body: one buffer (sent with its Content-Length) or a stream of frames (chunked
/// on HTTP/1.1, DATA frames on HTTP/2) that ends when its producer does or the client goes.
/// It keeps its connection busy (not idle) until it has been sent or dropped.
pub struct HttpBody {
    kind: Kind,
    _busy: Option<Busy>,
}

enum Kind {
    Full(Option<Bytes>),
    Frames(FrameStream),
}

impl HttpBody {
    pub fn empty() -> HttpBody {
        HttpBody { kind: Kind::Full(None), _busy: None }
    }

    pub fn bytes(b: Bytes) -> HttpBody {
        HttpBody { kind: Kind::Full(if b.is_empty() { None } else { Some(b) }), _busy: None }
    }

    pub fn frames(frames: FrameStream) -> HttpBody {
        HttpBody { kind: Kind::Frames(frames), _busy: None }
    }

    /// Keeps `busy` until the body is done with.
    pub fn held_by(mut self, busy: Busy) -> HttpBody {
        self._busy = Some(busy);
        self
    }
}

impl http_body::Body for HttpBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match &mut self.get_mut().kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Frames(frames) => frames.poll_frame(cx).map(|f| f.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, Kind::Full(None))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.kind {
            Kind::Full(bytes) => http_body::SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Frames(_) => http_body::SizeHint::default(),
        }
    }
}
