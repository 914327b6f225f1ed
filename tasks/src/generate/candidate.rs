//! Candidates: one planted bug, or a few combined in one file, with where it is, what it does
//! and the patches that plant and fix it.

use std::ops::Range;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::diff::{self, Edit};
use super::language::Language;
use super::operator::Operator;

/// One candidate bug: bytes `span` of `file` replaced by `replacement`.
///
/// `description` is for curators' reports ("flipped `<` to `>=` in
/// `toolz.itertoolz.sliding_window`"). It names the bug, so it must never reach an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub language: Language,
    /// Path relative to the source tree's root, `/`-separated: the path both patches name.
    pub file: String,
    /// Qualified name of the enclosing function: `toolz.itertoolz.sliding_window`,
    /// `fastrand::Rng::u32`.
    pub function: String,
    pub operator: Operator,
    /// 1-based line of the edit's first byte.
    pub line: usize,
    /// Byte range of the original file that is replaced.
    pub span: Range<usize>,
    /// The text at `span` in the original file.
    pub original: String,
    /// The text that replaces it (empty for a deletion).
    pub replacement: String,
    pub description: String,
    /// The whole original file, shared by the file's candidates.
    #[serde(skip)]
    pub(crate) source: Arc<str>,
}

impl Candidate {
    /// A short stable name for this bug: the first 12 hex digits of a SHA-256 over the file,
    /// span, operator and replacement.
    pub fn id(&self) -> String {
        let mut hash = Sha256::new();
        for part in [self.file.as_str(), self.operator.name(), &self.span.start.to_string(), &self.span.end.to_string()] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        hash.update(self.replacement.as_bytes());
        hex::encode(&hash.finalize()[..6])
    }

    /// The clean file the candidate was found in.
    pub fn original_source(&self) -> &str {
        &self.source
    }

    /// The file with the bug planted.
    pub fn buggy_source(&self) -> String {
        diff::apply(&self.source, &[self.edit()])
    }

    /// Clean → buggy, as a `git diff` that `git apply` takes at the source tree's root.
    pub fn bug_patch(&self) -> String {
        diff::unified(&self.file, &self.source, &[self.edit()])
    }

    /// Buggy → clean: the reference fix.
    pub fn gold_patch(&self) -> String {
        let edits = [self.edit()];
        let buggy = diff::apply(&self.source, &edits);
        diff::unified(&self.file, &buggy, &diff::inverse(&self.source, &edits))
    }

    pub(crate) fn edit(&self) -> Edit<'_> {
        Edit { range: self.span.clone(), text: &self.replacement }
    }
}

/// Two or three candidates planted together in one file, for harder tasks. The parts do not
/// share a line, and the file with all of them planted parses cleanly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CombinedCandidate {
    pub language: Language,
    pub file: String,
    /// Sorted by position in the file.
    pub parts: Vec<Candidate>,
    /// The parts' descriptions joined by "; ". Curators only, like [`Candidate::description`].
    pub description: String,
}

impl CombinedCandidate {
    pub(crate) fn new(mut parts: Vec<Candidate>) -> Option<Self> {
        parts.sort_by_key(|p| (p.span.start, p.span.end));
        let first = parts.first()?;
        let (language, file) = (first.language, first.file.clone());
        let description = parts.iter().map(|p| p.description.as_str()).collect::<Vec<_>>().join("; ");
        Some(CombinedCandidate { language, file, parts, description })
    }

    /// The parts' ids joined by `+`.
    pub fn id(&self) -> String {
        self.parts.iter().map(Candidate::id).collect::<Vec<_>>().join("+")
    }

    pub fn operators(&self) -> Vec<Operator> {
        self.parts.iter().map(|p| p.operator).collect()
    }

    pub fn buggy_source(&self) -> String {
        diff::apply(self.source(), &self.edits())
    }

    pub fn bug_patch(&self) -> String {
        diff::unified(&self.file, self.source(), &self.edits())
    }

    pub fn gold_patch(&self) -> String {
        let edits = self.edits();
        let buggy = diff::apply(self.source(), &edits);
        diff::unified(&self.file, &buggy, &diff::inverse(self.source(), &edits))
    }

    fn source(&self) -> &str {
        self.parts.first().map_or("", |p| &p.source)
    }

    fn edits(&self) -> Vec<Edit<'_>> {
        self.parts.iter().map(Candidate::edit).collect()
    }
}
