//! A project's dependencies, locked once on the curator's host when it is added: Python
//! requirements into `environment/requirements.lock` (wheels for the base image, with
//! hashes; [`DependencyCache::lock`]), a crate's dependencies into `Cargo.lock` (resolved by
//! the host's cargo, with its registry, proxy and CA configuration). The lock files are part of
//! the project's `environment/`, so every task's digest covers them, and image builds install
//! from them with no network.

use std::process::Command;

use whetstone_sandbox::crates::CARGO_LOCK_FILE;
use whetstone_sandbox::deps::{DependencyCache, PIP_LOCK_FILE};

use super::CurateError;
use super::project::CARGO_LOCKED_DOCKERFILE;
use super::source::write_files;
use crate::digest::TreeFile;
use crate::import::environment::{python_dockerfile, python_locked_dockerfile, python_requirements};
use crate::task::Framework;

/// A project's environment directory, and notes on what was locked.
#[derive(Debug, Clone)]
pub struct LockedEnvironment {
    /// `environment/Dockerfile` and the lock, paths starting with `environment/`.
    pub files: Vec<TreeFile>,
    /// Files to add to the base tree (a cargo project's `Cargo.lock`).
    pub base_files: Vec<TreeFile>,
    pub notes: Vec<String>,
}

fn text_file(path: &str, text: &str) -> TreeFile {
    TreeFile { path: path.to_owned(), executable: false, bytes: text.as_bytes().to_vec() }
}

/// Locks what `files` (the clean tree of `project`) declare, plus `extra_pip` for a Python
/// project. The project's own distribution is left out of a pip lock even when a dependency
/// depends on it: the checkout is what the tests import, and an installed copy would show an
/// agent the code without the bug.
pub fn lock_environment(
    project: &str,
    framework: Framework,
    files: &[TreeFile],
    extra_pip: &[String],
    cache: &DependencyCache,
) -> Result<LockedEnvironment, CurateError> {
    match framework {
        Framework::Pytest => {
            let requirements = python_requirements(files);
            if !requirements.unreachable.is_empty() {
                return Err(CurateError::Source(format!(
                    "the project needs {}, which only hosts other than the package index serve; \
                     give its PyPI name with --pip or pick another project",
                    requirements.unreachable.join(", ")
                )));
            }
            let mut pip = requirements.packages.clone();
            pip.extend(extra_pip.iter().filter(|p| !requirements.packages.contains(p)).cloned());
            if pip.is_empty() {
                return Ok(LockedEnvironment {
                    files: vec![text_file("environment/Dockerfile", &python_dockerfile(&[], &[]))],
                    base_files: Vec::new(),
                    notes: Vec::new(),
                });
            }
            let lock =
                cache.lock(&pip).map_err(|e| CurateError::Source(format!("locking the test dependencies failed: {e}")))?.without(project);
            let mut notes = vec![format!(
                "{} locked in environment/{PIP_LOCK_FILE} from {}",
                lock.summary(),
                if requirements.sources.is_empty() { "--pip".to_owned() } else { requirements.sources.join(", ") }
            )];
            if !extra_pip.is_empty() {
                notes.push(format!("extra requirements: {}", extra_pip.join(", ")));
            }
            let mut files = vec![text_file("environment/Dockerfile", &python_locked_dockerfile(false))];
            files.extend(lock.files().into_iter().map(|(name, text)| text_file(&format!("environment/{name}"), &text)));
            Ok(LockedEnvironment { files, base_files: Vec::new(), notes })
        }
        Framework::Cargo => {
            let lock = generate_cargo_lock(files)?;
            let crates = whetstone_sandbox::crates::locked_crates(&lock)
                .map_err(|e| CurateError::Source(format!("the generated Cargo.lock cannot be vendored: {e}")))?;
            Ok(LockedEnvironment {
                files: vec![
                    text_file("environment/Dockerfile", CARGO_LOCKED_DOCKERFILE),
                    text_file(&format!("environment/{CARGO_LOCK_FILE}"), &lock),
                ],
                base_files: vec![text_file(CARGO_LOCK_FILE, &lock)],
                notes: vec![format!("{} crates locked in Cargo.lock and vendored into the image", crates.len())],
            })
        }
    }
}

/// `cargo generate-lockfile` on a scratch copy of the tree, with the host's cargo.
fn generate_cargo_lock(files: &[TreeFile]) -> Result<String, CurateError> {
    let scratch = tempfile::tempdir().map_err(super::io_error("a scratch directory"))?;
    write_files(scratch.path(), files)?;
    let output = Command::new("cargo")
        .arg("generate-lockfile")
        .arg("--manifest-path")
        .arg(scratch.path().join("Cargo.toml"))
        .output()
        .map_err(|e| CurateError::Source(format!("cannot run cargo on this host to lock the crate's dependencies: {e}")))?;
    if !output.status.success() {
        return Err(CurateError::Source(format!(
            "`cargo generate-lockfile` failed: {}; cargo reaches crates.io with this host's configuration \
             (set CARGO_HTTP_CAINFO to the CA bundle of a TLS-inspecting proxy, HTTPS_PROXY for a proxy, \
             or a source replacement in ~/.cargo/config.toml for a mirror)",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    std::fs::read_to_string(scratch.path().join(CARGO_LOCK_FILE)).map_err(super::io_error("the generated Cargo.lock"))
}
