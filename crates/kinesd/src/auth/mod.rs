//! Authentication. For now: the `Authorization` header must be a well-formed SigV4 header (as
//! AWS checks before it verifies anything); signature verification comes in a later issue.
//! The caller's region is read from the credential scope.

use crate::error::{KinesisError, Result};

/// What a well-formed Authorization header tells us about the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key_id: String,
    pub region: String,
}

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Checks the SigV4 `Authorization` header's shape. `has_date` tells whether the request has
/// an `X-Amz-Date` or `Date` header.
pub fn check_authorization(header: Option<&str>, has_date: bool) -> Result<Caller> {
    let Some(header) = header else {
        return Err(KinesisError::MissingAuthenticationToken("Missing Authentication Token".into()));
    };
    let params = header.trim_start().strip_prefix(ALGORITHM).map(str::trim_start);
    let Some(params) = params.filter(|p| !p.is_empty() || header.trim() == ALGORITHM) else {
        return Err(KinesisError::IncompleteSignature(format!(
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={header}"
        )));
    };
    let mut credential = None;
    let mut signature = false;
    let mut signed_headers = false;
    for part in params.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else { continue };
        match key.trim() {
            "Credential" => credential = Some(value.trim()),
            "Signature" => signature = !value.trim().is_empty(),
            "SignedHeaders" => signed_headers = !value.trim().is_empty(),
            _ => {}
        }
    }
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if !signature {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if !signed_headers {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if !has_date {
        missing.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    }
    if !missing.is_empty() {
        return Err(KinesisError::IncompleteSignature(format!("{} Authorization={header}", missing.join(" "))));
    }
    let credential = credential.unwrap_or_default();
    let scope: Vec<&str> = credential.split('/').collect();
    match scope.as_slice() {
        [akid, _date, region, _service, "aws4_request"] if !akid.is_empty() && !region.is_empty() => {
            Ok(Caller { access_key_id: (*akid).to_owned(), region: (*region).to_owned() })
        }
        _ => Err(KinesisError::IncompleteSignature(format!(
            "Credential should be scoped to a valid region. Authorization={header}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKID/20261122/us-west-2/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=abcdef";

    #[test]
    fn well_formed_headers_yield_the_scope_region() {
        let caller = check_authorization(Some(GOOD), true).unwrap();
        assert_eq!(caller, Caller { access_key_id: "AKID".into(), region: "us-west-2".into() });
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
}
