//! Problem statements for generated bugs, written from what a user of the project would see:
//! the failing tests' names and their assertion messages from the failing run. Never from the
//! patch. A statement is checked against the gold patch before it is kept: a message that
//! quotes a line the fix adds is withheld, and a statement that still contains one is refused.

use std::collections::BTreeMap;

use crate::task::Framework;

/// Most failing tests listed by name; the rest are counted.
const MAX_LISTED: usize = 8;
/// Lines of the fix shorter than this (trimmed) are too generic to count as a leak
/// (`return x`, `}`, `pass`).
const MIN_LEAK_CHARS: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub text: String,
    /// Messages withheld because they quoted the fix.
    pub redacted: usize,
}

/// The statement for a task with `bugs` planted bugs whose FAIL_TO_PASS tests are `failing`
/// (with their messages), or `None` when even the redacted statement would contain a line of
/// `gold_patch`.
pub fn write_statement(
    project: &str,
    framework: Framework,
    bugs: usize,
    failing: &[String],
    messages: &BTreeMap<String, String>,
    gold_patch: &str,
) -> Option<Statement> {
    let fix_lines = added_lines(gold_patch);
    let leaks = |text: &str| fix_lines.iter().any(|line| text.contains(line.as_str()));
    let mut redacted = 0;
    let mut text = format!("# Failing tests in {project}\n\n");
    let count = failing.len();
    text.push_str(&format!(
        "{} of {project}'s own test{} fail{} on this checkout. The library code has {}; the tests are right.\n\n",
        if count == 1 { "One".to_owned() } else { count.to_string() },
        if count == 1 { "" } else { "s" },
        if count == 1 { "s" } else { "" },
        if bugs > 1 { "more than one bug" } else { "a bug" },
    ));
    for id in failing.iter().take(MAX_LISTED) {
        let (location, name) = split_id(id, framework);
        text.push_str(&format!("- `{name}` ({location})"));
        match messages.get(id).map(|m| m.trim()).filter(|m| !m.is_empty()) {
            Some(message) if leaks(message) => {
                redacted += 1;
                text.push('\n');
            }
            Some(message) => {
                text.push_str(&format!(":\n\n  ```\n  {}\n  ```\n", without_addresses(message).replace('\n', "\n  ")));
            }
            None => text.push('\n'),
        }
    }
    if count > MAX_LISTED {
        text.push_str(&format!("- … and {} more\n", count - MAX_LISTED));
    }
    text.push_str(
        "\nThese test files are not in the repository you were given; they are run against your change when it is graded, \
         together with the rest of the suite, which must keep passing. Fix the library code so that the tests above pass. \
         Do not edit tests or test configuration.\n",
    );
    if leaks(&text) {
        return None;
    }
    Some(Statement { text, redacted })
}

/// The message with memory addresses (`<Foo object at 0x7f2dee61a810>`) shortened to `0x…`:
/// they differ from run to run, and a statement must be the same every time it is written.
fn without_addresses(message: &str) -> String {
    const MIN_HEX_DIGITS: usize = 8;
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("0x") {
        let digits = rest[at + 2..].bytes().take_while(u8::is_ascii_hexdigit).count();
        let boundary = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric();
        out.push_str(&rest[..at]);
        if boundary && digits >= MIN_HEX_DIGITS {
            out.push_str("0x…");
        } else {
            out.push_str(&rest[at..at + 2 + digits]);
        }
        rest = &rest[at + 2 + digits..];
    }
    out.push_str(rest);
    out
}

/// `(where, name)` of a test id for the statement: the test module or target and the test.
fn split_id(id: &str, framework: Framework) -> (String, String) {
    match framework {
        Framework::Cargo => match id.find(".rs::") {
            Some(end) => (id[..end + 3].to_owned(), id[end + 5..].to_owned()),
            None => (String::new(), id.to_owned()),
        },
        Framework::Pytest => match id.split_once("::") {
            Some((class, name)) => (class.to_owned(), name.to_owned()),
            None => (String::new(), id.to_owned()),
        },
    }
}

/// The lines a patch adds, trimmed, long enough to be specific.
fn added_lines(patch: &str) -> Vec<String> {
    patch
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .map(|l| l[1..].trim().to_owned())
        .filter(|l| l.chars().filter(|c| !c.is_whitespace()).count() >= MIN_LEAK_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLD: &str = "--- a/m.py\n+++ b/m.py\n@@ -1,1 +1,1 @@\n-    return a - b\n+    return total + increment\n";

    #[test]
    fn statement_names_tests_and_messages() {
        let failing = vec!["pkg.tests.test_m::test_add".to_owned()];
        let messages = BTreeMap::from([(failing[0].clone(), "assert 1 == 3".to_owned())]);
        let statement = write_statement("pkg", Framework::Pytest, 1, &failing, &messages, GOLD).expect("statement");
        assert!(statement.text.contains("`test_add` (pkg.tests.test_m)"), "{}", statement.text);
        assert!(statement.text.contains("assert 1 == 3"));
        assert!(statement.text.starts_with("# Failing tests in pkg"));
        assert!(statement.text.contains("has a bug;"), "{}", statement.text);
        assert_eq!(statement.redacted, 0);
    }

    #[test]
    fn a_combined_task_says_it_has_more_than_one_bug() {
        let failing = vec!["t::a".to_owned(), "t::b".to_owned()];
        let statement = write_statement("pkg", Framework::Pytest, 3, &failing, &BTreeMap::new(), GOLD).expect("statement");
        assert!(statement.text.contains("2 of pkg's own tests fail"), "{}", statement.text);
        assert!(statement.text.contains("The library code has more than one bug;"), "{}", statement.text);
    }

    #[test]
    fn a_message_quoting_the_fix_is_withheld() {
        let failing = vec!["t::a".to_owned(), "t::b".to_owned()];
        let messages = BTreeMap::from([
            ("t::a".to_owned(), "where x = return total + increment".to_owned()),
            ("t::b".to_owned(), "assert 2 == 4".to_owned()),
        ]);
        let statement = write_statement("pkg", Framework::Pytest, 1, &failing, &messages, GOLD).expect("redacted statement");
        assert_eq!(statement.redacted, 1);
        assert!(!statement.text.contains("return total + increment"), "{}", statement.text);
        assert!(statement.text.contains("assert 2 == 4"));
    }

    #[test]
    fn a_test_name_quoting_the_fix_refuses_the_statement() {
        let gold = "+++ b/m.py\n+def test_return_total_plus_increment_value():\n";
        let failing = vec!["t::def test_return_total_plus_increment_value():".to_owned()];
        assert_eq!(write_statement("pkg", Framework::Pytest, 1, &failing, &BTreeMap::new(), gold), None);
    }

    #[test]
    fn memory_addresses_in_messages_do_not_make_statements_differ() {
        let failing = vec!["t::a".to_owned()];
        let statement = |address: &str| {
            let message = format!("AssertionError: None is not <tests.Counted object at {address}>; 0x10 == 0x1f");
            let messages = BTreeMap::from([("t::a".to_owned(), message)]);
            write_statement("pkg", Framework::Pytest, 1, &failing, &messages, GOLD).expect("statement").text
        };
        assert_eq!(statement("0x7f2dee61a810"), statement("0x7f00deadbeef"));
        assert!(statement("0x7f2dee61a810").contains("<tests.Counted object at 0x…>; 0x10 == 0x1f"), "{}", statement("0x7f2dee61a810"));
    }

    #[test]
    fn cargo_ids_split_at_the_target() {
        assert_eq!(
            split_id("tests/test_version.rs::test_parse", Framework::Cargo),
            ("tests/test_version.rs".to_owned(), "test_parse".to_owned())
        );
    }
}
