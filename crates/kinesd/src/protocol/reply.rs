//! What an operation answers with: nothing (void operations), one encoded document, or a
//! stream of frames that lasts as long as the subscription (`application/vnd.amazon.eventstream`
//! for SubscribeToShard).
//!
//! A stream is a bounded pipe between the task that produces frames and the connection that
//! sends them: the producer waits when the client reads slowly (back-pressure), and learns
//! promptly when the client goes away (the connection drops the [`FrameStream`], so
//! [`FrameSender::send`] fails and [`FrameSender::closed`] resolves).

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::codec::Codec;
use super::encode::Encode;

/// Bytes a stream may hold between its producer and the connection: enough for a few
/// SubscribeToShard events of typical size, small enough that 10,000 idle subscriptions cost
/// at most 10 GiB only if every one is full and its client stalled. A single frame larger than
/// this is still accepted, alone (the bound is then that one frame).
pub const STREAM_BUFFER_BYTES: usize = 1024 * 1024;

/// Frames a stream may hold, whatever their size: bounds the per-frame bookkeeping when frames
/// are tiny (event-stream heartbeats).
pub const STREAM_BUFFER_FRAMES: usize = 64;

/// A successful response body.
pub enum ReplyBody {
    /// Void operations answer with an empty body, as AWS does.
    Empty,
    /// One document in the request's codec.
    Encoded(Vec<u8>),
    /// Frames sent as they come (HTTP/1.1 chunked, or HTTP/2 DATA frames).
    Stream(FrameStream),
}

/// What an operation returns: a response shape, `()` for void operations, or a [`FrameStream`].
pub trait Reply {
    fn into_body(self, codec: Codec) -> ReplyBody;
}

impl Reply for () {
    fn into_body(self, _: Codec) -> ReplyBody {
        ReplyBody::Empty
    }
}

impl<T: Encode> Reply for T {
    fn into_body(self, codec: Codec) -> ReplyBody {
        let hint = self.size_hint();
        ReplyBody::Encoded(codec.encode(&self, hint))
    }
}

impl Reply for FrameStream {
    fn into_body(self, _: Codec) -> ReplyBody {
        ReplyBody::Stream(self)
    }
}

/// The receiving end of a streamed reply, polled by the connection.
pub struct FrameStream {
    content_type: &'static str,
    frames: mpsc::Receiver<(Bytes, OwnedSemaphorePermit)>,
}

/// The producing end of a streamed reply. Dropping it ends the response.
#[derive(Clone)]
pub struct FrameSender {
    frames: mpsc::Sender<(Bytes, OwnedSemaphorePermit)>,
    budget: Arc<Semaphore>,
}

/// The client went away (or the connection closed): nothing more will be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamClosed;

/// A new streamed reply with the given Content-Type, and its producer.
pub fn frame_stream(content_type: &'static str) -> (FrameSender, FrameStream) {
    let (tx, rx) = mpsc::channel(STREAM_BUFFER_FRAMES);
    let budget = Arc::new(Semaphore::new(STREAM_BUFFER_BYTES));
    (FrameSender { frames: tx, budget }, FrameStream { content_type, frames: rx })
}

impl FrameSender {
    /// Queues one frame, waiting while the stream already holds [`STREAM_BUFFER_BYTES`] or
    /// [`STREAM_BUFFER_FRAMES`] unsent. Fails once the client has gone.
    pub async fn send(&self, frame: Bytes) -> Result<(), StreamClosed> {
        let weight = frame.len().clamp(1, STREAM_BUFFER_BYTES) as u32;
        let permit = tokio::select! {
            permit = self.budget.clone().acquire_many_owned(weight) => permit.map_err(|_| StreamClosed)?,
            () = self.frames.closed() => return Err(StreamClosed),
        };
        self.frames.send((frame, permit)).await.map_err(|_| StreamClosed)
    }

    /// Resolves when the client has gone, so an idle producer stops promptly.
    pub async fn closed(&self) {
        self.frames.closed().await
    }

    pub fn is_closed(&self) -> bool {
        self.frames.is_closed()
    }
}

impl FrameStream {
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// The next frame; `None` once every sender is gone. The frame's share of the buffer is
    /// released as it leaves: from here the connection's own (bounded) write buffer or HTTP/2
    /// flow-control window holds it.
    pub fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.frames.poll_recv(cx).map(|next| next.map(|(frame, _permit)| frame))
    }

    /// Waits for the next frame (see [`FrameStream::poll_frame`]).
    pub async fn next_frame(&mut self) -> Option<Bytes> {
        std::future::poll_fn(|cx| self.poll_frame(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn frames_arrive_in_order_and_the_stream_ends_with_its_sender() {
        let (tx, mut rx) = frame_stream("application/vnd.amazon.eventstream");
        let producer = tokio::spawn(async move {
            for i in 0..100u32 {
                tx.send(Bytes::from(i.to_be_bytes().to_vec())).await.unwrap();
            }
        });
        for i in 0..100u32 {
            assert_eq!(rx.next_frame().await.unwrap(), Bytes::from(i.to_be_bytes().to_vec()));
        }
        producer.await.unwrap();
        assert_eq!(rx.next_frame().await, None);
        assert_eq!(rx.content_type(), "application/vnd.amazon.eventstream");
    }

    #[tokio::test]
    async fn a_slow_reader_holds_the_producer_at_the_byte_bound() {
        let (tx, mut rx) = frame_stream("x");
        let frame = Bytes::from(vec![0u8; 64 * 1024]);
        let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = sent.clone();
        let producer = tokio::spawn(async move {
            loop {
                if tx.send(frame.clone()).await.is_err() {
                    return;
                }
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        // 1 MiB of 64 KiB frames: exactly 16 queued, then the producer waits.
        assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), STREAM_BUFFER_BYTES / (64 * 1024));
        rx.next_frame().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), STREAM_BUFFER_BYTES / (64 * 1024) + 1);
        drop(rx);
        tokio::time::timeout(Duration::from_secs(5), producer).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn tiny_frames_are_bounded_by_count() {
        let (tx, _rx) = frame_stream("x");
        let mut queued = 0;
        while tokio::time::timeout(Duration::from_millis(20), tx.send(Bytes::from_static(b"."))).await.is_ok() {
            queued += 1;
            assert!(queued <= STREAM_BUFFER_FRAMES, "more than {STREAM_BUFFER_FRAMES} frames queued");
        }
        assert_eq!(queued, STREAM_BUFFER_FRAMES);
    }

    #[tokio::test]
    async fn a_frame_larger_than_the_buffer_goes_alone() {
        let (tx, mut rx) = frame_stream("x");
        let big = Bytes::from(vec![1u8; STREAM_BUFFER_BYTES * 3]);
        tx.send(big.clone()).await.unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(20), tx.send(Bytes::from_static(b"."))).await.is_err());
        assert_eq!(rx.next_frame().await.unwrap().len(), big.len());
    }

    #[tokio::test]
    async fn the_producer_learns_at_once_that_the_client_went_away() {
        let (tx, rx) = frame_stream("x");
        let idle = tokio::spawn(async move { tx.closed().await });
        drop(rx);
        tokio::time::timeout(Duration::from_secs(1), idle).await.unwrap().unwrap();
    }
}
