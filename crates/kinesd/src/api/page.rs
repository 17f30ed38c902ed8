//! Pagination tokens (NextToken) of the listing operations: sealed, stateless, and expiring
//! after 300 seconds as AWS's do.

use crate::engine::token::PageToken;
use crate::engine::{Engine, now_ms};
use crate::error::{KinesisError, Result};

const TOKEN_TTL_MS: u64 = 300_000;

pub fn seal(engine: &Engine, stream_name: &str, stream_created_ms: u64, after: String) -> String {
    PageToken { stream_name: stream_name.to_owned(), stream_created_ms, after, issued_ms: now_ms() }
        .encode(engine.secret())
}

/// Opens a token issued for `stream_name` ("" for account-wide listings).
pub fn open(engine: &Engine, token: &str, stream_name: &str) -> Result<PageToken> {
    let page = PageToken::decode(token, engine.secret())
        .ok()
        .filter(|p| stream_name.is_empty() || p.stream_name == stream_name)
        .ok_or_else(|| KinesisError::next_token_invalid(token))?;
    let now = now_ms();
    if now.saturating_sub(page.issued_ms) > TOKEN_TTL_MS {
        return Err(KinesisError::next_token_expired(token));
    }
    Ok(page)
}
