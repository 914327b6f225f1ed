//! What a run is given and what it returns.

use std::fmt;
use std::time::Duration;

use crate::images::ImageRef;

/// What a container may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall time from start; past it the container is killed and the run is [`Exit::TimedOut`].
    pub timeout: Duration,
    /// Memory, with no swap on top.
    pub memory_bytes: u64,
    /// CPU in billionths of a CPU (1_000_000_000 = one CPU).
    pub nano_cpus: i64,
    /// Maximum number of processes and threads.
    pub pids: i64,
}

impl Default for Limits {
    /// 5 minutes (the task format's default test timeout), 2 GiB, one CPU, 512 pids.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            memory_bytes: 2 * 1024 * 1024 * 1024,
            nano_cpus: 1_000_000_000,
            pids: 512,
        }
    }
}

/// Why the container exists; recorded in the `whetstone.role` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Agent,
    Grade,
    Probe,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Grade => "grade",
            Role::Probe => "probe",
        }
    }
}

/// A tar extracted at `dest_dir` (an absolute path that must already exist in the image;
/// to create a directory, upload to `/` a tar whose entries carry it as a prefix).
#[derive(Clone)]
pub struct Upload {
    pub dest_dir: String,
    pub tar: Vec<u8>,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("dest_dir", &self.dest_dir)
            .field("tar_bytes", &self.tar.len())
            .finish()
    }
}

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
    /// `uid:gid` or a name; `None` means the image's default (root).
    pub user: Option<String>,
    /// Extracted in order before the container starts.
    pub uploads: Vec<Upload>,
    /// Absolute paths fetched after the exit, as tars.
    pub downloads: Vec<String>,
    pub limits: Limits,
    pub role: Role,
    /// Recorded in the `whetstone.job` label and the container name.
    pub job_id: String,
    /// Output beyond this is cut from the middle.
    pub output_cap_bytes: usize,
}

impl RunSpec {
    /// A run of `command` in `image` with default limits, no files in or out, 1 MiB of output.
    pub fn new(
        image: ImageRef,
        command: Vec<String>,
        role: Role,
        job_id: impl Into<String>,
    ) -> Self {
        Self {
            image,
            command,
            working_dir: String::new(),
            env: Vec::new(),
            user: None,
            uploads: Vec::new(),
            downloads: Vec::new(),
            limits: Limits::default(),
            role,
            job_id: job_id.into(),
            output_cap_bytes: 1024 * 1024,
        }
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
    /// Creating the container and uploading files.
    pub create: Duration,
    /// From start to exit.
    pub run: Duration,
    /// Everything, removal included.
    pub total: Duration,
}

/// The result of [`Sandbox::run`](crate::Sandbox::run).
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub exit: Exit,
    /// stdout and stderr interleaved as they arrived, lossily decoded as UTF-8.
    pub output: String,
    pub output_truncated: bool,
    /// Each requested path with its tar (first component: the path's basename; see
    /// [`crate::archive::unpack_safe`] and [`crate::archive::file_contents`]), `None` if absent.
    pub downloads: Vec<(String, Option<Vec<u8>>)>,
    pub timings: Timings,
}
