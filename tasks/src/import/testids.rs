//! From pytest node ids, as SWE-bench lists them (`tests/test_x.py::TestY::test_z[param]`),
//! to the JUnit-style ids the task format grades by (FORMAT.md, "Test ids").
//!
//! pytest's JUnit writer derives `classname` and `name` from the node id: the parameters are
//! set aside first (they may hold `::` or `/`), the rest is split at `::`, the file path
//! becomes a dotted module path without `.py`, the classes join it with dots, and the last
//! part, with its parameters back, is the name. The same steps here give the same ids.

/// Why a listed test cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestIdError {
    #[error(
        "{0:?} is not a pytest node id (`path/to/test_file.py::test_name`); test ids of other \
         runners (Django's `test_x (module.Class)`, SymPy's bare names) are not supported"
    )]
    NotPytest(String),
}

/// The JUnit-style id (`classname::name`) pytest's `--junitxml` report gives the test with
/// node id `node_id`.
pub fn junit_id(node_id: &str) -> Result<String, TestIdError> {
    let not_pytest = || TestIdError::NotPytest(node_id.to_owned());
    let (path, bracket, params) = match node_id.find('[') {
        Some(at) => (&node_id[..at], "[", &node_id[at + 1..]),
        None => (node_id, "", ""),
    };
    // pytest before 4 wrote `::()` for the instance of a test class; its writer skipped it.
    let mut names: Vec<&str> = path.split("::").filter(|part| *part != "()").collect();
    if names.len() < 2 || names.iter().any(|n| n.is_empty()) || names[0].contains(char::is_whitespace) {
        return Err(not_pytest());
    }
    let file = names.remove(0);
    if !file.ends_with(".py") {
        return Err(not_pytest());
    }
    let module = file.trim_end_matches(".py").replace('/', ".");
    let name = format!("{}{bracket}{params}", names.pop().unwrap_or_default());
    let classname = std::iter::once(module.as_str()).chain(names.iter().copied()).collect::<Vec<_>>().join(".");
    Ok(format!("{classname}::{name}"))
}

/// The test file a node id names (`tests/test_x.py` for `tests/test_x.py::test_y[a/b]`).
pub fn test_file(node_id: &str) -> Option<&str> {
    let path = node_id.split('[').next().unwrap_or_default();
    let file = path.split("::").next()?;
    file.ends_with(".py").then_some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_become_junit_ids() {
        for (node, junit) in [
            ("tests/test_x.py::test_z", "tests.test_x::test_z"),
            ("tests/test_x.py::TestY::test_z", "tests.test_x.TestY::test_z"),
            ("tests/test_x.py::TestY::test_z[param]", "tests.test_x.TestY::test_z[param]"),
            ("test_top.py::test_a", "test_top::test_a"),
            ("a/b/test_c.py::Outer::Inner::test_d", "a.b.test_c.Outer.Inner::test_d"),
            // Parameters keep `::`, `/`, dots and spaces as they are.
            ("tests/test_x.py::test_p[a::b/c.d e]", "tests.test_x::test_p[a::b/c.d e]"),
            ("tests/test_x.py::test_p[1-2]", "tests.test_x::test_p[1-2]"),
            ("tests/test_x.py::TestY::()::test_z", "tests.test_x.TestY::test_z"),
            ("toolz/itertoolz.py::toolz.itertoolz.tail", "toolz.itertoolz::toolz.itertoolz.tail"),
        ] {
            assert_eq!(junit_id(node).as_deref(), Ok(junit), "{node}");
        }
    }

    #[test]
    fn ids_of_other_runners_are_refused() {
        for other in ["test_foo (app.tests.FooTests)", "test_foo", "tests/test_x.py", "tests/test_x.py::", "tests/test_x::test_y", ""] {
            let error = junit_id(other).expect_err(other);
            assert!(error.to_string().contains("not a pytest node id"), "{error}");
        }
    }

    #[test]
    fn the_file_of_a_node_id() {
        assert_eq!(test_file("tests/test_x.py::TestY::test_z[a/b.py::c]"), Some("tests/test_x.py"));
        assert_eq!(test_file("test_foo (a.B)"), None);
    }
}
