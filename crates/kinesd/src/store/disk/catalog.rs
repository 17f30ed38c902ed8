//! The catalog on disk: one small file per key under `catalog/`, replaced atomically
//! (write a temporary file, fdatasync it, rename it over the old one, fsync the directory),
//! so a crash leaves either the old value or the new one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;

pub struct FileCatalog {
    dir: PathBuf,
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
        // Temporary files are leftovers of a put interrupted by a crash: the old value stands.
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                fs::remove_file(&path)?;
            }
        }
        Ok(FileCatalog { dir })
    }

    pub fn load(&self) -> std::io::Result<Vec<(String, Bytes)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(key) = hex::decode(name).ok().and_then(|k| String::from_utf8(k).ok()) else {
                tracing::warn!(file = %path.display(), "ignoring a file that is not a catalog entry");
                continue;
            };
            out.push((key, Bytes::from(fs::read(&path)?)));
        }
        Ok(out)
    }

    pub fn put(&self, key: &str, value: &[u8]) -> std::io::Result<()> {
        let name = file_name(key);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let mut f = File::create(&tmp)?;
        f.write_all(value)?;
        f.sync_data()?;
        drop(f);
        fs::rename(&tmp, self.dir.join(name))?;
        sync_dir(&self.dir)
    }

    pub fn delete(&self, key: &str) -> std::io::Result<()> {
        match fs::remove_file(self.dir.join(file_name(key))) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}
