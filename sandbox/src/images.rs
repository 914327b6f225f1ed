//! Image references, the tag cache, and `docker build` of task environments.

use std::collections::HashMap;
use std::fmt;

use bollard::body_full;
use bollard::query_parameters::BuildImageOptionsBuilder;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::archive::pack_files;
use crate::client::{Progress, Sandbox};
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

impl Sandbox {
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
        progress.message(&format!("building {tag} on {base}"));
        let context = pack_files(&[("Dockerfile".to_owned(), dockerfile.to_vec(), 0o644)], (0, 0))
            .map_err(|e| SandboxError::io("pack the build context", e))?;
        let options = BuildImageOptionsBuilder::default()
            .dockerfile("Dockerfile")
            .t(tag.as_str())
            .rm(true)
            .forcerm(true)
            .buildargs(&HashMap::from([("BASE_IMAGE", base.as_str())]))
            .labels(&HashMap::from([("whetstone.base", base.as_str())]))
            .build();
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
