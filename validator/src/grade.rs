//! Grading one patch in a fresh container: the pristine repo, the patch without its changes
//! to protected paths, the hidden tests on top, the task's test command, and the grading rule
//! over the JUnit report.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use whetstone_proto::job::SandboxLimits;
use whetstone_sandbox::archive::{pack_dir, pack_files};
use whetstone_sandbox::{Exit, ImageRef, Limits, Role, RunSpec, Sandbox, Upload};
use whetstone_tasks::grading::grade;
use whetstone_tasks::protect::drop_protected;
use whetstone_tasks::{Task, Verdict, VerdictStatus};

use crate::junit;

const GRADE_SCRIPT: &str = include_str!("grade.sh");
const OUTPUT_CAP_BYTES: usize = 64 * 1024;
/// Tests run as the same unprivileged user agents do.
const TEST_UID: (u32, u32) = (1000, 1000);

/// A verdict and the log that explains it.
#[derive(Debug, Clone)]
pub struct Graded {
    pub verdict: Verdict,
    pub log: String,
    pub duration: Duration,
}

/// Grades `patch` against `task` in a fresh container from `image`. Never fails: Docker
/// trouble becomes an infrastructure-error verdict, which the coordinator retries.
pub async fn grade_patch(
    sandbox: &Sandbox,
    image: &ImageRef,
    task: &Task,
    patch: &[u8],
    limits: SandboxLimits,
    job_id: &str,
) -> Graded {
    let started = Instant::now();
    let tests = &task.spec.tests;
    let done = |verdict: Verdict, log: String| Graded { verdict, log, duration: started.elapsed() };

    let filtered = match drop_protected(patch, &task.spec.grading.protected_globs()) {
        Ok(filtered) => filtered,
        Err(error) => {
            return done(Verdict::without_tests(VerdictStatus::PatchRejected, tests, format!("patch rejected: {error}")), String::new());
        }
    };
    let mut notes = Vec::new();
    if !filtered.dropped.is_empty() {
        notes.push(format!("dropped changes to protected paths: {}", filtered.dropped.join(", ")));
    }

    let infra = |message: String| Verdict::without_tests(VerdictStatus::InfraError, tests, message);
    let workspace = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return done(infra(format!("no scratch space: {e}")), String::new()),
    };
    let pristine = workspace.path().join("repo");
    if let Err(error) = whetstone_tasks::repo::materialize(&task.subtree("repo"), &pristine) {
        return done(infra(format!("failed to materialise the repo: {error}")), String::new());
    }
    let uploads = match build_uploads(&pristine, task, &filtered.patch) {
        Ok(uploads) => uploads,
        Err(e) => return done(infra(format!("failed to pack the grading files: {e}")), String::new()),
    };

    let mut spec = RunSpec::new(image.clone(), vec!["sh".into(), "/grading/grade.sh".into()], Role::Grade, job_id);
    spec.working_dir = "/repo".into();
    spec.user = Some(format!("{}:{}", TEST_UID.0, TEST_UID.1));
    spec.env = vec![
        ("HOME".into(), "/tmp".into()),
        ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
        ("WHETSTONE_TEST_COMMAND".into(), tests.command.clone()),
        ("WHETSTONE_TEST_TIMEOUT".into(), tests.timeout_secs.to_string()),
    ];
    spec.uploads = uploads;
    spec.downloads = vec!["/grading/out".into()];
    spec.limits = Limits {
        timeout: limits.timeout.max(Duration::from_secs(tests.timeout_secs + 10)),
        memory_bytes: limits.memory_mib.saturating_mul(1024 * 1024),
        nano_cpus: i64::try_from(limits.cpu_millis.saturating_mul(1_000_000)).unwrap_or(i64::MAX),
        pids: i64::try_from(limits.pids).unwrap_or(i64::MAX),
    };
    spec.output_cap_bytes = OUTPUT_CAP_BYTES;

    let outcome = match sandbox.run(spec).await {
        Ok(outcome) => outcome,
        Err(error) => return done(infra(format!("sandbox failed: {error}")), String::new()),
    };
    let out = outcome.downloads.into_iter().next().and_then(|(_, tar)| tar).map(read_outputs).unwrap_or_default();
    let mut log = outcome.output;
    for name in ["apply.log", "test.log"] {
        if let Some(text) = out.get(name).filter(|t| !t.is_empty()) {
            log.push_str(&format!("--- {name}\n{}\n", cap(text)));
        }
    }
    match outcome.exit {
        Exit::Code(0) => {}
        Exit::TimedOut => {
            notes.push("grading container killed at its deadline".into());
            return done(Verdict::without_tests(VerdictStatus::Unresolved, tests, notes.join("; ")), log);
        }
        Exit::OutOfMemory => return done(infra("grading container ran out of memory".into()), log),
        Exit::Code(code) => return done(infra(format!("grading script failed with exit code {code}")), log),
    }

    let apply_mode = out.get("apply_mode").map(|m| m.trim().to_owned()).unwrap_or_default();
    match apply_mode.as_str() {
        "strict" | "empty" => notes.push(format!("patch applied: {apply_mode}")),
        "fuzzy" => notes.push("patch applied: fuzzy (git apply refused it; patch --fuzz=3 accepted it)".into()),
        "failed" => {
            notes.push("patch does not apply".into());
            return done(Verdict::without_tests(VerdictStatus::PatchRejected, tests, notes.join("; ")), log);
        }
        other => return done(infra(format!("grading script left no patch result ({other:?})")), log),
    }
    let test_exit = out.get("test_exit").map(|t| t.trim().to_owned()).unwrap_or_default();
    if test_exit == "137" {
        notes.push(format!("test command killed at its {}s timeout", tests.timeout_secs));
    }
    let report = match out.get("junit.xml").map(|x| junit::parse(x.as_bytes())) {
        Some(Ok(report)) => report,
        Some(Err(error)) => {
            notes.push(format!("unreadable test report: {error}"));
            HashMap::new()
        }
        None => {
            notes.push(format!("the test command wrote no report (exit {test_exit})"));
            HashMap::new()
        }
    };
    done(grade(tests, &report, notes.join("; ")), log)
}

/// `/repo` (pristine, with its one commit), and `/grading/` with the script, the patch, the
/// hidden files and an empty `out/`.
fn build_uploads(pristine: &std::path::Path, task: &Task, patch: &[u8]) -> std::io::Result<Vec<Upload>> {
    let repo = pack_dir(pristine, "repo", TEST_UID)?;
    let mut files: Vec<(String, Vec<u8>, u32)> = vec![
        ("grading/grade.sh".into(), GRADE_SCRIPT.as_bytes().to_vec(), 0o755),
        ("grading/patch.diff".into(), patch.to_vec(), 0o644),
        ("grading/out/.keep".into(), Vec::new(), 0o644),
    ];
    for file in task.subtree("hidden").files {
        files.push((format!("grading/hidden/{}", file.path), file.bytes, if file.executable { 0o755 } else { 0o644 }));
    }
    let grading = pack_files(&files, TEST_UID)?;
    Ok(vec![Upload { dest_dir: "/".into(), tar: repo }, Upload { dest_dir: "/".into(), tar: grading }])
}

/// The files of the downloaded `out/` directory, by name.
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
