//! The layers of `docs/architecture.md`, checked mechanically: data flows one way, so a lower
//! layer never names a higher one. A `use crate::api::…` in the engine, a `crate::protocol` path
//! in the store, or a `kinesd::transport` in a doc example would all fail here.

use std::path::{Path, PathBuf};

/// (layer directory or file, modules it must never refer to)
const RULES: &[(&str, &[&str])] = &[
    ("protocol", &["api", "engine", "transport", "store", "auth", "config"]),
    ("engine", &["protocol", "api", "transport", "auth", "config"]),
    ("store", &["engine", "api", "protocol", "transport", "auth", "config"]),
    ("auth", &["api", "engine", "transport", "store", "config"]),
    ("api", &["transport", "config"]),
    // `kinesd tail` / `kinesd put` are API clients: they speak HTTP, never call the server in.
    ("cli", &["api", "engine", "transport", "store", "config"]),
    // Shared by every layer, so they name none of them.
    ("error", &["api", "engine", "protocol", "transport", "auth", "store", "config"]),
    ("shutdown.rs", &["api", "engine", "protocol", "transport", "auth", "store", "config", "error"]),
    ("meter.rs", &["api", "engine", "protocol", "transport", "auth", "store", "config", "error"]),
    ("wildcard.rs", &["api", "engine", "protocol", "transport", "auth", "store", "config", "error"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if dir.is_file() {
        out.push(dir.to_owned());
        return;
    }
    for entry in std::fs::read_dir(dir).expect("layer directory exists") {
        let path = entry.expect("readable directory").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether the code (comments aside) names the crate's module `module`: as a path segment right
/// after `crate::`, `kinesd::` or `super::super::` (climbing out of a layer), or inside a braced
/// list after them (`use crate::{api::Context, …}`).
fn names(text: &str, module: &str) -> bool {
    let code: String = text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for root in ["crate::", "kinesd::", "super::super::"] {
        for (at, _) in code.match_indices(root) {
            let rest = &code[at + root.len()..];
            // The first segment, or every first segment of a braced list.
            let heads: Vec<&str> = match rest.strip_prefix('{') {
                Some(list) => {
                    let list = &list[..list.find('}').unwrap_or(list.len())];
                    list.split(',').map(str::trim).collect()
                }
                None => vec![rest],
            };
            if heads.iter().any(|h| h.split(|c| !is_ident(c)).next() == Some(module)) {
                return true;
            }
        }
    }
    false
}

#[test]
fn no_layer_refers_to_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut checked = 0;
    for (layer, forbidden) in RULES {
        let mut files = Vec::new();
        rust_files(&src.join(layer), &mut files);
        assert!(!files.is_empty(), "no sources under src/{layer}");
        for file in files {
            checked += 1;
            let text = std::fs::read_to_string(&file).expect("readable source");
            for module in *forbidden {
                if names(&text, module) {
                    violations.push(format!("{} refers to {module}", file.strip_prefix(&src).unwrap().display()));
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} files checked");
    assert!(violations.is_empty(), "layer violations:\n{}", violations.join("\n"));
}

#[test]
fn the_check_sees_a_violation() {
    assert!(names("use crate::api::Context;", "api"));
    assert!(names("    let x = crate::engine::now_ms();", "engine"));
    assert!(names("use crate::{error::Result, api::Context};", "api"));
    assert!(names("use crate::{\n    api,\n    error::Result,\n};", "api"));
    assert!(names("use super::super::store::LogId;", "store"));
    assert!(names("use kinesd::transport;", "transport"));
    assert!(!names("// crate::api is mentioned in a comment only", "api"));
    assert!(!names("use crate::apiary;", "api"));
    assert!(!names("use crate::error::api_error;", "api"));
}
