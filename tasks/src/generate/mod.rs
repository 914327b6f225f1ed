//! Bug generation for task curation: plant small, realistic bugs in a project's own code with
//! tree-sitter, so the project's existing tests become the hidden tests of a new task.
//!
//! # How it works
//!
//! 1. [`Generator::candidates`] walks a source tree (a Python or Rust project), leaving out
//!    tests, benchmarks, examples, docs, build scripts, vendored and generated files
//!    (`files.rs` has the lists).
//! 2. Each file is parsed with tree-sitter; files that do not parse cleanly are skipped and
//!    reported. One walk (`walk.rs`: scopes, qualified names, the order of the walk) with
//!    per-language rules (`python.rs`, `rust.rs`) finds mutations inside function bodies only, with the [`Operator`]s enabled, skipping test functions and
//!    modules, boilerplate, strings and docstrings, logging and assertion messages.
//! 3. Functions smaller than [`GeneratorConfig::min_statements`] get no bugs.
//! 4. Every mutation is an edit of a byte range of the original file (never a pretty-print).
//!    The mutated file is re-parsed (incrementally) and rejected if the tree has an `ERROR`
//!    or `MISSING` node.
//! 5. Mutations that produce the same file are kept once; mutations known to be equivalent
//!    (`not (a < b)` next to `a >= b`, negating an if/else next to swapping its branches, `x + 0`
//!    → `x - 0`, swapping the arguments of `max`) are never produced.
//! 6. At most [`GeneratorConfig::max_per_function`] candidates are kept per function, chosen
//!    with the seed to cover as many operators as possible. The result is sorted by file and
//!    position, and the same tree, configuration and seed always give the same list.
//!
//! Then [`sample`] (or [`Generator::sample`]) picks K candidates spread over files, functions
//! and operators, and [`combine`] groups 2–3 candidates of one file into harder, multi-bug
//! tasks.
//!
//! # What a candidate gives the pipeline
//!
//! A [`Candidate`] says where the bug is (file, qualified function, line, byte span), what it
//! is (operator, original and replacement text, a curator-facing description such as "flipped
//! `<` to `>=` in `toolz.itertoolz.sliding_window`"; never show it to agents), and gives
//! [`Candidate::bug_patch`] (clean → buggy) and [`Candidate::gold_patch`] (buggy → clean):
//! unified diffs with `a/` and `b/` prefixes that `git apply` takes at the source tree's root,
//! byte-exact (applying one then the other restores the original bytes).
//!
//! This generator is the curation pipeline's only source of bugs (`whetstone tasks generate`):
//! `crate::curate::bugs` turns each candidate into a validation candidate whose task id is
//! the project name and a hash of the bug patch, and checks the patch with the compact
//! format's patch engine (the set stores `bug.patch` and ships its reverse as `gold.patch`).
//! The pipeline validates a [`sample`] of them in Docker, keeps those whose tests fail with
//! the bug and pass without it, and [`combine`]s valid ones of one file into hard tasks.
//!
//! ```no_run
//! use std::path::Path;
//! use whetstone_tasks::generate::{Generator, GeneratorConfig, Language, combine};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let root = Path::new("path/to/toolz");
//! let language = Language::detect(root).unwrap_or(Language::Python);
//! let generator = Generator::new(language, GeneratorConfig { seed: 7, ..GeneratorConfig::default() });
//! let candidates = generator.candidates(root)?;
//! for candidate in generator.sample(&candidates, 20) {
//!     println!("{} {}", candidate.id(), candidate.description);
//!     let _bug = candidate.bug_patch();
//!     let _fix = candidate.gold_patch();
//! }
//! let harder = combine(&candidates, 3, 7)?;
//! # let _ = harder;
//! # Ok(())
//! # }
//! ```

mod candidate;
mod diff;
mod files;
mod language;
mod operator;
mod python;
mod rust;
mod sample;
mod scan;
mod walk;

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tree_sitter::{InputEdit, Parser, Point, Tree};

pub use candidate::{Candidate, CombinedCandidate};
pub use language::{Language, UnknownLanguage};
pub use operator::{Operator, UnknownOperator};
pub use sample::{combine, sample};

/// How candidates are chosen. Every field has a default, so `{}` is a valid configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeneratorConfig {
    /// Functions with fewer statements and branches than this (nested bodies included) get no
    /// bugs: too little logic for a task worth solving. Default 5.
    pub min_statements: usize,
    /// Most candidates kept per function, chosen with the seed to cover as many operators as
    /// possible; also the per-function cap of [`Generator::sample`]. Default 4.
    pub max_per_function: usize,
    /// Seed of every random choice (the per-function cap, sampling, combining). Default 0.
    pub seed: u64,
    /// Operators to apply. Default: all of [`Operator::ALL`].
    pub operators: Vec<Operator>,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig { min_statements: 5, max_per_function: 4, seed: 0, operators: Operator::ALL.to_vec() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("source tree {} is not a directory; pass the project's root directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("failed to walk the source tree {}", root.display())]
    Walk {
        root: PathBuf,
        #[source]
        source: walkdir::Error,
    },
    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "failed to load the tree-sitter {language} grammar; its crate was built for another tree-sitter ABI, so align the tree-sitter-{language} and tree-sitter versions in Cargo.toml"
    )]
    Grammar {
        language: Language,
        #[source]
        source: tree_sitter::LanguageError,
    },
    #[error("tree-sitter gave up parsing {path}")]
    Parse { path: String },
}

/// Candidates and what happened on the way to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Generation {
    pub candidates: Vec<Candidate>,
    pub report: GenerationReport,
}

/// Counts for a curator's report and for tuning the filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GenerationReport {
    /// Source files parsed and searched.
    pub files_scanned: usize,
    /// Files of the language that were not searched, and why.
    pub skipped_files: Vec<SkippedFile>,
    /// Functions found (test functions and boilerplate not counted).
    pub functions: usize,
    /// Functions at least [`GeneratorConfig::min_statements`] large.
    pub eligible_functions: usize,
    /// Mutations found in eligible functions.
    pub mutations: usize,
    /// Mutations whose file no longer parsed cleanly.
    pub rejected_syntax: usize,
    /// Mutations producing the same file as an earlier one.
    pub duplicates: usize,
    /// Valid mutations left out by [`GeneratorConfig::max_per_function`].
    pub capped: usize,
    /// The final candidates by operator.
    pub candidates_per_operator: BTreeMap<Operator, usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedFile {
    pub path: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    NotUtf8,
    Generated,
    TooLarge,
    /// The file has tree-sitter `ERROR` or `MISSING` nodes as it is: a syntax the grammar does
    /// not know, so a mutation could not be checked.
    SyntaxErrors,
}

/// Finds candidate bugs in the source trees of one language.
#[derive(Debug, Clone)]
pub struct Generator {
    language: Language,
    config: GeneratorConfig,
}

impl Generator {
    pub fn new(language: Language, config: GeneratorConfig) -> Self {
        Generator { language, config }
    }

    pub fn language(&self) -> Language {
        self.language
    }

    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// Every candidate in the project at `root`, deduplicated, capped per function and sorted
    /// by file and position.
    pub fn candidates(&self, root: &Path) -> Result<Vec<Candidate>, GenerateError> {
        Ok(self.generate(root)?.candidates)
    }

    /// [`Generator::candidates`] with the report of how they were found.
    pub fn generate(&self, root: &Path) -> Result<Generation, GenerateError> {
        if !root.is_dir() {
            return Err(GenerateError::NotADirectory { path: root.to_owned() });
        }
        let mut parser = self.language.parser()?;
        let mut report = GenerationReport::default();
        let mut candidates = Vec::new();
        let mut rust_modules = files::RustModules::new(root);
        for file in files::source_files(root, self.language)? {
            let skip = |reason| SkippedFile { path: file.relative.clone(), reason };
            let read = |source| GenerateError::Read { path: file.absolute.clone(), source };
            if std::fs::metadata(&file.absolute).map_err(read)?.len() > files::MAX_FILE_BYTES {
                report.skipped_files.push(skip(SkipReason::TooLarge));
                continue;
            }
            let bytes = std::fs::read(&file.absolute).map_err(read)?;
            let Ok(text) = String::from_utf8(bytes) else {
                report.skipped_files.push(skip(SkipReason::NotUtf8));
                continue;
            };
            if files::looks_generated(&text) {
                report.skipped_files.push(skip(SkipReason::Generated));
                continue;
            }
            let module = match self.language {
                Language::Python => files::python_module(&file.relative),
                Language::Rust => rust_modules.module(&file.relative),
            };
            candidates.extend(self.scan_file(&mut parser, &file.relative, &module, text.into(), &mut report)?);
        }
        for candidate in &candidates {
            *report.candidates_per_operator.entry(candidate.operator).or_default() += 1;
        }
        Ok(Generation { candidates, report })
    }

    /// The candidates of one file given as text, `relative` being its path in the project
    /// (it names the module and goes into the patches). Rust files get the crate name `crate`.
    pub fn file_candidates(&self, relative: &str, source: &str) -> Result<Vec<Candidate>, GenerateError> {
        let mut parser = self.language.parser()?;
        let module = match self.language {
            Language::Python => files::python_module(relative),
            Language::Rust => files::RustModules::detached().module(relative),
        };
        self.scan_file(&mut parser, relative, &module, source.into(), &mut GenerationReport::default())
    }

    /// Up to `k` of `candidates` spread over files, functions and operators, with this
    /// generator's seed and per-function cap (see [`sample`]).
    pub fn sample(&self, candidates: &[Candidate], k: usize) -> Vec<Candidate> {
        sample(candidates, k, self.config.seed, self.config.max_per_function)
    }

    fn scan_file(
        &self,
        parser: &mut Parser,
        relative: &str,
        module: &str,
        source: Arc<str>,
        report: &mut GenerationReport,
    ) -> Result<Vec<Candidate>, GenerateError> {
        let tree = parser.parse(source.as_bytes(), None).ok_or_else(|| GenerateError::Parse { path: relative.to_owned() })?;
        if tree.root_node().has_error() {
            report.skipped_files.push(SkippedFile { path: relative.to_owned(), reason: SkipReason::SyntaxErrors });
            return Ok(Vec::new());
        }
        report.files_scanned += 1;
        let operators = &self.config.operators;
        let scan::Scan { functions, found } = match self.language {
            Language::Python => python::scan(&tree, &source, module, operators),
            Language::Rust => rust::scan(&tree, &source, module, operators),
        };
        let eligible: Vec<bool> = functions.iter().map(|f| f.complexity >= self.config.min_statements).collect();
        report.functions += functions.len();
        report.eligible_functions += eligible.iter().filter(|e| **e).count();

        let mut found: Vec<scan::Found> = found.into_iter().filter(|m| eligible[m.function]).collect();
        found.sort_by(|a, b| {
            (a.range.start, a.range.end, a.operator, &a.replacement).cmp(&(b.range.start, b.range.end, b.operator, &b.replacement))
        });
        report.mutations += found.len();

        let lines = LineIndex::new(&source);
        let mut seen = HashSet::new();
        let mut kept: Vec<(usize, Candidate)> = Vec::new();
        for mutation in found {
            let edit = [diff::Edit { range: mutation.range.clone(), text: &mutation.replacement }];
            let mutated = diff::apply(&source, &edit);
            if !reparses_cleanly(parser, &tree, &lines, &mutation.range, &mutation.replacement, &mutated) {
                report.rejected_syntax += 1;
                continue;
            }
            let digest: [u8; 32] = Sha256::digest(mutated.as_bytes()).into();
            if !seen.insert(digest) {
                report.duplicates += 1;
                continue;
            }
            let function = &functions[mutation.function].name;
            kept.push((
                mutation.function,
                Candidate {
                    language: self.language,
                    file: relative.to_owned(),
                    function: function.clone(),
                    operator: mutation.operator,
                    line: lines.point(mutation.range.start).row + 1,
                    original: source[mutation.range.clone()].to_owned(),
                    span: mutation.range,
                    replacement: mutation.replacement,
                    description: format!("{} in `{function}`", mutation.summary),
                    source: Arc::clone(&source),
                },
            ));
        }

        // The per-function cap, seeded per function so other functions do not move the picks.
        let mut by_function: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (index, (function, _)) in kept.iter().enumerate() {
            by_function.entry(*function).or_default().push(index);
        }
        let mut keep = vec![false; kept.len()];
        for (function, members) in by_function {
            let operators: Vec<Operator> = members.iter().map(|&i| kept[i].1.operator).collect();
            let mut rng = sample::Rng::new(self.config.seed, &[relative, &functions[function].name, &function.to_string()]);
            for picked in sample::spread_pick(&operators, self.config.max_per_function, &mut rng) {
                keep[members[picked]] = true;
            }
        }
        report.capped += keep.iter().filter(|k| !**k).count();
        Ok(kept.into_iter().zip(keep).filter_map(|((_, candidate), keep)| keep.then_some(candidate)).collect())
    }
}

/// Re-parses the mutated file incrementally from the original tree and says whether it is
/// free of `ERROR` and `MISSING` nodes.
fn reparses_cleanly(parser: &mut Parser, tree: &Tree, lines: &LineIndex, range: &Range<usize>, replacement: &str, mutated: &str) -> bool {
    let start_position = lines.point(range.start);
    let new_end_position = match replacement.rfind('\n') {
        Some(last) => Point { row: start_position.row + replacement.matches('\n').count(), column: replacement.len() - last - 1 },
        None => Point { row: start_position.row, column: start_position.column + replacement.len() },
    };
    let mut edited = tree.clone();
    edited.edit(&InputEdit {
        start_byte: range.start,
        old_end_byte: range.end,
        new_end_byte: range.start + replacement.len(),
        start_position,
        old_end_position: lines.point(range.end),
        new_end_position,
    });
    parser.parse(mutated.as_bytes(), Some(&edited)).is_some_and(|t| !t.root_node().has_error())
}

/// Byte offset → row and column (in bytes), as tree-sitter counts them.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        LineIndex { starts }
    }

    fn point(&self, byte: usize) -> Point {
        let row = self.starts.partition_point(|&s| s <= byte).saturating_sub(1);
        Point { row, column: byte - self.starts[row] }
    }
}

#[cfg(test)]
mod tests;
