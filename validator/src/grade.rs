//! Grading one patch in a fresh container: the pristine repo, the patch without its changes
//! to protected paths, the hidden tests on top, the task's test command under the validator's
//! settings, and a verdict from the JUnit report once it has been cross-checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tar::{Builder, EntryType, Header};
use whetstone_proto::job::SandboxLimits;
use whetstone_sandbox::archive::pack_dir;
use whetstone_sandbox::{ImageRef, Limits, Role, RunSpec, Sandbox, Timings, Tmpfs, Upload};
use whetstone_tasks::protect::{drop_protected, grading_globs};
use whetstone_tasks::report;
use whetstone_tasks::task::Framework;
use whetstone_tasks::{Digest, Task, Verdict, VerdictStatus};

use crate::audit;
use crate::canary::Canary;
use crate::script::{self, ScriptResult};
use crate::verdict::{Evidence, judge};

const SUPERVISOR: &str = include_str!("grade.py");
const OUTPUT_CAP_BYTES: usize = 64 * 1024;
/// Tests run as the same unprivileged user agents do.
const TEST_UID: (u32, u32) = (1000, 1000);
const ROOT: (u32, u32) = (0, 0);
/// Time the container gets beyond the task's test timeout: applying the patch, the overlay,
/// the supervisor's kill grace (5 s) and collecting the results.
const CONTAINER_SLACK: Duration = Duration::from_secs(60);
/// The work tree: the repository, the patch's changes and whatever the tests write there.
const REPO_TMPFS_BYTES: u64 = 1024 * 1024 * 1024;
/// The supervisor, the patch (at most 16 MiB) and the hidden files.
const GRADING_TMPFS_BYTES: u64 = 128 * 1024 * 1024;
/// The report (the supervisor reads at most 32 MiB of it) and the logs.
const OUT_TMPFS_BYTES: u64 = 96 * 1024 * 1024;
/// Packed pristine repositories kept, most recently used first.
const REPO_TAR_CACHE: usize = 8;

/// Packed pristine repositories by task digest. Making the single commit and packing the tree
/// costs tens of milliseconds per grading and gives a working copy of the same commit every
/// time, so it is done once per task.
static REPO_TARS: Mutex<Vec<(Digest, Arc<Vec<u8>>)>> = Mutex::new(Vec::new());

/// A verdict, the log that explains it, and where the time went.
#[derive(Debug, Clone)]
pub struct Graded {
    pub verdict: Verdict,
    pub log: String,
    pub duration: Duration,
    /// Time spent on the host before the container: filtering the patch, materialising the
    /// repository and packing the uploads.
    pub prepare: Duration,
    /// The sandbox's own account (create + upload, start → exit, total with removal); zero
    /// when no container ran.
    pub timings: Timings,
    /// The supervisor's account from inside the container, when it finished.
    pub phases: Option<Phases>,
}

/// Time inside the grading container, as the supervisor measured it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases {
    pub apply: Duration,
    pub overlay: Duration,
    pub tests: Duration,
    /// The supervisor's whole run (the phases plus its own start, cleanup and collection).
    pub supervisor: Duration,
}

/// Grades `patch` against `task` in a fresh container from `image`. Never fails: Docker
/// trouble becomes an infrastructure-error verdict, which the coordinator retries.
pub async fn grade_patch(sandbox: &Sandbox, image: &ImageRef, task: &Task, patch: &[u8], limits: SandboxLimits, job_id: &str) -> Graded {
    let started = Instant::now();
    let tests = &task.spec.tests;
    let mut graded = Graded {
        verdict: Verdict::without_tests(VerdictStatus::InfraError, tests, ""),
        log: String::new(),
        duration: Duration::ZERO,
        prepare: Duration::ZERO,
        timings: Timings::default(),
        phases: None,
    };
    let finish = |mut graded: Graded, verdict: Verdict| {
        graded.verdict = verdict;
        graded.duration = started.elapsed();
        graded
    };

    let filtered = match drop_protected(patch, &grading_globs(task)) {
        Ok(filtered) => filtered,
        Err(error) => {
            let verdict = Verdict::without_tests(VerdictStatus::PatchRejected, tests, format!("patch rejected: {error}"));
            return finish(graded, verdict);
        }
    };
    let mut notes = Vec::new();
    if !filtered.dropped.is_empty() {
        notes.push(format!("dropped changes to protected paths: {}", filtered.dropped.join(", ")));
    }
    let markers = audit::markers(&filtered.patch);
    if !markers.is_empty() {
        notes.push(format!("audit: the patch adds lines mentioning {}", markers.join(", ")));
    }

    let canary = Canary::plant(task).map_err(|why| notes.push(why)).ok();

    let infra = |message: String| Verdict::without_tests(VerdictStatus::InfraError, tests, message);
    let junit_token = uuid::Uuid::new_v4().simple().to_string();
    let uploads = match build_uploads(task, &filtered.patch, canary.as_ref()) {
        Ok(uploads) => uploads,
        Err(e) => return finish(graded, infra(format!("failed to prepare the grading files: {e}"))),
    };
    graded.prepare = started.elapsed();

    let command = ["python3", "-I", "-S", "/grading/grade.py"].map(String::from).to_vec();
    let mut spec = RunSpec::new(image.clone(), command, Role::Grade, job_id);
    spec.working_dir = "/repo".into();
    spec.user = Some(format!("{}:{}", TEST_UID.0, TEST_UID.1));
    spec.env = vec![
        ("HOME".into(), "/tmp".into()),
        ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
        ("WHETSTONE_TEST_COMMAND".into(), tests.command.clone()),
        ("WHETSTONE_TEST_TIMEOUT".into(), tests.timeout_secs.to_string()),
        ("WHETSTONE_JUNIT_TOKEN".into(), junit_token.clone()),
        ("WHETSTONE_TEST_FRAMEWORK".into(), task.spec.framework.as_str().into()),
    ];
    spec.uploads = uploads;
    spec.downloads = vec!["/grading/out".into()];
    // Nothing but these mounts (and the default scratch /tmp) is writable, and each is
    // capped: a test that fills the disk fills its own tmpfs.
    spec.read_only_root = true;
    spec.tmpfs.extend([
        Tmpfs::owned_by("/repo", REPO_TMPFS_BYTES, TEST_UID),
        Tmpfs::read_only_to_users("/grading", GRADING_TMPFS_BYTES),
        Tmpfs::owned_by("/grading/out", OUT_TMPFS_BYTES, TEST_UID),
    ]);
    spec.limits = Limits {
        timeout: limits.timeout.max(Duration::from_secs(tests.timeout_secs) + CONTAINER_SLACK),
        memory_bytes: limits.memory_mib.saturating_mul(1024 * 1024),
        nano_cpus: i64::try_from(limits.cpu_millis.saturating_mul(1_000_000)).unwrap_or(i64::MAX),
        pids: i64::try_from(limits.pids).unwrap_or(i64::MAX),
    };
    spec.output_cap_bytes = OUTPUT_CAP_BYTES;

    let outcome = match sandbox.run(spec).await {
        Ok(outcome) => outcome,
        Err(error) => return finish(graded, infra(format!("sandbox failed: {error}"))),
    };
    graded.timings = outcome.timings;
    notes.extend(outcome.download_problems.iter().map(|problem| format!("grading output: {problem}")));
    notes.extend(outcome.full_filesystems().map(|fs| format!("{} was full when the tests ended", fs.path)));
    let status = script::parse(&outcome.output);
    graded.phases = status.result.as_ref().map(phases);
    let out = outcome.downloads.into_iter().next().and_then(|(_, tar)| tar).map(read_outputs).unwrap_or_default();
    let mut log = outcome.output;
    for name in ["apply.log", "test.log"] {
        if let Some(text) = out.get(name).filter(|t| !t.is_empty()) {
            log.push_str(&format!("--- {name}\n{}\n", cap(text)));
        }
    }
    graded.log = log;
    let cargo_report = cargo_junit(task, &status, out.get("test.log"), &mut notes);
    let junit = match task.spec.framework {
        Framework::Pytest => out.get(&format!("junit-{junit_token}.xml")).map(String::as_str),
        Framework::Cargo => cargo_report.as_deref(),
    };
    let test_log = out.get("test.log").map(String::as_str).unwrap_or_default();
    let evidence = Evidence { exit: outcome.exit, script: &status, junit, test_log, canary: canary.as_ref() };
    let verdict = judge(tests, evidence, notes);
    finish(graded, verdict)
}

/// For a cargo task, the JUnit report the grader makes from libtest's output in `test.log`
/// (`whetstone_tasks::report`). Output whose test lines disagree with libtest's own counts
/// gives no report, so no test counts as passed.
fn cargo_junit(task: &Task, status: &script::ScriptStatus, test_log: Option<&String>, notes: &mut Vec<String>) -> Option<String> {
    if task.spec.framework != Framework::Cargo || status.result.as_ref().is_none_or(|r| r.report != "ok") {
        return None;
    }
    match report::parse_libtest(test_log?) {
        Ok(results) => Some(report::to_junit(&results)),
        Err(error) => {
            notes.push(format!("cargo's output cannot be read as a test report: {error}"));
            None
        }
    }
}

fn phases(result: &ScriptResult) -> Phases {
    Phases {
        apply: Duration::from_millis(result.apply_ms),
        overlay: Duration::from_millis(result.overlay_ms),
        tests: Duration::from_millis(result.tests_ms),
        supervisor: Duration::from_millis(result.supervisor_ms),
    }
}

/// `/repo`: the pristine tree with its one commit, owned by the test user. `/grading`: the
/// supervisor, the patch and the hidden files, owned by root and read-only to the tests; its
/// `out/` (a mount of its own) is the only place there the test user may write. The planted
/// failing test, if any, is appended to its hidden file here, so it exists only in this
/// grading's container.
fn build_uploads(task: &Task, patch: &[u8], canary: Option<&Canary>) -> std::io::Result<Vec<Upload>> {
    let repo = packed_repo(task)?;

    let mut grading = Builder::new(Vec::new());
    append_file(&mut grading, "grade.py", SUPERVISOR.as_bytes(), 0o644)?;
    append_file(&mut grading, "patch.diff", patch, 0o644)?;
    append_dir(&mut grading, "hidden", ROOT)?;
    let mut hidden: Vec<_> = task.bundle.files.iter().filter(|f| f.path.starts_with("hidden/")).collect();
    hidden.sort_by(|a, b| a.path.cmp(&b.path));
    let mut dirs_done = Vec::<String>::new();
    for file in hidden {
        let parts: Vec<&str> = file.path.split('/').collect();
        let mut dir = String::from("hidden");
        for part in &parts[1..parts.len() - 1] {
            dir = format!("{dir}/{part}");
            if !dirs_done.contains(&dir) {
                append_dir(&mut grading, &dir, ROOT)?;
                dirs_done.push(dir.clone());
            }
        }
        let mode = if file.executable { 0o755 } else { 0o644 };
        match canary.filter(|canary| canary.path == file.path) {
            Some(canary) => append_file(&mut grading, &file.path, &[file.bytes.as_slice(), canary.text.as_bytes()].concat(), mode)?,
            None => append_file(&mut grading, &file.path, &file.bytes, mode)?,
        }
    }
    Ok(vec![Upload { dest_dir: "/repo".into(), tar: repo.to_vec() }, Upload { dest_dir: "/grading".into(), tar: grading.into_inner()? }])
}

/// The pristine repository with its one commit, packed for `/repo` (see [`REPO_TARS`]).
fn packed_repo(task: &Task) -> std::io::Result<Arc<Vec<u8>>> {
    let cached = |tars: &mut Vec<(Digest, Arc<Vec<u8>>)>| {
        let at = tars.iter().position(|(digest, _)| digest == task.digest())?;
        let hit = tars.remove(at);
        tars.insert(0, hit.clone());
        Some(hit.1)
    };
    if let Some(tar) = cached(&mut REPO_TARS.lock().unwrap_or_else(PoisonError::into_inner)) {
        return Ok(tar);
    }
    let workspace = tempfile::tempdir()?;
    let pristine = workspace.path().join("repo");
    whetstone_tasks::repo::materialize(&task.subtree("repo"), &pristine).map_err(std::io::Error::other)?;
    let tar = Arc::new(pack_dir(&pristine, "", TEST_UID)?);
    let mut tars = REPO_TARS.lock().unwrap_or_else(PoisonError::into_inner);
    tars.retain(|(digest, _)| digest != task.digest());
    tars.insert(0, (task.digest().clone(), tar.clone()));
    tars.truncate(REPO_TAR_CACHE);
    Ok(tar)
}

fn header(entry_type: EntryType, mode: u32, (uid, gid): (u32, u32), size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(entry_type);
    header.set_mode(mode);
    header.set_uid(u64::from(uid));
    header.set_gid(u64::from(gid));
    header.set_mtime(0);
    header.set_size(size);
    header
}

fn append_dir(builder: &mut Builder<Vec<u8>>, path: &str, owner: (u32, u32)) -> std::io::Result<()> {
    let mut header = header(EntryType::Directory, 0o755, owner, 0);
    builder.append_data(&mut header, format!("{path}/"), std::io::empty())
}

fn append_file(builder: &mut Builder<Vec<u8>>, path: &str, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut header = header(EntryType::Regular, mode, ROOT, bytes.len() as u64);
    builder.append_data(&mut header, path, bytes)
}

/// The regular files of the downloaded `out/` directory, by name.
fn read_outputs(tar: Vec<u8>) -> HashMap<String, String> {
    let mut files = HashMap::new();
    let mut archive = tar::Archive::new(tar.as_slice());
    let Ok(entries) = archive.entries() else { return files };
    for mut entry in entries.flatten() {
        let Ok(path) = entry.path().map(|p| p.to_string_lossy().into_owned()) else { continue };
        let name = path.rsplit('/').next().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        if entry.header().entry_type().is_file() && std::io::Read::read_to_end(&mut entry, &mut bytes).is_ok() {
            files.insert(name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    files
}

fn cap(text: &str) -> String {
    const KEEP: usize = 16 * 1024;
    if text.len() <= 2 * KEEP {
        return text.to_owned();
    }
    let head = text.char_indices().take_while(|(i, _)| *i < KEEP).map(|(_, c)| c).collect::<String>();
    let tail_start = text.char_indices().map(|(i, _)| i).find(|i| *i >= text.len() - KEEP).unwrap_or(0);
    format!("{head}\n[… {} bytes cut …]\n{}", text.len() - head.len() - (text.len() - tail_start), &text[tail_start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grading_files_are_root_owned_and_complete() {
        let set = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tasks/sets/starter");
        let task = whetstone_tasks::TaskSet::load(&set).expect("starter set").tasks.remove(0);
        let canary = Canary::plant(&task).expect("a canary");
        let uploads = build_uploads(&task, b"patch", Some(&canary)).expect("uploads");
        assert_eq!(uploads.iter().map(|u| u.dest_dir.as_str()).collect::<Vec<_>>(), ["/repo", "/grading"]);
        let mut entries = HashMap::new();
        let mut archive = tar::Archive::new(uploads[1].tar.as_slice());
        for entry in archive.entries().expect("tar").flatten() {
            let path = entry.path().expect("path").to_string_lossy().trim_end_matches('/').to_owned();
            entries.insert(path, (entry.header().uid().expect("uid"), entry.header().mode().expect("mode")));
        }
        assert_eq!(entries["grade.py"], (0, 0o644));
        assert_eq!(entries["patch.diff"], (0, 0o644));
        let hidden: Vec<_> = entries.iter().filter(|(p, _)| p.starts_with("hidden")).collect();
        assert!(hidden.len() >= 3, "{hidden:?}");
        assert!(entries.values().all(|(uid, _)| *uid == 0), "{entries:?}");
        for path in entries.keys() {
            if let Some((parent, _)) = path.rsplit_once('/') {
                assert!(entries.contains_key(parent), "{parent} of {path}");
            }
        }
        let mut grading = tar::Archive::new(uploads[1].tar.as_slice());
        let planted = grading
            .entries()
            .expect("tar")
            .flatten()
            .find(|e| e.path().expect("path").to_string_lossy() == canary.path)
            .map(|mut e| {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut e, &mut text).expect("utf-8");
                text
            })
            .expect("the canary's file is uploaded");
        let original = task.bundle.file(&canary.path).expect("hidden file").bytes.clone();
        assert_eq!(planted, format!("{}{}", String::from_utf8(original).expect("utf-8"), canary.text));
        let mut repo = tar::Archive::new(uploads[0].tar.as_slice());
        let names: Vec<String> =
            repo.entries().expect("tar").flatten().map(|e| e.path().expect("path").to_string_lossy().into_owned()).collect();
        assert!(names.iter().any(|n| n.starts_with(".git/")) && names.iter().any(|n| n == "toolz/itertoolz.py"), "{names:?}");
    }
}
