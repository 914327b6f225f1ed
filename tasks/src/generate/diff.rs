//! Unified diffs of byte-range edits, in the `git diff` form `git apply` takes at the
//! repository root (`a/` and `b/` prefixes, three lines of context).
//!
//! The edits are known, so no diff algorithm is needed: each edit's lines are the changed
//! lines, trimmed of lines that came out the same. Lines keep their own terminators, so CRLF
//! files and a missing final newline round-trip byte for byte.

use std::fmt::Write as _;
use std::ops::Range;

const CONTEXT_LINES: usize = 3;

/// Replace bytes `range` of the old text with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit<'a> {
    pub range: Range<usize>,
    pub text: &'a str,
}

/// `old` with `edits` (sorted, not overlapping) applied.
pub(crate) fn apply(old: &str, edits: &[Edit<'_>]) -> String {
    let mut new = String::with_capacity(old.len());
    let mut at = 0;
    for edit in edits {
        new.push_str(&old[at..edit.range.start]);
        new.push_str(edit.text);
        at = edit.range.end;
    }
    new.push_str(&old[at..]);
    new
}

/// The edits that turn `apply(old, edits)` back into `old`.
pub(crate) fn inverse<'o>(old: &'o str, edits: &[Edit<'_>]) -> Vec<Edit<'o>> {
    let mut shift: isize = 0;
    edits
        .iter()
        .map(|edit| {
            let start = edit.range.start.saturating_add_signed(shift);
            shift += edit.text.len() as isize - edit.range.len() as isize;
            Edit { range: start..start + edit.text.len(), text: &old[edit.range.clone()] }
        })
        .collect()
}

/// The unified diff from `old` to `apply(old, edits)` of the file at `path` (relative to the
/// repository root, `/`-separated). Empty when the edits change nothing.
pub(crate) fn unified(path: &str, old: &str, edits: &[Edit<'_>]) -> String {
    let lines = split_lines(old);
    let starts: Vec<usize> = lines.iter().scan(0, |at, line| Some(std::mem::replace(at, *at + line.len()))).collect();
    let line_of = |byte: usize| starts.partition_point(|&s| s <= byte).saturating_sub(1);

    // Each edit covers whole old lines; edits sharing a line are one change.
    let mut groups: Vec<(Range<usize>, Vec<&Edit<'_>>)> = Vec::new();
    for edit in edits {
        let first = if edit.range.start < old.len() {
            line_of(edit.range.start)
        } else if old.ends_with('\n') || lines.is_empty() {
            lines.len() // appending after the last line
        } else {
            lines.len() - 1 // extending a last line that has no newline
        };
        let end = if edit.range.end > edit.range.start { line_of(edit.range.end - 1) + 1 } else { (first + 1).min(lines.len()) };
        match groups.last_mut() {
            Some((covered, members)) if first < covered.end => {
                covered.end = covered.end.max(end);
                members.push(edit);
            }
            _ => groups.push((first..end.max(first), vec![edit])),
        }
    }

    let mut changes = Vec::new();
    for (covered, members) in groups {
        let block_start = starts.get(covered.start).copied().unwrap_or(old.len());
        let block_end = if covered.end == 0 { 0 } else { starts[covered.end - 1] + lines[covered.end - 1].len() };
        let mut new_text = String::new();
        let mut at = block_start;
        for edit in members {
            new_text.push_str(&old[at..edit.range.start]);
            new_text.push_str(edit.text);
            at = edit.range.end;
        }
        new_text.push_str(&old[at..block_end]);
        let old_lines = &lines[covered.clone()];
        let new_lines = split_lines(&new_text);
        // Drop lines that came out the same at either end.
        let same_head = old_lines.iter().zip(&new_lines).take_while(|(a, b)| a == b).count();
        let same_tail = old_lines[same_head..].iter().rev().zip(new_lines[same_head..].iter().rev()).take_while(|(a, b)| a == b).count();
        if old_lines.len() == same_head + same_tail && new_lines.len() == same_head + same_tail {
            continue;
        }
        changes.push(Change {
            old: covered.start + same_head..covered.end - same_tail,
            new_lines: new_lines[same_head..new_lines.len() - same_tail].iter().map(|l| (*l).to_owned()).collect(),
        });
    }
    if changes.is_empty() {
        return String::new();
    }

    let mut out = format!("diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n");
    let mut shift: isize = 0; // new line number minus old line number, before the hunk
    let mut index = 0;
    while index < changes.len() {
        // A hunk takes every following change whose context would touch its own.
        let mut last = index;
        while last + 1 < changes.len() && changes[last + 1].old.start <= changes[last].old.end + 2 * CONTEXT_LINES {
            last += 1;
        }
        let hunk_start = changes[index].old.start.saturating_sub(CONTEXT_LINES);
        let hunk_end = (changes[last].old.end + CONTEXT_LINES).min(lines.len());
        let mut body = String::new();
        let (mut old_count, mut new_count) = (0, 0);
        let mut at = hunk_start;
        let hunk_shift = shift;
        for change in &changes[index..=last] {
            for line in &lines[at..change.old.start] {
                push_line(&mut body, ' ', line);
            }
            old_count += change.old.start - at;
            new_count += change.old.start - at;
            for line in &lines[change.old.clone()] {
                push_line(&mut body, '-', line);
            }
            for line in &change.new_lines {
                push_line(&mut body, '+', line);
            }
            old_count += change.old.len();
            new_count += change.new_lines.len();
            shift += change.new_lines.len() as isize - change.old.len() as isize;
            at = change.old.end;
        }
        for line in &lines[at..hunk_end] {
            push_line(&mut body, ' ', line);
        }
        old_count += hunk_end - at;
        new_count += hunk_end - at;
        let new_start = hunk_start.saturating_add_signed(hunk_shift);
        let _ = writeln!(out, "@@ -{} +{} @@", range_header(hunk_start, old_count), range_header(new_start, new_count));
        out.push_str(&body);
        index = last + 1;
    }
    out
}

struct Change {
    /// Old lines replaced.
    old: Range<usize>,
    new_lines: Vec<String>,
}

/// `start,count` as a hunk header writes it: 1-based, and for an empty side the line before.
fn range_header(start: usize, count: usize) -> String {
    let first = if count == 0 { start } else { start + 1 };
    if count == 1 { first.to_string() } else { format!("{first},{count}") }
}

fn push_line(out: &mut String, prefix: char, line: &str) {
    out.push(prefix);
    out.push_str(line);
    if !line.ends_with('\n') {
        out.push_str("\n\\ No newline at end of file\n");
    }
}

/// Lines with their terminators; the last one may have none.
fn split_lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(old: &str, find: &str, text: &'static str) -> Edit<'static> {
        let start = old.find(find).expect("needle");
        Edit { range: start..start + find.len(), text }
    }

    #[test]
    fn one_line_change_has_three_lines_of_context() {
        let old = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        let diff = unified("src/a.py", old, &[edit(old, "five", "5")]);
        assert_eq!(
            diff,
            "diff --git a/src/a.py b/src/a.py\n--- a/src/a.py\n+++ b/src/a.py\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-five\n+5\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn deleted_lines_and_missing_final_newline() {
        let old = "a\nb\nc";
        let diff = unified("f", old, &[Edit { range: 2..4, text: "" }]);
        assert_eq!(diff, "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,3 +1,2 @@\n a\n-b\n c\n\\ No newline at end of file\n");
        let diff = unified("f", old, &[edit(old, "c", "C")]);
        assert!(diff.ends_with("-c\n\\ No newline at end of file\n+C\n\\ No newline at end of file\n"), "{diff}");
    }

    #[test]
    fn distant_edits_make_separate_hunks_and_near_ones_merge() {
        let old: String = (1..=30).map(|n| format!("{n}\n")).collect();
        let far = [edit(&old, "\n2\n", "\nII\n"), edit(&old, "\n20\n", "\nXX\n")];
        let diff = unified("f", &old, &far);
        assert_eq!(diff.matches("@@ -").count(), 2, "{diff}");
        let near = [edit(&old, "\n2\n", "\nII\n"), edit(&old, "\n8\n", "\nVIII\n")];
        let diff = unified("f", &old, &near);
        assert_eq!(diff.matches("@@ -").count(), 1, "{diff}");
        assert!(diff.contains("@@ -1,11 +1,11 @@"), "{diff}");
    }

    #[test]
    fn inverse_edits_restore_the_original() {
        let old = "one two three\nfour\n";
        let edits = [edit(old, "two", "2"), edit(old, "four\n", "")];
        let new = apply(old, &edits);
        assert_eq!(new, "one 2 three\n");
        assert_eq!(apply(&new, &inverse(old, &edits)), old);
        assert_eq!(unified("f", old, &[edit(old, "two", "two")]), "", "no change, no diff");
    }
}
