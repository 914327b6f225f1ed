//! The upstream repository an import reads commits from: a git directory (bare or not) or a
//! `git bundle` file, opened with git2 only; or a tree without history (a directory or a
//! tarball holding the files at the base commit), which stands for every commit asked of it.
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
    #[error("failed to read the source tree {path}: {reason}")]
    BadTree { path: PathBuf, reason: String },
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
    /// For a tree without history: the one commit made of it, which every revision means.
    fixed: Option<Oid>,
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
            return Ok(Self { repo, _scratch: None, fixed: None });
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
        Ok(Self { repo, _scratch: Some(scratch), fixed: None })
    }

    /// A tree without history: a directory (its `.git`, if any, is ignored) or a tarball
    /// (`.tar`, `.tar.gz`, `.tgz`; one top-level directory, as sdists and `git archive
    /// --prefix` have, is stripped). Every revision asked of it is this tree: the caller
    /// records the commit it stands for but cannot check it.
    pub fn open_tree(path: &Path) -> Result<Self, SourceError> {
        let bad = |reason: String| SourceError::BadTree { path: path.to_owned(), reason };
        let entries = if path.is_dir() { read_dir_tree(path) } else { read_tarball(path) }.map_err(bad)?;
        if !entries.iter().any(|e| matches!(e, TreeEntry::File { .. })) {
            return Err(SourceError::BadTree { path: path.to_owned(), reason: "it holds no files".into() });
        }
        let scratch = tempfile::tempdir().map_err(SourceError::Scratch)?;
        let repo = Repository::init_bare(scratch.path()).map_err(git("create a scratch repository"))?;
        let commit = {
            let mut index = git2::Index::new().map_err(git("create an index"))?;
            for entry in &entries {
                let (path, mode, bytes) = match entry {
                    TreeEntry::File { path, executable, bytes } => (path, if *executable { 0o100755 } else { 0o100644 }, bytes.as_slice()),
                    TreeEntry::Symlink { path, target } => (path, 0o120000, target.as_bytes()),
                };
                let id = repo.blob(bytes).map_err(git(format!("store {path}")))?;
                let index_entry = git2::IndexEntry {
                    ctime: git2::IndexTime::new(0, 0),
                    mtime: git2::IndexTime::new(0, 0),
                    dev: 0,
                    ino: 0,
                    mode,
                    uid: 0,
                    gid: 0,
                    file_size: bytes.len() as u32,
                    id,
                    flags: path.len().min(0xfff) as u16,
                    flags_extended: 0,
                    path: path.as_bytes().to_vec(),
                };
                index.add(&index_entry).map_err(git(format!("add {path}")))?;
            }
            let tree_id = index.write_tree_to(&repo).map_err(git("write the tree"))?;
            let tree = repo.find_tree(tree_id).map_err(git("read the tree back"))?;
            let signature = git2::Signature::new("whetstone", "whetstone@localhost", &git2::Time::new(0, 0)).map_err(git("sign"))?;
            repo.commit(None, &signature, &signature, "source tree without history", &tree, &[]).map_err(git("commit the tree"))?
        };
        Ok(Self { repo, _scratch: Some(scratch), fixed: Some(commit) })
    }

    /// True for a tree without history ([`Source::open_tree`]).
    pub fn is_tree(&self) -> bool {
        self.fixed.is_some()
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
        if let Some(fixed) = self.fixed {
            return Ok(fixed);
        }
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

/// A path of a source tree and what is there.
enum TreeEntry {
    File { path: String, executable: bool, bytes: Vec<u8> },
    Symlink { path: String, target: String },
}

impl TreeEntry {
    fn path(&self) -> &str {
        match self {
            Self::File { path, .. } | Self::Symlink { path, .. } => path,
        }
    }
}

/// Version control metadata is not part of the tree.
fn skipped_component(name: &str) -> bool {
    matches!(name, ".git" | ".hg" | ".svn")
}

fn read_dir_tree(root: &Path) -> Result<Vec<TreeEntry>, String> {
    let mut entries = Vec::new();
    let walker = walkdir::WalkDir::new(root).follow_links(false).sort_by_file_name().into_iter();
    for entry in walker.filter_entry(|e| !skipped_component(&e.file_name().to_string_lossy())) {
        let entry = entry.map_err(|e| e.to_string())?;
        let relative = entry.path().strip_prefix(root).map_err(|e| e.to_string())?;
        let Some(path) = relative.to_str().map(|p| p.replace('\\', "/")) else {
            return Err(format!("{} is not a UTF-8 path", relative.display()));
        };
        if path.is_empty() {
            continue;
        }
        let kind = entry.file_type();
        if kind.is_symlink() {
            let target = std::fs::read_link(entry.path()).map_err(|e| format!("{path}: {e}"))?;
            entries.push(TreeEntry::Symlink { path, target: target.to_string_lossy().into_owned() });
        } else if kind.is_file() {
            use std::os::unix::fs::PermissionsExt;
            let metadata = entry.metadata().map_err(|e| format!("{path}: {e}"))?;
            let bytes = std::fs::read(entry.path()).map_err(|e| format!("{path}: {e}"))?;
            entries.push(TreeEntry::File { path, executable: metadata.permissions().mode() & 0o111 != 0, bytes });
        }
    }
    Ok(entries)
}

fn read_tarball(path: &Path) -> Result<Vec<TreeEntry>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let reader: Box<dyn std::io::Read> = if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(bytes.as_slice()))
    } else {
        Box::new(bytes.as_slice())
    };
    let mut archive = tar::Archive::new(reader);
    let mut entries = Vec::new();
    for entry in archive.entries().map_err(|e| format!("not a tar archive: {e}"))? {
        let mut entry = entry.map_err(|e| format!("not a tar archive: {e}"))?;
        let name = entry.path().map_err(|e| e.to_string())?.to_string_lossy().into_owned();
        let components: Vec<&str> = name.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
        if components.contains(&"..") || name.starts_with('/') {
            return Err(format!("the entry {name:?} leaves the tree"));
        }
        if components.is_empty() || components.iter().any(|c| skipped_component(c)) {
            continue;
        }
        let path = components.join("/");
        let kind = entry.header().entry_type();
        if kind.is_file() {
            let executable = entry.header().mode().unwrap_or(0o644) & 0o111 != 0;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).map_err(|e| format!("{path}: {e}"))?;
            entries.push(TreeEntry::File { path, executable, bytes });
        } else if kind.is_symlink() {
            let target = entry.link_name().map_err(|e| e.to_string())?.map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
            entries.push(TreeEntry::Symlink { path, target });
        }
    }
    // An sdist or `git archive --prefix` wraps the tree in one directory.
    let first = entries.first().map(|e| e.path().split('/').next().unwrap_or_default().to_owned()).unwrap_or_default();
    let prefix = format!("{first}/");
    if !first.is_empty() && entries.iter().all(|e| e.path().starts_with(&prefix)) {
        for entry in &mut entries {
            match entry {
                TreeEntry::File { path, .. } | TreeEntry::Symlink { path, .. } => *path = path[prefix.len()..].to_owned(),
            }
        }
    }
    // Later entries of a tar replace earlier ones at the same path.
    let mut seen = std::collections::BTreeMap::new();
    for entry in entries {
        seen.insert(entry.path().to_owned(), entry);
    }
    Ok(seen.into_values().collect())
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
