//! A small Kinesis API client: awsJson 1.1 over one HTTP/1.1 connection (plain or TLS), SigV4-signed, with
//! the SDKs' retry of throttling, server errors and broken connections.
//!
//! One connection at a time (reopened when it breaks): the subcommands make one call after
//! another, so a pool would buy nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::auth::SignedRequest;
use crate::auth::canonical::write_request;
use crate::auth::sigv4::derive_signing_key;

/// Calls made before a retryable failure is given up on: with the back-off below, about 20 s.
const MAX_ATTEMPTS: u32 = 10;
/// First back-off; doubles each attempt up to [`MAX_BACKOFF`], with jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Time for one call's connection, request and response, so a silent server cannot hang us.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What a request is signed with.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl Credentials {
    /// For a local server without `--credentials`, which accepts any well-formed signature.
    pub fn anonymous_local() -> Credentials {
        Credentials { access_key_id: "kinesd".into(), secret_access_key: "kinesd".into(), session_token: None }
    }
}

/// Why a call failed, after any retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The service answered with an error: its HTTP status, type (`ResourceNotFoundException`)
    /// and message.
    Api { status: u16, kind: String, message: String },
    /// No answer: the connection failed or timed out.
    Transport(String),
    /// The TLS handshake failed (an untrusted certificate, a name that does not match):
    /// retrying cannot help.
    Tls(String),
}

impl CallError {
    pub fn kind(&self) -> Option<&str> {
        match self {
            CallError::Api { kind, .. } => Some(kind),
            CallError::Transport(_) | CallError::Tls(_) => None,
        }
    }

    /// Whether the SDKs would retry it: throttling, a server-side failure, no answer.
    fn is_retryable(&self) -> bool {
        match self {
            CallError::Transport(_) => true,
            CallError::Tls(_) => false,
            CallError::Api { status, kind, .. } => {
                *status >= 500
                    || matches!(
                        kind.as_str(),
                        "ProvisionedThroughputExceededException"
                            | "LimitExceededException"
                            | "ThrottlingException"
                            | "KMSThrottlingException"
                    )
            }
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Api { kind, message, .. } if message.is_empty() => f.write_str(kind),
            CallError::Api { kind, message, .. } => write!(f, "{kind}: {message}"),
            CallError::Transport(why) => write!(f, "no answer: {why}"),
            CallError::Tls(why) => f.write_str(why),
        }
    }
}

/// The back-off before attempt `attempt + 1` (attempt counts from 1): exponential, capped,
/// with up to half of it random so that many clients do not retry in step.
pub fn backoff(attempt: u32) -> Duration {
    let full = FIRST_BACKOFF.saturating_mul(1 << attempt.min(16)).min(MAX_BACKOFF);
    let half = full / 2;
    half + half.mul_f64(rand::random::<f64>())
}

pub struct Client {
    /// `host[:port]` as the URL gives it: the `Host` header, and what is signed.
    authority: String,
    /// Where to connect.
    address: (String, u16),
    /// For `https://`: the TLS configuration and the name the certificate must carry.
    tls: Option<(tokio_rustls::TlsConnector, rustls_pki_types::ServerName<'static>)>,
    region: String,
    credentials: Credentials,
    connection: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
}

impl Client {
    /// A client of `endpoint`; for `https://`, trusting `ca_bundle` (PEM) or else the system's
    /// certificate authorities.
    pub fn new(
        endpoint: &str,
        region: String,
        credentials: Credentials,
        ca_bundle: Option<&Path>,
    ) -> Result<Client, String> {
        let uri: http::Uri = endpoint.parse().map_err(|e| format!("--endpoint {endpoint:?} is not a URL: {e}"))?;
        let secure = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("--endpoint {endpoint:?} must be an http:// or https:// URL")),
        };
        let authority = uri.authority().ok_or_else(|| format!("--endpoint {endpoint:?} has no host"))?;
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = authority.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let tls = match secure {
            false => None,
            true => {
                let name = rustls_pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| format!("--endpoint {endpoint:?}: {e}"))?;
                Some((connector(ca_bundle)?, name))
            }
        };
        Ok(Client {
            authority: authority.as_str().to_owned(),
            address: (host, port),
            tls,
            region,
            credentials,
            connection: None,
        })
    }

    /// Calls `operation` with `input`, retrying what the SDKs retry.
    pub async fn call<I: Serialize, O: DeserializeOwned>(
        &mut self,
        operation: &str,
        input: &I,
    ) -> Result<O, CallError> {
        let body = Bytes::from(serde_json::to_vec(input).expect("inputs serialise"));
        let mut attempt = 1;
        loop {
            let outcome = match tokio::time::timeout(CALL_TIMEOUT, self.call_once(operation, body.clone())).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    self.connection = None;
                    Err(CallError::Transport(format!("no answer within {} s", CALL_TIMEOUT.as_secs())))
                }
            };
            match outcome {
                Ok(bytes) => {
                    // Void operations answer with an empty body (or `{}`).
                    let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { &bytes };
                    return serde_json::from_slice(bytes).map_err(|e| CallError::Api {
                        status: 200,
                        kind: "UnreadableResponse".into(),
                        message: format!("{operation}'s answer is not what the API describes: {e}"),
                    });
                }
                Err(error) if error.is_retryable() && attempt < MAX_ATTEMPTS => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn call_once(&mut self, operation: &str, body: Bytes) -> Result<Bytes, CallError> {
        let request = self.signed(operation, body);
        let mut sender = match self.connection.take() {
            Some(sender) if !sender.is_closed() => sender,
            _ => self.connect().await?,
        };
        sender.ready().await.map_err(|e| CallError::Transport(e.to_string()))?;
        let response = sender.send_request(request).await.map_err(|e| CallError::Transport(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.map_err(|e| CallError::Transport(e.to_string()))?.to_bytes();
        // The connection goes back only once its response was read whole.
        self.connection = Some(sender);
        if parts.status.is_success() {
            return Ok(bytes);
        }
        Err(api_error(parts.status.as_u16(), &parts.headers, &bytes))
    }

    async fn connect(&self) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, CallError> {
        let (host, port) = &self.address;
        let stream = tokio::net::TcpStream::connect((host.as_str(), *port))
            .await
            .map_err(|e| CallError::Transport(format!("cannot connect to {}: {e}", self.authority)))?;
        let _ = stream.set_nodelay(true);
        let Some((connector, name)) = &self.tls else { return handshake(stream).await };
        let stream = connector
            .connect(name.clone(), stream)
            .await
            .map_err(|e| CallError::Tls(format!("TLS with {}: {e}", self.authority)))?;
        handshake(stream).await
    }

    /// The request for `operation`, signed with SigV4 as the SDKs sign it.
    fn signed(&self, operation: &str, body: Bytes) -> http::Request<Full<Bytes>> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let date = crate::error::java_date::amz_date(now);
        let mut headers = http::HeaderMap::new();
        let value = |s: &str| http::HeaderValue::from_str(s).expect("header values are ASCII");
        headers.insert(http::header::CONTENT_TYPE, value("application/x-amz-json-1.1"));
        headers.insert(http::header::HOST, value(&self.authority));
        headers.insert("x-amz-date", value(&date));
        headers.insert("x-amz-target", value(&format!("Kinesis_20131202.{operation}")));
        let mut signed_headers = String::from("content-type;host;x-amz-date");
        if let Some(token) = &self.credentials.session_token {
            headers.insert("x-amz-security-token", value(token));
            signed_headers.push_str(";x-amz-security-token");
        }
        signed_headers.push_str(";x-amz-target");
        let payload_hash = hex::encode(Sha256::digest(&body));
        let mut canonical = Sha256::new();
        let request = SignedRequest {
            method: "POST",
            path: "/",
            query: None,
            host: Some(&self.authority),
            headers: &headers,
            body: &body,
        };
        write_request(&mut canonical, &request, &signed_headers, false, &payload_hash);
        let scope = format!("{}/{}/kinesis/aws4_request", &date[..8], self.region);
        let to_sign = format!("AWS4-HMAC-SHA256\n{date}\n{scope}\n{}", hex::encode(canonical.finalize()));
        let key = derive_signing_key(&self.credentials.secret_access_key, &date[..8], &self.region, "kinesis");
        let signature = {
            use hmac::Mac;
            let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
            mac.update(to_sign.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        };
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.credentials.access_key_id
        );
        headers.insert(http::header::AUTHORIZATION, value(&authorization));
        let mut request = http::Request::new(Full::new(body));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = http::Uri::from_static("/");
        *request.headers_mut() = headers;
        request
    }
}

/// HTTP/1.1 over `io`, its connection driven by a task of its own.
async fn handshake<IO>(io: IO) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, CallError>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| CallError::Transport(e.to_string()))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Where the system keeps its certificate authorities (Debian, Fedora, Alpine/macOS).
const SYSTEM_CA_BUNDLES: &[&str] =
    &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

/// The TLS client configuration: rustls with ring (as the server's listener), HTTP/1.1 by ALPN,
/// trusting the PEM bundle given or else the system's.
fn connector(ca_bundle: Option<&Path>) -> Result<tokio_rustls::TlsConnector, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let path = match ca_bundle {
        Some(path) => path.to_owned(),
        None => SYSTEM_CA_BUNDLES.iter().map(PathBuf::from).find(|p| p.is_file()).ok_or_else(|| {
            "no system certificate authorities found; give --ca-bundle (or AWS_CA_BUNDLE)".to_string()
        })?,
    };
    let pem = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("{} is not a PEM certificate bundle: {e}", path.display()))?;
        // A bundle may hold certificates rustls cannot use; the others still count.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(format!("{} holds no usable certificate", path.display()));
    }
    // ring, as the server's TLS listener uses (see transport/tls.rs).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// The error an AWS JSON service answers: `__type` (possibly `namespace#Name`) and `message`
/// in the body, or `x-amzn-ErrorType` in the headers.
fn api_error(status: u16, headers: &http::HeaderMap, body: &[u8]) -> CallError {
    #[derive(serde::Deserialize, Default)]
    struct ErrorBody {
        #[serde(rename = "__type")]
        kind: Option<String>,
        #[serde(alias = "Message")]
        message: Option<String>,
    }
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let header =
        headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(|s| s.split(':').next().unwrap_or(s));
    let kind = parsed.kind.as_deref().or(header).unwrap_or("UnknownError");
    let kind = kind.rsplit('#').next().unwrap_or(kind).to_owned();
    CallError::Api { status, kind, message: parsed.message.unwrap_or_default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_their_type_without_the_namespace() {
        let e = api_error(
            400,
            &http::HeaderMap::new(),
            br#"{"__type":"com.amazon#ResourceNotFoundException","message":"gone"}"#,
        );
        assert_eq!(e.to_string(), "ResourceNotFoundException: gone");
        assert!(!e.is_retryable());
        let e = api_error(400, &http::HeaderMap::new(), br#"{"__type":"ProvisionedThroughputExceededException"}"#);
        assert!(e.is_retryable());
        assert!(api_error(503, &http::HeaderMap::new(), b"").is_retryable());
    }

    /// What the client signs, the server's verifier accepts — with and without a session token —
    /// and a changed body or a wrong secret it refuses.
    #[test]
    fn signatures_verify_against_the_servers_verifier() {
        let keys = crate::auth::CredentialSet::parse(
            "[[credential]]\naccess_key_id = \"AKIDTEST\"\nsecret_access_key = \"s3cret\"\naccount_id = \"111122223333\"\n\
             [[credential]]\naccess_key_id = \"ASIATEST\"\nsecret_access_key = \"t3mp\"\naccount_id = \"111122223333\"\n\
             session_token = \"tok\"\n",
        )
        .unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let verify = |client: &Client, body: &[u8], sent: &[u8]| {
            let request = client.signed("ListStreams", Bytes::copy_from_slice(body));
            let signed = SignedRequest {
                method: "POST",
                path: "/",
                query: None,
                host: None,
                headers: request.headers(),
                body: sent,
            };
            crate::auth::sigv4::verify(&signed, &keys, "eu-west-1", now).map(|caller| caller.account_id)
        };
        let credentials = |id: &str, secret: &str, token: Option<&str>| Credentials {
            access_key_id: id.into(),
            secret_access_key: secret.into(),
            session_token: token.map(Into::into),
        };
        let client = |c| Client::new("http://localhost:4567", "eu-west-1".into(), c, None).unwrap();
        let plain = client(credentials("AKIDTEST", "s3cret", None));
        assert_eq!(verify(&plain, b"{}", b"{}").unwrap(), "111122223333");
        assert!(verify(&plain, b"{}", b"{ }").is_err(), "the body is signed");
        assert!(verify(&client(credentials("AKIDTEST", "wrong", None)), b"{}", b"{}").is_err());
        let temporary = client(credentials("ASIATEST", "t3mp", Some("tok")));
        assert_eq!(verify(&temporary, b"{}", b"{}").unwrap(), "111122223333");
    }

    #[test]
    fn back_off_grows_and_is_capped() {
        assert!(backoff(1) <= Duration::from_millis(100));
        assert!(backoff(30) <= MAX_BACKOFF && backoff(30) >= MAX_BACKOFF / 2);
    }

    #[test]
    fn endpoints_must_be_http_urls() {
        let c = || Credentials::anonymous_local();
        let new = |url: &str| Client::new(url, "us-east-1".into(), c(), None);
        assert!(new("http://127.0.0.1:4567").is_ok());
        assert_eq!(new("http://[::1]").unwrap().address, ("::1".to_string(), 80));
        assert!(new("ftp://x").is_err());
        assert!(new("not a url").is_err());
        let missing = Client::new("https://x", "us-east-1".into(), c(), Some(Path::new("/nonexistent.pem")));
        assert!(missing.is_err_and(|e| e.contains("/nonexistent.pem")));
    }
}
