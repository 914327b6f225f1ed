//! A cross-process lock per image tag, so parallel processes build an image once.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::PathBuf;

use crate::client::Progress;
use crate::error::SandboxError;

/// Held while an image is checked and built; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct BuildLock {
    _file: File,
}

/// Locks `<temp dir>/whetstone-locks/<tag>.lock`, saying so through `progress` when another
/// process holds it. The OS releases the lock if the holder dies, so a crash never wedges it.
pub(crate) async fn lock_tag(tag: &str, progress: &dyn Progress) -> Result<BuildLock, SandboxError> {
    let path = lock_path(tag);
    let file = open_lock_file(&path).map_err(|e| SandboxError::io(format!("open lock file {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => return Ok(BuildLock { _file: file }),
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(e)) => {
            return Err(SandboxError::io(format!("lock {}", path.display()), e));
        }
    }
    progress.message(&format!("waiting for another process to finish building {tag}"));
    let locked = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| SandboxError::io("wait for the image build lock", std::io::Error::other(e)))?
        .map_err(|e| SandboxError::io(format!("lock {}", path.display()), e))?;
    Ok(BuildLock { _file: locked })
}

fn open_lock_file(path: &std::path::Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).write(true).truncate(false).open(path)
}

fn lock_path(tag: &str) -> PathBuf {
    let name: String = tag.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
    std::env::temp_dir().join("whetstone-locks").join(format!("{name}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::NoProgress;

    #[test]
    fn lock_file_name_is_flat() {
        let path = lock_path("whetstone-env:0123abcd");
        assert_eq!(path.file_name().and_then(|n| n.to_str()), Some("whetstone-env_0123abcd.lock"));
    }

    #[tokio::test]
    async fn second_holder_waits_for_the_first() {
        let tag = format!("whetstone-test-lock:{}", uuid::Uuid::new_v4().simple());
        let first = lock_tag(&tag, &NoProgress).await.expect("first lock");
        let second = tokio::spawn({
            let tag = tag.clone();
            async move { lock_tag(&tag, &NoProgress).await.map(|_| ()) }
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!second.is_finished(), "second lock acquired while the first was held");
        drop(first);
        second.await.expect("join").expect("second lock");
        let _ = fs::remove_file(lock_path(&tag));
    }
}
