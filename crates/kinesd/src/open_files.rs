//! The process's open-file limit.
//!
//! Every client connection is a descriptor, and the disk store keeps up to
//! `store::disk::OPEN_SEALED_FILES` segment files open besides its journal and catalog. The default
//! `--max-connections` (10,000) alone is far above the soft limit many systems start a process
//! with (1,024); past it, `accept` and `open` fail with EMFILE, so clients are refused and reads
//! of older segments fail. Any process may raise its soft limit up to its hard limit, so kinesd
//! does that at start (as Go's runtime does for every program) and says so when even the hard
//! limit is below what its settings can use.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Descriptors kinesd holds besides connections and cached segment files: the listeners,
/// the journal's active segment, the catalog, log files, NATS connections, epoll, pipes.
const OWN_FILES: u64 = 256;

/// Segment files the disk store keeps open at most.
const SEGMENT_FILES: u64 = crate::store::disk::OPEN_SEALED_FILES as u64;

/// The soft limit before and after [`raise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    pub before: u64,
    pub now: u64,
}

/// Descriptors kinesd may use with this many connections at most.
pub fn wanted(max_connections: u64) -> u64 {
    max_connections + SEGMENT_FILES + OWN_FILES
}

/// Raises the soft limit on open files to the hard limit. An unlimited hard limit cannot be
/// the soft one for files (Linux refuses it), so the soft limit then stays where it is.
pub fn raise() -> std::io::Result<OpenFiles> {
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current.unwrap_or(u64::MAX);
    match limit.maximum {
        Some(hard) if hard > before => {
            setrlimit(Resource::Nofile, Rlimit { current: Some(hard), maximum: Some(hard) })?;
            Ok(OpenFiles { before, now: hard })
        }
        _ => Ok(OpenFiles { before, now: before }),
    }
}
