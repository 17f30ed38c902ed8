//! Pagination tokens (NextToken) of the listing operations: sealed, stateless, and expiring
//! after 300 seconds as AWS's do.

use crate::engine::token::PageToken;
use crate::engine::{Engine, now_ms};
use crate::error::{KinesisError, Result};

const TOKEN_TTL_MS: u64 = 300_000;

/// A token continuing a listing of `account`'s resources (of stream `stream_name`, or "" for
/// account-wide listings).
pub fn seal(engine: &Engine, account: &str, stream_name: &str, stream_created_ms: u64, after: String) -> String {
    PageToken {
        account: account.to_owned(),
        stream_name: stream_name.to_owned(),
        stream_created_ms,
        after,
        issued_ms: now_ms(),
    }
    .encode(engine.secret())
}

/// Opens a token; with `account`, only one issued for a listing of that account's resources
/// (ListStreams). A token of a stream's listing (ListShards) opens whatever its account: the
/// caller is then authorized on the stream it names.
pub fn open(engine: &Engine, token: &str, account: Option<&str>) -> Result<PageToken> {
    let page = PageToken::decode(token, engine.secret())
        .ok()
        .filter(|p| account.is_none_or(|a| p.account == a))
        .ok_or_else(|| KinesisError::next_token_invalid(token))?;
    let now = now_ms();
    if now.saturating_sub(page.issued_ms) > TOKEN_TTL_MS {
        return Err(KinesisError::next_token_expired(token));
    }
    Ok(page)
}
