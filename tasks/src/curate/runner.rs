//! Runs the curation driver (`driver.py`) in a single-use container from a project's
//! environment image and reads back what each step left: per-test results parsed with
//! [`crate::report`], exactly as the grader will read them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use whetstone_sandbox::archive::pack_files;
use whetstone_sandbox::{Exit, ImageRef, Limits, Role, RunSpec, Sandbox, Tmpfs, Upload};

use super::CurateError;
use crate::digest::TreeFile;
use crate::report::{TestCase, parse_junit, parse_libtest};
use crate::task::Framework;

const DRIVER: &str = include_str!("driver.py");
const MARK: &str = "whetstone-curate: ";
const WORK_UID: (u32, u32) = (1000, 1000);
/// The clean tree, its build output (cargo's target directory lives here) and the reports.
const WORK_TMPFS_BYTES: u64 = 1536 * 1024 * 1024;
const MEMORY_BYTES: u64 = 3 * 1024 * 1024 * 1024;

/// A project's test environment: everything validation needs to run its suite.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The project's environment image (built from its Dockerfile on the base image).
    pub image: ImageRef,
    pub framework: Framework,
    /// Run by `sh -c` at the repository root.
    pub command: String,
    /// Per suite run.
    pub timeout_secs: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct DriverCandidate<'a> {
    pub id: &'a str,
    pub bug: &'a str,
    pub gold: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct DriverJob<'a> {
    pub mode: &'static str,
    pub framework: Framework,
    pub command: &'a str,
    pub timeout_secs: u64,
    pub runs: u32,
    /// A candidate whose first run fails more tests than this is not run again.
    pub max_failing: usize,
    pub candidates: Vec<DriverCandidate<'a>>,
}

/// One line the driver printed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct StepLine {
    phase: String,
    candidate: Option<String>,
    name: Option<String>,
    exit: Option<i64>,
    secs: f64,
    timed_out: bool,
    ok: Option<bool>,
    log: Option<String>,
}

/// One finished step with its parsed report.
#[derive(Debug, Clone)]
pub struct Step {
    /// `baseline`, `bug`, `gold`, `apply-bug` or `apply-gold`.
    pub phase: String,
    pub candidate: Option<String>,
    pub exit: Option<i64>,
    pub secs: f64,
    pub timed_out: bool,
    /// False for a patch that did not apply.
    pub applied: bool,
    /// The per-test results; `Err` says why there are none (no report, unparsable, …).
    pub report: Result<BTreeMap<String, TestCase>, String>,
    /// The end of the run's output (the build error of a candidate that does not compile).
    pub log_tail: String,
}

/// Runs `job` on `base` (the clean tree) in one container and returns its steps in order.
pub(crate) async fn run_driver(
    sandbox: &Sandbox,
    env: &Environment,
    base: &[TreeFile],
    job: &DriverJob<'_>,
    job_id: &str,
) -> Result<Vec<Step>, CurateError> {
    let job_json = serde_json::to_vec(job).map_err(|e| CurateError::Driver(format!("cannot encode the job: {e}")))?;
    let mut entries: Vec<(String, Vec<u8>, u32)> =
        vec![("driver.py".into(), DRIVER.as_bytes().to_vec(), 0o644), ("job.json".into(), job_json, 0o644)];
    entries.extend(base.iter().map(|f| (format!("repo/{}", f.path), f.bytes.clone(), if f.executable { 0o755 } else { 0o644 })));
    let tar = pack_files(&entries, WORK_UID).map_err(|e| CurateError::Driver(format!("cannot pack the tree: {e}")))?;
    let runs_per_candidate = u64::from(job.runs) + 1;
    let steps = (job.candidates.len().max(1) as u64) * runs_per_candidate;
    let mut spec =
        RunSpec::new(env.image.clone(), ["python3", "-I", "-S", "/work/driver.py"].map(String::from).to_vec(), Role::Probe, job_id);
    spec.working_dir = "/work".into();
    spec.user = Some(format!("{}:{}", WORK_UID.0, WORK_UID.1));
    spec.env = vec![("HOME".into(), "/tmp".into()), ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())];
    spec.read_only_root = true;
    spec.tmpfs.push(Tmpfs::owned_by("/work", WORK_TMPFS_BYTES, WORK_UID));
    spec.uploads = vec![Upload { dest_dir: "/work".into(), tar }];
    spec.downloads = vec!["/work/out".into()];
    spec.limits = Limits {
        timeout: Duration::from_secs(60 + steps * (env.timeout_secs + 5)),
        memory_bytes: MEMORY_BYTES,
        nano_cpus: 1_000_000_000,
        pids: 1024,
    };
    spec.output_cap_bytes = 4 * 1024 * 1024;
    let outcome = sandbox.run(spec).await?;
    let out = outcome.downloads.into_iter().next().and_then(|(_, tar)| tar).map(read_outputs).unwrap_or_default();
    let lines: Vec<StepLine> =
        outcome.output.lines().filter_map(|l| l.strip_prefix(MARK)).filter_map(|json| serde_json::from_str(json).ok()).collect();
    if !lines.iter().any(|l| l.phase == "done") {
        let why = match outcome.exit {
            Exit::TimedOut => "the container reached its deadline".to_owned(),
            Exit::OutOfMemory => "the container ran out of memory".to_owned(),
            Exit::Code(code) => format!("the driver exited with {code}"),
        };
        let tail: String = outcome.output.chars().rev().take(2000).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(CurateError::Driver(format!("{why} before finishing: {tail}")));
    }
    Ok(lines
        .into_iter()
        .filter(|l| l.phase != "done")
        .map(|line| {
            let name = line.name.clone().unwrap_or_default();
            let log = out.get(&format!("{name}.log")).cloned().unwrap_or_default();
            let report = if line.phase.starts_with("apply-") {
                Err("patch did not apply".to_owned())
            } else {
                match env.framework {
                    Framework::Pytest => match out.get(&format!("{name}.xml")) {
                        Some(xml) => parse_junit(xml.as_bytes()).map_err(|e| e.to_string()),
                        None => Err("pytest wrote no report".to_owned()),
                    },
                    Framework::Cargo => parse_libtest(&log).map_err(|e| e.to_string()),
                }
            };
            let log_tail = tail(line.log.as_deref().unwrap_or(&log), 3000);
            Step {
                applied: line.ok.unwrap_or(true),
                phase: line.phase,
                candidate: line.candidate,
                exit: line.exit,
                secs: line.secs,
                timed_out: line.timed_out,
                report,
                log_tail,
            }
        })
        .collect())
}

fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let start = text.char_indices().map(|(i, _)| i).find(|i| *i >= text.len() - max).unwrap_or(0);
    text[start..].to_owned()
}

/// Regular files of the downloaded `out/` directory, by name.
fn read_outputs(tar: Vec<u8>) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
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
