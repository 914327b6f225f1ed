//! The developer's repository as the solve API takes it: a tar of the tracked files and the
//! untracked ones git does not ignore, as they are on disk (uncommitted changes included).
//! Interim, like [`super::client`]: `whetstone::solve_client::pack_worktree` replaces it.

use std::path::{Path, PathBuf};

/// Why the repository could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{} is not inside a git repository (the solve API takes a git work tree: run `git init` there first)", dir.display())]
    NotARepository {
        dir: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("the git repository at {} has no work tree", dir.display())]
    Bare { dir: PathBuf },
    #[error("failed to list the files of the repository at {}", root.display())]
    List {
        root: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("failed to read {} for the snapshot", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A packed work tree.
#[derive(Debug)]
pub struct Snapshot {
    /// The work tree's root: paths in the tar, and in the diff that comes back, are relative to it.
    pub root: PathBuf,
    pub tar: Vec<u8>,
    pub files: usize,
}

/// Packs the work tree of the git repository that holds `dir`.
pub fn pack_worktree(dir: &Path) -> Result<Snapshot, PackError> {
    let repo = git2::Repository::discover(dir).map_err(|source| PackError::NotARepository { dir: dir.to_owned(), source })?;
    let root = repo.workdir().ok_or_else(|| PackError::Bare { dir: dir.to_owned() })?.to_owned();
    let mut paths = std::collections::BTreeSet::new();
    let index = repo.index().map_err(|source| PackError::List { root: root.clone(), source })?;
    for entry in index.iter() {
        paths.insert(String::from_utf8_lossy(&entry.path).into_owned());
    }
    let mut options = git2::StatusOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false);
    let statuses = repo.statuses(Some(&mut options)).map_err(|source| PackError::List { root: root.clone(), source })?;
    for status in statuses.iter() {
        if status.status().contains(git2::Status::WT_NEW)
            && let Ok(path) = status.path()
        {
            paths.insert(path.to_owned());
        }
    }
    let mut tar = tar::Builder::new(Vec::new());
    let mut files = 0;
    for relative in paths {
        let path = root.join(&relative);
        let metadata = match std::fs::symlink_metadata(&path) {
            Ok(metadata) => metadata,
            // Deleted in the work tree: the snapshot is the work tree, so it is absent here too.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(PackError::Read { path, source }),
        };
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        if metadata.file_type().is_symlink() {
            let target = std::fs::read_link(&path).map_err(|source| PackError::Read { path: path.clone(), source })?;
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            header.set_mode(0o777);
            tar.append_link(&mut header, &relative, &target).map_err(|source| PackError::Read { path, source })?;
        } else if metadata.is_file() {
            let bytes = std::fs::read(&path).map_err(|source| PackError::Read { path: path.clone(), source })?;
            #[cfg(unix)]
            let executable = std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o111 != 0;
            #[cfg(not(unix))]
            let executable = false;
            header.set_mode(if executable { 0o755 } else { 0o644 });
            header.set_size(bytes.len() as u64);
            tar.append_data(&mut header, &relative, bytes.as_slice()).map_err(|source| PackError::Read { path, source })?;
        } else {
            // A submodule (a directory in the index): not part of this repository's files.
            continue;
        }
        files += 1;
    }
    let tar = tar.into_inner().map_err(|source| PackError::Read { path: root.clone(), source })?;
    Ok(Snapshot { root, tar, files })
}
