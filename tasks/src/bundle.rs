//! Bundles: how a task or an agent package travels. A bundle is a tar of a tree's regular
//! files in digest order with fixed metadata, so packing the same tree twice gives the same
//! bytes, and the receiver recomputes the digest from what it unpacked instead of trusting a
//! label.

use std::io::Read;
use std::path::{Component, Path};

use crate::digest::{Digest, TreeError, TreeFile, digest_files, read_tree};

/// Bundles larger than this are refused on unpacking (and should not be produced).
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("failed to build bundle")]
    Pack(#[source] std::io::Error),
    #[error("bundle is not a valid tar archive")]
    Corrupt(#[source] std::io::Error),
    #[error("bundle entry {path:?} is not a plain relative path")]
    UnsafePath { path: String },
    #[error("bundle entry {path:?} is not a regular file")]
    NotRegular { path: String },
    #[error("bundle is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("bundle digest is {actual}, expected {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("failed to write {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A tree in memory with its digest.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub digest: Digest,
    pub files: Vec<TreeFile>,
}

impl Bundle {
    /// Reads the tree below `root`.
    pub fn from_dir(root: &Path) -> Result<Self, BundleError> {
        let files = read_tree(root)?;
        Ok(Self { digest: digest_files(&files), files })
    }

    /// The deterministic tar of this bundle.
    pub fn to_tar(&self) -> Result<Vec<u8>, BundleError> {
        let mut builder = tar::Builder::new(Vec::new());
        builder.mode(tar::HeaderMode::Deterministic);
        for file in &self.files {
            let mut header = tar::Header::new_gnu();
            header.set_size(file.bytes.len() as u64);
            header.set_mode(if file.executable { 0o755 } else { 0o644 });
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, &file.path, file.bytes.as_slice()).map_err(BundleError::Pack)?;
        }
        builder.into_inner().map_err(BundleError::Pack)
    }

    /// Parses a bundle tar, refusing anything but regular files at plain relative paths.
    pub fn from_tar(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge { size: bytes.len(), limit: MAX_BUNDLE_BYTES });
        }
        let mut archive = tar::Archive::new(bytes);
        let mut files = Vec::new();
        for entry in archive.entries().map_err(BundleError::Corrupt)? {
            let mut entry = entry.map_err(BundleError::Corrupt)?;
            let path = entry.path().map_err(BundleError::Corrupt)?.to_string_lossy().into_owned();
            let entry_type = entry.header().entry_type();
            if entry_type.is_dir() {
                continue;
            }
            if !is_plain_relative(&path) {
                return Err(BundleError::UnsafePath { path });
            }
            if !entry_type.is_file() {
                return Err(BundleError::NotRegular { path });
            }
            let executable = entry.header().mode().map_err(BundleError::Corrupt)? & 0o111 != 0;
            let mut contents = Vec::new();
            entry.read_to_end(&mut contents).map_err(BundleError::Corrupt)?;
            files.push(TreeFile { path, executable, bytes: contents });
        }
        files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        Ok(Self { digest: digest_files(&files), files })
    }

    /// Parses a bundle and checks it is the one asked for.
    pub fn from_tar_expecting(bytes: &[u8], expected: &Digest) -> Result<Self, BundleError> {
        let bundle = Self::from_tar(bytes)?;
        if &bundle.digest != expected {
            return Err(BundleError::DigestMismatch { expected: expected.clone(), actual: bundle.digest });
        }
        Ok(bundle)
    }

    /// Writes the files below `dest`, creating it.
    pub fn write_to(&self, dest: &Path) -> Result<(), BundleError> {
        for file in &self.files {
            let target = dest.join(&file.path);
            let write_err = |source| BundleError::Write { path: target.display().to_string(), source };
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(write_err)?;
            }
            std::fs::write(&target, &file.bytes).map_err(write_err)?;
            set_executable(&target, file.executable).map_err(write_err)?;
        }
        Ok(())
    }

    /// The file at `path`, if the bundle has it.
    pub fn file(&self, path: &str) -> Option<&TreeFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

fn is_plain_relative(path: &str) -> bool {
    !path.is_empty() && Path::new(path).components().all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(unix)]
fn set_executable(path: &Path, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path, _executable: bool) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_byte_identical_and_digest_stable() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub/run.sh"), b"#!/bin/sh\n").expect("write");
        set_executable(&dir.path().join("sub/run.sh"), true).expect("chmod");
        std::fs::write(dir.path().join("a.txt"), b"hello").expect("write");

        let bundle = Bundle::from_dir(dir.path()).expect("bundle");
        let tar = bundle.to_tar().expect("tar");
        let again = Bundle::from_tar_expecting(&tar, &bundle.digest).expect("unpack");
        assert_eq!(again.to_tar().expect("tar"), tar);

        let out = tempfile::tempdir().expect("tempdir");
        again.write_to(out.path()).expect("write");
        assert_eq!(Bundle::from_dir(out.path()).expect("reread").digest, bundle.digest);
    }

    #[test]
    fn tampered_bundle_is_refused() {
        let bundle =
            Bundle { digest: digest_files(&[]), files: vec![TreeFile { path: "x".into(), executable: false, bytes: b"1".to_vec() }] };
        let tar = bundle.to_tar().expect("tar");
        let err = Bundle::from_tar_expecting(&tar, &bundle.digest).expect_err("digest must not match");
        assert!(matches!(err, BundleError::DigestMismatch { .. }));
    }

    #[test]
    fn escaping_paths_are_refused() {
        for path in ["../evil", "/etc/passwd", "a/../../b"] {
            assert!(!is_plain_relative(path), "{path}");
        }
        assert!(is_plain_relative("a/b.py"));
    }
}
