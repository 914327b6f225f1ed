//! Normalised token streams: what is left of a file once everything a copier can change
//! without changing the program is gone.
//!
//! Python and Rust go through tree-sitter: comments and docstrings are dropped, every
//! identifier becomes one token `I`, every string literal `S`, every number `N`; keywords,
//! operators and punctuation stay as they are. Whitespace never reaches the stream, so
//! formatting is gone too. Any other text file (shell, configuration, another language) is
//! cut into lowercase words and punctuation, comment lines and blank lines left out.
//!
//! Tokens are 64-bit hashes (FNV-1a, stable across Rust versions and machines: fingerprints
//! are stored) salted with the file's kind, so a Python `(` and a Rust `(` never match.

use tree_sitter::{Node, Parser};

/// How a file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    Python,
    Rust,
    /// Any other UTF-8 file, by normalised text.
    Text,
}

impl FileKind {
    /// `.py`/`.pyi` or a `python` shebang is Python, `.rs` is Rust, anything else is text.
    pub fn of(path: &str, text: &str) -> Self {
        let extension = path.rsplit_once('.').map(|(_, ext)| ext);
        match extension {
            Some("py" | "pyi") => Self::Python,
            Some("rs") => Self::Rust,
            _ if text.lines().next().is_some_and(|first| first.starts_with("#!") && first.contains("python")) => Self::Python,
            _ => Self::Text,
        }
    }

    fn salt(self) -> &'static [u8] {
        match self {
            Self::Python => b"py\0",
            Self::Rust => b"rs\0",
            Self::Text => b"tx\0",
        }
    }
}

/// FNV-1a over the kind's salt and the token.
fn token_hash(kind: FileKind, token: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    kind.salt().iter().chain(token.as_bytes()).fold(OFFSET, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(PRIME))
}

/// The normalised tokens of one parsed file.
pub(crate) fn code_tokens(parser: &mut Parser, kind: FileKind, text: &str) -> Option<Vec<u64>> {
    let tree = parser.parse(text, None)?;
    let mut tokens = Vec::new();
    let rules = match kind {
        FileKind::Python => &PYTHON,
        FileKind::Rust => &RUST,
        FileKind::Text => return Some(text_tokens(text)),
    };
    walk(tree.root_node(), text.as_bytes(), rules, kind, &mut tokens);
    Some(tokens)
}

/// Which node kinds a grammar drops, and which it folds into one token.
struct Rules {
    comments: &'static [&'static str],
    strings: &'static [&'static str],
    numbers: &'static [&'static str],
    /// Leaves kept as written.
    kept_verbatim: &'static [&'static str],
    /// Python only: an expression statement that is just a string is a docstring.
    drops_docstrings: bool,
}

static PYTHON: Rules = Rules {
    comments: &["comment"],
    strings: &["string", "concatenated_string"],
    numbers: &["integer", "float"],
    kept_verbatim: &[],
    drops_docstrings: true,
};

static RUST: Rules = Rules {
    comments: &["line_comment", "block_comment"],
    strings: &["string_literal", "raw_string_literal", "char_literal"],
    numbers: &["integer_literal", "float_literal"],
    kept_verbatim: &["primitive_type"],
    drops_docstrings: false,
};

/// Depth-first, in source order, with an explicit stack: a deeply nested file must not
/// overflow the coordinator's stack.
fn walk(root: Node<'_>, source: &[u8], rules: &Rules, kind: FileKind, tokens: &mut Vec<u64>) {
    let identifier = token_hash(kind, "I");
    let string = token_hash(kind, "S");
    let number = token_hash(kind, "N");
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        let node_kind = node.kind();
        if node.is_missing() || rules.comments.contains(&node_kind) || (rules.drops_docstrings && is_docstring(node)) {
            continue;
        }
        if rules.strings.contains(&node_kind) {
            tokens.push(string);
        } else if rules.numbers.contains(&node_kind) {
            tokens.push(number);
        } else if node.is_named() && node_kind.ends_with("identifier") {
            // identifier, type_identifier, field_identifier, shorthand_field_identifier: a
            // renamer changes them all, so none of them says anything.
            tokens.push(identifier);
        } else if rules.kept_verbatim.contains(&node_kind) {
            // Built-in types cannot be renamed: `u32` and `u64` are different programs.
            tokens.push(token_hash(kind, node.utf8_text(source).unwrap_or(node_kind)));
        } else if node.child_count() == 0 {
            // Keywords and punctuation are their own kind; a named leaf (`true`, `self`,
            // `none`) is kept by kind.
            if !node_kind.is_empty() {
                tokens.push(token_hash(kind, node_kind));
            }
        } else {
            let mut cursor = node.walk();
            let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
            stack.extend(children.into_iter().rev());
        }
    }
}

/// A statement that is nothing but a string: a docstring, or a comment written as one.
fn is_docstring(node: Node<'_>) -> bool {
    node.kind() == "expression_statement"
        && node.named_child_count() == 1
        && node.named_child(0).is_some_and(|child| PYTHON.strings.contains(&child.kind()))
}

/// Lowercase words (letters, digits, `_`) and single punctuation characters, blank lines and
/// comment lines (`#`, `//`, `;`) left out.
pub(crate) fn text_tokens(text: &str) -> Vec<u64> {
    let mut tokens = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") || line.starts_with(';') {
            continue;
        }
        let mut word = String::new();
        for ch in line.chars() {
            if ch.is_alphanumeric() || ch == '_' {
                word.extend(ch.to_lowercase());
                continue;
            }
            if !word.is_empty() {
                tokens.push(token_hash(FileKind::Text, &word));
                word.clear();
            }
            if !ch.is_whitespace() {
                tokens.push(token_hash(FileKind::Text, ch.encode_utf8(&mut [0; 4])));
            }
        }
        if !word.is_empty() {
            tokens.push(token_hash(FileKind::Text, &word));
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::similarity::Fingerprinter;

    fn tokens(kind: FileKind, text: &str) -> Vec<u64> {
        let mut fingerprinter = Fingerprinter::new().expect("grammars load");
        fingerprinter.tokens(kind, text)
    }

    #[test]
    fn files_are_read_by_extension_or_shebang() {
        assert_eq!(FileKind::of("agent.py", ""), FileKind::Python);
        assert_eq!(FileKind::of("src/main.rs", ""), FileKind::Rust);
        assert_eq!(FileKind::of("run", "#!/usr/bin/env python3\nprint(1)\n"), FileKind::Python);
        assert_eq!(FileKind::of("run.sh", "#!/bin/sh\necho hi\n"), FileKind::Text);
        assert_eq!(FileKind::of("Makefile", ""), FileKind::Text);
    }

    #[test]
    fn python_renaming_formatting_comments_and_literals_do_not_change_the_stream() {
        let original = "def total(items, start=0):\n    \"\"\"Sum them.\"\"\"\n    acc = start  # running sum\n    for item in items:\n        acc += item * 2\n    return acc\n";
        let disguised = "# helper\ndef add_up( xs,s = 10 ) :\n  'adds'\n  r=s\n\n  for x in xs :   r += x*7\n  return r\n";
        assert_eq!(tokens(FileKind::Python, original), tokens(FileKind::Python, disguised));
        // A different operator is a different program.
        assert_ne!(tokens(FileKind::Python, original), tokens(FileKind::Python, &original.replace("+=", "-=")));
    }

    #[test]
    fn rust_renaming_formatting_comments_and_literals_do_not_change_the_stream() {
        let original = "/// Doc.\nfn total(items: &[u32]) -> u32 {\n    // sum\n    let mut acc = 0;\n    for item in items { acc += item * 2; }\n    println!(\"{acc}\");\n    acc\n}\n";
        let disguised = "fn f(v:&[u32])->u32{let mut s=5;/* x */for y in v{s+=y*3;}println!(\"total {s}\");s}";
        assert_eq!(tokens(FileKind::Rust, original), tokens(FileKind::Rust, disguised));
        assert_ne!(tokens(FileKind::Rust, original), tokens(FileKind::Rust, &original.replace("u32", "u64")));
    }

    #[test]
    fn text_drops_comments_case_and_spacing() {
        let a = "# build\nset -e\nCARGO_TARGET_DIR=/tmp/t cargo build --release\n";
        let b = "set -e\n\n  cargo_target_dir=/tmp/t   CARGO build --release # fast\n";
        // The trailing comment is kept (only comment lines go): shell and TOML disagree on
        // what starts one inside a line.
        assert_eq!(tokens(FileKind::Text, a), tokens(FileKind::Text, &b.replace(" # fast", "")));
        assert_eq!(tokens(FileKind::Text, "").len(), 0);
    }

    #[test]
    fn the_same_token_in_two_languages_hashes_apart() {
        assert_ne!(token_hash(FileKind::Python, "("), token_hash(FileKind::Rust, "("));
        // Pinned: stored fingerprints stay comparable only while these do not move.
        assert_eq!(token_hash(FileKind::Python, "I"), 0x493a_3e0e_133a_61bd);
    }
}
