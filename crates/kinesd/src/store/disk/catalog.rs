//! The catalog on disk: one small file per key under `catalog/`, replaced atomically
//! (write a temporary file, fdatasync it, rename it over the old one, fsync the directory),
//! so a crash leaves either the old value or the new one.
//!
//! Revisions live in memory only: the data directory's LOCK makes this process the catalog's
//! only writer, so numbering the entries afresh at every open is enough for compare-and-set
//! (see `Revision`). Every check and the write it guards happen under one mutex, so two
//! writers expecting the same revision cannot both win.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::store::{Expect, Result, Revision, StoreError};

pub struct FileCatalog {
    dir: PathBuf,
    revisions: Mutex<Revisions>,
}

/// The current revision of every key that has a file, and the last revision handed out
/// (revisions count writes across all keys, so a key never returns to an old revision).
struct Revisions {
    of: HashMap<String, Revision>,
    last: u64,
}

impl Revisions {
    fn next(&mut self) -> Revision {
        self.last += 1;
        Revision(self.last)
    }

    fn check(&self, key: &str, expect: Expect) -> Result<()> {
        let found = self.of.get(key).copied();
        let matches = match expect {
            Expect::Absent => found.is_none(),
            Expect::Revision(r) => found == Some(r),
        };
        if matches { Ok(()) } else { Err(StoreError::Conflict { key: key.to_owned(), expected: expect, found }) }
    }
}

fn file_name(key: &str) -> String {
    hex::encode(key.as_bytes())
}

pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl FileCatalog {
    pub fn open(dir: PathBuf) -> std::io::Result<FileCatalog> {
        fs::create_dir_all(&dir)?;
        let mut revisions = Revisions { of: HashMap::new(), last: 0 };
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            // Temporary files are leftovers of a put interrupted by a crash: the old value stands.
            if name.ends_with(".tmp") {
                fs::remove_file(&path)?;
                continue;
            }
            let Some(key) = hex::decode(name).ok().and_then(|k| String::from_utf8(k).ok()) else {
                tracing::warn!(file = %path.display(), "ignoring a file that is not a catalog entry");
                continue;
            };
            let revision = revisions.next();
            revisions.of.insert(key, revision);
        }
        Ok(FileCatalog { dir, revisions: Mutex::new(revisions) })
    }

    fn read(&self, key: &str) -> std::io::Result<Bytes> {
        Ok(Bytes::from(fs::read(self.dir.join(file_name(key)))?))
    }

    pub fn load(&self) -> Result<Vec<(String, Bytes, Revision)>> {
        // Under the lock, so that each value read is the one its revision names.
        let revisions = self.revisions.lock();
        let mut out = Vec::with_capacity(revisions.of.len());
        for (key, revision) in &revisions.of {
            out.push((key.clone(), self.read(key)?, *revision));
        }
        Ok(out)
    }

    pub fn get(&self, key: &str) -> Result<Option<(Bytes, Revision)>> {
        let revisions = self.revisions.lock();
        match revisions.of.get(key) {
            Some(revision) => Ok(Some((self.read(key)?, *revision))),
            None => Ok(None),
        }
    }

    pub fn put(&self, key: &str, value: &[u8], expect: Expect) -> Result<Revision> {
        let mut revisions = self.revisions.lock();
        revisions.check(key, expect)?;
        let name = file_name(key);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let written = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(value)?;
            f.sync_data()?;
            drop(f);
            fs::rename(&tmp, self.dir.join(&name))
        })();
        if let Err(e) = written {
            // The rename did not happen: the old value (or none) stands, at its revision.
            let _ = fs::remove_file(&tmp);
            return Err(e.into());
        }
        // From here on the new value is the one readers find, whether or not the directory
        // sync below succeeds, so it gets its new revision either way.
        let revision = revisions.next();
        revisions.of.insert(key.to_owned(), revision);
        sync_dir(&self.dir)?;
        Ok(revision)
    }

    pub fn delete(&self, key: &str, expect: Revision) -> Result<()> {
        let mut revisions = self.revisions.lock();
        revisions.check(key, Expect::Revision(expect))?;
        match fs::remove_file(self.dir.join(file_name(key))) {
            Ok(()) => {}
            // Removed behind our back: what we were asked for is done.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        revisions.of.remove(key);
        sync_dir(&self.dir)?;
        Ok(())
    }
}
