//! One single-use container: create, start, fill, run the command, stop it, empty, remove.
//!
//! The container's own process is a holder (`sleep infinity` under the engine's init, which
//! reaps orphans) running as [`HOLDER_USER`], a uid nothing else uses; the command runs as an
//! exec beside it. That is what lets a run keep its files in size-capped tmpfs mounts, whose
//! contents die with the container: when the command ends or its deadline passes, a stopper
//! started before the command as the command's user sends SIGKILL to every process that user
//! owns (`kill -KILL -1`: the whole command, `setsid` daemons included, atomically even
//! against a fork bomb; never the holder or the init), the files are collected from the
//! still-running container, and then the container is removed. When neither the stopper nor
//! a fresh exec can do it, the container is killed outright and its tmpfs contents are
//! reported lost.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, ResourcesUlimits};
use bollard::query_parameters::{CreateContainerOptionsBuilder, KillContainerOptionsBuilder};
use futures::{Stream, StreamExt};
use tokio::sync::Notify;

use crate::check::{check_spec, check_user};
use crate::client::{Sandbox, resource_name};
use crate::error::SandboxError;
use crate::exec::{Helper, HelperError, Stopper, run_helper, start_command, start_stopper, wait_command};
use crate::guard::{Guard, Resource};
use crate::live::LiveEntry;
use crate::output::CappedOutput;
use crate::spec::{Exit, FsUsage, HOLDER_USER, Limits, NetworkMode, RunOutcome, RunSpec, Timings, Tmpfs, Upload};

/// How long output may keep arriving once the command has been stopped: the rest is already
/// in flight, this only bounds a stream that never closes.
const OUTPUT_GRACE: Duration = Duration::from_secs(5);
/// Stopping and measuring are quick.
const QUICK_HELPER_LIMIT: Duration = Duration::from_secs(20);
/// Resolver options on a run network: the embedded DNS has nowhere to forward a query, so
/// fail in a second instead of twenty.
const RUN_NETWORK_DNS_OPTIONS: [&str; 2] = ["timeout:1", "attempts:1"];

/// Kills everything the command's user owns (`kill -1` spares only the caller and pid 1;
/// the holder's uid is another), then measures: prints `stopped`, `oom_kill N` (cgroup v2
/// or v1) and one `fs <block size> <blocks> <free> <inodes> <free inodes> <path>` line per
/// mount given as an argument. Nothing forks before the kill; the figures are best effort.
const STOP_SCRIPT: &str = r#"kill -KILL -1 2>/dev/null
echo stopped
for f in /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control; do
  [ -r "$f" ] || continue
  while read -r key value; do [ "$key" = oom_kill ] && echo "oom_kill $value"; done < "$f"
done
[ $# -eq 0 ] || stat -f -c 'fs %S %b %f %c %d %n' -- "$@" 2>/dev/null
exit 0"#;
/// Tries of the fallback stop (a fresh exec): it needs a free pid, which a fork bomb may
/// hold.
const STOP_ATTEMPTS: u32 = 5;

impl Sandbox {
    /// Runs one single-use container and removes it, on every path: a guard removes it if this
    /// future is dropped mid-run, and the janitor catches a crashed process.
    ///
    /// The container has no capabilities, no privilege escalation, the default seccomp
    /// profile, no host mounts, only `spec.env`, the memory (without swap), CPU, pid and
    /// open-file limits of the spec, its tmpfs mounts, and either no network or a run network.
    pub async fn run(&self, spec: RunSpec) -> Result<RunOutcome, SandboxError> {
        let started = Instant::now();
        check_spec(&spec)?;
        let user = match &spec.user {
            Some(user) => user.clone(),
            None => self.image_user(&spec).await?,
        };
        check_user(&user)?;
        let name = resource_name(spec.role.as_str(), &spec.job_id);
        let live = LiveEntry::register(&name);
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let role = spec.role.as_str();
        let created = match self.docker.create_container(Some(options), self.container_config(&spec)).await {
            Ok(created) => created,
            Err(e) => {
                metrics::counter!("whetstone_sandbox_container_failures_total", "role" => role).increment(1);
                return Err(SandboxError::docker(format!("create container from {}", spec.image), e));
            }
        };
        metrics::counter!("whetstone_sandbox_containers_started_total", "role" => role).increment(1);
        let guard = Guard::new(self.docker.clone(), Resource::Container, created.id, live);
        let result = self.drive(&guard.id, spec, &user, started).await;
        if result.is_err() {
            metrics::counter!("whetstone_sandbox_container_failures_total", "role" => role).increment(1);
        }
        if let Err(e) = guard.remove().await {
            // The guard retries on drop and the janitor is the last resort; the run's own
            // result matters more to the caller than this.
            tracing::warn!(container = %name, error = %e, "failed to remove sandbox container");
        }
        let mut outcome = result?;
        outcome.timings.total = started.elapsed();
        Ok(outcome)
    }

    /// The user an image runs as when the spec names none.
    async fn image_user(&self, spec: &RunSpec) -> Result<String, SandboxError> {
        let image = self
            .docker
            .inspect_image(spec.image.as_str())
            .await
            .map_err(|e| SandboxError::docker(format!("inspect image {}", spec.image), e))?;
        Ok(image.config.and_then(|config| config.user).filter(|user| !user.is_empty()).unwrap_or_else(|| "0:0".to_owned()))
    }

    fn container_config(&self, spec: &RunSpec) -> ContainerCreateBody {
        ContainerCreateBody {
            image: Some(spec.image.as_str().to_owned()),
            entrypoint: Some(vec!["sleep".to_owned(), "infinity".to_owned()]),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            user: Some(HOLDER_USER.to_owned()),
            labels: Some(self.labels(spec.role.as_str(), &spec.job_id)),
            attach_stdin: Some(false),
            attach_stdout: Some(false),
            attach_stderr: Some(false),
            open_stdin: Some(false),
            tty: Some(false),
            host_config: Some(hardened_host_config(&HostLimits {
                limits: &spec.limits,
                open_files: spec.open_files,
                read_only_root: spec.read_only_root,
                tmpfs: &spec.tmpfs,
                network: &spec.network,
            })),
            ..Default::default()
        }
    }

    /// Everything between create and remove.
    async fn drive(&self, id: &str, spec: RunSpec, user: &str, started: Instant) -> Result<RunOutcome, SandboxError> {
        // The engine extracts into the image's filesystem only before the start (and only when
        // the root is writable); tmpfs mounts exist only once the container runs.
        let (into_tmpfs, into_image): (Vec<&Upload>, Vec<&Upload>) =
            spec.uploads.iter().partition(|upload| spec.tmpfs_for(&upload.dest_dir).is_some());
        for upload in into_image {
            self.upload_with_engine(id, upload).await?;
        }
        self.docker.start_container(id, None).await.map_err(|e| SandboxError::docker("start the container", e))?;
        for upload in into_tmpfs {
            let tmpfs = spec.tmpfs_for(&upload.dest_dir).map_or((None, 0), |t| (t.owner, t.size_bytes));
            self.upload_into_tmpfs(id, upload, tmpfs).await?;
        }
        let create = started.elapsed();

        let mounts: Vec<String> = spec.tmpfs.iter().map(|t| t.path.clone()).collect();
        let stopper = start_stopper(&self.docker, id, user, STOP_SCRIPT, mounts).await?;
        let working_dir = (!spec.working_dir.is_empty()).then(|| spec.working_dir.clone());
        let command = start_command(&self.docker, id, spec.command.clone(), user, working_dir).await?;
        let run_started = Instant::now();
        let deadline = tokio::time::Instant::now() + spec.limits.timeout;
        let stopped = Notify::new();
        let stream_closed = Notify::new();
        let ((waited, run, stop), (output, output_truncated)) = tokio::join!(
            async {
                let waited = wait_command(&self.docker, &command.id, deadline, &stream_closed).await;
                let run = run_started.elapsed();
                let stop = self.stop_command(id, user, stopper, &spec.tmpfs).await;
                stopped.notify_one();
                (waited, run, stop)
            },
            collect_output(command.output, spec.output_cap_bytes, spec.output_tap.as_ref(), &stopped, &stream_closed),
        );
        let waited = waited?;
        let (still_running, probe) = match stop? {
            Some(probe) => (true, probe),
            None => (false, Probe::default()),
        };

        let state = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| SandboxError::docker("inspect the container", e))?
            .state
            .unwrap_or_default();
        let oom_killed = probe.oom_kills > 0 || state.oom_killed.unwrap_or(false);
        let exit = classify_exit(waited.code.unwrap_or(-1), waited.timed_out, oom_killed);

        let mut downloads = Vec::with_capacity(spec.downloads.len());
        let mut download_problems = Vec::new();
        for path in &spec.downloads {
            let tar = if spec.tmpfs_for(path).is_none() {
                self.download_with_engine(id, path, &mut download_problems).await?
            } else if still_running {
                self.download_from_tmpfs(id, path, user, &mut download_problems).await?
            } else {
                download_problems.push(format!("{path} was lost: the container stopped before it could be collected"));
                None
            };
            downloads.push((path.clone(), tar));
        }
        Ok(RunOutcome {
            exit,
            output,
            output_truncated,
            downloads,
            download_problems,
            filesystems: probe.filesystems,
            timings: Timings { create, run, total: started.elapsed() },
        })
    }

    /// Kills every process of the command's user and measures the container. `None` when the
    /// container no longer runs (and so its tmpfs contents are gone).
    async fn stop_command(&self, id: &str, user: &str, stopper: Stopper, tmpfs: &[Tmpfs]) -> Result<Option<Probe>, SandboxError> {
        if let Some(text) = stopper.stop(QUICK_HELPER_LIMIT).await
            && text.lines().next() == Some("stopped")
        {
            return Ok(Some(parse_probe(&text, tmpfs)));
        }
        // The command's user killed the stopper; a fresh exec does the same job if it can get
        // a pid.
        let mut cmd: Vec<String> = vec!["sh".into(), "-c".into(), STOP_SCRIPT.into(), "sh".into()];
        cmd.extend(tmpfs.iter().map(|t| t.path.clone()));
        let mut failure = String::new();
        for attempt in 1..=STOP_ATTEMPTS {
            let helper = Helper { cmd: cmd.clone(), user, stdin: None, stdout_limit: 64 * 1024, time_limit: QUICK_HELPER_LIMIT };
            match run_helper(&self.docker, id, helper).await {
                Ok(out) if out.succeeded() => {
                    return Ok(Some(parse_probe(&String::from_utf8_lossy(&out.stdout), tmpfs)));
                }
                Err(HelperError::NotRunning) => return Ok(None),
                Ok(out) => failure = format!("exit {:?}: {}", out.code, out.stderr.trim()),
                Err(HelperError::TimedOut) => failure = "timed out".to_owned(),
                Err(HelperError::Docker(e)) => failure = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100) * attempt).await;
        }
        // The processes must die whatever it costs; the tmpfs contents go with them.
        tracing::warn!(container = %id, %failure, "could not stop the command in place; killing the container");
        let kill = KillContainerOptionsBuilder::default().signal("SIGKILL").build();
        match self.docker.kill_container(id, Some(kill)).await {
            // 409: it is not running any more.
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404 | 409, .. }) => Ok(None),
            Err(e) => Err(SandboxError::docker("kill the container", e)),
        }
    }
}

/// Everything the hardening needs, shared by runs and services.
pub(crate) struct HostLimits<'a> {
    pub(crate) limits: &'a Limits,
    pub(crate) open_files: u64,
    pub(crate) read_only_root: bool,
    pub(crate) tmpfs: &'a [Tmpfs],
    pub(crate) network: &'a NetworkMode,
}

/// No capabilities, no privilege escalation, default seccomp, no swap, limits, tmpfs, network.
pub(crate) fn hardened_host_config(host: &HostLimits<'_>) -> HostConfig {
    let memory = i64::try_from(host.limits.memory_bytes).unwrap_or(i64::MAX);
    let open_files = i64::try_from(host.open_files).unwrap_or(i64::MAX);
    let (network_mode, dns_options) = match host.network {
        NetworkMode::None => ("none".to_owned(), None),
        NetworkMode::Run(name) => (name.as_str().to_owned(), Some(RUN_NETWORK_DNS_OPTIONS.map(str::to_owned).to_vec())),
    };
    let tmpfs: HashMap<String, String> = host.tmpfs.iter().map(|t| (t.path.clone(), t.mount_options())).collect();
    HostConfig {
        // The engine's init reaps orphans, so killed processes give their pids back.
        init: Some(true),
        network_mode: Some(network_mode),
        dns_options,
        memory: Some(memory),
        memory_swap: Some(memory),
        nano_cpus: Some(host.limits.nano_cpus),
        pids_limit: Some(host.limits.pids),
        ulimits: Some(vec![ResourcesUlimits { name: Some("nofile".to_owned()), soft: Some(open_files), hard: Some(open_files) }]),
        cap_drop: Some(vec!["ALL".to_owned()]),
        security_opt: Some(vec!["no-new-privileges".to_owned()]),
        readonly_rootfs: Some(host.read_only_root),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        // Output is read through attach; a log driver would only copy it to the host's disk,
        // where a chatty process could fill it.
        log_config: Some(HostConfigLogConfig { typ: Some("none".to_owned()), config: None }),
        ..Default::default()
    }
}

/// What [`Sandbox::probe`] found.
#[derive(Debug, Default)]
struct Probe {
    oom_kills: u64,
    filesystems: Vec<FsUsage>,
}

fn parse_probe(text: &str, tmpfs: &[Tmpfs]) -> Probe {
    let mut probe = Probe::default();
    for line in text.lines() {
        if let Some(count) = line.strip_prefix("oom_kill ") {
            probe.oom_kills += count.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("fs ") {
            let mut fields = rest.splitn(6, ' ');
            let numbers: Vec<u64> = fields.by_ref().take(5).filter_map(|n| n.parse().ok()).collect();
            let path = fields.next().unwrap_or_default();
            let Some(mount) = tmpfs.iter().find(|t| t.path == path) else {
                continue;
            };
            if let [block, blocks, free, inodes, free_inodes] = numbers[..] {
                probe.filesystems.push(FsUsage {
                    path: mount.path.clone(),
                    size_bytes: block * blocks,
                    used_bytes: block * blocks.saturating_sub(free),
                    inodes_total: inodes,
                    inodes_used: inodes.saturating_sub(free_inodes),
                });
            }
        }
    }
    probe
}

/// Our kill takes precedence (a process killed at the deadline may also have been near its
/// memory limit). An exec'd process killed by the OOM killer leaves the engine's `OOMKilled`
/// flag false, so an OOM kill in the container's cgroup plus a SIGKILL status explains a 137.
fn classify_exit(code: i64, timed_out: bool, oom_killed: bool) -> Exit {
    if timed_out {
        Exit::TimedOut
    } else if oom_killed && code == 137 {
        Exit::OutOfMemory
    } else {
        Exit::Code(code)
    }
}

/// Reads the command's output until the stream ends, or [`OUTPUT_GRACE`] after `stopped`
/// fires (the client's own timeout covers only the response headers, so without this a
/// stream that never closes would hang the run). Tells `closed` when the stream ends.
async fn collect_output(
    mut stream: impl Stream<Item = Result<LogOutput, bollard::errors::Error>> + Unpin,
    cap: usize,
    tap: Option<&tokio::sync::mpsc::UnboundedSender<Vec<u8>>>,
    stopped: &Notify,
    closed: &Notify,
) -> (String, bool) {
    let mut output = CappedOutput::new(cap);
    let stop_seen = stopped.notified();
    tokio::pin!(stop_seen);
    let give_up = tokio::time::sleep(Duration::MAX);
    tokio::pin!(give_up);
    let mut stop_noted = false;
    loop {
        tokio::select! {
            item = stream.next() => match item {
                Some(Ok(chunk)) => {
                    if let Some(tap) = tap {
                        // A receiver that went away only stops the tap, never the run.
                        let _ = tap.send(chunk.as_ref().to_vec());
                    }
                    output.push(chunk.as_ref());
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "command output stream failed");
                    break;
                }
                None => break,
            },
            () = &mut stop_seen, if !stop_noted => {
                stop_noted = true;
                give_up.as_mut().reset(tokio::time::Instant::now() + OUTPUT_GRACE);
            }
            () = &mut give_up => {
                tracing::warn!("command output still open after the stop; stopped reading");
                break;
            }
        }
    }
    closed.notify_one();
    output.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_classification() {
        let cases = [
            ((0, false, false), Exit::Code(0)),
            ((3, false, false), Exit::Code(3)),
            ((137, false, true), Exit::OutOfMemory),
            ((1, false, true), Exit::Code(1)),
            ((137, false, false), Exit::Code(137)),
            ((137, true, false), Exit::TimedOut),
            ((137, true, true), Exit::TimedOut),
        ];
        for ((code, timed_out, oom), want) in cases {
            assert_eq!(classify_exit(code, timed_out, oom), want, "{code} {timed_out} {oom}");
        }
    }

    #[test]
    fn probe_output_is_parsed_per_mount() {
        let mounts = [Tmpfs::scratch("/tmp", 8192), Tmpfs::owned_by("/repo", 8192, (1, 1)), Tmpfs::scratch("/x", 1)];
        let text = "oom_kill 2\nfs 4096 2 1 100 40 /tmp\nfs 4096 2 0 100 99 /repo\nfs 1 2 /x\nfs 4096 1 1 1 1 /elsewhere\n";
        let probe = parse_probe(text, &mounts);
        assert_eq!(probe.oom_kills, 2);
        assert_eq!(
            probe.filesystems,
            vec![
                FsUsage { path: "/tmp".into(), size_bytes: 8192, used_bytes: 4096, inodes_total: 100, inodes_used: 60 },
                FsUsage { path: "/repo".into(), size_bytes: 8192, used_bytes: 8192, inodes_total: 100, inodes_used: 1 },
            ]
        );
        assert_eq!(parse_probe("", &mounts).oom_kills, 0);
    }
}
