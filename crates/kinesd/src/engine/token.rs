//! Stateless, authenticated opaque tokens: shard iterators and pagination `NextToken`s.
//!
//! The server keeps no table of issued iterators or page cursors: everything needed to resume
//! travels inside the token, and a MAC under a server secret proves we issued it. That makes
//! tokens free to issue (GetRecords returns a fresh iterator on every call) and lets them survive
//! a restart when the secret is persisted.
//!
//! Wire form, base64 (standard alphabet, padded):
//!
//! ```text
//! 00 00 00 00 00 00 00 01 | kind (1 byte) | payload | HMAC-SHA256(prefix | kind | payload)[..16]
//! ```
//!
//! The 8-byte prefix mimics real AWS iterators (they start `AAAAAAAAAAE`). The kind byte is
//! covered by the MAC, so a token of one kind can never be opened as another.
//!
//! Invariants:
//! - [`open`] returns a payload only if [`seal`] produced it under the same secret and kind;
//!   any other input, including truncations, bit flips and arbitrary strings, is
//!   [`InvalidToken`], never a panic.
//! - Work on untrusted input is bounded: tokens longer than [`MAX_TOKEN_CHARS`] are rejected
//!   before decoding.
//! - Payloads are not encrypted: they hold only what the client already knows (stream name,
//!   shard, a position), so integrity is all we need.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of every token, as in real AWS shard iterators.
const PREFIX: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 1];
/// Truncated MAC length: 128 bits is ample against forgery and keeps iterators short.
const MAC_LEN: usize = 16;
const HEADER_LEN: usize = PREFIX.len() + 1;

/// Longest token string [`open`] will look at. Our own tokens are a few hundred characters
/// (shard iterators must stay within AWS's 512); anything far longer is garbage and is refused
/// before base64 decoding so hostile input costs little.
pub const MAX_TOKEN_CHARS: usize = 4096;

/// The server's MAC key for tokens.
///
/// Persist it (see [`TokenSecret::as_bytes`]) to keep outstanding iterators valid across a
/// restart; a fresh one invalidates them all, which clients handle as an expired iterator.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret([u8; 32]);

impl TokenSecret {
    /// A new random secret from the thread-local CSPRNG (seeded from the OS).
    pub fn generate() -> TokenSecret {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        TokenSecret(bytes)
    }

    pub const fn from_bytes(bytes: [u8; 32]) -> TokenSecret {
        TokenSecret(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        <HmacSha256 as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }
}

impl fmt::Debug for TokenSecret {
    /// Never prints the key: secrets must not end up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(..)")
    }
}

/// What a token is for; part of the MAC input, so kinds cannot be confused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum TokenKind {
    ShardIterator = 1,
    Page = 2,
}

/// The token was not issued by this server (under this secret, for this purpose), or is
/// malformed. Deliberately carries no detail: callers map it to AWS's fixed messages
/// (e.g. "Invalid ShardIterator."), and detail would only help forgers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid token")]
pub struct InvalidToken;

/// Seals `payload` into an opaque token string.
pub fn seal(secret: &TokenSecret, kind: TokenKind, payload: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len() + MAC_LEN);
    bytes.extend_from_slice(&PREFIX);
    bytes.push(kind as u8);
    bytes.extend_from_slice(payload);
    let mut mac = secret.mac();
    mac.update(&bytes);
    let tag = mac.finalize().into_bytes();
    bytes.extend_from_slice(&tag[..MAC_LEN]);
    BASE64.encode(&bytes)
}

/// Checks a token sealed by [`seal`] and returns its payload.
///
/// Accepts the token wrapped in one pair of literal double quotes, as AWS does.
pub fn open(secret: &TokenSecret, kind: TokenKind, token: &str) -> Result<Vec<u8>, InvalidToken> {
    let token = token.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(token);
    if token.len() > MAX_TOKEN_CHARS {
        return Err(InvalidToken);
    }
    let mut bytes = BASE64.decode(token).map_err(|_| InvalidToken)?;
    if bytes.len() < HEADER_LEN + MAC_LEN {
        return Err(InvalidToken);
    }
    let (header, _) = bytes.split_at(HEADER_LEN);
    if header[..PREFIX.len()] != PREFIX || header[PREFIX.len()] != kind as u8 {
        return Err(InvalidToken);
    }
    let body_len = bytes.len() - MAC_LEN;
    let (body, tag) = bytes.split_at(body_len);
    let mut mac = secret.mac();
    mac.update(body);
    // Constant-time comparison (subtle), so timing reveals nothing about the expected tag.
    mac.verify_truncated_left(tag).map_err(|_| InvalidToken)?;
    bytes.truncate(body_len);
    bytes.drain(..HEADER_LEN);
    Ok(bytes)
}

/// A shard iterator: where a reader is in a shard, and when the iterator was issued (AWS
/// expires iterators 5 minutes after issue; the engine checks `issued_ms`).
///
/// `stream_created_ms` tells apart incarnations of a stream deleted and re-created under the
/// same name, so an old iterator cannot read the new stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardIteratorToken {
    /// The account that owns the stream: an iterator reads only that account's stream.
    pub account: String,
    pub stream_name: String,
    pub stream_created_ms: u64,
    pub shard_index: u32,
    pub position: u64,
    pub issued_ms: u64,
    /// Makes every issued iterator distinct, even two for the same position in the same
    /// millisecond: AWS returns a new NextShardIterator on every GetRecords call.
    pub nonce: u32,
}

impl ShardIteratorToken {
    pub fn encode(&self, secret: &TokenSecret) -> String {
        // 28 bytes of integers, a 4-byte length and the name.
        let mut payload = Vec::with_capacity(32 + self.stream_name.len());
        payload.extend_from_slice(&self.stream_created_ms.to_be_bytes());
        payload.extend_from_slice(&self.shard_index.to_be_bytes());
        payload.extend_from_slice(&self.position.to_be_bytes());
        payload.extend_from_slice(&self.issued_ms.to_be_bytes());
        payload.extend_from_slice(&self.nonce.to_be_bytes());
        put_str(&mut payload, &self.stream_name);
        put_str(&mut payload, &self.account);
        // Pad with zeros to AWS's iterator sizes: 152 + 16·k bytes once decoded (some clients'
        // tests check the shape of iterators; the padding is covered by the MAC).
        let sealed = SEALED_OVERHEAD + payload.len();
        let target = ITERATOR_MIN_LEN + sealed.saturating_sub(ITERATOR_MIN_LEN).next_multiple_of(16);
        payload.resize(payload.len() + (target - sealed), 0);
        seal(secret, TokenKind::ShardIterator, &payload)
    }

    pub fn decode(token: &str, secret: &TokenSecret) -> Result<ShardIteratorToken, InvalidToken> {
        let payload = open(secret, TokenKind::ShardIterator, token)?;
        let mut r = Reader(&payload);
        let decoded = ShardIteratorToken {
            stream_created_ms: r.u64()?,
            shard_index: r.u32()?,
            position: r.u64()?,
            issued_ms: r.u64()?,
            nonce: r.u32()?,
            stream_name: r.string()?,
            account: r.string()?,
        };
        r.finish_padded()?;
        Ok(decoded)
    }
}

/// Bytes a sealed token adds to its payload: the prefix, the kind and the MAC.
const SEALED_OVERHEAD: usize = 8 + 1 + 16;
/// AWS's shard iterators decode to 152 bytes, or 16·k more for long stream names.
const ITERATOR_MIN_LEN: usize = 152;

/// A pagination cursor (`NextToken` of ListShards, ListStreams, ...): resume listing after
/// `after` (a shard id, stream name, ... as the operation defines) in the given stream
/// incarnation. `issued_ms` lets the api layer expire old tokens as AWS does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageToken {
    /// The account listed: a token continues only a listing of the same account's resources.
    pub account: String,
    pub stream_name: String,
    pub stream_created_ms: u64,
    pub after: String,
    pub issued_ms: u64,
}

impl PageToken {
    pub fn encode(&self, secret: &TokenSecret) -> String {
        let mut payload = Vec::with_capacity(24 + self.stream_name.len() + self.after.len());
        payload.extend_from_slice(&self.stream_created_ms.to_be_bytes());
        payload.extend_from_slice(&self.issued_ms.to_be_bytes());
        put_str(&mut payload, &self.stream_name);
        put_str(&mut payload, &self.after);
        put_str(&mut payload, &self.account);
        seal(secret, TokenKind::Page, &payload)
    }

    pub fn decode(token: &str, secret: &TokenSecret) -> Result<PageToken, InvalidToken> {
        let payload = open(secret, TokenKind::Page, token)?;
        let mut r = Reader(&payload);
        let stream_created_ms = r.u64()?;
        let issued_ms = r.u64()?;
        let stream_name = r.string()?;
        let after = r.string()?;
        let account = r.string()?;
        r.finish()?;
        Ok(PageToken { account, stream_name, stream_created_ms, after, issued_ms })
    }
}

/// Appends a big-endian u32 length and the string's bytes.
///
/// Strings here are stream names and shard ids bounded far below 4 GiB by request validation;
/// should one ever exceed `u32::MAX` bytes it is cut, which decodes as an invalid token rather
/// than panicking or producing an unparseable payload.
fn put_str(out: &mut Vec<u8>, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(u32::MAX as usize)];
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Cursor over an authenticated payload. The MAC already proves we wrote it, but decoding stays
/// strict (exact lengths, valid UTF-8, nothing left over) so a bug or a leaked secret can never
/// turn into a panic.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], InvalidToken> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(InvalidToken)?;
        self.0 = rest;
        Ok(*head)
    }

    fn u32(&mut self) -> Result<u32, InvalidToken> {
        self.take().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, InvalidToken> {
        self.take().map(u64::from_be_bytes)
    }

    fn string(&mut self) -> Result<String, InvalidToken> {
        let len = usize::try_from(self.u32()?).map_err(|_| InvalidToken)?;
        if len > self.0.len() {
            return Err(InvalidToken);
        }
        let (bytes, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(bytes.to_vec()).map_err(|_| InvalidToken)
    }

    fn finish(self) -> Result<(), InvalidToken> {
        if self.0.is_empty() { Ok(()) } else { Err(InvalidToken) }
    }

    /// Only zero padding may follow.
    fn finish_padded(self) -> Result<(), InvalidToken> {
        if self.0.iter().all(|&b| b == 0) { Ok(()) } else { Err(InvalidToken) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn iterators_have_aws_sizes() {
        use base64::Engine as _;
        for len in [1usize, 10, 14, 15, 16, 40, 90, 91, 128] {
            let mut it = iterator(&"n".repeat(len));
            it.nonce = 1;
            let token = it.encode(&secret());
            let bytes = base64::engine::general_purpose::STANDARD.decode(&token).unwrap();
            assert!(bytes.len() >= 152 && (bytes.len() - 152).is_multiple_of(16), "{len}: {}", bytes.len());
            assert_eq!(ShardIteratorToken::decode(&token, &secret()), Ok(it));
        }
    }

    fn secret() -> TokenSecret {
        TokenSecret::from_bytes([7; 32])
    }

    fn iterator(name: &str) -> ShardIteratorToken {
        ShardIteratorToken {
            account: "111122223333".into(),
            stream_name: name.to_string(),
            stream_created_ms: 1_700_000_000_123,
            shard_index: 5,
            position: 42,
            issued_ms: 1_700_000_100_000,
            nonce: 9,
        }
    }

    fn page() -> PageToken {
        PageToken {
            account: "111122223333".into(),
            stream_name: "orders".to_string(),
            stream_created_ms: 1_700_000_000_123,
            after: "shardId-000000000007".to_string(),
            issued_ms: 1_700_000_100_000,
        }
    }

    #[test]
    fn seal_and_open_round_trip() {
        let s = secret();
        for payload in [&b""[..], b"x", b"hello world", &[0xff; 300]] {
            let token = seal(&s, TokenKind::Page, payload);
            assert_eq!(open(&s, TokenKind::Page, &token).as_deref(), Ok(payload));
        }
    }

    #[test]
    fn tokens_look_like_aws_iterators() {
        let token = iterator("orders").encode(&secret());
        // 00 00 00 00 00 00 00 01 | 01 encodes as "AAAAAAAAAAEB".
        assert!(token.starts_with("AAAAAAAAAAEB"), "{token}");
        let bytes = BASE64.decode(&token).expect("our token is base64");
        assert_eq!(bytes[..8], PREFIX);
    }

    #[test]
    fn shard_iterator_round_trip() {
        let s = secret();
        let it = iterator("orders");
        assert_eq!(ShardIteratorToken::decode(&it.encode(&s), &s), Ok(it));
    }

    #[test]
    fn page_token_round_trip() {
        let s = secret();
        let p = page();
        assert_eq!(PageToken::decode(&p.encode(&s), &s), Ok(p));
        let empty = PageToken {
            account: String::new(),
            stream_name: String::new(),
            stream_created_ms: 0,
            after: String::new(),
            issued_ms: 0,
        };
        assert_eq!(PageToken::decode(&empty.encode(&s), &s), Ok(empty));
    }

    #[test]
    fn iterator_for_longest_stream_name_fits_aws_limit() {
        // Stream names are at most 128 characters of [a-zA-Z0-9_.-], so 128 bytes.
        let name = "a".repeat(128);
        let it = ShardIteratorToken {
            account: "123456789012".into(),
            stream_name: name,
            stream_created_ms: u64::MAX,
            shard_index: u32::MAX,
            position: u64::MAX,
            issued_ms: u64::MAX,
            nonce: u32::MAX,
        };
        let token = it.encode(&secret());
        assert!(token.len() <= 512, "{} chars", token.len());
        assert_eq!(ShardIteratorToken::decode(&token, &secret()), Ok(it));
    }

    #[test]
    fn quoted_tokens_are_accepted() {
        let s = secret();
        let it = iterator("orders");
        let quoted = format!("\"{}\"", it.encode(&s));
        assert_eq!(ShardIteratorToken::decode(&quoted, &s), Ok(it));
    }

    #[test]
    fn unbalanced_or_double_quotes_are_rejected() {
        let s = secret();
        let token = iterator("orders").encode(&s);
        for bad in [format!("\"{token}"), format!("{token}\""), format!("\"\"{token}\"\""), format!("'{token}'")] {
            assert_eq!(ShardIteratorToken::decode(&bad, &s), Err(InvalidToken), "{bad}");
        }
        assert_eq!(open(&s, TokenKind::Page, "\""), Err(InvalidToken));
        assert_eq!(open(&s, TokenKind::Page, "\"\""), Err(InvalidToken));
    }

    #[test]
    fn other_secret_is_rejected() {
        let token = iterator("orders").encode(&secret());
        let other = TokenSecret::from_bytes([8; 32]);
        assert_eq!(ShardIteratorToken::decode(&token, &other), Err(InvalidToken));
        assert_eq!(ShardIteratorToken::decode(&token, &TokenSecret::generate()), Err(InvalidToken));
    }

    #[test]
    fn kinds_cannot_be_confused() {
        let s = secret();
        let it = iterator("orders").encode(&s);
        assert_eq!(PageToken::decode(&it, &s), Err(InvalidToken));
        assert_eq!(open(&s, TokenKind::Page, &it), Err(InvalidToken));
        let p = page().encode(&s);
        assert_eq!(ShardIteratorToken::decode(&p, &s), Err(InvalidToken));

        // Even with the kind byte rewritten the MAC no longer matches.
        let mut bytes = BASE64.decode(&it).expect("base64");
        bytes[PREFIX.len()] = TokenKind::Page as u8;
        assert_eq!(open(&s, TokenKind::Page, &BASE64.encode(&bytes)), Err(InvalidToken));
    }

    #[test]
    fn malformed_inputs_are_rejected() {
        let s = secret();
        let long = "A".repeat(MAX_TOKEN_CHARS + 4);
        let bad = ["", "AAAA", "not base64!", "AAAAAAAAAAEB", "AAAAAAAAAAEBAAAAAAAAAAAAAAAAAAAAAAAA", long.as_str()];
        for b in bad {
            assert_eq!(open(&s, TokenKind::ShardIterator, b), Err(InvalidToken), "{b:?}");
        }
        // Base64 without padding, or with the wrong prefix, is refused.
        let token = iterator("orders").encode(&s);
        assert_eq!(ShardIteratorToken::decode(token.trim_end_matches('='), &s).is_ok(), !token.ends_with('='));
        let mut bytes = BASE64.decode(&token).expect("base64");
        bytes[7] = 2;
        assert_eq!(ShardIteratorToken::decode(&BASE64.encode(&bytes), &s), Err(InvalidToken));
    }

    #[test]
    fn secret_debug_hides_key() {
        assert_eq!(format!("{:?}", TokenSecret::from_bytes([0xab; 32])), "TokenSecret(..)");
        assert_ne!(TokenSecret::generate(), TokenSecret::generate());
        let s = TokenSecret::from_bytes([3; 32]);
        assert_eq!(s.as_bytes(), &[3; 32]);
    }

    #[test]
    fn reader_rejects_lying_lengths() {
        let mut payload = Vec::new();
        payload.extend_from_slice(&u32::MAX.to_be_bytes());
        payload.extend_from_slice(b"abc");
        assert_eq!(Reader(&payload).string(), Err(InvalidToken));
        let mut invalid_utf8 = Vec::new();
        put_str(&mut invalid_utf8, "ab");
        let last = invalid_utf8.len() - 1;
        invalid_utf8[last] = 0xff;
        assert_eq!(Reader(&invalid_utf8).string(), Err(InvalidToken));
        // A validly sealed payload that is not a ShardIteratorToken is still rejected.
        let s = secret();
        let token = seal(&s, TokenKind::ShardIterator, b"short");
        assert_eq!(ShardIteratorToken::decode(&token, &s), Err(InvalidToken));
        let mut trailing = BASE64.decode(iterator("x").encode(&s)).expect("base64");
        trailing.truncate(trailing.len() - MAC_LEN);
        // Zero padding is allowed (iterators are padded to AWS's sizes); anything else is not.
        trailing.push(1);
        let resealed = seal(&s, TokenKind::ShardIterator, &trailing[HEADER_LEN..]);
        assert_eq!(ShardIteratorToken::decode(&resealed, &s), Err(InvalidToken));
    }

    fn iterator_strategy() -> impl Strategy<Value = ShardIteratorToken> {
        ("[a-zA-Z0-9_.-]{1,128}", any::<u64>(), any::<u32>(), any::<u64>(), any::<u64>()).prop_map(
            |(stream_name, stream_created_ms, shard_index, position, issued_ms)| ShardIteratorToken {
                account: "123456789012".into(),
                stream_name,
                stream_created_ms,
                shard_index,
                position,
                issued_ms,
                nonce: (position as u32) ^ 0x5a5a,
            },
        )
    }

    fn page_strategy() -> impl Strategy<Value = PageToken> {
        (".{0,128}", any::<u64>(), ".{0,200}", any::<u64>()).prop_map(
            |(stream_name, stream_created_ms, after, issued_ms)| PageToken {
                account: "123456789012".into(),
                stream_name,
                stream_created_ms,
                after,
                issued_ms,
            },
        )
    }

    proptest! {
        #[test]
        fn shard_iterators_round_trip(it in iterator_strategy(), key in any::<[u8; 32]>()) {
            let s = TokenSecret::from_bytes(key);
            let token = it.encode(&s);
            prop_assert!(token.len() <= 512);
            prop_assert_eq!(ShardIteratorToken::decode(&token, &s), Ok(it));
        }

        #[test]
        fn page_tokens_round_trip(p in page_strategy(), key in any::<[u8; 32]>()) {
            let s = TokenSecret::from_bytes(key);
            prop_assert_eq!(PageToken::decode(&p.encode(&s), &s), Ok(p));
        }

        #[test]
        fn any_bit_flip_is_rejected(
            it in iterator_strategy(),
            bit in any::<prop::sample::Index>(),
        ) {
            let s = secret();
            let mut bytes = BASE64.decode(it.encode(&s)).expect("base64");
            let bit = bit.index(bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            let mutated = BASE64.encode(&bytes);
            prop_assert_eq!(ShardIteratorToken::decode(&mutated, &s), Err(InvalidToken));
        }

        #[test]
        fn any_truncation_is_rejected(p in page_strategy(), cut in any::<prop::sample::Index>()) {
            let s = secret();
            let mut bytes = BASE64.decode(p.encode(&s)).expect("base64");
            let len = cut.index(bytes.len());
            bytes.truncate(len);
            prop_assert_eq!(PageToken::decode(&BASE64.encode(&bytes), &s), Err(InvalidToken));
        }

        #[test]
        fn any_string_truncation_is_rejected(
            it in iterator_strategy(),
            cut in any::<prop::sample::Index>(),
        ) {
            let s = secret();
            let token = it.encode(&s);
            let cut = cut.index(token.len());
            prop_assert_eq!(ShardIteratorToken::decode(&token[..cut], &s), Err(InvalidToken));
        }

        #[test]
        fn appended_bytes_are_rejected(
            it in iterator_strategy(),
            extra in prop::collection::vec(any::<u8>(), 1..32),
        ) {
            let s = secret();
            let mut bytes = BASE64.decode(it.encode(&s)).expect("base64");
            bytes.extend_from_slice(&extra);
            let mutated = BASE64.encode(&bytes);
            prop_assert_eq!(ShardIteratorToken::decode(&mutated, &s), Err(InvalidToken));
        }

        #[test]
        fn garbage_strings_are_rejected(g in any::<String>()) {
            let s = secret();
            prop_assert_eq!(ShardIteratorToken::decode(&g, &s), Err(InvalidToken));
            prop_assert_eq!(PageToken::decode(&g, &s), Err(InvalidToken));
        }

        #[test]
        fn garbage_base64_is_rejected(
            g in prop::collection::vec(any::<u8>(), 0..600),
            kind in 1u8..=2,
        ) {
            let s = secret();
            let mut bytes = g;
            // Give half the cases a valid header, so the MAC check is what must catch them.
            if kind == 2 && bytes.len() >= HEADER_LEN {
                bytes[..PREFIX.len()].copy_from_slice(&PREFIX);
                bytes[PREFIX.len()] = TokenKind::ShardIterator as u8;
            }
            let token = BASE64.encode(&bytes);
            prop_assert_eq!(ShardIteratorToken::decode(&token, &s), Err(InvalidToken));
            prop_assert_eq!(open(&s, TokenKind::ShardIterator, &token), Err(InvalidToken));
        }

        #[test]
        fn other_secrets_are_rejected(
            it in iterator_strategy(),
            a in any::<[u8; 32]>(),
            b in any::<[u8; 32]>(),
        ) {
            prop_assume!(a != b);
            let token = it.encode(&TokenSecret::from_bytes(a));
            let other = TokenSecret::from_bytes(b);
            prop_assert_eq!(ShardIteratorToken::decode(&token, &other), Err(InvalidToken));
        }
    }
}
