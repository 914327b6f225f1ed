//! One single-use container: create, upload, start, wait with a deadline, download, remove.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::body_full;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder,
    DownloadFromContainerOptionsBuilder, KillContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures::{Stream, StreamExt};
use tokio::sync::Notify;

use crate::client::{LABEL_JOB, LABEL_OWNER, LABEL_ROLE, LABEL_SANDBOX, Sandbox};
use crate::error::{SandboxError, is_not_found};
use crate::guard::ContainerGuard;
use crate::output::CappedOutput;
use crate::spec::{Exit, Role, RunOutcome, RunSpec, Timings};

/// How long output may keep arriving once the container has exited (or been killed at its
/// deadline): the rest is already in flight, this only bounds a stream that never closes.
const OUTPUT_GRACE: Duration = Duration::from_secs(5);
/// How long to wait for a killed container to be reported as exited.
const KILL_GRACE: Duration = Duration::from_secs(30);
/// A download is held in memory; anything bigger is refused rather than risk the process.
pub const MAX_DOWNLOAD_BYTES: u64 = 256 * 1024 * 1024;

impl Sandbox {
    /// Runs one single-use container and removes it, on every path: a guard removes it if this
    /// future is dropped mid-run, and [`Sandbox::remove_orphans`] catches a crashed process.
    ///
    /// The container has no network, no capabilities, no privilege escalation, no host mounts,
    /// the memory (without swap), CPU and pid limits of `spec.limits`, and only `spec.env`.
    pub async fn run(&self, spec: RunSpec) -> Result<RunOutcome, SandboxError> {
        let started = Instant::now();
        let name = container_name(spec.role, &spec.job_id);
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = self
            .docker
            .create_container(Some(options), self.container_config(&spec))
            .await
            .map_err(|e| {
                SandboxError::docker(format!("create container from {}", spec.image), e)
            })?;
        let guard = ContainerGuard::new(self.docker.clone(), created.id);
        let result = self.drive(&guard.id, spec, started).await;
        if let Err(e) = guard.remove().await {
            // The guard retries on drop and the janitor is the last resort; the run's own
            // result matters more to the caller than this.
            tracing::warn!(container = %name, error = %e, "failed to remove sandbox container");
        }
        let mut outcome = result?;
        outcome.timings.total = started.elapsed();
        Ok(outcome)
    }

    fn container_config(&self, spec: &RunSpec) -> ContainerCreateBody {
        let labels = HashMap::from([
            (LABEL_SANDBOX.to_owned(), "1".to_owned()),
            (LABEL_OWNER.to_owned(), self.owner.clone()),
            (LABEL_ROLE.to_owned(), spec.role.as_str().to_owned()),
            (LABEL_JOB.to_owned(), spec.job_id.clone()),
        ]);
        let memory = i64::try_from(spec.limits.memory_bytes).unwrap_or(i64::MAX);
        ContainerCreateBody {
            image: Some(spec.image.as_str().to_owned()),
            cmd: Some(spec.command.clone()),
            working_dir: (!spec.working_dir.is_empty()).then(|| spec.working_dir.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            user: spec.user.clone(),
            labels: Some(labels),
            attach_stdin: Some(false),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            open_stdin: Some(false),
            tty: Some(false),
            host_config: Some(HostConfig {
                network_mode: Some("none".to_owned()),
                memory: Some(memory),
                memory_swap: Some(memory),
                nano_cpus: Some(spec.limits.nano_cpus),
                pids_limit: Some(spec.limits.pids),
                cap_drop: Some(vec!["ALL".to_owned()]),
                security_opt: Some(vec!["no-new-privileges".to_owned()]),
                // Output is read through attach; a log driver would only copy it to the
                // host's disk, where a chatty process could fill it.
                log_config: Some(HostConfigLogConfig {
                    typ: Some("none".to_owned()),
                    config: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Everything between create and remove.
    async fn drive(
        &self,
        id: &str,
        spec: RunSpec,
        started: Instant,
    ) -> Result<RunOutcome, SandboxError> {
        for upload in spec.uploads {
            let options = UploadToContainerOptionsBuilder::default()
                .path(&upload.dest_dir)
                .build();
            self.docker
                .upload_to_container(id, Some(options), body_full(upload.tar.into()))
                .await
                .map_err(|e| {
                    SandboxError::docker(
                        format!(
                            "upload files to {} (the directory must exist in the image)",
                            upload.dest_dir
                        ),
                        e,
                    )
                })?;
        }
        let create = started.elapsed();

        // Attached before start, so not a byte of output is missed.
        let attach_options = AttachContainerOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        let attached = self
            .docker
            .attach_container(id, Some(attach_options))
            .await
            .map_err(|e| SandboxError::docker("attach to the container", e))?;
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| SandboxError::docker("start the container", e))?;
        let run_started = Instant::now();
        let deadline = tokio::time::Instant::now() + spec.limits.timeout;

        let exited = Notify::new();
        let (waited, (output, output_truncated)) = tokio::join!(
            async {
                let waited = wait_with_deadline(&self.docker, id, deadline).await;
                exited.notify_one();
                waited
            },
            collect_output(attached.output, spec.output_cap_bytes, &exited),
        );
        let waited = waited?;
        let run = run_started.elapsed();

        let state = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| SandboxError::docker("inspect the exited container", e))?
            .state
            .unwrap_or_default();
        let code = waited.code.or(state.exit_code).unwrap_or(-1);
        let exit = classify_exit(code, waited.timed_out, state.oom_killed.unwrap_or(false));

        let mut downloads = Vec::with_capacity(spec.downloads.len());
        for path in spec.downloads {
            let tar = download(&self.docker, id, &path).await?;
            downloads.push((path, tar));
        }
        Ok(RunOutcome {
            exit,
            output,
            output_truncated,
            downloads,
            timings: Timings {
                create,
                run,
                total: started.elapsed(),
            },
        })
    }
}

/// The exit status, if the engine reported one, and whether we had to kill the container.
#[derive(Debug)]
struct Waited {
    code: Option<i64>,
    timed_out: bool,
}

async fn wait_with_deadline(
    docker: &Docker,
    id: &str,
    deadline: tokio::time::Instant,
) -> Result<Waited, SandboxError> {
    let mut wait = docker.wait_container(id, None);
    if let Ok(item) = tokio::time::timeout_at(deadline, wait.next()).await {
        return Ok(Waited {
            code: wait_status(item)?,
            timed_out: false,
        });
    }
    // SIGKILL reaches every process in the container, not just the first one.
    let kill = KillContainerOptionsBuilder::default()
        .signal("SIGKILL")
        .build();
    if let Err(e) = docker.kill_container(id, Some(kill)).await {
        // 409: it exited on its own between the deadline and the kill.
        let already_stopped = matches!(
            e,
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }
        );
        if !already_stopped {
            return Err(SandboxError::docker(
                "kill the container at its deadline",
                e,
            ));
        }
    }
    let code = match tokio::time::timeout(KILL_GRACE, wait.next()).await {
        Ok(item) => wait_status(item)?,
        Err(_) => None,
    };
    Ok(Waited {
        code,
        timed_out: true,
    })
}

/// bollard reports a non-zero exit as an error carrying the code; both are a status here.
fn wait_status(
    item: Option<Result<bollard::models::ContainerWaitResponse, bollard::errors::Error>>,
) -> Result<Option<i64>, SandboxError> {
    match item {
        Some(Ok(response)) => Ok(Some(response.status_code)),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(Some(code)),
        Some(Err(e)) => Err(SandboxError::docker("wait for the container", e)),
        None => Ok(None),
    }
}

/// Our kill takes precedence (a process killed at the deadline may also have been near its
/// memory limit); otherwise the engine's OOM flag explains a 137.
fn classify_exit(code: i64, timed_out: bool, oom_killed: bool) -> Exit {
    if timed_out {
        Exit::TimedOut
    } else if oom_killed {
        Exit::OutOfMemory
    } else {
        Exit::Code(code)
    }
}

/// Reads attached output until the stream ends, or [`OUTPUT_GRACE`] after `exited` fires:
/// the client's own timeout covers only the response headers, so without this a stream that
/// never closes would hang the run.
async fn collect_output(
    mut stream: impl Stream<Item = Result<LogOutput, bollard::errors::Error>> + Unpin,
    cap: usize,
    exited: &Notify,
) -> (String, bool) {
    let mut output = CappedOutput::new(cap);
    let exit_seen = exited.notified();
    tokio::pin!(exit_seen);
    let give_up = tokio::time::sleep(Duration::MAX);
    tokio::pin!(give_up);
    let mut exit_noted = false;
    loop {
        tokio::select! {
            item = stream.next() => match item {
                Some(Ok(chunk)) => output.push(chunk.as_ref()),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "container output stream failed");
                    break;
                }
                None => break,
            },
            () = &mut exit_seen, if !exit_noted => {
                exit_noted = true;
                give_up.as_mut().reset(tokio::time::Instant::now() + OUTPUT_GRACE);
            }
            () = &mut give_up => {
                tracing::warn!("container output still open after the exit; stopped reading");
                break;
            }
        }
    }
    output.finish()
}

/// The tar of `path`, or `None` when it does not exist.
async fn download(docker: &Docker, id: &str, path: &str) -> Result<Option<Vec<u8>>, SandboxError> {
    let options = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let mut stream = docker.download_from_container(id, Some(options));
    let mut tar = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                if (tar.len() + bytes.len()) as u64 > MAX_DOWNLOAD_BYTES {
                    return Err(SandboxError::DownloadTooLarge {
                        path: path.to_owned(),
                        limit: MAX_DOWNLOAD_BYTES,
                    });
                }
                tar.extend_from_slice(&bytes);
            }
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(SandboxError::docker(format!("download {path}"), e)),
        }
    }
    Ok(Some(tar))
}

/// `whetstone-<role>-<job>-<random>`: readable in `docker ps`, unique across retries of a job.
fn container_name(role: Role, job_id: &str) -> String {
    let job: String = job_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(48)
        .collect();
    let job = if job.is_empty() {
        "job".to_owned()
    } else {
        job
    };
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("whetstone-{}-{job}-{}", role.as_str(), &random[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_docker_safe_and_unique() {
        let a = container_name(Role::Grade, "task/7 run#1");
        let b = container_name(Role::Grade, "task/7 run#1");
        assert!(a.starts_with("whetstone-grade-task-7-run-1-"), "{a}");
        assert_ne!(a, b);
        assert!(container_name(Role::Agent, "").starts_with("whetstone-agent-job-"));
        let long = container_name(Role::Probe, &"x".repeat(500));
        assert!(long.len() < 100);
    }

    #[test]
    fn exit_classification() {
        let cases = [
            ((0, false, false), Exit::Code(0)),
            ((3, false, false), Exit::Code(3)),
            ((137, false, true), Exit::OutOfMemory),
            ((137, false, false), Exit::Code(137)),
            ((137, true, false), Exit::TimedOut),
            ((137, true, true), Exit::TimedOut),
        ];
        for ((code, timed_out, oom), want) in cases {
            assert_eq!(
                classify_exit(code, timed_out, oom),
                want,
                "{code} {timed_out} {oom}"
            );
        }
    }
}
