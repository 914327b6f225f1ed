//! Locked dependencies and the host's content-addressed cache that offline image builds
//! copy them from (`<root>/sha256/<hash>/<file>`): Python wheels named by a pip lock (pip's
//! `--require-hashes` requirements, resolved here) and Rust crates named by a `Cargo.lock`
//! (`crates.rs`).
//!
//! Resolution and downloads run the host's own `pip`, so they go wherever the host's pip
//! goes: `PIP_INDEX_URL`/`PIP_EXTRA_INDEX_URL`, `PIP_CERT`, `HTTPS_PROXY`, `pip.conf`. Wheels
//! are chosen for the base image's interpreter and platform ([`TARGET_PYTHON`], glibc
//! [`TARGET_GLIBC`]), not the host's, and only wheels are taken: nothing is compiled at build
//! time, so every validator installs the same bytes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::debs::DEBIAN_LOCK_FILE;

/// The lock's file name in a task's `environment/`.
pub const PIP_LOCK_FILE: &str = "requirements.lock";
/// The Python of the base image (Debian bookworm's `python3`).
pub const TARGET_PYTHON: &str = "3.11";
/// The glibc of the base image, as manylinux spells it.
pub const TARGET_GLIBC: &str = "2_36";

const LOCK_HEADER: &str = "# whetstone pip lock v1: every wheel the environment installs, with its sha256\n\
                           # (pip install --no-index --require-hashes --no-deps -r requirements.lock)\n";

/// One locked wheel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedWheel {
    /// The distribution name as the wheel's file name spells it.
    pub name: String,
    pub version: String,
    /// sha256 of the wheel file, 64 lowercase hex characters.
    pub sha256: String,
}

/// A pip lock: `name==version --hash=sha256:…` lines, one per wheel, sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipLock {
    pub wheels: Vec<LockedWheel>,
}

/// What went wrong locking or fetching Python dependencies.
#[derive(Debug, thiserror::Error)]
pub enum DependencyError {
    #[error("{PIP_LOCK_FILE} line {line}: {reason}")]
    BadLock { line: usize, reason: String },
    #[error(
        "could not download {package} for the task environment: {reason}; the host's pip fetches it \
         (set PIP_INDEX_URL to an index this host reaches, PIP_CERT to the CA bundle that index's \
         certificate chains to, HTTPS_PROXY if it is behind a proxy), or put the wheel in {cache}"
    )]
    Download { package: String, reason: String, cache: PathBuf },
    #[error("Cargo.lock: {reason}")]
    BadCargoLock { reason: String },
    #[error(
        "could not download the crate {package} from {url}: {reason}; the host fetches it with curl \
         (set HTTPS_PROXY if crates.io is behind a proxy, CARGO_HTTP_CAINFO to the CA bundle it chains to, \
         WHETSTONE_CRATES_URL to a mirror), or put the .crate file in {cache}"
    )]
    CrateDownload { package: String, url: String, reason: String, cache: PathBuf },
    #[error("{DEBIAN_LOCK_FILE} line {line}: {reason}")]
    BadDebianLock { line: usize, reason: String },
    #[error(
        "could not download the Debian package {package} from {url}: {reason}; the host fetches it with curl \
         from its Debian mirror (WHETSTONE_DEBIAN_MIRROR, else the host's apt sources; HTTPS_PROXY if it is behind a proxy). \
         A version the mirror no longer serves can be put in {cache} by hand (e.g. from snapshot.debian.org), \
         or the lock resolved again"
    )]
    DebDownload { package: String, url: String, reason: String, cache: PathBuf },
    #[error("the downloaded {file} has sha256 {actual}, not the {expected} the lock names")]
    HashMismatch { file: String, expected: String, actual: String },
    #[error("no wheel of {package} was downloaded (pip reported success; is it in the index?)")]
    Missing { package: String },
    #[error("cannot run `{python} -m pip`: install pip on this host, or set WHETSTONE_PYTHON to a Python that has it")]
    NoPip {
        python: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to {action}")]
    Io {
        action: String,
        #[source]
        source: io::Error,
    },
}

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> DependencyError {
    let action = action.into();
    move |source| DependencyError::Io { action, source }
}

impl PipLock {
    /// Reads a lock written by [`PipLock::to_text`] (or by hand in the same shape: comments,
    /// blank lines and `\` continuations are fine; every requirement is `name==version` with
    /// one `--hash=sha256:…`).
    pub fn parse(text: &str) -> Result<Self, DependencyError> {
        let mut wheels = Vec::new();
        let joined = text.replace("\\\n", " ");
        for (index, line) in joined.lines().enumerate() {
            let line = line.split(" #").next().unwrap_or_default().trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| DependencyError::BadLock { line: index + 1, reason: format!("{reason}: {line}") };
            let mut words = line.split_whitespace();
            let requirement = words.next().unwrap_or_default();
            let (name, version) = requirement.split_once("==").ok_or_else(|| bad("expected name==version"))?;
            let hashes: Vec<&str> = words.filter_map(|w| w.strip_prefix("--hash=sha256:")).collect();
            let [sha256] = hashes[..] else { return Err(bad("expected exactly one --hash=sha256:…")) };
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(bad("the hash is not 64 lowercase hex characters"));
            }
            wheels.push(LockedWheel { name: name.to_owned(), version: version.to_owned(), sha256: sha256.to_owned() });
        }
        Ok(Self { wheels })
    }

    /// The lock without the distribution `name` (PEP 503 normalised comparison): a project's
    /// own release, pulled in by a test dependency that depends on it, must not be installed
    /// next to the checkout, where an agent could read the unbroken code.
    pub fn without(mut self, name: &str) -> Self {
        let name = normalise(name);
        self.wheels.retain(|w| normalise(&w.name) != name);
        self
    }

    pub fn to_text(&self) -> String {
        let mut text = String::from(LOCK_HEADER);
        for wheel in &self.wheels {
            text.push_str(&format!("{}=={} --hash=sha256:{}\n", wheel.name, wheel.version, wheel.sha256));
        }
        text
    }
}

/// The host's dependency cache: `<root>/sha256/<hash>/<file name>` (wheels, crates). A file
/// is only ever stored under the hash of its bytes, so what is there is what a lock means.
#[derive(Debug, Clone)]
pub struct DependencyCache {
    root: PathBuf,
    python: String,
    /// `--index-url` for pip; `None` leaves the host's pip configuration in charge.
    index_url: Option<String>,
    /// Where `.crate` files are downloaded from; `None`: `WHETSTONE_CRATES_URL` or crates.io.
    pub(crate) crates_url: Option<String>,
    /// The Debian mirror `.deb` files come from; `None`: the base image's mirror.
    pub(crate) debian_mirror: Option<String>,
}

impl DependencyCache {
    /// `WHETSTONE_DEPS_CACHE`, else `$XDG_CACHE_HOME/whetstone/deps`, else
    /// `$HOME/.cache/whetstone/deps`; pip is `WHETSTONE_PYTHON` (default `python3`) `-m pip`.
    pub fn from_env() -> Self {
        let root = std::env::var_os("WHETSTONE_DEPS_CACHE").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
                .unwrap_or_else(std::env::temp_dir);
            cache.join("whetstone").join("deps")
        });
        Self::at(root)
    }

    /// A cache at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        let python = std::env::var("WHETSTONE_PYTHON").ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| "python3".into());
        Self { root: root.into(), python, index_url: None, crates_url: None, debian_mirror: None }
    }

    /// Downloads from `url` (a PEP 503 simple index) instead of the index the host's pip is
    /// configured with.
    pub fn with_index_url(mut self, url: impl Into<String>) -> Self {
        self.index_url = Some(url.into());
        self
    }

    /// Downloads crates from `url` (laid out as `<url>/<name>/<name>-<version>.crate`, like
    /// static.crates.io) instead of `WHETSTONE_CRATES_URL` or crates.io.
    pub fn with_crates_url(mut self, url: impl Into<String>) -> Self {
        self.crates_url = Some(url.into());
        self
    }

    /// Downloads `.deb` files from `mirror` (a Debian archive URL ending in `/debian`, with
    /// `debian-security` beside it) instead of the mirror the base image comes from.
    pub fn with_debian_mirror(mut self, mirror: impl Into<String>) -> Self {
        self.debian_mirror = Some(mirror.into());
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves `requirements` (pip requirement strings) for the base image's Python and
    /// platform, wheels only, stores every wheel in the cache and returns the lock.
    pub fn lock(&self, requirements: &[String]) -> Result<PipLock, DependencyError> {
        let scratch = self.scratch()?;
        let mut args: Vec<String> = requirements.to_vec();
        args.sort();
        // Resolution follows dependencies; fetching a lock (below) does not, every wheel is in it.
        self.pip_download(&args, &[], scratch.path(), &requirements.join(", "))?;
        let mut wheels = Vec::new();
        for entry in fs::read_dir(scratch.path()).map_err(io_error("list the downloaded wheels"))? {
            let path = entry.map_err(io_error("list the downloaded wheels"))?.path();
            let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            let Some((name, version)) = wheel_name_version(&file) else {
                return Err(DependencyError::Download {
                    package: file,
                    reason: "pip downloaded something that is not a wheel".into(),
                    cache: self.root.clone(),
                });
            };
            let sha256 = self.store(&path, &file)?;
            wheels.push(LockedWheel { name, version, sha256 });
        }
        wheels.sort_by_key(|a| normalise(&a.name));
        Ok(PipLock { wheels })
    }

    /// The wheel files `lock` names, from the cache, downloading the missing ones first
    /// (each checked against its hash): `(file name, path)` in lock order.
    pub fn wheels_for(&self, lock: &PipLock) -> Result<Vec<(String, PathBuf)>, DependencyError> {
        let missing: Vec<&LockedWheel> = lock.wheels.iter().filter(|w| self.cached(&w.sha256).is_none()).collect();
        if !missing.is_empty() {
            let scratch = self.scratch()?;
            let requirement_file = scratch.path().join("missing.lock");
            let text = PipLock { wheels: missing.iter().map(|w| (*w).clone()).collect() }.to_text();
            fs::write(&requirement_file, text).map_err(io_error("write the list of wheels to download"))?;
            let downloads = scratch.path().join("wheels");
            let names = missing.iter().map(|w| format!("{}=={}", w.name, w.version)).collect::<Vec<_>>().join(", ");
            let file_arg = ["--no-deps".to_owned(), "--require-hashes".to_owned(), "-r".to_owned(), requirement_file.display().to_string()];
            self.pip_download(&[], &file_arg, &downloads, &names)?;
            for entry in fs::read_dir(&downloads).map_err(io_error("list the downloaded wheels"))? {
                let path = entry.map_err(io_error("list the downloaded wheels"))?.path();
                let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
                let sha256 = self.store(&path, &file)?;
                if !missing.iter().any(|w| w.sha256 == sha256) {
                    let expected = missing
                        .iter()
                        .find(|w| wheel_name_version(&file).is_some_and(|(n, _)| normalise(&n) == normalise(&w.name)))
                        .map(|w| w.sha256.clone())
                        .unwrap_or_default();
                    return Err(DependencyError::HashMismatch { file, expected, actual: sha256 });
                }
            }
        }
        lock.wheels
            .iter()
            .map(|w| self.cached(&w.sha256).ok_or_else(|| DependencyError::Missing { package: format!("{}=={}", w.name, w.version) }))
            .collect()
    }

    pub(crate) fn scratch(&self) -> Result<tempfile::TempDir, DependencyError> {
        fs::create_dir_all(&self.root).map_err(io_error(format!("create the wheel cache {}", self.root.display())))?;
        tempfile::Builder::new().prefix(".download-").tempdir_in(&self.root).map_err(io_error("create a download directory"))
    }

    /// The cached file with this hash, if any.
    pub(crate) fn cached(&self, sha256: &str) -> Option<(String, PathBuf)> {
        let dir = self.root.join("sha256").join(sha256);
        let entry = fs::read_dir(&dir).ok()?.filter_map(Result::ok).find(|e| e.file_type().is_ok_and(|t| t.is_file()))?;
        Some((entry.file_name().to_string_lossy().into_owned(), entry.path()))
    }

    /// Moves a downloaded file into the cache under the hash of its bytes; returns the hash.
    pub(crate) fn store(&self, path: &Path, file: &str) -> Result<String, DependencyError> {
        let bytes = fs::read(path).map_err(io_error(format!("read the downloaded {file}")))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let dir = self.root.join("sha256").join(&sha256);
        fs::create_dir_all(&dir).map_err(io_error(format!("create {}", dir.display())))?;
        fs::rename(path, dir.join(file)).map_err(io_error(format!("move {file} into the wheel cache")))?;
        Ok(sha256)
    }

    /// `pip download` for the base image's platform into `dest`. `what` names the packages
    /// in errors.
    fn pip_download(&self, requirements: &[String], extra: &[String], dest: &Path, what: &str) -> Result<(), DependencyError> {
        let abi = format!("cp{}", TARGET_PYTHON.replace('.', ""));
        let mut command = Command::new(&self.python);
        command
            .args(["-m", "pip", "download", "--disable-pip-version-check", "--retries", "2"])
            .args(["--only-binary", ":all:"])
            .args(target_platforms().iter().flat_map(|p| ["--platform", p.as_str()]))
            .args(["--python-version", TARGET_PYTHON, "--implementation", "cp", "--abi", &abi])
            .arg("--dest")
            .arg(dest);
        if let Some(url) = &self.index_url {
            command.args(["--index-url", url]);
        }
        let output = command
            .args(extra)
            .args(requirements)
            .output()
            .map_err(|source| DependencyError::NoPip { python: self.python.clone(), source })?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        Err(DependencyError::Download {
            package: failing_package(&stdout, &stderr).unwrap_or_else(|| what.to_owned()),
            reason: pip_reason(&stderr),
            cache: self.root.clone(),
        })
    }
}

/// Every platform tag a wheel for the base image may carry: pip does not widen a
/// `--platform manylinux_2_36_…` to the older glibc versions it runs on, so each is named.
fn target_platforms() -> Vec<String> {
    let arch = std::env::consts::ARCH;
    let newest: u32 = TARGET_GLIBC.trim_start_matches("2_").parse().unwrap_or(17);
    let mut platforms: Vec<String> = (5..=newest).rev().map(|minor| format!("manylinux_2_{minor}_{arch}")).collect();
    platforms.extend(["manylinux2014", "manylinux2010", "manylinux1"].iter().map(|legacy| format!("{legacy}_{arch}")));
    platforms
}

/// The package pip was working on when it failed: the last `Collecting X` line, or the
/// requirement a "No matching distribution" error names.
fn failing_package(stdout: &str, stderr: &str) -> Option<String> {
    for line in stderr.lines() {
        for marker in ["No matching distribution found for ", "satisfies the requirement "] {
            if let Some(rest) = line.split(marker).nth(1) {
                return Some(rest.split(" (").next().unwrap_or(rest).trim().to_owned());
            }
        }
    }
    stdout.lines().rev().find_map(|l| l.trim().strip_prefix("Collecting ")).map(|s| s.trim().to_owned())
}

/// pip's own words for the failure: its `ERROR:` lines, else the last lines it printed.
fn pip_reason(stderr: &str) -> String {
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("ERROR:")).map(|l| l.trim_start_matches("ERROR:").trim()).collect();
    let mut reason = if errors.is_empty() {
        stderr.lines().rev().filter(|l| !l.trim().is_empty()).take(3).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" / ")
    } else {
        errors.join(" / ")
    };
    for (needle, meaning) in [
        ("CERTIFICATE_VERIFY_FAILED", "the index's TLS certificate is not trusted (PIP_CERT)"),
        ("Failed to establish a new connection", "the index is unreachable"),
        ("ProxyError", "the proxy refused the connection"),
    ] {
        if stderr.contains(needle) {
            reason = format!("{meaning}: {reason}");
            break;
        }
    }
    reason
}

/// `(name, version)` from a wheel file name (`name-version(-build)?-py-abi-platform.whl`).
pub fn wheel_name_version(file: &str) -> Option<(String, String)> {
    let stem = file.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.len() < 5 {
        return None;
    }
    Some((parts[0].to_owned(), parts[1].to_owned()))
}

/// PEP 503 normalised name.
fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn lock_round_trips_and_refuses_unpinned_lines() {
        let lock = PipLock {
            wheels: vec![
                LockedWheel { name: "attrs".into(), version: "23.2.0".into(), sha256: HASH.into() },
                LockedWheel { name: "six".into(), version: "1.16.0".into(), sha256: HASH.into() },
            ],
        };
        assert_eq!(PipLock::parse(&lock.to_text()).expect("parses"), lock);
        assert_eq!(lock.clone().without("Six").wheels.len(), 1, "names compare normalised");
        let continued = format!("# comment\n\nattrs==23.2.0 \\\n    --hash=sha256:{HASH}\n");
        assert_eq!(PipLock::parse(&continued).expect("continuation").wheels.len(), 1);
        for (bad, says) in [
            ("attrs>=23\n".to_owned(), "expected name==version"),
            ("attrs==23.2.0\n".to_owned(), "exactly one --hash"),
            ("attrs==23.2.0 --hash=sha256:XYZ\n".to_owned(), "64 lowercase hex"),
        ] {
            let error = PipLock::parse(&bad).expect_err(&bad).to_string();
            assert!(error.contains(says) && error.contains("line 1"), "{error}");
        }
    }

    #[test]
    fn wheel_names_and_failures_are_read_from_pip() {
        assert_eq!(wheel_name_version("attrs-23.2.0-py3-none-any.whl"), Some(("attrs".into(), "23.2.0".into())));
        assert_eq!(wheel_name_version("attrs-23.2.0.tar.gz"), None);
        let stderr = "ERROR: Could not find a version that satisfies the requirement nothere==1.0 (from versions: none)\n\
                      ERROR: No matching distribution found for nothere==1.0\n";
        assert_eq!(failing_package("Collecting attrs\n", stderr).as_deref(), Some("nothere==1.0"));
        let stdout = "Looking in indexes: http://127.0.0.1:9/simple\nCollecting attrs==23.2.0\n";
        let refused = "WARNING: Retrying ... Failed to establish a new connection: [Errno 111] Connection refused\n";
        assert_eq!(failing_package(stdout, refused).as_deref(), Some("attrs==23.2.0"));
        assert!(pip_reason(refused).starts_with("the index is unreachable"), "{}", pip_reason(refused));
    }
}
