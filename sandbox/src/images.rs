//! Image references, the tag cache, and `docker build` of task environments.

use std::collections::HashMap;
use std::fmt;

use bollard::body_full;
use bollard::query_parameters::BuildImageOptionsBuilder;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::archive::pack_files;
use crate::client::{Progress, Sandbox};
use crate::crates::{CARGO_LOCK_FILE, locked_crates};
use crate::debs::{DEBIAN_LOCK_FILE, DEBIAN_LOCKED_INSTALL, DebianLock, debian_context};
use crate::deps::{BUILD_LOCK_FILE, DependencyCache, DependencyError, PIP_LOCK_FILE, PipLock};
use crate::error::{SandboxError, is_not_found};
use crate::lock::lock_tag;
use crate::output::CappedOutput;

/// How much of a failed build's output an error carries.
pub(crate) const LOG_TAIL_BYTES: usize = 8 * 1024;

/// A local image, by tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef(String);

impl ImageRef {
    pub fn new(tag: impl Into<String>) -> Self {
        Self(tag.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for ImageRef {
    fn from(tag: String) -> Self {
        Self(tag)
    }
}

/// The tag [`Sandbox::ensure_image`] gives `dockerfile` built on `base`: tasks sharing an
/// environment share an image, and a change to either input means a new tag.
pub fn env_image_tag(dockerfile: &[u8], base: &ImageRef) -> ImageRef {
    let mut hasher = Sha256::new();
    hasher.update(dockerfile);
    hasher.update(base.as_str().as_bytes());
    let digest = hex::encode(hasher.finalize());
    ImageRef(format!("whetstone-env:{}", &digest[..16]))
}

/// A task's `environment/` directory: the Dockerfile and the files next to it (paths relative
/// to `environment/`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvironmentFiles {
    files: Vec<(String, Vec<u8>)>,
}

impl EnvironmentFiles {
    /// From `(path below environment/, bytes)` pairs; sorted by path.
    pub fn new(files: impl IntoIterator<Item = (String, Vec<u8>)>) -> Self {
        let mut files: Vec<(String, Vec<u8>)> = files.into_iter().collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        Self { files }
    }

    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.iter().find(|(p, _)| p == path).map(|(_, bytes)| bytes.as_slice())
    }

    pub fn dockerfile(&self) -> &[u8] {
        self.file("Dockerfile").unwrap_or_default()
    }

    /// True when the environment carries a lock: its build then installs from the host's
    /// caches with the network disabled.
    pub fn is_locked(&self) -> bool {
        [PIP_LOCK_FILE, CARGO_LOCK_FILE, DEBIAN_LOCK_FILE].iter().any(|file| self.file(file).is_some())
    }

    /// True when the Dockerfile builds on the Rust toolchain image (`ARG RUST_IMAGE`).
    pub fn needs_rust_image(&self) -> bool {
        String::from_utf8_lossy(self.dockerfile()).lines().any(|line| line.trim() == format!("ARG {RUST_IMAGE_ARG}"))
    }

    /// A locked environment, or one on the (locked) Rust toolchain image, builds with the
    /// network disabled, unless its Dockerfile runs apt-get itself (unlocked packages from
    /// the mirror; [`DEBIAN_LOCK_FILE`] is the locked way).
    pub fn builds_offline(&self) -> bool {
        (self.is_locked() || self.needs_rust_image()) && !String::from_utf8_lossy(self.dockerfile()).contains("apt-get")
    }

    /// The tag its image gets on `base`: a Dockerfile alone keeps [`env_image_tag`]; with
    /// more files every file counts (the lock's hashes pin the wheels, so they need not).
    pub fn image_tag(&self, base: &ImageRef) -> ImageRef {
        if self.files.len() <= 1 && !self.needs_rust_image() {
            return env_image_tag(self.dockerfile(), base);
        }
        let mut hasher = Sha256::new();
        for (path, bytes) in &self.files {
            hasher.update(path.as_bytes());
            hasher.update([0]);
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        }
        hasher.update(base.as_str().as_bytes());
        if self.needs_rust_image() {
            hasher.update(rust_toolchain_recipe().as_bytes());
            hasher.update(RUST_TOOLCHAIN_LOCK.as_bytes());
        }
        let digest = hex::encode(hasher.finalize());
        ImageRef(format!("whetstone-env:{}", &digest[..16]))
    }
}

/// The build argument naming the Rust toolchain image.
pub const RUST_IMAGE_ARG: &str = "RUST_IMAGE";

/// The Rust toolchain's Debian packages: `rustc-web`/`cargo-web` (the current Rust Debian
/// ships for bookworm through its security suite; bookworm's own `rustc` is 1.63) and what
/// they need over the base image, pinned by hash. Every host installs these exact bytes, so
/// every validator compiles with the same toolchain. Resolve it again (a newer toolchain, or
/// when the mirror stops serving these versions) with
/// `whetstone tasks lock-debian rustc-web cargo-web --output sandbox/locks/rust-toolchain.lock`.
pub const RUST_TOOLCHAIN_LOCK: &str = include_str!("../locks/rust-toolchain.lock");

/// The Rust toolchain image's Dockerfile: [`RUST_TOOLCHAIN_LOCK`] installed on the base
/// image with no network.
pub fn rust_toolchain_recipe() -> String {
    format!("ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\n{DEBIAN_LOCKED_INSTALL}RUN rustc --version && cargo --version\n")
}

/// The Rust toolchain image's tag on `base`: its recipe and lock decide it.
pub fn rust_toolchain_tag(base: &ImageRef) -> ImageRef {
    let mut recipe = rust_toolchain_recipe().into_bytes();
    recipe.extend_from_slice(RUST_TOOLCHAIN_LOCK.as_bytes());
    env_image_tag(&recipe, base)
}

/// The build-context files of a locked environment's dependencies, from `cache`.
fn locked_context(
    cache: &DependencyCache,
    pip_lock: Option<(&str, Option<&str>)>,
    cargo_lock: Option<&str>,
    debian_lock: Option<&str>,
) -> Result<Vec<(String, Vec<u8>, u32)>, DependencyError> {
    let read = |dir: &str, file: &str, path: &std::path::Path| {
        std::fs::read(path)
            .map(|bytes| (format!("{dir}/{file}"), bytes, 0o644))
            .map_err(|source| DependencyError::Io { action: format!("read {}", path.display()), source })
    };
    let mut context = Vec::new();
    if let Some((text, build)) = pip_lock {
        for (file, path) in cache.wheels_for(&PipLock::parse_files(text, build)?)? {
            context.push(read("wheels", &file, &path)?);
        }
    }
    if let Some(text) = cargo_lock {
        let crates = locked_crates(text)?;
        let mut sums = String::new();
        for (locked, (file, path)) in crates.iter().zip(cache.crates_for(&crates)?) {
            sums.push_str(&format!("{}  {file}\n", locked.checksum));
            context.push(read("crates", &file, &path)?);
        }
        context.push(("crates/SHA256SUMS".to_owned(), sums.into_bytes(), 0o644));
    }
    if let Some(text) = debian_lock {
        context.extend(debian_context(cache, &DebianLock::parse(text)?)?);
    }
    Ok(context)
}

impl Sandbox {
    /// A task's environment image from its whole `environment/` directory.
    ///
    /// A locked environment gets its dependencies from the host's [`DependencyCache`]
    /// (downloading what is missing with the host's pip and curl configuration) into the build
    /// context: the wheels of `requirements.lock` under `wheels/`, the crates of `Cargo.lock`
    /// under `crates/` and the packages of `debian.lock` under `debs/`, each with a
    /// `SHA256SUMS`. It is built with no network unless its Dockerfile runs apt-get itself
    /// ([`EnvironmentFiles::builds_offline`]). A Dockerfile that starts `FROM ${RUST_IMAGE}`
    /// builds on the Rust toolchain image ([`Sandbox::ensure_rust_toolchain_image`]).
    pub async fn ensure_environment_image(
        &self,
        environment: &EnvironmentFiles,
        progress: &dyn Progress,
    ) -> Result<ImageRef, SandboxError> {
        let base = self.ensure_base_image(progress).await?;
        let rust = match environment.needs_rust_image() {
            true => Some(self.ensure_rust_toolchain_image(&base, progress).await?),
            false => None,
        };
        if !environment.is_locked() && rust.is_none() {
            return self.ensure_image(environment.dockerfile(), &base, progress).await;
        }
        let tag = environment.image_tag(&base);
        self.build_once(&tag, progress, || async {
            let cache = self.dependency_cache.clone();
            let text = |file: &str| environment.file(file).map(|b| String::from_utf8_lossy(b).into_owned());
            let pip_lock = text(PIP_LOCK_FILE);
            let build_lock = text(BUILD_LOCK_FILE);
            let cargo_lock = environment.file(CARGO_LOCK_FILE).map(|b| String::from_utf8_lossy(b).into_owned());
            let debian_lock = environment.file(DEBIAN_LOCK_FILE).map(|b| String::from_utf8_lossy(b).into_owned());
            progress.message(&format!("fetching the locked dependencies into {}", cache.root().display()));
            let dependencies = tokio::task::spawn_blocking(move || {
                let pip = pip_lock.as_deref().map(|lock| (lock, build_lock.as_deref()));
                locked_context(&cache, pip, cargo_lock.as_deref(), debian_lock.as_deref())
            })
            .await
            .map_err(|e| SandboxError::io("fetch the locked dependencies", std::io::Error::other(e)))??;
            let mut context: Vec<(String, Vec<u8>, u32)> =
                environment.files.iter().map(|(path, bytes)| (path.clone(), bytes.clone(), 0o644)).collect();
            context.extend(dependencies);
            let mut args = vec![("BASE_IMAGE", base.as_str())];
            if let Some(rust) = &rust {
                args.push((RUST_IMAGE_ARG, rust.as_str()));
            }
            self.build_context_image(&context, &args, &tag, environment.builds_offline(), progress).await
        })
        .await
    }

    /// The Rust toolchain image on `base` ([`rust_toolchain_tag`]): [`RUST_TOOLCHAIN_LOCK`]'s
    /// packages from the dependency cache (fetched from the mirror when missing), installed
    /// with no network.
    pub async fn ensure_rust_toolchain_image(&self, base: &ImageRef, progress: &dyn Progress) -> Result<ImageRef, SandboxError> {
        let tag = rust_toolchain_tag(base);
        self.build_once(&tag, progress, || async {
            let cache = self.dependency_cache.clone();
            progress.message(&format!("fetching the Rust toolchain's packages into {}", cache.root().display()));
            let debs = tokio::task::spawn_blocking(move || debian_context(&cache, &DebianLock::parse(RUST_TOOLCHAIN_LOCK)?))
                .await
                .map_err(|e| SandboxError::io("fetch the Rust toolchain's packages", std::io::Error::other(e)))??;
            let mut context = vec![("Dockerfile".to_owned(), rust_toolchain_recipe().into_bytes(), 0o644)];
            context.extend(debs);
            self.build_context_image(&context, &[("BASE_IMAGE", base.as_str())], &tag, true, progress).await
        })
        .await
    }

    /// Removes an image this process built for itself (the tag only, if others share it).
    pub(crate) async fn remove_image(&self, tag: &ImageRef) -> Result<(), SandboxError> {
        let options = bollard::query_parameters::RemoveImageOptionsBuilder::default().force(true).build();
        match self.docker.remove_image(tag.as_str(), Some(options), None).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(SandboxError::docker(format!("remove image {tag}"), e)),
        }
    }

    /// A task's environment image: the base image first, then the task's Dockerfile on it;
    /// each step is a cache hit when its tag exists.
    pub async fn ensure_task_image(&self, dockerfile: &[u8], progress: &dyn Progress) -> Result<ImageRef, SandboxError> {
        let base = self.ensure_base_image(progress).await?;
        self.ensure_image(dockerfile, &base, progress).await
    }

    /// Builds a task environment (`docker build` with `BASE_IMAGE=<base>`) unless an image
    /// with its tag ([`env_image_tag`]) exists already. Concurrent callers, in this process or
    /// others, build it once. A failed build's error carries the tail of the build output.
    pub async fn ensure_image(&self, dockerfile: &[u8], base: &ImageRef, progress: &dyn Progress) -> Result<ImageRef, SandboxError> {
        let tag = env_image_tag(dockerfile, base);
        self.build_once(&tag, progress, || self.build_env_image(dockerfile, base, &tag, progress)).await
    }

    /// Returns at once when `tag` exists; otherwise takes the tag's lock, checks again (another
    /// process may have built it while we waited) and runs `build`.
    pub(crate) async fn build_once<F, Fut>(&self, tag: &ImageRef, progress: &dyn Progress, build: F) -> Result<ImageRef, SandboxError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), SandboxError>>,
    {
        if self.image_exists(tag).await? {
            return Ok(tag.clone());
        }
        let _lock = lock_tag(tag.as_str(), progress).await?;
        if self.image_exists(tag).await? {
            return Ok(tag.clone());
        }
        build().await?;
        if !self.image_exists(tag).await? {
            return Err(SandboxError::ImageBuild {
                tag: tag.to_string(),
                message: "the build finished but the image is not there".to_owned(),
                log_tail: String::new(),
            });
        }
        Ok(tag.clone())
    }

    pub(crate) async fn image_exists(&self, tag: &ImageRef) -> Result<bool, SandboxError> {
        match self.docker.inspect_image(tag.as_str()).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(SandboxError::docker(format!("inspect image {tag}"), e)),
        }
    }

    async fn build_env_image(
        &self,
        dockerfile: &[u8],
        base: &ImageRef,
        tag: &ImageRef,
        progress: &dyn Progress,
    ) -> Result<(), SandboxError> {
        self.build_context_image(
            &[("Dockerfile".to_owned(), dockerfile.to_vec(), 0o644)],
            &[("BASE_IMAGE", base.as_str())],
            tag,
            false,
            progress,
        )
        .await
    }

    /// `docker build` of `context` (which holds `Dockerfile`); `offline` disables the
    /// network for every step.
    pub(crate) async fn build_context_image(
        &self,
        context: &[(String, Vec<u8>, u32)],
        args: &[(&str, &str)],
        tag: &ImageRef,
        offline: bool,
        progress: &dyn Progress,
    ) -> Result<(), SandboxError> {
        let base = args.iter().rev().map(|(_, image)| *image).next().unwrap_or_default();
        progress.message(&format!("building {tag} on {base}{}", if offline { " (no network)" } else { "" }));
        let context = pack_files(context, (0, 0)).map_err(|e| SandboxError::io("pack the build context", e))?;
        let mut options = BuildImageOptionsBuilder::default()
            .dockerfile("Dockerfile")
            .t(tag.as_str())
            .rm(true)
            .forcerm(true)
            .buildargs(&args.iter().copied().collect::<HashMap<&str, &str>>())
            .labels(&HashMap::from([("whetstone.base", base)]));
        if offline {
            options = options.networkmode("none");
        }
        let options = options.build();
        let mut log = CappedOutput::tail_only(LOG_TAIL_BYTES);
        let mut stream = self.image_docker.build_image(options, None, Some(body_full(context.into())));
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    let Some(text) = info.stream else { continue };
                    log.push(text.as_bytes());
                    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                        progress.message(line);
                    }
                }
                Err(e) => {
                    let message = match e {
                        bollard::errors::Error::DockerStreamError { error } => error,
                        other => other.to_string(),
                    };
                    return Err(SandboxError::ImageBuild { tag: tag.to_string(), message, log_tail: log.finish().0 });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_tag_depends_on_dockerfile_and_base() {
        let base = ImageRef::new("whetstone-base:bookworm-0123456789ab");
        let other_base = ImageRef::new("whetstone-base:bookworm-ba9876543210");
        let a = env_image_tag(b"FROM x\n", &base);
        assert!(a.as_str().starts_with("whetstone-env:"));
        assert_eq!(a.as_str().len(), "whetstone-env:".len() + 16);
        assert_eq!(a, env_image_tag(b"FROM x\n", &base));
        assert_ne!(a, env_image_tag(b"FROM y\n", &base));
        assert_ne!(a, env_image_tag(b"FROM x\n", &other_base));
    }
}
