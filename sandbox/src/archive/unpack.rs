//! Extracting tars that came out of a container, without trusting them.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use tar::{Archive, EntryType};

use super::ArchiveError;

/// Symlink hops followed before a chain is treated as a loop (Linux's own limit).
const MAX_LINK_HOPS: usize = 40;

/// Extracts `tar` into `dest` (created if missing).
///
/// Refuses (with an error, leaving `dest` partly written) absolute paths, `..`, entries whose
/// parent is a symlink, and symbolic or hard links resolving outside `dest`; skips devices and
/// fifos. Ownership and mtimes are not restored; permission bits are, minus setuid/setgid.
/// `strip_first_component` drops the leading directory Docker puts in downloads (the basename
/// of the downloaded path).
pub fn unpack_safe(tar: &[u8], dest: &Path, strip_first_component: bool) -> Result<(), ArchiveError> {
    fs::create_dir_all(dest).map_err(|e| write_error(dest, e))?;
    let mut symlinks: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut dir_modes: Vec<(PathBuf, u32)> = Vec::new();
    let mut archive = Archive::new(tar);
    for entry in archive.entries().map_err(ArchiveError::Read)? {
        let mut entry = entry.map_err(ArchiveError::Read)?;
        let raw_path = entry.path().map_err(ArchiveError::Read)?.into_owned();
        let Some(rel) = archive_relative(&raw_path, strip_first_component)? else {
            continue;
        };
        let path = dest.join(&rel);
        let mode = entry.header().mode().map_err(ArchiveError::Read)? & 0o777;
        match entry.header().entry_type() {
            EntryType::Directory => {
                prepare_parents(dest, &rel)?;
                make_dir(&path)?;
                dir_modes.push((path, mode));
            }
            EntryType::Regular | EntryType::Continuous => {
                prepare_parents(dest, &rel)?;
                remove_non_dir(&path)?;
                let mut contents = Vec::new();
                entry.read_to_end(&mut contents).map_err(ArchiveError::Read)?;
                write_new_file(&path, &contents, mode)?;
            }
            EntryType::Symlink => {
                let target = link_target(&entry)?;
                if !resolves_inside(dest, &rel, &target) {
                    return Err(link_escapes(&rel, &target));
                }
                prepare_parents(dest, &rel)?;
                remove_non_dir(&path)?;
                std::os::unix::fs::symlink(&target, &path).map_err(|e| write_error(&path, e))?;
                symlinks.push((rel, target));
            }
            EntryType::Link => {
                let target = link_target(&entry)?;
                let target_rel = archive_relative(&target, strip_first_component)?.ok_or_else(|| link_escapes(&rel, &target))?;
                if !is_plain_file_inside(dest, &target_rel) {
                    return Err(link_escapes(&rel, &target));
                }
                prepare_parents(dest, &rel)?;
                remove_non_dir(&path)?;
                fs::hard_link(dest.join(&target_rel), &path).map_err(|e| write_error(&path, e))?;
            }
            // Devices and fifos have no business in a work tree; pax/GNU metadata entries are
            // consumed by the tar reader itself.
            _ => {}
        }
    }
    // A later entry can change what an earlier link resolves through, so check the final tree.
    for (rel, target) in &symlinks {
        if !resolves_inside(dest, rel, target) {
            return Err(link_escapes(rel, target));
        }
    }
    // Deepest first, after all files are in, so a read-only directory does not block its
    // own children; owner rwx is kept so the caller can always delete the tree.
    dir_modes.sort_by_key(|(path, _)| std::cmp::Reverse(path.components().count()));
    for (path, mode) in dir_modes {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode | 0o700)).map_err(|e| write_error(&path, e))?;
    }
    Ok(())
}

/// The contents of the archive's first non-directory entry, which must be a regular file:
/// what Docker returns when a single file is downloaded.
pub fn file_contents(tar: &[u8]) -> Result<Vec<u8>, ArchiveError> {
    let mut archive = Archive::new(tar);
    for entry in archive.entries().map_err(ArchiveError::Read)? {
        let mut entry = entry.map_err(ArchiveError::Read)?;
        match entry.header().entry_type() {
            EntryType::Directory => continue,
            EntryType::Regular | EntryType::Continuous => {
                let mut contents = Vec::new();
                entry.read_to_end(&mut contents).map_err(ArchiveError::Read)?;
                return Ok(contents);
            }
            _ => return Err(ArchiveError::NotAFile),
        }
    }
    Err(ArchiveError::NotAFile)
}

/// The entry's path relative to the destination, `None` when nothing is left (the stripped
/// top directory itself, or `./`).
fn archive_relative(raw: &Path, strip_first: bool) -> Result<Option<PathBuf>, ArchiveError> {
    let mut rel = PathBuf::new();
    let mut stripped = !strip_first;
    for component in raw.components() {
        match component {
            Component::Normal(name) if stripped => rel.push(name),
            Component::Normal(_) => stripped = true,
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(ArchiveError::UnsafePath { path: raw.display().to_string() });
            }
        }
    }
    Ok((!rel.as_os_str().is_empty()).then_some(rel))
}

/// Creates the missing parents of `rel` and refuses to go through anything but real
/// directories, so no write ever follows a symlink.
fn prepare_parents(dest: &Path, rel: &Path) -> Result<(), ArchiveError> {
    let mut current = dest.to_path_buf();
    let Some(parent) = rel.parent() else {
        return Ok(());
    };
    for component in parent.components() {
        current.push(component);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(ArchiveError::ThroughLink { path: rel.display().to_string() });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&current).map_err(|e| write_error(&current, e))?;
            }
            Err(e) => return Err(write_error(&current, e)),
        }
    }
    Ok(())
}

fn make_dir(path: &Path) -> Result<(), ArchiveError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => fs::remove_file(path).map_err(|e| write_error(path, e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(write_error(path, e)),
    }
    fs::create_dir(path).map_err(|e| write_error(path, e))
}

/// Later entries replace earlier files and links (as tar does), never directories.
fn remove_non_dir(path: &Path) -> Result<(), ArchiveError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Err(write_error(path, io::Error::new(io::ErrorKind::AlreadyExists, "a directory is in the way"))),
        Ok(_) => fs::remove_file(path).map_err(|e| write_error(path, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(write_error(path, e)),
    }
}

fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), ArchiveError> {
    // create_new refuses to open an existing path, symlinks included.
    let mut file = fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| write_error(path, e))?;
    file.write_all(contents).map_err(|e| write_error(path, e))?;
    file.set_permissions(fs::Permissions::from_mode(mode)).map_err(|e| write_error(path, e))
}

fn link_target<R: Read>(entry: &tar::Entry<'_, R>) -> Result<PathBuf, ArchiveError> {
    entry
        .link_name()
        .map_err(ArchiveError::Read)?
        .map(|target| target.into_owned())
        .ok_or_else(|| ArchiveError::Read(io::Error::new(io::ErrorKind::InvalidData, "link entry without a target")))
}

/// Resolves the symlink `rel -> target` the way the kernel would, against the tree as it is
/// now, and says whether it stays under `dest`. Names that do not exist yet are taken
/// literally; absolute targets are never inside.
fn resolves_inside(dest: &Path, rel: &Path, target: &Path) -> bool {
    enum Step {
        Up,
        Name(OsString),
    }
    fn steps(path: &Path) -> Option<Vec<Step>> {
        let mut steps = Vec::new();
        for component in path.components() {
            match component {
                Component::Normal(name) => steps.push(Step::Name(name.to_owned())),
                Component::ParentDir => steps.push(Step::Up),
                Component::CurDir => {}
                Component::RootDir | Component::Prefix(_) => return None,
            }
        }
        Some(steps)
    }

    let (Some(parent), Some(target_steps)) = (steps(rel.parent().unwrap_or(Path::new(""))), steps(target)) else {
        return false;
    };
    let mut pending: VecDeque<Step> = parent.into_iter().chain(target_steps).collect();
    let mut resolved: Vec<OsString> = Vec::new();
    let mut hops = 0;
    while let Some(step) = pending.pop_front() {
        match step {
            Step::Up => {
                if resolved.pop().is_none() {
                    return false;
                }
            }
            Step::Name(name) => {
                let mut here = dest.to_path_buf();
                here.extend(&resolved);
                here.push(&name);
                let is_symlink = fs::symlink_metadata(&here).is_ok_and(|m| m.is_symlink());
                if !is_symlink {
                    resolved.push(name);
                    continue;
                }
                hops += 1;
                let Ok(next) = fs::read_link(&here) else {
                    return false;
                };
                let Some(next_steps) = steps(&next) else {
                    return false;
                };
                if hops > MAX_LINK_HOPS {
                    return false;
                }
                for step in next_steps.into_iter().rev() {
                    pending.push_front(step);
                }
            }
        }
    }
    true
}

/// A hard link may only point at a regular file already extracted, reached without symlinks.
fn is_plain_file_inside(dest: &Path, target_rel: &Path) -> bool {
    let mut current = dest.to_path_buf();
    let mut components = target_rel.components().peekable();
    while let Some(component) = components.next() {
        current.push(component);
        let Ok(meta) = fs::symlink_metadata(&current) else {
            return false;
        };
        let last = components.peek().is_none();
        if (last && !meta.is_file()) || (!last && !meta.is_dir()) {
            return false;
        }
    }
    true
}

fn link_escapes(rel: &Path, target: &Path) -> ArchiveError {
    ArchiveError::LinkEscapes { path: rel.display().to_string(), target: target.display().to_string() }
}

fn write_error(path: &Path, source: io::Error) -> ArchiveError {
    ArchiveError::Write { path: path.to_path_buf(), source }
}
