//! [`Disk`] over real files under a root directory, for the offline tools
//! (`faultline migrate`, `faultline inspect`) and for dumping simulated data.

use crate::disk::{Disk, DiskError, DiskResult, parent_dir};
use async_trait::async_trait;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Files under `root`; paths given to the trait are relative to it.
pub struct RealDisk {
    root: PathBuf,
}

impl RealDisk {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RealDisk { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn full(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }
}

fn io_err(path: &str, op: &'static str, err: std::io::Error) -> DiskError {
    match err.kind() {
        std::io::ErrorKind::NotFound => DiskError::NotFound {
            path: path.to_string(),
        },
        std::io::ErrorKind::StorageFull => DiskError::NoSpace {
            path: path.to_string(),
        },
        _ => DiskError::Other {
            path: path.to_string(),
            op,
            detail: err.to_string(),
        },
    }
}

impl RealDisk {
    fn ensure_parent(&self, path: &str) -> DiskResult<()> {
        let dir = self.full(parent_dir(path));
        fs::create_dir_all(&dir).map_err(|e| io_err(path, "create_dir", e))
    }

    fn open_rw(&self, path: &str, op: &'static str) -> DiskResult<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.full(path))
            .map_err(|e| io_err(path, op, e))
    }
}

#[async_trait]
impl Disk for RealDisk {
    async fn create(&self, path: &str) -> DiskResult<()> {
        self.ensure_parent(path)?;
        File::create(self.full(path))
            .map(|_| ())
            .map_err(|e| io_err(path, "create", e))
    }

    async fn exists(&self, path: &str) -> DiskResult<bool> {
        Ok(self.full(path).is_file())
    }

    async fn append(&self, path: &str, data: &[u8]) -> DiskResult<u64> {
        let mut file = self.open_rw(path, "append")?;
        let offset = file
            .seek(SeekFrom::End(0))
            .map_err(|e| io_err(path, "append", e))?;
        file.write_all(data)
            .map_err(|e| io_err(path, "append", e))?;
        Ok(offset)
    }

    async fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> DiskResult<()> {
        let mut file = self.open_rw(path, "write")?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| io_err(path, "write", e))?;
        file.write_all(data).map_err(|e| io_err(path, "write", e))
    }

    async fn read(&self, path: &str, offset: u64, len: usize) -> DiskResult<Vec<u8>> {
        let mut file = File::open(self.full(path)).map_err(|e| io_err(path, "read", e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| io_err(path, "read", e))?;
        let mut buf = Vec::with_capacity(len);
        file.take(len as u64)
            .read_to_end(&mut buf)
            .map_err(|e| io_err(path, "read", e))?;
        Ok(buf)
    }

    async fn read_all(&self, path: &str) -> DiskResult<Vec<u8>> {
        fs::read(self.full(path)).map_err(|e| io_err(path, "read", e))
    }

    async fn len(&self, path: &str) -> DiskResult<u64> {
        fs::metadata(self.full(path))
            .map(|m| m.len())
            .map_err(|e| io_err(path, "stat", e))
    }

    async fn truncate(&self, path: &str, len: u64) -> DiskResult<()> {
        let file = self.open_rw(path, "truncate")?;
        file.set_len(len).map_err(|e| io_err(path, "truncate", e))
    }

    async fn fsync(&self, path: &str) -> DiskResult<()> {
        let file = self.open_rw(path, "fsync")?;
        file.sync_all().map_err(|e| io_err(path, "fsync", e))
    }

    async fn rename(&self, from: &str, to: &str) -> DiskResult<()> {
        self.ensure_parent(to)?;
        fs::rename(self.full(from), self.full(to)).map_err(|e| io_err(from, "rename", e))
    }

    async fn remove(&self, path: &str) -> DiskResult<()> {
        fs::remove_file(self.full(path)).map_err(|e| io_err(path, "remove", e))
    }

    async fn list_dir(&self, dir: &str) -> DiskResult<Vec<String>> {
        let full = self.full(dir);
        if !full.is_dir() {
            return Ok(Vec::new());
        }
        let mut names = Vec::new();
        for entry in fs::read_dir(&full).map_err(|e| io_err(dir, "list", e))? {
            let entry = entry.map_err(|e| io_err(dir, "list", e))?;
            if entry.path().is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    async fn fsync_dir(&self, dir: &str) -> DiskResult<()> {
        let full = self.full(dir);
        if !full.is_dir() {
            return Ok(());
        }
        File::open(&full)
            .and_then(|f| f.sync_all())
            .map_err(|e| io_err(dir, "fsync_dir", e))
    }
}
