//! Locked Python dependencies and imports without history, end to end: a SWE-bench-style
//! instance of a small project that depends on a package only a local index (served on
//! loopback) has, read from a tarball without history, locked with hashes, built with the
//! network disabled from the host's wheel cache, and graded with its gold patch (`docker_*`
//! needs a Docker engine). The others need `python3 -m pip` on the host and nothing else.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use whetstone_sandbox::debs::DEBIAN_LOCK_FILE;
use whetstone_sandbox::deps::{BUILD_LOCK_FILE, DependencyCache, PIP_LOCK_FILE, PipLock};
use whetstone_sandbox::{EnvironmentFiles, Exit, NoProgress, Role, RunSpec, Sandbox};
use whetstone_tasks::TaskSet;
use whetstone_tasks::import::environment::python_locked_dockerfile;
use whetstone_tasks::import::source::Source;
use whetstone_tasks::import::swebench::{self, Instance, SwebenchOptions};
use whetstone_tasks::import::{ImportEvent, import_all};
use whetstone_validator::ImportReproducer;

/// A pure-Python wheel `whetdep 1.0` (`whetdep.double`), built by the host's Python.
fn build_wheel(dir: &Path) -> PathBuf {
    build_pure_wheel(dir, "whetdep", "def double(x):\n    return 2 * x\n")
}

/// A pure-Python wheel `<name> 1.0` whose package `__init__.py` is `code`.
fn build_pure_wheel(dir: &Path, name: &str, code: &str) -> PathBuf {
    let script = r#"
import base64, hashlib, sys, zipfile
directory, name, code = sys.argv[1:4]
path = f"{directory}/{name}-1.0-py3-none-any.whl"
files = {
    f"{name}/__init__.py": code,
    f"{name}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
    f"{name}-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: whetstone-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
with zipfile.ZipFile(path, "w") as wheel:
    for file, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{file},sha256={digest},{len(data)}")
        wheel.writestr(file, data)
    record.append(f"{name}-1.0.dist-info/RECORD,,")
    wheel.writestr(f"{name}-1.0.dist-info/RECORD", "\n".join(record) + "\n")
print(path)
"#;
    let output = Command::new("python3").arg("-c").arg(script).arg(dir).arg(name).arg(code).output().expect("python3 runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// The in-tree PEP 517 backend of `whetsd`: builds its wheel with the standard library, after
/// importing its one build requirement (`whetbuild`), which build isolation must install.
const WHETSD_BACKEND: &str = r#"import base64, hashlib, os, zipfile
import whetbuild

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "whetsd-1.0-py3-none-any.whl"
    files = {
        "whetsd/__init__.py": open("whetsd/__init__.py").read(),
        "whetsd-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: whetsd\nVersion: 1.0\nRequires-Dist: whetdep\n",
        "whetsd-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: " + whetbuild.GENERATOR + "\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as wheel:
        for file, text in files.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{file},sha256={digest},{len(data)}")
            wheel.writestr(file, data)
        record.append("whetsd-1.0.dist-info/RECORD,,")
        wheel.writestr("whetsd-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    return name
"#;

/// `whetsd 1.0` as a source distribution only (`whetsd.triple`, using `whetdep`): built by
/// its in-tree backend, which needs `whetbuild`.
fn write_whetsd_sdist(dir: &Path) {
    let files = [
        ("whetsd-1.0/PKG-INFO", "Metadata-Version: 2.1\nName: whetsd\nVersion: 1.0\nRequires-Dist: whetdep\n"),
        (
            "whetsd-1.0/pyproject.toml",
            "[build-system]\nrequires = [\"whetbuild\"]\nbuild-backend = \"whetbackend\"\nbackend-path = [\".\"]\n",
        ),
        ("whetsd-1.0/whetbackend.py", WHETSD_BACKEND),
        ("whetsd-1.0/whetsd/__init__.py", "from whetdep import double\n\n\ndef triple(x):\n    return double(x) + x\n"),
    ];
    write_tar_gz(&dir.join("whetsd-1.0.tar.gz"), &files);
}

fn write_tar_gz(path: &Path, files: &[(&str, &str)]) {
    std::fs::write(path, tar_gz(files)).expect("write the archive");
}

/// A gzipped tar of `files` (path, text), each mode 644.
fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (name, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, text.as_bytes()).expect("append");
    }
    builder.into_inner().expect("tar").finish().expect("gzip")
}

/// `python3 -m http.server` over a directory laid out as a PEP 503 simple index; killed on drop.
struct LoopbackIndex {
    child: Child,
    url: String,
    _root: tempfile::TempDir,
}

impl LoopbackIndex {
    fn serve_whetdep() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let project = root.path().join("simple/whetdep");
        std::fs::create_dir_all(&project).expect("index dir");
        build_wheel(&project);
        Self::serve(root, "simple/")
    }

    /// `whetdep` (a wheel), `whetsd` (an sdist only) and `whetbuild` (a wheel whetsd's build
    /// needs).
    fn serve_with_sdist() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let simple = root.path().join("simple");
        for name in ["whetdep", "whetsd", "whetbuild"] {
            std::fs::create_dir_all(simple.join(name)).expect("index dir");
        }
        build_wheel(&simple.join("whetdep"));
        build_pure_wheel(&simple.join("whetbuild"), "whetbuild", "GENERATOR = \"whetbuild 1.0\"\n");
        write_whetsd_sdist(&simple.join("whetsd"));
        Self::serve(root, "simple/")
    }

    /// `python3 -m http.server` over `root`; `url` is its address plus `path`.
    fn serve(root: tempfile::TempDir, path: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()])
            .current_dir(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("http.server starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "the index never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, url: format!("http://127.0.0.1:{port}/{path}"), _root: root }
    }
}

impl Drop for LoopbackIndex {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A closed loopback port: an index there refuses every connection.
fn unreachable_index() -> String {
    let port = TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    format!("http://127.0.0.1:{port}/simple/")
}

const BASE_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// The project at its base commit, as a tarball with one top-level directory (an sdist's
/// shape) and no history.
fn project_tarball(dir: &Path) -> PathBuf {
    let files = [
        ("calc-1.0/pyproject.toml", "[project]\nname = \"calc\"\nversion = \"1.0\"\ndependencies = [\"whetdep==1.0\"]\n"),
        ("calc-1.0/LICENSE", "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n"),
        ("calc-1.0/calc.py", "from whetdep import double\n\n\ndef quadruple(x):\n    return double(x) + x\n"),
    ];
    let path = dir.join("calc-1.0.tar.gz");
    write_tar_gz(&path, &files);
    path
}

fn instance() -> Instance {
    serde_json::from_value(serde_json::json!({
        "instance_id": "demo__calc-1",
        "repo": "demo/calc",
        "base_commit": BASE_COMMIT,
        "patch": "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -2,4 +2,4 @@ from whetdep import double\n \n \n def quadruple(x):\n-    return double(x) + x\n+    return double(double(x))\n",
        "test_patch": "diff --git a/tests/test_calc.py b/tests/test_calc.py\nnew file mode 100644\n--- /dev/null\n+++ b/tests/test_calc.py\n@@ -0,0 +1,9 @@\n+from calc import quadruple\n+\n+\n+def test_quadruple():\n+    assert quadruple(3) == 12\n+\n+\n+def test_zero():\n+    assert quadruple(0) == 0\n",
        "problem_statement": "quadruple(3) returns 9, not 12.",
        "FAIL_TO_PASS": ["tests/test_calc.py::test_quadruple"],
        "PASS_TO_PASS": ["tests/test_calc.py::test_zero"],
        "version": "1.0"
    }))
    .expect("the instance parses")
}

#[test]
fn locking_resolves_from_the_configured_index_and_names_what_it_cannot_fetch() {
    let index = LoopbackIndex::serve_whetdep();
    let cache = tempfile::tempdir().expect("tempdir");
    let wheelhouse = DependencyCache::at(cache.path()).with_index_url(&index.url);
    let lock = wheelhouse.lock(&["whetdep==1.0".to_owned()]).expect("locks from the loopback index");
    assert_eq!(lock.wheels.len(), 1);
    assert_eq!((lock.wheels[0].name.as_str(), lock.wheels[0].version.as_str()), ("whetdep", "1.0"));
    assert_eq!(PipLock::parse(&lock.to_text()).expect("the lock reads back"), lock);
    let wheels = wheelhouse.wheels_for(&lock).expect("cached by locking");
    assert_eq!(wheels[0].0, "whetdep-1.0-py3-none-any.whl");
    assert!(wheels[0].1.starts_with(cache.path().join("sha256").join(&lock.wheels[0].sha256)), "{:?}", wheels[0].1);

    // Another host, whose index is down: the error names the package and what to set.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let error =
        DependencyCache::at(elsewhere.path()).with_index_url(unreachable_index()).wheels_for(&lock).expect_err("nothing to fetch from");
    let message = error.to_string();
    for needle in ["whetdep==1.0", "unreachable", "PIP_INDEX_URL", "PIP_CERT", "HTTPS_PROXY"] {
        assert!(message.contains(needle), "{needle} missing from: {message}");
    }

    // A wheel whose bytes are not what the lock says is refused, not cached as the locked one.
    let mut tampered = lock.clone();
    tampered.wheels[0].sha256 = "0".repeat(64);
    let other = tempfile::tempdir().expect("tempdir");
    let error = DependencyCache::at(other.path()).with_index_url(&index.url).wheels_for(&tampered).expect_err("hash differs");
    assert!(error.to_string().contains("whetdep"), "{error}");
}

/// A dependency published only as a pure-Python sdist: locked by its hash with the wheels
/// that build it, then built in the image with no network from the host's cache alone.
#[tokio::test(flavor = "multi_thread")]
async fn docker_sdist_only_dependency_is_locked_and_built_offline() {
    let cache = tempfile::tempdir().expect("tempdir");
    let index = LoopbackIndex::serve_with_sdist();
    let lock = DependencyCache::at(cache.path()).with_index_url(&index.url).lock(&["whetsd".to_owned()]).expect("locks the sdist");
    // Another host fetches exactly the locked files, the sdist and its build wheel included.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let fetched = DependencyCache::at(elsewhere.path()).with_index_url(&index.url).wheels_for(&lock).expect("fetched by hash");
    let names: Vec<&str> = fetched.iter().map(|(file, _)| file.as_str()).collect();
    assert_eq!(names, ["whetdep-1.0-py3-none-any.whl", "whetsd-1.0.tar.gz", "whetbuild-1.0-py3-none-any.whl"]);
    drop(index);
    let kinds: Vec<(&str, bool)> = lock.wheels.iter().map(|w| (w.name.as_str(), w.sdist)).collect();
    assert_eq!(kinds, [("whetdep", false), ("whetsd", true)], "the sdist's dependency is resolved as a wheel");
    assert_eq!(lock.build.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(), ["whetbuild"]);
    assert!(lock.summary().contains("1 sdist (whetsd"), "{}", lock.summary());
    let files = lock.files();
    assert_eq!(files.iter().map(|(name, _)| *name).collect::<Vec<_>>(), [PIP_LOCK_FILE, BUILD_LOCK_FILE]);

    // The index is gone: the build takes the sdist and its build wheel from the cache.
    let mut environment = vec![("Dockerfile".to_owned(), python_locked_dockerfile(false).into_bytes())];
    environment.extend(files.into_iter().map(|(name, text)| (name.to_owned(), text.into_bytes())));
    let environment = EnvironmentFiles::new(environment);
    assert!(environment.builds_offline());
    let sandbox = Sandbox::connect("tasks-locked-tests")
        .await
        .expect("Docker is running")
        .with_dependency_cache(DependencyCache::at(cache.path()).with_index_url(unreachable_index()));
    let image = sandbox.ensure_environment_image(&environment, &NoProgress).await.expect("builds offline");
    let script = "python3 -c 'import whetsd; print(whetsd.triple(14))' && python3 -c 'import whetbuild' 2>&1 | tail -1";
    let spec = RunSpec::new(image, vec!["sh".into(), "-c".into(), script.into()], Role::Probe, "sdist-test");
    let outcome = sandbox.run(spec).await.expect("runs");
    assert_eq!(outcome.exit, Exit::Code(0), "{}", outcome.output);
    assert!(outcome.output.starts_with("42\n"), "{}", outcome.output);
    assert!(outcome.output.contains("No module named 'whetbuild'"), "build requirements stay out of the environment: {}", outcome.output);
}

#[test]
fn import_from_a_tarball_records_the_base_commit_and_locks_the_dependencies() {
    let index = LoopbackIndex::serve_whetdep();
    let dir = tempfile::tempdir().expect("tempdir");
    let source = Source::open_tree(&project_tarball(dir.path())).expect("the tarball opens");
    assert!(source.is_tree());
    let cache = tempfile::tempdir().expect("tempdir");
    let options =
        SwebenchOptions { lock_with: Some(DependencyCache::at(cache.path()).with_index_url(&index.url)), ..SwebenchOptions::default() };
    let candidate = swebench::convert(&instance(), &source, &options).expect("converts");
    let file = |path: &str| candidate.task.bundle.file(path).map(|f| String::from_utf8_lossy(&f.bytes).into_owned());
    assert_eq!(file("repo/calc.py").as_deref(), Some("from whetdep import double\n\n\ndef quadruple(x):\n    return double(x) + x\n"));
    assert!(file("repo/tests/test_calc.py").is_none(), "the test patch's file is hidden");
    assert!(file("hidden/tests/test_calc.py").is_some());
    let lock = PipLock::parse(&file(&format!("environment/{PIP_LOCK_FILE}")).expect("a lock")).expect("parses");
    assert_eq!(lock.wheels.iter().map(|w| format!("{}=={}", w.name, w.version)).collect::<Vec<_>>(), ["whetdep==1.0"]);
    let dockerfile = file("environment/Dockerfile").expect("Dockerfile");
    assert!(
        dockerfile.contains("--no-index") && dockerfile.contains("--require-hashes") && !dockerfile.contains("apt-get"),
        "{dockerfile}"
    );
    assert!(file("task.toml").expect("task.toml").contains(BASE_COMMIT), "the base commit is recorded");
    assert!(candidate.notes.iter().any(|n| n.contains("recorded, not checked")), "{:?}", candidate.notes);

    // Locking fails with the package named when the index is down: the instance is dropped.
    let down =
        SwebenchOptions { lock_with: Some(DependencyCache::at(dir.path().join("empty")).with_index_url(unreachable_index())), ..options };
    let dropped = swebench::convert(&instance(), &source, &down).expect_err("cannot lock");
    assert!(dropped.reason.contains("whetdep==1.0") && dropped.reason.contains("PIP_INDEX_URL"), "{}", dropped.reason);
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_locked_environment_builds_offline_and_grades_its_gold_patch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("tempdir");
    // `--apt jq`: locked against the base image (the Debian mirror is reached once, here).
    let apt = vec!["jq".to_owned()];
    let locking =
        Sandbox::connect("tasks-locked-tests").await.expect("Docker is running").with_dependency_cache(DependencyCache::at(cache.path()));
    let apt_lock = locking.lock_debian_packages(&apt, &NoProgress).await.expect("jq locks");
    let candidate = {
        let index = LoopbackIndex::serve_whetdep();
        let source = Source::open_tree(&project_tarball(dir.path())).expect("the tarball opens");
        let wheelhouse = DependencyCache::at(cache.path()).with_index_url(&index.url);
        let options = SwebenchOptions { lock_with: Some(wheelhouse), apt, apt_lock: Some(apt_lock), ..SwebenchOptions::default() };
        swebench::convert(&instance(), &source, &options)
        // The index goes away here: the build must get everything from the host's cache.
    };
    // The reproducer's sandbox takes wheels from the cache locking filled; its index is down.
    let sandbox = Sandbox::connect("tasks-locked-tests")
        .await
        .expect("Docker is running")
        .with_dependency_cache(DependencyCache::at(cache.path()).with_index_url(unreachable_index()));
    let reproducer = ImportReproducer::new(sandbox, &NoProgress);
    let set_dir = dir.path().join("set");
    let mut events = Vec::new();
    let summary = import_all(&reproducer, vec![candidate], &set_dir, |event| {
        if let ImportEvent::Dropped { dropped } = event {
            events.push(dropped.reason.clone());
        }
    })
    .await
    .expect("the import runs");
    assert_eq!(summary.imported.len(), 1, "dropped: {events:#?}");
    let task = &summary.imported[0].task;
    let environment = task.environment();
    assert!(environment.is_locked() && environment.builds_offline(), "no apt-get at build time");
    assert!(
        environment.file(DEBIAN_LOCK_FILE).is_some_and(|lock| String::from_utf8_lossy(lock).lines().any(|line| line.starts_with("jq ")))
    );

    // The written set pins the task with its lock: the digest covers environment/.
    let set = TaskSet::load(&set_dir).expect("the set loads with its pins");
    assert_eq!(set.tasks[0].digest(), task.digest());
    assert!(set.tasks[0].bundle.file(&format!("environment/{PIP_LOCK_FILE}")).is_some());
}

/// A `.crate` file of `whetcheck 0.1.0` (`whetcheck::is_even`): a gzipped tar with one
/// top-level directory, as crates.io serves them.
fn whetcheck_crate() -> Vec<u8> {
    let files = [
        ("whetcheck-0.1.0/Cargo.toml", "[package]\nname = \"whetcheck\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        ("whetcheck-0.1.0/src/lib.rs", "pub fn is_even(n: i64) -> bool {\n    n % 2 == 0\n}\n"),
    ];
    tar_gz(&files)
}

/// `python3 -m http.server` over `<root>/whetcheck/whetcheck-0.1.0.crate`, a crates mirror.
fn serve_crates(crate_bytes: &[u8]) -> LoopbackIndex {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(root.path().join("whetcheck")).expect("dir");
    std::fs::write(root.path().join("whetcheck/whetcheck-0.1.0.crate"), crate_bytes).expect("write");
    LoopbackIndex::serve(root, "")
}

/// A cargo task whose integration test uses the dev-dependency `whetcheck`, vendored from
/// `environment/Cargo.lock` into an image built with no network, graded with the validator's
/// grading: the gold patch resolves it, the empty patch does not.
#[tokio::test(flavor = "multi_thread")]
async fn docker_vendored_dev_dependency_builds_offline_and_grades_its_gold_patch() {
    use sha2::Digest as _;
    use whetstone_tasks::import::Reproducer;

    let crate_bytes = whetcheck_crate();
    let checksum = hex::encode(sha2::Sha256::digest(&crate_bytes));
    let mirror = serve_crates(&crate_bytes);
    let lock = format!(
        "version = 3\n\n[[package]]\nname = \"calc\"\nversion = \"0.1.0\"\ndependencies = [\n \"whetcheck\",\n]\n\n\
         [[package]]\nname = \"whetcheck\"\nversion = \"0.1.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
         checksum = \"{checksum}\"\n"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let task_dir = dir.path().join("calc-double");
    let files = [
        (
            "task.toml",
            "format = 2\nid = \"calc-double\"\nframework = \"cargo\"\n\n[source]\nproject = \"calc\"\nversion = \"0.1.0\"\n\
             license = \"MIT\"\nurl = \"https://example.com/calc\"\n\n[tests]\ncommand = \"cargo test --offline --tests\"\n\
             timeout_secs = 300\nfail_to_pass = [\"tests/test_double.rs::double_is_even\"]\n\
             pass_to_pass = [\"tests/test_double.rs::double_is_positive\"]\n"
                .to_owned(),
        ),
        ("instruction.md", "double(3) is odd.\n".to_owned()),
        ("environment/Dockerfile", whetstone_tasks::curate::project::CARGO_LOCKED_DOCKERFILE.to_owned()),
        ("environment/Cargo.lock", lock.clone()),
        ("repo/Cargo.lock", lock),
        (
            "repo/Cargo.toml",
            "[package]\nname = \"calc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dev-dependencies]\nwhetcheck = \"0.1\"\n".to_owned(),
        ),
        ("repo/src/lib.rs", "pub fn double(x: i64) -> i64 {\n    x + x + 1\n}\n".to_owned()),
        (
            "hidden/tests/test_double.rs",
            "use whetcheck::is_even;\n\n#[test]\nfn double_is_even() {\n    assert!(is_even(calc::double(3)));\n}\n\n\
             #[test]\nfn double_is_positive() {\n    assert!(calc::double(3) > 0);\n}\n"
                .to_owned(),
        ),
        (
            "gold.patch",
            "diff --git a/src/lib.rs b/src/lib.rs\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,3 +1,3 @@\n pub fn double(x: i64) -> i64 {\n-    x + x + 1\n+    x + x\n }\n".to_owned(),
        ),
    ];
    for (path, text) in &files {
        let path = task_dir.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let task = whetstone_tasks::Task::from_dir(&task_dir).expect("the task loads");
    let environment = task.environment();
    assert!(environment.is_locked() && environment.needs_rust_image() && environment.builds_offline());

    let cache = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::connect("tasks-locked-tests")
        .await
        .expect("Docker is running")
        .with_dependency_cache(DependencyCache::at(cache.path()).with_crates_url(&mirror.url));
    let reproducer = ImportReproducer::new(sandbox, &NoProgress);
    let gold = reproducer.grade(&task, task.gold_patch()).await;
    assert_eq!(gold.status, whetstone_tasks::VerdictStatus::Resolved, "{}", gold.notes);
    // The crate comes from the mirror into the cache, under its checksum (the image above may
    // have been built by an earlier run, so fetch it here directly).
    let fetched = DependencyCache::at(cache.path())
        .with_crates_url(&mirror.url)
        .crates_for(
            &whetstone_sandbox::crates::locked_crates(&String::from_utf8_lossy(environment.file("Cargo.lock").expect("lock")))
                .expect("parses"),
        )
        .expect("fetched");
    assert_eq!(fetched[0].1, cache.path().join("sha256").join(&checksum).join("whetcheck-0.1.0.crate"));
    drop(mirror);
    // Without the fix the dev-dependency still builds, and the test it serves fails.
    let unfixed = reproducer.grade(&task, b"").await;
    assert_ne!(unfixed.status, whetstone_tasks::VerdictStatus::Resolved, "{}", unfixed.notes);
    let passed: Vec<&str> =
        unfixed.tests.iter().filter(|t| t.status == whetstone_tasks::TestStatus::Passed).map(|t| t.id.as_str()).collect();
    assert_eq!(passed, ["tests/test_double.rs::double_is_positive"], "{}", unfixed.notes);
}
