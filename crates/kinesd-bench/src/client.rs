//! One keep-alive HTTP/1.1 connection to a Kinesis endpoint, speaking awsJson 1.1 directly.
//!
//! No SDK sits in the hot path: a request is a prebuilt body plus a handful of static headers,
//! so the load generator spends its CPU on the wire and not on signing or serialising. The
//! `Authorization` header is a fixed, well-formed SigV4 header (kinesd without `--credentials`
//! and the emulators check its shape only), or with `--access-key`/`--secret-key` a real
//! signature of each request (`signer.rs`) for servers that verify. A connection carries one request at a time
//! (HTTP/1.1 without pipelining, as SDKs do); N connections give N requests in flight.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

const CONTENT_TYPE_JSON: &str = "application/x-amz-json-1.1";
const CONTENT_TYPE_CBOR: &str = "application/x-amz-cbor-1.1";

/// The wire encoding of the hot-path requests (PutRecords); set-up calls are always JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// awsJson 1.1, what every SDK but the Java ones sends.
    Json,
    /// CBOR (`application/x-amz-cbor-1.1`), the Java SDKs' default.
    Cbor,
}

impl Protocol {
    fn content_type(self) -> &'static str {
        match self {
            Protocol::Json => CONTENT_TYPE_JSON,
            Protocol::Cbor => CONTENT_TYPE_CBOR,
        }
    }
}
const AMZ_DATE: &str = "20250101T000000Z";
const SIGV4: &str = "AWS4-HMAC-SHA256 \
    Credential=AKIAIOSFODNN7EXAMPLE/20250101/us-east-1/kinesis/aws4_request, \
    SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
    Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

/// The error of a call that was not answered in time.
pub const TIMEOUT: &str = "timeout";

/// How a failed call is counted in a report: `timeout` or `transport`.
pub fn failure_kind(error: &str) -> &'static str {
    if error == TIMEOUT { "timeout" } else { "transport" }
}

/// A Kinesis operation, named as the `X-Amz-Target` header names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    CreateStream,
    DescribeStream,
    PutRecords,
    GetShardIterator,
    GetRecords,
    RegisterStreamConsumer,
    DescribeStreamConsumer,
    SubscribeToShard,
    UpdateShardCount,
}

impl Op {
    fn target(self) -> &'static str {
        match self {
            Op::CreateStream => "Kinesis_20131202.CreateStream",
            Op::DescribeStream => "Kinesis_20131202.DescribeStream",
            Op::PutRecords => "Kinesis_20131202.PutRecords",
            Op::GetShardIterator => "Kinesis_20131202.GetShardIterator",
            Op::GetRecords => "Kinesis_20131202.GetRecords",
            Op::RegisterStreamConsumer => "Kinesis_20131202.RegisterStreamConsumer",
            Op::DescribeStreamConsumer => "Kinesis_20131202.DescribeStreamConsumer",
            Op::SubscribeToShard => "Kinesis_20131202.SubscribeToShard",
            Op::UpdateShardCount => "Kinesis_20131202.UpdateShardCount",
        }
    }
}

/// Where requests go: a resolved address, the `Host` header that names it and, for https://,
/// the TLS client set-up.
#[derive(Clone)]
pub struct Endpoint {
    addr: SocketAddr,
    host: HeaderValue,
    tls: Option<(tokio_rustls::TlsConnector, rustls_pki_types::ServerName<'static>)>,
    /// A call that has not been answered by then fails (and its connection is dropped), so a
    /// server that stops answering cannot hold a run past its deadline.
    timeout: Duration,
    /// Signs each request for real; without it the fixed, unverifiable header is sent.
    signer: Option<std::sync::Arc<crate::signer::Signer>>,
}

impl Endpoint {
    /// Accepts `http://host:port` or `https://host:port` (a trailing `/` is fine); https needs
    /// `ca_bundle`, the PEM certificates to trust.
    pub async fn resolve(url: &str, timeout: Duration, ca_bundle: Option<&Path>) -> Result<Endpoint, String> {
        let (rest, secure) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (rest, false),
            (_, Some(rest)) => (rest, true),
            _ => return Err(format!("endpoint {url:?}: expected http:// or https://")),
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(format!("endpoint {url:?}: expected http(s)://host:port"));
        }
        let with_port = if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
            authority.to_owned()
        } else {
            format!("{authority}:{}", if secure { 443 } else { 80 })
        };
        let tls = if secure {
            let bundle = ca_bundle.ok_or_else(|| format!("endpoint {url:?}: https needs --ca-bundle"))?;
            let host = with_port.rsplit_once(':').map_or(with_port.as_str(), |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
            let name = rustls_pki_types::ServerName::try_from(host).map_err(|e| format!("endpoint {url:?}: {e}"))?;
            Some((tls_connector(bundle)?, name))
        } else {
            None
        };
        let addr = tokio::net::lookup_host(&with_port)
            .await
            .map_err(|e| format!("endpoint {url:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("endpoint {url:?}: no address"))?;
        let host = HeaderValue::from_str(authority).map_err(|e| format!("endpoint {url:?}: {e}"))?;
        Ok(Endpoint { addr, host, tls, timeout, signer: None })
    }

    /// Requests to this endpoint are signed by `signer`.
    pub fn signing_with(mut self, signer: crate::signer::Signer) -> Endpoint {
        self.signer = Some(std::sync::Arc::new(signer));
        self
    }
}

/// A TLS client trusting only the certificates in `bundle`, offering HTTP/1.1 (the bench's only
/// protocol) through ALPN.
fn tls_connector(bundle: &Path) -> Result<tokio_rustls::TlsConnector, String> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(bundle)
        .map_err(|e| format!("--ca-bundle {}: {e}", bundle.display()))?
    {
        let cert = cert.map_err(|e| format!("--ca-bundle {}: {e}", bundle.display()))?;
        roots.add(cert).map_err(|e| format!("--ca-bundle {}: {e}", bundle.display()))?;
    }
    // ring, like the server: rustls marks it deprecated only for lacking post-quantum key exchange.
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)))
}

/// What came back: the status, AWS's error type when the call failed, and the body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
    error_type: Option<String>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// AWS's short error name (`ResourceNotFoundException`), from `x-amzn-ErrorType` or the
    /// body's `__type`; `HTTP <status>` when neither says.
    pub fn error_name(&self) -> String {
        let raw = self.error_type.clone().or_else(|| {
            serde_json::from_slice::<serde_json::Value>(&self.body)
                .ok()
                .and_then(|v| v.get("__type")?.as_str().map(str::to_owned))
        });
        match raw {
            // `x-amzn-ErrorType: Foo:http://...` and `__type: com.amazon...#Foo` both occur.
            Some(t) => t.split(':').next().unwrap_or_default().rsplit('#').next().unwrap_or_default().to_owned(),
            None => format!("HTTP {}", self.status.as_u16()),
        }
    }

    /// The body as JSON, for the cold paths (stream set-up).
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("unparsable answer: {e}"))
    }
}

/// HTTP/1.1 over any byte stream (TCP, or TLS over TCP).
async fn handshake<S>(stream: S) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One keep-alive connection. Reconnects by itself after a transport error.
pub struct Connection {
    endpoint: Endpoint,
    protocol: Protocol,
    sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
}

impl Connection {
    pub fn new(endpoint: &Endpoint) -> Connection {
        Connection::speaking(endpoint, Protocol::Json)
    }

    /// A connection whose bodies are in `protocol` (the caller builds them so).
    pub fn speaking(endpoint: &Endpoint, protocol: Protocol) -> Connection {
        Connection { endpoint: endpoint.clone(), protocol, sender: None }
    }

    async fn connect(&mut self) -> Result<(), String> {
        let stream = tokio::time::timeout(self.endpoint.timeout, TcpStream::connect(self.endpoint.addr))
            .await
            .map_err(|_| format!("connect {}: timed out", self.endpoint.addr))?
            .map_err(|e| format!("connect {}: {e}", self.endpoint.addr))?;
        let _ = stream.set_nodelay(true);
        let sender = match &self.endpoint.tls {
            None => handshake(stream).await?,
            Some((connector, name)) => {
                let stream = tokio::time::timeout(self.endpoint.timeout, connector.connect(name.clone(), stream))
                    .await
                    .map_err(|_| format!("TLS handshake with {}: timed out", self.endpoint.addr))?
                    .map_err(|e| format!("TLS handshake with {}: {e}", self.endpoint.addr))?;
                handshake(stream).await?
            }
        };
        self.sender = Some(sender);
        Ok(())
    }

    /// Connects if need be and waits until the connection can send a request.
    async fn ready(&mut self) -> Result<(), String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().expect("connected above");
        if sender.ready().await.is_err() {
            self.sender = None;
            return Err("connection closed".into());
        }
        Ok(())
    }

    /// The request for `op` with `body`, once the connection is ready to send it.
    async fn prepare(&mut self, op: Op, body: Bytes) -> Result<Request<Full<Bytes>>, String> {
        self.ready().await?;
        let (date, authorization) = match &self.endpoint.signer {
            None => (HeaderValue::from_static(AMZ_DATE), HeaderValue::from_static(SIGV4)),
            Some(signer) => {
                let host = self.endpoint.host.to_str().unwrap_or_default();
                let signed = signer.sign(host, self.protocol.content_type(), op.target(), &body);
                let value = |s: String| HeaderValue::from_str(&s).map_err(|e| e.to_string());
                (value(signed.amz_date)?, value(signed.authorization)?)
            }
        };
        Request::post("/")
            .header(HOST, self.endpoint.host.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static(self.protocol.content_type()))
            .header("x-amz-target", HeaderValue::from_static(op.target()))
            .header("x-amz-date", date)
            .header(AUTHORIZATION, authorization)
            .body(Full::new(body))
            .map_err(|e| e.to_string())
    }

    /// Sends one request whose answer is a stream (SubscribeToShard) and returns the answer
    /// once its head arrived; the body is read by the caller as it comes. An error answer
    /// comes back whole, as a [`Reply`].
    pub async fn open_stream(&mut self, op: Op, body: Bytes) -> Result<Result<hyper::body::Incoming, Reply>, String> {
        let timeout = self.endpoint.timeout;
        let request = self.prepare(op, body).await?;
        let sender = self.sender.as_mut().expect("prepared above");
        let response = match tokio::time::timeout(timeout, sender.send_request(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                self.sender = None;
                return Err(format!("transport: {e}"));
            }
            Err(_) => {
                self.sender = None;
                return Err(TIMEOUT.into());
            }
        };
        let status = response.status();
        if status.is_success() {
            return Ok(Ok(response.into_body()));
        }
        let error_type = response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response.into_body().collect().await.map_err(|e| format!("transport: {e}"))?.to_bytes();
        Ok(Err(Reply { status, body, error_type }))
    }

    /// Sends one request and reads the whole answer. A transport error drops the connection;
    /// the next call opens a new one.
    pub async fn call(&mut self, op: Op, body: Bytes) -> Result<Reply, String> {
        let request = self.prepare(op, body).await?;
        self.exchange(request).await
    }

    /// Sends a prepared request on the ready connection and reads the whole answer, within the
    /// endpoint's timeout; a transport error or a timeout drops the connection.
    async fn exchange(&mut self, request: Request<Full<Bytes>>) -> Result<Reply, String> {
        let sender = self.sender.as_mut().expect("connected by the caller");
        let exchange = async {
            let response = sender.send_request(request).await?;
            let status = response.status();
            let error_type = (!status.is_success())
                .then(|| response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_owned))
                .flatten();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>(Reply { status, body, error_type })
        };
        match tokio::time::timeout(self.endpoint.timeout, exchange).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => {
                self.sender = None;
                Err(format!("transport: {e}"))
            }
            Err(_) => {
                self.sender = None;
                Err(TIMEOUT.into())
            }
        }
    }

    /// A plain `GET path` (kinesd's `/metrics`, `/health`), the whole answer read.
    pub async fn get(&mut self, path: &str) -> Result<Reply, String> {
        self.ready().await?;
        let request = Request::get(path)
            .header(HOST, self.endpoint.host.clone())
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        self.exchange(request).await
    }

    /// A call for the cold paths: retries transport errors a few times.
    pub async fn call_retrying(&mut self, op: Op, body: Bytes) -> Result<Reply, String> {
        let mut last = String::new();
        for attempt in 0..5 {
            match self.call(op, body.clone()).await {
                Ok(reply) => return Ok(reply),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
        Err(last)
    }
}
