//! The peer bus of the JetStream store: core NATS publish and subscribe on `P.<topic>`, with
//! the store's client. Nothing goes through JetStream (nothing is stored or acknowledged), so a
//! publish costs a write into the client's buffer and a message reaches the nodes connected at
//! that moment, at most once.

use async_nats::Client;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{nats_error, timed};
use crate::store::{PeerBus, Result};

pub(super) struct NatsBus {
    pub(super) client: Client,
    pub(super) prefix: String,
}

impl NatsBus {
    fn subject(&self, topic: &str) -> String {
        format!("{}.{topic}", self.prefix)
    }
}

#[async_trait]
impl PeerBus for NatsBus {
    async fn publish(&self, topic: &str, payload: Bytes) -> Result<()> {
        // Waits only when the client's outgoing buffer is full (the server is not keeping up).
        timed(self.client.publish(self.subject(topic), payload)).await
    }

    async fn subscribe(&self, topic: &str, capacity: usize) -> Result<mpsc::Receiver<Bytes>> {
        let mut messages = timed(self.client.subscribe(self.subject(topic))).await?;
        // Sends the subscription to the server now rather than with the next write.
        timed(self.client.flush()).await?;
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        // One task per subscription moves messages to the bounded queue, dropping what does not
        // fit (a slow receiver must not make the client buffer without bound); it ends with the
        // receiver (noticed at the next message) or the connection.
        tokio::spawn(async move {
            while let Some(message) = messages.next().await {
                match sender.try_send(message.payload) {
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
            }
            let _ = messages.unsubscribe().await.map_err(nats_error);
        });
        Ok(receiver)
    }
}
