//! What a run is given and what it returns.

use std::fmt;
use std::time::Duration;

use crate::images::ImageRef;

/// The holder's identity. No run may use it: the command's processes are stopped by killing
/// everything its user owns, and the holder must survive that.
pub const HOLDER_USER: &str = "65533:65533";

/// What a container may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall time from the command's start; past it every process of the command is killed
    /// and the run is [`Exit::TimedOut`].
    pub timeout: Duration,
    /// Memory, with no swap on top. Files on the run's tmpfs mounts count against it.
    pub memory_bytes: u64,
    /// CPU in billionths of a CPU (1_000_000_000 = one CPU).
    pub nano_cpus: i64,
    /// Maximum number of processes and threads.
    pub pids: i64,
}

impl Default for Limits {
    /// 5 minutes (the task format's default test timeout), 2 GiB, one CPU, 512 pids.
    fn default() -> Self {
        Self { timeout: Duration::from_secs(300), memory_bytes: 2 * 1024 * 1024 * 1024, nano_cpus: 1_000_000_000, pids: 512 }
    }
}

/// Why the container exists; recorded in the `whetstone.role` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Agent,
    Grade,
    Probe,
    /// A long-lived helper on a run network (the inference proxy); see
    /// [`Sandbox::start_service`](crate::Sandbox::start_service).
    Service,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Grade => "grade",
            Role::Probe => "probe",
            Role::Service => "service",
        }
    }
}

/// A tar extracted at `dest_dir` (an absolute path that must already exist; to create a
/// directory, upload to its parent a tar whose entries carry it as a prefix).
///
/// Into the container's own filesystem the engine extracts it before the start (the root
/// must then be writable). Into a [`Tmpfs`] (at or under its mount point) `tar -x` extracts it
/// inside the running container, as the mount's owner.
#[derive(Clone)]
pub struct Upload {
    pub dest_dir: String,
    pub tar: Vec<u8>,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload").field("dest_dir", &self.dest_dir).field("tar_bytes", &self.tar.len()).finish()
    }
}

/// A size-capped in-memory filesystem: writes past `size_bytes` fail with "No space left on
/// device", and its pages count against the container's memory limit. Its contents die with
/// the container, so files are moved in and out by `tar` inside the running container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmpfs {
    /// Absolute mount point; created if the image lacks it.
    pub path: String,
    pub size_bytes: u64,
    /// Owner (uid, gid) of the mount's root and of every file uploaded into it; `None` is
    /// root, which makes the mount read-only to every other user.
    pub owner: Option<(u32, u32)>,
    /// Permission bits of the mount's root.
    pub mode: u32,
    /// Whether programs on it may be executed.
    pub exec: bool,
}

impl Tmpfs {
    /// Scratch space every user may write, like a normal `/tmp` (mode 1777, executable).
    pub fn scratch(path: impl Into<String>, size_bytes: u64) -> Self {
        Self { path: path.into(), size_bytes, owner: None, mode: 0o1777, exec: true }
    }

    /// A directory `owner` may write and nobody else may (mode 755, executable).
    pub fn owned_by(path: impl Into<String>, size_bytes: u64, owner: (u32, u32)) -> Self {
        Self { path: path.into(), size_bytes, owner: Some(owner), mode: 0o755, exec: true }
    }

    /// Files root puts there and every other user may only read and run (mode 755).
    pub fn read_only_to_users(path: impl Into<String>, size_bytes: u64) -> Self {
        Self { path: path.into(), size_bytes, owner: None, mode: 0o755, exec: true }
    }

    /// True when `path` is this mount's root or lies under it.
    pub(crate) fn contains(&self, path: &str) -> bool {
        let root = self.path.trim_end_matches('/');
        let path = path.trim_end_matches('/');
        path == root || path.strip_prefix(root).is_some_and(|rest| rest.starts_with('/'))
    }

    /// The engine's `--tmpfs` option string.
    pub(crate) fn mount_options(&self) -> String {
        let mut options = format!("size={},mode={:o}", self.size_bytes, self.mode);
        if let Some((uid, gid)) = self.owner {
            options.push_str(&format!(",uid={uid},gid={gid}"));
        }
        options.push_str(if self.exec { ",exec" } else { ",noexec" });
        options
    }
}

/// The network a run's container joins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetworkMode {
    /// Loopback only.
    #[default]
    None,
    /// A run network from [`Sandbox::create_run_network`](crate::Sandbox::create_run_network):
    /// internal, with no address on the host, so only the other containers on it (the
    /// proxy) are reachable. Get one with [`RunNetwork::mode`](crate::RunNetwork::mode).
    Run(RunNetworkName),
}

/// The name of a network this crate created as a run network. Only [`crate::RunNetwork`]
/// makes one, so [`NetworkMode::Run`] can never name a network with a way out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunNetworkName(pub(crate) String);

impl RunNetworkName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Open files per process (`RLIMIT_NOFILE`, soft and hard) unless a spec says otherwise.
pub const DEFAULT_OPEN_FILES: u64 = 1024;
/// The size of the scratch `/tmp` every [`RunSpec::new`] gets.
pub const DEFAULT_TMP_BYTES: u64 = 256 * 1024 * 1024;

/// Everything about one container run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub image: ImageRef,
    /// The process to run (no shell unless you ask for one: `["sh", "-c", …]`).
    pub command: Vec<String>,
    /// Empty means the image's default.
    pub working_dir: String,
    /// The container's whole environment besides what the image sets.
    pub env: Vec<(String, String)>,
    /// `uid:gid` or a name; `None` means the image's default user (root unless the image
    /// says otherwise). Must not be [`HOLDER_USER`](crate::HOLDER_USER).
    pub user: Option<String>,
    /// Extracted in order before the command starts.
    pub uploads: Vec<Upload>,
    /// Absolute paths fetched after the command ended, as tars.
    pub downloads: Vec<String>,
    pub limits: Limits,
    /// `RLIMIT_NOFILE` for every process (soft = hard).
    pub open_files: u64,
    /// Mount the image read-only: then only the [`Tmpfs`] mounts (and `/dev/shm`) are
    /// writable, and uploads must go into them.
    pub read_only_root: bool,
    /// Size-capped in-memory filesystems. [`RunSpec::new`] gives a scratch `/tmp` of
    /// [`DEFAULT_TMP_BYTES`].
    pub tmpfs: Vec<Tmpfs>,
    pub network: NetworkMode,
    pub role: Role,
    /// Recorded in the `whetstone.job` label and the container name.
    pub job_id: String,
    /// Output beyond this is cut from the middle.
    pub output_cap_bytes: usize,
    /// Also receives every chunk of the command's output as it arrives (uncapped; the
    /// receiver decides what to keep), e.g. to stream a solve job's log to its developer.
    pub output_tap: Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>,
}

impl RunSpec {
    /// A run of `command` in `image` with default limits, a writable root, a 256 MiB scratch
    /// `/tmp`, 1024 open files, no network, no files in or out, 1 MiB of output.
    pub fn new(image: ImageRef, command: Vec<String>, role: Role, job_id: impl Into<String>) -> Self {
        Self {
            image,
            command,
            working_dir: String::new(),
            env: Vec::new(),
            user: None,
            uploads: Vec::new(),
            downloads: Vec::new(),
            limits: Limits::default(),
            open_files: DEFAULT_OPEN_FILES,
            read_only_root: false,
            tmpfs: vec![Tmpfs::scratch("/tmp", DEFAULT_TMP_BYTES)],
            network: NetworkMode::None,
            role,
            job_id: job_id.into(),
            output_cap_bytes: 1024 * 1024,
            output_tap: None,
        }
    }

    /// The tmpfs mount `path` is on, if any.
    pub(crate) fn tmpfs_for(&self, path: &str) -> Option<&Tmpfs> {
        // The innermost mount wins when mounts nest.
        self.tmpfs.iter().filter(|t| t.contains(path)).max_by_key(|t| t.path.len())
    }
}

/// How the container's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited by itself with this status (128 + n for a signal n it did not get from us).
    Code(i64),
    /// We killed it at the deadline.
    TimedOut,
    /// The kernel's OOM killer hit it at the memory limit.
    OutOfMemory,
}

impl Exit {
    pub fn is_success(self) -> bool {
        self == Exit::Code(0)
    }
}

/// Where the time went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Creating and starting the container and uploading files.
    pub create: Duration,
    /// From the command's start to its end.
    pub run: Duration,
    /// Everything, removal included.
    pub total: Duration,
}

/// How full one tmpfs was when the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsUsage {
    pub path: String,
    pub size_bytes: u64,
    pub used_bytes: u64,
    pub inodes_total: u64,
    pub inodes_used: u64,
}

impl FsUsage {
    /// Slack for block rounding: a writer that hit "No space left on device" leaves less.
    const FULL_SLACK_BYTES: u64 = 64 * 1024;

    /// True when a write there would have failed for lack of space or inodes.
    pub fn is_full(&self) -> bool {
        self.used_bytes + Self::FULL_SLACK_BYTES >= self.size_bytes || (self.inodes_total > 0 && self.inodes_used >= self.inodes_total)
    }
}

/// The result of [`Sandbox::run`](crate::Sandbox::run).
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub exit: Exit,
    /// stdout and stderr interleaved as they arrived, lossily decoded as UTF-8.
    pub output: String,
    pub output_truncated: bool,
    /// Each requested path with its tar (first component: the path's basename; see
    /// [`crate::archive::unpack_safe`] and [`crate::archive::file_contents`]), `None` if absent
    /// or not collected (then [`RunOutcome::download_problems`] says why).
    pub downloads: Vec<(String, Option<Vec<u8>>)>,
    /// Why a download is missing or partial, when the cause is inside the container (over
    /// [`MAX_DOWNLOAD_BYTES`](crate::MAX_DOWNLOAD_BYTES), unreadable files, a container that
    /// died with its tmpfs). Engine failures are errors instead.
    pub download_problems: Vec<String>,
    /// One entry per [`RunSpec::tmpfs`] mount that could be measured.
    pub filesystems: Vec<FsUsage>,
    pub timings: Timings,
}

impl RunOutcome {
    /// The mounts that were full when the command ended.
    pub fn full_filesystems(&self) -> impl Iterator<Item = &FsUsage> {
        self.filesystems.iter().filter(|fs| fs.is_full())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_contains_its_subtree_only() {
        let repo = Tmpfs::owned_by("/repo", 1, (1000, 1000));
        let cases = [("/repo", true), ("/repo/", true), ("/repo/src/x.py", true), ("/repository", false), ("/", false), ("/re", false)];
        for (path, want) in cases {
            assert_eq!(repo.contains(path), want, "{path}");
        }
    }

    #[test]
    fn tmpfs_options_for_the_engine() {
        assert_eq!(Tmpfs::scratch("/tmp", 1024).mount_options(), "size=1024,mode=1777,exec");
        assert_eq!(Tmpfs::owned_by("/repo", 2048, (1000, 1001)).mount_options(), "size=2048,mode=755,uid=1000,gid=1001,exec");
        let mut no_exec = Tmpfs::read_only_to_users("/task", 4096);
        no_exec.exec = false;
        assert_eq!(no_exec.mount_options(), "size=4096,mode=755,noexec");
    }

    #[test]
    fn innermost_tmpfs_wins() {
        let mut spec = RunSpec::new(ImageRef::new("x"), vec![], Role::Probe, "j");
        spec.tmpfs.push(Tmpfs::scratch("/tmp/inner", 1));
        assert_eq!(spec.tmpfs_for("/tmp/inner/a").map(|t| t.path.as_str()), Some("/tmp/inner"));
        assert_eq!(spec.tmpfs_for("/tmp/a").map(|t| t.path.as_str()), Some("/tmp"));
        assert_eq!(spec.tmpfs_for("/work"), None);
    }

    #[test]
    fn full_means_no_room_for_a_block_or_an_inode() {
        let usage =
            |used_bytes, inodes_used| FsUsage { path: "/repo".into(), size_bytes: 1024 * 1024, used_bytes, inodes_total: 100, inodes_used };
        assert!(!usage(0, 1).is_full());
        assert!(!usage(512 * 1024, 99).is_full());
        assert!(usage(1024 * 1024, 1).is_full());
        assert!(usage(1024 * 1024 - 4096, 1).is_full());
        assert!(usage(0, 100).is_full());
    }
}
