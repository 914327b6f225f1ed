//! Python dependencies that publish no wheel for the base image, only a source distribution.
//!
//! The lock names the sdist itself (its hash from the index, like a wheel's), and the image
//! builds it offline: pip's build isolation installs the sdist's build requirements from the
//! same wheelhouse, so they are locked too, in `build-requirements.lock` (wheels only, put in
//! the build context but not installed in the environment). Only pure-Python sdists are
//! taken: the base image has no compiler, and a compiled result would differ between hosts.
//!
//! To resolve the rest of the graph, pip needs something it may install for the sdist's
//! requirement: the host builds a wheel from the sdist once (`pip wheel --no-deps`) and offers
//! it through `--find-links`. That wheel is used for resolution only; its dependencies are
//! the sdist's, read the way pip reads them.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::deps::{DependencyCache, DependencyError, wheel_name_version};

/// How many sdist-only packages one lock may hold before we give up (each costs a host build).
pub(crate) const MAX_SDISTS: usize = 16;

/// The build requirements PEP 517 assumes when an sdist's `pyproject.toml` names none.
const DEFAULT_BUILD_REQUIRES: &[&str] = &["setuptools>=40.8.0", "wheel"];

/// An sdist fetched and built on the host while locking.
#[derive(Debug, Clone)]
pub(crate) struct Sdist {
    /// The sdist as downloaded.
    pub path: PathBuf,
    /// The file name of the wheel built from it (in the `--find-links` directory).
    pub wheel_file: String,
    /// Its `[build-system] requires`, plus `wheel` for setuptools (which asks for it).
    pub build_requires: Vec<String>,
}

impl DependencyCache {
    /// Downloads the sdist pip would pick for `requirement`, builds a wheel from it into
    /// `built` and reads its build requirements. Refuses an sdist whose wheel is not pure
    /// Python.
    pub(crate) fn fetch_sdist(&self, requirement: &str, scratch: &Path, built: &Path) -> Result<Sdist, String> {
        let dest = scratch.join("sdists").join(sanitise(requirement));
        fs::create_dir_all(&dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
        // `--no-binary` names the package only: pip builds the sdist's metadata while
        // downloading, and its build requirements must still come as wheels.
        let mut download = self.pip_command(&["download", "--no-deps", "--no-binary", &requirement_name(requirement)]);
        download.arg("--dest").arg(&dest).arg(requirement);
        run(download, "no source distribution either")?;
        let path = fs::read_dir(&dest)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.is_file())
            .ok_or_else(|| "pip downloaded no source distribution".to_owned())?;
        let before = list(built);
        let mut wheel = self.pip_command(&["wheel", "--no-deps"]);
        wheel.arg("--wheel-dir").arg(built).arg(&path);
        run(wheel, "its source distribution does not build on this host")?;
        let wheel_file = list(built).into_iter().find(|f| !before.contains(f)).ok_or_else(|| "building it gave no wheel".to_owned())?;
        if !wheel_file.ends_with("-none-any.whl") {
            return Err(format!(
                "its source distribution builds {wheel_file}, compiled for one platform; Whetstone installs only pure-Python \
                 source distributions (the base image has no compiler): pick a version that publishes wheels"
            ));
        }
        let build_requires = build_requires(&path)?;
        Ok(Sdist { path, wheel_file, build_requires })
    }

    /// `python -m pip <args>` with the cache's index, if it has one.
    pub(crate) fn pip_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.python());
        command.args(["-m", "pip"]).args(args).args(["--disable-pip-version-check", "--retries", "2"]);
        if let Some(url) = self.index_url() {
            command.args(["--index-url", url]);
        }
        command
    }
}

/// The distribution name a requirement starts with (`whetsd>=1.0 (from x)` → `whetsd`).
pub(crate) fn requirement_name(requirement: &str) -> String {
    requirement.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect()
}

/// `(name, version)` of an sdist file (`name-version.tar.gz` / `.zip`).
pub(crate) fn sdist_name_version(file: &str) -> Option<(String, String)> {
    let stem = file.strip_suffix(".tar.gz").or_else(|| file.strip_suffix(".zip"))?;
    let (name, version) = stem.rsplit_once('-')?;
    Some((name.to_owned(), version.to_owned()))
}

/// The name and version the wheel built from an sdist carries (pip's canonical spelling).
pub(crate) fn built_name_version(sdist: &Sdist) -> Option<(String, String)> {
    wheel_name_version(&sdist.wheel_file)
}

/// The sdist's `[build-system] requires` from its `pyproject.toml` (a `.tar.gz` sdist; a
/// `.zip` or one without the file gets PEP 517's default), plus `wheel` for setuptools.
fn build_requires(sdist: &Path) -> Result<Vec<String>, String> {
    let pyproject = match sdist.extension().and_then(|e| e.to_str()) {
        Some("gz") => read_top_level_file(sdist, "pyproject.toml")?,
        _ => None,
    };
    let table: Option<toml::Table> = pyproject.as_deref().map(str::parse).transpose().map_err(|e| format!("its pyproject.toml: {e}"))?;
    let system = table.as_ref().and_then(|t| t.get("build-system")).and_then(|s| s.as_table());
    let Some(requires) = system.and_then(|s| s.get("requires")).and_then(|r| r.as_array()) else {
        return Ok(DEFAULT_BUILD_REQUIRES.iter().map(|r| (*r).to_owned()).collect());
    };
    let mut requires: Vec<String> = requires.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect();
    let backend = system.and_then(|s| s.get("build-backend")).and_then(|b| b.as_str()).unwrap_or("setuptools.build_meta");
    if backend.starts_with("setuptools") && !requires.iter().any(|r| r.trim().starts_with("wheel")) {
        requires.push("wheel".to_owned());
    }
    Ok(requires)
}

/// `<top>/<name>` from a gzipped tar whose entries share one top-level directory.
fn read_top_level_file(archive: &Path, name: &str) -> Result<Option<String>, String> {
    let file = fs::File::open(archive).map_err(|e| format!("cannot open {}: {e}", archive.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in tar.entries().map_err(|e| format!("cannot read {}: {e}", archive.display()))? {
        let mut entry = entry.map_err(|e| format!("cannot read {}: {e}", archive.display()))?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        if path.components().count() == 2 && path.file_name().is_some_and(|f| f == name) {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(|e| format!("cannot read {name}: {e}"))?;
            return Ok(Some(text));
        }
    }
    Ok(None)
}

fn run(mut command: Command, meaning: &str) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("cannot run pip: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("ERROR:")).collect();
    let reason = if errors.is_empty() { stderr.trim().to_owned() } else { errors.join(" / ") };
    Err(format!("{meaning} ({reason})"))
}

fn list(dir: &Path) -> Vec<String> {
    fs::read_dir(dir).map(|d| d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default()
}

fn sanitise(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
}

/// Moves `sdist` into the cache under its hash.
pub(crate) fn store_sdist(cache: &DependencyCache, sdist: &Sdist) -> Result<(String, String), DependencyError> {
    let file = sdist.path.file_name().and_then(|f| f.to_str()).unwrap_or_default().to_owned();
    let sha256 = cache.store(&sdist.path, &file)?;
    Ok((file, sha256))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdist_names_split_at_the_last_dash() {
        assert_eq!(sdist_name_version("whetsd-1.0.tar.gz"), Some(("whetsd".into(), "1.0".into())));
        assert_eq!(sdist_name_version("python-dateutil-2.9.0.zip"), Some(("python-dateutil".into(), "2.9.0".into())));
        assert_eq!(sdist_name_version("whetsd-1.0-py3-none-any.whl"), None);
        assert_eq!(requirement_name("whet_sd.x>=1.0 (from calc)"), "whet_sd.x");
    }
}
