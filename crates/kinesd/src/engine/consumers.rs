//! Enhanced fan-out consumers: RegisterStreamConsumer → CREATING → ACTIVE,
//! DeregisterStreamConsumer → DELETING → gone, their tags, and what DeleteStream does to them.
//!
//! A consumer is catalog state like a stream: one entry per consumer under
//! `consumer/<account>/<stream>/<name>`, written by compare-and-set under the control lock, with
//! its phase's deadline stored so that a restart finishes it. A consumer belongs to its stream's
//! account and to one incarnation of that stream (`stream_created_ms`) and goes with it:
//! removing a stream removes its consumers, and on start-up consumers of a stream that is gone
//! are dropped. Entries written before accounts were kept apart (`consumer/<stream>/<name>`,
//! without an account) belong to the configured account and are moved at start-up.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::catalog::{Stream, StreamKey, StreamStatus};
use super::{Engine, now_ms};
use crate::error::{KinesisError, Result};

/// Consumers a stream may have registered at once (AWS's quota without On-demand Advantage).
pub const MAX_CONSUMERS_PER_STREAM: usize = 20;
/// Catalog keys of consumers are `consumer/<account>/<stream>/<consumer>` (names cannot hold a
/// `/`); a key `consumer/<stream>/<consumer>` is one written before accounts were kept apart.
pub(super) const CONSUMER_PREFIX: &str = "consumer/";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsumerStatus {
    Creating,
    Active,
    Deleting,
}

impl ConsumerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerStatus::Creating => "CREATING",
            ConsumerStatus::Active => "ACTIVE",
            ConsumerStatus::Deleting => "DELETING",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consumer {
    pub name: String,
    pub stream: String,
    /// The account of the stream (and so of the consumer). Entries written before accounts were
    /// kept apart lack it; they belong to the configured account, set when the catalog loads.
    #[serde(default)]
    pub account: String,
    /// The incarnation of the stream the consumer was registered on.
    pub stream_created_ms: u64,
    pub created_ms: u64,
    pub status: ConsumerStatus,
    /// When the current CREATING/DELETING phase ends (0 when ACTIVE).
    pub status_until_ms: u64,
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub resource_policy: Option<String>,
}

impl Consumer {
    /// The seconds AWS puts at the end of the consumer's ARN.
    pub fn created_secs(&self) -> u64 {
        self.created_ms / 1000
    }

    /// The stream the consumer reads.
    pub fn stream_key(&self) -> StreamKey {
        StreamKey::new(self.account.clone(), self.stream.clone())
    }

    pub(super) fn catalog_key(&self) -> String {
        format!("{CONSUMER_PREFIX}{}/{}/{}", self.account, self.stream, self.name)
    }
}

/// The stream key and consumer name a catalog key `consumer/<account>/<stream>/<name>` names.
fn parse_catalog_key(key: &str) -> Option<(StreamKey, String)> {
    let (account, rest) = key.strip_prefix(CONSUMER_PREFIX)?.split_once('/')?;
    let (stream, name) = rest.split_once('/')?;
    Some((StreamKey::new(account, stream), name.to_owned()))
}

/// How a request names a consumer: by its ARN's parts, or by stream and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRef {
    pub stream: StreamKey,
    pub name: String,
    /// From an ARN: the creation seconds it ends with, which must be the consumer's.
    pub created_secs: Option<u64>,
}

impl Engine {
    /// `<stream ARN>/consumer/<name>:<creation epoch seconds>`.
    pub fn consumer_arn(&self, consumer: &Consumer) -> String {
        format!("{}/consumer/{}:{}", self.stream_arn(&consumer.stream_key()), consumer.name, consumer.created_secs())
    }

    /// The consumer a request names, after any due transition; one whose ARN carries another
    /// creation time (an earlier registration under the same name) is not found.
    pub async fn consumer(&self, which: &ConsumerRef) -> Result<Arc<Consumer>> {
        self.advance().await?;
        if self.shared && self.find_consumer(which).is_err() {
            let _guard = self.control.lock().await;
            self.read_through_consumer(which).await?;
        }
        self.find_consumer(which)
    }

    /// With a shared store, looks a consumer this node does not know up in the catalog
    /// (another node may have just registered it); call with `control` held.
    pub(super) async fn read_through_consumer(&self, which: &ConsumerRef) -> Result<()> {
        if self.shared && self.find_consumer(which).is_err() {
            let key = format!("{CONSUMER_PREFIX}{}/{}/{}", which.stream.account, which.stream.name, which.name);
            self.reload_entry(&key).await?;
            self.read_through(&which.stream).await?;
        }
        Ok(())
    }

    pub(super) fn find_consumer(&self, which: &ConsumerRef) -> Result<Arc<Consumer>> {
        self.consumers
            .read()
            .get(&(which.stream.clone(), which.name.clone()))
            .filter(|c| which.created_secs.is_none_or(|secs| secs == c.created_secs()))
            .cloned()
            .ok_or_else(|| self.consumer_not_found(which))
    }

    pub(super) fn consumer_not_found(&self, which: &ConsumerRef) -> KinesisError {
        KinesisError::consumer_not_found(&self.named_consumer_arn(which), &which.stream.account)
    }

    /// The consumer ARN as a request names it (without the creation time when it names the
    /// consumer by stream and name).
    pub fn named_consumer_arn(&self, which: &ConsumerRef) -> String {
        match which.created_secs {
            Some(secs) => format!("{}/consumer/{}:{secs}", self.stream_arn(&which.stream), which.name),
            None => format!("{}/consumer/{}", self.stream_arn(&which.stream), which.name),
        }
    }

    /// The consumers of a stream, in name order.
    pub async fn consumers_of(&self, stream: &StreamKey) -> Result<Vec<Arc<Consumer>>> {
        self.advance().await?;
        Ok(self.consumers_of_locked(stream))
    }

    pub(super) fn consumers_of_locked(&self, stream: &StreamKey) -> Vec<Arc<Consumer>> {
        let from = (stream.clone(), String::new());
        self.consumers.read().range(from..).take_while(|((s, _), _)| s == stream).map(|(_, c)| c.clone()).collect()
    }

    /// Registers a consumer, CREATING until `consumer_create_ms` has passed.
    pub async fn register_consumer(
        &self,
        stream: &StreamKey,
        name: &str,
        tags: Vec<(String, String)>,
    ) -> Result<Arc<Consumer>> {
        // A change starts from every change other nodes made before it (cluster mode).
        self.sync_catalog().await;
        let _guard = self.control.lock().await;
        let now = now_ms();
        self.advance_locked(now).await?;
        self.read_through(stream).await?;
        let owner = self.current(stream)?;
        if !matches!(owner.status, StreamStatus::Active | StreamStatus::Updating) {
            return Err(self.not_active(&owner));
        }
        let existing = self.consumers_of_locked(stream);
        if existing.iter().any(|c| c.name == name) {
            return Err(KinesisError::consumer_already_exists(name, &self.stream_arn(stream)));
        }
        if existing.len() >= MAX_CONSUMERS_PER_STREAM {
            return Err(KinesisError::consumer_limit_exceeded(
                &self.stream_arn(stream),
                &stream.account,
                MAX_CONSUMERS_PER_STREAM,
            ));
        }
        self.check_creation_tags(stream, &tags)?;
        let (status, until) = match self.config.consumer_create_ms {
            0 => (ConsumerStatus::Active, 0),
            delay => (ConsumerStatus::Creating, now + delay),
        };
        let consumer = Consumer {
            name: name.to_owned(),
            stream: stream.name.clone(),
            account: stream.account.clone(),
            stream_created_ms: owner.created_ms,
            created_ms: now,
            status,
            status_until_ms: until,
            tags,
            resource_policy: None,
        };
        self.save_consumer(consumer).await
    }

    /// Deregisters a consumer: DELETING until `consumer_delete_ms` has passed, then gone. Its
    /// live subscriptions end at once.
    pub async fn deregister_consumer(&self, which: &ConsumerRef) -> Result<()> {
        // A change starts from every change other nodes made before it (cluster mode).
        self.sync_catalog().await;
        let _guard = self.control.lock().await;
        let now = now_ms();
        self.advance_locked(now).await?;
        self.read_through_consumer(which).await?;
        let consumer = self.find_consumer(which)?;
        if consumer.status == ConsumerStatus::Deleting {
            return Ok(());
        }
        self.begin_consumer_deletion(&consumer, now, self.config.consumer_delete_ms).await
    }

    async fn begin_consumer_deletion(&self, consumer: &Consumer, now: u64, delay_ms: u64) -> Result<()> {
        if delay_ms == 0 {
            return self.remove_consumer(consumer).await;
        }
        let mut next = consumer.clone();
        next.status = ConsumerStatus::Deleting;
        next.status_until_ms = now + delay_ms;
        self.save_consumer(next).await.map(|_| ())
    }

    /// DeleteStream's rule for consumers, called with the control lock held before the stream
    /// goes DELETING: refused while any is registered, unless `enforce`, which deregisters them
    /// all (they end with the stream at the latest).
    pub(super) async fn release_consumers(&self, stream: &Stream, enforce: bool, now: u64) -> Result<()> {
        let consumers = self.consumers_of_locked(&stream.key());
        if consumers.is_empty() {
            return Ok(());
        }
        if !enforce {
            return Err(KinesisError::stream_has_consumers(&self.stream_arn(&stream.key()), &stream.name));
        }
        for consumer in consumers.iter().filter(|c| c.status != ConsumerStatus::Deleting) {
            self.begin_consumer_deletion(consumer, now, self.config.consumer_delete_ms).await?;
        }
        Ok(())
    }

    /// Removes every consumer of `stream` (called as the stream itself is removed).
    pub(super) async fn remove_consumers_of(&self, stream: &StreamKey) -> Result<()> {
        for consumer in self.consumers_of_locked(stream) {
            self.remove_consumer(&consumer).await?;
        }
        Ok(())
    }

    pub async fn add_consumer_tags(&self, which: &ConsumerRef, tags: Vec<(String, String)>) -> Result<()> {
        self.modify_consumer(which, |engine, consumer| {
            engine.check_tag_text_for_add(&consumer.stream_key(), &tags)?;
            let mut merged = consumer.tags.clone();
            for (key, value) in tags {
                match merged.iter_mut().find(|(k, _)| *k == key) {
                    Some(existing) => existing.1 = value,
                    None => merged.push((key, value)),
                }
            }
            if merged.len() > super::tags::MAX_TAGS_PER_STREAM {
                return Err(KinesisError::too_many_tags(
                    &consumer.stream,
                    &consumer.account,
                    super::tags::MAX_TAGS_PER_STREAM,
                ));
            }
            consumer.tags = merged;
            Ok(())
        })
        .await
    }

    pub async fn remove_consumer_tags(&self, which: &ConsumerRef, keys: &[String]) -> Result<()> {
        self.modify_consumer(which, |engine, consumer| {
            engine.check_tag_text_for_remove(&consumer.stream_key(), keys)?;
            consumer.tags.retain(|(k, _)| !keys.contains(k));
            Ok(())
        })
        .await
    }

    /// Attaches `policy` to an ACTIVE consumer, replacing any earlier one.
    pub async fn put_consumer_policy(&self, which: &ConsumerRef, policy: String) -> Result<()> {
        self.modify_consumer(which, |engine, consumer| {
            engine.require_active_consumer(consumer)?;
            super::tags::check_policy_document(&policy)?;
            consumer.resource_policy = Some(policy);
            Ok(())
        })
        .await
    }

    /// Removes an ACTIVE consumer's policy; a consumer without one is AWS's
    /// ResourceNotFoundException, as for a stream.
    pub async fn delete_consumer_policy(&self, which: &ConsumerRef) -> Result<()> {
        self.modify_consumer(which, |engine, consumer| {
            engine.require_active_consumer(consumer)?;
            if consumer.resource_policy.take().is_none() {
                return Err(KinesisError::resource_policy_not_found(&engine.consumer_arn(consumer)));
            }
            Ok(())
        })
        .await
    }

    /// A consumer's settings change only while it is ACTIVE.
    pub fn require_active_consumer(&self, consumer: &Consumer) -> Result<()> {
        if consumer.status == ConsumerStatus::Active {
            return Ok(());
        }
        Err(KinesisError::consumer_not_active_for_change(
            &consumer.name,
            consumer.created_secs(),
            &consumer.stream,
            &consumer.account,
        ))
    }

    async fn modify_consumer(
        &self,
        which: &ConsumerRef,
        change: impl FnOnce(&Engine, &mut Consumer) -> Result<()>,
    ) -> Result<()> {
        // A change starts from every change other nodes made before it (cluster mode).
        self.sync_catalog().await;
        let _guard = self.control.lock().await;
        self.advance_locked(now_ms()).await?;
        let current = self.find_consumer(which)?;
        let mut next = (*current).clone();
        change(self, &mut next)?;
        if next != *current {
            self.save_consumer(next).await?;
        }
        Ok(())
    }

    /// Persists `consumer` and publishes it; call with `control` held.
    async fn save_consumer(&self, consumer: Consumer) -> Result<Arc<Consumer>> {
        let value = serde_json::to_vec(&consumer).map_err(KinesisError::internal_failure_because)?;
        self.catalog_write(&consumer.catalog_key(), Bytes::from(value)).await?;
        if consumer.status_until_ms != 0 {
            self.schedule_transition(consumer.status_until_ms);
        }
        let consumer = Arc::new(consumer);
        self.consumers.write().insert((consumer.stream_key(), consumer.name.clone()), consumer.clone());
        self.catalog_changed();
        Ok(consumer)
    }

    async fn remove_consumer(&self, consumer: &Consumer) -> Result<()> {
        self.catalog_remove(&consumer.catalog_key()).await?;
        self.consumers.write().remove(&(consumer.stream_key(), consumer.name.clone()));
        self.catalog_changed();
        Ok(())
    }

    /// Ends the CREATING or DELETING phase of every consumer whose deadline has passed; returns
    /// the earliest deadline still ahead (u64::MAX when none). Call with `control` held.
    pub(super) async fn finish_consumer_transitions(&self, now: u64) -> Result<u64> {
        let due: Vec<Arc<Consumer>> = self
            .consumers
            .read()
            .values()
            .filter(|c| c.status_until_ms != 0 && c.status_until_ms <= now)
            .cloned()
            .collect();
        for consumer in due {
            match consumer.status {
                ConsumerStatus::Deleting => self.remove_consumer(&consumer).await?,
                ConsumerStatus::Creating | ConsumerStatus::Active => {
                    let mut next = (*consumer).clone();
                    next.status = ConsumerStatus::Active;
                    next.status_until_ms = 0;
                    self.save_consumer(next).await?;
                }
            }
        }
        let next = self.consumers.read().values().map(|c| c.status_until_ms).filter(|&t| t != 0).min();
        Ok(next.unwrap_or(u64::MAX))
    }
}

/// Reads a consumer's catalog entry.
pub(super) fn decode(key: &str, value: &[u8]) -> Result<Consumer> {
    serde_json::from_slice(value)
        .map_err(|e| KinesisError::internal_failure_because(format!("corrupt catalog entry {key}: {e}")))
}

impl Engine {
    /// Replaces this engine's copy of the consumer under catalog `key` with the stored one
    /// (None: gone); call with `control` held.
    pub(super) fn replace_consumer_entry(&self, key: &str, stored: Option<Consumer>) {
        let Some(id) = parse_catalog_key(key) else {
            return;
        };
        match stored {
            Some(mut consumer) => {
                consumer.account = id.0.account.clone();
                if consumer.status_until_ms != 0 {
                    self.schedule_transition(consumer.status_until_ms);
                }
                self.consumers.write().insert(id, Arc::new(consumer));
            }
            None => {
                self.consumers.write().remove(&id);
            }
        }
        self.catalog_changed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineConfig;
    use crate::engine::lifecycle::NewStream;
    use crate::engine::records::IteratorStart;
    use crate::engine::test_key as k;
    use crate::store::Store;
    use crate::store::memory::MemoryStore;

    fn config() -> EngineConfig {
        EngineConfig {
            create_stream_ms: 0,
            delete_stream_ms: 0,
            consumer_create_ms: 0,
            consumer_delete_ms: 0,
            ..EngineConfig::default()
        }
    }

    fn named(stream: &str, name: &str) -> ConsumerRef {
        ConsumerRef { stream: k(stream), name: name.into(), created_secs: None }
    }

    #[tokio::test]
    async fn consumers_are_catalog_state_that_goes_with_its_stream() {
        let store = Arc::new(MemoryStore::new());
        let engine = Engine::open(config(), store.clone()).await.unwrap();
        engine.create_stream(NewStream::provisioned(&k("s"), 1)).await.unwrap();
        let c = engine.register_consumer(&k("s"), "c", vec![("k".into(), "v".into())]).await.unwrap();
        assert_eq!(c.status, ConsumerStatus::Active);
        assert_eq!(
            engine.consumer_arn(&c),
            format!("arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:{}", c.created_secs())
        );

        // Reopened on the same store: the consumer is there, tags and all.
        let reopened = Engine::open(config(), store.clone()).await.unwrap();
        assert_eq!(*reopened.consumer(&named("s", "c")).await.unwrap(), *c);
        let by_arn = ConsumerRef { created_secs: Some(c.created_secs() + 1), ..named("s", "c") };
        assert!(matches!(reopened.consumer(&by_arn).await, Err(KinesisError::ResourceNotFound(_))));

        // Refused while registered, then deleted together.
        let refused = reopened.delete_stream(&k("s")).await;
        assert!(matches!(refused, Err(KinesisError::ResourceInUse(_))), "{refused:?}");
        reopened.delete_stream_and_consumers(&k("s"), true).await.unwrap();
        assert!(store.catalog_get("consumer/000000000000/s/c").await.unwrap().is_none());
        assert!(reopened.consumers_of(&k("s")).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_consumer_left_behind_by_its_stream_is_dropped_at_start_up() {
        let store = Arc::new(MemoryStore::new());
        let engine = Engine::open(config(), store.clone()).await.unwrap();
        engine.create_stream(NewStream::provisioned(&k("s"), 1)).await.unwrap();
        engine.register_consumer(&k("s"), "c", Vec::new()).await.unwrap();
        // As a crash between removing the stream and its consumers would leave it.
        let (_, revision) = store.catalog_get("stream/000000000000/s").await.unwrap().unwrap();
        store.catalog_delete("stream/000000000000/s", revision).await.unwrap();
        let reopened = Engine::open(config(), store.clone()).await.unwrap();
        assert!(reopened.consumers_of(&k("s")).await.unwrap().is_empty());
        assert!(store.catalog_get("consumer/000000000000/s/c").await.unwrap().is_none());
    }

    /// The same consumer name on same-named streams of two accounts is two consumers: each has
    /// its owner's ARN, both may be subscribed to shard 0 at once, and one goes alone.
    #[tokio::test]
    async fn consumers_of_two_accounts_are_kept_apart() {
        let engine = Engine::open(config(), Arc::new(MemoryStore::new())).await.unwrap();
        let (a, b) = (StreamKey::new("111111111111", "s"), StreamKey::new("222222222222", "s"));
        let mut subscriptions = Vec::new();
        for key in [&a, &b] {
            engine.create_stream(NewStream::provisioned(key, 1)).await.unwrap();
            let c = engine.register_consumer(key, "c", Vec::new()).await.unwrap();
            let prefix = format!("arn:aws:kinesis:us-east-1:{}:stream/s/consumer/c:", key.account);
            assert!(engine.consumer_arn(&c).starts_with(&prefix), "{}", engine.consumer_arn(&c));
            let which = ConsumerRef { stream: key.clone(), name: "c".into(), created_secs: None };
            subscriptions.push(engine.subscribe(&which, "0", IteratorStart::Latest).await.unwrap());
        }
        assert_eq!(engine.live_subscriptions(), 2);
        let (ca, cb) = (
            ConsumerRef { stream: a.clone(), name: "c".into(), created_secs: None },
            ConsumerRef { stream: b.clone(), name: "c".into(), created_secs: None },
        );
        engine.deregister_consumer(&ca).await.unwrap();
        assert!(engine.consumers_of(&a).await.unwrap().is_empty());
        assert_eq!(engine.consumer(&cb).await.unwrap().account, "222222222222");
        let missing = engine.consumer(&ca).await;
        assert!(
            matches!(&missing, Err(KinesisError::ResourceNotFound(m)) if m == "Consumer arn:aws:kinesis:us-east-1:111111111111:stream/s/consumer/c under account 111111111111 not found."),
            "{missing:?}"
        );
    }

    /// A consumer entry as the single-account layout wrote it (`consumer/<stream>/<name>`, no
    /// account) opens in the configured account and is moved under it; a move interrupted
    /// half-way (both entries present) finishes with the moved entry winning.
    #[tokio::test]
    async fn a_consumer_written_before_accounts_opens_in_the_configured_account() {
        let store = Arc::new(MemoryStore::new());
        let config = EngineConfig { account_id: "123456789012".into(), ..config() };
        let key = StreamKey::new("123456789012", "s");
        let moved_key = "consumer/123456789012/s/c";
        {
            let engine = Engine::open(config.clone(), store.clone()).await.unwrap();
            engine.create_stream(NewStream::provisioned(&key, 1)).await.unwrap();
            engine.register_consumer(&key, "c", vec![("v".into(), "new".into())]).await.unwrap();
        }
        let (value, revision) = store.catalog_get(moved_key).await.unwrap().unwrap();
        let mut legacy: serde_json::Value = serde_json::from_slice(&value).unwrap();
        legacy.as_object_mut().unwrap().remove("account");
        legacy["tags"] = serde_json::json!([["v", "legacy"]]);
        let legacy = Bytes::from(serde_json::to_vec(&legacy).unwrap());
        store.catalog_put("consumer/s/c", legacy.clone(), crate::store::Expect::Absent).await.unwrap();
        store.catalog_delete(moved_key, revision).await.unwrap();

        let engine = Engine::open(config.clone(), store.clone()).await.unwrap();
        let which = ConsumerRef { stream: key.clone(), name: "c".into(), created_secs: None };
        let consumer = engine.consumer(&which).await.unwrap();
        assert_eq!(
            (consumer.account.as_str(), consumer.tags.clone()),
            ("123456789012", vec![("v".into(), "legacy".into())])
        );
        assert!(store.catalog_get("consumer/s/c").await.unwrap().is_none(), "moved");
        assert!(store.catalog_get(moved_key).await.unwrap().is_some());
        engine.add_consumer_tags(&which, vec![("after".into(), "move".into())]).await.unwrap();
        drop(engine);

        store.catalog_put("consumer/s/c", legacy, crate::store::Expect::Absent).await.unwrap();
        let engine = Engine::open(config, store.clone()).await.unwrap();
        assert_eq!(engine.consumer(&which).await.unwrap().tags.len(), 2, "the moved entry wins");
        assert!(store.catalog_get("consumer/s/c").await.unwrap().is_none());
        assert_eq!(engine.consumers_of(&key).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn at_most_20_consumers_per_stream() {
        let engine = Engine::open(config(), Arc::new(MemoryStore::new())).await.unwrap();
        engine.create_stream(NewStream::provisioned(&k("s"), 1)).await.unwrap();
        for i in 0..MAX_CONSUMERS_PER_STREAM {
            engine.register_consumer(&k("s"), &format!("c{i}"), Vec::new()).await.unwrap();
        }
        let again = engine.register_consumer(&k("s"), "c0", Vec::new()).await;
        assert!(matches!(again, Err(KinesisError::ResourceInUse(_))), "{again:?}");
        let over = engine.register_consumer(&k("s"), "c20", Vec::new()).await;
        assert!(matches!(over, Err(KinesisError::LimitExceeded(_))), "{over:?}");
        engine.deregister_consumer(&named("s", "c3")).await.unwrap();
        engine.register_consumer(&k("s"), "c20", Vec::new()).await.unwrap();
    }
}
