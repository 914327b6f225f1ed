//! Structural similarity of agent packages: is a submission a disguised copy of an earlier
//! agent? MOSS's method on tree-sitter token streams.
//!
//! # How it works
//!
//! 1. Each file of a package is cut into a normalised token stream (`tokens.rs`): Python and
//!    Rust through tree-sitter, with comments and docstrings dropped and every identifier,
//!    string and number folded into one token each; other UTF-8 files as lowercase words
//!    with comment lines dropped. `agent.toml` is left out (every package has one, and its
//!    name and description are the first thing a copier changes); so are binary files.
//! 2. Every run of [`K`] tokens is hashed and each window of [`W`] consecutive hashes keeps
//!    its smallest (winnowing, `winnow.rs`). The package's [`Fingerprint`] is the set of
//!    hashes kept over all its files. A run of `W + K - 1` = 22 tokens (about two lines of
//!    code) shared by two packages always shows up in both fingerprints; a run shorter than
//!    `K` (a line or so, the idioms every program has) never does.
//! 3. [`Similarity::score`] is the larger of two containments: how much of the newcomer's
//!    fingerprint is in the earlier agent's (a copy with changes), and how much of the earlier
//!    agent's is in the newcomer's (a copy padded with new code). A side with fewer than
//!    [`MIN_FINGERPRINTS`] says nothing: a ten-line agent is contained in anything.
//!
//! # The threshold
//!
//! [`DEFAULT_THRESHOLD`] = 0.5: flagged when at least half of one agent's fingerprints are in
//! the other's. Copies of the example agents with every name they define renamed, comments
//! dropped and others added, docstrings and numbers changed, re-indented and with their
//! functions in reverse order score 0.89–0.92 (the k-grams across each moved function's
//! edges are lost); such copies of Rust files score 1.0 (the tests check ≥ 0.8). The example
//! agents, written independently, score 0.02–0.05 against each other, and four files of this
//! crate, one author and one style, 0.005–0.10 (the tests check < 0.25). Half is far from
//! both: a miner who copied half of the leader has copied, and independent code does not get
//! near it.
//!
//! # What it does not catch
//!
//! Matching is on local structure, so whatever changes the code's shape every couple of lines
//! escapes it: a rewrite by a language model, a port to another language, junk statements
//! interleaved with the real ones, reordered independent statements, code shipped compiled,
//! compressed or encoded and `exec`'d. `docs/fairness.md` says what follows from that.
//!
//! ```
//! use whetstone_tasks::digest::TreeFile;
//! use whetstone_tasks::similarity::{Fingerprinter, Similarity, DEFAULT_THRESHOLD};
//!
//! let file = |text: &str| vec![TreeFile { path: "agent.py".into(), executable: false, bytes: text.as_bytes().to_vec() }];
//! let mut fingerprinter = Fingerprinter::new()?;
//! let leader = fingerprinter.fingerprint(&file("..."))?;
//! let newcomer = fingerprinter.fingerprint(&file("..."))?;
//! let similarity = Similarity::between(&newcomer, &leader);
//! let flagged = similarity.score() >= DEFAULT_THRESHOLD;
//! # let _ = flagged;
//! # Ok::<(), whetstone_tasks::similarity::SimilarityError>(())
//! ```

mod tokens;
mod winnow;

use tree_sitter::Parser;

pub use tokens::FileKind;

use crate::agent::AgentPackage;
use crate::digest::TreeFile;

/// Tokens per k-gram.
pub const K: usize = 15;
/// k-gram hashes per winnowing window.
pub const W: usize = 8;
/// Below this many fingerprints a side's containment is not counted. 32 fingerprints are
/// about 130 tokens, a dozen lines of code.
pub const MIN_FINGERPRINTS: usize = 32;
/// The score at and above which a submission is a copy.
pub const DEFAULT_THRESHOLD: f64 = 0.5;
/// Changes whenever tokens, hashing, [`K`] or [`W`] change: stored fingerprints of another
/// version are not comparable and must be recomputed.
pub const FINGERPRINT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum SimilarityError {
    #[error(
        "failed to load the tree-sitter {kind:?} grammar; its crate was built for another tree-sitter ABI, so align the grammar and tree-sitter versions in Cargo.toml"
    )]
    Grammar {
        kind: FileKind,
        #[source]
        source: tree_sitter::LanguageError,
    },
    #[error("tree-sitter gave up parsing {path}")]
    Parse { path: String },
}

/// A package's winnowed fingerprints: a sorted set of 64-bit hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint {
    hashes: Vec<u64>,
    /// Files read per kind: Python, Rust, text.
    files: [usize; 3],
    tokens: usize,
}

impl Fingerprint {
    /// Rebuilds a stored fingerprint from its hashes (any order; duplicates dropped).
    pub fn from_hashes(mut hashes: Vec<u64>) -> Self {
        hashes.sort_unstable();
        hashes.dedup();
        Self { hashes, files: [0; 3], tokens: 0 }
    }

    /// Sorted and distinct.
    pub fn hashes(&self) -> &[u64] {
        &self.hashes
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Files that were read as `kind` (zero for a fingerprint rebuilt from its hashes).
    pub fn files(&self, kind: FileKind) -> usize {
        self.files[kind as usize]
    }

    /// Normalised tokens over all files.
    pub fn tokens(&self) -> usize {
        self.tokens
    }

    /// This fingerprint less every hash of `public`: code anyone may reuse (the shipped
    /// example agents) is not evidence of copying, as a MOSS base file.
    pub fn without(&self, public: &Fingerprint) -> Fingerprint {
        let hashes = self.hashes.iter().copied().filter(|h| public.hashes.binary_search(h).is_err()).collect();
        Fingerprint { hashes, ..*self }
    }
}

/// How much two fingerprints share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Similarity {
    /// Fingerprints in both.
    pub shared: usize,
    /// The newcomer's fingerprints.
    pub newcomer: usize,
    /// The earlier agent's fingerprints.
    pub original: usize,
}

impl Similarity {
    /// Counts by a sorted merge of the two sets.
    pub fn between(newcomer: &Fingerprint, original: &Fingerprint) -> Self {
        let (mut a, mut b) = (newcomer.hashes.iter().peekable(), original.hashes.iter().peekable());
        let mut shared = 0;
        while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
            match x.cmp(y) {
                std::cmp::Ordering::Less => {
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    shared += 1;
                    a.next();
                    b.next();
                }
            }
        }
        Self { shared, newcomer: newcomer.len(), original: original.len() }
    }

    /// Share of the newcomer's fingerprints found in the earlier agent.
    pub fn newcomer_contained(&self) -> f64 {
        ratio(self.shared, self.newcomer)
    }

    /// Share of the earlier agent's fingerprints found in the newcomer.
    pub fn original_contained(&self) -> f64 {
        ratio(self.shared, self.original)
    }

    /// In [0, 1]: the larger containment, counting only sides with at least
    /// [`MIN_FINGERPRINTS`].
    pub fn score(&self) -> f64 {
        let newcomer = if self.newcomer >= MIN_FINGERPRINTS { self.newcomer_contained() } else { 0.0 };
        let original = if self.original >= MIN_FINGERPRINTS { self.original_contained() } else { 0.0 };
        newcomer.max(original)
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// Reads packages into fingerprints; holds one parser per grammar, so reuse it.
pub struct Fingerprinter {
    python: Parser,
    rust: Parser,
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter")
    }
}

impl Fingerprinter {
    pub fn new() -> Result<Self, SimilarityError> {
        let parser = |kind: FileKind, language: tree_sitter::Language| {
            let mut parser = Parser::new();
            parser.set_language(&language).map_err(|source| SimilarityError::Grammar { kind, source })?;
            Ok::<_, SimilarityError>(parser)
        };
        Ok(Self {
            python: parser(FileKind::Python, tree_sitter_python::LANGUAGE.into())?,
            rust: parser(FileKind::Rust, tree_sitter_rust::LANGUAGE.into())?,
        })
    }

    /// The fingerprint of an agent package.
    pub fn package(&mut self, package: &AgentPackage) -> Result<Fingerprint, SimilarityError> {
        self.fingerprint(&package.bundle.files)
    }

    /// The fingerprint of a set of files (`agent.toml` and non-UTF-8 files left out).
    pub fn fingerprint(&mut self, files: &[TreeFile]) -> Result<Fingerprint, SimilarityError> {
        let mut fingerprint = Fingerprint::default();
        let mut hashes = Vec::new();
        for file in files.iter().filter(|f| f.path != "agent.toml") {
            let Ok(text) = std::str::from_utf8(&file.bytes) else { continue };
            let kind = FileKind::of(&file.path, text);
            let tokens = match kind {
                FileKind::Text => tokens::text_tokens(text),
                FileKind::Python | FileKind::Rust => {
                    let parser = if kind == FileKind::Python { &mut self.python } else { &mut self.rust };
                    tokens::code_tokens(parser, kind, text).ok_or_else(|| SimilarityError::Parse { path: file.path.clone() })?
                }
            };
            fingerprint.files[kind as usize] += 1;
            fingerprint.tokens += tokens.len();
            // k-grams never span two files: renaming or splitting files changes nothing else.
            hashes.extend(winnow::winnow(&winnow::kgram_hashes(&tokens, K), W));
        }
        hashes.sort_unstable();
        hashes.dedup();
        fingerprint.hashes = hashes;
        Ok(fingerprint)
    }

    #[cfg(test)]
    fn tokens(&mut self, kind: FileKind, text: &str) -> Vec<u64> {
        match kind {
            FileKind::Text => tokens::text_tokens(text),
            FileKind::Python => tokens::code_tokens(&mut self.python, kind, text).unwrap_or_default(),
            FileKind::Rust => tokens::code_tokens(&mut self.rust, kind, text).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests;
