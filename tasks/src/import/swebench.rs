//! SWE-bench instances (one JSON object per line) to Whetstone tasks.
//!
//! Each instance names a commit of an upstream repository (`base_commit`), the fix (`patch`),
//! the tests that check it (`test_patch`) and the tests that must go from failing to passing
//! (`FAIL_TO_PASS`) or keep passing (`PASS_TO_PASS`). The task is:
//!
//! - `repo/`: the files of `base_commit`, without history (the agent-runner commits them as
//!   one fresh commit with a fixed date, so nothing of the fix can be mined from the log);
//! - `hidden/`: every file `test_patch` touches, as it reads after the patch;
//! - `gold.patch`: `patch`; `instruction.md`: `problem_statement`;
//! - the tests: the test lists as JUnit-style ids ([`junit_id`]), run with pytest on the test
//!   files they live in (the files SWE-bench's harness runs);
//! - `environment/Dockerfile`: the project's declared dependencies from PyPI on the base
//!   image. Only PyPI and the Debian mirror are reachable, so an instance that needs anything
//!   else is dropped with that reason.
//!
//! The test lists appear both as JSON lists and as JSON-encoded strings (the Hugging Face
//! export); both are read.

use serde::{Deserialize, Deserializer};
use whetstone_sandbox::debs::{DEBIAN_LOCK_FILE, DebianLock};
use whetstone_sandbox::deps::{DependencyCache, PIP_LOCK_FILE};

use super::environment::{
    debian_locked_dockerfile, detect_license, python_dockerfile, python_locked_dockerfile, python_requirements, shell_quote,
};
use super::source::Source;
use super::testids::{junit_id, test_file};
use super::{Candidate, Dropped, ImportError, SourceToml, TaskToml, TestsToml, task_id_from};
use crate::digest::TreeFile;

/// One SWE-bench instance: the fields Whetstone reads. Other fields (and the many variants'
/// extras) are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct Instance {
    pub instance_id: String,
    /// `owner/name` on GitHub.
    pub repo: String,
    pub base_commit: String,
    /// The reference fix.
    pub patch: String,
    /// The tests the fix is checked with.
    pub test_patch: String,
    pub problem_statement: String,
    #[serde(rename = "FAIL_TO_PASS", deserialize_with = "test_list")]
    pub fail_to_pass: Vec<String>,
    #[serde(rename = "PASS_TO_PASS", deserialize_with = "test_list", default)]
    pub pass_to_pass: Vec<String>,
    /// The project's version (a string, a number in some exports).
    #[serde(default, deserialize_with = "string_or_number")]
    pub version: Option<String>,
    /// The commit whose dependency declarations the environment installs.
    #[serde(default)]
    pub environment_setup_commit: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    /// SWE-bench Verified's time estimate (`<15 min fix`, `15 min - 1 hour`, …).
    #[serde(default)]
    pub difficulty: Option<String>,
}

/// A list of test ids, or a string holding one as JSON.
fn test_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let expected = "a list of test ids, or a string holding one as JSON";
    let strings =
        |items: Vec<serde_json::Value>| -> Option<Vec<String>> { items.into_iter().map(|v| v.as_str().map(str::to_owned)).collect() };
    let value = serde_json::Value::deserialize(deserializer)?;
    let list = match &value {
        serde_json::Value::Array(items) => strings(items.clone()),
        serde_json::Value::String(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Array(items)) => strings(items),
            _ => None,
        },
        _ => None,
    };
    list.ok_or_else(|| serde::de::Error::custom(format!("expected {expected}, found {value}")))
}

fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(deserializer)? {
        Some(serde_json::Value::String(text)) => Some(text),
        Some(serde_json::Value::Number(number)) => Some(number.to_string()),
        _ => None,
    })
}

/// Reads instances from JSON Lines (one instance per line; blank lines are skipped) or from
/// a JSON array. A malformed instance is an error naming its line.
pub fn parse_instances(text: &str) -> Result<Vec<Instance>, ImportError> {
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(text).map_err(|e| ImportError::Instance { line: e.line(), message: e.to_string() });
    }
    let mut instances = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let instance: Instance =
            serde_json::from_str(line).map_err(|e| ImportError::Instance { line: index + 1, message: e.to_string() })?;
        instances.push(instance);
    }
    if instances.is_empty() {
        return Err(ImportError::NoInstances);
    }
    Ok(instances)
}

/// Choices the instances do not make.
#[derive(Debug, Clone)]
pub struct SwebenchOptions {
    /// The SPDX licence of the repository; detected from its licence file when `None`.
    pub license: Option<String>,
    /// The tests' time limit in the task.
    pub timeout_secs: u64,
    /// Debian packages the environment needs beyond the base image.
    pub apt: Vec<String>,
    /// `apt` resolved into a lock (`whetstone_sandbox::Sandbox::lock_debian_packages`):
    /// written as `environment/debian.lock` and installed offline instead of by apt-get at
    /// build time.
    pub apt_lock: Option<DebianLock>,
    /// PyPI packages the environment needs beyond the declared dependencies.
    pub pip: Vec<String>,
    /// Where dependencies are locked from: they are resolved once, here, into
    /// `environment/requirements.lock` (wheels for the base image, with hashes) and installed
    /// offline from it. `None` leaves them unlocked, installed by `pip` at build time (which
    /// needs the build to reach PyPI and trust it).
    pub lock_with: Option<DependencyCache>,
}

impl Default for SwebenchOptions {
    fn default() -> Self {
        Self {
            license: None,
            timeout_secs: crate::task::DEFAULT_TEST_TIMEOUT_SECS,
            apt: Vec::new(),
            apt_lock: None,
            pip: Vec::new(),
            lock_with: Some(DependencyCache::from_env()),
        }
    }
}

/// The task for `instance`, read from `source`; or why it cannot be imported.
pub fn convert(instance: &Instance, source: &Source, options: &SwebenchOptions) -> Result<Candidate, Dropped> {
    let id = task_id_from(&instance.instance_id);
    let drop = |reason: String| Dropped { id: id.clone(), reason };
    if instance.fail_to_pass.is_empty() {
        return Err(drop("FAIL_TO_PASS is empty: nothing would show the fix works".into()));
    }
    let junit = |ids: &[String]| ids.iter().map(|t| junit_id(t)).collect::<Result<Vec<_>, _>>();
    let fail_to_pass = junit(&instance.fail_to_pass).map_err(|e| drop(e.to_string()))?;
    let pass_to_pass = junit(&instance.pass_to_pass).map_err(|e| drop(e.to_string()))?;

    let base = &instance.base_commit;
    let snapshot = source.snapshot(base).map_err(|e| drop(error_chain(&e)))?;
    let mut notes = Vec::new();
    if source.is_tree() {
        notes.push(format!("repo/ read from a source tree without history; base_commit {base} is recorded, not checked"));
    }
    if !snapshot.skipped_symlinks.is_empty() {
        notes.push(format!("symbolic links left out of repo/ (the task format has none): {}", snapshot.skipped_symlinks.join(", ")));
    }
    if !snapshot.skipped_submodules.is_empty() {
        notes.push(format!("submodules left out of repo/: {}", snapshot.skipped_submodules.join(", ")));
    }
    let tests = source.apply(base, instance.test_patch.as_bytes()).map_err(|e| drop(format!("test_patch: {}", error_chain(&e))))?;
    if !tests.deleted.is_empty() {
        return Err(drop(format!(
            "test_patch deletes {}; hidden files can add and replace files, not delete them",
            tests.deleted.join(", ")
        )));
    }
    source
        .apply(base, instance.patch.as_bytes())
        .map_err(|e| drop(format!("the gold patch does not apply to base_commit {base}: {}", error_chain(&e))))?;

    // Dependencies as the environment commit declares them (SWE-bench installs from it).
    let setup_files = match instance.environment_setup_commit.as_deref().filter(|c| *c != base) {
        Some(commit) => match source.snapshot(commit) {
            Ok(setup) => setup.files,
            Err(error) => {
                notes.push(format!(
                    "environment_setup_commit {commit} is not in the repository ({error}); dependencies read from base_commit"
                ));
                snapshot.files.clone()
            }
        },
        None => snapshot.files.clone(),
    };
    let requirements = python_requirements(&setup_files);
    if !requirements.unreachable.is_empty() {
        return Err(drop(format!(
            "the environment needs {}, which only hosts other than PyPI and the Debian mirror serve \
             (builds reach nothing else); install it another way with --pip/--apt or leave the instance out",
            requirements.unreachable.join(", ")
        )));
    }
    let mut pip = requirements.packages.clone();
    pip.extend(options.pip.iter().filter(|p| !requirements.packages.contains(p)).cloned());
    if !requirements.sources.is_empty() {
        notes.push(format!("dependencies from {}", requirements.sources.join(", ")));
    }
    let license = match options.license.clone().or_else(|| detect_license(&snapshot.files)) {
        Some(license) => license,
        None => {
            return Err(drop(format!(
                "no licence found in {} at {base}; pass --license with its SPDX identifier if you know it",
                instance.repo
            )));
        }
    };

    let mut files_to_run: Vec<&str> = instance.fail_to_pass.iter().chain(&instance.pass_to_pass).filter_map(|t| test_file(t)).collect();
    files_to_run.sort_unstable();
    files_to_run.dedup();
    // SWE-bench's ids are relative to the repository's root.
    let command = format!("python3 -m pytest --rootdir=. {}", files_to_run.iter().map(|f| shell_quote(f)).collect::<Vec<_>>().join(" "));
    let importer = import_conftest(&snapshot.files, &tests.files);
    if importer.is_some() {
        notes.push("hidden/conftest.py puts the checkout on sys.path (SWE-bench installs the project instead)".into());
    }

    let spec = TaskToml {
        format: super::IMPORT_FORMAT,
        id: id.clone(),
        difficulty: instance.difficulty.as_deref().and_then(difficulty_from_estimate),
        source: SourceToml {
            project: instance.repo.clone(),
            version: instance.version.clone().unwrap_or_else(|| base.chars().take(12).collect()),
            license,
            url: format!("https://github.com/{}/tree/{base}", instance.repo),
        },
        tests: TestsToml { command, timeout_secs: options.timeout_secs, fail_to_pass, pass_to_pass },
    };
    let mut files = Vec::with_capacity(snapshot.files.len() + tests.files.len() + 4);
    files.push(text_file("task.toml", &spec.to_toml()));
    files.push(text_file("instruction.md", &instruction(&instance.problem_statement)));
    // Debian packages are installed from their lock whenever one was made (it is, unless the
    // dependencies are left unlocked altogether).
    let apt_lock = options.apt_lock.as_ref().filter(|_| options.lock_with.is_some() || pip.is_empty());
    match (&options.lock_with, pip.is_empty()) {
        (Some(cache), false) => {
            let own_name = project_name(&setup_files).unwrap_or_else(|| instance.repo.rsplit('/').next().unwrap_or_default().to_owned());
            // The project's own release (a dependency of a test dependency, say) would sit next
            // to the checkout with the fix in it.
            let lock = cache.lock(&pip).map_err(|e| drop(format!("locking the dependencies failed: {e}")))?.without(&own_name);
            notes.push(format!("{} locked in environment/{PIP_LOCK_FILE}", lock.summary()));
            files.push(text_file("environment/Dockerfile", &python_locked_dockerfile(apt_lock.is_some())));
            files.extend(lock.files().into_iter().map(|(name, text)| text_file(&format!("environment/{name}"), &text)));
        }
        _ if apt_lock.is_some() => files.push(text_file("environment/Dockerfile", &debian_locked_dockerfile(true))),
        _ => files.push(text_file("environment/Dockerfile", &python_dockerfile(&options.apt, &pip))),
    }
    if let Some(lock) = apt_lock {
        notes.push(format!("{} Debian packages locked in environment/{DEBIAN_LOCK_FILE}", lock.debs.len()));
        files.push(text_file(&format!("environment/{DEBIAN_LOCK_FILE}"), &lock.to_text()));
    }
    files.push(TreeFile { path: "gold.patch".into(), executable: false, bytes: instance.patch.as_bytes().to_vec() });
    files.extend(snapshot.files.into_iter().map(|f| TreeFile { path: format!("repo/{}", f.path), ..f }));
    files.extend(tests.files.into_iter().map(|f| TreeFile { path: format!("hidden/{}", f.path), ..f }));
    if let Some(conftest) = importer {
        files.push(text_file("hidden/conftest.py", &conftest));
    }
    if instance.created_at.is_some() {
        notes.push(format!("upstream fix dated {}", instance.created_at.as_deref().unwrap_or_default()));
    }
    let mut candidate = Candidate::new(id, files, notes)?;
    candidate.hints = build_hints(&setup_files);
    Ok(candidate)
}

/// The distribution name `pyproject.toml` or `setup.cfg` declares.
fn project_name(files: &[TreeFile]) -> Option<String> {
    let text = |path: &str| files.iter().find(|f| f.path == path).map(|f| String::from_utf8_lossy(&f.bytes).into_owned());
    let from_pyproject = text("pyproject.toml")
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|doc| doc.get("project")?.get("name")?.as_str().map(str::to_owned));
    from_pyproject.or_else(|| {
        let cfg = text("setup.cfg")?;
        let mut in_metadata = false;
        for line in cfg.lines().map(str::trim) {
            if line.starts_with('[') {
                in_metadata = line == "[metadata]";
            } else if in_metadata
                && let Some((key, value)) = line.split_once(['=', ':'])
                && key.trim() == "name"
            {
                return Some(value.trim().to_owned());
            }
        }
        None
    })
}

/// What a project may need that importing its checkout does not give it: compiled extensions
/// are built by installing, which SWE-bench's harness does and Whetstone's environment does not.
fn build_hints(files: &[TreeFile]) -> Vec<String> {
    let mut hints = Vec::new();
    let setup_py = files.iter().find(|f| f.path == "setup.py").map(|f| String::from_utf8_lossy(&f.bytes).into_owned());
    let compiled = files.iter().find(|f| f.path.ends_with(".pyx") || f.path.ends_with(".pxd")).map(|f| f.path.clone());
    if let Some(path) = compiled {
        hints.push(format!("the project has Cython sources ({path}); they are compiled when the project is installed, which Whetstone's environment does not do"));
    } else if setup_py.as_deref().is_some_and(|text| text.contains("ext_modules")) {
        hints.push("setup.py builds C extensions (ext_modules); they are compiled when the project is installed, which Whetstone's environment does not do".into());
    }
    hints
}

/// A root `conftest.py` that makes the checkout importable, or `None` when it is already
/// (the project configures pytest's `pythonpath`, or has a root `conftest.py` of its own,
/// which pytest imports the root from) or a hidden file takes that place.
///
/// SWE-bench's harness installs the project into its environment; Whetstone's environment is
/// built without the checkout, so the tests import it from the tree. pytest loads the root
/// conftest after pytest itself is imported, so nothing in the tree can stand in for pytest
/// (which `PYTHONPATH` would allow). A src layout puts `src/` on the path.
fn import_conftest(files: &[TreeFile], hidden: &[TreeFile]) -> Option<String> {
    let configures_it = ["pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini"]
        .iter()
        .filter_map(|name| files.iter().find(|f| f.path == *name))
        .any(|f| String::from_utf8_lossy(&f.bytes).lines().any(|l| l.trim_start().starts_with("pythonpath")));
    let root_conftest = |list: &[TreeFile]| list.iter().any(|f| f.path == "conftest.py");
    if configures_it || root_conftest(files) || root_conftest(hidden) {
        return None;
    }
    let package_at = |prefix: &str| {
        files
            .iter()
            .any(|f| f.path.strip_prefix(prefix).and_then(|rest| rest.strip_suffix("/__init__.py")).is_some_and(|dir| !dir.contains('/')))
    };
    let here = "os.path.dirname(os.path.abspath(__file__))";
    let path = if !package_at("") && package_at("src/") { format!("os.path.join({here}, \"src\")") } else { here.to_owned() };
    Some(format!(
        "# Written by `whetstone tasks import swebench`: SWE-bench installs the project into its\n\
         # environment; here the tests import the checkout, from this directory.\n\
         import os\nimport sys\n\nsys.path.insert(0, {path})\n"
    ))
}

/// The problem statement, with the line ending files get.
fn instruction(statement: &str) -> String {
    let mut text = statement.trim_end().replace("\r\n", "\n");
    text.push('\n');
    text
}

fn text_file(path: &str, text: &str) -> TreeFile {
    TreeFile { path: path.into(), executable: false, bytes: text.as_bytes().to_vec() }
}

/// SWE-bench Verified's estimate of a fix's time, as the format's difficulty.
fn difficulty_from_estimate(estimate: &str) -> Option<String> {
    let estimate = estimate.trim();
    let level = if estimate.starts_with("<15") {
        "easy"
    } else if estimate.starts_with("15 min") {
        "medium"
    } else if estimate.starts_with("1-4") || estimate.starts_with('>') {
        "hard"
    } else {
        return None;
    };
    Some(level.to_owned())
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTANCE: &str = r#"{"repo": "o/p", "instance_id": "o__p-1", "base_commit": "abc", "patch": "", "test_patch": "", "problem_statement": "x", "version": 0.12, "FAIL_TO_PASS": "[\"t/test_a.py::test_b[1]\"]", "PASS_TO_PASS": ["t/test_a.py::T::test_c"], "extra_field": 1}"#;

    #[test]
    fn both_test_list_encodings_are_read() {
        let instances = parse_instances(&format!("{INSTANCE}\n\n{INSTANCE}\n")).expect("parses");
        assert_eq!(instances.len(), 2);
        assert_eq!(instances[0].fail_to_pass, ["t/test_a.py::test_b[1]"]);
        assert_eq!(instances[0].pass_to_pass, ["t/test_a.py::T::test_c"]);
        assert_eq!(instances[0].version.as_deref(), Some("0.12"));
        let array = parse_instances(&format!("[{INSTANCE}]")).expect("a JSON array too");
        assert_eq!(array[0].instance_id, "o__p-1");
    }

    #[test]
    fn malformed_lines_are_errors_with_their_line_number() {
        for (text, line, words) in [
            (format!("{INSTANCE}\n{{not json\n"), 2, "key must be a string"),
            (format!("\n{}\n", INSTANCE.replace(r#""base_commit": "abc", "#, "")), 2, "missing field `base_commit`"),
            (format!("{}\n", INSTANCE.replace(r#""[\"t/test_a.py::test_b[1]\"]""#, r#""t/test_a.py::test_b""#)), 1, "list of test ids"),
            (format!("{}\n", INSTANCE.replace(r#""[\"t/test_a.py::test_b[1]\"]""#, "7")), 1, "found 7"),
        ] {
            let error = parse_instances(&text).expect_err(&text);
            let message = error.to_string();
            assert!(message.contains(&format!("line {line}")), "{message}");
            assert!(message.contains(words) || format!("{error:?}").contains(words), "{message} / {error:?}");
        }
        assert!(matches!(parse_instances("\n \n"), Err(ImportError::NoInstances)));
    }

    #[test]
    fn the_checkout_is_importable_from_its_layout() {
        let file = |path: &str, text: &str| TreeFile { path: path.into(), executable: false, bytes: text.as_bytes().to_vec() };
        let flat = import_conftest(&[file("pkg/__init__.py", ""), file("src/other/__init__.py", "")], &[]).expect("flat");
        assert!(flat.contains("sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\n"), "{flat}");
        let src = import_conftest(&[file("src/pkg/__init__.py", ""), file("tests/test_a.py", "")], &[]).expect("src");
        assert!(src.contains("os.path.abspath(__file__)), \"src\"))\n"), "{src}");
        let configured = file("pyproject.toml", "[tool.pytest.ini_options]\npythonpath = [\"lib\"]\n");
        assert_eq!(import_conftest(&[file("src/pkg/__init__.py", ""), configured], &[]), None);
        assert_eq!(import_conftest(&[file("conftest.py", "")], &[]), None);
        assert_eq!(import_conftest(&[file("pkg/__init__.py", "")], &[file("conftest.py", "")]), None);
    }

    #[test]
    fn compiled_extensions_are_named_as_a_likely_cause() {
        let file = |path: &str, text: &str| TreeFile { path: path.into(), executable: false, bytes: text.as_bytes().to_vec() };
        assert!(build_hints(&[file("setup.py", "setup(name='x')"), file("x/__init__.py", "")]).is_empty());
        let c = build_hints(&[file("setup.py", "setup(ext_modules=[Extension('x._speed', ['x/speed.c'])])")]);
        assert!(c[0].contains("ext_modules"), "{c:?}");
        let cython = build_hints(&[file("x/fast.pyx", "")]);
        assert!(cython[0].contains("x/fast.pyx"), "{cython:?}");
    }

    #[test]
    fn verified_estimates_become_difficulties() {
        for (estimate, level) in [
            ("<15 min fix", Some("easy")),
            ("15 min - 1 hour", Some("medium")),
            ("1-4 hours", Some("hard")),
            (">4 hours", Some("hard")),
            ("?", None),
        ] {
            assert_eq!(difficulty_from_estimate(estimate).as_deref(), level, "{estimate}");
        }
    }
}
