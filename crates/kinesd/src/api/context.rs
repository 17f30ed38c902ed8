//! What every operation receives besides its input: the engine, who is calling, how they
//! speak, where from, and the server's shutdown signal (which long-lived replies must obey).

use std::sync::Arc;

use crate::auth::Caller;
use crate::engine::Engine;
use crate::protocol::Codec;
use crate::protocol::wire::Peer;
use crate::shutdown::Shutdown;

pub struct Context {
    pub engine: Arc<Engine>,
    /// The operation requested: the action (`kinesis:<name>`) policies are evaluated for.
    pub operation: crate::protocol::model::Operation,
    pub caller: Caller,
    pub codec: Codec,
    pub peer: Peer,
    pub shutdown: Shutdown,
    /// Fault rules in force (per-record failures are decided by the operation).
    pub faults: Arc<super::faults::Faults>,
    /// Resource policies already parsed, shared by every request (`api::policy_cache`).
    pub policies: Arc<super::policy_cache::PolicyCache>,
}
