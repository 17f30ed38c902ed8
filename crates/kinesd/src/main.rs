//! The `kinesd` binary: configuration, store, engine, listener, signals.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use kinesd::config::Config;
use kinesd::engine::Engine;
use kinesd::store::Store;
use kinesd::store::disk::DiskStore;
use kinesd::store::jetstream::{JetStreamOptions, JetStreamStore};
use kinesd::store::memory::MemoryStore;

/// mimalloc: the request path allocates many small objects, which glibc's allocator serves
/// noticeably slower under concurrency.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process, before the runtime allocates. With THP, a
/// 2 MiB region of mimalloc's arena becomes resident as a whole as soon as any of it is used,
/// and the kernel's khugepaged collapses partly used regions back into whole huge pages (by
/// default even when only one of their 512 small pages is in use), undoing what mimalloc gives
/// back: in an hour's soak RSS grew from 54 to 86 MiB, up to 76 MiB of it huge pages, while the
/// live heap (heaptrack, 20 minutes) stayed under 16 MB. mimalloc is built without its own
/// huge-page request (`no_thp`); this also covers hosts whose THP setting is `always`. Failure
/// (an old kernel) costs only memory, so it is logged.
fn disable_transparent_huge_pages() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("kinesd: cannot turn transparent huge pages off ({e}); memory use may grow in 2 MiB steps");
    }
}

fn main() -> std::process::ExitCode {
    disable_transparent_huge_pages();
    let mut config = match Config::load() {
        Ok(c) => c,
        Err(message) => {
            eprintln!("kinesd: {message}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(command) = config.command.take() {
        // A client subcommand: one connection, one thread is plenty.
        return match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(kinesd::cli::run(command, &config.host, config.port, &config.region)),
            Err(e) => {
                eprintln!("kinesd: cannot start the runtime: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KINESD_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr);
    match config.log_format {
        kinesd::config::LogFormat::Text => logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        kinesd::config::LogFormat::Json => logs.json().flatten_event(true).with_current_span(false).init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kinesd: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kinesd: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    // Signals are caught from the very start: a SIGINT or SIGTERM that arrives while kinesd
    // starts (or right after it prints its address) stops it cleanly, never kills it.
    let (trigger, shutdown) = kinesd::shutdown::channel();
    let signals = Signals::install()?;
    tokio::spawn(async move {
        signals.wait().await;
        trigger.trigger();
    });
    // Room for every connection --max-connections allows (see open_files.rs).
    let wanted = kinesd::open_files::wanted(u64::from(config.max_connections));
    match kinesd::open_files::raise() {
        Ok(limit) if limit.now < wanted => tracing::warn!(
            limit = limit.now,
            wanted,
            "the open-file limit is below what --max-connections and the store may use; past it, \
             connections are refused: raise the hard limit (ulimit -Hn, systemd LimitNOFILE=) or \
             lower --max-connections"
        ),
        Ok(limit) if limit.now > limit.before => {
            tracing::debug!(from = limit.before, to = limit.now, "open-file soft limit raised to the hard limit")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    // The port before anything is created on disk: a port in use stops the start with nothing
    // left behind. Connections wait in the backlog until the store is open.
    let ip: IpAddr = config.host.parse().map_err(|_| format!("--host {:?} is not an IP address", config.host))?;
    let listener = kinesd::transport::bind(SocketAddr::new(ip, config.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", config.host, config.port))?;
    let mut disk_store = None;
    let store: Arc<dyn Store> = if let Some(options) = config.jetstream() {
        Arc::new(open_jetstream(&config, options).await?)
    } else if config.in_memory {
        Arc::new(MemoryStore::new())
    } else {
        let dir = config.data_dir.clone();
        let options = config.disk();
        let disk = tokio::task::spawn_blocking(move || DiskStore::open(&dir, options))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot open the data directory {}: {e}", config.data_dir.display()))?;
        let disk = Arc::new(disk);
        disk_store = Some(disk.clone());
        disk
    };
    // Credentials before anything else is opened for clients: a bad file stops the start.
    let keyring = match &config.credentials {
        None => None,
        Some(path) => Some(Arc::new(kinesd::auth::Keyring::load(path)?)),
    };
    #[cfg(unix)]
    if let Some(path) = &config.credentials {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            tracing::warn!(
                file = %path.display(),
                "the credentials file holds secrets and other users may read it; chmod 600 it"
            );
        }
    }
    let engine_config = kinesd::engine::EngineConfig { limits: config.limits_config()?, ..config.engine() };
    let faults = Arc::new(config.faults()?);
    let engine = Engine::open(engine_config, store).await.map_err(|e| e.to_string())?;
    // Records that expired while the server was down are trimmed before the port accepts a
    // request (those trimmed before it stopped stay trimmed: the store keeps the horizon).
    if let Err(e) = engine.trim_expired(kinesd::engine::now_ms()).await {
        tracing::warn!(error = %e, "retention trim at start-up failed; the ticker retries");
    }
    let ticker = engine.spawn_ticker();
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // TLS set-up before anything is printed: a bad certificate or key stops the start, and
    // clients waiting for the listening lines never see an address that will not work.
    let source = config.tls();
    // An in-memory server's certificate lives only as long as the server does.
    let ephemeral = match &source {
        Some(kinesd::transport::tls::CertSource::Ephemeral { cert }) => cert.parent().map(|p| p.to_path_buf()),
        _ => None,
    };
    let tls = match source {
        None => None,
        Some(source) => {
            let tls = tokio::task::spawn_blocking(move || kinesd::transport::tls::Tls::load(&source))
                .await
                .map_err(|e| e.to_string())??;
            let port = config.tls_port.unwrap_or(0);
            let tls_listener = kinesd::transport::bind(SocketAddr::new(ip, port))
                .await
                .map_err(|e| format!("cannot listen on {}:{port}: {e}", config.host))?;
            Some((tls, tls_listener))
        }
    };
    // Streams declared at start are ACTIVE before the listening line is printed and before the
    // first request is served: the port is bound, so early clients wait in its backlog.
    let declared = config.declared_streams()?;
    if !declared.is_empty() {
        let (_trigger, shutdown) = kinesd::shutdown::channel();
        let local = kinesd::api::Api::new(engine.clone(), shutdown);
        kinesd::declared::apply(&local, &declared).await?;
    }
    let mut listeners = vec![kinesd::transport::Listener::Plain(listener)];
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "kinesd listening on http://{addr}");
        if let Some((tls, tls_listener)) = tls {
            let tls_addr = tls_listener.local_addr().map_err(|e| e.to_string())?;
            let cert = tls.cert_path.display();
            let _ = writeln!(out, "kinesd listening on https://{tls_addr}");
            // Machine-readable, for harnesses that must trust the certificate they did not make.
            let _ = writeln!(out, "kinesd tls certificate {cert}");
            if tls.self_signed {
                tracing::info!(
                    %tls_addr, certificate = %cert,
                    "TLS with a self-signed certificate; trust it with AWS_CA_BUNDLE={cert} or `aws --ca-bundle {cert}`"
                );
            } else {
                tracing::info!(%tls_addr, certificate = %cert, "TLS");
            }
            listeners.push(kinesd::transport::Listener::Tls(tls_listener, tls.acceptor));
        }
        let _ = out.flush();
    }
    tracing::info!(%addr, region = %config.region, account = %config.account_id, "serving");
    match &keyring {
        Some(keyring) => tracing::info!(
            file = %keyring.path().display(), credentials = keyring.current().len(),
            "SigV4 signatures verified against the credentials file (SIGHUP reloads it)"
        ),
        None if !ip.is_loopback() => tracing::warn!(
            %addr,
            "no --credentials: any well-formed signature is accepted, so anyone who can reach this \
             address can read, write and delete every stream; give --credentials (and --tls-port) \
             before exposing kinesd on a network (docs/security.md)"
        ),
        None => {}
    }
    let mut api = kinesd::api::Api::new(engine, shutdown.clone())
        .with_declared_streams(declared.iter().map(|d| d.name.clone()).collect())
        .with_faults(faults)
        .with_slow_request_warning(config.slow_request());
    if let Some(keyring) = keyring {
        spawn_reloader(keyring.clone());
        api = api.with_authenticator(kinesd::auth::Authenticator::Verifying { keyring, region: config.region.clone() });
    }
    let api = Arc::new(api);
    let options = config.transport();
    kinesd::transport::serve_all(listeners, api, options, shutdown).await.map_err(|e| e.to_string())?;
    ticker.abort();
    // Everything acknowledged is on disk already with full durability; with relaxed durability
    // the journal writer syncs what it holds as it stops.
    if let Some(disk) = disk_store {
        let _ = tokio::task::spawn_blocking(move || disk.close()).await;
    }
    if let Some(dir) = ephemeral {
        let _ = std::fs::remove_dir_all(dir);
    }
    tracing::info!("stopped");
    Ok(())
}

/// Reloads the credentials file on each SIGHUP; a file that does not load leaves the loaded
/// credentials in place.
fn spawn_reloader(keyring: Arc<kinesd::auth::Keyring>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: the credentials file will not be reloaded");
            return;
        };
        while hangups.recv().await.is_some() {
            let reloading = keyring.clone();
            match tokio::task::spawn_blocking(move || reloading.reload()).await {
                Ok(Ok(n)) => tracing::info!(file = %keyring.path().display(), credentials = n, "credentials reloaded"),
                Ok(Err(why)) => tracing::warn!("credentials not reloaded, the loaded ones stay in use: {why}"),
                Err(e) => tracing::warn!(error = %e, "credentials reload failed"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = keyring;
}

/// SIGINT and SIGTERM, caught from the moment [`Signals::install`] returns (a signal that
/// arrives before anyone waits is kept, not lost).
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals, String> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let catch = |kind| signal(kind).map_err(|e| format!("cannot catch signals: {e}"));
            Ok(Signals { interrupt: catch(SignalKind::interrupt())?, terminate: catch(SignalKind::terminate())? })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => tracing::info!("SIGINT: shutting down"),
            _ = self.terminate.recv() => tracing::info!("SIGTERM: shutting down"),
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        }
    }
}

/// Cluster mode: the JetStream store, refused on a server known to acknowledge before syncing
/// unless --nats-allow-unsynced accepts that (docs/cluster.md).
async fn open_jetstream(config: &Config, options: JetStreamOptions) -> Result<JetStreamStore, String> {
    let urls = options.urls.join(",");
    let store =
        JetStreamStore::open(options).await.map_err(|e| format!("cannot use the NATS cluster at {urls}: {e}"))?;
    match store.unsynced_servers().await {
        Some(unsynced) if !unsynced.is_empty() && !config.nats_allow_unsynced => {
            return Err(format!(
                "NATS servers {} acknowledge writes before syncing them (sync_interval is not `always`); \
                 configure `sync_interval: always` or start with --nats-allow-unsynced",
                unsynced.join(", ")
            ));
        }
        Some(unsynced) if !unsynced.is_empty() => {
            tracing::warn!(servers = %unsynced.join(", "), "NATS servers acknowledge before syncing (--nats-allow-unsynced)");
        }
        Some(_) => tracing::info!("every NATS server syncs before acknowledging"),
        None => tracing::warn!(
            "cannot ask the NATS servers whether they sync before acknowledging (that needs the system account): \
             make sure they run with `sync_interval: always`"
        ),
    }
    tracing::info!(urls = %urls, version = %store.server_version(), "records and streams kept in NATS JetStream");
    Ok(store)
}
