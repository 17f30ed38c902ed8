//! Calls kinesd makes on itself — the streams declared at start — through the same operations
//! any client calls, so that what they create is exactly what CreateStream and friends would
//! create, with the same checks and errors. The caller is the configured account, as an
//! unsigned client would be without `--credentials`; nothing reaches the transport.

use bytes::Bytes;

use super::{Api, Context, dispatch};
use crate::auth::Caller;
use crate::error::Result;
use crate::protocol::model::Operation;
use crate::protocol::wire::Peer;
use crate::protocol::{Codec, ReplyBody, request};

impl Api {
    /// Runs `operation` on the awsJson body `input` as the configured account; its JSON reply
    /// (`null` for void operations).
    pub async fn call_local(&self, operation: Operation, input: serde_json::Value) -> Result<serde_json::Value> {
        let body = Bytes::from(input.to_string());
        let parsed = request::parse(Codec::Json, operation, &body)?;
        let config = &self.engine.config;
        let context = Context {
            engine: self.engine.clone(),
            operation,
            caller: Caller {
                access_key_id: "kinesd".into(),
                account_id: config.account_id.clone(),
                region: config.region.clone(),
                principal: None,
            },
            codec: Codec::Json,
            peer: Peer { addr: ([127, 0, 0, 1], 0).into(), connection: 0 },
            shutdown: self.shutdown.clone(),
            faults: self.faults.clone(),
            policies: self.policies.clone(),
        };
        match dispatch(&context, operation, parsed).await? {
            ReplyBody::Encoded(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)),
            ReplyBody::Empty | ReplyBody::Stream(_) => Ok(serde_json::Value::Null),
        }
    }
}
