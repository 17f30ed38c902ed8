//! SigV4's canonical request, written straight into a hasher (nothing is allocated for the
//! common request: path `/`, no query, a handful of signed headers):
//!
//! ```text
//! METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n PayloadHash
//! ```
//!
//! Kinesis is not S3: its canonical URI is the path as sent, normalised (`.` and `..` segments
//! and repeated slashes removed) and then percent-encoded again — the SDKs' "double encoding"
//! for every service but S3. The query's names and values are decoded, re-encoded with SigV4's
//! unreserved set and sorted; a presigned request leaves out its own `X-Amz-Signature`.

/// Where the canonical request goes: a SHA-256 hasher when verifying, a buffer in tests.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for sha2::Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        sha2::Digest::update(self, bytes);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

use std::borrow::Cow;

use super::SignedRequest;

/// Writes the canonical request of `request` into `out`.
pub fn write_request(
    out: &mut impl Sink,
    request: &SignedRequest<'_>,
    signed_headers: &str,
    presigned: bool,
    payload_hash: &str,
) {
    out.put(request.method.as_bytes());
    out.put(b"\n");
    write_uri(out, request.path);
    out.put(b"\n");
    write_query(out, request.query.unwrap_or_default(), presigned);
    out.put(b"\n");
    for name in signed_headers.split(';') {
        // The SDKs list header names in lowercase already; only another client pays for a copy.
        let lower: Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(name)
        };
        out.put(lower.as_bytes());
        out.put(b":");
        write_header_value(out, request, &lower);
        out.put(b"\n");
    }
    out.put(b"\n");
    out.put(signed_headers.as_bytes());
    out.put(b"\n");
    out.put(payload_hash.as_bytes());
}

/// Every value of the header, trimmed, inner runs of spaces folded to one, joined by commas.
/// `host` falls back to the request's authority; `:authority` is that authority (the JavaScript
/// SDK signs the HTTP/2 pseudo-header instead of `host`).
fn write_header_value(out: &mut impl Sink, request: &SignedRequest<'_>, name: &str) {
    let mut values = request.headers.get_all(name).iter().map(|v| v.as_bytes()).peekable();
    if (values.peek().is_none() && name == "host") || name == ":authority" {
        write_folded(out, request.host.unwrap_or_default().as_bytes());
        return;
    }
    let mut first = true;
    for value in values {
        if !first {
            out.put(b",");
        }
        first = false;
        write_folded(out, value);
    }
}

fn write_folded(out: &mut impl Sink, value: &[u8]) {
    let value = value.trim_ascii();
    if !value.windows(2).any(|w| w == b"  ") {
        out.put(value);
        return;
    }
    let mut previous_space = false;
    for &b in value {
        if b == b' ' && previous_space {
            continue;
        }
        previous_space = b == b' ';
        out.put(&[b]);
    }
}

fn write_uri(out: &mut impl Sink, path: &str) {
    if path == "/" || path.is_empty() {
        out.put(b"/");
        return;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut normalised = String::with_capacity(path.len());
    for segment in &segments {
        normalised.push('/');
        normalised.push_str(segment);
    }
    if path.ends_with('/') || normalised.is_empty() {
        normalised.push('/');
    }
    out.put(percent_encode(&normalised, true).as_bytes());
}

fn write_query(out: &mut impl Sink, query: &str, presigned: bool) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .filter(|(k, _)| !(presigned && *k == "X-Amz-Signature"))
        .map(|(k, v)| (percent_encode(&percent_decode(k), false), percent_encode(&percent_decode(v), false)))
        .collect();
    pairs.sort();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.put(b"&");
        }
        out.put(k.as_bytes());
        out.put(b"=");
        out.put(v.as_bytes());
    }
}

/// SigV4's encoding: every byte but `A-Z a-z 0-9 - _ . ~` (and `/` when `keep_slash`) as `%XX`.
pub fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%XX` sequences decoded; anything else (including a malformed `%`) kept as it is. Bytes that
/// do not form UTF-8 are replaced, so such a value can never match a signature made over them.
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn text(method: &str, path: &str, query: Option<&str>, headers: &[(&str, &str)], signed: &str) -> String {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        let request = SignedRequest { method, path, query, host: Some("authority:1"), headers: &map, body: b"" };
        let mut out = Vec::new();
        write_request(&mut out, &request, signed, query.is_some_and(|q| q.contains("X-Amz-Signature")), "HASH");
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_canonical_request_of_a_kinesis_call() {
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("host", "127.0.0.1:4567"),
            ("x-amz-date", "20261122T033709Z"),
            ("x-amz-target", "Kinesis_20131202.DescribeStreamSummary"),
        ];
        assert_eq!(
            text("POST", "/", None, &headers, "content-type;host;x-amz-date;x-amz-target"),
            "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:127.0.0.1:4567\nx-amz-date:20261122T033709Z\n\
             x-amz-target:Kinesis_20131202.DescribeStreamSummary\n\ncontent-type;host;x-amz-date;x-amz-target\nHASH"
        );
    }

    #[test]
    fn header_values_are_trimmed_folded_and_joined() {
        let headers = [("x-a", "  one   two  "), ("x-a", "three"), ("x-b", "")];
        assert_eq!(
            text("POST", "/", None, &headers, "host;x-a;x-b"),
            "POST\n/\n\nhost:authority:1\nx-a:one two,three\nx-b:\n\nhost;x-a;x-b\nHASH"
        );
    }

    #[test]
    fn paths_are_normalised_then_encoded_again() {
        let uri = |path: &str| text("POST", path, None, &[], "host").lines().nth(1).unwrap().to_owned();
        assert_eq!(uri("/"), "/");
        assert_eq!(uri("/a/./b/../c//d/"), "/a/c/d/");
        assert_eq!(uri("/a b/%E1%88%B4"), "/a%20b/%25E1%2588%25B4");
        assert_eq!(uri("/.."), "/");
    }

    #[test]
    fn query_parameters_are_decoded_encoded_and_sorted() {
        let query = |q: &str| text("POST", "/", Some(q), &[], "host").lines().nth(2).unwrap().to_owned();
        assert_eq!(query("b=2&a=1&A=0"), "A=0&a=1&b=2");
        assert_eq!(query("k=a%2fb&j&x=%7E+"), "j=&k=a%2Fb&x=~%2B");
        assert_eq!(
            query("X-Amz-Signature=abc&X-Amz-Date=20261206T000000Z"),
            "X-Amz-Date=20261206T000000Z",
            "a presigned request's own signature is not signed"
        );
    }

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decode("a%2Fb%2"), "a/b%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("plain"), "plain");
    }
}
