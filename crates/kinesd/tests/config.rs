//! Environment variables against the file and the flags. This test binary holds a single test
//! because the environment is process-wide: set among the library's parallel config tests, it
//! would change what they read.

use kinesd::config::{Config, DurabilityMode};

#[test]
fn flags_beat_the_environment_which_beats_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kinesd.toml");
    std::fs::write(&path, "port = 9000\nregion = \"eu-west-1\"\nshard-limit = 7\n").unwrap();
    // SAFETY: this is the only test in this binary, so no other thread reads or writes the
    // environment while it changes.
    unsafe {
        std::env::set_var("KINESD_CONFIG", &path);
        std::env::set_var("KINESD_PORT", "9001");
        std::env::set_var("KINESD_REGION", "ap-south-1");
        std::env::set_var("KINESD_DURABILITY", "relaxed");
        std::env::set_var("KINESD_IN_MEMORY", "true");
    }
    let c = Config::load_from(["kinesd", "--region", "us-west-2"]).unwrap();
    assert_eq!(c.config.as_deref(), Some(path.as_path()), "the file can be named by the environment");
    assert_eq!(c.port, 9001, "the environment beats the file");
    assert_eq!(c.region, "us-west-2", "a flag beats the environment");
    assert_eq!(c.shard_limit, 7, "the file beats the default");
    assert_eq!(c.durability, DurabilityMode::Relaxed, "the environment beats the default");
    assert!(c.in_memory);

    // SAFETY: as above.
    unsafe { std::env::set_var("KINESD_MAX_HTTP2_STREAMS", "0") };
    let e = Config::load_from(["kinesd"]).unwrap_err();
    assert!(e.contains("--max-http2-streams"), "the environment is validated like flags: {e}");
}
