//! Content digests: sha256 over a directory tree as `tasks/FORMAT.md` defines it.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A sha256 content digest, held as 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

#[derive(Debug, thiserror::Error)]
#[error("invalid digest {0:?}: expected 64 lowercase hex characters")]
pub struct InvalidDigest(pub String);

impl Digest {
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 characters, for tables and logs.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl FromStr for Digest {
    type Err = InvalidDigest;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid { Ok(Self(s.to_owned())) } else { Err(InvalidDigest(s.to_owned())) }
    }
}

impl TryFrom<String> for Digest {
    type Error = InvalidDigest;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Digest> for String {
    fn from(value: Digest) -> Self {
        value.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One regular file of a tree, as the digest and the bundle see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    /// Relative, `/`-separated path.
    pub path: String,
    pub executable: bool,
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("failed to read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is a symlink or special file; trees hold regular files only")]
    NotRegular { path: String },
    #[error("{path} is not valid UTF-8")]
    NonUtf8Path { path: String },
}

/// Reads every regular file below `root`, sorted by path bytes.
pub fn read_tree(root: &Path) -> Result<Vec<TreeFile>, TreeError> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false).sort_by_file_name() {
        let entry =
            entry.map_err(|e| TreeError::Io { path: e.path().map(|p| p.display().to_string()).unwrap_or_default(), source: e.into() })?;
        let file_type = entry.file_type();
        if file_type.is_dir() {
            continue;
        }
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let path = rel.to_str().ok_or_else(|| TreeError::NonUtf8Path { path: rel.display().to_string() })?.replace('\\', "/");
        if !file_type.is_file() {
            return Err(TreeError::NotRegular { path });
        }
        let io = |source| TreeError::Io { path: path.clone(), source };
        let bytes = std::fs::read(entry.path()).map_err(io)?;
        let mode = entry.metadata().map_err(|e| io(e.into()))?;
        files.push(TreeFile { path, executable: is_executable(&mode), bytes });
    }
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(files)
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// The digest of a set of files, which must be sorted by path bytes.
pub fn digest_files(files: &[TreeFile]) -> Digest {
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.path.as_bytes());
        hasher.update([0]);
        hasher.update(if file.executable { b"755" } else { b"644" });
        hasher.update([0]);
        hasher.update(file.bytes.len().to_string().as_bytes());
        hasher.update([0]);
        hasher.update(&file.bytes);
    }
    Digest(hex::encode(hasher.finalize()))
}

/// The digest of the tree below `root`.
pub fn tree_digest(root: &Path) -> Result<Digest, TreeError> {
    Ok(digest_files(&read_tree(root)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, bytes: &[u8]) -> TreeFile {
        TreeFile { path: path.into(), executable: false, bytes: bytes.to_vec() }
    }

    #[test]
    fn digest_changes_with_content_path_and_mode() {
        let base = digest_files(&[file("a", b"x")]);
        assert_ne!(base, digest_files(&[file("a", b"y")]));
        assert_ne!(base, digest_files(&[file("b", b"x")]));
        let mut exec = file("a", b"x");
        exec.executable = true;
        assert_ne!(base, digest_files(&[exec]));
        // Moving bytes between path and content must not collide.
        assert_ne!(digest_files(&[file("ab", b"")]), digest_files(&[file("a", b"b")]));
    }

    #[test]
    fn digest_parsing_is_strict() {
        assert!("ab".parse::<Digest>().is_err());
        assert!("A".repeat(64).parse::<Digest>().is_err());
        assert!("a".repeat(64).parse::<Digest>().is_ok());
    }

    #[test]
    fn tree_digest_ignores_directory_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("z/y")).expect("mkdir");
        std::fs::write(dir.path().join("z/y/f"), b"1").expect("write");
        std::fs::write(dir.path().join("a"), b"2").expect("write");
        let files = read_tree(dir.path()).expect("read");
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["a", "z/y/f"]);
    }
}
