//! Authentication: who is calling. Every request's SigV4 credentials must first be well-formed
//! (the Authorization header or the presigned query string), as AWS checks before it verifies
//! anything. Then, with credentials configured (`--credentials`), the signature is verified
//! against them ([`sigv4`]) and the caller's account is its credential's; without, any
//! well-formed signature is accepted and every caller acts in the configured account.
//!
//! Authorization — what a verified caller may do — is decided by the api layer (`api::access`)
//! with [`policy`]: the [`Caller`] carries its credential's user and identity policy
//! ([`Principal`]).

pub mod canonical;
pub mod credentials;
pub mod policy;
pub mod sigv4;

use std::sync::Arc;

use crate::error::{KinesisError, Result};
pub use credentials::{Credential, CredentialSet, IdentityPolicy, Keyring};

/// The verified identity of a request, carried to every operation in its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key_id: String,
    /// The account whose resources the request acts on: the credential's account, or the
    /// configured account when no credentials are configured.
    pub account_id: String,
    /// The region of the credential scope (`AKID/date/<region>/kinesis/aws4_request`).
    pub region: String,
    /// The configured credential's identity, when the signature was verified against one.
    pub principal: Option<Principal>,
}

/// What a configured credential says about who holds it, for authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The IAM user name of the credential, if the file gives one.
    pub user: Option<String>,
    /// The credential's identity policy, if the file gives one; evaluated for every request.
    pub policy: Option<Arc<IdentityPolicy>>,
}

/// What a SigV4 signature covers, as the request arrived: nothing the transport changed.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as sent, still percent-encoded.
    pub path: &'a str,
    /// The raw query string, if any.
    pub query: Option<&'a str>,
    /// The `Host` header or, on HTTP/2, the `:authority`.
    pub host: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How requests are authenticated: chosen at start, fixed for the server's life (the
/// credentials themselves may be reloaded).
pub enum Authenticator {
    /// No credentials configured: any well-formed signature; every caller in this account.
    AnySignature { account_id: String },
    /// Signatures verified against the keyring's credentials, for the server's region.
    Verifying { keyring: Arc<Keyring>, region: String },
}

impl Caller {
    /// The caller's ARN as IAM names it in policies and messages: its user's, or the account
    /// root's for a credential without a user (and for every caller without `--credentials`).
    pub fn arn(&self) -> String {
        match self.principal.as_ref().and_then(|p| p.user.as_deref()) {
            Some(user) => format!("arn:aws:iam::{}:user/{user}", self.account_id),
            None => format!("arn:aws:iam::{}:root", self.account_id),
        }
    }
}

impl Authenticator {
    /// Whether [`Authenticator::authenticate`] reads the body (it then has to be kept).
    pub fn needs_body(&self) -> bool {
        matches!(self, Authenticator::Verifying { .. })
    }

    /// The request's caller, or AWS's answer to its credentials. `now` is seconds since the
    /// epoch, for the clock-skew check.
    pub fn authenticate(&self, request: &SignedRequest<'_>, now: i64) -> Result<Caller> {
        let has_date = request.headers.contains_key("x-amz-date") || request.headers.contains_key("date");
        let Claimed { access_key_id, region } =
            check_request(request.header("authorization"), has_date, request.query)?;
        match self {
            Authenticator::AnySignature { account_id } => {
                Ok(Caller { access_key_id, account_id: account_id.clone(), region, principal: None })
            }
            Authenticator::Verifying { keyring, region } => sigv4::verify(request, &keyring.current(), region, now),
        }
    }
}

/// What a well-formed SigV4 credential claims, before anything is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub access_key_id: String,
    pub region: String,
}

/// Query-string (presigned) parameters, in the order AWS reports missing ones.
const QUERY_PARAMS: [&str; 5] =
    ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"];

/// Checks the shape of the request's SigV4 credentials, in the header or the query string.
/// `has_date` tells whether the request has an `X-Amz-Date` or `Date` header; `query` is the
/// raw query string, if any.
pub fn check_request(header: Option<&str>, has_date: bool, query: Option<&str>) -> Result<Claimed> {
    let query_params: Vec<(&str, &str)> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    let has_algorithm = query_params.iter().any(|(k, _)| *k == "X-Amz-Algorithm");
    if has_algorithm {
        if header.is_some() {
            return Err(KinesisError::signature_in_query_and_header());
        }
        return check_query(&query_params);
    }
    check_authorization(header, has_date)
}

fn check_query(params: &[(&str, &str)]) -> Result<Claimed> {
    let value = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v).filter(|v| !v.is_empty());
    let missing: Vec<&str> = QUERY_PARAMS.iter().copied().filter(|name| value(name).is_none()).collect();
    if !missing.is_empty() {
        return Err(KinesisError::query_signature_incomplete(&missing));
    }
    let credential = value("X-Amz-Credential").unwrap_or_default().replace("%2F", "/").replace("%2f", "/");
    Ok(caller_from_credential(&credential))
}

/// Checks the SigV4 `Authorization` header's shape, as AWS does before verifying anything:
/// the Credential, Signature and SignedHeaders parameters and a date header must be present.
pub fn check_authorization(header: Option<&str>, has_date: bool) -> Result<Claimed> {
    let Some(header) = header else {
        return Err(KinesisError::missing_authentication_token());
    };
    let mut credential = None;
    let mut signature = false;
    let mut signed_headers = false;
    // Parameters may be separated by commas, spaces or both; the algorithm comes first.
    for part in header.split([',', ' ']).filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        match key {
            "Credential" => credential = Some(value),
            "Signature" => signature = true,
            "SignedHeaders" => signed_headers = true,
            _ => {}
        }
    }
    // AWS lists the missing parameters in this order, then the date header.
    let missing: Vec<&str> =
        [("Credential", credential.is_some()), ("Signature", signature), ("SignedHeaders", signed_headers)]
            .into_iter()
            .filter_map(|(name, present)| (!present).then_some(name))
            .collect();
    if !missing.is_empty() || !has_date {
        return Err(KinesisError::authorization_header_incomplete(&missing, !has_date, header));
    }
    Ok(caller_from_credential(credential.unwrap_or_default()))
}

/// `AKID/20261122/us-east-1/kinesis/aws4_request`; parts that are missing stay empty.
fn caller_from_credential(credential: &str) -> Claimed {
    let mut scope = credential.split('/');
    let access_key_id = scope.next().unwrap_or_default().to_owned();
    let region = scope.nth(1).unwrap_or_default().to_owned();
    Claimed { access_key_id, region }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKID/20261122/us-west-2/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=abcdef";

    #[test]
    fn well_formed_headers_yield_the_scope_region() {
        let caller = check_authorization(Some(GOOD), true).unwrap();
        assert_eq!(caller, Claimed { access_key_id: "AKID".into(), region: "us-west-2".into() });
    }

    #[test]
    fn missing_header_is_missing_token() {
        let e = check_authorization(None, true).unwrap_err();
        assert_eq!(e.type_name(), "MissingAuthenticationTokenException");
        assert_eq!(e.message(), "Missing Authentication Token");
    }

    #[test]
    fn incomplete_headers_list_every_missing_part() {
        let e = check_authorization(Some("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request"), false).unwrap_err();
        assert_eq!(e.type_name(), "IncompleteSignatureException");
        assert_eq!(
            e.message(),
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
             Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
             Authorization=AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request"
        );
        assert_eq!(check_authorization(Some("garbage"), true).unwrap_err().type_name(), "IncompleteSignatureException");
    }

    #[test]
    fn parameters_may_be_separated_by_spaces() {
        let e = check_authorization(Some("AWS4- Signature=b Credential=a"), true).unwrap_err();
        assert_eq!(
            e.message(),
            "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4- Signature=b Credential=a"
        );
    }

    #[test]
    fn query_string_credentials_are_checked() {
        let e = check_request(Some(GOOD), true, Some("X-Amz-Algorithm=x")).unwrap_err();
        assert_eq!(e.type_name(), "InvalidSignatureException");
        let e = check_request(None, false, Some("X-Amz-Algorithm")).unwrap_err();
        assert_eq!(
            e.message(),
            "AWS query-string parameters must include 'X-Amz-Algorithm'. AWS query-string parameters must include 'X-Amz-Credential'. \
             AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. \
             AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters."
        );
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261122%2Feu-west-1%2Fkinesis%2Faws4_request&X-Amz-Signature=a&X-Amz-SignedHeaders=host&X-Amz-Date=20261122T000000Z";
        assert_eq!(check_request(None, false, Some(q)).unwrap().region, "eu-west-1");
        // Without the algorithm, query parameters are not credentials at all.
        assert_eq!(
            check_request(None, false, Some("X-Amz-Credential=a")).unwrap_err().type_name(),
            "MissingAuthenticationTokenException"
        );
    }
}
