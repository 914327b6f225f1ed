//! Agent packages: a directory with `agent.toml` and whatever the entrypoint needs
//! (`agent-runner/AGENT_CONTRACT.md`). Packages travel as bundles, like tasks.

use std::path::Path;

use serde::Deserialize;

use crate::bundle::{Bundle, BundleError};
use crate::digest::Digest;

/// Packages over this size are refused at submission.
pub const MAX_AGENT_PACKAGE_BYTES: usize = 8 * 1024 * 1024;

/// `agent.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentManifest {
    /// `[a-z0-9][a-z0-9-]*`, at most 64 characters.
    pub name: String,
    pub version: String,
    /// The command run in `/agent`; the first element is looked up on `PATH`.
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("agent package has no agent.toml at its root")]
    NoManifest,
    #[error("agent.toml is not valid")]
    Manifest(#[source] toml::de::Error),
    #[error("agent.toml is not valid UTF-8")]
    ManifestNotUtf8,
    #[error("agent name {0:?} must match [a-z0-9][a-z0-9-]* and be at most 64 characters")]
    BadName(String),
    #[error("agent.toml entrypoint is empty")]
    EmptyEntrypoint,
    #[error("agent package is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
}

/// A validated agent package.
#[derive(Debug, Clone)]
pub struct AgentPackage {
    pub manifest: AgentManifest,
    pub bundle: Bundle,
}

impl AgentPackage {
    pub fn from_bundle(bundle: Bundle) -> Result<Self, AgentError> {
        let file = bundle.file("agent.toml").ok_or(AgentError::NoManifest)?;
        let text = std::str::from_utf8(&file.bytes).map_err(|_| AgentError::ManifestNotUtf8)?;
        let manifest: AgentManifest = toml::from_str(text).map_err(AgentError::Manifest)?;
        let name_ok = manifest.name.len() <= 64
            && manifest.name.bytes().enumerate().all(|(i, b)| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || (b == b'-' && i > 0)
            })
            && !manifest.name.is_empty();
        if !name_ok {
            return Err(AgentError::BadName(manifest.name));
        }
        if manifest.entrypoint.is_empty() || manifest.entrypoint[0].is_empty() {
            return Err(AgentError::EmptyEntrypoint);
        }
        Ok(Self { manifest, bundle })
    }

    pub fn from_dir(dir: &Path) -> Result<Self, AgentError> {
        Self::from_bundle(Bundle::from_dir(dir)?)
    }

    /// Parses a submitted package tar, enforcing the size cap.
    pub fn from_tar(bytes: &[u8]) -> Result<Self, AgentError> {
        if bytes.len() > MAX_AGENT_PACKAGE_BYTES {
            return Err(AgentError::TooLarge { size: bytes.len(), limit: MAX_AGENT_PACKAGE_BYTES });
        }
        Self::from_bundle(Bundle::from_tar(bytes)?)
    }

    pub fn digest(&self) -> &Digest {
        &self.bundle.digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{TreeFile, digest_files};

    fn package(manifest: &str) -> Result<AgentPackage, AgentError> {
        let files = vec![TreeFile { path: "agent.toml".into(), executable: false, bytes: manifest.as_bytes().to_vec() }];
        AgentPackage::from_bundle(Bundle { digest: digest_files(&files), files })
    }

    #[test]
    fn manifest_rules() {
        assert!(package("name = \"ok-1\"\nversion = \"1\"\nentrypoint = [\"python3\", \"a.py\"]").is_ok());
        assert!(matches!(package("name = \"Bad\"\nversion = \"1\"\nentrypoint = [\"x\"]"), Err(AgentError::BadName(_))));
        assert!(matches!(package("name = \"a\"\nversion = \"1\"\nentrypoint = []"), Err(AgentError::EmptyEntrypoint)));
        assert!(matches!(package("name = \"a\"\nversion = \"1\""), Err(AgentError::Manifest(_))));
    }
}
