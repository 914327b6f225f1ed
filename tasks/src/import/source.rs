//! The upstream repository an import reads commits from: a git directory (bare or not) or a
//! `git bundle` file, opened with git2 only.
//!
//! libgit2 cannot fetch from a bundle, but a bundle is a short header (the refs it carries and
//! the commits it needs) followed by an ordinary pack, so the pack goes straight into the
//! object database of a scratch bare repository.

use std::io::Write;
use std::path::{Path, PathBuf};

use git2::{Diff, Oid, Repository, TreeWalkMode, TreeWalkResult};

use crate::digest::TreeFile;

/// What went wrong opening or reading the upstream repository.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("failed to read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is neither a git repository nor a git bundle")]
    NotARepository {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("{path} is not a git bundle this build reads: {reason}")]
    BadBundle { path: PathBuf, reason: String },
    #[error(
        "{path} is an incremental bundle (it needs commit {missing}, which it does not carry); \
         make a full one with `git bundle create FILE --all`"
    )]
    IncrementalBundle { path: PathBuf, missing: String },
    #[error("failed to unpack the bundle {path}")]
    Unpack {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("could not create scratch space for the bundle")]
    Scratch(#[source] std::io::Error),
    #[error("commit {rev} is not in the repository (is the bundle or clone recent enough?)")]
    NoSuchCommit {
        rev: String,
        #[source]
        source: git2::Error,
    },
    #[error("git operation failed: {context}")]
    Git {
        context: String,
        #[source]
        source: git2::Error,
    },
}

fn git(context: impl Into<String>) -> impl FnOnce(git2::Error) -> SourceError {
    let context = context.into();
    move |source| SourceError::Git { context, source }
}

/// A commit's files as the task format stores them, and what could not be stored.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Regular files, sorted by path.
    pub files: Vec<TreeFile>,
    /// Symbolic links: the task format has none, so they are left out (and reported).
    pub skipped_symlinks: Vec<String>,
    /// Submodules: their contents are not in the repository.
    pub skipped_submodules: Vec<String>,
}

/// The files a patch leaves at the paths it touches, applied to a commit.
#[derive(Debug, Clone, Default)]
pub struct Patched {
    /// The new contents of every path the patch adds or modifies, sorted by path.
    pub files: Vec<TreeFile>,
    /// Paths the patch deletes.
    pub deleted: Vec<String>,
}

/// An opened upstream repository.
pub struct Source {
    repo: Repository,
    /// Keeps the scratch repository of an unpacked bundle alive.
    _scratch: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").field("path", &self.repo.path()).finish()
    }
}

impl Source {
    /// Opens `path`: a directory is opened as a repository, a file is read as a bundle.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        if path.is_dir() {
            let repo = Repository::open(path).map_err(|source| SourceError::NotARepository { path: path.to_owned(), source })?;
            return Ok(Self { repo, _scratch: None });
        }
        let bytes = std::fs::read(path).map_err(|source| SourceError::Read { path: path.to_owned(), source })?;
        Self::from_bundle(path, &bytes)
    }

    fn from_bundle(path: &Path, bytes: &[u8]) -> Result<Self, SourceError> {
        let bad = |reason: &str| SourceError::BadBundle { path: path.to_owned(), reason: reason.to_owned() };
        let header = parse_bundle_header(bytes).map_err(|reason| bad(&reason))?;
        // A fresh repository has none of the commits an incremental bundle builds on.
        if let Some(missing) = header.prerequisites.first() {
            return Err(SourceError::IncrementalBundle { path: path.to_owned(), missing: missing.to_string() });
        }
        let scratch = tempfile::tempdir().map_err(SourceError::Scratch)?;
        let repo = Repository::init_bare(scratch.path()).map_err(git("create a scratch repository"))?;
        {
            let odb = repo.odb().map_err(git("open the object database"))?;
            let mut writer = odb.packwriter().map_err(|source| SourceError::Unpack { path: path.to_owned(), source })?;
            writer.write_all(&bytes[header.pack_offset..]).map_err(|e| bad(&format!("its pack does not index: {e}")))?;
            writer.commit().map_err(|source| SourceError::Unpack { path: path.to_owned(), source })?;
        }
        for (oid, name) in &header.refs {
            // HEAD and odd names are not needed to find commits by id; keep the branches.
            if name.starts_with("refs/") {
                repo.reference(name, *oid, true, "from bundle").map_err(git(format!("create {name}")))?;
            }
        }
        Ok(Self { repo, _scratch: Some(scratch) })
    }

    /// The files of `rev` (a commit id, possibly abbreviated, or any revision git understands).
    pub fn snapshot(&self, rev: &str) -> Result<Snapshot, SourceError> {
        let tree = self.tree(rev)?;
        let mut snapshot = Snapshot::default();
        let mut failure = None;
        tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
            let path = format!("{dir}{}", entry.name().unwrap_or_default());
            match entry.filemode() {
                0o100644 | 0o100755 | 0o100664 => match self.repo.find_blob(entry.id()) {
                    Ok(blob) => {
                        snapshot.files.push(TreeFile { path, executable: entry.filemode() == 0o100755, bytes: blob.content().to_vec() })
                    }
                    Err(source) => {
                        failure = Some(SourceError::Git { context: format!("read {path}"), source });
                        return TreeWalkResult::Abort;
                    }
                },
                0o120000 => snapshot.skipped_symlinks.push(path),
                0o160000 => snapshot.skipped_submodules.push(path),
                _ => {}
            }
            TreeWalkResult::Ok
        })
        .map_err(|source| failure.take().unwrap_or(SourceError::Git { context: format!("walk the tree of {rev}"), source }))?;
        if let Some(failure) = failure {
            return Err(failure);
        }
        snapshot.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(snapshot)
    }

    /// Applies `patch` to the tree of `rev` (in memory) and returns what it leaves at the
    /// paths it touches.
    pub fn apply(&self, rev: &str, patch: &[u8]) -> Result<Patched, SourceError> {
        let tree = self.tree(rev)?;
        let diff = Diff::from_buffer(patch).map_err(git("parse the patch"))?;
        let index = self.repo.apply_to_tree(&tree, &diff, None).map_err(git(format!("apply the patch to {rev}")))?;
        let mut patched = Patched::default();
        for delta in diff.deltas() {
            let Some(path) = delta.new_file().path().or_else(|| delta.old_file().path()) else { continue };
            let path = path.to_string_lossy().replace('\\', "/");
            if delta.status() == git2::Delta::Deleted {
                patched.deleted.push(path);
                continue;
            }
            let entry = index.get_path(Path::new(&path), 0).ok_or_else(|| SourceError::Git {
                context: format!("find {path} after the patch"),
                source: git2::Error::from_str("missing from the patched tree"),
            })?;
            let blob = self.repo.find_blob(entry.id).map_err(git(format!("read patched {path}")))?;
            patched.files.push(TreeFile { path, executable: entry.mode == 0o100755, bytes: blob.content().to_vec() });
        }
        patched.files.sort_by(|a, b| a.path.cmp(&b.path));
        patched.deleted.sort();
        Ok(patched)
    }

    /// The full id of `rev`.
    pub fn commit_id(&self, rev: &str) -> Result<Oid, SourceError> {
        let object = self.repo.revparse_single(rev).map_err(|source| SourceError::NoSuchCommit { rev: rev.to_owned(), source })?;
        let commit = object.peel_to_commit().map_err(|source| SourceError::NoSuchCommit { rev: rev.to_owned(), source })?;
        Ok(commit.id())
    }

    fn tree(&self, rev: &str) -> Result<git2::Tree<'_>, SourceError> {
        let id = self.commit_id(rev)?;
        let commit = self.repo.find_commit(id).map_err(|source| SourceError::NoSuchCommit { rev: rev.to_owned(), source })?;
        commit.tree().map_err(git(format!("read the tree of {rev}")))
    }
}

#[derive(Debug, PartialEq, Eq)]
struct BundleHeader {
    prerequisites: Vec<Oid>,
    refs: Vec<(Oid, String)>,
    pack_offset: usize,
}

/// `# v2 git bundle` or `# v3 git bundle` (with `@capability` lines), then `-<oid> comment`
/// prerequisite lines and `<oid> <refname>` lines, an empty line, and the pack.
fn parse_bundle_header(bytes: &[u8]) -> Result<BundleHeader, String> {
    if !bytes.starts_with(b"# v2 git bundle\n") && !bytes.starts_with(b"# v3 git bundle\n") {
        return Err("it does not start with a git bundle signature (`# v2 git bundle`)".into());
    }
    let mut offset = 0;
    let mut next_line = || -> Result<&str, String> {
        let rest = &bytes[offset..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or("the header never ends")?;
        offset += end + 1;
        std::str::from_utf8(&rest[..end]).map_err(|_| "the header is not text".to_owned())
    };
    let version = next_line()?;
    let v3 = match version {
        "# v2 git bundle" => false,
        "# v3 git bundle" => true,
        other => return Err(format!("it starts with {other:?}, not a bundle signature")),
    };
    let mut header = BundleHeader { prerequisites: Vec::new(), refs: Vec::new(), pack_offset: 0 };
    loop {
        let line = next_line()?;
        if line.is_empty() {
            break;
        }
        if let Some(capability) = line.strip_prefix('@') {
            if !v3 {
                return Err("a v2 bundle has a capability line".into());
            }
            match capability.split_once('=') {
                Some(("object-format", "sha1")) => {}
                Some(("object-format", other)) => return Err(format!("object format {other} (only sha1 is supported)")),
                _ => return Err(format!("unknown capability {capability:?}")),
            }
        } else if let Some(rest) = line.strip_prefix('-') {
            let id = rest.split_whitespace().next().unwrap_or_default();
            header.prerequisites.push(Oid::from_str(id).map_err(|_| format!("bad prerequisite line {line:?}"))?);
        } else {
            let (id, name) = line.split_once(' ').ok_or_else(|| format!("bad reference line {line:?}"))?;
            header.refs.push((Oid::from_str(id).map_err(|_| format!("bad reference line {line:?}"))?, name.to_owned()));
        }
    }
    if !bytes[offset..].starts_with(b"PACK") {
        return Err("no pack follows the header".into());
    }
    header.pack_offset = offset;
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_headers_of_both_versions_parse() {
        let oid = "e213afc5b88d5f3bcfdec1e8e53a560e33073112";
        let v2 = format!("# v2 git bundle\n{oid} refs/heads/main\n{oid} HEAD\n\nPACKdata");
        let header = parse_bundle_header(v2.as_bytes()).expect("v2");
        assert_eq!(header.refs.len(), 2);
        assert_eq!(&v2.as_bytes()[header.pack_offset..], b"PACKdata");

        let v3 = format!("# v3 git bundle\n@object-format=sha1\n-{oid} base\n{oid} refs/heads/main\n\nPACK");
        let header = parse_bundle_header(v3.as_bytes()).expect("v3");
        assert_eq!(header.prerequisites, [Oid::from_str(oid).expect("oid")]);

        for (bad, why) in [
            ("PACK", "signature"),
            ("# v2 git bundle\nnot-a-ref\n\nPACK", "reference line"),
            ("# v3 git bundle\n@object-format=sha256\n\nPACK", "sha256"),
            (&format!("# v2 git bundle\n{oid} HEAD\n\nJUNK"), "no pack"),
        ] {
            let error = parse_bundle_header(bad.as_bytes()).expect_err(bad);
            assert!(error.contains(why), "{bad:?}: {error}");
        }
    }
}
