//! Reading a patch the way the grader must: split into per-file sections, refuse anything that
//! reaches outside the repository, and drop changes to protected paths (tests, test
//! configuration, harness files) so an agent cannot grade itself.
//!
//! Two jobs, one module each: [`reader`] is the strict patch reader (every line accounted for,
//! every path checked), [`rules`] decides which sections the grader keeps.

mod reader;
mod rules;

pub use reader::{FileSection, MAX_PATCH_BYTES, split_patch};
pub use rules::{FilteredPatch, drop_protected, grading_globs};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatchError {
    #[error("patch is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("patch does not start with a `diff --git` header")]
    NotGitDiff,
    #[error("patch touches {path:?}, which is outside the repository or inside .git")]
    UnsafePath { path: String },
    #[error("patch changes a submodule at {path:?}")]
    Submodule { path: String },
    #[error("patch line {line} is not part of a well-formed git diff: {reason}")]
    Malformed { line: usize, reason: &'static str },
    #[error("patch makes {path:?} a symbolic link to {target:?}, which points outside the repository")]
    SymlinkEscape { path: String, target: String },
    #[error("patch makes {path:?} a symbolic link without stating its target in a text hunk")]
    SymlinkWithoutTarget { path: String },
    #[error("patch writes {path:?} through the symbolic link {link:?} it creates")]
    BeyondSymlink { path: String, link: String },
    #[error("invalid protected glob {glob:?}: {message}")]
    BadGlob { glob: String, message: String },
}
