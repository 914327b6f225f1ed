//! Processes started inside a running container: the run's command, and the sandbox's own
//! helpers (`tar` in and out of tmpfs mounts, stopping the command, measuring the mounts).
//!
//! Starting an exec needs a free pid in the container (the runtime forks inside its cgroup),
//! which a fork bomb may hold until the end; so the process that stops the command, the
//! [`Stopper`], is started before the command and waits on its stdin for the word. An exec
//! cannot be killed on its own, and its output stream is bounded by nothing but our own
//! deadlines.

use std::pin::Pin;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use crate::error::{SandboxError, is_not_found};
use crate::output::CappedOutput;

/// Helpers find their tools here whatever `PATH` the run's environment sets.
const HELPER_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// How much of a helper's stderr an error carries.
const HELPER_STDERR_BYTES: usize = 4 * 1024;
/// The first poll for an exec's end comes this soon; later ones back off to
/// [`MAX_POLL`]. The output stream closing wakes the poll at once, so this only matters
/// when a background process keeps the stream open.
const FIRST_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_millis(500);
/// Once the output has closed, the exit is a moment away.
const AFTER_CLOSE_POLL: Duration = Duration::from_millis(5);

pub(crate) type OutputStream = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// Why a helper produced no result.
#[derive(Debug)]
pub(crate) enum HelperError {
    /// The container is not running (it died, or was killed).
    NotRunning,
    TimedOut,
    Docker(bollard::errors::Error),
}

impl From<bollard::errors::Error> for HelperError {
    fn from(e: bollard::errors::Error) -> Self {
        // 409: "container … is not running" (or paused, or restarting).
        if matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) || is_not_found(&e) {
            HelperError::NotRunning
        } else {
            HelperError::Docker(e)
        }
    }
}

/// One helper process to run.
#[derive(Debug)]
pub(crate) struct Helper<'a> {
    pub(crate) cmd: Vec<String>,
    pub(crate) user: &'a str,
    pub(crate) stdin: Option<Vec<u8>>,
    /// Stdout past this is not read (the result says so).
    pub(crate) stdout_limit: u64,
    pub(crate) time_limit: Duration,
}

#[derive(Debug)]
pub(crate) struct HelperOutput {
    /// `None` when the stdout limit cut the read short (the process may still run).
    pub(crate) code: Option<i64>,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stdout_overflow: bool,
    pub(crate) stderr: String,
}

impl HelperOutput {
    pub(crate) fn succeeded(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs a helper to completion (or its time limit), feeding it `stdin` if given.
pub(crate) async fn run_helper(docker: &Docker, container: &str, helper: Helper<'_>) -> Result<HelperOutput, HelperError> {
    let time_limit = helper.time_limit;
    tokio::time::timeout(time_limit, run_helper_unbounded(docker, container, helper)).await.unwrap_or(Err(HelperError::TimedOut))
}

async fn run_helper_unbounded(docker: &Docker, container: &str, helper: Helper<'_>) -> Result<HelperOutput, HelperError> {
    let options = CreateExecOptions {
        attach_stdin: Some(helper.stdin.is_some()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        env: Some(vec![HELPER_PATH.to_owned()]),
        cmd: Some(helper.cmd),
        user: Some(helper.user.to_owned()),
        working_dir: Some("/".to_owned()),
        ..Default::default()
    };
    let exec = docker.create_exec(container, options).await?;
    let start = StartExecOptions { detach: false, tty: false, output_capacity: Some(64 * 1024) };
    let StartExecResults::Attached { mut output, mut input } = docker.start_exec(&exec.id, Some(start)).await? else {
        return Err(HelperError::Docker(bollard::errors::Error::DockerStreamError {
            error: "the engine detached an attached exec".to_owned(),
        }));
    };
    let feed = async {
        if let Some(bytes) = helper.stdin {
            // A process that stops reading (tar failing) closes the pipe; its exit code and
            // stderr tell the story, so write errors are not reported separately.
            let _ = input.write_all(&bytes).await;
        }
        // EOF for the process's stdin (a half-close of the hijacked connection).
        let _ = input.shutdown().await;
    };
    let read = async {
        let mut stdout = Vec::new();
        let mut stderr = CappedOutput::tail_only(HELPER_STDERR_BYTES);
        while let Some(item) = output.next().await {
            match item? {
                LogOutput::StdOut { message } => {
                    if (stdout.len() + message.len()) as u64 > helper.stdout_limit {
                        return Ok((stdout, true, stderr));
                    }
                    stdout.extend_from_slice(&message);
                }
                LogOutput::StdErr { message } | LogOutput::Console { message } => {
                    stderr.push(&message);
                }
                LogOutput::StdIn { .. } => {}
            }
        }
        Ok::<_, HelperError>((stdout, false, stderr))
    };
    let ((), read) = tokio::join!(feed, read);
    let (stdout, stdout_overflow, stderr) = read?;
    let code = if stdout_overflow { None } else { exec_exit_code(docker, &exec.id).await? };
    Ok(HelperOutput { code, stdout, stdout_overflow, stderr: stderr.finish().0 })
}

/// The exit code of an exec whose output has ended; the engine may take a moment to record it.
async fn exec_exit_code(docker: &Docker, exec_id: &str) -> Result<Option<i64>, HelperError> {
    let mut poll = Duration::from_millis(5);
    loop {
        let inspected = docker.inspect_exec(exec_id).await?;
        if let Some(code) = exited(&inspected) {
            return Ok(Some(code));
        }
        tokio::time::sleep(poll).await;
        poll = (poll * 2).min(MAX_POLL);
    }
}

/// The exit code once the exec has run and ended. The engine answers the attached start
/// before the process exists, and reports "not running, no exit code" until it does.
fn exited(inspected: &bollard::models::ExecInspectResponse) -> Option<i64> {
    if inspected.running == Some(true) {
        return None;
    }
    inspected.exit_code
}

/// The run's command, started and attached.
pub(crate) struct CommandExec {
    pub(crate) id: String,
    pub(crate) output: OutputStream,
}

/// Starts `cmd` as `user` with its stdout and stderr attached (stdin is empty).
pub(crate) async fn start_command(
    docker: &Docker,
    container: &str,
    cmd: Vec<String>,
    user: &str,
    working_dir: Option<String>,
) -> Result<CommandExec, SandboxError> {
    let options = CreateExecOptions {
        attach_stdin: Some(false),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        cmd: Some(cmd),
        user: Some(user.to_owned()),
        working_dir,
        ..Default::default()
    };
    let exec = docker.create_exec(container, options).await.map_err(|e| SandboxError::docker("create the command's process", e))?;
    let start = StartExecOptions { detach: false, tty: false, output_capacity: Some(64 * 1024) };
    match docker.start_exec(&exec.id, Some(start)).await {
        Ok(StartExecResults::Attached { output, .. }) => Ok(CommandExec { id: exec.id, output }),
        Ok(StartExecResults::Detached) => {
            Err(SandboxError::Helper { helper: "command".to_owned(), message: "the engine detached an attached exec".to_owned() })
        }
        Err(e) => Err(SandboxError::docker("start the command", e)),
    }
}

/// The command's exit status, if the engine reported one, and whether its deadline passed.
#[derive(Debug)]
pub(crate) struct Waited {
    pub(crate) code: Option<i64>,
    pub(crate) timed_out: bool,
}

/// Waits until the command's main process has exited or `deadline` passes. `stream_closed`
/// wakes it early: the output ends when the process (and everything holding its stdout) does.
pub(crate) async fn wait_command(
    docker: &Docker,
    exec_id: &str,
    deadline: tokio::time::Instant,
    stream_closed: &Notify,
) -> Result<Waited, SandboxError> {
    let closed = stream_closed.notified();
    tokio::pin!(closed);
    let mut closed_seen = false;
    let mut poll = FIRST_POLL;
    loop {
        match docker.inspect_exec(exec_id).await {
            Ok(inspected) => {
                if let Some(code) = exited(&inspected) {
                    return Ok(Waited { code: Some(code), timed_out: false });
                }
                // Not started yet, or the container died under it (then no code ever comes).
                if inspected.running != Some(true) && !container_running(docker, exec_container(&inspected)).await? {
                    return Ok(Waited { code: None, timed_out: false });
                }
            }
            // The container (and the exec with it) is gone: nothing left to wait for.
            Err(e) if is_not_found(&e) => {
                return Ok(Waited { code: None, timed_out: false });
            }
            Err(e) => return Err(SandboxError::docker("inspect the command's process", e)),
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(Waited { code: None, timed_out: true });
        }
        let next = (tokio::time::Instant::now() + poll).min(deadline);
        poll = (poll * 2).min(MAX_POLL);
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = &mut closed, if !closed_seen => {
                // The process is about to be reported ended, if it is not already.
                closed_seen = true;
                poll = AFTER_CLOSE_POLL;
            }
        }
    }
}

fn exec_container(inspected: &bollard::models::ExecInspectResponse) -> &str {
    inspected.container_id.as_deref().unwrap_or_default()
}

async fn container_running(docker: &Docker, container: &str) -> Result<bool, SandboxError> {
    match docker.inspect_container(container, None).await {
        Ok(inspected) => Ok(inspected.state.and_then(|s| s.running).unwrap_or(false)),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(SandboxError::docker("inspect the container", e)),
    }
}

/// A shell started before the command, as the command's user, blocked reading its stdin.
/// Told `stop`, it runs its script with no new process needed (see `container.rs`); told
/// nothing (the connection closes), it exits and touches nothing.
pub(crate) struct Stopper {
    output: OutputStream,
    input: Pin<Box<dyn AsyncWrite + Send>>,
}

/// Waits for one `stop` line, then runs the rest of the script.
const STOPPER_GATE: &str = "IFS= read -r line || exit 0\n[ \"$line\" = stop ] || exit 0\n";

/// Starts the stopper: `script` (which must not fork before it has done its job) runs as
/// `user` with `args` once [`Stopper::stop`] says so.
pub(crate) async fn start_stopper(
    docker: &Docker,
    container: &str,
    user: &str,
    script: &str,
    args: Vec<String>,
) -> Result<Stopper, SandboxError> {
    let mut cmd = vec!["sh".to_owned(), "-c".to_owned(), format!("{STOPPER_GATE}{script}"), "sh".to_owned()];
    cmd.extend(args);
    let options = CreateExecOptions {
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        env: Some(vec![HELPER_PATH.to_owned()]),
        cmd: Some(cmd),
        user: Some(user.to_owned()),
        working_dir: Some("/".to_owned()),
        ..Default::default()
    };
    let exec = docker.create_exec(container, options).await.map_err(|e| SandboxError::docker("create the stopper", e))?;
    match docker.start_exec(&exec.id, None).await {
        Ok(StartExecResults::Attached { output, input }) => Ok(Stopper { output, input }),
        Ok(StartExecResults::Detached) => {
            Err(SandboxError::Helper { helper: "stopper".to_owned(), message: "the engine detached an attached exec".to_owned() })
        }
        Err(e) => Err(SandboxError::docker("start the stopper", e)),
    }
}

impl Stopper {
    /// Says `stop` and returns everything the script printed to stdout, or `None` when the
    /// stopper was gone (the command's user may kill it) or did not finish in `time_limit`.
    pub(crate) async fn stop(mut self, time_limit: Duration) -> Option<String> {
        let run = async {
            self.input.write_all(b"stop\n").await.ok()?;
            self.input.flush().await.ok()?;
            let mut stdout = Vec::new();
            while let Some(item) = self.output.next().await {
                if let Ok(LogOutput::StdOut { message }) = item {
                    stdout.extend_from_slice(&message);
                }
            }
            Some(String::from_utf8_lossy(&stdout).into_owned())
        };
        tokio::time::timeout(time_limit, run).await.ok().flatten()
    }
}
