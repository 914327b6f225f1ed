//! The detector against what a copier does: the example agents (and some of this repository's
//! own Rust) renamed, reformatted, re-commented and reordered must be caught; independent
//! programs must not be.

use std::path::{Path, PathBuf};

use tree_sitter::{Node, Parser, Tree};

use super::*;
use crate::bundle::Bundle;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example(name: &str) -> Bundle {
    Bundle::from_dir(&repo_root().join("examples/agents").join(name)).expect("example agent")
}

fn single_file(path: &str, text: &str) -> Vec<TreeFile> {
    vec![TreeFile { path: path.into(), executable: false, bytes: text.as_bytes().to_vec() }]
}

fn parse(language: tree_sitter::Language, text: &str) -> Tree {
    let mut parser = Parser::new();
    parser.set_language(&language).expect("grammar");
    parser.parse(text, None).expect("parse")
}

fn nodes<'t>(tree: &'t Tree) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        out.push(node);
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
    out
}

/// Replaces byte ranges (non-overlapping) of `text`.
fn apply(text: &str, mut edits: Vec<(std::ops::Range<usize>, String)>) -> String {
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let mut out = text.to_owned();
    for (range, replacement) in edits {
        out.replace_range(range, &replacement);
    }
    out
}

/// A new name for every name the file defines, consistently, e.g. `run_tests` → `zq7_run`.
fn renamed(name: &str, index: usize) -> String {
    format!("zq{index}_{}", name.chars().rev().take(3).collect::<String>().to_lowercase())
}

/// What a copier does to a Python agent: top-level functions in reverse order, every name it
/// defines renamed, comments dropped and others written, docstrings rewritten, numbers
/// changed, two-space indentation, no blank lines.
fn disguise_python(source: &str) -> String {
    let language: tree_sitter::Language = tree_sitter_python::LANGUAGE.into();
    // 1. Reverse the order of the top-level function definitions (their slots stay).
    let tree = parse(language.clone(), source);
    let root = tree.root_node();
    let mut cursor = root.walk();
    let functions: Vec<Node<'_>> =
        root.children(&mut cursor).filter(|n| matches!(n.kind(), "function_definition" | "decorated_definition")).collect();
    let texts: Vec<String> = functions.iter().map(|n| source[n.byte_range()].to_owned()).collect();
    let source = apply(source, functions.iter().zip(texts.iter().rev()).map(|(slot, text)| (slot.byte_range(), text.clone())).collect());

    // 2. Rename what the file defines, drop comments, rewrite docstrings, change numbers.
    let tree = parse(language, &source);
    let all = nodes(&tree);
    let text = |n: &Node<'_>| source[n.byte_range()].to_owned();
    let mut defined: Vec<String> = Vec::new();
    for node in &all {
        let name = match node.kind() {
            "function_definition" | "class_definition" => node.child_by_field_name("name"),
            "assignment" | "augmented_assignment" | "for_statement" => node.child_by_field_name("left"),
            "default_parameter" | "typed_parameter" | "typed_default_parameter" => node.child_by_field_name("name"),
            "identifier" if node.parent().is_some_and(|p| p.kind() == "parameters") => Some(*node),
            _ => None,
        };
        if let Some(name) = name.filter(|n| n.kind() == "identifier") {
            let name = text(&name);
            if !name.starts_with("__") && !defined.contains(&name) {
                defined.push(name);
            }
        }
    }
    let mut edits = Vec::new();
    for node in &all {
        let position_is_foreign = node.parent().is_some_and(|p| {
            (p.kind() == "attribute" && p.child_by_field_name("attribute") == Some(*node))
                || (p.kind() == "keyword_argument" && p.child_by_field_name("name") == Some(*node))
        });
        match node.kind() {
            "identifier" if !position_is_foreign => {
                if let Some(index) = defined.iter().position(|d| *d == text(node)) {
                    edits.push((node.byte_range(), renamed(&defined[index], index)));
                }
            }
            "comment" => edits.push((node.byte_range(), String::new())),
            "integer" => {
                if let Ok(value) = text(node).parse::<u64>() {
                    edits.push((node.byte_range(), (value + 1).to_string()));
                }
            }
            "expression_statement" if node.named_child_count() == 1 && node.named_child(0).is_some_and(|c| c.kind() == "string") => {
                edits.push((node.byte_range(), "\"\"\"Does what it says.\"\"\"".into()));
            }
            _ => {}
        }
    }
    let source = apply(&source, edits);

    // 3. Reformat: two-space indentation, no blank lines, a comment every fifth line.
    let mut out = String::new();
    for (i, line) in source.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let indent = line.len() - line.trim_start().len();
        let line = format!("{}{}", " ".repeat(indent / 2), line.trim_start());
        if i % 5 == 4 {
            out.push_str(&format!("{}# step {i}: see below\n", " ".repeat(indent / 2)));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The same for Rust: names renamed, comments dropped, numbers changed, every line joined
/// into a few long ones with block comments sprinkled in.
fn disguise_rust(source: &str) -> String {
    let tree = parse(tree_sitter_rust::LANGUAGE.into(), source);
    let all = nodes(&tree);
    let text = |n: &Node<'_>| source[n.byte_range()].to_owned();
    let mut defined: Vec<String> = Vec::new();
    for node in &all {
        let name = match node.kind() {
            "function_item" | "struct_item" | "enum_item" | "const_item" | "static_item" => node.child_by_field_name("name"),
            "let_declaration" | "parameter" => node.child_by_field_name("pattern"),
            _ => None,
        };
        if let Some(name) = name.filter(|n| matches!(n.kind(), "identifier" | "type_identifier")) {
            let name = text(&name);
            if !defined.contains(&name) && name != "main" {
                defined.push(name);
            }
        }
    }
    let mut edits = Vec::new();
    for node in &all {
        match node.kind() {
            "identifier" | "type_identifier" => {
                if let Some(index) = defined.iter().position(|d| *d == text(node)) {
                    let new = renamed(&defined[index], index);
                    let new = if node.kind() == "type_identifier" { new.to_uppercase() } else { new };
                    edits.push((node.byte_range(), new));
                }
            }
            "line_comment" | "block_comment" => edits.push((node.byte_range(), String::new())),
            "integer_literal" => {
                if let Ok(value) = text(node).parse::<u64>() {
                    edits.push((node.byte_range(), (value + 1).to_string()));
                }
            }
            _ => {}
        }
    }
    let source = apply(source, edits);
    let mut out = String::new();
    for (i, line) in source.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
        out.push_str(line);
        out.push(' ');
        if i % 9 == 8 {
            out.push_str(&format!("/* part {i} */\n"));
        }
    }
    out
}

fn fingerprint(files: &[TreeFile]) -> Fingerprint {
    Fingerprinter::new().expect("grammars").fingerprint(files).expect("fingerprint")
}

fn python_of(bundle: &Bundle) -> String {
    String::from_utf8(bundle.file("agent.py").expect("agent.py").bytes.clone()).expect("utf-8")
}

#[test]
fn a_disguised_copy_of_each_example_agent_is_caught() {
    for name in ["llm", "repair", "cheater"] {
        let original_bundle = example(name);
        let source = python_of(&original_bundle);
        let disguised = disguise_python(&source);
        // The disguise really changed the text: same code, another file.
        assert_ne!(disguised, source);
        assert!(disguised.lines().count() < source.lines().count(), "{name}: blank lines and comments were not removed");
        let copy = fingerprint(&single_file("solver/main.py", &disguised));
        let original = fingerprint(&original_bundle.files);
        assert!(original.len() >= MIN_FINGERPRINTS, "{name}: {} fingerprints", original.len());
        let similarity = Similarity::between(&copy, &original);
        eprintln!("{name}: disguised copy {similarity:?} = {:.3}", similarity.score());
        assert!(similarity.score() >= 0.8, "{name}: a disguised copy scored {similarity:?} = {:.3}", similarity.score());
        assert!(similarity.score() >= DEFAULT_THRESHOLD);
    }
}

#[test]
fn the_example_agents_are_not_copies_of_each_other() {
    let names = ["llm", "repair", "cheater", "noop"];
    let prints: Vec<Fingerprint> = names.iter().map(|n| fingerprint(&example(n).files)).collect();
    for (i, a) in prints.iter().enumerate() {
        for (j, b) in prints.iter().enumerate().filter(|(j, _)| *j != i) {
            let similarity = Similarity::between(a, b);
            eprintln!("{} vs {}: {similarity:?} = {:.3}", names[i], names[j], similarity.score());
            assert!(
                similarity.score() < 0.25,
                "{} vs {}: {similarity:?} = {:.3} (threshold {DEFAULT_THRESHOLD})",
                names[i],
                names[j],
                similarity.score()
            );
        }
    }
}

#[test]
fn a_copy_padded_with_new_code_is_caught_by_the_reverse_containment() {
    let repair = example("repair");
    let padding = python_of(&example("llm"));
    let padded = format!("{}\n\n{}", disguise_python(&python_of(&repair)), padding);
    let copy = fingerprint(&single_file("agent.py", &padded));
    let similarity = Similarity::between(&copy, &fingerprint(&repair.files));
    assert!(similarity.newcomer_contained() < similarity.original_contained(), "{similarity:?}");
    assert!(similarity.score() >= 0.9, "{similarity:?}");
}

#[test]
fn a_disguised_copy_of_rust_code_is_caught_and_unrelated_rust_is_not() {
    let read = |path: &str| std::fs::read_to_string(repo_root().join(path)).expect("source");
    let sources = ["tasks/src/agent.rs", "tasks/src/bundle.rs", "tasks/src/digest.rs", "tasks/src/grading.rs"];
    let prints: Vec<Fingerprint> = sources.iter().map(|p| fingerprint(&single_file("src/main.rs", &read(p)))).collect();
    for (path, original) in sources.iter().zip(&prints) {
        let disguised = disguise_rust(&read(path));
        assert!(disguised.lines().count() < read(path).lines().count() / 3, "{path}: not reformatted");
        let copy = fingerprint(&single_file("src/lib.rs", &disguised));
        let similarity = Similarity::between(&copy, original);
        eprintln!("{path}: disguised copy {similarity:?} = {:.3}", similarity.score());
        assert!(similarity.score() >= 0.8, "{path}: a disguised copy scored {similarity:?} = {:.3}", similarity.score());
    }
    // Files of one crate, one author and one style, but different code.
    for (i, a) in prints.iter().enumerate() {
        for (j, b) in prints.iter().enumerate().filter(|(j, _)| *j != i) {
            let similarity = Similarity::between(a, b);
            eprintln!("{} vs {}: {similarity:?} = {:.3}", sources[i], sources[j], similarity.score());
            assert!(similarity.score() < 0.25, "{} vs {}: {similarity:?}", sources[i], sources[j]);
        }
    }
}

#[test]
fn other_files_are_compared_as_text_and_the_manifest_is_not_compared() {
    let script: String = (0..40).map(|i| format!("docker run --rm -v \"$PWD\":/w img{i} sh -c 'make test-{i} && echo ok'\n")).collect();
    let mut files = single_file("run.sh", &script);
    let reformatted: String =
        script.lines().map(|l| format!("# step\n{}\n\n", l.replace("docker run", "DOCKER   run").replace(" && ", "&&"))).collect();
    let copy = fingerprint(&single_file("scripts/go.sh", &reformatted));
    let original = fingerprint(&files);
    assert_eq!(original.files(FileKind::Text), 1);
    assert!(Similarity::between(&copy, &original).score() >= 0.9);
    // agent.toml is everybody's boilerplate: it adds nothing.
    files.push(TreeFile { path: "agent.toml".into(), executable: false, bytes: b"name = \"x\"\nversion = \"1\"\n".to_vec() });
    assert_eq!(fingerprint(&files).hashes(), original.hashes());
}

#[test]
fn public_code_removed_from_both_sides_is_no_evidence() {
    let llm = example("llm");
    let template = fingerprint(&llm.files);
    // A miner who submits the reference agent with a few changes copies nobody.
    let mine = fingerprint(&single_file("agent.py", &disguise_python(&python_of(&llm))));
    let theirs = fingerprint(&single_file("agent.py", &python_of(&llm).replace("def ", "def  ")));
    assert!(Similarity::between(&mine, &theirs).score() >= 0.8);
    let similarity = Similarity::between(&mine.without(&template), &theirs.without(&template));
    assert_eq!(similarity.score(), 0.0, "{similarity:?}");
}

#[test]
fn tiny_agents_say_nothing() {
    let noop = fingerprint(&example("noop").files);
    assert!(noop.len() < MIN_FINGERPRINTS);
    assert_eq!(Similarity::between(&noop, &noop).score(), 0.0);
    let empty = Fingerprint::default();
    assert_eq!(Similarity::between(&empty, &fingerprint(&example("repair").files)).score(), 0.0);
}

#[test]
fn stored_hashes_rebuild_the_same_fingerprint_and_every_kind_is_read() {
    let repair = fingerprint(&example("repair").files);
    let shuffled: Vec<u64> = repair.hashes().iter().rev().chain(repair.hashes()).copied().collect();
    let rebuilt = Fingerprint::from_hashes(shuffled);
    assert_eq!(rebuilt.hashes(), repair.hashes());
    assert_eq!(Similarity::between(&rebuilt, &repair).score(), 1.0);
    let files = [single_file("a.py", "x = 1\n"), single_file("b.rs", "fn f() {}\n"), single_file("c.txt", "hello\n")].concat();
    let mixed = fingerprint(&files);
    assert_eq!([mixed.files(FileKind::Python), mixed.files(FileKind::Rust), mixed.files(FileKind::Text)], [1, 1, 1]);
    let binary = vec![TreeFile { path: "blob.bin".into(), executable: false, bytes: vec![0xff, 0xfe, 0x00] }];
    assert_eq!(fingerprint(&binary).tokens(), 0);
}
