//! The credentials kinesd accepts (`--credentials FILE`): a TOML file of `[[credential]]`
//! entries, each an access key with its secret, its account and optionally a session token, a
//! user name and an identity policy. The file is read whole and checked whole: a start with a
//! bad file fails naming the file and the entry, and a reload (SIGHUP) with a bad file keeps the
//! credentials already loaded. A reload swaps one immutable [`CredentialSet`] for another, so a
//! request sees either the old set or the new one, never a mix.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::Deserialize;

/// Derived signing keys kept per credential set, at most this many; when full the cache is
/// emptied and refilled (each entry is one access key on one day in one region, so a server sees
/// a handful a day and the bound is only reached by a client cycling through scopes).
pub const SIGNING_KEY_CACHE_ENTRIES: usize = 1024;

/// One configured access key.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    secret_access_key: String,
    /// The account whose resources the key's requests act on.
    pub account_id: String,
    /// When set, every request signed with this key must carry it as `X-Amz-Security-Token`.
    session_token: Option<String>,
    /// The IAM user the key belongs to, for ARNs and policy principals.
    pub user: Option<String>,
    /// An identity policy limiting what the key may do (evaluated by the policy issue's code).
    pub policy: Option<Arc<IdentityPolicy>>,
}

impl Credential {
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
}

/// Secrets and tokens never reach a log.
impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field("session_token", &self.session_token.as_ref().map(|_| "…"))
            .field("user", &self.user)
            .field("policy", &self.policy.is_some())
            .finish_non_exhaustive()
    }
}

/// An IAM identity policy document as configured, parsed when the file loads (a document that
/// is not a valid identity policy stops the load) and evaluated for every request of its key
/// (`api::access`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPolicy {
    pub document: String,
    pub policy: super::policy::Policy,
}

/// What a credentials file holds, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    credential: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    access_key_id: String,
    secret_access_key: String,
    account_id: String,
    session_token: Option<String>,
    user: Option<String>,
    policy: Option<String>,
}

impl Entry {
    /// The entry as a credential, or why it cannot be one.
    fn check(self) -> Result<Credential, String> {
        // AWS's access key ids are 16 to 128 word characters; anything else could never be
        // signed for by an SDK (the id is a path segment of the credential scope).
        let id = &self.access_key_id;
        if id.len() < 3 || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err("access_key_id must be 3 to 128 letters, digits or underscores".into());
        }
        if self.secret_access_key.is_empty() {
            return Err("secret_access_key must not be empty".into());
        }
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("account_id must be twelve digits, not {:?}", self.account_id));
        }
        if self.session_token.as_deref() == Some("") {
            return Err("session_token must not be empty (leave it out for a key without one)".into());
        }
        if let Some(user) = &self.user
            && (user.is_empty() || user.len() > 64)
        {
            return Err("user must be 1 to 64 characters".into());
        }
        let policy = match self.policy {
            None => None,
            Some(document) => match serde_json::from_str::<serde_json::Value>(&document) {
                Ok(serde_json::Value::Object(_)) => {
                    match super::policy::Policy::parse(&document, super::policy::Kind::Identity) {
                        Ok(policy) => Some(Arc::new(IdentityPolicy { document, policy })),
                        Err(e) => return Err(format!("policy is not a valid identity policy: {e}")),
                    }
                }
                Ok(_) => return Err("policy must be a JSON object (an IAM policy document)".into()),
                Err(e) => return Err(format!("policy is not JSON: {e}")),
            },
        };
        Ok(Credential {
            access_key_id: self.access_key_id,
            secret_access_key: self.secret_access_key,
            account_id: self.account_id,
            session_token: self.session_token,
            user: self.user,
            policy,
        })
    }
}

/// One loaded credentials file: the keys by access key id, and the signing keys derived from
/// them (dropped with the set, so a reload that changes a secret never uses a stale key).
pub struct CredentialSet {
    by_key: HashMap<String, Arc<Credential>>,
    signing_keys: Mutex<HashMap<String, [u8; 32]>>,
}

impl CredentialSet {
    /// Parses and checks a credentials file's text; errors name the entry (counted from 1).
    pub fn parse(text: &str) -> Result<CredentialSet, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        if file.credential.is_empty() {
            return Err("no [[credential]] entries (every request would be refused)".into());
        }
        let mut by_key = HashMap::with_capacity(file.credential.len());
        for (i, entry) in file.credential.into_iter().enumerate() {
            let id = entry.access_key_id.clone();
            let credential = entry.check().map_err(|why| format!("credential {} ({id:?}): {why}", i + 1))?;
            if by_key.insert(id.clone(), Arc::new(credential)).is_some() {
                return Err(format!("credential {} ({id:?}): access_key_id appears twice", i + 1));
            }
        }
        Ok(CredentialSet { by_key, signing_keys: Mutex::new(HashMap::new()) })
    }

    pub fn get(&self, access_key_id: &str) -> Option<&Arc<Credential>> {
        self.by_key.get(access_key_id)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The signing key of `scope` (`AKID/yyyymmdd/region/service`), derived by `derive` the
    /// first time and then kept (bounded by [`SIGNING_KEY_CACHE_ENTRIES`]).
    pub fn signing_key(&self, scope: &str, derive: impl FnOnce() -> [u8; 32]) -> [u8; 32] {
        if let Some(key) = self.signing_keys.lock().get(scope) {
            return *key;
        }
        let key = derive();
        let mut cache = self.signing_keys.lock();
        if cache.len() >= SIGNING_KEY_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(scope.to_owned(), key);
        key
    }

    #[cfg(test)]
    pub fn cached_signing_keys(&self) -> usize {
        self.signing_keys.lock().len()
    }
}

/// The credentials file and the set last loaded from it.
pub struct Keyring {
    path: PathBuf,
    current: RwLock<Arc<CredentialSet>>,
}

impl Keyring {
    /// Loads `path`; the error names the file and, for a bad entry, the entry.
    pub fn load(path: &Path) -> Result<Keyring, String> {
        let set = read(path)?;
        Ok(Keyring { path: path.to_owned(), current: RwLock::new(Arc::new(set)) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The set requests are verified against now.
    pub fn current(&self) -> Arc<CredentialSet> {
        self.current.read().clone()
    }

    /// Reads the file again and, if it is valid, replaces the set at once; if not, keeps the
    /// current set and says why. Returns the number of credentials now loaded.
    pub fn reload(&self) -> Result<usize, String> {
        let set = read(&self.path)?;
        let n = set.len();
        *self.current.write() = Arc::new(set);
        Ok(n)
    }
}

fn read(path: &Path) -> Result<CredentialSet, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the credentials file {}: {e}", path.display()))?;
    CredentialSet::parse(&text).map_err(|why| format!("invalid credentials file {}: {why}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[credential]]
access_key_id = "AKIAEXAMPLEAAAAAAAAA"
secret_access_key = "secret-a"
account_id = "111111111111"

[[credential]]
access_key_id = "AKIAEXAMPLEBBBBBBBBB"
secret_access_key = "secret-b"
account_id = "222222222222"
session_token = "token-b"
user = "producer-1"
policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kinesis:Get*", "Resource": "*"}]}'
"#;

    #[test]
    fn entries_become_credentials_by_access_key() {
        let set = CredentialSet::parse(GOOD).unwrap();
        assert_eq!(set.len(), 2);
        let a = set.get("AKIAEXAMPLEAAAAAAAAA").unwrap();
        assert_eq!(
            (a.account_id.as_str(), a.secret_access_key(), a.session_token()),
            ("111111111111", "secret-a", None)
        );
        let b = set.get("AKIAEXAMPLEBBBBBBBBB").unwrap();
        assert_eq!(b.session_token(), Some("token-b"));
        assert_eq!(b.user.as_deref(), Some("producer-1"));
        assert!(b.policy.as_ref().unwrap().document.contains("2012-10-17"));
        assert!(set.get("AKIAEXAMPLECCCCCCCCC").is_none());
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let set = CredentialSet::parse(GOOD).unwrap();
        let shown = format!("{:?}", set.get("AKIAEXAMPLEBBBBBBBBB").unwrap());
        assert!(!shown.contains("secret-b") && !shown.contains("token-b"), "{shown}");
    }

    #[test]
    fn bad_entries_are_named() {
        let entry = |fields: &str| format!("[[credential]]\n{fields}\n");
        let base = "access_key_id = \"AKID1\"\nsecret_access_key = \"s\"\naccount_id = \"111111111111\"";
        for (text, expected) in [
            (String::new(), "no [[credential]] entries".to_owned()),
            (entry("access_key_id = \"AKID1\"\nsecret_access_key = \"s\""), "missing field `account_id`".to_owned()),
            (
                entry(&base.replace("111111111111", "12")),
                "credential 1 (\"AKID1\"): account_id must be twelve digits".to_owned(),
            ),
            (entry(&base.replace("\"s\"", "\"\"")), "secret_access_key must not be empty".to_owned()),
            (entry(&base.replace("AKID1", "AK/ID")), "access_key_id must be".to_owned()),
            (
                format!("{}{}", entry(base), entry(base)),
                "credential 2 (\"AKID1\"): access_key_id appears twice".to_owned(),
            ),
            (entry(&format!("{base}\npolicy = 'nope'")), "policy is not JSON".to_owned()),
            (entry(&format!("{base}\npolicy = '[1]'")), "policy must be a JSON object".to_owned()),
            (entry(&format!("{base}\nsession_token = ''")), "session_token must not be empty".to_owned()),
            (entry(&format!("{base}\nbogus = 1")), "unknown field `bogus`".to_owned()),
        ] {
            let e = CredentialSet::parse(&text).err().unwrap_or_else(|| panic!("accepted: {text}"));
            assert!(e.contains(&expected), "{text}\n→ {e}");
        }
    }

    #[test]
    fn a_bad_reload_keeps_the_loaded_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.toml");
        std::fs::write(&path, GOOD).unwrap();
        let keyring = Keyring::load(&path).unwrap();
        let before = keyring.current();
        std::fs::write(&path, "[[credential]]\naccess_key_id = 1\n").unwrap();
        let e = keyring.reload().unwrap_err();
        assert!(e.contains(&path.display().to_string()), "{e}");
        assert!(Arc::ptr_eq(&before, &keyring.current()), "the old set stays");
        std::fs::write(&path, &GOOD[..GOOD.find("\n[[credential]]\naccess_key_id = \"AKIAEXAMPLEB").unwrap()]).unwrap();
        assert_eq!(keyring.reload().unwrap(), 1);
        assert!(keyring.current().get("AKIAEXAMPLEBBBBBBBBB").is_none());
        let e = Keyring::load(&dir.path().join("missing.toml")).err().unwrap();
        assert!(e.starts_with("cannot read the credentials file"), "{e}");
    }

    #[test]
    fn signing_keys_are_cached_within_the_bound() {
        let set = CredentialSet::parse(GOOD).unwrap();
        let mut derived = 0;
        for _ in 0..3 {
            set.signing_key("AKID/20261206/us-east-1/kinesis", || {
                derived += 1;
                [7; 32]
            });
        }
        assert_eq!(derived, 1);
        for i in 0..SIGNING_KEY_CACHE_ENTRIES + 5 {
            set.signing_key(&format!("AKID/{i}/us-east-1/kinesis"), || [0; 32]);
        }
        assert!(set.cached_signing_keys() <= SIGNING_KEY_CACHE_ENTRIES);
    }
}
