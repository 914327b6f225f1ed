//! What a [`RunSpec`] must satisfy before anything is created.

use crate::error::SandboxError;
use crate::spec::{HOLDER_USER, RunSpec, Upload};

pub(crate) fn check_spec(spec: &RunSpec) -> Result<(), SandboxError> {
    let invalid = |message: String| Err(SandboxError::InvalidSpec(message));
    if spec.command.is_empty() {
        return invalid("the command is empty".to_owned());
    }
    let mut seen = Vec::new();
    for tmpfs in &spec.tmpfs {
        let path = tmpfs.path.trim_end_matches('/');
        if !path.starts_with('/') || path.is_empty() {
            return invalid(format!("tmpfs mount point {:?} is not an absolute path below /", tmpfs.path));
        }
        if tmpfs.size_bytes == 0 {
            return invalid(format!("tmpfs {path} has no size"));
        }
        if seen.contains(&path) {
            return invalid(format!("tmpfs {path} is mounted twice"));
        }
        seen.push(path);
    }
    for upload in &spec.uploads {
        if !upload.dest_dir.starts_with('/') {
            return invalid(format!("upload destination {:?} is not absolute", upload.dest_dir));
        }
        if spec.tmpfs_for(&upload.dest_dir).is_some() {
            continue;
        }
        if spec.read_only_root {
            return invalid(format!("the root is read-only, so the upload to {} must go into a tmpfs", upload.dest_dir));
        }
        // The engine would extract it before the start, under a mount point that then hides it.
        if let Some(path) = entry_under_tmpfs(spec, upload) {
            return invalid(format!(
                "the upload to {} puts {path} under a tmpfs, where it would vanish at the start; upload to the tmpfs itself",
                upload.dest_dir
            ));
        }
    }
    for path in &spec.downloads {
        if !path.starts_with('/') || path.trim_end_matches('/').is_empty() {
            return invalid(format!("download path {path:?} is not an absolute path below /"));
        }
        // The engine's archive of `path` would hold what lies beneath the mount, not in it.
        if spec.tmpfs_for(path).is_none()
            && let Some(tmpfs) = spec.tmpfs.iter().find(|t| contains(path, &t.path))
        {
            return invalid(format!("the download of {path} would miss the tmpfs {} inside it; download that separately", tmpfs.path));
        }
    }
    Ok(())
}

/// True when `path` is `dir` or lies under it.
fn contains(dir: &str, path: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    let path = path.trim_end_matches('/');
    path == dir || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}

/// The first entry of an upload the engine would extract into a tmpfs mount point.
fn entry_under_tmpfs(spec: &RunSpec, upload: &Upload) -> Option<String> {
    let mut archive = tar::Archive::new(upload.tar.as_slice());
    for entry in archive.entries().ok()? {
        let Ok(entry) = entry else { break };
        let Ok(path) = entry.path() else { continue };
        let full = format!("{}/{}", upload.dest_dir.trim_end_matches('/'), path.to_string_lossy().trim_start_matches("./"));
        // The mount point itself may exist beneath the mount; only what is inside it vanishes.
        let is_mount_point = spec.tmpfs.iter().any(|t| t.path.trim_end_matches('/') == full.trim_end_matches('/'));
        if !is_mount_point && spec.tmpfs_for(&full).is_some() {
            return Some(full);
        }
    }
    None
}

pub(crate) fn check_user(user: &str) -> Result<(), SandboxError> {
    let holder_uid = HOLDER_USER.split(':').next().unwrap_or_default();
    if user.split(':').next() == Some(holder_uid) {
        return Err(SandboxError::InvalidSpec(format!("user {user} is the sandbox's own (uid {holder_uid}); pick another")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::ImageRef;
    use crate::spec::{Role, Tmpfs};

    #[test]
    fn specs_are_checked_before_anything_is_created() {
        let base = || RunSpec::new(ImageRef::new("x"), vec!["true".into()], Role::Probe, "j");
        assert!(check_spec(&base()).is_ok());
        let mut read_only = base();
        read_only.read_only_root = true;
        read_only.uploads = vec![Upload { dest_dir: "/work".into(), tar: Vec::new() }];
        assert!(check_spec(&read_only).is_err());
        read_only.uploads[0].dest_dir = "/tmp".into();
        assert!(check_spec(&read_only).is_ok());
        let mut under_mount = base();
        under_mount.tmpfs.push(Tmpfs::scratch("/repo", 1));
        let tar = crate::archive::pack_files(&[("repo/x".into(), b"x".to_vec(), 0o644)], (0, 0)).expect("pack");
        under_mount.uploads = vec![Upload { dest_dir: "/".into(), tar }];
        let err = check_spec(&under_mount).expect_err("the upload would vanish");
        assert!(err.to_string().contains("/repo/x"), "{err}");
        under_mount.uploads.clear();
        under_mount.downloads = vec!["/".into(), "/repo".into()];
        assert!(check_spec(&under_mount).is_err(), "/ would miss /repo");
        under_mount.downloads = vec!["/repo/x".into(), "/etc".into()];
        assert!(check_spec(&under_mount).is_ok());
        let mut twice = base();
        twice.tmpfs.push(Tmpfs::scratch("/tmp/", 1));
        assert!(check_spec(&twice).is_err());
        let mut root = base();
        root.tmpfs = vec![Tmpfs::scratch("/", 1)];
        assert!(check_spec(&root).is_err());
        assert!(check_user("65533:65533").is_err());
        assert!(check_user("65533").is_err());
        assert!(check_user("1000:1000").is_ok());
    }
}
