//! The pipeline's bug candidates come from the tree-sitter generator ([`crate::generate`]):
//! this module turns its [`Candidate`]s and [`CombinedCandidate`]s into the [`BugCandidate`]s
//! the validation engine takes.
//!
//! A task id is `<project>-<first 10 hex digits of the bug patch's SHA-256>`: the same bug in
//! the same tree always gets the same id, and the id says nothing about where the bug is.
//! Each patch is checked with the compact format's own patch engine before it is validated
//! (`bug.patch` must turn the clean file into the generator's buggy file, and its reverse,
//! which is what a compact set ships as `gold.patch`, must turn it back), so what is
//! validated is byte for byte what the set will materialise.

use std::collections::BTreeMap;
use std::path::Path;

use super::CurateError;
use super::validate::BugCandidate;
use crate::compact::{apply_patch, reverse_patch};
use crate::digest::{Digest, TreeFile};
use crate::generate::{Candidate, CombinedCandidate, GenerationReport, Generator, GeneratorConfig, Language, combine};
use crate::task::Framework;

/// Most bugs in one combined candidate.
const MAX_COMBINED_BUGS: usize = 3;

/// A generated single bug and the candidate validation takes for it.
#[derive(Debug, Clone)]
pub struct SingleBug {
    pub generated: Candidate,
    pub candidate: BugCandidate,
}

/// Every generator candidate of the clean tree at `base_dir` (whose files are `base`), in
/// the generator's order, with the generator's report. Candidates whose patches the compact
/// format could not reproduce exactly (a file without a final newline, CRLF line ends) are
/// left out and counted in the second value.
pub fn singles(
    project: &str,
    framework: Framework,
    base_dir: &Path,
    base: &BTreeMap<String, TreeFile>,
    config: GeneratorConfig,
) -> Result<(Vec<SingleBug>, GenerationReport, usize), CurateError> {
    let generator = Generator::new(language(framework), config);
    let generation = generator.generate(base_dir).map_err(|e| CurateError::Generate(Box::new(e)))?;
    let mut unrepresentable = 0;
    let mut singles = Vec::with_capacity(generation.candidates.len());
    for generated in generation.candidates {
        let label = format!("{}:{} {}", generated.file, generated.line, generated.description);
        match bug_candidate(project, base, &generated.file, generated.bug_patch(), &generated.buggy_source(), 1, label) {
            Some(candidate) => singles.push(SingleBug { generated, candidate }),
            None => unrepresentable += 1,
        }
    }
    Ok((singles, generation.report, unrepresentable))
}

/// Up to `max` combined candidates of 2–3 of `valid` singles in one file ([`combine`] with
/// `seed`), spread over files in turn. A group is kept only when its parts' failing tests
/// (`fail_to_pass`, per single's task id) all differ, so each bug has to be found on its own.
pub fn combined(
    project: &str,
    base: &BTreeMap<String, TreeFile>,
    valid: &[&SingleBug],
    fail_to_pass: &BTreeMap<String, Vec<String>>,
    max: usize,
    seed: u64,
) -> Result<Vec<BugCandidate>, CurateError> {
    let generated: Vec<Candidate> = valid.iter().map(|s| s.generated.clone()).collect();
    let groups = combine(&generated, MAX_COMBINED_BUGS, seed).map_err(|e| CurateError::Generate(Box::new(e)))?;
    let id_of: BTreeMap<String, &str> = valid.iter().map(|s| (s.generated.id(), s.candidate.id.as_str())).collect();
    let failing = |part: &Candidate| id_of.get(&part.id()).and_then(|id| fail_to_pass.get(*id));
    let distinct = |group: &CombinedCandidate| {
        let sets: Vec<_> = group.parts.iter().map(failing).collect();
        sets.iter().all(Option::is_some) && (1..sets.len()).all(|i| !sets[..i].contains(&sets[i]))
    };
    let mut by_file: BTreeMap<&str, Vec<&CombinedCandidate>> = BTreeMap::new();
    for group in groups.iter().filter(|g| distinct(g)) {
        by_file.entry(&group.file).or_default().push(group);
    }
    // Files take turns, so a few combined tasks do not all come from the largest module.
    let mut picked = Vec::new();
    for round in 0.. {
        let before = picked.len();
        for group in by_file.values().filter_map(|groups| groups.get(round)) {
            if picked.len() >= max {
                break;
            }
            let label = group.parts.iter().map(|p| format!("{}:{} {}", p.file, p.line, p.description)).collect::<Vec<_>>().join("; ");
            if let Some(candidate) =
                bug_candidate(project, base, &group.file, group.bug_patch(), &group.buggy_source(), group.parts.len(), label)
            {
                picked.push(candidate);
            }
        }
        if picked.len() == before || picked.len() >= max {
            break;
        }
    }
    Ok(picked)
}

fn language(framework: Framework) -> Language {
    match framework {
        Framework::Pytest => Language::Python,
        Framework::Cargo => Language::Rust,
    }
}

/// The candidate for `bug_patch` on `path`, or `None` when the compact patch engine does not
/// reproduce `buggy` from the clean file and the clean file from `buggy` exactly.
fn bug_candidate(
    project: &str,
    base: &BTreeMap<String, TreeFile>,
    path: &str,
    bug_patch: String,
    buggy: &str,
    bugs: usize,
    label: String,
) -> Option<BugCandidate> {
    let clean = base.get(path)?;
    let mut files: BTreeMap<String, TreeFile> = [(path.to_owned(), clean.clone())].into();
    apply_patch(&mut files, &bug_patch).ok()?;
    if files[path].bytes != buggy.as_bytes() {
        return None;
    }
    let gold_patch = reverse_patch(&bug_patch);
    apply_patch(&mut files, &gold_patch).ok()?;
    if files[path].bytes != clean.bytes {
        return None;
    }
    let id = format!("{project}-{}", &Digest::of_bytes(bug_patch.as_bytes()).as_str()[..10]);
    Some(BugCandidate { id, bug_patch, gold_patch, bugs, label })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "\
def window(seq, n):
    out = []
    i = 0
    while i < len(seq):
        if i + n > len(seq):
            break
        out.append(seq[i:i + n])
        i += 1
    return out


def total(values):
    result = 0
    for value in values:
        if value is None:
            continue
        result += value
    if result > 100:
        result = 100
    return result
";

    fn base(files: &[(&str, &str)]) -> (tempfile::TempDir, BTreeMap<String, TreeFile>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut map = BTreeMap::new();
        for (path, text) in files {
            let absolute = dir.path().join(path);
            std::fs::create_dir_all(absolute.parent().expect("parent")).expect("mkdir");
            std::fs::write(&absolute, text).expect("write");
            map.insert((*path).to_owned(), TreeFile { path: (*path).to_owned(), executable: false, bytes: text.as_bytes().to_vec() });
        }
        (dir, map)
    }

    #[test]
    fn singles_are_generator_candidates_with_stable_ids_and_exact_patches() {
        let (dir, files) = base(&[("pkg/core.py", SOURCE), ("pkg/tests/test_core.py", "def test_x():\n    assert 1 < 2\n")]);
        let config = GeneratorConfig { seed: 3, ..GeneratorConfig::default() };
        let (singles, report, unrepresentable) = singles("pkg", Framework::Pytest, dir.path(), &files, config.clone()).expect("singles");
        assert!(singles.len() >= 4, "{singles:?}");
        assert_eq!(unrepresentable, 0);
        assert_eq!(report.files_scanned, 1, "tests are not mutated");
        for single in &singles {
            let c = &single.candidate;
            assert!(c.id.starts_with("pkg-") && c.id.len() == "pkg-".len() + 10, "{}", c.id);
            assert!(!c.id.contains("core"), "ids must not point at the bug");
            assert!(c.bug_patch.contains("+++ b/pkg/core.py\n"), "{}", c.bug_patch);
            assert_eq!(c.gold_patch, reverse_patch(&c.bug_patch));
            assert!(c.label.starts_with("pkg/core.py:"), "{}", c.label);
        }
        let again = super::singles("pkg", Framework::Pytest, dir.path(), &files, config).expect("singles").0;
        let ids = |s: &[SingleBug]| s.iter().map(|s| s.candidate.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&singles), ids(&again), "the same tree and seed give the same ids");
    }

    #[test]
    fn edits_the_compact_engine_cannot_reproduce_are_left_out() {
        // Without a final newline, an edit on the last line needs a "\ No newline at end of
        // file" marker, which compact patches do not carry; every other edit is fine.
        let text = SOURCE.trim_end();
        let (_dir, files) = base(&[("pkg/core.py", text)]);
        let config = GeneratorConfig { max_per_function: 100, ..GeneratorConfig::default() };
        let generated = Generator::new(Language::Python, config).file_candidates("pkg/core.py", text).expect("candidates");
        let last_line = text.lines().count();
        assert!(generated.iter().any(|c| c.line == last_line) && generated.iter().any(|c| c.line < last_line));
        for c in &generated {
            let kept = bug_candidate("pkg", &files, &c.file, c.bug_patch(), &c.buggy_source(), 1, String::new());
            assert_eq!(kept.is_some(), c.line < last_line, "{}", c.description);
        }
    }

    #[test]
    fn combined_candidates_need_bugs_that_fail_different_tests() {
        let (dir, files) = base(&[("pkg/core.py", SOURCE)]);
        let (singles, _, _) = singles("pkg", Framework::Pytest, dir.path(), &files, GeneratorConfig::default()).expect("singles");
        let valid: Vec<&SingleBug> = singles.iter().collect();
        let distinct: BTreeMap<String, Vec<String>> =
            singles.iter().map(|s| (s.candidate.id.clone(), vec![format!("test_{}", s.candidate.id)])).collect();
        let combined = combined("pkg", &files, &valid, &distinct, 2, 1).expect("combined");
        assert!(!combined.is_empty() && combined.len() <= 2, "{combined:?}");
        for candidate in &combined {
            assert!((2..=3).contains(&candidate.bugs), "{}", candidate.label);
            assert_eq!(candidate.label.matches("pkg/core.py:").count(), candidate.bugs, "{}", candidate.label);
            assert!(candidate.id.starts_with("pkg-") && !singles.iter().any(|s| s.candidate.id == candidate.id));
        }
        let same: BTreeMap<String, Vec<String>> = singles.iter().map(|s| (s.candidate.id.clone(), vec!["test_all".into()])).collect();
        assert!(combined_is_empty(&files, &valid, &same), "bugs caught by the same tests are not combined");
    }

    fn combined_is_empty(files: &BTreeMap<String, TreeFile>, valid: &[&SingleBug], failing: &BTreeMap<String, Vec<String>>) -> bool {
        combined("pkg", files, valid, failing, 4, 1).expect("combined").is_empty()
    }
}
