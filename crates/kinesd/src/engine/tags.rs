//! Tags (AddTagsToStream, RemoveTagsFromStream, TagResource, UntagResource) and resource
//! policies of streams.
//!
//! AWS checks that the stream exists before it checks the tags' characters, and the
//! characters before the count; the messages below are the ones its tests record. Resource
//! policies are stored as given once they parse as a policy document; enforcing them is
//! authentication's job.

use super::Engine;
use super::catalog::StreamKey;
use crate::error::{KinesisError, Result};

/// A stream may carry at most this many tags.
pub const MAX_TAGS_PER_STREAM: usize = 50;

/// Whether a tag key or value uses only the characters AWS allows: Unicode letters and digits,
/// spaces, and `_ . / = + - % @ :` (`%` is refused separately, with its own message).
fn tag_chars_valid(s: &str) -> bool {
    s.chars().all(|c| c.is_alphanumeric() || " _./=+-%@:".contains(c))
}

/// Which operation checks the tags, for the wording of AWS's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagVerb {
    Add,
    Remove,
}

impl Engine {
    /// The tags a new stream is created with obey AddTagsToStream's rules.
    pub(super) fn check_creation_tags(&self, stream: &StreamKey, tags: &[(String, String)]) -> Result<()> {
        self.check_tag_text(stream, TagVerb::Add, tags.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]))?;
        if tags.len() > MAX_TAGS_PER_STREAM {
            return Err(self.too_many_tags(stream));
        }
        Ok(())
    }

    /// The characters of tags to add (to a stream or a consumer of `stream`).
    pub(super) fn check_tag_text_for_add(&self, stream: &StreamKey, tags: &[(String, String)]) -> Result<()> {
        self.check_tag_text(stream, TagVerb::Add, tags.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]))
    }

    /// The characters of tag keys to remove (from a stream or a consumer of `stream`).
    pub(super) fn check_tag_text_for_remove(&self, stream: &StreamKey, keys: &[String]) -> Result<()> {
        self.check_tag_text(stream, TagVerb::Remove, keys.iter().map(String::as_str))
    }

    fn too_many_tags(&self, stream: &StreamKey) -> KinesisError {
        KinesisError::too_many_tags(&stream.name, &stream.account, MAX_TAGS_PER_STREAM)
    }

    fn check_tag_text<'a>(
        &self,
        stream: &StreamKey,
        verb: TagVerb,
        mut texts: impl Iterator<Item = &'a str> + Clone,
    ) -> Result<()> {
        if !texts.clone().all(tag_chars_valid) {
            return Err(KinesisError::tags_invalid_characters());
        }
        if texts.any(|t| t.contains('%')) {
            let (name, account) = (&stream.name, &stream.account);
            return Err(match verb {
                TagVerb::Add => KinesisError::tags_to_add_illegal_characters(name, account),
                TagVerb::Remove => KinesisError::tags_to_remove_illegal_characters(name, account),
            });
        }
        Ok(())
    }

    /// Adds or overwrites `tags`; a stream ends up with at most 50.
    pub async fn add_tags(&self, name: &StreamKey, tags: Vec<(String, String)>) -> Result<()> {
        self.modify(name, |stream, _| {
            self.require_settled(stream)?;
            self.check_tag_text(name, TagVerb::Add, tags.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]))?;
            let added = tags
                .iter()
                .filter(|(k, _)| !stream.tags.iter().any(|(e, _)| e == k))
                .map(|(k, _)| k)
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            if stream.tags.len() + added > MAX_TAGS_PER_STREAM {
                return Err(self.too_many_tags(name));
            }
            for (key, value) in tags {
                match stream.tags.iter_mut().find(|(k, _)| *k == key) {
                    Some(existing) => existing.1 = value,
                    None => stream.tags.push((key, value)),
                }
            }
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// Removes `keys`; keys the stream does not have are ignored.
    pub async fn remove_tags(&self, name: &StreamKey, keys: &[String]) -> Result<()> {
        self.modify(name, |stream, _| {
            self.require_settled(stream)?;
            self.check_tag_text(name, TagVerb::Remove, keys.iter().map(String::as_str))?;
            stream.tags.retain(|(k, _)| !keys.contains(k));
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// Attaches `policy` to the stream, replacing any earlier one.
    pub async fn put_resource_policy(&self, name: &StreamKey, policy: String) -> Result<()> {
        self.modify(name, |stream, _| {
            self.require_settled(stream)?;
            check_policy_document(&policy)?;
            stream.resource_policy = Some(policy);
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// Removes the stream's resource policy; a stream without one is AWS's
    /// ResourceNotFoundException.
    pub async fn delete_resource_policy(&self, name: &StreamKey) -> Result<()> {
        let arn = self.stream_arn(name);
        self.modify(name, |stream, _| {
            self.require_settled(stream)?;
            if stream.resource_policy.take().is_none() {
                return Err(KinesisError::resource_policy_not_found(&arn));
            }
            Ok(())
        })
        .await
        .map(|_| ())
    }
}

/// A resource policy must be a JSON policy document: an object with a `Statement` that is an
/// object or a non-empty array of objects.
pub(super) fn check_policy_document(policy: &str) -> Result<()> {
    let doc: serde_json::Value = serde_json::from_str(policy).map_err(|_| KinesisError::policy_not_json())?;
    let statement = doc
        .as_object()
        .ok_or_else(KinesisError::policy_not_an_object)?
        .get("Statement")
        .ok_or_else(KinesisError::policy_without_statement)?;
    let ok = match statement {
        serde_json::Value::Object(_) => true,
        serde_json::Value::Array(items) => !items.is_empty() && items.iter().all(serde_json::Value::is_object),
        _ => false,
    };
    if !ok {
        return Err(KinesisError::policy_statement_malformed());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_characters_follow_aws() {
        for ok in ["a", "ü0 _.", "/=+-@", "ü0 _./=+-@", "", "a:b", "统一码"] {
            assert!(tag_chars_valid(ok), "{ok:?}");
        }
        for bad in ["abc;def", "abc\tdef", "abc\ndef", "abc,def", "a*b"] {
            assert!(!tag_chars_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn policies_must_be_policy_documents() {
        assert!(check_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}"#).is_ok());
        assert!(check_policy_document(r#"{"Statement":{"Effect":"Deny"}}"#).is_ok());
        for bad in ["", "nope", "[]", "{}", r#"{"Statement":[]}"#, r#"{"Statement":"x"}"#] {
            assert!(matches!(check_policy_document(bad), Err(KinesisError::InvalidArgument(_))), "{bad:?}");
        }
    }
}
