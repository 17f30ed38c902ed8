//! How AWS prints a member's value inside a validation message.
//!
//! AWS's messages come from Java: lists print as `[a, b]`, maps as `{k=v}`, and structures as a
//! Java object identity (`com.amazonaws.kinesis.v20131202.Tag@1a2b3c4d`), which no client can
//! predict; we print the class name with a stable hash of the contents.

use std::hash::{Hash, Hasher};

pub trait Shown {
    fn shown(&self) -> String;
}

impl Shown for String {
    fn shown(&self) -> String {
        self.clone()
    }
}

impl Shown for i32 {
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl Shown for i64 {
    fn shown(&self) -> String {
        self.to_string()
    }
}

pub fn list<T: Shown>(items: &[T]) -> String {
    let inner: Vec<String> = items.iter().map(Shown::shown).collect();
    format!("[{}]", inner.join(", "))
}

pub fn map<V: Shown>(entries: &[(String, V)]) -> String {
    let inner: Vec<String> = entries.iter().map(|(k, v)| format!("{k}={}", v.shown())).collect();
    format!("{{{}}}", inner.join(", "))
}

pub fn java_object<T: std::fmt::Debug>(class: &str, value: &T) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{value:?}").hash(&mut h);
    format!("com.amazonaws.kinesis.v20131202.{class}@{:08x}", h.finish() as u32)
}
