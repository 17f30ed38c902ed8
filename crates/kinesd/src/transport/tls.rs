//! The TLS side of the transport: the rustls server configuration (ring provider, ALPN `h2` and
//! `http/1.1`) built from PEM files, or from a self-signed certificate kinesd generates once and
//! keeps so that clients told to trust it keep trusting it across restarts.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// How long a client may take to complete the TLS handshake. The handshake runs in the
/// connection's own task and holds a connection slot, so a client that opens a socket and says
/// nothing must not keep it longer than this; 10 s is far beyond any loopback or LAN handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Names the generated certificate is valid for: what clients on the same machine dial.
const GENERATED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Where the certificate and key come from.
#[derive(Debug, Clone)]
pub enum CertSource {
    /// PEM files given by the operator (`--tls-cert`, `--tls-key`).
    Files { cert: PathBuf, key: PathBuf },
    /// A self-signed certificate kept in `dir` (`cert.pem`, `key.pem`): generated on first use,
    /// reused afterwards.
    Generated { dir: PathBuf },
    /// A self-signed certificate generated for this process only (`--in-memory`): the key never
    /// touches the disk; the certificate alone is written to `cert` so clients can trust it.
    Ephemeral { cert: PathBuf },
}

/// A ready TLS configuration and the certificate file clients can trust.
pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub cert_path: PathBuf,
    /// Whether kinesd generated the certificate (and so clients must be told to trust it).
    pub self_signed: bool,
}

impl Tls {
    pub fn load(source: &CertSource) -> Result<Tls, String> {
        match source {
            CertSource::Files { cert, key } => {
                let cert_pem = read(cert, "--tls-cert")?;
                let key_pem = read(key, "--tls-key")?;
                let acceptor = acceptor_from_pem(&cert_pem, &key_pem, cert, key)?;
                Ok(Tls { acceptor, cert_path: cert.clone(), self_signed: false })
            }
            CertSource::Generated { dir } => {
                let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
                // Both files or a fresh pair: a lone file can only be left by an interrupted
                // first start (the key is written first), and it is kinesd's own to replace.
                if !(cert.is_file() && key.is_file()) {
                    let (cert_pem, key_pem) = generate()?;
                    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                    write_atomically(&key, key_pem.as_bytes(), 0o600)?;
                    write_atomically(&cert, cert_pem.as_bytes(), 0o644)?;
                }
                let cert_pem = read(&cert, "the generated certificate")?;
                let key_pem = read(&key, "the generated key")?;
                let acceptor = acceptor_from_pem(&cert_pem, &key_pem, &cert, &key)?;
                Ok(Tls { acceptor, cert_path: cert, self_signed: true })
            }
            CertSource::Ephemeral { cert } => {
                let (cert_pem, key_pem) = generate()?;
                if let Some(dir) = cert.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                write_atomically(cert, cert_pem.as_bytes(), 0o644)?;
                let acceptor =
                    acceptor_from_pem(cert_pem.as_bytes(), key_pem.as_bytes(), cert, Path::new("(in memory)"))?;
                Ok(Tls { acceptor, cert_path: cert.clone(), self_signed: true })
            }
        }
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

/// A self-signed certificate for [`GENERATED_NAMES`] and its key, both PEM.
fn generate() -> Result<(String, String), String> {
    let names: Vec<String> = GENERATED_NAMES.iter().map(|s| s.to_string()).collect();
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot generate a self-signed certificate: {e}"))?;
    Ok((generated.cert.pem(), generated.signing_key.serialize_pem()))
}

/// Writes through a temporary file in the same directory and a rename, so a crash leaves either
/// the old file or the whole new one; the temporary file is created with `mode` so the key is
/// never readable by others, not even for a moment.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(fail)
}

/// The server configuration: the certificate chain and key from PEM, checked against each other,
/// with ALPN offering `h2` before `http/1.1` so clients that can speak HTTP/2 do.
pub fn acceptor_from_pem(cert_pem: &[u8], key_pem: &[u8], cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{} is not a PEM certificate file: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{} holds no PEM certificate (no BEGIN CERTIFICATE section)", cert.display()));
    }
    let private = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("{} is not a PEM private key file: {e}", key.display()))?;
    // ring, not aws-lc-rs: it builds without cmake or a C toolchain beyond cc. rustls marks it
    // deprecated only because it lacks post-quantum key exchange, which no Kinesis client needs
    // against a local server.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => {
                format!("the key {} does not match the certificate {}", key.display(), cert.display())
            }
            other => format!("cannot use {} with {}: {other}", cert.display(), key.display()),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path, cert: &[u8], key: &[u8]) -> CertSource {
        let (c, k) = (dir.join("c.pem"), dir.join("k.pem"));
        std::fs::write(&c, cert).unwrap();
        std::fs::write(&k, key).unwrap();
        CertSource::Files { cert: c, key: k }
    }

    fn error(source: &CertSource) -> String {
        match Tls::load(source) {
            Ok(_) => panic!("{source:?} was accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn the_generated_certificate_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let source = CertSource::Generated { dir: dir.path().join("tls") };
        let first = Tls::load(&source).unwrap();
        assert!(first.self_signed);
        let cert = std::fs::read(&first.cert_path).unwrap();
        let key = std::fs::read(dir.path().join("tls/key.pem")).unwrap();
        let again = Tls::load(&source).unwrap();
        assert_eq!(again.cert_path, first.cert_path);
        assert_eq!(std::fs::read(&again.cert_path).unwrap(), cert, "the certificate was regenerated");
        assert_eq!(std::fs::read(dir.path().join("tls/key.pem")).unwrap(), key, "the key was regenerated");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("tls/key.pem")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the key is readable by others");
        }
        // A lone certificate (an interrupted first start) is replaced by a fresh pair.
        std::fs::remove_file(dir.path().join("tls/key.pem")).unwrap();
        let third = Tls::load(&source).unwrap();
        assert_ne!(std::fs::read(&third.cert_path).unwrap(), cert);
    }

    #[test]
    fn given_files_are_used_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = generate().unwrap();
        let (other_cert, _) = generate().unwrap();
        let ok = Tls::load(&files(dir.path(), cert.as_bytes(), key.as_bytes())).unwrap();
        assert!(!ok.self_signed);

        let missing = CertSource::Files { cert: dir.path().join("nope.pem"), key: dir.path().join("k.pem") };
        let e = error(&missing);
        assert!(e.contains("cannot read --tls-cert") && e.contains("nope.pem"), "{e}");

        let e = error(&files(dir.path(), b"not a certificate", key.as_bytes()));
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let e = error(&files(dir.path(), cert.as_bytes(), b"not a key"));
        assert!(e.contains("is not a PEM private key file"), "{e}");
        // Certificate and key swapped: neither file holds what its flag promises.
        let e = error(&files(dir.path(), key.as_bytes(), cert.as_bytes()));
        assert!(e.contains("holds no PEM certificate"), "{e}");

        let e = error(&files(dir.path(), other_cert.as_bytes(), key.as_bytes()));
        assert!(e.contains("does not match the certificate"), "{e}");
    }

    #[test]
    fn an_ephemeral_certificate_keeps_its_key_off_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("eph/cert.pem");
        let tls = Tls::load(&CertSource::Ephemeral { cert: cert.clone() }).unwrap();
        assert_eq!(tls.cert_path, cert);
        let names: Vec<_> =
            std::fs::read_dir(dir.path().join("eph")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("cert.pem")]);
    }
}
