//! SigV4 verification against configured credentials, in the order AWS's Coral services check
//! (aws-behaviour.md §20): the date's format, the clock skew, `host` among the signed headers,
//! the algorithm, the credential's five parts, its scope (region, service, terminator, date),
//! the access key, the signature, and last the session token. The signature is recomputed from
//! the request as received — method, path, query, the signed headers and the SHA-256 of the body
//! — and compared in constant time.

use std::borrow::Cow;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::SignedRequest;
use super::canonical::{self, percent_decode};
use super::credentials::CredentialSet;
use super::{Caller, Principal};
use crate::error::{KinesisError, Result};

type HmacSha256 = Hmac<Sha256>;

/// The only service kinesd signs for.
const SERVICE: &str = "kinesis";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const TERMINATOR: &str = "aws4_request";
/// How far a request's date may be from the server's clock, either way (AWS Kinesis: 5 min).
pub const CLOCK_SKEW_MINUTES: i64 = 5;
/// Longest `X-Amz-Expires` AWS allows on a presigned request: seven days.
const MAX_PRESIGNED_EXPIRES: i64 = 7 * 24 * 3600;

/// The signature's parts, from the Authorization header or the presigned query string.
struct Parts<'a> {
    algorithm: Cow<'a, str>,
    credential: Cow<'a, str>,
    signed_headers: Cow<'a, str>,
    signature: Cow<'a, str>,
    date: Cow<'a, str>,
    security_token: Option<Cow<'a, str>>,
    /// `Some` for the presigned form: its `X-Amz-Expires`, if given.
    presigned: Option<Option<Cow<'a, str>>>,
}

/// Verifies `request` against `credentials` at `now` (seconds since the epoch) for `region`.
/// The request's shape has been checked already (`super::check_request`).
pub fn verify(request: &SignedRequest<'_>, credentials: &CredentialSet, region: &str, now: i64) -> Result<Caller> {
    let parts = parts(request);
    let date = parse_amz_date(&parts.date).ok_or_else(|| KinesisError::signature_date_malformed(&parts.date))?;
    let skew = CLOCK_SKEW_MINUTES * 60;
    if date < now - skew {
        return Err(KinesisError::signature_expired(&parts.date, now, CLOCK_SKEW_MINUTES));
    }
    if date > now + skew {
        return Err(KinesisError::signature_not_yet_current(&parts.date, now, CLOCK_SKEW_MINUTES));
    }
    if let Some(Some(expires)) = &parts.presigned {
        // kinesd's choice: a presigned request also ends at its own expiry, when that is sooner.
        let expires = expires.parse::<i64>().ok().filter(|e| (1..=MAX_PRESIGNED_EXPIRES).contains(e));
        if let Some(expires) = expires
            && now > date + expires
        {
            return Err(KinesisError::presigned_request_expired(&parts.date, now, expires));
        }
    }
    // Over HTTP/2 the JavaScript SDK signs `:authority` in place of `host`, and AWS accepts it.
    if !parts.signed_headers.split(';').any(|h| h.eq_ignore_ascii_case("host") || h == ":authority") {
        return Err(KinesisError::host_not_signed());
    }
    if parts.algorithm != ALGORITHM {
        return Err(KinesisError::signature_algorithm_unsupported(&parts.algorithm));
    }
    let credential = parts.credential.trim_end_matches('/');
    let mut scope = credential.split('/');
    let (Some(access_key_id), Some(scope_date), Some(scope_region), Some(service), Some(terminator), None) =
        (scope.next(), scope.next(), scope.next(), scope.next(), scope.next(), scope.next())
    else {
        return Err(KinesisError::credential_malformed(credential));
    };
    let wrong_date = scope_date != parts.date.get(..8).unwrap_or(&parts.date);
    if scope_region != region || service != SERVICE || terminator != TERMINATOR || wrong_date {
        return Err(KinesisError::credential_scope_wrong(
            (scope_region != region).then_some(scope_region),
            (service != SERVICE).then_some(SERVICE),
            (terminator != TERMINATOR).then_some(terminator),
            wrong_date.then_some((scope_date, &parts.date)),
        ));
    }
    let Some(found) = credentials.get(access_key_id) else {
        return Err(KinesisError::security_token_invalid());
    };
    // `AKID/date/region/service`: the credential up to its terminator names the signing key.
    let key_scope = &credential[..credential.len() - TERMINATOR.len() - 1];
    let signing_key = credentials
        .signing_key(key_scope, || derive_signing_key(found.secret_access_key(), scope_date, scope_region, SERVICE));
    let provided = decode_signature(&parts.signature);
    let scope_for_string = &credential[access_key_id.len() + 1..];
    // Hex digests are written into stack buffers: nothing on this path allocates per request
    // but the caller it returns.
    let mut body_hex = [0u8; 64];
    let body_hash = hex_digest(&Sha256::digest(request.body).into(), &mut body_hex);
    let mut matches = signature_matches(request, &parts, body_hash, scope_for_string, &signing_key, provided);
    if !matches && parts.presigned.is_some() {
        // kinesd's choice: a presigned URL may leave its body unsigned, as botocore's
        // presigner does (it signs `UNSIGNED-PAYLOAD` when no payload hash header is given).
        matches = signature_matches(request, &parts, "UNSIGNED-PAYLOAD", scope_for_string, &signing_key, provided);
    }
    if !matches {
        return Err(KinesisError::signature_mismatch());
    }
    let token_ok = match (found.session_token(), parts.security_token.as_deref()) {
        (None, None) => true,
        (Some(expected), Some(given)) => constant_time_eq(expected.as_bytes(), given.as_bytes()),
        _ => false,
    };
    if !token_ok {
        return Err(KinesisError::security_token_invalid());
    }
    Ok(Caller {
        access_key_id: found.access_key_id.clone(),
        account_id: found.account_id.clone(),
        region: scope_region.to_owned(),
        principal: Some(Principal { user: found.user.clone(), policy: found.policy.clone() }),
    })
}

/// The signature's parts; absent ones are empty (the shape check has ruled that out).
fn parts<'a>(request: &SignedRequest<'a>) -> Parts<'a> {
    let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(authorization) = header("authorization") {
        let (algorithm, rest) = authorization.trim_start().split_once(' ').unwrap_or((authorization, ""));
        let (mut credential, mut signed_headers, mut signature) = ("", "", "");
        for part in rest.split([',', ' ']).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some(("Credential", v)) => credential = v,
                Some(("SignedHeaders", v)) => signed_headers = v,
                Some(("Signature", v)) => signature = v,
                _ => {}
            }
        }
        let date = header("x-amz-date").or_else(|| header("date")).unwrap_or_default();
        return Parts {
            algorithm: algorithm.into(),
            credential: credential.into(),
            signed_headers: signed_headers.into(),
            signature: signature.into(),
            date: date.into(),
            security_token: header("x-amz-security-token").map(Cow::from),
            presigned: None,
        };
    }
    let mut query: Vec<(&str, &str)> = Vec::new();
    for pair in request.query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        query.push(pair.split_once('=').unwrap_or((pair, "")));
    }
    let param = |name: &str| query.iter().find(|(k, _)| *k == name).map(|(_, v)| percent_decode(v));
    let empty = || Cow::Borrowed("");
    Parts {
        algorithm: param("X-Amz-Algorithm").unwrap_or_else(empty),
        credential: param("X-Amz-Credential").unwrap_or_else(empty),
        signed_headers: param("X-Amz-SignedHeaders").unwrap_or_else(empty),
        signature: param("X-Amz-Signature").unwrap_or_else(empty),
        date: param("X-Amz-Date").unwrap_or_else(empty),
        security_token: param("X-Amz-Security-Token"),
        presigned: Some(param("X-Amz-Expires")),
    }
}

/// Whether `provided` is the signature of `request` with this payload hash and key.
fn signature_matches(
    request: &SignedRequest<'_>,
    parts: &Parts<'_>,
    payload_hash: &str,
    scope: &str,
    signing_key: &[u8; 32],
    provided: Option<[u8; 32]>,
) -> bool {
    let mut canonical_hash = Sha256::new();
    canonical::write_request(
        &mut canonical_hash,
        request,
        &parts.signed_headers,
        parts.presigned.is_some(),
        payload_hash,
    );
    let mut canonical_hex = [0u8; 64];
    let canonical_hash = hex_digest(&canonical_hash.finalize().into(), &mut canonical_hex);
    let mut mac = hmac(signing_key);
    for piece in [ALGORITHM, "\n", &parts.date, "\n", scope, "\n", canonical_hash] {
        mac.update(piece.as_bytes());
    }
    // `verify_slice` compares in constant time; a signature that is not 64 hex digits still
    // costs the same HMAC, so its shape tells a timing observer nothing.
    mac.verify_slice(&provided.unwrap_or_default()).is_ok() && provided.is_some()
}

/// `digest` as lowercase hex, written into `out`.
fn hex_digest<'a>(digest: &[u8; 32], out: &'a mut [u8; 64]) -> &'a str {
    hex::encode_to_slice(digest, out).expect("64 hex digits fit 64 bytes");
    std::str::from_utf8(out).expect("hex digits are ASCII")
}

fn decode_signature(signature: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(signature, &mut out).ok()?;
    Some(out)
}

fn hmac(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
pub fn derive_signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mac_of = |key: &[u8], data: &str| -> [u8; 32] {
        let mut mac = hmac(key);
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().into()
    };
    let mut key = mac_of(format!("AWS4{secret}").as_bytes(), date);
    for part in [region, service, TERMINATOR] {
        key = mac_of(&key, part);
    }
    key
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `20261206T071500Z` as seconds since the epoch. A `Date` header stands in for a missing
/// `X-Amz-Date` only when it is written the same way (an RFC 1123 date is refused as malformed).
pub fn parse_amz_date(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    if b.len() == 16 && b[8] == b'T' && b[15] == b'Z' {
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let s = date.get(r)?;
            s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
        };
        let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
        let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        return Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss);
    }
    None
}

/// (year, month, day) to days since 1970-01-01, after Howard Hinnant's algorithm.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::amz_date;
    use http::HeaderMap;

    const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        map
    }

    fn header_parts<'a>(signed_headers: &'a str, date: &'a str) -> Parts<'a> {
        Parts {
            algorithm: ALGORITHM.into(),
            credential: "".into(),
            signed_headers: signed_headers.into(),
            signature: "".into(),
            date: date.into(),
            security_token: None,
            presigned: None,
        }
    }

    /// AWS's SigV4 test suite (`aws-sig-v4-test-suite`, service `service`, us-east-1,
    /// 2015-08-30T12:36:00Z, AKIDEXAMPLE): get-vanilla, get-vanilla-query-order-key-case and
    /// post-vanilla, with their published signatures, through the code that verifies requests.
    #[test]
    fn aws_test_suite_signatures_verify() {
        let key = derive_signing_key(SUITE_SECRET, "20150830", "us-east-1", "service");
        let map = headers(&[("host", "example.amazonaws.com"), ("x-amz-date", "20150830T123600Z")]);
        let empty_hash = hex::encode(Sha256::digest(b""));
        for (method, query, signature) in [
            ("GET", None, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
            (
                "GET",
                Some("Param2=value2&Param1=value1"),
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            ),
            ("POST", None, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
        ] {
            let request = SignedRequest { method, path: "/", query, host: None, headers: &map, body: b"" };
            let parts = header_parts("host;x-amz-date", "20150830T123600Z");
            let scope = "20150830/us-east-1/service/aws4_request";
            let provided = decode_signature(signature);
            assert!(signature_matches(&request, &parts, &empty_hash, scope, &key, provided), "{method} {query:?}");
            let mut tampered = provided.unwrap();
            tampered[31] ^= 1;
            assert!(!signature_matches(&request, &parts, &empty_hash, scope, &key, Some(tampered)));
            let other_body = hex::encode(Sha256::digest(b"x"));
            assert!(!signature_matches(&request, &parts, &other_body, scope, &key, provided), "the body is signed");
        }
    }

    /// The signing key of AWS's documentation example (IAM, 2015-08-30, us-east-1).
    #[test]
    fn signing_keys_match_aws_documentation() {
        let key = derive_signing_key(SUITE_SECRET, "20150830", "us-east-1", "iam");
        assert_eq!(hex::encode(key), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    }

    #[test]
    fn amz_dates_round_trip() {
        for secs in [0, 1_700_000_000, 951_868_799, 4_102_444_800] {
            assert_eq!(parse_amz_date(&amz_date(secs)), Some(secs));
        }
        for bad in ["201", "20261206T071500", "2026120XT071500Z", "20261306T071500Z", "20261206 071500Z", ""] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    const FILE: &str = r#"
[[credential]]
access_key_id = "AKIDA"
secret_access_key = "secret-a"
account_id = "111111111111"
user = "alice"

[[credential]]
access_key_id = "AKIDT"
secret_access_key = "secret-t"
account_id = "222222222222"
session_token = "the-token"
"#;
    const NOW: i64 = 1_796_541_300; // 2026-12-06T07:15:00Z
    const BODY: &[u8] = br#"{"StreamName":"s"}"#;

    /// A Kinesis request signed the way SDKs sign it, with `edit` applied to its parts before
    /// the signature is computed (to sign something wrong) and `after` applied after (to tamper).
    struct Signed {
        map: HeaderMap,
        body: Vec<u8>,
    }

    fn sign(key: &str, secret: &str, date: &str, scope_region: &str, token: Option<&str>) -> Signed {
        let mut map = headers(&[
            ("content-type", "application/x-amz-json-1.1"),
            ("host", "127.0.0.1:4567"),
            ("x-amz-date", date),
            ("x-amz-target", "Kinesis_20131202.DescribeStreamSummary"),
        ]);
        let mut signed_headers = "content-type;host;x-amz-date;x-amz-target".to_owned();
        if let Some(token) = token {
            map.insert("x-amz-security-token", token.parse().unwrap());
            signed_headers.push_str(";x-amz-security-token");
        }
        let day = &date[..8];
        let scope = format!("{day}/{scope_region}/kinesis/aws4_request");
        let request = SignedRequest { method: "POST", path: "/", query: None, host: None, headers: &map, body: BODY };
        let mut canonical = Sha256::new();
        canonical::write_request(&mut canonical, &request, &signed_headers, false, &hex::encode(Sha256::digest(BODY)));
        let to_sign = format!("{ALGORITHM}\n{date}\n{scope}\n{}", hex::encode(canonical.finalize()));
        let mut mac = hmac(&derive_signing_key(secret, day, scope_region, "kinesis"));
        mac.update(to_sign.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        let authorization =
            format!("{ALGORITHM} Credential={key}/{scope}, SignedHeaders={signed_headers}, Signature={signature}");
        map.insert("authorization", authorization.parse().unwrap());
        Signed { map, body: BODY.to_vec() }
    }

    fn check(signed: &Signed) -> Result<Caller> {
        let set = CredentialSet::parse(FILE).unwrap();
        let request = SignedRequest {
            method: "POST",
            path: "/",
            query: None,
            host: None,
            headers: &signed.map,
            body: &signed.body,
        };
        verify(&request, &set, "us-east-1", NOW)
    }

    fn error(signed: &Signed) -> (String, String) {
        let e = check(signed).unwrap_err();
        (e.type_name().to_owned(), e.message().to_owned())
    }

    #[test]
    fn a_correct_signature_yields_the_credentials_account_and_principal() {
        let caller = check(&sign("AKIDA", "secret-a", &amz_date(NOW), "us-east-1", None)).unwrap();
        assert_eq!((caller.access_key_id.as_str(), caller.account_id.as_str()), ("AKIDA", "111111111111"));
        assert_eq!(caller.principal.unwrap().user.as_deref(), Some("alice"));
        // Within the skew either way.
        assert!(check(&sign("AKIDA", "secret-a", &amz_date(NOW - 299), "us-east-1", None)).is_ok());
        assert!(check(&sign("AKIDA", "secret-a", &amz_date(NOW + 299), "us-east-1", None)).is_ok());
    }

    #[test]
    fn each_wrong_part_gets_aws_answer() {
        let now = amz_date(NOW);
        let mismatch = (
            "InvalidSignatureException".to_owned(),
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret \
             Access Key and signing method. Consult the service documentation for details."
                .to_owned(),
        );
        let invalid_token = (
            "UnrecognizedClientException".to_owned(),
            "The security token included in the request is invalid.".to_owned(),
        );
        assert_eq!(error(&sign("AKIDA", "wrong", &now, "us-east-1", None)), mismatch);
        assert_eq!(error(&sign("AKIDX", "secret-a", &now, "us-east-1", None)), invalid_token);
        let mut tampered = sign("AKIDA", "secret-a", &now, "us-east-1", None);
        tampered.body = br#"{"StreamName":"t"}"#.to_vec();
        assert_eq!(error(&tampered), mismatch, "a body changed after signing");
        let mut tampered = sign("AKIDA", "secret-a", &now, "us-east-1", None);
        tampered.map.insert("x-amz-target", "Kinesis_20131202.DeleteStream".parse().unwrap());
        assert_eq!(error(&tampered), mismatch, "a signed header changed after signing");
        assert_eq!(
            error(&sign("AKIDA", "secret-a", "20100101T000000Z", "us-east-1", None)),
            (
                "InvalidSignatureException".to_owned(),
                "Signature expired: 20100101T000000Z is now earlier than 20261206T071000Z (20261206T071500Z - 5 min.)"
                    .to_owned()
            )
        );
        assert_eq!(
            error(&sign("AKIDA", "secret-a", "20261206T072001Z", "us-east-1", None)),
            (
                "InvalidSignatureException".to_owned(),
                "Signature not yet current: 20261206T072001Z is still later than 20261206T072000Z (20261206T071500Z + 5 min.)"
                    .to_owned()
            )
        );
        assert_eq!(
            error(&sign("AKIDA", "secret-a", &now, "eu-west-1", None)),
            (
                "InvalidSignatureException".to_owned(),
                "Credential should be scoped to a valid region, not 'eu-west-1'. ".to_owned()
            )
        );
        // A session token: required when the credential has one, refused when it has none.
        assert!(check(&sign("AKIDT", "secret-t", &now, "us-east-1", Some("the-token"))).is_ok());
        assert_eq!(error(&sign("AKIDT", "secret-t", &now, "us-east-1", None)), invalid_token);
        assert_eq!(error(&sign("AKIDT", "secret-t", &now, "us-east-1", Some("other"))), invalid_token);
        assert_eq!(error(&sign("AKIDA", "secret-a", &now, "us-east-1", Some("the-token"))), invalid_token);
    }

    #[test]
    fn malformed_parts_are_reported_in_aws_order() {
        let set = CredentialSet::parse(FILE).unwrap();
        let answer = |authorization: &str, date: &str| {
            let map = headers(&[("authorization", authorization), ("x-amz-date", date), ("host", "h")]);
            let request =
                SignedRequest { method: "POST", path: "/", query: None, host: None, headers: &map, body: b"" };
            let e = verify(&request, &set, "us-east-1", NOW).unwrap_err();
            (e.type_name(), e.message().to_owned())
        };
        let now = amz_date(NOW);
        let good_scope = "Credential=AKIDA/20261206/us-east-1/kinesis/aws4_request";
        assert_eq!(
            answer(&format!("AWS4-HMAC-SHA256 {good_scope}, SignedHeaders=host, Signature=00"), "201"),
            (
                "IncompleteSignatureException",
                "Date must be in ISO-8601 'basic format'. Got '201'. See http://en.wikipedia.org/wiki/ISO_8601".into()
            )
        );
        assert_eq!(
            answer(&format!("AWS4-HMAC-SHA256 {good_scope}, SignedHeaders=x-amz-date, Signature=00"), &now),
            ("InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization.".into())
        );
        assert_eq!(
            answer(&format!("AWS4-HMAC-SHA1 {good_scope}, SignedHeaders=host, Signature=00"), &now),
            (
                "IncompleteSignatureException",
                "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1' (only AWS4-HMAC-SHA256 for now). ".into()
            )
        );
        assert_eq!(
            answer("AWS4-HMAC-SHA256 Credential=a/b/c/d/, SignedHeaders=host, Signature=00", &now),
            (
                "IncompleteSignatureException",
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'a/b/c/d'"
                    .into()
            )
        );
        assert_eq!(
            answer("AWS4-HMAC-SHA256 Credential=AKIDX/20261205/eu-west-1/s3/aws5_request, SignedHeaders=host, Signature=00", &now),
            (
                "InvalidSignatureException",
                "Credential should be scoped to a valid region, not 'eu-west-1'. Credential should be scoped to correct \
                 service: 'kinesis'. Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. \
                 Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261205' != \
                 '20261206', from '20261206T071500Z'."
                    .into()
            )
        );
        assert_eq!(
            answer(&format!("AWS4-HMAC-SHA256 {good_scope}, SignedHeaders=host, Signature=not-hex"), &now).0,
            "InvalidSignatureException"
        );
    }

    #[test]
    fn presigned_requests_verify_and_expire() {
        let set = CredentialSet::parse(FILE).unwrap();
        let date = amz_date(NOW);
        let map = headers(&[("host", "127.0.0.1:4567")]);
        let unsigned = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDA%2F20261206%2Fus-east-1%2Fkinesis%2Faws4_request\
             &X-Amz-Date={date}&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
        );
        let request =
            SignedRequest { method: "POST", path: "/", query: Some(&unsigned), host: None, headers: &map, body: BODY };
        let mut canonical = Sha256::new();
        canonical::write_request(&mut canonical, &request, "host", true, "UNSIGNED-PAYLOAD");
        let to_sign = format!(
            "{ALGORITHM}\n{date}\n20261206/us-east-1/kinesis/aws4_request\n{}",
            hex::encode(canonical.finalize())
        );
        let mut mac = hmac(&derive_signing_key("secret-a", "20261206", "us-east-1", "kinesis"));
        mac.update(to_sign.as_bytes());
        let query = format!("{unsigned}&X-Amz-Signature={}", hex::encode(mac.finalize().into_bytes()));
        let request = SignedRequest { query: Some(&query), ..request };
        assert_eq!(verify(&request, &set, "us-east-1", NOW).unwrap().account_id, "111111111111");
        let e = verify(&request, &set, "us-east-1", NOW + 61).unwrap_err();
        assert_eq!(
            e.message(),
            "Signature expired: 20261206T071500Z is now earlier than 20261206T071501Z (20261206T071601Z - 60 sec.)"
        );
        let other_path = SignedRequest { path: "/x", ..request };
        assert_eq!(verify(&other_path, &set, "us-east-1", NOW).unwrap_err().type_name(), "InvalidSignatureException");
    }

    /// Whatever a client puts in the parts a signature is read from, verification answers an
    /// AWS error (or, by chance, a caller) and never panics. The strings mix the characters the
    /// parsers split on with arbitrary text.
    mod hostile {
        use super::*;
        use proptest::prelude::*;

        fn piece() -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop_oneof![
                    Just("/".to_owned()),
                    Just("%".to_owned()),
                    Just("%2F".to_owned()),
                    Just("=".to_owned()),
                    Just("&".to_owned()),
                    Just(",".to_owned()),
                    Just(" ".to_owned()),
                    Just(";".to_owned()),
                    Just("aws4_request".to_owned()),
                    Just("AKIDA".to_owned()),
                    Just("20261206T071500Z".to_owned()),
                    Just("X-Amz-Algorithm=AWS4-HMAC-SHA256".to_owned()),
                    "[ -~]{0,8}",
                    "\\PC{0,4}",
                ],
                0..12,
            )
            .prop_map(|parts| parts.concat())
        }

        proptest! {
            #[test]
            fn verification_never_panics(
                authorization in piece(), date in piece(), query in piece(), path in piece(), token in piece(),
                body in prop::collection::vec(any::<u8>(), 0..64),
            ) {
                let set = CredentialSet::parse(FILE).unwrap();
                let mut map = HeaderMap::new();
                let mut add = |name: &'static str, value: &str| {
                    if let Ok(v) = value.parse() {
                        map.insert(name, v);
                    }
                };
                add("authorization", &format!("AWS4-HMAC-SHA256 {authorization}"));
                add("x-amz-date", &date);
                add("x-amz-security-token", &token);
                add("host", "127.0.0.1:4567");
                for with_header in [true, false] {
                    let mut map = map.clone();
                    if !with_header {
                        map.remove("authorization");
                    }
                    let request = SignedRequest {
                        method: "POST", path: &path, query: Some(&query), host: None, headers: &map, body: &body,
                    };
                    let _ = verify(&request, &set, "us-east-1", NOW);
                    let any = crate::auth::Authenticator::AnySignature { account_id: "000000000000".into() };
                    let _ = any.authenticate(&request, NOW);
                }
            }
        }
    }
}
