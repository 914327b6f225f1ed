//! Files in and out of a run's container: through the engine's archive API for the image's
//! own filesystem, through `tar` inside the running container for tmpfs mounts (the archive
//! API cannot see into them).

use std::time::Duration;

use bollard::body_full;
use bollard::query_parameters::{DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder};
use futures::StreamExt;

use crate::client::Sandbox;
use crate::error::{SandboxError, is_not_found};
use crate::exec::{Helper, HelperError, run_helper};
use crate::spec::Upload;

/// A download is held in memory; anything bigger is refused rather than risk the process.
pub const MAX_DOWNLOAD_BYTES: u64 = 256 * 1024 * 1024;
/// A transfer helper's bound.
const TRANSFER_HELPER_LIMIT: Duration = Duration::from_secs(120);
/// The exit code the download helper uses for "no such path".
const MISSING_PATH_CODE: i64 = 44;
/// `[ -e ]` alone misses a dangling symlink, which tar archives as it is.
const DOWNLOAD_SCRIPT: &str = r#"[ -e "$1" ] || [ -L "$1" ] || exit 44; cd "$2" && exec tar -c -f - -- "$3""#;

impl Sandbox {
    pub(crate) async fn upload_with_engine(&self, id: &str, upload: &Upload) -> Result<(), SandboxError> {
        let options = UploadToContainerOptionsBuilder::default().path(&upload.dest_dir).build();
        self.docker
            .upload_to_container(id, Some(options), body_full(upload.tar.clone().into()))
            .await
            .map_err(|e| SandboxError::docker(format!("upload files to {} (the directory must exist in the image)", upload.dest_dir), e))
    }

    /// `tar -x` inside the container, as the mount's owner, fed over the exec's stdin.
    pub(crate) async fn upload_into_tmpfs(&self, id: &str, upload: &Upload, tmpfs: (Option<(u32, u32)>, u64)) -> Result<(), SandboxError> {
        let (owner, size_bytes) = tmpfs;
        let user = owner.map_or_else(|| "0:0".to_owned(), |(uid, gid)| format!("{uid}:{gid}"));
        let helper = Helper {
            cmd: ["tar", "-x", "-f", "-", "--no-same-owner", "-C", &upload.dest_dir].map(str::to_owned).to_vec(),
            user: &user,
            stdin: Some(upload.tar.clone()),
            stdout_limit: 64 * 1024,
            time_limit: TRANSFER_HELPER_LIMIT,
        };
        let failed = |message: String| SandboxError::Upload { dest_dir: upload.dest_dir.clone(), message };
        match run_helper(&self.docker, id, helper).await {
            Ok(out) if out.succeeded() => Ok(()),
            Ok(out) => Err(failed(format!("tar exited with {:?} (the tmpfs holds {size_bytes} bytes): {}", out.code, out.stderr.trim()))),
            Err(HelperError::Docker(e)) => Err(SandboxError::docker(format!("upload files to {}", upload.dest_dir), e)),
            Err(HelperError::NotRunning) => Err(failed("the container stopped".to_owned())),
            Err(HelperError::TimedOut) => Err(failed("tar did not finish in time".to_owned())),
        }
    }

    /// The tar of `path` through the engine's archive API, or `None` when it does not exist.
    pub(crate) async fn download_with_engine(
        &self,
        id: &str,
        path: &str,
        problems: &mut Vec<String>,
    ) -> Result<Option<Vec<u8>>, SandboxError> {
        let options = DownloadFromContainerOptionsBuilder::default().path(path).build();
        let mut stream = self.docker.download_from_container(id, Some(options));
        let mut tar = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => {
                    if (tar.len() + bytes.len()) as u64 > MAX_DOWNLOAD_BYTES {
                        problems.push(too_large(path));
                        return Ok(None);
                    }
                    tar.extend_from_slice(&bytes);
                }
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(SandboxError::docker(format!("download {path}"), e)),
            }
        }
        Ok(Some(tar))
    }

    /// `tar -c` inside the container, as the command's user (the files are its own).
    pub(crate) async fn download_from_tmpfs(
        &self,
        id: &str,
        path: &str,
        user: &str,
        problems: &mut Vec<String>,
    ) -> Result<Option<Vec<u8>>, SandboxError> {
        let (parent, base) = split_path(path);
        let cmd = ["sh", "-c", DOWNLOAD_SCRIPT, "sh", path, parent, base].map(str::to_owned).to_vec();
        let helper = Helper { cmd, user, stdin: None, stdout_limit: MAX_DOWNLOAD_BYTES, time_limit: TRANSFER_HELPER_LIMIT };
        let out = match run_helper(&self.docker, id, helper).await {
            Ok(out) => out,
            Err(HelperError::Docker(e)) => {
                return Err(SandboxError::docker(format!("download {path}"), e));
            }
            Err(HelperError::NotRunning) => {
                problems.push(format!("{path} was lost: the container stopped"));
                return Ok(None);
            }
            Err(HelperError::TimedOut) => {
                problems.push(format!("{path} could not be archived in time"));
                return Ok(None);
            }
        };
        if out.stdout_overflow {
            problems.push(too_large(path));
            return Ok(None);
        }
        match out.code {
            Some(0) => Ok(Some(out.stdout)),
            Some(MISSING_PATH_CODE) => Ok(None),
            code => {
                // Unreadable files and the like: the archive holds the rest.
                problems.push(format!("tar of {path} exited with {code:?}: {}", out.stderr.trim()));
                Ok((!out.stdout.is_empty()).then_some(out.stdout))
            }
        }
    }
}

/// `/a/b/c` → (`/a/b`, `c`); `/c` → (`/`, `c`).
fn split_path(path: &str) -> (&str, &str) {
    let path = path.trim_end_matches('/');
    match path.rsplit_once('/') {
        Some(("", base)) => ("/", base),
        Some((parent, base)) => (parent, base),
        None => ("/", path),
    }
}

fn too_large(path: &str) -> String {
    format!("{path} was not collected: its archive exceeds {MAX_DOWNLOAD_BYTES} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_parent_and_base() {
        assert_eq!(split_path("/repo"), ("/", "repo"));
        assert_eq!(split_path("/repo/"), ("/", "repo"));
        assert_eq!(split_path("/grading/out"), ("/grading", "out"));
    }
}
