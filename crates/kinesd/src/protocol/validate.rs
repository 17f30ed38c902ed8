//! Model-constraint validation with AWS's messages.
//!
//! AWS (Coral) reports every failed constraint of a request in one ValidationException:
//! "2 validation errors detected: Value 'x' at 'streamName' failed to satisfy constraint: ...;
//! Value ...". Generated code calls these checks member by member in AWS's order; paths are
//! built lazily from a stack-allocated [`Path`] so that a valid request allocates nothing here.

use std::fmt::{self, Write as _};
use std::sync::LazyLock;

use regex::Regex;

/// AWS stops listing after this many violations.
const MAX_VIOLATIONS: usize = 10;

/// Where a member sits in the request, e.g. `records.3.member.partitionKey`.
#[derive(Clone, Copy)]
pub enum Path<'a> {
    Root,
    Member(&'a Path<'a>, &'static str),
    Element(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    pub fn member(&'a self, name: &'static str) -> Path<'a> {
        Path::Member(self, name)
    }
    pub fn element(&'a self, index: usize) -> Path<'a> {
        Path::Element(self, index)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Member(parent, name) => {
                if !matches!(parent, Path::Root) {
                    write!(f, "{parent}.")?;
                }
                let mut chars = name.chars();
                if let Some(first) = chars.next() {
                    write!(f, "{}{}", first.to_ascii_lowercase(), chars.as_str())?;
                }
                Ok(())
            }
            Path::Element(parent, i) => write!(f, "{parent}.{}.member", i + 1),
        }
    }
}

/// How a failing value appears in a message.
enum Shown<'a> {
    Value(&'a dyn fmt::Display),
    Null,
    Omitted,
}

/// A compiled model pattern with its source text (which the message quotes).
pub struct Pattern {
    pub source: &'static str,
    pub regex: &'static LazyLock<Regex>,
}

/// Bounds and rules of one member, straight from the model.
#[derive(Default, Clone, Copy)]
pub struct Rules {
    pub required: bool,
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// The accumulated violations of one request.
#[derive(Default)]
pub struct Violations {
    messages: Vec<String>,
}

impl Violations {
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The ValidationException message, or None when the request is valid.
    pub fn into_message(self) -> Option<String> {
        let n = self.messages.len();
        if n == 0 {
            return None;
        }
        let plural = if n > 1 { "s" } else { "" };
        Some(format!("{n} validation error{plural} detected: {}", self.messages.join("; ")))
    }

    fn push(&mut self, path: &Path, value: Option<&dyn fmt::Display>, constraint: &str) {
        self.push_shown(path, value.map_or(Shown::Null, Shown::Value), constraint);
    }

    fn push_shown(&mut self, path: &Path, value: Shown, constraint: &str) {
        if self.messages.len() >= MAX_VIOLATIONS {
            return;
        }
        let mut m = String::with_capacity(96);
        match value {
            Shown::Value(v) => {
                let _ = write!(m, "Value '{v}' at");
            }
            Shown::Null => m.push_str("Value null at"),
            Shown::Omitted => m.push_str("Value at"),
        }
        let _ = write!(m, " '{path}' failed to satisfy constraint: {constraint}");
        self.messages.push(m);
    }

    fn missing(&mut self, path: &Path, rules: Rules) -> bool {
        if rules.required {
            self.push(path, None, "Member must not be null");
        }
        true
    }

    pub fn string(&mut self, path: Path, value: Option<&str>, rules: Rules, pattern: Option<&Pattern>) {
        let Some(s) = value else {
            self.missing(&path, rules);
            return;
        };
        if let Some(p) = pattern
            && !p.regex.is_match(s)
        {
            let c = format!("Member must satisfy regular expression pattern: {}", p.source);
            self.push(&path, Some(&s), &c);
        }
        // Lengths count UTF-16 code units in AWS's Java implementation.
        let len = s.encode_utf16().count() as i64;
        self.lengths(&path, &s, len, rules);
    }

    pub fn enumeration(&mut self, path: Path, value: Option<&str>, rules: Rules, allowed: &[&str]) {
        let Some(s) = value else {
            self.missing(&path, rules);
            return;
        };
        if !allowed.contains(&s) {
            let c = format!("Member must satisfy enum value set: [{}]", allowed.join(", "));
            self.push(&path, Some(&s), &c);
        }
    }

    pub fn number(&mut self, path: Path, value: Option<i64>, rules: Rules) {
        let Some(n) = value else {
            self.missing(&path, rules);
            return;
        };
        if let Some(min) = rules.min
            && n < min
        {
            self.push(&path, Some(&n), &format!("Member must have value greater than or equal to {min}"));
        }
        if let Some(max) = rules.max
            && n > max
        {
            self.push(&path, Some(&n), &format!("Member must have value less than or equal to {max}"));
        }
    }

    /// Current AWS leaves a blob's value out of the message ("Value at 'data' failed ...").
    pub fn blob(&mut self, path: Path, len: Option<usize>, rules: Rules) {
        let Some(len) = len else {
            self.missing(&path, rules);
            return;
        };
        if let Some(min) = rules.min
            && (len as i64) < min
        {
            self.push_shown(&path, Shown::Omitted, &format!("Member must have length greater than or equal to {min}"));
        }
        if let Some(max) = rules.max
            && (len as i64) > max
        {
            self.push_shown(&path, Shown::Omitted, &format!("Member must have length less than or equal to {max}"));
        }
    }

    /// Lists and maps: `shown` renders the value the way AWS prints it.
    pub fn collection(&mut self, path: Path, len: Option<usize>, rules: Rules, shown: &dyn Fn() -> String) {
        let Some(len) = len else {
            self.missing(&path, rules);
            return;
        };
        let below = rules.min.is_some_and(|min| (len as i64) < min);
        let above = rules.max.is_some_and(|max| (len as i64) > max);
        if below || above {
            let shown = shown();
            self.lengths(&path, &shown, len as i64, rules);
        }
    }

    /// A constraint on every element (list members, map keys or values), reported once for
    /// the whole collection with the full constraint text (e.g. "Map keys must satisfy
    /// constraint: [Member must have length less than or equal to 128, ...]").
    pub fn elements(&mut self, path: Path, all_ok: bool, constraint: &str, shown: &dyn Fn() -> String) {
        if !all_ok {
            let shown = shown();
            self.push(&path, Some(&shown), constraint);
        }
    }

    fn lengths(&mut self, path: &Path, shown: &dyn fmt::Display, len: i64, rules: Rules) {
        if let Some(min) = rules.min
            && len < min
        {
            self.push(path, Some(shown), &format!("Member must have length greater than or equal to {min}"));
        }
        if let Some(max) = rules.max
            && len > max
        {
            self.push(path, Some(shown), &format!("Member must have length less than or equal to {max}"));
        }
    }
}

/// Length of a string as AWS's Java code counts it (UTF-16 code units).
pub fn java_len(s: &str) -> i64 {
    s.encode_utf16().count() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new("^(?:[a-zA-Z0-9_.-]+)$").unwrap());

    #[test]
    fn messages_follow_aws_format() {
        let mut v = Violations::default();
        let root = Path::Root;
        let pattern = Pattern { source: "[a-zA-Z0-9_.-]+", regex: &NAME };
        v.string(
            root.member("StreamName"),
            Some(""),
            Rules { required: true, min: Some(1), max: Some(128) },
            Some(&pattern),
        );
        assert_eq!(
            v.into_message().unwrap(),
            "2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
    }

    #[test]
    fn nested_paths_render_like_aws() {
        let root = Path::Root;
        let records = root.member("Records");
        let first = records.element(0);
        let pk = first.member("PartitionKey");
        assert_eq!(pk.to_string(), "records.1.member.partitionKey");
        let mut v = Violations::default();
        v.string(pk, None, Rules { required: true, ..Rules::default() }, None);
        assert_eq!(
            v.into_message().unwrap(),
            "1 validation error detected: Value null at 'records.1.member.partitionKey' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn blobs_leave_their_value_out() {
        let mut v = Violations::default();
        v.blob(Path::Root.member("Data"), Some(11), Rules { max: Some(10), ..Rules::default() });
        assert_eq!(
            v.into_message().unwrap(),
            "1 validation error detected: Value at 'data' failed to satisfy constraint: Member must have length less than or equal to 10"
        );
    }

    #[test]
    fn at_most_ten_violations_are_listed() {
        let mut v = Violations::default();
        for _ in 0..15 {
            v.number(Path::Root.member("Limit"), Some(0), Rules { min: Some(1), ..Rules::default() });
        }
        assert!(v.into_message().unwrap().starts_with("10 validation errors detected"));
    }
}
