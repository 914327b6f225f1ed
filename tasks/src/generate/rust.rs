//! Finding mutations in a Rust source file.
//!
//! Only function bodies are mutated. Skipped: `#[test]`-like functions, `#[cfg(test)]` items
//! and `mod tests`, `unsafe` functions and functions with `unsafe` blocks (a bug there is
//! undefined behaviour, so a flaky task), macro invocations (their token trees have no syntax to mutate, and
//! `assert!`/`println!`/`panic!` arguments are messages), attributes, types, patterns (match
//! guards excepted), string and char literals, tuple indexes (`x.0`) and array lengths.
//!
//! The edits are chosen to keep the crate compiling: a deleted statement is one that yields
//! `()` (a compound assignment, an assignment to a field or index, a call ending in `;`), a
//! dropped return value is replaced only by the default of a type the signature names (`bool`,
//! integers, floats, `Option`, `Vec`, `String`), never inside closures or async blocks, `+` is
//! left alone next to strings and references (concatenation), swapped branches of `if let`
//! are not offered (the bindings would leave scope), and a shifted literal never overflows its
//! suffix type.
//!
//! Equivalent mutations are not produced: `!(a < b)` when `a >= b` is already a candidate,
//! `!x.is_some()` when `x.is_none()` is, negating an `if … else` whose branches can be swapped,
//! `x + 0` → `x - 0`, and argument swaps of `max`/`min`-like functions.

use tree_sitter::{Node, Tree};

use super::operator::Operator;
use super::scan::{
    Collector, SYMMETRIC_FUNCTIONS, Scan, code, code_children, count_descendants, negated_comparison, shifted_boundary, shifted_values,
    token_child,
};
use super::walk::{self, Rules, Step};

const INTEGER_SUFFIXES: &[&str] = &["u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize"];

/// Calls whose deletion changes nothing a test can see, or does not compile.
const UNDELETABLE_CALLS: &[&str] = &["drop", "forget", "unwrap", "expect"];

pub(crate) fn scan(tree: &Tree, src: &str, module: &str, operators: &[Operator]) -> Scan {
    let mut walker = Walker { out: Collector::new(src, operators, "//") };
    walk::scan(&mut walker, tree, &Scope::root(module, "::"));
    walker.out.finish()
}

#[derive(Clone, Copy)]
struct InFunction {
    index: usize,
    /// The default of the declared return type, when it has an obvious one.
    default: Option<&'static str>,
    /// Inside a closure or async block, where `return` does not leave the function.
    closure: bool,
}

type Scope = walk::Scope<InFunction>;

struct Walker<'s> {
    out: Collector<'s>,
}

impl<'t> Rules<'t> for Walker<'_> {
    type Function = InFunction;

    fn step(&mut self, node: Node<'t>, scope: &Scope) -> Step {
        match node.kind() {
            "function_item" => self.function(node, scope),
            "mod_item" => self.module(node, scope),
            "impl_item" | "trait_item" => self.implementation(node, scope),
            "match_pattern" => {
                if let Some(guard) = node.child_by_field_name("condition") {
                    walk::walk(self, guard, scope);
                }
                Step::Walked
            }
            "closure_expression" | "async_block" => {
                let inner = scope.with_function(scope.function.map(|f| InFunction { closure: true, ..f }));
                walk::walk_children(self, node, &inner);
                Step::Walked
            }
            "attribute_item"
            | "inner_attribute_item"
            | "macro_invocation"
            | "macro_definition"
            | "string_literal"
            | "raw_string_literal"
            | "char_literal"
            | "line_comment"
            | "block_comment"
            | "use_declaration"
            | "extern_crate_declaration" => Step::Skip,
            kind if kind.ends_with("_pattern") || is_type(kind) => Step::Skip,
            _ => Step::Code,
        }
    }

    fn mutate(&mut self, node: Node<'t>, function: InFunction) {
        self.mutate_node(node, function);
    }
}

impl Walker<'_> {
    fn function<'t>(&mut self, node: Node<'t>, scope: &Scope) -> Step {
        let (Some(name), Some(body)) = (node.child_by_field_name("name"), node.child_by_field_name("body")) else {
            return Step::Walked;
        };
        // A bug in or around unsafe code (which relies on the safe code's invariants) is
        // undefined behaviour: it may pass, crash or corrupt memory at random, a flaky task.
        let is_unsafe = code_children(node)
            .iter()
            .any(|c| c.kind() == "function_modifiers" && self.out.text(*c).split_whitespace().any(|w| w == "unsafe"))
            || count_descendants(body, &|n| n.kind() == "unsafe_block") > 0;
        if is_unsafe || self.is_test_item(node) {
            return Step::Walked;
        }
        let default = node.child_by_field_name("return_type").and_then(|t| self.default_value(t));
        let tail = tail_expression(body);
        let complexity = count_descendants(body, &is_statement) + usize::from(tail.is_some());
        let name = self.out.text(name);
        let inner = scope.function(&mut self.out, name, complexity, |index| InFunction { index, default, closure: false });
        walk::walk_children(self, body, &inner);
        if let (Some(tail), Some(function)) = (tail, inner.function) {
            self.drop_value(tail, function);
        }
        Step::Walked
    }

    fn module<'t>(&mut self, node: Node<'t>, scope: &Scope) -> Step {
        let (Some(name), Some(body)) = (node.child_by_field_name("name"), node.child_by_field_name("body")) else {
            return Step::Walked;
        };
        let name = self.out.text(name);
        if matches!(name, "tests" | "test" | "benches") || self.is_test_item(node) {
            return Step::Walked;
        }
        walk::walk_children(self, body, &scope.item(name));
        Step::Walked
    }

    fn implementation<'t>(&mut self, node: Node<'t>, scope: &Scope) -> Step {
        let Some(body) = node.child_by_field_name("body") else { return Step::Walked };
        let named = node.child_by_field_name("type").or_else(|| node.child_by_field_name("name"));
        let Some(mut named) = named else { return Step::Walked };
        if self.is_test_item(node) {
            return Step::Walked;
        }
        while let Some(inner) = match named.kind() {
            "generic_type" => named.child_by_field_name("type"),
            "reference_type" => named.child_by_field_name("type"),
            _ => None,
        } {
            named = inner;
        }
        walk::walk_children(self, body, &scope.item(self.out.text(named)));
        Step::Walked
    }

    /// Whether the attributes above `item` mark it as a test, benchmark or test-only code.
    fn is_test_item(&self, item: Node<'_>) -> bool {
        let mut previous = item.prev_sibling();
        while let Some(sibling) = previous {
            match sibling.kind() {
                "attribute_item" => {
                    if is_test_attribute(self.out.text(sibling)) {
                        return true;
                    }
                }
                "line_comment" | "block_comment" => {}
                _ => return false,
            }
            previous = sibling.prev_sibling();
        }
        false
    }

    fn default_value(&self, return_type: Node<'_>) -> Option<&'static str> {
        let text = self.out.text(return_type);
        match return_type.kind() {
            "primitive_type" if text == "bool" => Some("false"),
            "primitive_type" if INTEGER_SUFFIXES.contains(&text) => Some("0"),
            "primitive_type" if text == "f32" || text == "f64" => Some("0.0"),
            "generic_type" => match return_type.child_by_field_name("type").map(|t| self.out.text(t)) {
                Some("Option") => Some("None"),
                Some("Vec") => Some("Vec::new()"),
                _ => None,
            },
            "type_identifier" if text == "String" => Some("String::new()"),
            _ => None,
        }
    }

    fn mutate_node(&mut self, node: Node<'_>, function: InFunction) {
        let f = function.index;
        match node.kind() {
            "binary_expression" => self.binary(node, f),
            "compound_assignment_expr" => self.compound_assignment(node, f),
            "integer_literal" => self.constant(node, f),
            "boolean_literal" => self.boolean_literal(node, f),
            "if_expression" => self.if_expression(node, f),
            "return_expression" if !function.closure => {
                if let Some(&value) = code_children(node).first() {
                    self.drop_value(value, function);
                }
            }
            "expression_statement" => self.delete_statement(node, f),
            "call_expression" => {
                self.flip_predicate(node, f);
                self.swap_arguments(node, f);
            }
            "range_expression" => self.range(node, f),
            _ => {}
        }
    }

    fn binary(&mut self, node: Node<'_>, f: usize) {
        let (Some(left), Some(op), Some(right)) =
            (node.child_by_field_name("left"), node.child_by_field_name("operator"), node.child_by_field_name("right"))
        else {
            return;
        };
        let token = op.kind();
        if let Some(to) = negated_comparison(token) {
            let summary = format!("flipped `{token}` to `{to}`");
            self.out.replace_node(Operator::FlipComparison, f, op, to.to_owned(), summary);
        }
        if let Some(to) = shifted_boundary(token) {
            let summary = format!("moved the boundary `{token}` to `{to}`");
            self.out.replace_node(Operator::ShiftBoundary, f, op, to.to_owned(), summary);
        }
        let logical = match token {
            "&&" => Some("||"),
            "||" => Some("&&"),
            _ => None,
        };
        if let Some(to) = logical {
            let summary = format!("swapped `{token}` for `{to}`");
            self.out.replace_node(Operator::SwapBooleanOperator, f, op, to.to_owned(), summary);
        }
        if let Some(to) = changed_arithmetic(token)
            && !self.is_stringy(left)
            && !self.is_stringy(right)
            && !self.is_identity(token, right)
        {
            let summary = format!("changed `{token}` to `{to}`");
            self.out.replace_node(Operator::ChangeArithmetic, f, op, to.to_owned(), summary);
        }
    }

    fn compound_assignment(&mut self, node: Node<'_>, f: usize) {
        let (Some(op), Some(right)) = (node.child_by_field_name("operator"), node.child_by_field_name("right")) else {
            return;
        };
        let Some(base) = op.kind().strip_suffix('=') else { return };
        let Some(to) = changed_arithmetic(base) else { return };
        if self.is_stringy(right) || self.is_identity(base, right) {
            return;
        }
        let summary = format!("changed `{}` to `{to}=`", op.kind());
        self.out.replace_node(Operator::ChangeArithmetic, f, op, format!("{to}="), summary);
    }

    /// Operands that make `+` a string concatenation (`String + &str`), where `-` would not
    /// compile.
    fn is_stringy(&self, node: Node<'_>) -> bool {
        let text = self.out.text(node);
        matches!(node.kind(), "string_literal" | "raw_string_literal" | "macro_invocation" | "reference_expression")
            || text.ends_with(".to_string()")
            || text.ends_with(".to_owned()")
            || text.starts_with("String::")
    }

    fn is_identity(&self, op: &str, right: Node<'_>) -> bool {
        let value = integer_value(self.out.text(right)).map(|(value, _)| value);
        match op {
            "+" | "-" => value == Some(0),
            "*" | "/" => value == Some(1),
            _ => false,
        }
    }

    fn constant(&mut self, node: Node<'_>, f: usize) {
        if let Some(parent) = node.parent() {
            let is_tuple_index = parent.kind() == "field_expression";
            let is_array_length = parent.kind() == "array_expression" && parent.child_by_field_name("length") == Some(node);
            if is_tuple_index || is_array_length {
                return;
            }
        }
        let text = self.out.text(node);
        let Some((value, suffix)) = integer_value(text) else { return };
        for to in shifted_values(value) {
            if !fits(to, suffix) || (suffix.is_empty() && to == value + 1 && is_type_boundary(to)) {
                continue;
            }
            let summary = format!("changed the constant `{text}` to `{to}{suffix}`");
            self.out.replace_node(Operator::ShiftConstant, f, node, format!("{to}{suffix}"), summary);
        }
    }

    fn boolean_literal(&mut self, node: Node<'_>, f: usize) {
        if node.parent().is_some_and(|p| p.kind() == "while_expression") {
            return;
        }
        let text = self.out.text(node);
        let to = if text == "true" { "false" } else { "true" };
        self.out.replace_node(Operator::FlipBooleanLiteral, f, node, to.to_owned(), format!("flipped `{text}` to `{to}`"));
    }

    fn if_expression(&mut self, node: Node<'_>, f: usize) {
        let (Some(condition), Some(consequence)) = (node.child_by_field_name("condition"), node.child_by_field_name("consequence")) else {
            return;
        };
        let alternative = node.child_by_field_name("alternative");
        // `if let` binds names only the first branch can see, so neither swapping nor negating
        // it compiles.
        let binds = matches!(condition.kind(), "let_condition" | "let_chain");
        let else_block = alternative.and_then(|a| code_children(a).into_iter().find(|c| c.kind() == "block"));
        // Swapping an if/else is the same program as negating its condition: offer one.
        let swapped = match else_block {
            Some(else_block) if !binds && self.out.wants(Operator::SwapBranches) => {
                self.swap_branches(condition, consequence, else_block, f);
                true
            }
            _ => false,
        };
        if !swapped && !binds {
            self.invert(condition, f);
        }
        if alternative.is_none() {
            self.remove_guard(node, consequence, f);
        }
    }

    fn swap_branches(&mut self, condition: Node<'_>, then_block: Node<'_>, else_block: Node<'_>, f: usize) {
        let src = self.out.src;
        let replacement = format!(
            "{}{}{}",
            &src[else_block.byte_range()],
            &src[then_block.end_byte()..else_block.start_byte()],
            &src[then_block.byte_range()]
        );
        let summary = format!("swapped the branches of `if {}`", code(self.out.text(condition)).trim_matches('`'));
        self.out.replace(Operator::SwapBranches, f, then_block.start_byte()..else_block.end_byte(), replacement, summary);
    }

    fn invert(&mut self, condition: Node<'_>, f: usize) {
        let text = self.out.text(condition);
        let negated_operand =
            (condition.kind() == "unary_expression" && token_child(condition, &["!"]).is_some()).then(|| code_children(condition));
        let replacement = if let Some(operand) = negated_operand {
            let [operand] = operand[..] else { return };
            self.out.text(operand).to_owned()
        } else if self.negation_is_already_offered(condition) {
            return;
        } else if is_atom(condition) {
            format!("!{text}")
        } else {
            format!("!({text})")
        };
        let summary = format!("negated the condition {}", code(text));
        self.out.replace_node(Operator::InvertCondition, f, condition, replacement, summary);
    }

    /// `!(a < b)` is `a >= b`, and `!x.is_some()` is `x.is_none()`.
    fn negation_is_already_offered(&self, condition: Node<'_>) -> bool {
        match condition.kind() {
            "binary_expression" => condition
                .child_by_field_name("operator")
                .is_some_and(|op| negated_comparison(op.kind()).is_some() && self.out.wants(Operator::FlipComparison)),
            "call_expression" => self.predicate_method(condition).is_some() && self.out.wants(Operator::FlipPredicate),
            _ => false,
        }
    }

    /// `if c { continue; }`, `if c { break; }` in a `for` loop and `if c { return …; }`,
    /// deleted whole.
    fn remove_guard(&mut self, node: Node<'_>, consequence: Node<'_>, f: usize) {
        let [only] = code_children(consequence)[..] else { return };
        let exit = if only.kind() == "expression_statement" {
            match code_children(only)[..] {
                [exit] => exit,
                _ => return,
            }
        } else {
            only
        };
        let operator = match exit.kind() {
            "continue_expression" => Operator::RemoveLoopGuard,
            "break_expression"
                if !self.out.text(exit).contains('\'') && enclosing_loop(node).is_some_and(|l| l.kind() == "for_expression") =>
            {
                Operator::RemoveLoopGuard
            }
            "return_expression" => Operator::RemoveEarlyReturn,
            _ => return,
        };
        let statement = match node.parent() {
            Some(parent) if parent.kind() == "expression_statement" => parent,
            Some(parent) if parent.kind() == "block" => node,
            _ => return,
        };
        let keyword = exit.kind().trim_end_matches("_expression");
        let condition = node.child_by_field_name("condition").map_or("", |c| self.out.text(c));
        let summary = format!("removed the `{keyword}` guard `if {}`", code(condition).trim_matches('`'));
        self.out.delete_lines(operator, f, statement, summary);
    }

    fn drop_value(&mut self, value: Node<'_>, function: InFunction) {
        let Some(default) = function.default else { return };
        let text = self.out.text(value);
        if text == default {
            return;
        }
        let summary = format!("replaced the returned {} with `{default}`", code(text));
        self.out.replace_node(Operator::DropReturnValue, function.index, value, default.to_owned(), summary);
    }

    fn delete_statement(&mut self, node: Node<'_>, f: usize) {
        let ends_with_semicolon = node.child(node.child_count().saturating_sub(1)).is_some_and(|c| c.kind() == ";");
        let [statement] = code_children(node)[..] else { return };
        if !ends_with_semicolon {
            return;
        }
        let deletable = match statement.kind() {
            "compound_assignment_expr" => true,
            "assignment_expression" => statement
                .child_by_field_name("left")
                .is_some_and(|l| matches!(l.kind(), "field_expression" | "index_expression" | "unary_expression")),
            _ => self.deletable_call(statement),
        };
        if deletable {
            let summary = format!("deleted {}", code(self.out.text(node)));
            self.out.delete_lines(Operator::DeleteStatement, f, node, summary);
        }
    }

    /// A call statement (possibly behind `?` or `.await`) whose deletion compiles and matters.
    fn deletable_call(&self, mut expression: Node<'_>) -> bool {
        while matches!(expression.kind(), "try_expression" | "await_expression") {
            match code_children(expression).first() {
                Some(&inner) => expression = inner,
                None => return false,
            }
        }
        expression.kind() == "call_expression"
            && expression
                .child_by_field_name("function")
                .is_some_and(|callee| !UNDELETABLE_CALLS.contains(&last_segment(self.out.text(callee))))
    }

    /// The method name and its negation for `x.is_some()`-like calls.
    fn predicate_method<'t>(&self, call: Node<'t>) -> Option<(Node<'t>, &'static str)> {
        let callee = call.child_by_field_name("function").filter(|c| c.kind() == "field_expression")?;
        let field = callee.child_by_field_name("field")?;
        let to = match self.out.text(field) {
            "is_some" => "is_none",
            "is_none" => "is_some",
            "is_ok" => "is_err",
            "is_err" => "is_ok",
            _ => return None,
        };
        Some((field, to))
    }

    fn flip_predicate(&mut self, call: Node<'_>, f: usize) {
        if let Some((field, to)) = self.predicate_method(call) {
            let summary = format!("flipped `{}()` to `{to}()`", self.out.text(field));
            self.out.replace_node(Operator::FlipPredicate, f, field, to.to_owned(), summary);
        }
    }

    fn swap_arguments(&mut self, call: Node<'_>, f: usize) {
        let (Some(callee), Some(arguments)) = (call.child_by_field_name("function"), call.child_by_field_name("arguments")) else {
            return;
        };
        let callee = self.out.text(callee);
        if SYMMETRIC_FUNCTIONS.contains(&last_segment(callee)) {
            return;
        }
        let args = code_children(arguments);
        for pair in args.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let swappable = a.kind() == b.kind()
                && matches!(
                    a.kind(),
                    "identifier" | "field_expression" | "integer_literal" | "float_literal" | "string_literal" | "reference_expression"
                )
                && self.out.text(a) != self.out.text(b);
            if !swappable {
                continue;
            }
            let src = self.out.src;
            let replacement = format!("{}{}{}", &src[b.byte_range()], &src[a.end_byte()..b.start_byte()], &src[a.byte_range()]);
            let summary = format!(
                "swapped the arguments {} and {} of `{}`",
                code(self.out.text(a)),
                code(self.out.text(b)),
                code(callee).trim_matches('`')
            );
            self.out.replace(Operator::SwapArguments, f, a.start_byte()..b.end_byte(), replacement, summary);
        }
    }

    fn range(&mut self, node: Node<'_>, f: usize) {
        let Some(op) = token_child(node, &["..", "..="]) else { return };
        let has_end = code_children(node).iter().any(|c| c.start_byte() >= op.end_byte());
        if !has_end {
            return;
        }
        let to = if op.kind() == ".." { "..=" } else { ".." };
        let summary = format!("changed `{}` to `{to}`", op.kind());
        self.out.replace_node(Operator::ShiftRangeBound, f, op, to.to_owned(), summary);
    }
}

fn is_statement(node: Node<'_>) -> bool {
    matches!(node.kind(), "expression_statement" | "let_declaration" | "match_arm" | "else_clause")
}

fn is_type(kind: &str) -> bool {
    matches!(
        kind,
        "primitive_type"
            | "type_identifier"
            | "generic_type"
            | "scoped_type_identifier"
            | "reference_type"
            | "pointer_type"
            | "array_type"
            | "tuple_type"
            | "function_type"
            | "type_arguments"
            | "abstract_type"
            | "dynamic_type"
            | "bounded_type"
            | "never_type"
            | "unit_type"
            | "qualified_type"
            | "type_parameters"
            | "where_clause"
    )
}

fn is_atom(node: Node<'_>) -> bool {
    matches!(
        node.kind(),
        "identifier"
            | "field_expression"
            | "call_expression"
            | "index_expression"
            | "parenthesized_expression"
            | "boolean_literal"
            | "self"
            | "macro_invocation"
            | "try_expression"
            | "await_expression"
    )
}

fn is_test_attribute(attribute: &str) -> bool {
    let inner = attribute.trim().trim_start_matches("#[").trim_end_matches(']').trim();
    if inner.starts_with("cfg") {
        return inner.contains("test") && !inner.contains("not(test)");
    }
    let path = inner.split(['(', '=']).next().unwrap_or("").trim();
    matches!(last_segment(path), "test" | "bench" | "rstest" | "quickcheck" | "proptest" | "test_case")
}

/// The function's value: the last expression of its body, unless that is a statement or a
/// block-like expression (whose own tails are where a value would be).
fn tail_expression(body: Node<'_>) -> Option<Node<'_>> {
    let last = *code_children(body).last()?;
    let kind = last.kind();
    let is_value = !(kind.ends_with("_statement")
        || kind.ends_with("_item")
        || kind.ends_with("_declaration")
        || matches!(
            kind,
            "if_expression"
                | "match_expression"
                | "loop_expression"
                | "while_expression"
                | "for_expression"
                | "block"
                | "unsafe_block"
                | "async_block"
                | "const_block"
                | "try_block"
                | "return_expression"
                | "attribute_item"
        ));
    is_value.then_some(last)
}

fn enclosing_loop(node: Node<'_>) -> Option<Node<'_>> {
    let mut current = node.parent();
    while let Some(n) = current {
        match n.kind() {
            "for_expression" | "while_expression" | "loop_expression" => return Some(n),
            "function_item" | "closure_expression" | "async_block" => return None,
            _ => current = n.parent(),
        }
    }
    None
}

fn last_segment(path: &str) -> &str {
    let path = path.split("::<").next().unwrap_or(path);
    path.rsplit(['.', ':']).next().unwrap_or(path).trim()
}

fn changed_arithmetic(op: &str) -> Option<&'static str> {
    Some(match op {
        "+" => "-",
        "-" => "+",
        "*" => "/",
        "/" => "*",
        "%" => "/",
        _ => return None,
    })
}

/// The value and suffix of a decimal integer literal (`42`, `1_000usize`); `None` for hex,
/// octal and binary literals and unknown suffixes.
fn integer_value(text: &str) -> Option<(u128, &str)> {
    let digits_end = text.find(|c: char| !c.is_ascii_digit() && c != '_').unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    if !suffix.is_empty() && !INTEGER_SUFFIXES.contains(&suffix) {
        return None;
    }
    Some((digits.replace('_', "").parse().ok()?, suffix))
}

fn fits(value: u128, suffix: &str) -> bool {
    let max: u128 = match suffix {
        "u8" => u8::MAX.into(),
        "i8" => 127,
        "u16" => u16::MAX.into(),
        "i16" => 32_767,
        "u32" => u32::MAX.into(),
        "i32" => 2_147_483_647,
        "u64" | "usize" => u64::MAX.into(),
        "i64" | "isize" => 9_223_372_036_854_775_807,
        "i128" => i128::MAX.unsigned_abs(),
        _ => u128::MAX,
    };
    value <= max
}

/// One past a signed or unsigned type's maximum: an unsuffixed literal inferred as that type
/// would stop compiling.
fn is_type_boundary(value: u128) -> bool {
    value.is_power_of_two() && value >= 128
}
