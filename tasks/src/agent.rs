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
    /// What the agent needs in its image beyond the task's environment.
    #[serde(default)]
    pub runtime: AgentRuntime,
    /// What the agent asks for; the runner gives the lesser of this and the subnet's limits.
    #[serde(default)]
    pub resources: AgentResources,
}

/// `[runtime]`: the image an agent runs in is always the task's environment image (so it can
/// run the repo's tests), plus the Debian packages it names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentRuntime {
    /// Debian (bookworm) packages installed on top of the task image, e.g. `["nodejs"]` for an
    /// agent written in JavaScript. At most [`MAX_RUNTIME_PACKAGES`]. Default: none (the
    /// image has Python 3 with pytest, git and patch).
    #[serde(default)]
    pub packages: Vec<String>,
}

/// `[resources]`: upper bounds the agent declares. Each is optional; a value over the
/// subnet's limit is refused at submission.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentResources {
    pub memory_mib: Option<u64>,
    /// Thousandths of a core (1000 = one core).
    pub cpu_millis: Option<u64>,
    pub timeout_secs: Option<u64>,
}

/// Most Debian packages an agent may add to its image.
pub const MAX_RUNTIME_PACKAGES: usize = 16;

impl AgentRuntime {
    /// The Dockerfile (`BASE_IMAGE` = the task image) that adds the packages, or `None` when
    /// the task image is used as it is.
    pub fn dockerfile(&self) -> Option<String> {
        if self.packages.is_empty() {
            return None;
        }
        let mut packages = self.packages.clone();
        packages.sort();
        packages.dedup();
        Some(format!(
            "ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nUSER root\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {} && rm -rf /var/lib/apt/lists/*\n",
            packages.join(" ")
        ))
    }
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
    #[error("agent.toml [runtime] packages: {0:?} is not a Debian package name")]
    BadPackage(String),
    #[error("agent.toml [runtime] lists {0} packages; at most {MAX_RUNTIME_PACKAGES} are allowed")]
    TooManyPackages(usize),
    #[error("agent.toml [resources] {0} must be positive")]
    ZeroResource(&'static str),
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
            && manifest.name.bytes().enumerate().all(|(i, b)| b.is_ascii_lowercase() || b.is_ascii_digit() || (b == b'-' && i > 0))
            && !manifest.name.is_empty();
        if !name_ok {
            return Err(AgentError::BadName(manifest.name));
        }
        if manifest.entrypoint.is_empty() || manifest.entrypoint[0].is_empty() {
            return Err(AgentError::EmptyEntrypoint);
        }
        let packages = &manifest.runtime.packages;
        if packages.len() > MAX_RUNTIME_PACKAGES {
            return Err(AgentError::TooManyPackages(packages.len()));
        }
        if let Some(bad) = packages.iter().find(|p| !is_debian_package_name(p)) {
            return Err(AgentError::BadPackage(bad.clone()));
        }
        let resources = manifest.resources;
        for (name, value) in
            [("memory_mib", resources.memory_mib), ("cpu_millis", resources.cpu_millis), ("timeout_secs", resources.timeout_secs)]
        {
            if value == Some(0) {
                return Err(AgentError::ZeroResource(name));
            }
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

/// Debian policy: lowercase letters, digits, `+ - .`, at least two characters, starting
/// with a letter or digit. Nothing else can reach the shell line the Dockerfile runs.
fn is_debian_package_name(name: &str) -> bool {
    name.len() >= 2
        && name.len() <= 64
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.'))
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

    #[test]
    fn runtime_packages_and_resources() {
        let base = "name = \"a\"\nversion = \"1\"\nentrypoint = [\"node\", \"a.js\"]\n";
        let ok = package(&format!("{base}[runtime]\npackages = [\"nodejs\", \"g++\"]\n[resources]\nmemory_mib = 512\n")).expect("valid");
        assert_eq!(ok.manifest.resources.memory_mib, Some(512));
        let dockerfile = ok.manifest.runtime.dockerfile().expect("packages");
        assert!(dockerfile.contains("install -y --no-install-recommends g++ nodejs &&"), "{dockerfile}");
        assert_eq!(package(base).expect("valid").manifest.runtime.dockerfile(), None);
        for bad in ["node js", "nodejs;rm", "-x", "N", "$(id)"] {
            let manifest = format!("{base}[runtime]\npackages = [\"{bad}\"]\n");
            assert!(matches!(package(&manifest), Err(AgentError::BadPackage(_))), "{bad}");
        }
        assert!(matches!(package(&format!("{base}[resources]\ntimeout_secs = 0\n")), Err(AgentError::ZeroResource("timeout_secs"))));
        assert!(matches!(package(&format!("{base}[resources]\ngpus = 1\n")), Err(AgentError::Manifest(_))));
    }
}
