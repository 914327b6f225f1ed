//! The base image: Debian built with debootstrap and imported, because no registry is
//! assumed to be reachable (only a Debian mirror).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, PoisonError};

use bollard::body_try_stream;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio_util::io::ReaderStream;

use crate::client::{Progress, Sandbox};
use crate::error::SandboxError;
use crate::images::{ImageRef, LOG_TAIL_BYTES};
use crate::mirror::debian_mirror;
use crate::output::CappedOutput;

const SUITE: &str = "bookworm";
const VARIANT: &str = "minbase";
/// `python3-pip` installs locked environments' wheels with no network (`deps.rs`).
const PACKAGES: &[&str] = &["python3", "python3-pytest", "python3-pip", "git", "patch"];

/// The unprivileged user agents run as: (name, uid, gid, home).
pub const AGENT_USER: (&str, u32, u32, &str) = ("agent", 1000, 1000, "/home/agent");

/// Dockerfile instructions applied at import (`docker import --change`).
/// PATH is spelled out because an imported image has no environment at all.
const IMAGE_CHANGES: &[&str] =
    &["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV LANG=C.UTF-8", "CMD [\"/bin/bash\"]"];

/// Everything that decides the image's contents. Bump the version line when the build steps
/// change in a way the other lines do not show.
fn recipe() -> String {
    let (user, uid, gid, home) = AGENT_USER;
    format!(
        "whetstone base image recipe v1\nsuite={SUITE}\nvariant={VARIANT}\npackages={}\n\
         user={user}:{uid}:{gid}:{home}:/bin/bash\nchanges={}\ntrim=apt-caches\n",
        PACKAGES.join(","),
        IMAGE_CHANGES.join("|"),
    )
}

/// The tag of the base image this build of Whetstone uses.
pub fn base_image_tag() -> ImageRef {
    let digest = hex::encode(Sha256::digest(recipe().as_bytes()));
    ImageRef::new(format!("whetstone-base:{SUITE}-{}", &digest[..12]))
}

impl Sandbox {
    /// Returns the base image ([`base_image_tag`]), building it first if the engine does not
    /// have it: debootstrap (needs root and the `debootstrap` package; about a minute and
    /// 400 MB), the `agent` user (uid/gid 1000, home `/home/agent`), `docker import`.
    /// Concurrent callers, in this process or others, build it once.
    pub async fn ensure_base_image(&self, progress: &dyn Progress) -> Result<ImageRef, SandboxError> {
        let tag = base_image_tag();
        self.build_once(&tag, progress, || self.build_base_image(&tag, progress)).await
    }

    async fn build_base_image(&self, tag: &ImageRef, progress: &dyn Progress) -> Result<(), SandboxError> {
        let debootstrap = find_debootstrap().ok_or(SandboxError::DebootstrapMissing)?;
        if !running_as_root() {
            return Err(SandboxError::NotRoot);
        }
        let mirror = debian_mirror();
        let workdir = tempfile::Builder::new()
            .prefix("whetstone-rootfs-")
            .tempdir()
            .map_err(|e| SandboxError::io("create a directory for the root filesystem", e))?;
        let rootfs = workdir.path().join("rootfs");
        progress.message(&format!("building {tag}: debootstrap {SUITE} from {mirror}"));
        let built = async {
            run_debootstrap(&debootstrap, &rootfs, &mirror, progress).await?;
            add_agent_user(&rootfs).map_err(|e| SandboxError::io("add the agent user to the root filesystem", e))?;
            trim_apt_caches(&rootfs).map_err(|e| SandboxError::io("trim apt caches from the root filesystem", e))?;
            progress.message(&format!("importing the root filesystem as {tag}"));
            self.import_rootfs(&rootfs, tag).await
        }
        .await;
        // Hundreds of MB of small files: delete off the async threads.
        let cleanup = tokio::task::spawn_blocking(move || workdir.close()).await;
        if let Ok(Err(e)) | Err(e) = cleanup.map_err(io::Error::other) {
            tracing::warn!(error = %e, "failed to delete the temporary root filesystem");
        }
        built
    }

    /// `tar -c rootfs | docker import`, streamed: the tree is never held in memory.
    async fn import_rootfs(&self, rootfs: &Path, tag: &ImageRef) -> Result<(), SandboxError> {
        let import_error = |message: String| SandboxError::Import { tag: tag.to_string(), message };
        let mut tar = Command::new("tar")
            .arg("--numeric-owner")
            .arg("-C")
            .arg(rootfs)
            .args(["-c", "."])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SandboxError::io("run tar over the root filesystem", e))?;
        let stdout = tar.stdout.take().ok_or_else(|| import_error("tar's output was not captured".to_owned()))?;
        let (repo, version) = tag.as_str().split_once(':').unwrap_or((tag.as_str(), "latest"));
        let options = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(repo)
            .tag(version)
            .message("whetstone base image (debootstrap)")
            .changes(IMAGE_CHANGES.iter().map(|c| (*c).to_owned()).collect())
            .build();
        let body = body_try_stream(ReaderStream::with_capacity(stdout, 1 << 20));
        let mut stream = self.image_docker.create_image(Some(options), Some(body), None);
        let mut failure = None;
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                failure = Some(e.to_string());
                break;
            }
        }
        if let Some(message) = failure {
            // Nobody reads tar's pipe any more; without the kill it would block forever.
            let _ = tar.start_kill();
            let _ = tar.wait().await;
            return Err(import_error(message));
        }
        let finished = tar.wait_with_output().await.map_err(|e| SandboxError::io("wait for tar", e))?;
        if !finished.status.success() {
            return Err(import_error(format!("tar exited with {}: {}", finished.status, String::from_utf8_lossy(&finished.stderr).trim())));
        }
        Ok(())
    }
}

async fn run_debootstrap(debootstrap: &Path, rootfs: &Path, mirror: &str, progress: &dyn Progress) -> Result<(), SandboxError> {
    let mut child = Command::new(debootstrap)
        .arg(format!("--variant={VARIANT}"))
        .arg(format!("--include={}", PACKAGES.join(",")))
        .arg(SUITE)
        .arg(rootfs)
        .arg(mirror)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| SandboxError::io(format!("run {}", debootstrap.display()), e))?;
    let log = Mutex::new(CappedOutput::tail_only(LOG_TAIL_BYTES));
    let pump = |reader: Option<Box<dyn AsyncRead + Send + Unpin>>| {
        let log = &log;
        async move {
            let Some(reader) = reader else { return };
            let mut lines = BufReader::new(reader).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                progress.message(&line);
                let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                log.push(line.as_bytes());
                log.push(b"\n");
            }
        }
    };
    let stdout = child.stdout.take().map(|r| Box::new(r) as Box<dyn AsyncRead + Send + Unpin>);
    let stderr = child.stderr.take().map(|r| Box::new(r) as Box<dyn AsyncRead + Send + Unpin>);
    let ((), (), status) = tokio::join!(pump(stdout), pump(stderr), child.wait());
    let status = status.map_err(|e| SandboxError::io("wait for debootstrap", e))?;
    if status.success() {
        return Ok(());
    }
    let (mut log_tail, _) = log.into_inner().unwrap_or_else(PoisonError::into_inner).finish();
    // debootstrap keeps the detailed reason (failed downloads, dpkg errors) in its own log.
    let detailed = rootfs.join("debootstrap/debootstrap.log");
    if let Ok(contents) = fs::read(&detailed) {
        let mut tail = CappedOutput::tail_only(LOG_TAIL_BYTES);
        tail.push(&contents);
        log_tail.push_str(&format!("\n--- {} ---\n{}", detailed.display(), tail.finish().0));
    }
    Err(SandboxError::Debootstrap { status: status.to_string(), log_tail })
}

/// Adds the `agent` user by editing the account files directly: the rootfs has no running
/// system to call `useradd` in, and this keeps the result identical on every build.
fn add_agent_user(rootfs: &Path) -> io::Result<()> {
    let (user, uid, gid, home) = AGENT_USER;
    let etc = rootfs.join("etc");
    append_line(&etc.join("passwd"), &format!("{user}:x:{uid}:{gid}:Whetstone agent:{home}:/bin/bash"))?;
    append_line(&etc.join("group"), &format!("{user}:x:{gid}:"))?;
    append_line(&etc.join("shadow"), &format!("{user}:*::0:99999:7:::"))?;
    append_line(&etc.join("gshadow"), &format!("{user}:!::"))?;
    let home_dir = rootfs.join(home.trim_start_matches('/'));
    fs::create_dir_all(&home_dir)?;
    for entry in fs::read_dir(etc.join("skel"))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let dest = home_dir.join(entry.file_name());
            fs::copy(entry.path(), &dest)?;
            std::os::unix::fs::chown(&dest, Some(uid), Some(gid))?;
        }
    }
    std::os::unix::fs::chown(&home_dir, Some(uid), Some(gid))
}

fn append_line(path: &Path, line: &str) -> io::Result<()> {
    let mut file = fs::OpenOptions::new().append(true).open(path)?;
    writeln!(file, "{line}")
}

/// Package downloads and indexes are useless in the image (builds run `apt-get update`).
fn trim_apt_caches(rootfs: &Path) -> io::Result<()> {
    for (dir, keep) in [
        ("var/cache/apt/archives", &["partial", "lock"][..]),
        ("var/cache/apt", &["archives"][..]),
        ("var/lib/apt/lists", &["partial", "lock"][..]),
    ] {
        let Ok(entries) = fs::read_dir(rootfs.join(dir)) else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            let keep_it = keep.iter().any(|k| entry.file_name() == *k);
            if !keep_it && entry.file_type()?.is_file() {
                fs::remove_file(entry.path())?;
            }
        }
    }
    Ok(())
}

fn find_debootstrap() -> Option<PathBuf> {
    let path_dirs = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    // sbin is often missing from a non-root PATH, which is where debootstrap lives.
    path_dirs
        .into_iter()
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("debootstrap"))
        .find(|candidate| candidate.is_file())
}

/// `/proc/self` belongs to the process's effective user.
fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_tag_is_stable_and_short() {
        let tag = base_image_tag();
        assert_eq!(tag, base_image_tag());
        let suffix = tag.as_str().strip_prefix("whetstone-base:bookworm-").expect("prefix");
        assert_eq!(suffix.len(), 12);
        assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn adds_the_agent_user() {
        if !running_as_root() {
            return; // chown needs root, as the real build does
        }
        let root = tempfile::tempdir().expect("tempdir");
        let etc = root.path().join("etc");
        fs::create_dir_all(etc.join("skel")).expect("skel");
        fs::write(etc.join("skel/.bashrc"), "# bashrc\n").expect("bashrc");
        for file in ["passwd", "group", "shadow", "gshadow"] {
            fs::write(etc.join(file), "root:x:0:0:root:/root:/bin/bash\n").expect("account file");
        }
        add_agent_user(root.path()).expect("add user");
        let passwd = fs::read_to_string(etc.join("passwd")).expect("passwd");
        assert!(passwd.ends_with("agent:x:1000:1000:Whetstone agent:/home/agent:/bin/bash\n"));
        let home = fs::metadata(root.path().join("home/agent")).expect("home");
        assert_eq!((home.uid(), home.gid()), (1000, 1000));
        assert!(root.path().join("home/agent/.bashrc").is_file());
    }
}
