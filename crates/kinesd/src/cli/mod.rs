//! `kinesd tail` and `kinesd put`: Kinesis API clients on the command line.
//!
//! They speak the Kinesis API over HTTP to any endpoint — this server or any other that speaks
//! it — exactly as an SDK would (awsJson 1.1, SigV4-signed), so they never reach into the
//! engine: what they show is what any client would see. Signing reuses the server's own
//! canonical request ([`crate::auth::canonical`]), which is tested against botocore's.

pub mod client;
pub mod kpl;
pub mod put;
pub mod shapes;
pub mod tail;
pub mod time;

use clap::{Args, Subcommand};

/// The subcommands of `kinesd`; with none, `kinesd` is the server.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Follow a stream and print its records (children after their parents across reshards).
    Tail(tail::TailArgs),
    /// Write lines from stdin or files as records, batched into PutRecords.
    Put(put::PutArgs),
}

/// Where a client subcommand sends its requests and how it signs them.
#[derive(Debug, Clone, Args)]
pub struct EndpointArgs {
    /// Kinesis endpoint URL (default: this configuration's server, http://<host>:<port>).
    #[arg(long)]
    pub endpoint: Option<String>,

    /// Region to sign for (default: AWS_REGION, AWS_DEFAULT_REGION, then the server
    /// configuration's --region).
    #[arg(long)]
    pub region: Option<String>,

    /// Access key id to sign with (default: AWS_ACCESS_KEY_ID).
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    pub access_key_id: Option<String>,

    /// Secret access key to sign with (default: AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: Option<String>,

    /// Session token of temporary credentials (default: AWS_SESSION_TOKEN).
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true)]
    pub session_token: Option<String>,

    /// PEM file of the certificate authorities to trust for an https:// endpoint (default: the
    /// system's), e.g. kinesd's `<data-dir>/tls/cert.pem`.
    #[arg(long, env = "AWS_CA_BUNDLE")]
    pub ca_bundle: Option<std::path::PathBuf>,
}

impl EndpointArgs {
    /// The client these arguments describe; `host`, `port` and `region` are the server
    /// configuration's, the defaults for a local server.
    pub fn client(&self, host: &str, port: u16, region: &str) -> Result<client::Client, String> {
        let endpoint = match &self.endpoint {
            Some(url) => url.clone(),
            None => {
                // A server listening on every address is reached on loopback.
                let host = match host {
                    "0.0.0.0" => "127.0.0.1",
                    "::" => "::1",
                    h => h,
                };
                if host.contains(':') { format!("http://[{host}]:{port}") } else { format!("http://{host}:{port}") }
            }
        };
        let region = self
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok().filter(|r| !r.is_empty()))
            .unwrap_or_else(|| region.to_owned());
        let credentials = match (&self.access_key_id, &self.secret_access_key) {
            (Some(id), Some(secret)) => client::Credentials {
                access_key_id: id.clone(),
                secret_access_key: secret.clone(),
                session_token: self.session_token.clone(),
            },
            (None, None) => client::Credentials::anonymous_local(),
            _ => return Err("give both an access key id and a secret access key, or neither".into()),
        };
        client::Client::new(&endpoint, region, credentials, self.ca_bundle.as_deref())
    }
}

/// Runs a subcommand to the end; the process's exit code.
pub async fn run(command: Command, host: &str, port: u16, region: &str) -> std::process::ExitCode {
    let outcome = match command {
        Command::Tail(args) => tail::run(args, host, port, region).await,
        Command::Put(args) => put::run(args, host, port, region).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kinesd: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
