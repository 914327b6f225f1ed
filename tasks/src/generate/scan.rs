//! What the per-language walkers produce, and the helpers they share: the functions of a file
//! and the raw mutations found in them, before syntax checking, deduplication and sampling.

use std::ops::Range;

use tree_sitter::Node;

use super::operator::Operator;

/// A function (or method) mutations can be attributed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Function {
    /// Qualified name: `toolz.itertoolz.sliding_window`, `fastrand::Rng::u32`.
    pub name: String,
    /// Statements and branches in its body (nested bodies included): the size filter.
    pub complexity: usize,
}

/// One mutation as a walker found it: replace `range` of the file with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub operator: Operator,
    /// Index into [`Scan::functions`].
    pub function: usize,
    pub range: Range<usize>,
    pub replacement: String,
    /// What changed, without the function: "flipped `<` to `>=`".
    pub summary: String,
}

#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub functions: Vec<Function>,
    pub found: Vec<Found>,
}

/// Collects a walker's findings for one file.
#[derive(Debug)]
pub(crate) struct Collector<'s> {
    pub src: &'s str,
    enabled: u32,
    comment_prefix: &'static str,
    scan: Scan,
}

impl<'s> Collector<'s> {
    pub fn new(src: &'s str, operators: &[Operator], comment_prefix: &'static str) -> Self {
        let enabled = operators.iter().fold(0, |bits, op| bits | op.bit());
        Collector { src, enabled, comment_prefix, scan: Scan::default() }
    }

    pub fn wants(&self, operator: Operator) -> bool {
        self.enabled & operator.bit() != 0
    }

    pub fn text(&self, node: Node<'_>) -> &'s str {
        &self.src[node.byte_range()]
    }

    pub fn add_function(&mut self, name: String, complexity: usize) -> usize {
        self.scan.functions.push(Function { name, complexity });
        self.scan.functions.len() - 1
    }

    pub fn replace(&mut self, operator: Operator, function: usize, range: Range<usize>, replacement: String, summary: String) {
        if self.wants(operator) && self.src[range.clone()] != replacement {
            self.scan.found.push(Found { operator, function, range, replacement, summary });
        }
    }

    pub fn replace_node(&mut self, operator: Operator, function: usize, node: Node<'_>, replacement: String, summary: String) {
        self.replace(operator, function, node.byte_range(), replacement, summary);
    }

    /// Deletes `node` together with its lines, when it has them to itself (indentation before
    /// it, at most a line comment after it). Returns whether it could.
    pub fn delete_lines(&mut self, operator: Operator, function: usize, node: Node<'_>, summary: String) -> bool {
        if !self.wants(operator) {
            return false;
        }
        match whole_lines(self.src, node.byte_range(), self.comment_prefix) {
            Some(range) => {
                self.scan.found.push(Found { operator, function, range, replacement: String::new(), summary });
                true
            }
            None => false,
        }
    }

    pub fn finish(self) -> Scan {
        self.scan
    }
}

/// The lines `range` occupies, from the start of its first line to after the newline of its
/// last, if nothing but whitespace precedes it and nothing but whitespace or a line comment
/// follows it on those lines.
pub(crate) fn whole_lines(src: &str, range: Range<usize>, comment_prefix: &str) -> Option<Range<usize>> {
    let line_start = src[..range.start].rfind('\n').map_or(0, |i| i + 1);
    if !src[line_start..range.start].chars().all(|c| c == ' ' || c == '\t') {
        return None;
    }
    let rest = &src[range.end..];
    let line_end = rest.find('\n').map_or(src.len(), |i| range.end + i + 1);
    let tail = src[range.end..line_end].trim();
    if !tail.is_empty() && !tail.starts_with(comment_prefix) {
        return None;
    }
    Some(line_start..line_end)
}

/// Named children other than comments.
pub(crate) fn code_children<'t>(node: Node<'t>) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).filter(|c| !c.kind().contains("comment")).collect()
}

/// Every child (named or not) under `field`.
pub(crate) fn field_children<'t>(node: Node<'t>, field: &str) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.children_by_field_name(field, &mut cursor).collect()
}

/// The first anonymous child whose kind is one of `tokens`.
pub(crate) fn token_child<'t>(node: Node<'t>, tokens: &[&str]) -> Option<Node<'t>> {
    let mut cursor = node.walk();
    node.children(&mut cursor).find(|c| !c.is_named() && tokens.contains(&c.kind()))
}

/// Counts the descendants of `node` for which `counts` holds (the node itself included).
pub(crate) fn count_descendants(node: Node<'_>, counts: &dyn Fn(Node<'_>) -> bool) -> usize {
    let mut cursor = node.walk();
    let mut total = 0;
    loop {
        if counts(cursor.node()) {
            total += 1;
        }
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.node() == node {
                return total;
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return total;
            }
        }
    }
}

/// A code snippet for a description: its first line, whitespace collapsed, cut at 48
/// characters, in backticks.
pub(crate) fn code(text: &str) -> String {
    const MAX_CHARS: usize = 48;
    let first_line = text.trim().lines().next().unwrap_or("");
    let collapsed = first_line.split_whitespace().collect::<Vec<_>>().join(" ");
    let more = text.trim().contains('\n') || collapsed.chars().count() > MAX_CHARS;
    let short: String = collapsed.chars().take(MAX_CHARS).collect();
    if more { format!("`{short}…`") } else { format!("`{short}`") }
}

/// `prefix` and `name` joined by `separator`, or `name` alone under an empty prefix.
pub(crate) fn qualify(prefix: &str, separator: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}{separator}{name}") }
}

/// New values for an integer constant: 0 → 1, 1 → 0 and 2, n → n - 1 and n + 1.
pub(crate) fn shifted_values(value: u128) -> Vec<u128> {
    match value {
        0 => vec![1],
        1 => vec![0, 2],
        n => [n.checked_sub(1), n.checked_add(1)].into_iter().flatten().collect(),
    }
}

/// Negation of a comparison operator, shared by both languages' spellings.
pub(crate) fn negated_comparison(op: &str) -> Option<&'static str> {
    Some(match op {
        "<" => ">=",
        ">=" => "<",
        ">" => "<=",
        "<=" => ">",
        "==" => "!=",
        "!=" => "==",
        _ => return None,
    })
}

/// The same comparison with its boundary moved: strict ↔ non-strict.
pub(crate) fn shifted_boundary(op: &str) -> Option<&'static str> {
    Some(match op {
        "<" => "<=",
        "<=" => "<",
        ">" => ">=",
        ">=" => ">",
        _ => return None,
    })
}

/// Functions whose two arguments can be exchanged without changing the result; swapping
/// them would plant no bug.
pub(crate) const SYMMETRIC_FUNCTIONS: &[&str] = &[
    "max",
    "min",
    "gcd",
    "lcm",
    "hypot",
    "isclose",
    "swap",
    "eq",
    "ne",
    "add",
    "mul",
    "and_",
    "or_",
    "xor",
    "union",
    "intersection",
    "symmetric_difference",
    "isdisjoint",
    "max_by",
    "min_by",
    "print",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_needs_the_statement_alone_on_its_lines() {
        let src = "a\n    x += 1  # why\n    y = 2; z = 3\nend";
        let x = src.find("x += 1").expect("x");
        assert_eq!(whole_lines(src, x..x + 6, "#"), Some(2..src.find("    y").expect("y")));
        let y = src.find("y = 2").expect("y");
        assert_eq!(whole_lines(src, y..y + 5, "#"), None, "shares its line with z");
        let end = src.find("end").expect("end");
        assert_eq!(whole_lines(src, end..src.len(), "#"), Some(end..src.len()), "last line without newline");
    }

    #[test]
    fn code_snippets_are_short_and_single_line() {
        assert_eq!(code("a <  b"), "`a < b`");
        assert_eq!(code("if x:\n    y"), "`if x:…`");
        assert_eq!(code(&"x".repeat(60)), format!("`{}…`", "x".repeat(48)));
    }

    #[test]
    fn constants_move_by_one() {
        assert_eq!(shifted_values(0), vec![1]);
        assert_eq!(shifted_values(1), vec![0, 2]);
        assert_eq!(shifted_values(7), vec![6, 8]);
        assert_eq!(shifted_values(u128::MAX), vec![u128::MAX - 1]);
    }
}
