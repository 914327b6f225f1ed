//! The candidate walk both languages share: a depth-first walk of the syntax tree that keeps
//! track of where it is (the qualified name of the enclosing item and, inside a function body,
//! the language's per-function context), asks the language what each node is, and offers every
//! node inside a function body for mutation before walking its children.
//!
//! The languages (`python.rs`, `rust.rs`) decide only what differs: which nodes are
//! skipped whole (strings, comments, tests…), which open a new scope (functions, classes,
//! modules, impls, closures) and which mutations a node offers.

use tree_sitter::{Node, Tree};

use super::scan::{Collector, qualify};

/// Where the walk is.
#[derive(Debug, Clone)]
pub(crate) struct Scope<F> {
    /// The qualified name of the enclosing item: `toolz.itertoolz.sliding_window`.
    pub prefix: String,
    /// How the language joins names: `.` or `::`.
    separator: &'static str,
    /// The language's context of the enclosing function, inside a function body.
    pub function: Option<F>,
}

impl<F> Scope<F> {
    /// The top of a file whose module is named `module`.
    pub fn root(module: &str, separator: &'static str) -> Self {
        Scope { prefix: module.to_owned(), separator, function: None }
    }

    /// Inside a named item that is not a function (a class, a module, an impl): functions
    /// below it are qualified by its name, and its own body is not a function body.
    pub fn item(&self, name: &str) -> Self {
        Scope { prefix: qualify(&self.prefix, self.separator, name), separator: self.separator, function: None }
    }

    /// Inside the body of the function `name`, which is registered with `out` (with its size,
    /// for the eligibility filter); `context` makes the language's context from its index.
    pub fn function(&self, out: &mut Collector<'_>, name: &str, complexity: usize, context: impl FnOnce(usize) -> F) -> Self {
        let prefix = qualify(&self.prefix, self.separator, name);
        let index = out.add_function(prefix.clone(), complexity);
        Scope { prefix, separator: self.separator, function: Some(context(index)) }
    }

    /// The same place with another function context (a closure inside the same function).
    pub fn with_function(&self, function: Option<F>) -> Self {
        Scope { prefix: self.prefix.clone(), separator: self.separator, function }
    }
}

/// What the walk does with a node, as the language decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Not code a bug belongs in: the node and everything below it are left alone.
    Skip,
    /// Ordinary code: offered for mutation inside a function body, then its children walked.
    Code,
    /// The language walked the node itself, in a scope of its own (see [`walk_children`]).
    Walked,
}

/// A language's part of the walk.
pub(crate) trait Rules<'t> {
    /// What the language keeps about the function being walked.
    type Function: Copy;

    /// What `node` is. A node that opens a scope is walked here (with [`walk_children`] and a
    /// new [`Scope`]) and answered with [`Step::Walked`].
    fn step(&mut self, node: Node<'t>, scope: &Scope<Self::Function>) -> Step;

    /// Offers the mutations `node` allows, inside `function`'s body.
    fn mutate(&mut self, node: Node<'t>, function: Self::Function);
}

/// Walks a whole file from its root.
pub(crate) fn scan<'t, R: Rules<'t>>(rules: &mut R, tree: &'t Tree, root: &Scope<R::Function>) {
    walk_children(rules, tree.root_node(), root);
}

/// Walks `node` and everything below it.
pub(crate) fn walk<'t, R: Rules<'t>>(rules: &mut R, node: Node<'t>, scope: &Scope<R::Function>) {
    match rules.step(node, scope) {
        Step::Skip | Step::Walked => return,
        Step::Code => {}
    }
    if let Some(function) = scope.function {
        rules.mutate(node, function);
    }
    walk_children(rules, node, scope);
}

/// Walks each child of `node`, in order.
pub(crate) fn walk_children<'t, R: Rules<'t>>(rules: &mut R, node: Node<'t>, scope: &Scope<R::Function>) {
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        walk(rules, child, scope);
    }
}
