//! An HTTP/2-only connector for the Rust SDK, so the SDK's requests can be driven over h2c
//! (prior knowledge, the plain port) and over h2 negotiated by ALPN (the TLS port).
//!
//! The SDK's bundled hyper client speaks HTTP/1.1 unless built with a TLS stack, and its TLS
//! stacks pull in aws-lc; this connector uses hyper's HTTP/2 client connection and rustls with
//! ring (both already in the tree). It speaks nothing but HTTP/2, so a request that succeeds
//! through it went over HTTP/2, and it counts the connections it opened so a test can show
//! that concurrent calls were multiplexed on one.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

type Body = BoxBody<Bytes, aws_smithy_types::body::Error>;

/// HTTP/2 connections to one address, opened on first use and reopened if closed.
#[derive(Clone)]
pub struct H2Connector {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    /// `Some` for h2 over TLS (ALPN offers only `h2`); `None` for h2c with prior knowledge.
    tls: Option<Arc<rustls::ClientConfig>>,
    sender: tokio::sync::Mutex<Option<SendRequest<Body>>>,
    connections: AtomicUsize,
}

impl std::fmt::Debug for H2Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Connector").field("addr", &self.inner.addr).field("tls", &self.inner.tls.is_some()).finish()
    }
}

impl H2Connector {
    /// h2c with prior knowledge to `http://host:port`, or h2 over TLS to `https://host:port`
    /// trusting only `ca` (the server's certificate).
    pub fn new(endpoint: &str, ca: Option<&Path>) -> H2Connector {
        let (tls, rest) = match (endpoint.strip_prefix("https://"), endpoint.strip_prefix("http://")) {
            (Some(rest), _) => (Some(client_config(ca.expect("an https endpoint needs a certificate to trust"))), rest),
            (None, Some(rest)) => (None, rest),
            _ => panic!("not an http(s) endpoint: {endpoint}"),
        };
        let addr = rest.trim_end_matches('/').parse().expect("endpoint is ip:port");
        H2Connector {
            inner: Arc::new(Inner {
                addr,
                tls,
                sender: tokio::sync::Mutex::new(None),
                connections: AtomicUsize::new(0),
            }),
        }
    }

    /// How many connections this connector has opened.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::SeqCst)
    }

    /// The connector as an SDK HTTP client.
    pub fn http_client(&self) -> SharedHttpClient {
        let me = self.clone();
        http_client_fn(move |_, _| SharedHttpConnector::new(me.clone()))
    }

    async fn sender(&self) -> Result<SendRequest<Body>, ConnectorError> {
        let mut slot = self.inner.sender.lock().await;
        if let Some(sender) = slot.as_ref().filter(|s| !s.is_closed()) {
            return Ok(sender.clone());
        }
        let tcp = TcpStream::connect(self.inner.addr).await.map_err(|e| ConnectorError::io(e.into()))?;
        tcp.set_nodelay(true).map_err(|e| ConnectorError::io(e.into()))?;
        let sender = match &self.inner.tls {
            None => handshake(tcp).await?,
            Some(config) => {
                let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| ConnectorError::io(e.into()))?;
                let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                if alpn.as_deref() != Some(b"h2") {
                    return Err(ConnectorError::other(format!("ALPN negotiated {alpn:?}, not h2").into(), None));
                }
                handshake(tls).await?
            }
        };
        self.inner.connections.fetch_add(1, Ordering::SeqCst);
        *slot = Some(sender.clone());
        Ok(sender)
    }
}

async fn handshake<S>(io: S) -> Result<SendRequest<Body>, ConnectorError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
        .await
        .map_err(|e| ConnectorError::io(e.into()))?;
    tokio::spawn(conn);
    Ok(sender)
}

fn client_config(ca: &Path) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(ca).expect("read the certificate") {
        roots.add(cert.expect("a PEM certificate")).unwrap();
    }
    // ring, as the server uses (transport/tls.rs); its lack of post-quantum key exchange is
    // what the deprecation is about.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

impl HttpConnector for H2Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let me = self.clone();
        HttpConnectorFuture::new(async move {
            let request = request.try_into_http1x().map_err(|e| ConnectorError::other(e.into(), None))?;
            let mut sender = me.sender().await?;
            let response = sender
                .send_request(request.map(|body| body.boxed()))
                .await
                .map_err(|e| ConnectorError::io(e.into()))?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}
