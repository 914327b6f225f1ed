//! A unified diff (what the agent's `git diff` returns) read into files and hunks, and each
//! file's hunks turned into line-range replacements an editor applies as text edits.

/// One file of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    /// The path before, relative to the repository root; `None` for a new file.
    pub old_path: Option<String>,
    /// The path after; `None` for a deleted file.
    pub new_path: Option<String>,
    pub hunks: Vec<Hunk>,
}

/// One `@@ -a,b +c,d @@` hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// First line of the old range, 1-based (0 when the old range is empty).
    pub old_start: usize,
    pub old_len: usize,
    /// The old range's lines and the new range's lines, each with its line ending.
    pub old_lines: Vec<String>,
    pub new_lines: Vec<String>,
}

/// Replace lines `[start, end)` (0-based) of the old file with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEdit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// Why a diff could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiffError {
    #[error("line {line} of the diff has a malformed hunk header: {text:?}")]
    HunkHeader { line: usize, text: String },
    #[error("line {line} of the diff is inside a hunk but is no context, removal or addition: {text:?}")]
    HunkLine { line: usize, text: String },
    #[error("the diff ends inside the hunk that starts at its line {line}")]
    Truncated { line: usize },
    #[error("the diff changes a binary file ({path}), which an editor cannot take as text edits; apply it with `git apply` instead")]
    Binary { path: String },
}

/// Reads a unified diff as git writes it (`diff --git` headers optional).
pub fn parse(diff: &str) -> Result<Vec<FileDiff>, DiffError> {
    let mut files: Vec<FileDiff> = Vec::new();
    let mut lines = diff.split_inclusive('\n').enumerate().peekable();
    while let Some((number, line)) = lines.next() {
        let bare = line.trim_end_matches(['\n', '\r']);
        if let Some(rest) = bare.strip_prefix("diff --git ") {
            let path = rest.split_once(" b/").map_or(rest, |(_, b)| b).to_owned();
            files.push(FileDiff { old_path: Some(path.clone()), new_path: Some(path), hunks: Vec::new() });
        } else if let Some(rest) = bare.strip_prefix("--- ") {
            if files.last().is_none_or(|file| !file.hunks.is_empty()) {
                files.push(FileDiff { old_path: None, new_path: None, hunks: Vec::new() });
            }
            if let Some(file) = files.last_mut() {
                file.old_path = diff_path(rest);
            }
        } else if let Some(rest) = bare.strip_prefix("+++ ") {
            if let Some(file) = files.last_mut() {
                file.new_path = diff_path(rest);
            }
        } else if bare.starts_with("new file mode") {
            if let Some(file) = files.last_mut() {
                file.old_path = None;
            }
        } else if bare.starts_with("deleted file mode") {
            if let Some(file) = files.last_mut() {
                file.new_path = None;
            }
        } else if bare.starts_with("Binary files ") || bare == "GIT binary patch" {
            let path = files.last().and_then(|file| file.new_path.clone().or(file.old_path.clone())).unwrap_or_default();
            return Err(DiffError::Binary { path });
        } else if bare.starts_with("@@ ") {
            let (old_start, old_len, new_len) =
                hunk_header(bare).ok_or_else(|| DiffError::HunkHeader { line: number + 1, text: bare.to_owned() })?;
            let mut hunk = Hunk { old_start, old_len, old_lines: Vec::new(), new_lines: Vec::new() };
            let (mut old_left, mut new_left) = (old_len, new_len);
            while old_left > 0 || new_left > 0 {
                let Some((number, line)) = lines.next() else {
                    return Err(DiffError::Truncated { line: number + 1 });
                };
                let (kind, text) = line.split_at(line.len().min(1));
                let text = if text.is_empty() && kind == "\n" { "\n" } else { text };
                match kind {
                    " " | "\n" => {
                        hunk.old_lines.push(text.to_owned());
                        hunk.new_lines.push(text.to_owned());
                        old_left = old_left.saturating_sub(1);
                        new_left = new_left.saturating_sub(1);
                    }
                    "-" => {
                        hunk.old_lines.push(text.to_owned());
                        old_left = old_left.saturating_sub(1);
                    }
                    "+" => {
                        hunk.new_lines.push(text.to_owned());
                        new_left = new_left.saturating_sub(1);
                    }
                    "\\" => {}
                    _ => return Err(DiffError::HunkLine { line: number + 1, text: line.to_owned() }),
                }
                // "\ No newline at end of file" follows the line it is about.
                while let Some((_, next)) = lines.peek() {
                    if !next.starts_with('\\') {
                        break;
                    }
                    lines.next();
                    strip_last_newline(&mut hunk, kind);
                }
            }
            if let Some(file) = files.last_mut() {
                file.hunks.push(hunk);
            }
        }
    }
    Ok(files)
}

/// A "\ No newline at end of file" marker: the line just read (of `kind`: context, removal
/// or addition) has no line ending on its side(s).
fn strip_last_newline(hunk: &mut Hunk, kind: &str) {
    let strip = |side: &mut Vec<String>| {
        if let Some(last) = side.last_mut() {
            let trimmed = last.trim_end_matches(['\n', '\r']).len();
            last.truncate(trimmed);
        }
    };
    if kind != "+" {
        strip(&mut hunk.old_lines);
    }
    if kind != "-" {
        strip(&mut hunk.new_lines);
    }
}

fn diff_path(text: &str) -> Option<String> {
    let text = text.split('\t').next().unwrap_or(text).trim_end();
    if text == "/dev/null" {
        return None;
    }
    let text = text.strip_prefix("a/").or_else(|| text.strip_prefix("b/")).unwrap_or(text);
    Some(text.to_owned())
}

/// `@@ -a[,b] +c[,d] @@ …` → (a, b, d).
fn hunk_header(line: &str) -> Option<(usize, usize, usize)> {
    let mut parts = line.strip_prefix("@@ ")?.split(' ');
    let range = |text: &str| -> Option<(usize, usize)> {
        match text.split_once(',') {
            Some((start, len)) => Some((start.parse().ok()?, len.parse().ok()?)),
            None => Some((text.parse().ok()?, 1)),
        }
    };
    let (old_start, old_len) = range(parts.next()?.strip_prefix('-')?)?;
    let (_, new_len) = range(parts.next()?.strip_prefix('+')?)?;
    if parts.next()? != "@@" {
        return None;
    }
    Some((old_start, old_len, new_len))
}

impl Hunk {
    /// The hunk as one replacement of its old line range. Context lines are kept in the new
    /// text, so each hunk stands on its own whatever the other hunks of the file do.
    pub fn line_edit(&self) -> LineEdit {
        // An empty old range is "after line old_start", i.e. starting at 0-based old_start.
        let start = if self.old_len == 0 { self.old_start } else { self.old_start - 1 };
        LineEdit { start, end: start + self.old_len, text: self.new_lines.concat() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "diff --git a/src/lib.py b/src/lib.py
index 1111111..2222222 100644
--- a/src/lib.py
+++ b/src/lib.py
@@ -1,3 +1,3 @@
 def add(a, b):
-    return a - b
+    return a + b
 
@@ -10,0 +11,2 @@ def sub(a, b):
+def mul(a, b):
+    return a * b
diff --git a/NEW.md b/NEW.md
new file mode 100644
--- /dev/null
+++ b/NEW.md
@@ -0,0 +1 @@
+hello
\\ No newline at end of file
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
";

    #[test]
    fn a_git_diff_reads_into_files_and_hunks() {
        let files = parse(DIFF).expect("valid diff");
        assert_eq!(files.len(), 3);
        assert_eq!(files[0].old_path.as_deref(), Some("src/lib.py"));
        assert_eq!(files[0].hunks.len(), 2);
        assert_eq!(files[0].hunks[0].line_edit(), LineEdit { start: 0, end: 3, text: "def add(a, b):\n    return a + b\n\n".into() });
        assert_eq!(files[0].hunks[1].line_edit(), LineEdit { start: 10, end: 10, text: "def mul(a, b):\n    return a * b\n".into() });
        assert_eq!((files[1].old_path.as_deref(), files[1].new_path.as_deref()), (None, Some("NEW.md")));
        assert_eq!(files[1].hunks[0].new_lines, vec!["hello".to_owned()]);
        assert_eq!((files[2].old_path.as_deref(), files[2].new_path.as_deref()), (Some("old.txt"), None));
    }

    #[test]
    fn broken_diffs_are_named_by_line() {
        assert_eq!(parse("--- a/x\n+++ b/x\n@@ -1 +1 @\n"), Err(DiffError::HunkHeader { line: 3, text: "@@ -1 +1 @".into() }));
        assert_eq!(parse("--- a/x\n+++ b/x\n@@ -1 +1 @@\n?x\n"), Err(DiffError::HunkLine { line: 4, text: "?x\n".into() }));
        assert_eq!(parse("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n"), Err(DiffError::Truncated { line: 3 }));
        assert!(matches!(parse("diff --git a/i.png b/i.png\nBinary files a/i.png and b/i.png differ\n"), Err(DiffError::Binary { .. })));
    }
}
