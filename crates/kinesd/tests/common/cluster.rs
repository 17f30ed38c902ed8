//! Cluster mode of the SDK suite (`KINESD_TEST_CLUSTER=1`): every test's server is two kinesd
//! nodes on one 3-node NATS JetStream cluster shared by the whole test binary, and its client
//! sends its calls to the two nodes in turn, so that each test's assertions hold only if what
//! one node did is what the other one sees.
//!
//! The NATS cluster is the JetStream store's own test helper (127.0.0.1, temporary store
//! directories, `sync_interval: always`), compiled in here rather than exported from the
//! library: it is started once, never dropped, and its watchdogs stop the servers and remove
//! their files within a fraction of a second once the test process is gone.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_kinesis::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;

#[allow(dead_code, unreachable_pub)]
#[path = "../../src/store/jetstream/testing.rs"]
mod nats;

/// The NATS cluster of this test binary, started by the first test that asks. A missing
/// nats-server fails the test: whoever sets `KINESD_TEST_CLUSTER=1` asked for the cluster.
pub fn shared() -> &'static nats::NatsServers {
    static CLUSTER: OnceLock<nats::NatsServers> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let bin =
            nats::binary().expect("KINESD_TEST_CLUSTER=1 needs nats-server: set NATS_SERVER_BIN or put it on PATH");
        nats::NatsServers::start(bin, 3)
    })
}

/// A `--nats-prefix` no other test of any process uses, so that tests sharing the cluster
/// never see each other's streams (at most 32 of `[A-Za-z0-9_-]`).
pub fn unique_prefix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("t{}x{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// `client` (configured for node `a`) made to send call 1 to `b`, call 2 to `a`, and so on.
pub fn alternating(client: Client, a: &str, b: &str) -> Client {
    let turn = Alternate { endpoints: [a.to_owned(), b.to_owned()], turn: AtomicUsize::new(0) };
    Client::from_conf(client.config().to_builder().interceptor(turn).build())
}

/// Rewrites each request's endpoint before it is signed (the signature covers the Host header,
/// which then names the node actually called). Retries are off in the test clients, so one
/// attempt is one call.
#[derive(Debug)]
struct Alternate {
    endpoints: [String; 2],
    turn: AtomicUsize,
}

impl Intercept for Alternate {
    fn name(&self) -> &'static str {
        "AlternateNodes"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed) + 1;
        let request = context.request_mut();
        let uri = request.uri().to_owned();
        let rest = uri
            .strip_prefix(self.endpoints[0].as_str())
            .ok_or_else(|| BoxError::from(format!("request to {uri}, not to the first node {}", self.endpoints[0])))?;
        request.set_uri(format!("{}{rest}", self.endpoints[turn % 2]))?;
        Ok(())
    }
}
