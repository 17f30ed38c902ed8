//! Parsed resource policies, so that a request on a stream or consumer that has a policy does
//! not parse its JSON again (up to 20 KiB and 100 statements) every time a caller with
//! credentials names it.
//!
//! An entry is keyed by the resource's ARN and holds the document it was parsed from; a lookup
//! hits only when the stored document is byte for byte the one the resource carries now. So a
//! changed policy can never be answered from the cache, whoever changed it — this node's
//! PutResourcePolicy or DeleteResourcePolicy, a stream deleted and created again with another
//! policy, or another kinesd node sharing the store — without any invalidation having to reach
//! this node. The operations that change or remove a policy still [`PolicyCache::forget`] its
//! entry (and PutResourcePolicy stores the policy it has just parsed), which frees memory early;
//! correctness never depends on it.
//!
//! Bound: [`RESOURCE_POLICY_CACHE_ENTRIES`] entries, each at most one 20 KiB document and its
//! parse; when full the cache is emptied and refilled, as the signing-key cache is (a server
//! hot on more resources with policies than that re-parses, which is what it did before).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::auth::policy::{Kind, Policy};

/// Resources whose parsed policy is kept: about 10 MiB at worst (256 × (20 KiB document +
/// parse)), a few hundred KiB for the policies people write.
pub const RESOURCE_POLICY_CACHE_ENTRIES: usize = 256;

/// The parsed resource policies of recently named streams and consumers, by ARN.
#[derive(Default)]
pub struct PolicyCache {
    entries: RwLock<HashMap<String, Entry>>,
}

struct Entry {
    /// The document the entry was parsed from: a lookup with any other text misses.
    document: Box<str>,
    /// None when the stored document does not parse (it then allows nothing).
    policy: Option<Arc<Policy>>,
}

impl PolicyCache {
    /// The parsed form of `document`, the resource policy `resource_arn` carries now; None if
    /// it does not parse as a resource policy (logged once per document, when parsed).
    pub fn get(&self, resource_arn: &str, document: &str) -> Option<Arc<Policy>> {
        if let Some(entry) = self.entries.read().get(resource_arn)
            && *entry.document == *document
        {
            return entry.policy.clone();
        }
        let policy = match Policy::parse(document, Kind::Resource) {
            Ok(policy) => Some(Arc::new(policy)),
            Err(e) => {
                tracing::warn!(resource = %resource_arn, error = %e, "stored resource policy does not parse; it allows nothing");
                None
            }
        };
        self.insert(resource_arn, document, policy.clone());
        policy
    }

    /// Keeps `policy`, just parsed from `document`, as `resource_arn`'s (PutResourcePolicy).
    pub fn put(&self, resource_arn: &str, document: &str, policy: Policy) {
        self.insert(resource_arn, document, Some(Arc::new(policy)));
    }

    /// Drops what is kept for `resource_arn` (its policy was deleted, or the resource was).
    pub fn forget(&self, resource_arn: &str) {
        self.entries.write().remove(resource_arn);
    }

    fn insert(&self, resource_arn: &str, document: &str, policy: Option<Arc<Policy>>) {
        let mut entries = self.entries.write();
        if entries.len() >= RESOURCE_POLICY_CACHE_ENTRIES && !entries.contains_key(resource_arn) {
            entries.clear();
        }
        entries.insert(resource_arn.to_owned(), Entry { document: document.into(), policy });
    }

    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::policy::{Decision, Request};

    const ARN: &str = "arn:aws:kinesis:us-east-1:111111111111:stream/s";

    fn document(effect: &str) -> String {
        format!(r#"{{"Statement":{{"Effect":"{effect}","Principal":"*","Action":"kinesis:*","Resource":"{ARN}"}}}}"#)
    }

    fn decide(policy: &Policy) -> Decision {
        policy.evaluate(&Request {
            account: "222222222222",
            principal_arn: "arn:aws:iam::222222222222:root",
            action: "kinesis:GetRecords",
            resource: ARN,
        })
    }

    #[test]
    fn a_lookup_parses_once_and_hits_only_the_same_document() {
        let cache = PolicyCache::default();
        let allow = document("Allow");
        let first = cache.get(ARN, &allow).unwrap();
        assert!(Arc::ptr_eq(&first, &cache.get(ARN, &allow).unwrap()), "the second lookup is a hit");
        // The resource now carries another document (changed anywhere, nothing forgotten):
        // the cached parse is not used.
        let deny = document("Deny");
        assert_eq!(decide(&cache.get(ARN, &deny).unwrap()), Decision::Deny);
        assert_eq!(decide(&cache.get(ARN, &allow).unwrap()), Decision::Allow);
        assert_eq!(cache.len(), 1);
        cache.forget(ARN);
        assert!(cache.is_empty());
    }

    #[test]
    fn a_document_that_does_not_parse_allows_nothing_and_is_kept() {
        let cache = PolicyCache::default();
        assert!(cache.get(ARN, "not a policy").is_none());
        assert!(cache.get(ARN, "not a policy").is_none());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn put_stores_the_parsed_policy() {
        let cache = PolicyCache::default();
        let allow = document("Allow");
        cache.put(ARN, &allow, Policy::parse(&allow, Kind::Resource).unwrap());
        assert_eq!(decide(&cache.get(ARN, &allow).unwrap()), Decision::Allow);
    }

    #[test]
    fn the_cache_stays_within_its_bound() {
        let cache = PolicyCache::default();
        let allow = document("Allow");
        for i in 0..RESOURCE_POLICY_CACHE_ENTRIES * 2 + 3 {
            cache.get(&format!("{ARN}-{i}"), &allow);
            assert!(cache.len() <= RESOURCE_POLICY_CACHE_ENTRIES);
        }
    }
}
