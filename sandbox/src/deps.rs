//! Locked dependencies and the host's content-addressed cache that offline image builds
//! copy them from (`<root>/sha256/<hash>/<file>`): Python wheels named by a pip lock (pip's
//! `--require-hashes` requirements, resolved here) and Rust crates named by a `Cargo.lock`
//! (`crates.rs`).
//!
//! Resolution and downloads run the host's own `pip`, so they go wherever the host's pip
//! goes: `PIP_INDEX_URL`/`PIP_EXTRA_INDEX_URL`, `PIP_CERT`, `HTTPS_PROXY`, `pip.conf`. Wheels
//! are chosen for the base image's interpreter and platform ([`TARGET_PYTHON`], glibc
//! [`TARGET_GLIBC`]), not the host's. A dependency with no such wheel may come as a
//! pure-Python source distribution, built in the image with no network from its locked build
//! requirements (`sdists.rs`); nothing is compiled, so every validator installs the same code.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::debs::DEBIAN_LOCK_FILE;
use crate::sdists::{MAX_SDISTS, Sdist, built_name_version, sdist_name_version, store_sdist};

/// What `pip download` takes.
#[derive(Debug, Clone, Copy)]
enum Fetch<'a> {
    /// Wheels for the base image's interpreter and platform only.
    Wheels,
    /// Source distributions of these packages (comma-separated names).
    Sdists(&'a str),
}

/// The lock's file name in a task's `environment/`.
pub const PIP_LOCK_FILE: &str = "requirements.lock";
/// The wheels pip's build isolation installs to build the lock's sdists, in `environment/`
/// beside [`PIP_LOCK_FILE`]: they go into the build context, not into the environment.
pub const BUILD_LOCK_FILE: &str = "build-requirements.lock";
/// The Python of the base image (Debian bookworm's `python3`).
pub const TARGET_PYTHON: &str = "3.11";
/// The glibc of the base image, as manylinux spells it.
pub const TARGET_GLIBC: &str = "2_36";

const LOCK_HEADER: &str = "# whetstone pip lock v1: every wheel the environment installs, with its sha256\n\
                           # (pip install --no-index --require-hashes --no-deps -r requirements.lock)\n";
const BUILD_LOCK_HEADER: &str = "# whetstone pip lock v1: the wheels that build the sdists of requirements.lock, with their sha256\n\
                                 # (in the build context for pip's build isolation; not installed in the environment)\n";
/// The comment that marks a source distribution in a lock.
const SDIST_MARK: &str = "# sdist";

/// One locked distribution: a wheel, or a pure-Python sdist the image builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedWheel {
    /// The distribution name as the file name spells it.
    pub name: String,
    pub version: String,
    /// sha256 of the file, 64 lowercase hex characters.
    pub sha256: String,
    /// A source distribution (marked `# sdist` in the lock), not a wheel.
    pub sdist: bool,
}

/// A pip lock: `name==version --hash=sha256:…` lines, one per distribution, sorted by name;
/// with the wheels that build its sdists, if it has any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipLock {
    pub wheels: Vec<LockedWheel>,
    /// The build requirements of the sdists among `wheels` ([`BUILD_LOCK_FILE`]).
    pub build: Vec<LockedWheel>,
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
            let sdist = line.split_once(" #").is_some_and(|(_, comment)| format!("#{comment}").trim() == SDIST_MARK);
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
            wheels.push(LockedWheel { name: name.to_owned(), version: version.to_owned(), sha256: sha256.to_owned(), sdist });
        }
        Ok(Self { wheels, build: Vec::new() })
    }

    /// The lock of an environment: [`PIP_LOCK_FILE`]'s text and, when present,
    /// [`BUILD_LOCK_FILE`]'s.
    pub fn parse_files(lock: &str, build: Option<&str>) -> Result<Self, DependencyError> {
        let mut parsed = Self::parse(lock)?;
        if let Some(text) = build {
            parsed.build = Self::parse(text)?.wheels;
        }
        Ok(parsed)
    }

    /// The files an environment carries for this lock: `(file name, text)`.
    pub fn files(&self) -> Vec<(&'static str, String)> {
        let mut files = vec![(PIP_LOCK_FILE, self.to_text())];
        if !self.build.is_empty() {
            files.push((BUILD_LOCK_FILE, lines(BUILD_LOCK_HEADER, &self.build)));
        }
        files
    }

    /// What the lock holds, for a curator's notes: "12 wheels", or "11 wheels and 1 sdist
    /// (whetsd, built in the image with 3 locked build wheels)".
    pub fn summary(&self) -> String {
        let sdists: Vec<&str> = self.wheels.iter().filter(|w| w.sdist).map(|w| w.name.as_str()).collect();
        let wheels = self.wheels.len() - sdists.len();
        match sdists.len() {
            0 => format!("{wheels} wheels"),
            n => format!(
                "{wheels} wheels and {n} sdist{} ({}, built in the image with {} locked build wheels)",
                if n == 1 { "" } else { "s" },
                sdists.join(", "),
                self.build.len()
            ),
        }
    }

    /// The lock without the distribution `name` (PEP 503 normalised comparison): a project's
    /// own release, pulled in by a test dependency that depends on it, must not be installed
    /// next to the checkout, where an agent could read the unbroken code.
    pub fn without(mut self, name: &str) -> Self {
        let name = normalise(name);
        self.wheels.retain(|w| normalise(&w.name) != name);
        self
    }

    /// [`PIP_LOCK_FILE`]'s text.
    pub fn to_text(&self) -> String {
        lines(LOCK_HEADER, &self.wheels)
    }
}

fn lines(header: &str, wheels: &[LockedWheel]) -> String {
    let mut text = String::from(header);
    for wheel in wheels {
        let mark = if wheel.sdist { format!(" {SDIST_MARK}") } else { String::new() };
        text.push_str(&format!("{}=={} --hash=sha256:{}{mark}\n", wheel.name, wheel.version, wheel.sha256));
    }
    text
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

    pub(crate) fn python(&self) -> &str {
        &self.python
    }

    pub(crate) fn index_url(&self) -> Option<&str> {
        self.index_url.as_deref()
    }

    /// Resolves `requirements` (pip requirement strings) for the base image's Python and
    /// platform, stores every file in the cache and returns the lock. Wheels are preferred; a
    /// dependency with none for the base image is taken as its pure-Python sdist, and the
    /// wheels that build it are locked too ([`PipLock::build`]).
    pub fn lock(&self, requirements: &[String]) -> Result<PipLock, DependencyError> {
        let scratch = self.scratch()?;
        let built = scratch.path().join("built");
        let resolved = scratch.path().join("resolved");
        let mut args: Vec<String> = requirements.to_vec();
        args.sort();
        let what = requirements.join(", ");
        let mut sdists: Vec<Sdist> = Vec::new();
        // Resolution follows dependencies; fetching a lock (below) does not, every file is in it.
        loop {
            let _ = fs::remove_dir_all(&resolved);
            let find_links = match sdists.is_empty() {
                true => Vec::new(),
                false => vec!["--find-links".to_owned(), built.display().to_string()],
            };
            let error = match self.pip_download(Fetch::Wheels, &args, &find_links, &resolved, &what) {
                Ok(()) => break,
                Err(error) => error,
            };
            let DependencyError::Download { package, reason, cache } = error else { return Err(error) };
            if !reason.contains("No matching distribution") || sdists.len() >= MAX_SDISTS {
                return Err(DependencyError::Download { package, reason, cache });
            }
            match self.fetch_sdist(&package, scratch.path(), &built) {
                Ok(sdist) if !sdists.iter().any(|s| s.wheel_file == sdist.wheel_file) => sdists.push(sdist),
                Ok(_) => return Err(DependencyError::Download { package, reason, cache }),
                Err(why) => {
                    return Err(DependencyError::Download {
                        package,
                        reason: format!("{reason}; no wheel for the base image, and {why}"),
                        cache,
                    });
                }
            }
        }
        let mut wheels = Vec::new();
        for entry in fs::read_dir(&resolved).map_err(io_error("list the downloaded wheels"))? {
            let path = entry.map_err(io_error("list the downloaded wheels"))?.path();
            let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if let Some(sdist) = sdists.iter().find(|s| s.wheel_file == file) {
                let (name, version) = built_name_version(sdist).unwrap_or_default();
                let (_, sha256) = store_sdist(self, sdist)?;
                wheels.push(LockedWheel { name, version, sha256, sdist: true });
                continue;
            }
            let Some((name, version)) = wheel_name_version(&file) else {
                return Err(DependencyError::Download {
                    package: file,
                    reason: "pip downloaded something that is not a wheel".into(),
                    cache: self.root.clone(),
                });
            };
            let sha256 = self.store(&path, &file)?;
            wheels.push(LockedWheel { name, version, sha256, sdist: false });
        }
        wheels.sort_by_key(|a| normalise(&a.name));
        let mut build_requires: Vec<String> = sdists.iter().flat_map(|s| s.build_requires.iter().cloned()).collect();
        build_requires.sort();
        build_requires.dedup();
        let build = match build_requires.is_empty() {
            true => Vec::new(),
            false => self.lock(&build_requires)?.wheels,
        };
        if build.iter().any(|w| w.sdist) {
            return Err(DependencyError::Download {
                package: build_requires.join(", "),
                reason: "the build requirements of a source distribution must be wheels".into(),
                cache: self.root.clone(),
            });
        }
        Ok(PipLock { wheels, build })
    }

    /// The files `lock` names (its wheels and sdists, then its build wheels), from the cache,
    /// downloading the missing ones first (each checked against its hash): `(file name,
    /// path)` in lock order.
    pub fn wheels_for(&self, lock: &PipLock) -> Result<Vec<(String, PathBuf)>, DependencyError> {
        let all: Vec<&LockedWheel> = lock.wheels.iter().chain(&lock.build).collect();
        for sdist in [false, true] {
            let missing: Vec<&LockedWheel> = all.iter().copied().filter(|w| w.sdist == sdist && self.cached(&w.sha256).is_none()).collect();
            if !missing.is_empty() {
                let names = missing.iter().map(|w| w.name.as_str()).collect::<Vec<_>>().join(",");
                self.download_locked(&missing, if sdist { Fetch::Sdists(&names) } else { Fetch::Wheels })?;
            }
        }
        all.iter()
            .map(|w| self.cached(&w.sha256).ok_or_else(|| DependencyError::Missing { package: format!("{}=={}", w.name, w.version) }))
            .collect()
    }

    /// Downloads exactly the `missing` files (no dependencies, hashes required) into the cache.
    fn download_locked(&self, missing: &[&LockedWheel], fetch: Fetch<'_>) -> Result<(), DependencyError> {
        let scratch = self.scratch()?;
        let requirement_file = scratch.path().join("missing.lock");
        let text = lines("", &missing.iter().map(|w| LockedWheel { sdist: false, ..(*w).clone() }).collect::<Vec<_>>());
        fs::write(&requirement_file, text).map_err(io_error("write the list of files to download"))?;
        let downloads = scratch.path().join("files");
        let names = missing.iter().map(|w| format!("{}=={}", w.name, w.version)).collect::<Vec<_>>().join(", ");
        let file_arg = ["--no-deps".to_owned(), "--require-hashes".to_owned(), "-r".to_owned(), requirement_file.display().to_string()];
        self.pip_download(fetch, &[], &file_arg, &downloads, &names)?;
        for entry in fs::read_dir(&downloads).map_err(io_error("list the downloaded files"))? {
            let path = entry.map_err(io_error("list the downloaded files"))?.path();
            let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            let sha256 = self.store(&path, &file)?;
            if !missing.iter().any(|w| w.sha256 == sha256) {
                let named = wheel_name_version(&file).or_else(|| sdist_name_version(&file));
                let expected = missing
                    .iter()
                    .find(|w| named.as_ref().is_some_and(|(n, _)| normalise(n) == normalise(&w.name)))
                    .map(|w| w.sha256.clone())
                    .unwrap_or_default();
                return Err(DependencyError::HashMismatch { file, expected, actual: sha256 });
            }
        }
        Ok(())
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

    /// `pip download` into `dest`: wheels for the base image's platform, or sdists. `what`
    /// names the packages in errors.
    fn pip_download(
        &self,
        fetch: Fetch,
        requirements: &[String],
        extra: &[String],
        dest: &Path,
        what: &str,
    ) -> Result<(), DependencyError> {
        let abi = format!("cp{}", TARGET_PYTHON.replace('.', ""));
        let mut command = self.pip_command(&["download"]);
        match fetch {
            Fetch::Wheels => command
                .args(["--only-binary", ":all:"])
                .args(target_platforms().iter().flat_map(|p| ["--platform", p.as_str()]))
                .args(["--python-version", TARGET_PYTHON, "--implementation", "cp", "--abi", &abi]),
            // The named packages only: their build requirements come as wheels.
            Fetch::Sdists(names) => command.args(["--no-binary", names]),
        };
        command.arg("--dest").arg(dest);
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
                LockedWheel { name: "attrs".into(), version: "23.2.0".into(), sha256: HASH.into(), sdist: false },
                LockedWheel { name: "six".into(), version: "1.16.0".into(), sha256: HASH.into(), sdist: true },
            ],
            build: Vec::new(),
        };
        assert_eq!(PipLock::parse(&lock.to_text()).expect("parses"), lock);
        assert!(
            lock.to_text().contains("six==1.16.0 --hash=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef # sdist\n")
        );
        let built = PipLock { build: lock.wheels[..1].to_vec(), ..lock.clone() };
        let files = built.files();
        assert_eq!(files.iter().map(|(name, _)| *name).collect::<Vec<_>>(), [PIP_LOCK_FILE, BUILD_LOCK_FILE]);
        assert_eq!(PipLock::parse_files(&files[0].1, Some(&files[1].1)).expect("both parse"), built);
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
