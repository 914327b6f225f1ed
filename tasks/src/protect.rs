//! Reading a patch the way the grader must: split into per-file sections, refuse sections that
//! reach outside the repository, and drop changes to protected paths (tests, test
//! configuration, harness files) so an agent cannot grade itself.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Patches larger than this are rejected before any work is done.
pub const MAX_PATCH_BYTES: usize = 16 * 1024 * 1024;

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
    #[error("invalid protected glob {glob:?}: {message}")]
    BadGlob { glob: String, message: String },
}

/// One file's section of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSection {
    /// Every path the section names (old and new side, rename source and target).
    pub paths: Vec<String>,
    pub text: Vec<u8>,
}

/// A patch with protected-path sections taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilteredPatch {
    pub patch: Vec<u8>,
    /// Paths whose changes were dropped, sorted and deduplicated.
    pub dropped: Vec<String>,
}

/// Splits a `git diff` into file sections and checks every path is a plain path inside the
/// repository (not absolute, no `..`, nothing under `.git/`) and no submodule is touched.
pub fn split_patch(patch: &[u8]) -> Result<Vec<FileSection>, PatchError> {
    if patch.len() > MAX_PATCH_BYTES {
        return Err(PatchError::TooLarge { size: patch.len(), limit: MAX_PATCH_BYTES });
    }
    if patch.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    if !patch.starts_with(b"diff --git ") {
        return Err(PatchError::NotGitDiff);
    }
    let mut sections: Vec<FileSection> = Vec::new();
    for line in patch.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"diff --git ") {
            sections.push(FileSection { paths: Vec::new(), text: Vec::new() });
        }
        let Some(section) = sections.last_mut() else { continue };
        section.text.extend_from_slice(line);
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\n', '\r']);
        if let Some(rest) = text.strip_prefix("diff --git ") {
            section.paths.extend(header_paths(rest));
        } else if let Some(mode) = text.strip_prefix("new file mode ").or_else(|| text.strip_prefix("index ").and_then(|i| i.rsplit(' ').next()))
            && mode == "160000"
        {
            return Err(PatchError::Submodule { path: section.paths.first().cloned().unwrap_or_default() });
        } else {
            for prefix in ["rename from ", "rename to ", "copy from ", "copy to "] {
                if let Some(path) = text.strip_prefix(prefix) {
                    section.paths.push(unquote(path));
                }
            }
            for prefix in ["--- a/", "+++ b/", "--- \"a/", "+++ \"b/"] {
                if let Some(path) = text.strip_prefix(prefix) {
                    let quoted = prefix.ends_with('"');
                    let path = if quoted { unquote(&format!("\"{path}")) } else { path.trim_end_matches('\t').to_owned() };
                    section.paths.push(path);
                }
            }
            if text.starts_with("old mode 160000") || text.starts_with("new mode 160000") || text.starts_with("deleted file mode 160000") {
                return Err(PatchError::Submodule { path: section.paths.first().cloned().unwrap_or_default() });
            }
        }
    }
    for section in &mut sections {
        section.paths.sort();
        section.paths.dedup();
        for path in &section.paths {
            if !is_safe_repo_path(path) {
                return Err(PatchError::UnsafePath { path: path.clone() });
            }
        }
    }
    Ok(sections)
}

/// Drops every section that names a path matching one of `protected`.
pub fn drop_protected(patch: &[u8], protected: &[String]) -> Result<FilteredPatch, PatchError> {
    let globs = build_globs(protected)?;
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for section in split_patch(patch)? {
        let hits: Vec<_> = section.paths.iter().filter(|p| globs.is_match(p.as_str())).cloned().collect();
        if hits.is_empty() {
            kept.extend_from_slice(&section.text);
        } else {
            dropped.extend(hits);
        }
    }
    dropped.sort();
    dropped.dedup();
    Ok(FilteredPatch { patch: kept, dropped })
}

fn build_globs(patterns: &[String]) -> Result<GlobSet, PatchError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| PatchError::BadGlob { glob: pattern.clone(), message: e.to_string() })?;
        builder.add(glob);
    }
    builder.build().map_err(|e| PatchError::BadGlob { glob: patterns.join(","), message: e.to_string() })
}

fn is_safe_repo_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && path.split('/').next() != Some(".git")
        && !path.contains('\0')
}

/// Paths from `a/X b/Y` (the text after `diff --git `). Unquoted paths may contain spaces;
/// for an unrenamed file both sides are equal, which fixes where they split.
fn header_paths(rest: &str) -> Vec<String> {
    if rest.starts_with('"') || rest.ends_with('"') {
        return split_quoted_pair(rest);
    }
    let body = rest.strip_prefix("a/").unwrap_or(rest);
    if body.len() >= 3 && (body.len() - 3).is_multiple_of(2) {
        let half = (body.len() - 3) / 2;
        if body.is_char_boundary(half) && &body[half..half + 3] == " b/" && body[..half] == body[half + 3..] {
            return vec![body[..half].to_owned()];
        }
    }
    // A rename: the `rename from/to` lines carry the exact paths.
    match body.split_once(" b/") {
        Some((old, new)) => vec![old.to_owned(), new.to_owned()],
        None => vec![body.to_owned()],
    }
}

fn split_quoted_pair(rest: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut remaining = rest.trim();
    while !remaining.is_empty() {
        if remaining.starts_with('"') {
            let mut end = 1;
            let bytes = remaining.as_bytes();
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            let token = &remaining[..(end + 1).min(remaining.len())];
            paths.push(strip_side(&unquote(token)));
            remaining = remaining[token.len()..].trim_start();
        } else {
            let (token, tail) = remaining.split_once(' ').unwrap_or((remaining, ""));
            paths.push(strip_side(token));
            remaining = tail;
        }
    }
    paths
}

fn strip_side(path: &str) -> String {
    path.strip_prefix("a/").or_else(|| path.strip_prefix("b/")).unwrap_or(path).to_owned()
}

/// Undoes git's C-style quoting of unusual path names.
fn unquote(text: &str) -> String {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return text.to_owned();
    };
    let mut out = Vec::new();
    let mut bytes = inner.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'"') => out.push(b'"'),
            Some(b'\\') => out.push(b'\\'),
            Some(d @ b'0'..=b'7') => {
                let mut value = u32::from(d - b'0');
                for _ in 0..2 {
                    if let Some(next) = bytes.next() {
                        value = value * 8 + u32::from(next.wrapping_sub(b'0'));
                    }
                }
                out.push(value as u8);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::DEFAULT_PROTECTED;

    fn defaults() -> Vec<String> {
        DEFAULT_PROTECTED.iter().map(|s| (*s).to_owned()).collect()
    }

    const SRC: &str = "diff --git a/pkg/core.py b/pkg/core.py\nindex 1..2 100644\n--- a/pkg/core.py\n+++ b/pkg/core.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n";
    const TEST: &str = "diff --git a/pkg/tests/test_core.py b/pkg/tests/test_core.py\ndeleted file mode 100644\nindex 1..0\n--- a/pkg/tests/test_core.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-assert False\n";
    const CONFTEST: &str = "diff --git a/conftest.py b/conftest.py\nnew file mode 100644\nindex 0..1\n--- /dev/null\n+++ b/conftest.py\n@@ -0,0 +1 @@\n+import pytest\n";

    #[test]
    fn protected_sections_are_dropped_and_named() {
        let patch = format!("{SRC}{TEST}{CONFTEST}");
        let filtered = drop_protected(patch.as_bytes(), &defaults()).expect("filters");
        assert_eq!(filtered.patch, SRC.as_bytes());
        assert_eq!(filtered.dropped, ["conftest.py", "pkg/tests/test_core.py"]);
    }

    #[test]
    fn rename_into_protected_path_is_dropped() {
        let patch = "diff --git a/pkg/a.py b/pkg/test_a.py\nsimilarity index 100%\nrename from pkg/a.py\nrename to pkg/test_a.py\n";
        let filtered = drop_protected(patch.as_bytes(), &defaults()).expect("filters");
        assert!(filtered.patch.is_empty());
        assert_eq!(filtered.dropped, ["pkg/test_a.py"]);
    }

    #[test]
    fn unsafe_paths_are_refused() {
        let cases = [
            ("diff --git a/../x b/../x\n--- a/../x\n+++ b/../x\n", "../x"),
            ("diff --git a/.git/config b/.git/config\n", ".git/config"),
            ("diff --git a/ok b/ok\n--- a/ok\n+++ b//etc/passwd\n", "/etc/passwd"),
        ];
        for (patch, path) in cases {
            assert_eq!(split_patch(patch.as_bytes()), Err(PatchError::UnsafePath { path: path.into() }), "{patch}");
        }
    }

    #[test]
    fn other_malformed_patches_are_refused() {
        assert_eq!(split_patch(b"--- a/x\n+++ b/x\n"), Err(PatchError::NotGitDiff));
        let sub = "diff --git a/lib b/lib\nnew file mode 160000\nindex 0..abc\n";
        assert!(matches!(split_patch(sub.as_bytes()), Err(PatchError::Submodule { .. })));
        assert_eq!(split_patch(b"\n  \n"), Ok(Vec::new()));
    }

    #[test]
    fn paths_with_spaces_and_quotes_are_read() {
        assert_eq!(header_paths("a/my file.py b/my file.py"), ["my file.py"]);
        assert_eq!(header_paths("\"a/t\\303\\251st.py\" \"b/t\\303\\251st.py\""), ["tést.py", "tést.py"]);
    }
}
