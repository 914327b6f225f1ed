//! A developer's repository with a bug, and the diff that fixes it.

use std::path::Path;

/// `calc.py` as committed: `add` subtracts.
pub const CALC: &str = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n";

/// The fix the (fake) agent returns: `add` adds, and a new test file.
pub const FIX: &str = "diff --git a/calc.py b/calc.py
index 0000001..0000002 100644
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
diff --git a/test_calc.py b/test_calc.py
new file mode 100644
index 0000000..0000003
--- /dev/null
+++ b/test_calc.py
@@ -0,0 +1,5 @@
+from calc import add
+
+
+def test_add():
+    assert add(2, 3) == 5
";

/// A git repository in `dir`: `calc.py` committed, `notes.txt` untracked, `build/` ignored.
pub fn create(dir: &Path) {
    std::fs::write(dir.join("calc.py"), CALC).expect("write calc.py");
    std::fs::write(dir.join(".gitignore"), "build/\n").expect("write .gitignore");
    let repo = git2::Repository::init(dir).expect("git init");
    let mut index = repo.index().expect("index");
    index.add_path(Path::new("calc.py")).expect("add calc.py");
    index.add_path(Path::new(".gitignore")).expect("add .gitignore");
    index.write().expect("write index");
    let tree = repo.find_tree(index.write_tree().expect("write tree")).expect("tree");
    let signature = git2::Signature::now("dev", "dev@example.com").expect("signature");
    repo.commit(Some("HEAD"), &signature, &signature, "calc", &tree, &[]).expect("commit");
    std::fs::write(dir.join("notes.txt"), "add is broken\n").expect("write notes.txt");
    std::fs::create_dir(dir.join("build")).expect("mkdir build");
    std::fs::write(dir.join("build/out.bin"), "ignored").expect("write build/out.bin");
}
