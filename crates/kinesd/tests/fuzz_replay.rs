//! Replays every committed fuzz input (`fuzz/corpus/<target>/` and the crash reproducers in
//! `fuzz/regressions/<target>/`) through the same checks the fuzz targets run, on stable, so
//! CI catches a regression on any input the fuzzers ever kept.

#[path = "../../../fuzz/harness/mod.rs"]
mod harness;

use std::path::Path;

#[test]
fn every_committed_fuzz_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = 0;
    for (name, check) in harness::TARGETS {
        let mut inputs = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else { continue };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| check(&data));
                assert!(outcome.is_ok(), "{name}: {} fails its check", path.display());
                inputs += 1;
            }
        }
        assert!(inputs > 0, "no committed inputs for fuzz target {name}");
        replayed += inputs;
    }
    eprintln!("replayed {replayed} fuzz inputs");
}

/// The SigV4 target reaches its success path: a committed seed (signed by botocore over
/// `host`, `x-amz-date` and the session token) verifies, so the harness builds requests the
/// way the server sees them.
#[test]
fn a_committed_sigv4_seed_verifies() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sigv4");
    let verified = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| harness::sigv4_verifies(&std::fs::read(e.as_ref().unwrap().path()).unwrap()))
        .count();
    assert!(verified > 0, "no committed SigV4 seed verifies");
}

/// The policy target reaches its invariants: committed seeds parse as policies (of the kind
/// their statements fit), so the decision checks run on them and not only the refusals.
#[test]
fn committed_policy_seeds_parse() {
    use kinesd::auth::policy::{Kind, Policy};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/policy");
    let parsed = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let data = std::fs::read(e.as_ref().unwrap().path()).unwrap();
            let text = String::from_utf8_lossy(data.split(|&b| b == 0xff).next().unwrap_or_default()).into_owned();
            [Kind::Resource, Kind::Identity].into_iter().any(|kind| Policy::parse(&text, kind).is_ok())
        })
        .count();
    assert!(parsed > 0, "no committed policy seed parses");
}
