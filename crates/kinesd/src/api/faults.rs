//! Fault injection (`--faults FILE`, the admin endpoint `/_kinesd/faults`): rules that match
//! operations, stream names (a glob) and optionally shards, each with an effect — an AWS
//! error for the whole call with a probability, a per-record failure in PutRecords (the
//! record is not written, as with AWS), or added latency (a rule may also add latency before
//! its error). Random choices come from one
//! generator seeded by `--fault-seed`, so a run is repeatable for the same sequence of calls.
//!
//! The rules are read far more often than they change: a read lock of a shared list, nothing
//! more, when none are set. At most [`MAX_RULES`] rules; latency at most [`MAX_LATENCY_MS`].

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::engine::catalog::parse_shard_id;
use crate::engine::records::RecordFault;
use crate::error::KinesisError;
use crate::protocol::model::Operation;
use crate::wildcard;

/// Rules at most: each call walks them all.
pub const MAX_RULES: usize = 256;
/// Added latency at most: a rule cannot hold a request (and its connection) longer.
pub const MAX_LATENCY_MS: u64 = 60_000;

/// Common errors any AWS operation may answer, besides those its model lists.
const COMMON_ERRORS: &[&str] = &["InternalFailure", "ServiceUnavailable", "ThrottlingException"];

/// The KMS errors of the operations that read or write encrypted records.
const KMS_ERRORS: &[&str] = &[
    "KMSDisabledException",
    "KMSInvalidStateException",
    "KMSAccessDeniedException",
    "KMSNotFoundException",
    "KMSOptInRequired",
    "KMSThrottlingException",
];

/// The errors each operation can return, from the service model (botocore's kinesis
/// service-2.json, `errors` of each operation), and whether the KMS errors are among them.
fn modeled_errors(operation: &str) -> (&'static [&'static str], bool) {
    const RNF: &str = "ResourceNotFoundException";
    const RIU: &str = "ResourceInUseException";
    const IA: &str = "InvalidArgumentException";
    const LE: &str = "LimitExceededException";
    const AD: &str = "AccessDeniedException";
    const VE: &str = "ValidationException";
    const ENT: &str = "ExpiredNextTokenException";
    const PTE: &str = "ProvisionedThroughputExceededException";
    const IFE: &str = "InternalFailureException";
    match operation {
        "AddTagsToStream"
        | "DecreaseStreamRetentionPeriod"
        | "DeleteResourcePolicy"
        | "DeleteStream"
        | "DisableEnhancedMonitoring"
        | "EnableEnhancedMonitoring"
        | "GetResourcePolicy"
        | "IncreaseStreamRetentionPeriod"
        | "ListTagsForResource"
        | "PutResourcePolicy"
        | "RemoveTagsFromStream"
        | "StopStreamEncryption"
        | "SubscribeToShard"
        | "TagResource"
        | "UntagResource" => (&[RNF, RIU, IA, LE, AD], false),
        "CreateStream" => (&[RIU, LE, IA, VE], false),
        "DeregisterStreamConsumer" | "DescribeStreamConsumer" => (&[LE, RNF, IA], false),
        "DescribeAccountSettings" | "DescribeLimits" => (&[LE], false),
        "DescribeStream" | "DescribeStreamSummary" | "ListTagsForStream" => (&[RNF, LE, IA, AD], false),
        "GetRecords" => (&[RNF, IA, PTE, "ExpiredIteratorException", AD, IFE], true),
        "GetShardIterator" => (&[RNF, IA, PTE, AD, IFE], false),
        "ListShards" => (&[RNF, IA, LE, ENT, RIU, AD], false),
        "ListStreamConsumers" => (&[RNF, IA, LE, ENT, RIU], false),
        "ListStreams" => (&[LE, ENT, IA], false),
        "MergeShards" | "SplitShard" | "UpdateMaxRecordSize" | "UpdateShardCount" | "UpdateStreamWarmThroughput" => {
            (&[RNF, RIU, IA, LE, VE, AD], false)
        }
        "PutRecord" | "PutRecords" => (&[RNF, IA, PTE, AD, IFE], true),
        "RegisterStreamConsumer" => (&[IA, LE, RIU, RNF], false),
        "StartStreamEncryption" => (&[IA, LE, RIU, RNF, AD], true),
        "UpdateAccountSettings" => (&[IA, VE, LE], false),
        "UpdateStreamMode" => (&[IA, LE, RIU, RNF, VE], false),
        _ => (&[], false),
    }
}

/// Whether `operation` can answer `error`.
fn can_return(operation: &str, error: &str) -> bool {
    let (modeled, kms) = modeled_errors(operation);
    COMMON_ERRORS.contains(&error) || modeled.contains(&error) || (kms && KMS_ERRORS.contains(&error))
}

/// A rule as written in the file or sent to the admin endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<OneOrMany>,
    /// A glob (`*` any run of characters, `?` any one), or a list of globs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<OneOrMany>,
    /// Shard ids (`shardId-000000000001`) or indexes (`1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<Vec<ShardSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<LatencySpec>,
}

/// A name or a list of names, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn list(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ShardSpec {
    Index(u32),
    Id(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LatencySpec {
    Fixed(u64),
    Range([u64; 2]),
}

/// A set of rules: the file's top level, and the admin endpoint's body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    #[serde(default)]
    pub fault: Vec<RuleSpec>,
}

impl RuleSet {
    pub fn from_toml(text: &str) -> Result<RuleSet, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn from_json(body: &[u8]) -> Result<RuleSet, String> {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }
}

#[derive(Debug, Clone)]
enum Failure {
    /// The whole call fails with `error`.
    Call { error: String, probability: f64 },
    /// Each PutRecords record fails with this probability and is not written.
    Records { fault: RecordFault, probability: f64 },
}

/// A checked rule: a latency, a failure, or both (the latency first).
#[derive(Debug, Clone)]
struct Rule {
    operations: Option<Vec<&'static str>>,
    streams: Option<Vec<String>>,
    shards: Option<Vec<u32>>,
    /// `(low, high, probability)` in milliseconds.
    latency: Option<(u64, u64, f64)>,
    failure: Option<Failure>,
}

impl Rule {
    fn compile(n: usize, spec: &RuleSpec) -> Result<Rule, String> {
        let bad = |why: String| Err(format!("fault rule {n}: {why}"));
        let operations = match &spec.operations {
            None => None,
            Some(names) => {
                let mut ops = Vec::new();
                for name in names.list() {
                    match Operation::from_name(&name) {
                        Some(op) => ops.push(op.name()),
                        None => return bad(format!("unknown operation {name:?}")),
                    }
                }
                Some(ops)
            }
        };
        let shards = match &spec.shards {
            None => None,
            Some(list) => {
                let mut shards = Vec::with_capacity(list.len());
                for s in list {
                    match s {
                        ShardSpec::Index(i) => shards.push(*i),
                        ShardSpec::Id(id) => match parse_shard_id(id) {
                            Some(i) => shards.push(i),
                            None => return bad(format!("{id:?} is not a shard id")),
                        },
                    }
                }
                Some(shards)
            }
        };
        for p in [spec.probability, spec.record_probability].into_iter().flatten() {
            if !(0.0..=1.0).contains(&p) {
                return bad(format!("probability {p} is not between 0 and 1"));
            }
        }
        if spec.error.is_none() && spec.latency_ms.is_none() {
            return bad("no effect: give `error` or `latency_ms`".into());
        }
        let latency = match spec.latency_ms {
            None => None,
            Some(latency) => {
                let (low, high) = match latency {
                    LatencySpec::Fixed(ms) => (ms, ms),
                    LatencySpec::Range([a, b]) => (a, b),
                };
                if low > high || high > MAX_LATENCY_MS {
                    return bad(format!(
                        "latency_ms must be a number or [low, high] with low <= high <= {MAX_LATENCY_MS}"
                    ));
                }
                // With an error, the probability is the error's; the latency always applies.
                let probability = if spec.error.is_some() { 1.0 } else { spec.probability.unwrap_or(1.0) };
                Some((low, high, probability))
            }
        };
        let failure = match &spec.error {
            None => {
                if spec.record_probability.is_some() {
                    return bad("`record_probability` needs an `error`".into());
                }
                None
            }
            Some(error) => {
                if KinesisError::injected(error, None, None, "000000000000").is_none() {
                    return bad(format!("{error:?} is not an error type of the Kinesis API"));
                }
                Some(match (spec.probability, spec.record_probability) {
                    (Some(_), Some(_)) => {
                        return bad("`probability` (whole call) or `record_probability` (PutRecords), not both".into());
                    }
                    (_, Some(probability)) => {
                        if operations.as_ref().is_some_and(|ops| ops.iter().any(|op| *op != "PutRecords")) {
                            return bad("`record_probability` applies to PutRecords only".into());
                        }
                        let fault = match error.as_str() {
                            "InternalFailure" => RecordFault::Internal,
                            "ProvisionedThroughputExceededException" => RecordFault::Throttled,
                            _ => {
                                return bad(format!(
                                    "a PutRecords record fails with InternalFailure or \
                                     ProvisionedThroughputExceededException, not {error}"
                                ));
                            }
                        };
                        Failure::Records { fault, probability }
                    }
                    (probability, None) => {
                        if let Some(op) = operations.iter().flatten().find(|op| !can_return(op, error)) {
                            return bad(format!("{op} cannot return {error}"));
                        }
                        Failure::Call { error: error.clone(), probability: probability.unwrap_or(1.0) }
                    }
                })
            }
        };
        Ok(Rule { operations, streams: spec.streams.as_ref().map(OneOrMany::list), shards, latency, failure })
    }

    /// Whether the rule applies to a call; a rule without operations applies to those that
    /// can return its error (PutRecords alone for per-record failures), or to all for latency.
    fn matches(&self, operation: &str, stream: Option<&str>) -> bool {
        let operation_ok = match (&self.operations, &self.failure) {
            (Some(ops), _) => ops.contains(&operation),
            (None, Some(Failure::Records { .. })) => operation == "PutRecords",
            (None, Some(Failure::Call { error, .. })) => can_return(operation, error),
            (None, None) => true,
        };
        let stream_ok = match (&self.streams, stream) {
            (None, _) => true,
            (Some(globs), Some(stream)) => globs.iter().any(|g| wildcard::matches(g, stream, false)),
            (Some(_), None) => false,
        };
        operation_ok && stream_ok
    }

    /// Whether the rule names no shards or names `shard`; a call whose shard is unknown matches
    /// only rules that name none.
    fn matches_shard(&self, shard: Option<u32>) -> bool {
        match (&self.shards, shard) {
            (None, _) => true,
            (Some(shards), Some(shard)) => shards.contains(&shard),
            (Some(_), None) => false,
        }
    }
}

/// What the rules decided for one call.
#[derive(Debug, Default)]
pub struct CallFaults {
    pub latency: Option<Duration>,
    /// The error type the call fails with.
    pub error: Option<String>,
}

/// The rules in force and the random generator they draw from.
pub struct Faults {
    specs: RwLock<Arc<(RuleSet, Vec<Rule>)>>,
    rng: Mutex<StdRng>,
    seed: Option<u64>,
}

impl Faults {
    /// No rules; `seed` makes the random choices repeatable.
    pub fn new(seed: Option<u64>) -> Faults {
        let rng = match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Faults { specs: RwLock::new(Arc::new((RuleSet::default(), Vec::new()))), rng: Mutex::new(rng), seed }
    }

    /// Replaces the rules, all or none: a bad rule leaves the ones in force.
    pub fn replace(&self, rules: RuleSet) -> Result<(), String> {
        if rules.fault.len() > MAX_RULES {
            return Err(format!("at most {MAX_RULES} fault rules"));
        }
        let compiled =
            rules.fault.iter().enumerate().map(|(i, r)| Rule::compile(i + 1, r)).collect::<Result<_, _>>()?;
        *self.specs.write() = Arc::new((rules, compiled));
        Ok(())
    }

    pub fn rules(&self) -> RuleSet {
        self.specs.read().0.clone()
    }

    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    pub fn is_empty(&self) -> bool {
        self.specs.read().1.is_empty()
    }

    fn draw(&self, probability: f64) -> bool {
        probability >= 1.0 || (probability > 0.0 && self.rng.lock().random_bool(probability))
    }

    /// The latency and whole-call error for a call; latencies of several rules add up, and
    /// the first rule whose error is drawn decides the error.
    pub fn on_call(&self, operation: &str, stream: Option<&str>, shard: Option<u32>) -> CallFaults {
        let rules = self.specs.read().clone();
        let mut out = CallFaults::default();
        for rule in rules.1.iter().filter(|r| r.matches(operation, stream)) {
            // Per-record rules match shards record by record, in `RecordFaults::decide`.
            if matches!(rule.failure, Some(Failure::Records { .. })) {
                continue;
            }
            if !rule.matches_shard(shard) {
                continue;
            }
            if let Some((low, high, probability)) = rule.latency
                && self.draw(probability)
            {
                let ms = if low == high { low } else { self.rng.lock().random_range(low..=high) };
                out.latency = Some(out.latency.unwrap_or_default() + Duration::from_millis(ms));
            }
            if let Some(Failure::Call { error, probability }) = &rule.failure
                && out.error.is_none()
                && self.draw(*probability)
            {
                out.error = Some(error.clone());
            }
        }
        out
    }

    /// The per-record rules for a PutRecords on `stream`, if any: `decide(shard)` then draws
    /// each record's fate.
    pub fn records(&self, stream: &str) -> Option<RecordFaults<'_>> {
        let rules = self.specs.read().clone();
        let any = rules
            .1
            .iter()
            .any(|r| matches!(r.failure, Some(Failure::Records { .. })) && r.matches("PutRecords", Some(stream)));
        any.then(|| RecordFaults { faults: self, rules, stream: stream.to_owned() })
    }
}

/// The per-record rules that apply to one PutRecords.
pub struct RecordFaults<'a> {
    faults: &'a Faults,
    rules: Arc<(RuleSet, Vec<Rule>)>,
    stream: String,
}

impl RecordFaults<'_> {
    /// Whether the record bound for `shard` fails, and how: the first matching rule whose draw
    /// succeeds.
    pub fn decide(&self, shard: u32) -> Option<RecordFault> {
        for rule in self.rules.1.iter() {
            let Some(Failure::Records { fault, probability }) = rule.failure else { continue };
            if rule.matches("PutRecords", Some(&self.stream))
                && rule.matches_shard(Some(shard))
                && self.faults.draw(probability)
            {
                return Some(fault);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
