//! Compact task sets (FORMAT.md, "Compact sets"): each project version's clean tree is stored
//! once, and each task as its bug patch, its statement and the list of the project's files
//! it hides. Loading materialises every task as an ordinary task directory in memory, so the
//! digest, the bundle and everything downstream are those of the materialised task.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::digest::{TreeError, TreeFile, digest_files, read_tree};

/// `set.toml`'s value of `layout` for a compact set.
pub const COMPACT_LAYOUT: &str = "compact";
pub const PROJECTS_DIR: &str = "projects";
pub const TASKS_DIR: &str = "tasks";

#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error("failed to read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("{path} is not valid")]
    Toml {
        path: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("task {task} names project {project}, which the set does not have")]
    UnknownProject { task: String, project: String },
    #[error("task {task} hides {path}, which project {project} does not have")]
    UnknownHidden { task: String, project: String, path: String },
    #[error("bug patch of task {task} does not apply to its project's base")]
    Patch {
        task: String,
        #[source]
        source: PatchError,
    },
}

/// `tasks/<id>/compact.toml`: what the task takes from its project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompactTask {
    /// A directory name under `projects/`: `<name>-<version>`.
    pub project: String,
    /// Project files moved from `repo/` to `hidden/` (the test files the grader overlays).
    pub hidden: Vec<String>,
    /// When true, the stored `task.toml` has no `pass_to_pass`: it is the project's
    /// `stable_tests` without the task's `fail_to_pass`, inserted as the first key of
    /// `[tests]` when the task is materialised (a few hundred ids per task otherwise).
    #[serde(default)]
    pub derive_pass_to_pass: bool,
}

/// True when `set.toml` in `dir` says `layout = "compact"`.
pub fn is_compact_set(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("set.toml")) else { return false };
    let Ok(table) = text.parse::<toml::Table>() else { return false };
    table.get("layout").and_then(|v| v.as_str()) == Some(COMPACT_LAYOUT)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CompactError + '_ {
    move |source| CompactError::Io { path: path.display().to_string(), source }
}

/// A project's shared parts: the clean tree and the environment.
#[derive(Debug, Clone)]
pub struct ProjectBase {
    pub files: BTreeMap<String, TreeFile>,
    pub dockerfile: Vec<u8>,
    /// The other files of `environment/` (a lock, say), paths relative to the project.
    pub environment: Vec<TreeFile>,
    /// `stable_tests` of the project's `project.toml`.
    pub stable_tests: Vec<String>,
}

impl ProjectBase {
    pub fn load(dir: &Path) -> Result<Self, CompactError> {
        let files = read_tree(&dir.join("base"))?.into_iter().map(|f| (f.path.clone(), f)).collect();
        let dockerfile_path = dir.join("environment/Dockerfile");
        let dockerfile = std::fs::read(&dockerfile_path).map_err(io(&dockerfile_path))?;
        let environment = read_tree(&dir.join("environment"))?
            .into_iter()
            .filter(|f| f.path != "Dockerfile")
            .map(|f| TreeFile { path: format!("environment/{}", f.path), ..f })
            .collect();
        let record_path = dir.join("project.toml");
        let stable_tests = match std::fs::read_to_string(&record_path) {
            Ok(text) => {
                let table: toml::Table =
                    text.parse().map_err(|source| CompactError::Toml { path: record_path.display().to_string(), source })?;
                table
                    .get("stable_tests")
                    .and_then(|v| v.as_array())
                    .map(|ids| ids.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(&record_path)(e)),
        };
        Ok(Self { files, dockerfile, environment, stable_tests })
    }

    /// The project's `environment/` as the sandbox builds it.
    pub fn environment_files(&self) -> whetstone_sandbox::EnvironmentFiles {
        let extra = self.environment.iter().map(|f| (f.path.trim_start_matches("environment/").to_owned(), f.bytes.clone()));
        whetstone_sandbox::EnvironmentFiles::new(std::iter::once(("Dockerfile".to_owned(), self.dockerfile.clone())).chain(extra))
    }
}

/// Every task of the compact set at `dir`, materialised as the bundle of its task directory,
/// with the directory it is stored in, sorted by that directory. Reading the bundle as a task
/// is the set loader's job (`TaskSet::load`), as for a plain set.
pub fn load_tasks(dir: &Path) -> Result<Vec<(PathBuf, Bundle)>, CompactError> {
    let tasks_dir = dir.join(TASKS_DIR);
    let mut task_dirs: Vec<PathBuf> = match std::fs::read_dir(&tasks_dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join("task.toml").is_file()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io(&tasks_dir)(e)),
    };
    task_dirs.sort();
    let mut projects: BTreeMap<String, ProjectBase> = BTreeMap::new();
    let mut tasks = Vec::with_capacity(task_dirs.len());
    for task_dir in task_dirs {
        let compact_path = task_dir.join("compact.toml");
        let text = std::fs::read_to_string(&compact_path).map_err(io(&compact_path))?;
        let compact: CompactTask =
            toml::from_str(&text).map_err(|source| CompactError::Toml { path: compact_path.display().to_string(), source })?;
        let task_name = task_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !projects.contains_key(&compact.project) {
            let project_dir = dir.join(PROJECTS_DIR).join(&compact.project);
            if !project_dir.is_dir() {
                return Err(CompactError::UnknownProject { task: task_name, project: compact.project });
            }
            projects.insert(compact.project.clone(), ProjectBase::load(&project_dir)?);
        }
        let base = &projects[&compact.project];
        let own = read_tree(&task_dir)?;
        let bundle = materialise(&task_name, base, &compact, &own)?;
        tasks.push((task_dir, bundle));
    }
    Ok(tasks)
}

/// The task directory a compact task stands for: `task.toml` and `instruction.md` as stored,
/// `environment/` (the Dockerfile and any lock) from the project, `repo/` = the project's base without the hidden
/// files with `bug.patch` applied, `hidden/` = the hidden files from the base, and
/// `gold.patch` = `bug.patch` reversed.
pub fn materialise(task: &str, base: &ProjectBase, compact: &CompactTask, own: &[TreeFile]) -> Result<Bundle, CompactError> {
    let own_file = |name: &str| own.iter().find(|f| f.path == name);
    let bug = own_file("bug.patch").map(|f| String::from_utf8_lossy(&f.bytes).into_owned()).unwrap_or_default();
    let mut repo: BTreeMap<String, TreeFile> = base.files.clone();
    let mut files = Vec::new();
    for hidden in &compact.hidden {
        let file = repo.remove(hidden).ok_or_else(|| CompactError::UnknownHidden {
            task: task.to_owned(),
            project: compact.project.clone(),
            path: hidden.clone(),
        })?;
        files.push(TreeFile { path: format!("hidden/{hidden}"), ..file });
    }
    apply_patch(&mut repo, &bug).map_err(|source| CompactError::Patch { task: task.to_owned(), source })?;
    files.extend(repo.into_values().map(|f| TreeFile { path: format!("repo/{}", f.path), ..f }));
    files.push(TreeFile { path: "environment/Dockerfile".into(), executable: false, bytes: base.dockerfile.clone() });
    files.extend(base.environment.iter().cloned());
    files.push(TreeFile { path: "gold.patch".into(), executable: false, bytes: reverse_patch(&bug).into_bytes() });
    if let Some(file) = own_file("instruction.md") {
        files.push(file.clone());
    }
    if let Some(file) = own_file("task.toml") {
        let mut file = file.clone();
        if compact.derive_pass_to_pass {
            file.bytes = with_pass_to_pass(&String::from_utf8_lossy(&file.bytes), &base.stable_tests).into_bytes();
        }
        files.push(file);
    }
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(Bundle { digest: digest_files(&files), files })
}

/// `task_toml` with `pass_to_pass` (the stable tests that are not in its `fail_to_pass`)
/// inserted as the first line of its `[tests]` table. Textual, so the bytes depend on nothing
/// but the inputs.
pub fn with_pass_to_pass(task_toml: &str, stable_tests: &[String]) -> String {
    let fail_to_pass: Vec<String> = task_toml
        .parse::<toml::Table>()
        .ok()
        .and_then(|t| t.get("tests")?.get("fail_to_pass")?.as_array().cloned())
        .map(|ids| ids.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let pass: Vec<String> =
        stable_tests.iter().filter(|id| !fail_to_pass.contains(id)).map(|id| toml::Value::String(id.clone()).to_string()).collect();
    let line = format!("pass_to_pass = [{}]\n", pass.join(", "));
    match task_toml.find("\n[tests]\n") {
        Some(at) => {
            let split = at + "\n[tests]\n".len();
            format!("{}{line}{}", &task_toml[..split], &task_toml[split..])
        }
        None => task_toml.to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("patch changes {0}, which does not exist")]
    NoSuchFile(String),
    #[error("{path} is not UTF-8 text")]
    NotText { path: String },
    #[error("hunk {hunk} of {path} does not match the file at line {line}")]
    Mismatch { path: String, hunk: usize, line: usize },
    #[error("patch is malformed near line {0}")]
    Malformed(usize),
}

/// One file's section of a unified diff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilePatch {
    pub path: String,
    pub hunks: Vec<Hunk>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hunk {
    /// 1-based first line in the old file.
    pub old_start: usize,
    /// Lines with their marker: ' ', '-' or '+'.
    pub lines: Vec<(char, String)>,
}

/// Parses a text unified diff (`diff --git` or plain `---`/`+++` headers) that modifies
/// existing files. Creation, deletion, renames and binary patches are not part of compact
/// tasks and are refused as malformed.
pub fn parse_patch(patch: &str) -> Result<Vec<FilePatch>, PatchError> {
    let mut files: Vec<FilePatch> = Vec::new();
    let lines: Vec<&str> = patch.split_inclusive('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end_matches('\n');
        if let Some(path) = line.strip_prefix("+++ ") {
            let path = path.strip_prefix("b/").unwrap_or(path).trim_end();
            if path == "/dev/null" {
                return Err(PatchError::Malformed(i + 1));
            }
            files.push(FilePatch { path: path.to_owned(), hunks: Vec::new() });
        } else if let Some(header) = line.strip_prefix("@@ -") {
            let file = files.last_mut().ok_or(PatchError::Malformed(i + 1))?;
            let (old, rest) = header.split_once(" +").ok_or(PatchError::Malformed(i + 1))?;
            let (old_start, old_len) = range(old).ok_or(PatchError::Malformed(i + 1))?;
            let new_len = rest.split_once(' ').and_then(|(r, _)| range(r)).ok_or(PatchError::Malformed(i + 1))?.1;
            let mut hunk = Hunk { old_start, lines: Vec::new() };
            let (mut old_seen, mut new_seen) = (0, 0);
            while old_seen < old_len || new_seen < new_len {
                i += 1;
                let body = lines.get(i).ok_or(PatchError::Malformed(i + 1))?;
                let body = body.strip_suffix('\n').unwrap_or(body);
                let (marker, text) = match body.chars().next() {
                    Some(m @ (' ' | '-' | '+')) => (m, &body[1..]),
                    None => (' ', ""),
                    Some(_) => return Err(PatchError::Malformed(i + 1)),
                };
                match marker {
                    ' ' => {
                        old_seen += 1;
                        new_seen += 1;
                    }
                    '-' => old_seen += 1,
                    _ => new_seen += 1,
                }
                hunk.lines.push((marker, text.to_owned()));
            }
            // "\ No newline at end of file" markers are not produced for compact tasks.
            file.hunks.push(hunk);
        }
        i += 1;
    }
    Ok(files)
}

fn range(text: &str) -> Option<(usize, usize)> {
    match text.split_once(',') {
        Some((start, len)) => Some((start.parse().ok()?, len.parse().ok()?)),
        None => Some((text.parse().ok()?, 1)),
    }
}

/// Applies `patch` to `files` in place; every context and removed line must match exactly
/// at the hunk's stated position (no fuzz: compact patches were made against this base).
pub fn apply_patch(files: &mut BTreeMap<String, TreeFile>, patch: &str) -> Result<(), PatchError> {
    for file_patch in parse_patch(patch)? {
        let file = files.get_mut(&file_patch.path).ok_or_else(|| PatchError::NoSuchFile(file_patch.path.clone()))?;
        let text = String::from_utf8(file.bytes.clone()).map_err(|_| PatchError::NotText { path: file_patch.path.clone() })?;
        let trailing_newline = text.ends_with('\n');
        let old: Vec<&str> = text.lines().collect();
        let mut out: Vec<String> = Vec::with_capacity(old.len());
        let mut at = 0_usize;
        for (index, hunk) in file_patch.hunks.iter().enumerate() {
            let start = hunk.old_start.saturating_sub(1);
            if start < at {
                return Err(PatchError::Mismatch { path: file_patch.path.clone(), hunk: index + 1, line: hunk.old_start });
            }
            out.extend(old.get(at..start).unwrap_or_default().iter().map(|l| (*l).to_owned()));
            at = start;
            for (marker, line) in &hunk.lines {
                match marker {
                    ' ' | '-' => {
                        if old.get(at) != Some(&line.as_str()) {
                            return Err(PatchError::Mismatch { path: file_patch.path.clone(), hunk: index + 1, line: at + 1 });
                        }
                        if *marker == ' ' {
                            out.push(line.clone());
                        }
                        at += 1;
                    }
                    _ => out.push(line.clone()),
                }
            }
        }
        out.extend(old.get(at..).unwrap_or_default().iter().map(|l| (*l).to_owned()));
        let mut joined = out.join("\n");
        if trailing_newline {
            joined.push('\n');
        }
        file.bytes = joined.into_bytes();
    }
    Ok(())
}

/// The patch that undoes `patch`: removed and added lines swap, and so do the headers, the
/// blob ids of an `index` line and each hunk's old and new ranges.
pub fn reverse_patch(patch: &str) -> String {
    let mut out = String::with_capacity(patch.len());
    let mut lines = patch.split_inclusive('\n').peekable();
    let mut in_hunk_body = 0_isize;
    // A run of changed lines reversed: its removals (the original additions) come first.
    let (mut removed, mut added) = (String::new(), String::new());
    let flush = |out: &mut String, removed: &mut String, added: &mut String| {
        out.push_str(removed);
        out.push_str(added);
        removed.clear();
        added.clear();
    };
    while let Some(line) = lines.next() {
        if in_hunk_body > 0 {
            match line.chars().next() {
                Some('-') => added.push_str(&format!("+{}", &line[1..])),
                Some('+') => removed.push_str(&format!("-{}", &line[1..])),
                _ => {
                    flush(&mut out, &mut removed, &mut added);
                    out.push_str(line);
                }
            }
            in_hunk_body -= 1;
            if in_hunk_body == 0 {
                flush(&mut out, &mut removed, &mut added);
            }
            continue;
        }
        if let Some(old) = line.strip_prefix("--- ") {
            let new = lines.next().and_then(|n| n.strip_prefix("+++ ")).unwrap_or("/dev/null\n");
            out.push_str(&format!("--- {}", swap_side(new, "b/", "a/")));
            out.push_str(&format!("+++ {}", swap_side(old, "a/", "b/")));
        } else if let Some(header) = line.strip_prefix("@@ -")
            && let Some((old, rest)) = header.split_once(" +")
            && let Some((new, tail)) = rest.split_once(' ')
        {
            let (old_len, new_len) = (range(old).map_or(0, |r| r.1), range(new).map_or(0, |r| r.1));
            out.push_str(&format!("@@ -{new} +{old} {tail}"));
            // Count body lines exactly: context lines count once, changes once each.
            in_hunk_body = hunk_body_len(&mut lines.clone(), old_len, new_len) as isize;
        } else if let Some(rest) = line.strip_prefix("diff --git ")
            && let Some((a, b)) = rest.trim_end().split_once(' ')
        {
            out.push_str(&format!("diff --git {} {}\n", b.replacen("b/", "a/", 1), a.replacen("a/", "b/", 1)));
        } else if let Some(rest) = line.strip_prefix("index ")
            && let Some((hashes, tail)) = rest.split_once([' ', '\n'])
            && let Some((old, new)) = hashes.split_once("..")
        {
            // git's `index <old>..<new> [mode]`: the blobs swap sides too.
            let separator = &rest[hashes.len()..hashes.len() + 1];
            out.push_str(&format!("index {new}..{old}{separator}{tail}"));
        } else {
            out.push_str(line);
        }
    }
    out
}

fn swap_side(path_line: &str, from: &str, to: &str) -> String {
    match path_line.strip_prefix(from) {
        Some(rest) => format!("{to}{rest}"),
        None => path_line.to_owned(),
    }
}

fn hunk_body_len<'a>(lines: &mut impl Iterator<Item = &'a str>, old_len: usize, new_len: usize) -> usize {
    let (mut old_seen, mut new_seen, mut count) = (0, 0, 0);
    while old_seen < old_len || new_seen < new_len {
        let Some(line) = lines.next() else { break };
        match line.chars().next() {
            Some('-') => old_seen += 1,
            Some('+') => new_seen += 1,
            _ => {
                old_seen += 1;
                new_seen += 1;
            }
        }
        count += 1;
    }
    count
}

/// A unified diff (`diff --git` style, 3 lines of context) turning `old` into `new` for one
/// file, for edits that replace lines one for one (as generated bugs do). Empty when equal.
pub fn line_diff(path: &str, old: &str, new: &str) -> String {
    const CONTEXT: usize = 3;
    let old_lines: Vec<&str> = old.lines().collect();
    let new_lines: Vec<&str> = new.lines().collect();
    if old_lines.len() != new_lines.len() {
        return whole_file_diff(path, &old_lines, &new_lines);
    }
    let changed: Vec<usize> = (0..old_lines.len()).filter(|i| old_lines[*i] != new_lines[*i]).collect();
    if changed.is_empty() {
        return String::new();
    }
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for &line in &changed {
        let start = line.saturating_sub(CONTEXT);
        let end = (line + CONTEXT + 1).min(old_lines.len());
        match groups.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => groups.push((start, end)),
        }
    }
    let mut out = format!("diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n");
    for (start, end) in groups {
        let len = end - start;
        out.push_str(&format!("@@ -{},{len} +{},{len} @@\n", start + 1, start + 1));
        for i in start..end {
            if old_lines[i] == new_lines[i] {
                out.push_str(&format!(" {}\n", old_lines[i]));
            } else {
                out.push_str(&format!("-{}\n", old_lines[i]));
                out.push_str(&format!("+{}\n", new_lines[i]));
            }
        }
    }
    // Two changed lines in one group print as -a +a' -b +b', which is valid.
    out
}

fn whole_file_diff(path: &str, old: &[&str], new: &[&str]) -> String {
    let mut out = format!("diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,{} +1,{} @@\n", old.len(), new.len());
    for line in old {
        out.push_str(&format!("-{line}\n"));
    }
    for line in new {
        out.push_str(&format!("+{line}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> BTreeMap<String, TreeFile> {
        entries
            .iter()
            .map(|(p, t)| ((*p).to_owned(), TreeFile { path: (*p).into(), executable: false, bytes: t.as_bytes().to_vec() }))
            .collect()
    }

    const SOURCE: &str = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\no\n";

    #[test]
    fn diff_apply_and_reverse_round_trip() {
        let bugged = SOURCE.replace("b\n", "B\n").replace("n\n", "N\n");
        let patch = line_diff("m.py", SOURCE, &bugged);
        assert_eq!(patch.matches("@@ -").count(), 2, "{patch}");
        let mut tree = files(&[("m.py", SOURCE)]);
        apply_patch(&mut tree, &patch).expect("applies");
        assert_eq!(String::from_utf8_lossy(&tree["m.py"].bytes), bugged);
        let gold = reverse_patch(&patch);
        assert!(gold.contains("-B\n+b\n"), "{gold}");
        apply_patch(&mut tree, &gold).expect("gold applies");
        assert_eq!(String::from_utf8_lossy(&tree["m.py"].bytes), SOURCE);
        assert_eq!(reverse_patch(&gold), patch);
    }

    /// A patch written by git (an `index` line, a function heading after the hunk range)
    /// reverses into the patch git would write the other way.
    #[test]
    fn git_headers_reverse_with_the_patch() {
        let fix = "diff --git a/m.py b/m.py\nindex 8cd22e3..05c36cc 100644\n--- a/m.py\n+++ b/m.py\n@@ -2,3 +2,4 @@ def f():\n a\n-b\n+B\n+C\n c\n";
        let bug = reverse_patch(fix);
        assert_eq!(
            bug,
            "diff --git a/m.py b/m.py\nindex 05c36cc..8cd22e3 100644\n--- a/m.py\n+++ b/m.py\n@@ -2,4 +2,3 @@ def f():\n a\n-B\n-C\n+b\n c\n"
        );
        assert_eq!(reverse_patch(&bug), fix);
        assert_eq!(reverse_patch("index 1..2\n"), "index 2..1\n");
    }

    #[test]
    fn a_patch_that_does_not_match_is_refused() {
        let patch = line_diff("m.py", SOURCE, &SOURCE.replace("c\n", "C\n"));
        let mut other = files(&[("m.py", &SOURCE.replace("b\n", "x\n"))]);
        assert!(matches!(apply_patch(&mut other, &patch), Err(PatchError::Mismatch { .. })));
        let mut missing = files(&[("n.py", SOURCE)]);
        assert!(matches!(apply_patch(&mut missing, &patch), Err(PatchError::NoSuchFile(_))));
    }

    #[test]
    fn materialised_task_hides_files_applies_the_bug_and_carries_the_gold_patch() {
        let base = ProjectBase {
            files: files(&[("pkg/m.py", SOURCE), ("tests/test_m.py", "def test(): pass\n")]),
            dockerfile: b"ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n".to_vec(),
            environment: vec![TreeFile { path: "environment/requirements.lock".into(), executable: false, bytes: b"# lock\n".to_vec() }],
            stable_tests: vec!["t::a".into(), "t::b".into()],
        };
        let bug = line_diff("pkg/m.py", SOURCE, &SOURCE.replace("e\n", "E\n"));
        let compact = CompactTask { project: "p-1".into(), hidden: vec!["tests/test_m.py".into()], derive_pass_to_pass: false };
        let own = vec![
            TreeFile { path: "bug.patch".into(), executable: false, bytes: bug.clone().into_bytes() },
            TreeFile { path: "instruction.md".into(), executable: false, bytes: b"fix it".to_vec() },
            TreeFile { path: "task.toml".into(), executable: false, bytes: b"x".to_vec() },
        ];
        let bundle = materialise("t", &base, &compact, &own).expect("materialises");
        let paths: Vec<_> = bundle.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "environment/Dockerfile",
                "environment/requirements.lock",
                "gold.patch",
                "hidden/tests/test_m.py",
                "instruction.md",
                "repo/pkg/m.py",
                "task.toml"
            ]
        );
        assert!(String::from_utf8_lossy(&bundle.file("repo/pkg/m.py").expect("repo file").bytes).contains("E\n"));
        assert_eq!(bundle.file("gold.patch").expect("gold").bytes, reverse_patch(&bug).into_bytes());
        let again = materialise("t", &base, &compact, &own).expect("materialises");
        assert_eq!(again.digest, bundle.digest, "materialising is deterministic");
    }

    #[test]
    fn derived_pass_to_pass_is_the_stable_tests_without_the_failing_ones() {
        let stored = "format = 2\nid = \"t\"\n\n[tests]\ncommand = \"pytest\"\nfail_to_pass = [\"t::b\"]\n";
        let text = with_pass_to_pass(stored, &["t::a".into(), "t::b".into(), "t::\"c\"".into()]);
        let table: toml::Table = text.parse().expect("still TOML");
        let pass: Vec<&str> = table["tests"]["pass_to_pass"].as_array().expect("list").iter().filter_map(|v| v.as_str()).collect();
        assert_eq!(pass, ["t::a", "t::\"c\""]);
        assert_eq!(with_pass_to_pass(stored, &["t::a".into(), "t::b".into()]), with_pass_to_pass(stored, &["t::a".into(), "t::b".into()]));
    }
}
