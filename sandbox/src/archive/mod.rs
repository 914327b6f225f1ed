//! Tar archives in and out of containers, with no Docker involved.
//!
//! Packing is deterministic (sorted entries, mtime 0, fixed owner) so the same tree always
//! gives the same bytes. Unpacking treats the archive as hostile: it comes out of a container
//! an agent controlled.

mod pack;
mod unpack;

use std::io;
use std::path::PathBuf;

pub use pack::{pack_dir, pack_files};
pub use unpack::{file_contents, unpack_safe};

/// Errors from reading an archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The archive itself could not be parsed.
    #[error("failed to read the tar archive")]
    Read(#[source] io::Error),

    /// Writing into the destination failed.
    #[error("failed to write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// An entry named an absolute path or climbed with `..`.
    #[error("refusing archive entry {path:?}: it is absolute or leaves the destination")]
    UnsafePath { path: String },

    /// A symbolic or hard link would resolve outside the destination.
    #[error("refusing link {path:?} -> {target:?}: it points outside the destination")]
    LinkEscapes { path: String, target: String },

    /// An entry would be written through a symbolic link or over a non-directory parent.
    #[error("refusing archive entry {path:?}: a parent of it is a symlink or not a directory")]
    ThroughLink { path: String },

    /// [`file_contents`] found no regular file as the archive's first entry.
    #[error("the archive does not hold a regular file")]
    NotAFile,
}

#[cfg(test)]
mod tests;
