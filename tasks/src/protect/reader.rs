//! The strict patch reader: splits a `git diff` into per-file sections and refuses anything
//! that reaches outside the repository.
//!
//! The reader is strict on purpose. The grader applies exactly the bytes it inspected, with
//! `git apply` and, failing that, GNU `patch`; both tools skip text they do not understand and
//! look for the next header in it, so a hunk that carries more lines than it declares could
//! smuggle a second, uninspected file header (say, for `conftest.py`) past a lenient reader.
//! Every line must therefore be accounted for: a git extended header, the `---`/`+++` pair,
//! a hunk line counted against its `@@` header, or a `GIT binary patch` block. The
//! agent-runner's `git diff --binary` output always is.

use super::PatchError;

/// Patches larger than this are rejected before any work is done.
pub const MAX_PATCH_BYTES: usize = 16 * 1024 * 1024;

/// Git's mode for a symbolic link.
const SYMLINK_MODE: &str = "120000";
/// Git's mode for a submodule (a gitlink).
const SUBMODULE_MODE: &str = "160000";

/// One file's section of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSection {
    /// Every path the section names (old and new side, rename source and target).
    pub paths: Vec<String>,
    pub text: Vec<u8>,
}

/// Splits a `git diff` into file sections and checks that every path is a plain path inside
/// the repository (not absolute, no `..`, nothing under `.git/`), that no submodule is
/// touched, that every symbolic link the patch creates points inside the repository, and that
/// every line belongs to a well-formed section (see the module docs).
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
    let mut reader = Reader::default();
    for (index, line) in patch.split_inclusive(|&b| b == b'\n').enumerate() {
        reader.line = index + 1;
        reader.read(line)?;
    }
    reader.finish()
}

/// Where the reader is inside the current section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Extended header lines, then `---`/`+++`, until the first hunk or binary block.
    Header { old_name: bool, new_name: bool },
    /// Inside a text hunk: lines still owed to the old and the new side.
    Hunk { old: u64, new: u64 },
    /// Between or after hunks: only another hunk, a no-newline marker or a new section.
    AfterHunk,
    /// Inside a `GIT binary patch` block.
    Binary,
}

/// One section while it is read.
#[derive(Debug, Default)]
struct Section {
    paths: Vec<String>,
    text: Vec<u8>,
    /// A mode line or the index line gives the new side the link mode. Any one of them
    /// counts, whichever the applying tool would believe.
    makes_link: bool,
    text_hunks: bool,
    binary: bool,
    /// The new side's content as far as the hunks show it (a link's target).
    new_content: Vec<u8>,
    /// The last line added to `new_content` was a hunk line; a no-newline marker after it
    /// takes its newline back.
    last_was_new: bool,
}

#[derive(Debug)]
struct Reader {
    line: usize,
    state: State,
    current: Option<Section>,
    sections: Vec<FileSection>,
    /// Paths the patch turns into symbolic links.
    links: Vec<String>,
}

impl Default for Reader {
    fn default() -> Self {
        Self { line: 0, state: State::Header { old_name: false, new_name: false }, current: None, sections: Vec::new(), links: Vec::new() }
    }
}

impl Reader {
    fn malformed(&self, reason: &'static str) -> PatchError {
        PatchError::Malformed { line: self.line, reason }
    }

    fn read(&mut self, raw: &[u8]) -> Result<(), PatchError> {
        let body = raw.strip_suffix(b"\n").unwrap_or(raw);
        if body.starts_with(b"diff --git ") {
            if let State::Hunk { .. } = self.state {
                return Err(self.malformed("a hunk ends before the line counts of its @@ header"));
            }
            self.close_section()?;
            let text = String::from_utf8_lossy(body);
            let text = text.trim_end_matches('\r');
            let mut section = Section::default();
            for path in header_paths(&text["diff --git ".len()..]) {
                push_path(&mut section, path)?;
            }
            section.text.extend_from_slice(raw);
            self.current = Some(section);
            self.state = State::Header { old_name: false, new_name: false };
            return Ok(());
        }
        let state = self.state;
        let Some(mut section) = self.current.take() else {
            return Err(self.malformed("text before the first section"));
        };
        section.text.extend_from_slice(raw);
        let result = match state {
            State::Header { old_name, new_name } => self.header_line(&mut section, body, old_name, new_name),
            State::Hunk { old, new } => self.hunk_line(&mut section, body, old, new),
            State::AfterHunk => self.after_hunk_line(&mut section, body),
            State::Binary => self.binary_line(body),
        };
        self.current = Some(section);
        result
    }

    fn header_line(&mut self, section: &mut Section, body: &[u8], old_name: bool, new_name: bool) -> Result<(), PatchError> {
        let text = String::from_utf8_lossy(body);
        let text = text.trim_end_matches('\r');
        let first = || section.paths.first().cloned().unwrap_or_default();
        for prefix in ["old mode ", "new mode ", "deleted file mode ", "new file mode "] {
            if let Some(mode) = text.strip_prefix(prefix) {
                if mode == SUBMODULE_MODE {
                    return Err(PatchError::Submodule { path: first() });
                }
                if !is_mode(mode) {
                    return Err(self.malformed("a mode line without an octal mode"));
                }
                if prefix == "new mode " || prefix == "new file mode " {
                    section.makes_link |= mode == SYMLINK_MODE;
                }
                return Ok(());
            }
        }
        if let Some(index) = text.strip_prefix("index ") {
            let mut parts = index.split(' ');
            let hashes = parts.next().unwrap_or_default();
            let mode = parts.next();
            if parts.next().is_some() || !is_index_range(hashes) {
                return Err(self.malformed("an index line that is not `index <old>..<new> [mode]`"));
            }
            if let Some(mode) = mode {
                if mode == SUBMODULE_MODE {
                    return Err(PatchError::Submodule { path: first() });
                }
                if !is_mode(mode) {
                    return Err(self.malformed("an index line without an octal mode"));
                }
                section.makes_link |= mode == SYMLINK_MODE;
            }
            return Ok(());
        }
        if text.starts_with("similarity index ") || text.starts_with("dissimilarity index ") {
            return Ok(());
        }
        for prefix in ["rename from ", "rename to ", "copy from ", "copy to "] {
            if let Some(path) = text.strip_prefix(prefix) {
                return push_path(section, unquote(path));
            }
        }
        if let Some(name) = text.strip_prefix("--- ") {
            if old_name || new_name {
                return Err(self.malformed("a second `---` line in one section"));
            }
            self.side_path(section, name, "a/")?;
            self.state = State::Header { old_name: true, new_name: false };
            return Ok(());
        }
        if let Some(name) = text.strip_prefix("+++ ") {
            if !old_name || new_name {
                return Err(self.malformed("a `+++` line that does not follow a `---` line"));
            }
            self.side_path(section, name, "b/")?;
            self.state = State::Header { old_name: true, new_name: true };
            return Ok(());
        }
        if text.starts_with("@@ ") {
            if !(old_name && new_name) {
                return Err(self.malformed("a hunk before the `---`/`+++` lines"));
            }
            return self.start_hunk(section, text);
        }
        if text == "GIT binary patch" {
            section.binary = true;
            self.state = State::Binary;
            return Ok(());
        }
        if text.starts_with("Binary files ") && text.ends_with(" differ") {
            section.binary = true;
            self.state = State::AfterHunk;
            return Ok(());
        }
        Err(self.malformed("an unknown header line"))
    }

    /// A `---`/`+++` name: `/dev/null` or the side's prefix and a path, maybe quoted.
    fn side_path(&self, section: &mut Section, name: &str, side: &str) -> Result<(), PatchError> {
        let name = name.trim_end_matches('\t');
        if name == "/dev/null" {
            return Ok(());
        }
        let unquoted = if name.starts_with('"') { unquote(name) } else { name.to_owned() };
        match unquoted.strip_prefix(side) {
            Some(path) => push_path(section, path.to_owned()),
            None => Err(self.malformed("a `---`/`+++` name without its a/ or b/ prefix")),
        }
    }

    fn start_hunk(&mut self, section: &mut Section, text: &str) -> Result<(), PatchError> {
        let (old, new) = hunk_counts(text).ok_or_else(|| self.malformed("a hunk header that is not `@@ -l,n +l,n @@`"))?;
        section.text_hunks = true;
        section.last_was_new = false;
        self.state = if old == 0 && new == 0 { State::AfterHunk } else { State::Hunk { old, new } };
        Ok(())
    }

    fn hunk_line(&mut self, section: &mut Section, body: &[u8], old: u64, new: u64) -> Result<(), PatchError> {
        // git apply reads an empty line in a hunk as an empty context line.
        let (kind, content) = match body.split_first() {
            Some((kind, content)) => (*kind, content),
            None => (b' ', &[][..]),
        };
        let (old, new) = match kind {
            b' ' if old > 0 && new > 0 => (old - 1, new - 1),
            b'-' if old > 0 => (old - 1, new),
            b'+' if new > 0 => (old, new - 1),
            b'\\' => {
                self.no_newline_marker(section);
                return Ok(());
            }
            b' ' | b'-' | b'+' => return Err(self.malformed("a hunk with more lines than its @@ header counts")),
            _ => return Err(self.malformed("a hunk line that is not context, removal or addition")),
        };
        section.last_was_new = kind != b'-';
        if kind != b'-' {
            section.new_content.extend_from_slice(content);
            section.new_content.push(b'\n');
        }
        self.state = if old == 0 && new == 0 { State::AfterHunk } else { State::Hunk { old, new } };
        Ok(())
    }

    fn after_hunk_line(&mut self, section: &mut Section, body: &[u8]) -> Result<(), PatchError> {
        match body.first() {
            Some(b'\\') => {
                self.no_newline_marker(section);
                Ok(())
            }
            Some(b'@') if body.starts_with(b"@@ ") && section.text_hunks => {
                let text = String::from_utf8_lossy(body);
                self.start_hunk(section, text.trim_end_matches('\r'))
            }
            None => Ok(()),
            _ => Err(self.malformed("text after the last hunk of a section")),
        }
    }

    fn no_newline_marker(&self, section: &mut Section) {
        if section.last_was_new && section.new_content.last() == Some(&b'\n') {
            section.new_content.pop();
        }
        section.last_was_new = false;
    }

    fn binary_line(&self, body: &[u8]) -> Result<(), PatchError> {
        let text = String::from_utf8_lossy(body);
        let text = text.trim_end_matches('\r');
        let sized = |prefix: &str| text.strip_prefix(prefix).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if text.is_empty() || sized("literal ") || sized("delta ") || is_base85_line(text.as_bytes()) {
            Ok(())
        } else {
            Err(self.malformed("a line inside a binary patch that is not base85 data"))
        }
    }

    fn close_section(&mut self) -> Result<(), PatchError> {
        let Some(mut section) = self.current.take() else { return Ok(()) };
        if let State::Hunk { .. } = self.state {
            return Err(self.malformed("the patch ends inside a hunk"));
        }
        section.paths.sort();
        section.paths.dedup();
        if section.makes_link {
            check_symlink(&section)?;
            self.links.extend(section.paths.iter().cloned());
        }
        self.sections.push(FileSection { paths: section.paths, text: section.text });
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<FileSection>, PatchError> {
        self.close_section()?;
        // git apply refuses to write beyond a link the patch creates; GNU patch, the fallback,
        // is not relied on to.
        for section in &self.sections {
            for path in &section.paths {
                if let Some(link) =
                    self.links.iter().find(|link| path.strip_prefix(link.as_str()).is_some_and(|rest| rest.starts_with('/')))
                {
                    return Err(PatchError::BeyondSymlink { path: path.clone(), link: link.clone() });
                }
            }
        }
        Ok(self.sections)
    }
}

fn push_path(section: &mut Section, path: String) -> Result<(), PatchError> {
    if !is_safe_repo_path(&path) {
        return Err(PatchError::UnsafePath { path });
    }
    section.paths.push(path);
    Ok(())
}

/// A link the patch creates or changes must state its target in a text hunk, and the target
/// must resolve inside the repository from every path the section names.
fn check_symlink(section: &Section) -> Result<(), PatchError> {
    let path = section.paths.first().cloned().unwrap_or_default();
    if !section.text_hunks || section.binary {
        return Err(PatchError::SymlinkWithoutTarget { path });
    }
    let target = String::from_utf8_lossy(&section.new_content).into_owned();
    for link in &section.paths {
        if !symlink_stays_inside(link, &target) {
            return Err(PatchError::SymlinkEscape { path: link.clone(), target });
        }
    }
    Ok(())
}

/// Whether a link at `link` (a repository path) with `target` resolves inside the repository.
///
/// Conservative, so it holds however links chain: the target is relative, climbs with `..`
/// only before its first name (a `..` after a name could climb out of a directory that is
/// itself a link), and climbs no higher than the link's own directory is deep.
fn symlink_stays_inside(link: &str, target: &str) -> bool {
    if target.is_empty() || target.starts_with('/') || target.contains('\0') {
        return false;
    }
    let depth = link.split('/').count() - 1;
    let mut climbs = 0;
    let mut descended = false;
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." if descended => return false,
            ".." => climbs += 1,
            _ => descended = true,
        }
    }
    climbs <= depth
}

fn is_mode(mode: &str) -> bool {
    mode.len() == 6 && mode.bytes().all(|b| (b'0'..=b'7').contains(&b))
}

fn is_index_range(hashes: &str) -> bool {
    hashes.split_once("..").is_some_and(|(a, b)| [a, b].iter().all(|h| !h.is_empty() && h.bytes().all(|c| c.is_ascii_hexdigit())))
}

/// `(old count, new count)` of `@@ -l[,n] +l[,n] @@[ heading]`; a missing count is 1.
fn hunk_counts(text: &str) -> Option<(u64, u64)> {
    let ranges = text.strip_prefix("@@ ")?;
    let (ranges, _heading) = ranges.split_once(" @@")?;
    let (old, new) = ranges.split_once(' ')?;
    let count = |range: &str, sign: char| -> Option<u64> {
        let range = range.strip_prefix(sign)?;
        let (start, count) = range.split_once(',').unwrap_or((range, "1"));
        start.parse::<u64>().ok()?;
        count.parse().ok()
    };
    Some((count(old, '-')?, count(new, '+')?))
}

/// A line of git's base85 binary data: a length character (`A`–`Z`, `a`–`z`), then base85.
fn is_base85_line(line: &[u8]) -> bool {
    const EXTRA: &[u8] = b"!#$%&()*+-;<=>?@^_`{|}~";
    matches!(line.first(), Some(b'A'..=b'Z' | b'a'..=b'z'))
        && line.len() > 1
        && line[1..].iter().all(|b| b.is_ascii_alphanumeric() || EXTRA.contains(b))
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
    use crate::protect::drop_protected;
    use crate::task::DEFAULT_PROTECTED;

    fn defaults() -> Vec<String> {
        DEFAULT_PROTECTED.iter().map(|s| (*s).to_owned()).collect()
    }

    fn link(path: &str, target: &str) -> String {
        format!(
            "diff --git a/{path} b/{path}\nnew file mode 120000\nindex 0000000..1234567\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n+{target}\n\\ No newline at end of file\n"
        )
    }

    #[test]
    fn unsafe_paths_are_refused() {
        let cases = [
            ("diff --git a/../x b/../x\n--- a/../x\n+++ b/../x\n", "../x"),
            ("diff --git a/.git/config b/.git/config\n", ".git/config"),
            ("diff --git a/ok b/ok\n--- a/ok\n+++ b//etc/passwd\n", "/etc/passwd"),
            ("diff --git a/ok b/ok\nsimilarity index 90%\nrename from ok\nrename to sub/../../x\n", "sub/../../x"),
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
        let sub = "diff --git a/lib b/lib\nindex abc..def 160000\n--- a/lib\n+++ b/lib\n@@ -1 +1 @@\n-Subproject commit abc\n+Subproject commit def\n";
        assert!(matches!(split_patch(sub.as_bytes()), Err(PatchError::Submodule { .. })));
        assert_eq!(split_patch(b"\n  \n"), Ok(Vec::new()));
    }

    /// A hunk that carries more lines than it declares could hide a second file header that
    /// `git apply` or `patch` would act on; the reader refuses the whole patch.
    #[test]
    fn lines_outside_counted_hunks_are_refused() {
        let smuggled = concat!(
            "diff --git a/pkg/core.py b/pkg/core.py\n",
            "--- a/pkg/core.py\n",
            "+++ b/pkg/core.py\n",
            "@@ -1 +1 @@\n",
            "-x = 1\n",
            "+x = 2\n",
            "--- a/conftest.py\n",
            "+++ b/conftest.py\n",
            "@@ -0,0 +1 @@\n",
            "+import pytest\n",
        );
        assert!(
            matches!(split_patch(smuggled.as_bytes()), Err(PatchError::Malformed { line: 7, .. })),
            "{:?}",
            split_patch(smuggled.as_bytes())
        );
        let cases: &[(&str, usize)] = &[
            // A hunk cut short by the next section.
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1,2 +1,2 @@\n-x\n+y\ndiff --git a/b b/b\n", 7),
            // A hunk cut short by the end of the patch.
            ("diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1,2 +1,2 @@\n-x\n+y\n", 6),
            // Unknown header text.
            ("diff --git a/a b/a\nPrereq: 1.0\n", 2),
            // A traditional header inside a binary block.
            ("diff --git a/a b/a\nGIT binary patch\nliteral 1\nIcmZQz00000\n\n--- a/conftest.py\n", 6),
            // Names without the a/ b/ prefixes.
            ("diff --git a/a b/a\n--- conftest.py\n+++ conftest.py\n", 2),
            // A hunk without the file names.
            ("diff --git a/a b/a\n@@ -1 +1 @@\n-x\n+y\n", 2),
        ];
        for (patch, line) in cases {
            match split_patch(patch.as_bytes()) {
                Err(PatchError::Malformed { line: at, .. }) => assert_eq!(at, *line, "{patch}"),
                other => panic!("{patch:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn symlinks_must_point_inside_the_repository() {
        for (path, target) in
            [("pkg/link", "../README"), ("pkg/sub/link", "../../a/b"), ("link", "pkg/core.py"), ("pkg/link", ".."), ("link", "./x/./y")]
        {
            assert!(split_patch(link(path, target).as_bytes()).is_ok(), "{path} -> {target}");
        }
        for (path, target) in [
            ("link", "/etc/passwd"),
            ("link", ".."),
            ("pkg/link", "../../etc"),
            ("pkg/link", "sub/../../.."),
            ("pkg/link", "x/.."),
            ("link", ""),
        ] {
            assert_eq!(
                split_patch(link(path, target).as_bytes()),
                Err(PatchError::SymlinkEscape { path: path.into(), target: target.into() }),
                "{path} -> {target}"
            );
        }
        // A changed target is read from the new side of the hunk.
        let retarget = "diff --git a/link b/link\nindex 1234567..89abcde 120000\n--- a/link\n+++ b/link\n@@ -1 +1 @@\n-pkg/core.py\n\\ No newline at end of file\n+/etc/shadow\n\\ No newline at end of file\n";
        assert!(matches!(split_patch(retarget.as_bytes()), Err(PatchError::SymlinkEscape { target, .. }) if target == "/etc/shadow"));
        // A file turned into a link by a mode change alone would link to its old contents.
        let mode_only = "diff --git a/pkg/core.py b/pkg/core.py\nold mode 100644\nnew mode 120000\n";
        assert_eq!(split_patch(mode_only.as_bytes()), Err(PatchError::SymlinkWithoutTarget { path: "pkg/core.py".into() }));
        // Writing through a link the same patch creates.
        let through = format!(
            "{}diff --git a/pkg/x.py b/pkg/x.py\nnew file mode 100644\n--- /dev/null\n+++ b/pkg/x.py\n@@ -0,0 +1 @@\n+x\n",
            link("pkg", "src")
        );
        assert!(matches!(split_patch(through.as_bytes()), Err(PatchError::BeyondSymlink { .. })));
    }

    /// Every kind of change the agent-runner's diff produces reads back, binary hunks
    /// included, and the sections add up to the whole patch.
    #[test]
    fn runner_diffs_are_accepted() {
        use std::os::unix::fs::{PermissionsExt, symlink};

        use crate::bundle::Bundle;
        use crate::digest::{TreeFile, digest_files};

        let files: Vec<TreeFile> = [
            ("a.py", &b"x = 1\n"[..]),
            ("gone.txt", b"bye\n"),
            ("mode.sh", b"echo\n"),
            ("crlf.txt", b"a\r\nb\r\n"),
            ("nonl.txt", b"abc"),
            ("blob.bin", &[0u8, 1, 2, 3, 255]),
            ("pkg/tests/test_a.py", b"def test(): pass\n"),
        ]
        .iter()
        .map(|(path, bytes)| TreeFile { path: (*path).into(), executable: false, bytes: bytes.to_vec() })
        .collect();
        let source = Bundle { digest: digest_files(&files), files };
        let pristine = tempfile::tempdir().expect("tempdir");
        crate::repo::materialize(&source, pristine.path()).expect("materialize");
        let work = tempfile::tempdir().expect("tempdir");
        source.write_to(work.path()).expect("write");
        let w = work.path();
        let write = |path: &str, bytes: &[u8]| std::fs::write(w.join(path), bytes).expect("write");
        write("a.py", b"x = 2\n");
        std::fs::remove_file(w.join("gone.txt")).expect("remove");
        std::fs::set_permissions(w.join("mode.sh"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        write("crlf.txt", b"a\r\nc\r\n");
        write("nonl.txt", b"abd");
        write("blob.bin", &[9, 1, 2, 3, 255, 0]);
        write("new.bin", &[0; 300]);
        write("sp ace \u{e9}.txt", b"hi\n");
        write("empty", b"");
        write("pkg/tests/test_a.py", b"def test(): assert True\n");
        std::fs::create_dir(w.join("sub")).expect("mkdir");
        symlink("../a.py", w.join("sub/link")).expect("symlink");
        let patch = crate::repo::diff_against_head(pristine.path(), w).expect("diff");

        let sections = split_patch(&patch).unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&patch)));
        assert_eq!(sections.iter().flat_map(|s| s.text.iter().copied()).collect::<Vec<_>>(), patch);
        let paths: Vec<&str> = sections.iter().flat_map(|s| s.paths.iter().map(String::as_str)).collect();
        for path in ["a.py", "gone.txt", "mode.sh", "crlf.txt", "nonl.txt", "blob.bin", "new.bin", "sp ace \u{e9}.txt", "empty", "sub/link"]
        {
            assert!(paths.contains(&path), "{path} missing from {paths:?}");
        }
        let filtered = drop_protected(&patch, &defaults()).expect("filters");
        assert_eq!(filtered.dropped, ["pkg/tests/test_a.py"]);
        assert!(String::from_utf8_lossy(&filtered.patch).contains("GIT binary patch"));
    }

    /// The hidden files are protected whatever the task's globs, and so is every directory a
    #[test]
    fn hunk_headers_are_read() {
        assert_eq!(hunk_counts("@@ -1 +1 @@"), Some((1, 1)));
        assert_eq!(hunk_counts("@@ -0,0 +1,3 @@ def f():"), Some((0, 3)));
        assert_eq!(hunk_counts("@@ -10,2 +10,0 @@"), Some((2, 0)));
        assert_eq!(hunk_counts("@@ -1 1 @@"), None);
        assert_eq!(hunk_counts("@@ -a,1 +1 @@"), None);
    }

    #[test]
    fn paths_with_spaces_and_quotes_are_read() {
        assert_eq!(header_paths("a/my file.py b/my file.py"), ["my file.py"]);
        assert_eq!(header_paths("\"a/t\\303\\251st.py\" \"b/t\\303\\251st.py\""), ["tést.py", "tést.py"]);
    }
}
