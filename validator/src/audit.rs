//! Remarks for a human reviewer. Code under test runs in pytest's own process, so a patch can
//! in principle forge its result in ways no check after the fact can see (crate docs,
//! "Residual risk"). The patch's added lines are scanned for what such forgery needs; hits are
//! noted in the verdict and never change it. A resolved verdict with such a note is worth a
//! look.

/// Fragments that honest source fixes rarely add and result forgery usually does.
const MARKERS: &[&str] = &[
    "_pytest",
    "pytest",
    "junit",
    "_exit",
    "atexit",
    "sys.argv",
    "/proc/",
    "/grading",
    "PYTEST_",
    "sitecustomize",
    "settrace",
    "setprofile",
    "__builtins__",
];

/// The markers found in lines the patch adds, in [`MARKERS`] order.
pub(crate) fn markers(patch: &[u8]) -> Vec<&'static str> {
    let added: Vec<&[u8]> = patch.split(|&b| b == b'\n').filter(|line| line.starts_with(b"+") && !line.starts_with(b"+++ ")).collect();
    MARKERS.iter().copied().filter(|marker| added.iter().any(|line| line.windows(marker.len()).any(|w| w == marker.as_bytes()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_are_scanned_and_removed_lines_are_not() {
        let patch = b"diff --git a/p.py b/p.py\n--- a/p.py\n+++ b/p.py\n@@ -1,2 +1,2 @@\n-import atexit\n+import atexit as a, os\n+a.register(lambda: os._exit(0))\n";
        assert_eq!(markers(patch), ["_exit", "atexit"]);
        assert!(markers(b"diff --git a/p.py b/p.py\n--- a/p.py\n+++ b/p.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n").is_empty());
    }
}
