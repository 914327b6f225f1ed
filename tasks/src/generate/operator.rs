//! The mutation operators: what kind of bug each one plants.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One kind of planted bug. Each is implemented for Python and Rust wherever the language has
/// the construct (see [`Operator::about`] and the per-language notes in `python.rs` and
/// `rust.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// `<` ↔ `>=`, `>` ↔ `<=`, `==` ↔ `!=`.
    FlipComparison,
    /// `<` ↔ `<=`, `>` ↔ `>=`: the classic off-by-one at a boundary.
    ShiftBoundary,
    /// Python `in` ↔ `not in`, `is` ↔ `is not`; Rust `is_some()` ↔ `is_none()`,
    /// `is_ok()` ↔ `is_err()`.
    FlipPredicate,
    /// `and` ↔ `or`, `&&` ↔ `||`.
    SwapBooleanOperator,
    /// `True` ↔ `False`, `true` ↔ `false`.
    FlipBooleanLiteral,
    /// An integer constant moved by one: 0 → 1, 1 → 0 or 2, n → n ± 1.
    ShiftConstant,
    /// `+` ↔ `-`, `*` ↔ `//` (Python) or `/` (Rust), `%` → `//` or `/`, and the augmented
    /// assignments (`+=` ↔ `-=`, …).
    ChangeArithmetic,
    /// `if c` → `if not (c)` / `if !(c)` (and `not c` → `c`), for `if` without a plain `else`,
    /// `elif` and conditional expressions.
    InvertCondition,
    /// The two bodies of an `if … else` exchanged.
    SwapBranches,
    /// A statement with a side effect deleted: augmented assignments, calls (`push`, `append`,
    /// `update`, …), assignments to attributes, fields and indexes, re-assignments.
    DeleteStatement,
    /// `return x` → `return None` (Python); in Rust the returned value replaced by the return
    /// type's obvious default (`false`, `0`, `None`, `Vec::new()`, `String::new()`) where the
    /// signature names such a type.
    DropReturnValue,
    /// A `continue` guard (or a `break` guard inside a `for` loop) deleted.
    RemoveLoopGuard,
    /// An early-exit guard (`if c: return …` / `raise …`, `if c { return …; }`) deleted.
    RemoveEarlyReturn,
    /// Python: `range(n)` → `range(n - 1)`, slice bounds `a[i:j]` → `a[i + 1:j]` / `a[i:j - 1]`;
    /// Rust: `..` ↔ `..=`.
    ShiftRangeBound,
    /// Two adjacent positional arguments of the same kind exchanged.
    SwapArguments,
}

impl Operator {
    /// Every operator, in the order candidates are reported.
    pub const ALL: [Operator; 15] = [
        Operator::FlipComparison,
        Operator::ShiftBoundary,
        Operator::FlipPredicate,
        Operator::SwapBooleanOperator,
        Operator::FlipBooleanLiteral,
        Operator::ShiftConstant,
        Operator::ChangeArithmetic,
        Operator::InvertCondition,
        Operator::SwapBranches,
        Operator::DeleteStatement,
        Operator::DropReturnValue,
        Operator::RemoveLoopGuard,
        Operator::RemoveEarlyReturn,
        Operator::ShiftRangeBound,
        Operator::SwapArguments,
    ];

    /// The name used in configuration files, on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Operator::FlipComparison => "flip_comparison",
            Operator::ShiftBoundary => "shift_boundary",
            Operator::FlipPredicate => "flip_predicate",
            Operator::SwapBooleanOperator => "swap_boolean_operator",
            Operator::FlipBooleanLiteral => "flip_boolean_literal",
            Operator::ShiftConstant => "shift_constant",
            Operator::ChangeArithmetic => "change_arithmetic",
            Operator::InvertCondition => "invert_condition",
            Operator::SwapBranches => "swap_branches",
            Operator::DeleteStatement => "delete_statement",
            Operator::DropReturnValue => "drop_return_value",
            Operator::RemoveLoopGuard => "remove_loop_guard",
            Operator::RemoveEarlyReturn => "remove_early_return",
            Operator::ShiftRangeBound => "shift_range_bound",
            Operator::SwapArguments => "swap_arguments",
        }
    }

    /// One line saying what the operator does, for `--help` texts and curator reports.
    pub fn about(self) -> &'static str {
        match self {
            Operator::FlipComparison => "negate a comparison: < to >=, > to <=, == to !=",
            Operator::ShiftBoundary => "move a comparison's boundary: < to <=, > to >=",
            Operator::FlipPredicate => "negate a membership or identity test: in/not in, is/is not, is_some/is_none",
            Operator::SwapBooleanOperator => "swap and/or, &&/||",
            Operator::FlipBooleanLiteral => "flip a boolean literal",
            Operator::ShiftConstant => "move an integer constant by one",
            Operator::ChangeArithmetic => "change an arithmetic operator: + to -, * to // or /, % to // or /",
            Operator::InvertCondition => "negate the condition of an if, elif or conditional expression",
            Operator::SwapBranches => "exchange the two bodies of an if/else",
            Operator::DeleteStatement => "delete a statement with a side effect",
            Operator::DropReturnValue => "return None (Python) or the return type's default (Rust) instead",
            Operator::RemoveLoopGuard => "delete a continue guard, or a break guard in a for loop",
            Operator::RemoveEarlyReturn => "delete an early return or raise guard",
            Operator::ShiftRangeBound => "move a range or slice bound by one; .. to ..=",
            Operator::SwapArguments => "exchange two adjacent arguments of the same kind",
        }
    }

    /// Bit of this operator in an operator set.
    pub(crate) fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of [`Operator::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mutation operator `{name}` (known: {known})")]
pub struct UnknownOperator {
    pub name: String,
    known: String,
}

impl FromStr for Operator {
    type Err = UnknownOperator;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Operator::ALL
            .into_iter()
            .find(|op| op.name() == name)
            .ok_or_else(|| UnknownOperator { name: name.to_owned(), known: Operator::ALL.map(Operator::name).join(", ") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_serde() {
        for op in Operator::ALL {
            assert_eq!(op.name().parse::<Operator>(), Ok(op));
            assert_eq!(serde_json::to_string(&op).expect("serialize"), format!("\"{}\"", op.name()));
        }
        let err = "flip".parse::<Operator>().expect_err("unknown name");
        assert!(err.to_string().contains("unknown mutation operator `flip`"), "{err}");
        assert!(err.to_string().contains("swap_arguments"), "{err}");
    }

    #[test]
    fn bits_are_distinct() {
        let all = Operator::ALL.iter().fold(0u32, |acc, op| {
            assert_eq!(acc & op.bit(), 0, "{op} shares a bit");
            acc | op.bit()
        });
        assert_eq!(all.count_ones() as usize, Operator::ALL.len());
    }
}
