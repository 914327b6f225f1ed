//! Content-addressed blob store on disk: agent packages and task bundles by digest. Writes go
//! to a temporary file and are renamed into place, so a reader never sees half a blob.

use std::path::{Path, PathBuf};

use whetstone_tasks::Digest;

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    fn path(&self, digest: &Digest) -> PathBuf {
        self.root.join(&digest.as_str()[..2]).join(format!("{digest}.tar"))
    }

    pub fn put(&self, digest: &Digest, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path(digest);
        if path.exists() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut temp, bytes)?;
        temp.as_file().sync_data()?;
        temp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// The blob, or None when it is not stored.
    pub fn get(&self, digest: &Digest) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(digest)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}
