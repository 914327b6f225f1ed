//! Finding mutations in a Python module.
//!
//! Only function bodies are mutated. Skipped: test functions (`test`, `test_*`) and classes
//! (`Test*`), boilerplate methods (`__init__`, `__repr__`, `__doc__`, …), decorators, annotations, strings
//! and docstrings (f-string expressions included), `assert`, `raise`, imports, and calls to
//! loggers, `print` and `warnings.warn`.
//!
//! Equivalent mutations are not produced: `not (a < b)` when `a >= b` is already a candidate,
//! `if not c: A else: B` when the branches can be swapped (the same program), `x + 0` → `x - 0`,
//! `range(10)` → `range(10 - 1)` when `range(9)` is a constant shift, argument swaps of
//! `max`/`min`-like functions, and `return False` → `return None`.

use tree_sitter::{Node, Tree};

use super::operator::Operator;
use super::scan::{
    Collector, SYMMETRIC_FUNCTIONS, Scan, code, code_children, count_descendants, field_children, negated_comparison, shifted_boundary,
    shifted_values,
};
use super::walk::{self, Rules, Step};

/// Methods whose bodies are boilerplate or presentation rather than logic.
const BOILERPLATE: &[&str] =
    &["__init__", "__repr__", "__str__", "__doc__", "__name__", "__qualname__", "__module__", "__dir__", "__format__"];

/// Calls whose arguments have different roles that no test would mix up quietly: swapping
/// them is a loud `TypeError`, not a bug to find.
const TYPED_ARGUMENT_CALLS: &[&str] = &["isinstance", "issubclass", "hasattr", "getattr", "setattr", "delattr"];

/// Receivers and functions whose calls only report: mutating or deleting them changes no
/// behaviour a test checks.
const REPORTING_ROOTS: &[&str] = &["log", "logger", "logging", "LOG", "LOGGER", "_log", "_logger", "warnings"];

pub(crate) fn scan(tree: &Tree, src: &str, module: &str, operators: &[Operator]) -> Scan {
    let mut walker = Walker { out: Collector::new(src, operators, "#") };
    walk::scan(&mut walker, tree, &Scope::root(module, "."));
    walker.out.finish()
}

#[derive(Clone, Copy)]
struct InFunction<'t> {
    index: usize,
    node: Node<'t>,
    generator: bool,
}

type Scope<'t> = walk::Scope<InFunction<'t>>;

struct Walker<'s> {
    out: Collector<'s>,
}

impl<'t> Rules<'t> for Walker<'_> {
    type Function = InFunction<'t>;

    fn step(&mut self, node: Node<'t>, scope: &Scope<'t>) -> Step {
        match node.kind() {
            "function_definition" => self.function(node, scope),
            "class_definition" => self.class(node, scope),
            "decorator"
            | "string"
            | "concatenated_string"
            | "comment"
            | "assert_statement"
            | "raise_statement"
            | "import_statement"
            | "import_from_statement"
            | "future_import_statement"
            | "global_statement"
            | "nonlocal_statement"
            | "type"
            | "print_statement"
            | "exec_statement" => Step::Skip,
            "call" if self.is_reporting_call(node) => Step::Skip,
            _ => Step::Code,
        }
    }

    fn mutate(&mut self, node: Node<'t>, function: InFunction<'t>) {
        self.mutate_node(node, function);
    }
}

impl Walker<'_> {
    fn function<'t>(&mut self, node: Node<'t>, scope: &Scope<'t>) -> Step {
        let (Some(name), Some(body)) = (node.child_by_field_name("name"), node.child_by_field_name("body")) else {
            return Step::Walked;
        };
        let name = self.out.text(name);
        if name == "test" || name.starts_with("test_") || BOILERPLATE.contains(&name) {
            return Step::Walked;
        }
        let complexity = count_descendants(body, &is_statement);
        let generator = has_own_yield(body);
        let inner = scope.function(&mut self.out, name, complexity, |index| InFunction { index, node, generator });
        walk::walk_children(self, body, &inner);
        Step::Walked
    }

    fn class<'t>(&mut self, node: Node<'t>, scope: &Scope<'t>) -> Step {
        let (Some(name), Some(body)) = (node.child_by_field_name("name"), node.child_by_field_name("body")) else {
            return Step::Walked;
        };
        let name = self.out.text(name);
        if name.starts_with("Test") {
            return Step::Walked;
        }
        walk::walk_children(self, body, &scope.item(name));
        Step::Walked
    }

    fn is_reporting_call(&self, call: Node<'_>) -> bool {
        let Some(function) = call.child_by_field_name("function") else { return false };
        let callee = self.out.text(function);
        let root = callee.split('.').next().unwrap_or("");
        callee == "print" || REPORTING_ROOTS.contains(&root) || callee.starts_with("self.log")
    }

    fn mutate_node(&mut self, node: Node<'_>, function: InFunction<'_>) {
        let f = function.index;
        match node.kind() {
            "comparison_operator" => self.comparison(node, f),
            "boolean_operator" => self.boolean_operator(node, f),
            "binary_operator" => self.arithmetic(node, f),
            "augmented_assignment" => self.augmented_assignment(node, f),
            "integer" => self.constant(node, f),
            "true" | "false" => self.boolean_literal(node, f),
            "if_statement" => self.if_statement(node, f),
            "elif_clause" => {
                if let Some(condition) = node.child_by_field_name("condition") {
                    self.invert(condition, f);
                }
            }
            "conditional_expression" => {
                if let Some(&condition) = code_children(node).get(1) {
                    self.invert(condition, f);
                }
            }
            "return_statement" => self.drop_return_value(node, function),
            "expression_statement" => self.delete_statement(node, function),
            "call" => {
                self.range_stop(node, f);
                self.swap_arguments(node, f);
            }
            "slice" => self.slice_bounds(node, f),
            _ => {}
        }
    }

    fn comparison(&mut self, node: Node<'_>, f: usize) {
        for op in field_children(node, "operators") {
            let token = op.kind();
            if let Some(to) = negated_comparison(token) {
                let summary = format!("flipped `{token}` to `{to}`");
                self.out.replace_node(Operator::FlipComparison, f, op, to.to_owned(), summary);
            }
            if let Some(to) = shifted_boundary(token) {
                let summary = format!("moved the boundary `{token}` to `{to}`");
                self.out.replace_node(Operator::ShiftBoundary, f, op, to.to_owned(), summary);
            }
            if let Some(to) = negated_predicate(token) {
                let summary = format!("flipped `{token}` to `{to}`");
                self.out.replace_node(Operator::FlipPredicate, f, op, to.to_owned(), summary);
            }
        }
    }

    fn boolean_operator(&mut self, node: Node<'_>, f: usize) {
        let Some(op) = node.child_by_field_name("operator") else { return };
        let to = match op.kind() {
            "and" => "or",
            "or" => "and",
            _ => return,
        };
        let summary = format!("swapped `{}` for `{to}`", op.kind());
        self.out.replace_node(Operator::SwapBooleanOperator, f, op, to.to_owned(), summary);
    }

    fn arithmetic(&mut self, node: Node<'_>, f: usize) {
        let (Some(left), Some(op), Some(right)) =
            (node.child_by_field_name("left"), node.child_by_field_name("operator"), node.child_by_field_name("right"))
        else {
            return;
        };
        let Some(to) = changed_arithmetic(op.kind()) else { return };
        if is_sequence_like(left) || is_sequence_like(right) || self.is_identity(op.kind(), right) {
            return;
        }
        let summary = format!("changed `{}` to `{to}`", op.kind());
        self.out.replace_node(Operator::ChangeArithmetic, f, op, to.to_owned(), summary);
    }

    fn augmented_assignment(&mut self, node: Node<'_>, f: usize) {
        let (Some(op), Some(right)) = (node.child_by_field_name("operator"), node.child_by_field_name("right")) else {
            return;
        };
        let Some(base) = op.kind().strip_suffix('=') else { return };
        let Some(to) = changed_arithmetic(base) else { return };
        if is_sequence_like(right) || self.is_identity(base, right) {
            return;
        }
        let summary = format!("changed `{}` to `{to}=`", op.kind());
        self.out.replace_node(Operator::ChangeArithmetic, f, op, format!("{to}="), summary);
    }

    /// `x + 0` and `x * 1` stay the same program under the change.
    fn is_identity(&self, op: &str, right: Node<'_>) -> bool {
        let value = self.out.text(right);
        match op {
            "+" | "-" => value == "0",
            "*" | "/" | "//" => value == "1",
            _ => false,
        }
    }

    fn constant(&mut self, node: Node<'_>, f: usize) {
        let text = self.out.text(node);
        let Some(value) = decimal_value(text) else { return };
        for to in shifted_values(value) {
            let summary = format!("changed the constant `{text}` to `{to}`");
            self.out.replace_node(Operator::ShiftConstant, f, node, to.to_string(), summary);
        }
    }

    fn boolean_literal(&mut self, node: Node<'_>, f: usize) {
        // `while True` → `while False` only deletes a loop: a loud, boring bug.
        if node.parent().is_some_and(|p| p.kind() == "while_statement") {
            return;
        }
        let text = self.out.text(node);
        let to = if text == "True" { "False" } else { "True" };
        self.out.replace_node(Operator::FlipBooleanLiteral, f, node, to.to_owned(), format!("flipped `{text}` to `{to}`"));
    }

    fn if_statement(&mut self, node: Node<'_>, f: usize) {
        let (Some(condition), Some(consequence)) = (node.child_by_field_name("condition"), node.child_by_field_name("consequence")) else {
            return;
        };
        let alternatives = field_children(node, "alternative");
        let plain_else = match alternatives.as_slice() {
            [only] if only.kind() == "else_clause" => only.child_by_field_name("body"),
            _ => None,
        };
        // Swapping the bodies of an if/else is the same program as negating its condition, so
        // only one of the two is offered.
        let swapped = match plain_else {
            Some(else_body) if self.out.wants(Operator::SwapBranches) => self.swap_branches(condition, consequence, else_body, f),
            _ => false,
        };
        if !swapped {
            self.invert(condition, f);
        }
        if alternatives.is_empty() {
            self.remove_guard(node, consequence, f);
        }
    }

    fn swap_branches(&mut self, condition: Node<'_>, then_body: Node<'_>, else_body: Node<'_>, f: usize) -> bool {
        let (then_at, else_at) = (then_body.start_position(), else_body.start_position());
        // Both bodies must be indented blocks at the same column, so each reads correctly
        // where the other was.
        let else_header_row = else_body.parent().map_or(else_at.row, |c| c.start_position().row);
        if then_at.row <= condition.end_position().row || else_at.row <= else_header_row || then_at.column != else_at.column {
            return false;
        }
        let src = self.out.src;
        let replacement = format!(
            "{}{}{}",
            &src[else_body.byte_range()],
            &src[then_body.end_byte()..else_body.start_byte()],
            &src[then_body.byte_range()]
        );
        let summary = format!("swapped the branches of `if {}`", code(self.out.text(condition)).trim_matches('`'));
        self.out.replace(Operator::SwapBranches, f, then_body.start_byte()..else_body.end_byte(), replacement, summary);
        true
    }

    fn invert(&mut self, condition: Node<'_>, f: usize) {
        let text = self.out.text(condition);
        let replacement = if condition.kind() == "not_operator" {
            let Some(argument) = condition.child_by_field_name("argument") else { return };
            self.out.text(argument).to_owned()
        } else if self.negation_is_already_offered(condition) {
            return;
        } else if is_atom(condition) {
            format!("not {text}")
        } else {
            format!("not ({text})")
        };
        let summary = format!("negated the condition {}", code(text));
        self.out.replace_node(Operator::InvertCondition, f, condition, replacement, summary);
    }

    /// `not (a < b)` is `a >= b`, and `not (a in b)` is `a not in b`.
    fn negation_is_already_offered(&self, condition: Node<'_>) -> bool {
        if condition.kind() != "comparison_operator" {
            return false;
        }
        match field_children(condition, "operators").as_slice() {
            [op] if negated_comparison(op.kind()).is_some() => self.out.wants(Operator::FlipComparison),
            [op] if negated_predicate(op.kind()).is_some() => self.out.wants(Operator::FlipPredicate),
            _ => false,
        }
    }

    /// `if c: continue` / `break` (in a `for`) / `return …` / `raise …` deleted whole.
    fn remove_guard(&mut self, node: Node<'_>, consequence: Node<'_>, f: usize) {
        let [exit] = code_children(consequence)[..] else { return };
        let operator = match exit.kind() {
            "continue_statement" => Operator::RemoveLoopGuard,
            "break_statement" if enclosing_loop(node).is_some_and(|l| l.kind() == "for_statement") => Operator::RemoveLoopGuard,
            "return_statement" | "raise_statement" => Operator::RemoveEarlyReturn,
            _ => return,
        };
        if !has_siblings(node) {
            return;
        }
        let keyword = exit.kind().trim_end_matches("_statement");
        let condition = node.child_by_field_name("condition").map_or("", |c| self.out.text(c));
        let summary = format!("removed the `{keyword}` guard `if {}`", code(condition).trim_matches('`'));
        self.out.delete_lines(operator, f, node, summary);
    }

    fn drop_return_value(&mut self, node: Node<'_>, function: InFunction<'_>) {
        let Some(&value) = code_children(node).first() else { return };
        let text = self.out.text(value);
        // A generator's return value is rarely observed, and `False` reads the same as `None`
        // to every truth test.
        if function.generator || text == "None" || text == "False" {
            return;
        }
        let summary = format!("replaced the returned {} with `None`", code(text));
        self.out.replace_node(Operator::DropReturnValue, function.index, value, "None".to_owned(), summary);
    }

    fn delete_statement(&mut self, node: Node<'_>, function: InFunction<'_>) {
        let [statement] = code_children(node)[..] else { return };
        let deletable = match statement.kind() {
            "call" => !self.is_reporting_call(statement) && !self.out.text(statement).starts_with("super("),
            "augmented_assignment" | "await" => true,
            "assignment" => match (statement.child_by_field_name("left"), statement.child_by_field_name("right")) {
                (Some(target), Some(_)) => match target.kind() {
                    "attribute" | "subscript" => true,
                    // Deleting a name's only binding would be a NameError, not a bug worth
                    // finding; deleting a re-assignment is.
                    "identifier" => self.bound_before(function.node, self.out.text(target), node.start_byte()),
                    _ => false,
                },
                _ => false,
            },
            _ => false,
        };
        if deletable && has_siblings(node) {
            let summary = format!("deleted {}", code(self.out.text(node)));
            self.out.delete_lines(Operator::DeleteStatement, function.index, node, summary);
        }
    }

    /// Whether `name` is a parameter of `function` or assigned in it before `before`.
    fn bound_before(&self, function: Node<'_>, name: &str, before: usize) -> bool {
        let src = self.out.src;
        let binds = |n: Node<'_>| {
            if n.start_byte() >= before {
                return false;
            }
            let target = match n.kind() {
                "assignment" | "augmented_assignment" | "for_statement" => n.child_by_field_name("left"),
                "parameters" => return code_children(n).iter().any(|p| parameter_name(*p, src) == Some(name)),
                _ => None,
            };
            target.is_some_and(|t| &src[t.byte_range()] == name)
        };
        count_descendants(function, &binds) > 0
    }

    fn range_stop(&mut self, call: Node<'_>, f: usize) {
        let (Some(callee), Some(arguments)) = (call.child_by_field_name("function"), call.child_by_field_name("arguments")) else {
            return;
        };
        if self.out.text(callee) != "range" || arguments.kind() != "argument_list" {
            return;
        }
        let args = code_children(arguments);
        if args.iter().any(|a| !is_positional(*a)) {
            return;
        }
        let stop = match args.as_slice() {
            [stop] | [_, stop] => *stop,
            _ => return,
        };
        if is_integer_literal(stop) {
            return; // a constant shift already offers `range(9)` for `range(10)`
        }
        let replacement = format!("{} - 1", self.wrapped_for_sum(stop));
        let summary = format!("shortened the range stop {} to `{replacement}`", code(self.out.text(stop)));
        self.out.replace_node(Operator::ShiftRangeBound, f, stop, replacement, summary);
    }

    fn slice_bounds(&mut self, slice: Node<'_>, f: usize) {
        let mut colons = 0;
        let mut cursor = slice.walk();
        let children: Vec<_> = slice.children(&mut cursor).collect();
        for child in children {
            if child.kind() == ":" {
                colons += 1;
                continue;
            }
            if !child.is_named() || child.kind() == "comment" || is_integer_literal(child) || child.kind() == "none" {
                continue;
            }
            let text = self.out.text(child);
            let (replacement, summary) = match colons {
                0 => {
                    let moved = format!("{} + 1", self.wrapped_for_sum(child));
                    let summary = format!("moved the slice start {} to `{moved}`", code(text));
                    (moved, summary)
                }
                1 => {
                    let moved = format!("{} - 1", self.wrapped_for_sum(child));
                    let summary = format!("moved the slice stop {} to `{moved}`", code(text));
                    (moved, summary)
                }
                _ => continue,
            };
            self.out.replace_node(Operator::ShiftRangeBound, f, child, replacement, summary);
        }
    }

    /// The text of `node`, parenthesised when `… ± 1` would otherwise bind differently.
    fn wrapped_for_sum(&self, node: Node<'_>) -> String {
        let text = self.out.text(node);
        let binds_tighter = is_atom(node)
            || node.kind() == "unary_operator"
            || (node.kind() == "binary_operator"
                && node
                    .child_by_field_name("operator")
                    .is_some_and(|op| matches!(op.kind(), "+" | "-" | "*" | "/" | "//" | "%" | "@" | "**")));
        if binds_tighter { text.to_owned() } else { format!("({text})") }
    }

    fn swap_arguments(&mut self, call: Node<'_>, f: usize) {
        let (Some(callee), Some(arguments)) = (call.child_by_field_name("function"), call.child_by_field_name("arguments")) else {
            return;
        };
        let callee = self.out.text(callee);
        let last_name = callee.rsplit('.').next().unwrap_or(callee);
        if arguments.kind() != "argument_list" || SYMMETRIC_FUNCTIONS.contains(&last_name) || TYPED_ARGUMENT_CALLS.contains(&last_name) {
            return;
        }
        let args = code_children(arguments);
        for pair in args.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let swappable = a.kind() == b.kind()
                && matches!(a.kind(), "identifier" | "attribute" | "subscript" | "integer" | "float" | "string")
                && self.out.text(a) != self.out.text(b)
                && !has_interpolation(a)
                && !has_interpolation(b);
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
}

fn is_statement(node: Node<'_>) -> bool {
    let kind = node.kind();
    if kind == "expression_statement" {
        // Docstrings are not code.
        return !code_children(node).iter().all(|c| c.kind() == "string");
    }
    kind.ends_with("_statement") || matches!(kind, "elif_clause" | "else_clause" | "except_clause" | "finally_clause" | "case_clause")
}

/// Whether `body` yields, not counting nested functions and lambdas.
fn has_own_yield(body: Node<'_>) -> bool {
    let mut cursor = body.walk();
    let mut stack: Vec<Node<'_>> = body.children(&mut cursor).collect();
    while let Some(node) = stack.pop() {
        match node.kind() {
            "yield" => return true,
            "function_definition" | "lambda" | "class_definition" => {}
            _ => {
                let mut cursor = node.walk();
                stack.extend(node.children(&mut cursor));
            }
        }
    }
    false
}

fn enclosing_loop(node: Node<'_>) -> Option<Node<'_>> {
    let mut current = node.parent();
    while let Some(n) = current {
        match n.kind() {
            "for_statement" | "while_statement" => return Some(n),
            "function_definition" | "lambda" | "class_definition" => return None,
            _ => current = n.parent(),
        }
    }
    None
}

/// Whether a statement shares its block with others, so deleting it leaves a valid block.
fn has_siblings(statement: Node<'_>) -> bool {
    statement.parent().is_some_and(|block| code_children(block).len() > 1)
}

fn negated_predicate(op: &str) -> Option<&'static str> {
    Some(match op {
        "in" => "not in",
        "not in" => "in",
        "is" => "is not",
        "is not" => "is",
        _ => return None,
    })
}

fn changed_arithmetic(op: &str) -> Option<&'static str> {
    Some(match op {
        "+" => "-",
        "-" => "+",
        "*" => "//",
        "//" => "*",
        "/" => "*",
        "%" => "//",
        _ => return None,
    })
}

/// Operands for which `+` is concatenation and `%` is formatting.
fn is_sequence_like(node: Node<'_>) -> bool {
    matches!(node.kind(), "string" | "concatenated_string" | "list" | "tuple" | "list_comprehension" | "dictionary" | "set")
}

fn is_atom(node: Node<'_>) -> bool {
    matches!(
        node.kind(),
        "identifier" | "attribute" | "call" | "subscript" | "parenthesized_expression" | "true" | "false" | "none" | "integer" | "float"
    )
}

fn is_integer_literal(node: Node<'_>) -> bool {
    node.kind() == "integer"
        || (node.kind() == "unary_operator" && node.child_by_field_name("argument").is_some_and(|a| a.kind() == "integer"))
}

fn is_positional(argument: Node<'_>) -> bool {
    !matches!(argument.kind(), "keyword_argument" | "list_splat" | "dictionary_splat" | "parenthesized_list_splat")
}

fn has_interpolation(node: Node<'_>) -> bool {
    node.kind() == "string" && count_descendants(node, &|n| n.kind() == "interpolation") > 0
}

fn parameter_name<'s>(parameter: Node<'_>, src: &'s str) -> Option<&'s str> {
    let name = match parameter.kind() {
        "identifier" => parameter,
        "default_parameter" | "typed_default_parameter" => parameter.child_by_field_name("name")?,
        "typed_parameter" => *code_children(parameter).first()?,
        _ => return None,
    };
    Some(&src[name.byte_range()])
}

/// The value of a plain decimal integer literal (`10`, `1_000`); `None` for hex, octal,
/// binary and imaginary literals.
fn decimal_value(text: &str) -> Option<u128> {
    if !text.bytes().all(|b| b.is_ascii_digit() || b == b'_') || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.replace('_', "").parse().ok()
}
