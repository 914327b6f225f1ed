//! Miner tooling: `whetstone agent init` (scaffold a working agent) and `whetstone agent test`
//! (run an agent on tasks exactly as production does: the same image, sandbox, inference
//! proxy and budget, then the validator's grading).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use whetstone_agent_runner::proxy::{ProxyConfig, UpstreamKey};
use whetstone_agent_runner::scripted::{ScriptError, ScriptedUpstream};
use whetstone_agent_runner::{GatewayError, InferenceGateway, agent_image, agent_limits, run_agent, run_agent_with_llm};
use whetstone_proto::job::{RunOutcome, RunReport, SandboxLimits};
use whetstone_sandbox::{ImageRef, LogProgress, Sandbox, SandboxError};
use whetstone_tasks::{AgentPackage, Task, TaskSet, Verdict, VerdictStatus};

use crate::ui::{self, Spinner};

const TEMPLATE_AGENT: &str = include_str!("../examples/agents/llm/agent.py");

/// The proxy allowlist `agent test` uses when no `--proxy-config` is given: production's
/// shape, with the scripted upstream's model at a real model's price so costs look real.
const DEFAULT_PROXY_CONFIG: &str = r#"
upstream_base_url = "http://127.0.0.1:1/v1"
request_timeout_secs = 120

[[models]]
name = "deepseek-ai/DeepSeek-V3"
input_micro_usd_per_mtok = 270000
output_micro_usd_per_mtok = 1100000
max_output_tokens = 8192

[[models]]
name = "Qwen/Qwen3-Coder-480B-A35B-Instruct"
input_micro_usd_per_mtok = 400000
output_micro_usd_per_mtok = 1600000
max_output_tokens = 8192

[[models]]
name = "whetstone/scripted"
input_micro_usd_per_mtok = 270000
output_micro_usd_per_mtok = 1100000
max_output_tokens = 8192
"#;

#[derive(Debug, thiserror::Error)]
pub enum AgentToolError {
    #[error("{0} already exists and is not empty; pick a new directory")]
    NotEmpty(PathBuf),
    #[error("failed to write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid agent (see agent-runner/AGENT_CONTRACT.md)")]
    Agent {
        path: PathBuf,
        #[source]
        source: whetstone_tasks::agent::AgentError,
    },
    #[error("task set {path} is invalid")]
    TaskSet {
        path: PathBuf,
        #[source]
        source: whetstone_tasks::task::TaskError,
    },
    #[error("no task matches {0:?}; `whetstone tasks check` lists the tasks of a set")]
    NoSuchTask(String),
    #[error("failed to read the proxy config {path}")]
    ProxyConfig {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Script(#[from] ScriptError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
}

/// Writes a working Python LLM agent (the reference agent) into `dir`, which must not exist
/// or be empty. Returns the files written.
pub fn init(dir: &Path, name: Option<&str>) -> Result<Vec<PathBuf>, AgentToolError> {
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(AgentToolError::NotEmpty(dir.to_owned()));
    }
    let name = name.map(str::to_owned).unwrap_or_else(|| agent_name(dir));
    let manifest = format!(
        "# Your agent: see agent-runner/AGENT_CONTRACT.md for everything it gets in the sandbox.\n\
         name = \"{name}\"\n\
         version = \"0.1.0\"\n\
         # Run in /agent; the repo is at $WHETSTONE_REPO, the task at $WHETSTONE_INSTRUCTION_FILE.\n\
         entrypoint = [\"python3\", \"agent.py\"]\n\
         description = \"Started from the Whetstone reference LLM agent.\"\n\
         \n\
         # Debian packages your agent needs on top of the task image (Python 3, pytest, git).\n\
         [runtime]\n\
         packages = []\n\
         \n\
         # Upper bounds; the subnet's limits apply when you ask for more or nothing.\n\
         [resources]\n\
         memory_mib = 1024\n"
    );
    let files = [(dir.join("agent.toml"), manifest), (dir.join("agent.py"), TEMPLATE_AGENT.to_owned())];
    std::fs::create_dir_all(dir).map_err(|source| AgentToolError::Write { path: dir.to_owned(), source })?;
    for (path, text) in &files {
        std::fs::write(path, text).map_err(|source| AgentToolError::Write { path: path.clone(), source })?;
    }
    // The scaffold must be a valid package, or the miner's first submit fails.
    AgentPackage::from_dir(dir).map_err(|source| AgentToolError::Agent { path: dir.to_owned(), source })?;
    Ok(files.into_iter().map(|(path, _)| path).collect())
}

/// `[a-z0-9][a-z0-9-]*` from a directory name.
fn agent_name(dir: &Path) -> String {
    let raw = dir.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let cleaned: String = raw.chars().map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' }).collect();
    let trimmed = cleaned.trim_matches('-');
    if trimmed.is_empty() { "my-agent".to_owned() } else { trimmed.chars().take(64).collect() }
}

/// Where the proxy forwards during `agent test`.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// No LLM access: agents run with no network, as production runs them without a budget.
    None,
    /// Any OpenAI-compatible base URL (`http://127.0.0.1:8000/v1`); the key is read from the
    /// config's `upstream_api_key_env`, or none when unset.
    Url(String),
    /// Recorded replies served locally (see `whetstone_agent_runner::scripted`).
    Scripted(PathBuf),
}

impl Upstream {
    /// `scripted:FILE`, a URL, or nothing.
    pub fn parse(text: Option<&str>) -> Self {
        match text {
            None => Self::None,
            Some(text) => match text.strip_prefix("scripted:") {
                Some(path) => Self::Scripted(PathBuf::from(path)),
                None => Self::Url(text.to_owned()),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct AgentTestOptions {
    pub agent_dir: PathBuf,
    pub task_sets: Vec<PathBuf>,
    /// Only these task ids (all when empty).
    pub tasks: Vec<String>,
    pub upstream: Upstream,
    /// The operator's proxy config (allowlist and prices); a built-in one when `None`.
    pub proxy_config: Option<PathBuf>,
    pub budget_micro_usd: u64,
    /// The subnet's agent limits (the agent's `[resources]` lower them).
    pub limits: SandboxLimits,
    /// The subnet's grading limits; the timeout is the task's plus `grade_overhead`.
    pub grade_limits: SandboxLimits,
    pub grade_overhead: Duration,
    /// Tasks run (and graded) at once; at least 1.
    pub jobs: usize,
}

/// One task's result.
#[derive(Debug, Clone)]
pub struct TaskOutcome {
    pub task_id: String,
    pub run: RunReport,
    /// `None` when the run produced nothing to grade (agent or infrastructure error).
    pub verdict: Option<Verdict>,
    pub elapsed: Duration,
}

impl TaskOutcome {
    /// `whetstone agent test`'s line for this task: the verdict (or why there is none), the LLM
    /// spend and the time.
    pub fn line(&self) -> String {
        let result = match &self.verdict {
            Some(v) => match v.status {
                VerdictStatus::Resolved => "✓ resolved".to_owned(),
                VerdictStatus::Unresolved => format!(
                    "✗ unresolved (fail→pass {}/{}, pass→pass {}/{})",
                    v.fail_to_pass_passed, v.fail_to_pass_total, v.pass_to_pass_passed, v.pass_to_pass_total
                ),
                VerdictStatus::PatchRejected => format!("✗ patch rejected: {}", ui::short(&v.notes, 80)),
                VerdictStatus::InfraError => format!("! grader failed: {}", ui::short(&v.notes, 80)),
            },
            None => format!("✗ {}: {}", self.run.outcome.as_str(), ui::short(&self.run.error, 80)),
        };
        let llm = &self.run.llm;
        let refused = if llm.refused > 0 { format!(", {} refused", llm.refused) } else { String::new() };
        format!(
            "{:<36} {result}  {} in {} LLM calls{refused}  {:.1}s",
            self.task_id,
            ui::usd(llm.spent_micro_usd),
            llm.calls.len(),
            self.elapsed.as_secs_f64()
        )
    }
}

/// Runs the agent on every selected task, each in a fresh sandbox, and grades each patch.
pub async fn test_agent(options: &AgentTestOptions, spinner: &Spinner) -> Result<Vec<TaskOutcome>, AgentToolError> {
    let agent =
        AgentPackage::from_dir(&options.agent_dir).map_err(|source| AgentToolError::Agent { path: options.agent_dir.clone(), source })?;
    spinner.println(format!("agent {} {}  digest {}", agent.manifest.name, agent.manifest.version, agent.digest()));
    let tasks = select_tasks(options)?;
    let sandbox = Sandbox::connect(&format!("agent-test-{}", std::process::id())).await?;

    let (llm, scripted) = proxy_upstream(&options.upstream, options.proxy_config.as_deref()).await?;
    let gateway = match llm {
        Some((config, key)) if options.budget_micro_usd > 0 => {
            spinner.set("starting the inference proxy");
            Some(Arc::new(InferenceGateway::start(&sandbox, config, key).await?))
        }
        _ => None,
    };

    // Images first, one at a time: tasks of one project share theirs, and each is built once.
    let mut images = Vec::with_capacity(tasks.len());
    for (index, task) in tasks.iter().enumerate() {
        spinner.set(format!("[{}/{}] {}: preparing the image", index + 1, tasks.len(), task.spec.id));
        images.push(agent_image(&sandbox, &task.visible(), &agent, &LogProgress).await?);
    }
    let bench = TestBench { sandbox: &sandbox, agent: &agent, gateway: gateway.as_deref(), options, spinner, total: tasks.len() };
    let mut running = futures::stream::iter(tasks.iter().zip(&images).enumerate())
        .map(|(index, (task, image))| {
            let bench = &bench;
            async move { (index, bench.run(index, task, image).await) }
        })
        .buffer_unordered(options.jobs.max(1));
    let mut outcomes = Vec::with_capacity(tasks.len());
    while let Some((index, outcome)) = running.next().await {
        let outcome = outcome?;
        spinner.println(outcome.line());
        outcomes.push((index, outcome));
        if options.jobs > 1 {
            spinner.set(format!("{}/{} tasks done", outcomes.len(), tasks.len()));
        }
    }
    drop(running);
    outcomes.sort_by_key(|(index, _)| *index);
    let outcomes: Vec<TaskOutcome> = outcomes.into_iter().map(|(_, outcome)| outcome).collect();
    if let Some(gateway) = gateway.and_then(Arc::into_inner) {
        gateway.shutdown().await;
    }
    if let Some(scripted) = &scripted {
        let (requests, unmatched) = scripted.requests();
        if unmatched > 0 {
            spinner.println(format!("scripted upstream: {unmatched} of {requests} requests matched no recorded reply (answered 503)"));
        }
    }
    Ok(outcomes)
}

/// What every task of one `agent test` shares.
struct TestBench<'a> {
    sandbox: &'a Sandbox,
    agent: &'a AgentPackage,
    gateway: Option<&'a InferenceGateway>,
    options: &'a AgentTestOptions,
    spinner: &'a Spinner,
    total: usize,
}

impl TestBench<'_> {
    /// Runs the agent on one task in a fresh sandbox, as a runner does, and grades the patch
    /// as a validator does.
    async fn run(&self, index: usize, task: &Task, image: &ImageRef) -> Result<TaskOutcome, AgentToolError> {
        let (id, options) = (&task.spec.id, self.options);
        // The agent gets the visible part only, as from a production runner.
        let visible = task.visible();
        let started = Instant::now();
        self.spinner.set(format!("[{}/{}] {id}: agent running", index + 1, self.total));
        let limits = agent_limits(options.limits, self.agent);
        let job_id = format!("test-{index}");
        let run = match self.gateway {
            Some(gateway) => {
                run_agent_with_llm(self.sandbox, image, &visible, self.agent, limits, &job_id, gateway, options.budget_micro_usd).await
            }
            None => run_agent(self.sandbox, image, &visible, self.agent, limits, &job_id).await,
        };
        let verdict = if matches!(run.outcome, RunOutcome::Completed | RunOutcome::TimedOut) {
            self.spinner.set(format!("[{}/{}] {id}: grading", index + 1, self.total));
            let task_image = self.sandbox.ensure_environment_image(&task.environment(), &LogProgress).await?;
            let mut grade_limits = options.grade_limits;
            grade_limits.timeout = Duration::from_secs(task.spec.tests.timeout_secs) + options.grade_overhead;
            let grade_id = format!("test-grade-{index}");
            let graded = whetstone_validator::grade_patch(self.sandbox, &task_image, task, &run.patch, grade_limits, &grade_id).await;
            Some(graded.verdict)
        } else {
            None
        };
        Ok(TaskOutcome { task_id: id.clone(), run, verdict, elapsed: started.elapsed() })
    }
}

/// The proxy config and upstream key for `upstream` (with `proxy_config`'s allowlist, or the
/// built-in one), and the scripted upstream serving it when it is one; keep that alive while
/// the proxy runs. `None` for [`Upstream::None`].
pub async fn proxy_upstream(
    upstream: &Upstream,
    proxy_config_path: Option<&Path>,
) -> Result<(Option<(ProxyConfig, UpstreamKey)>, Option<ScriptedUpstream>), AgentToolError> {
    let mut config = proxy_config(proxy_config_path)?;
    match upstream {
        Upstream::None => Ok((None, None)),
        Upstream::Url(url) => {
            config.upstream_base_url = url.clone();
            // A local model server needs no key; a provider's comes from the usual variable.
            let key = UpstreamKey::from_env(&config).unwrap_or_else(|_| UpstreamKey::new(""));
            Ok((Some((config, key)), None))
        }
        Upstream::Scripted(path) => {
            let scripted = ScriptedUpstream::start(ScriptedUpstream::load(path)?, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
            config.upstream_base_url = scripted.base_url();
            Ok((Some((config, UpstreamKey::new(""))), Some(scripted)))
        }
    }
}

fn select_tasks(options: &AgentTestOptions) -> Result<Vec<Task>, AgentToolError> {
    let mut tasks = Vec::new();
    for path in &options.task_sets {
        let set = TaskSet::load(path).map_err(|source| AgentToolError::TaskSet { path: path.clone(), source })?;
        tasks.extend(set.tasks);
    }
    if options.tasks.is_empty() {
        return Ok(tasks);
    }
    let mut chosen = Vec::new();
    for wanted in &options.tasks {
        let position = tasks.iter().position(|t| &t.spec.id == wanted).ok_or_else(|| AgentToolError::NoSuchTask(wanted.clone()))?;
        chosen.push(tasks.swap_remove(position));
    }
    Ok(chosen)
}

fn proxy_config(path: Option<&Path>) -> Result<ProxyConfig, AgentToolError> {
    let (label, text) = match path {
        Some(path) => (
            path.to_owned(),
            std::fs::read_to_string(path)
                .map_err(|source| AgentToolError::ProxyConfig { path: path.to_owned(), source: Box::new(source) })?,
        ),
        None => (PathBuf::from("<built-in>"), DEFAULT_PROXY_CONFIG.to_owned()),
    };
    toml::from_str(&text).map_err(|source| AgentToolError::ProxyConfig { path: label, source: Box::new(source) })
}

#[cfg(test)]
mod tests {
    use whetstone_agent_runner::scripted::SCRIPTED_MODEL;

    use super::*;

    #[test]
    fn init_writes_a_valid_agent_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("My Agent");
        let written = init(&target, None).expect("init");
        assert_eq!(written.len(), 2);
        let agent = AgentPackage::from_dir(&target).expect("valid package");
        assert_eq!(agent.manifest.name, "my-agent");
        assert_eq!(agent.manifest.entrypoint, ["python3", "agent.py"]);
        assert!(matches!(init(&target, None), Err(AgentToolError::NotEmpty(_))));
    }

    #[test]
    fn upstream_parses_scripted_and_urls() {
        assert!(matches!(Upstream::parse(None), Upstream::None));
        assert!(matches!(Upstream::parse(Some("scripted:a.jsonl")), Upstream::Scripted(p) if p == Path::new("a.jsonl")));
        assert!(matches!(Upstream::parse(Some("http://127.0.0.1:8000/v1")), Upstream::Url(_)));
    }

    #[test]
    fn the_built_in_proxy_config_is_valid() {
        let config = proxy_config(None).expect("parses");
        assert!(config.models.iter().any(|m| m.name == SCRIPTED_MODEL));
        config.validate().expect("valid");
    }
}
