//! kinesd: a server for the Amazon Kinesis Data Streams API.
//!
//! Layers, top to bottom (data flows one way): `transport` (HTTP/1.1 and h2c), `protocol`
//! (codecs, envelope, model, validation), `auth`, `api` (one module per operation), `engine`
//! (streams, shards, sequence numbers, iterators) and `store` (catalog and shard logs).
//! `error` (AWS's error types and messages), `meter` (atomic counters and histograms) and
//! `shutdown` are shared by all of them. `cli` holds `kinesd tail` and `kinesd put`, clients of
//! the API that never reach below it.
//! `docs/architecture.md` draws the map.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod declared;
pub mod engine;
pub mod error;
pub mod meter;
pub mod open_files;
pub mod protocol;
pub mod shutdown;
pub mod store;
pub mod transport;
pub mod wildcard;
