//! The layers of `docs/architecture.md`, checked mechanically: data flows one way, so a lower
//! layer never names a higher one. A `use crate::api::…` in the engine, a `crate::protocol` path
//! in the store, or a `kinesd::transport` in a doc example would all fail here.

use std::path::{Path, PathBuf};

/// (layer directory, modules it must never refer to)
const RULES: &[(&str, &[&str])] = &[
    ("protocol", &["api", "engine", "transport", "store", "auth"]),
    ("engine", &["protocol", "api", "transport", "auth"]),
    ("store", &["engine", "api", "protocol", "transport", "auth"]),
    ("auth", &["api", "engine", "transport", "store"]),
    ("api", &["transport"]),
    // Shared by every layer, so it may name only the store (whose errors it turns into AWS's).
    ("error", &["api", "engine", "protocol", "transport", "auth"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("layer directory exists") {
        let path = entry.expect("readable directory").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every way a file can name another module of the crate: `crate::x`, `kinesd::x`, and
/// `super::…::x` climbing out of the layer.
fn names(text: &str, module: &str) -> bool {
    let needles = [format!("crate::{module}"), format!("kinesd::{module}"), format!("super::super::{module}")];
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .any(|code| needles.iter().any(|n| code.contains(n.as_str())))
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
    assert!(!names("// crate::api is mentioned in a comment only", "api"));
    assert!(!names("use crate::apiary;", "transport"));
}
