//! Building tars to upload into a container.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

use tar::{Builder, EntryType, Header};

/// Packs the tree at `src` (dotfiles and `.git` included, symlinks kept as links) under
/// `prefix/` (no prefix when empty), owned by `owner` (uid, gid).
///
/// Deterministic: entries sorted by name, mtime 0, modes normalised to 755 for directories
/// and executables and 644 for other files (git only tracks the executable bit, and the
/// host's umask must not leak into the sandbox). Sockets and other special files are skipped.
pub fn pack_dir(src: &Path, prefix: &str, owner: (u32, u32)) -> io::Result<Vec<u8>> {
    let prefix = prefix.trim_matches('/');
    check_relative(prefix)?;
    let mut builder = Builder::new(Vec::new());
    if !prefix.is_empty() {
        append_dir(&mut builder, prefix, owner)?;
    }
    append_tree(&mut builder, src, prefix, owner)?;
    builder.into_inner()
}

/// Packs in-memory files: (relative path, contents, mode). Parent directories are added as
/// entries owned by `owner` so that extraction does not create them root-owned.
pub fn pack_files(files: &[(String, Vec<u8>, u32)], owner: (u32, u32)) -> io::Result<Vec<u8>> {
    let mut sorted: Vec<&(String, Vec<u8>, u32)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut builder = Builder::new(Vec::new());
    let mut dirs_done: Vec<String> = Vec::new();
    for (path, contents, mode) in sorted {
        let path = path.trim_start_matches("./");
        check_relative(path)?;
        if path.is_empty() {
            return Err(invalid_input("empty file path"));
        }
        let mut parent = String::new();
        let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        for dir in &components[..components.len() - 1] {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(dir);
            if !dirs_done.contains(&parent) {
                append_dir(&mut builder, &parent, owner)?;
                dirs_done.push(parent.clone());
            }
        }
        let mut header = header(EntryType::Regular, mode & 0o7777, owner);
        header.set_size(contents.len() as u64);
        builder.append_data(&mut header, path, contents.as_slice())?;
    }
    builder.into_inner()
}

fn append_tree(builder: &mut Builder<Vec<u8>>, dir: &Path, prefix: &str, owner: (u32, u32)) -> io::Result<()> {
    let mut entries = fs::read_dir(dir)?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_str().ok_or_else(|| invalid_input(format!("file name {name:?} is not UTF-8")))?;
        let archive_path = if prefix.is_empty() { name.to_owned() } else { format!("{prefix}/{name}") };
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            append_dir(builder, &archive_path, owner)?;
            append_tree(builder, &entry.path(), &archive_path, owner)?;
        } else if file_type.is_symlink() {
            let target = fs::read_link(entry.path())?;
            let mut header = header(EntryType::Symlink, 0o777, owner);
            header.set_size(0);
            builder.append_link(&mut header, &archive_path, target)?;
        } else if file_type.is_file() {
            let executable = entry.metadata()?.permissions().mode() & 0o111 != 0;
            let contents = fs::read(entry.path())?;
            let mode = if executable { 0o755 } else { 0o644 };
            let mut header = header(EntryType::Regular, mode, owner);
            header.set_size(contents.len() as u64);
            builder.append_data(&mut header, &archive_path, contents.as_slice())?;
        }
    }
    Ok(())
}

fn append_dir(builder: &mut Builder<Vec<u8>>, path: &str, owner: (u32, u32)) -> io::Result<()> {
    let mut header = header(EntryType::Directory, 0o755, owner);
    header.set_size(0);
    builder.append_data(&mut header, format!("{path}/"), io::empty())
}

fn header(entry_type: EntryType, mode: u32, (uid, gid): (u32, u32)) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(entry_type);
    header.set_mode(mode);
    header.set_uid(u64::from(uid));
    header.set_gid(u64::from(gid));
    header.set_mtime(0);
    header
}

/// Archive paths must stay under the extraction directory.
fn check_relative(path: &str) -> io::Result<()> {
    let escapes = Path::new(path).components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes {
        return Err(invalid_input(format!("archive path {path:?} must be relative without `..`")));
    }
    Ok(())
}

fn invalid_input(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}
