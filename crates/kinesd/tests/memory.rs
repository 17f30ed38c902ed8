//! How the server process holds its memory. kinesd's allocator (mimalloc) gives freed memory
//! back to the kernel; transparent huge pages undo that (a 2 MiB page stays resident while any
//! of it is used, and khugepaged refills partly used regions), which made a soak's RSS grow
//! in steps while its live heap stayed flat. So the server runs with THP off.

mod common;

use common::{Server, ServerOpts, create_active};

/// The `name:\tvalue` line of /proc/<pid>/status.
fn status_field(pid: u32, name: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(|v| v.trim().to_string()))
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_server_runs_with_transparent_huge_pages_off() {
    // THP_enabled appeared in Linux 5.0; an older kernel has nothing to check.
    if status_field(std::process::id(), "THP_enabled").is_none() {
        eprintln!("skipped: this kernel does not report THP_enabled");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_with(ServerOpts { data_dir: Some(dir.path().to_path_buf()), ..ServerOpts::default() });
    // Some work first, so that the allocator has mapped its arenas.
    let client = srv.client();
    create_active(&client, "s", 2).await;
    assert_eq!(status_field(srv.pid(), "THP_enabled").as_deref(), Some("0"), "kinesd runs with THP on");
    // And mimalloc did not mark its arenas for huge pages (the `hg` flag of a mapping).
    let smaps = std::fs::read_to_string(format!("/proc/{}/smaps", srv.pid())).unwrap();
    let advised: Vec<&str> =
        smaps.lines().filter(|l| l.starts_with("VmFlags:") && l.split_whitespace().any(|f| f == "hg")).collect();
    assert!(advised.is_empty(), "mappings advised for huge pages: {advised:?}");
}
