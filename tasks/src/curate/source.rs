//! Fetching a project's clean source: a local git repository at a revision, a PyPI source
//! distribution, or a crates.io crate. Downloads go through `curl` over HTTPS (the PyPI JSON
//! API for the sdist's address and sha256, `static.crates.io` for crates; the sparse index
//! for a crate's dependencies); archives are unpacked with the `tar` crate, keeping regular
//! files at plain relative paths only. Caches and build artefacts never enter the tree.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use sha2::Digest as _;

use super::project::Origin;
use super::{CurateError, io_error};
use crate::digest::TreeFile;

/// What `whetstone tasks add` was asked to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRef {
    /// `pypi:NAME==VERSION`
    Pypi { name: String, version: String },
    /// `crate:NAME@VERSION`
    Crate { name: String, version: String },
    /// A local git repository (`PATH`, optionally `PATH@REV`; default `HEAD`).
    Git { path: PathBuf, rev: String },
}

impl FromStr for SourceRef {
    type Err = CurateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            CurateError::Source(format!("{text:?}: {why}; expected pypi:NAME==VERSION, crate:NAME@VERSION or a git repository PATH[@REV]"))
        };
        if let Some(rest) = text.strip_prefix("pypi:") {
            let (name, version) = rest.split_once("==").ok_or_else(|| bad("no ==VERSION"))?;
            if name.is_empty() || version.is_empty() {
                return Err(bad("empty name or version"));
            }
            return Ok(Self::Pypi { name: name.to_owned(), version: version.to_owned() });
        }
        if let Some(rest) = text.strip_prefix("crate:") {
            let (name, version) = rest.split_once('@').ok_or_else(|| bad("no @VERSION"))?;
            if name.is_empty() || version.is_empty() {
                return Err(bad("empty name or version"));
            }
            return Ok(Self::Crate { name: name.to_owned(), version: version.to_owned() });
        }
        let (path, rev) = match text.rsplit_once('@') {
            Some((path, rev)) if !rev.contains('/') && Path::new(path).is_dir() => (path, rev),
            _ => (text, "HEAD"),
        };
        if !Path::new(path).is_dir() {
            return Err(bad("not a directory"));
        }
        Ok(Self::Git { path: PathBuf::from(path), rev: rev.to_owned() })
    }
}

impl fmt::Display for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pypi { name, version } => write!(f, "pypi:{name}=={version}"),
            Self::Crate { name, version } => write!(f, "crate:{name}@{version}"),
            Self::Git { path, rev } => write!(f, "{}@{rev}", path.display()),
        }
    }
}

/// A fetched, cleaned source tree and what its metadata says.
#[derive(Debug, Clone)]
pub struct FetchedSource {
    pub name: String,
    pub version: String,
    pub origin: Origin,
    pub url: String,
    /// Sorted by path bytes.
    pub files: Vec<TreeFile>,
    /// SPDX-style licence from the package metadata, if any.
    pub license: Option<String>,
    /// The licence file shipped with the source, if any.
    pub license_file: Option<String>,
    /// What the cleaning changed, for the project record's note.
    pub notes: Vec<String>,
}

/// Fetches and cleans `source`.
pub fn fetch(source: &SourceRef) -> Result<FetchedSource, CurateError> {
    match source {
        SourceRef::Pypi { name, version } => fetch_pypi(name, version),
        SourceRef::Crate { name, version } => fetch_crate(name, version),
        SourceRef::Git { path, rev } => fetch_git(path, rev),
    }
}

fn download(url: &str) -> Result<Vec<u8>, CurateError> {
    let output = Command::new("curl")
        .args(["--fail", "--silent", "--show-error", "--location", "--max-time", "300", "--proto", "=https", "--user-agent"])
        .arg("whetstone-curator (https://github.com/whetstone-subnet/whetstone)")
        .arg(url)
        .output()
        .map_err(|e| CurateError::Download { url: url.to_owned(), message: format!("could not run curl: {e}") })?;
    if !output.status.success() {
        return Err(CurateError::Download { url: url.to_owned(), message: String::from_utf8_lossy(&output.stderr).trim().to_owned() });
    }
    Ok(output.stdout)
}

/// Resolves a possibly relative link from the PyPI JSON API against the API's address.
fn resolve_url(base: &str, link: &str) -> String {
    if link.starts_with("https://") || link.starts_with("http://") {
        return link.to_owned();
    }
    let (origin, path) = match base.find("://").and_then(|s| base[s + 3..].find('/').map(|p| s + 3 + p)) {
        Some(split) => (&base[..split], &base[split..]),
        None => (base, "/"),
    };
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    segments.pop(); // the document itself
    for part in link.split('/') {
        match part {
            ".." => {
                segments.pop();
            }
            "." | "" => {}
            other => segments.push(other),
        }
    }
    format!("{origin}/{}", segments.join("/"))
}

fn fetch_pypi(name: &str, version: &str) -> Result<FetchedSource, CurateError> {
    let api = format!("https://pypi.org/pypi/{name}/json");
    let json: serde_json::Value = serde_json::from_slice(&download(&api)?)
        .map_err(|e| CurateError::Source(format!("PyPI answered {api} with something that is not JSON: {e}")))?;
    let files =
        json["releases"][version].as_array().ok_or_else(|| CurateError::Source(format!("PyPI has no release {version} of {name}")))?;
    let sdist = files
        .iter()
        .find(|f| f["packagetype"] == "sdist")
        .ok_or_else(|| CurateError::Source(format!("{name} {version} has no source distribution on PyPI")))?;
    let url = resolve_url(&api, sdist["url"].as_str().unwrap_or_default());
    let bytes = download(&url)?;
    if let Some(expected) = sdist["digests"]["sha256"].as_str() {
        let actual = hex::encode(sha2::Sha256::digest(&bytes));
        if actual != expected {
            return Err(CurateError::Download { url, message: format!("sha256 {actual}, PyPI says {expected}") });
        }
    }
    let filename = sdist["filename"].as_str().unwrap_or_default();
    if !filename.ends_with(".tar.gz") {
        return Err(CurateError::Source(format!("{filename}: only .tar.gz source distributions are supported")));
    }
    let (files, mut notes) = clean(unpack_tar_gz(&bytes)?);
    let pkg_info = files.iter().find(|f| f.path == "PKG-INFO").map(|f| String::from_utf8_lossy(&f.bytes).into_owned());
    let license = pkg_info.as_deref().and_then(license_from_pkg_info);
    let license_file = find_license_file(&files);
    notes.insert(0, format!("PyPI sdist {filename}"));
    Ok(FetchedSource {
        name: name.to_owned(),
        version: version.to_owned(),
        origin: Origin::Pypi,
        url: format!("https://pypi.org/project/{name}/{version}/"),
        files,
        license,
        license_file,
        notes,
    })
}

fn fetch_crate(name: &str, version: &str) -> Result<FetchedSource, CurateError> {
    let url = format!("https://static.crates.io/crates/{name}/{name}-{version}.crate");
    let (mut files, mut notes) = clean(unpack_tar_gz(&download(&url)?)?);
    let manifest = files
        .iter()
        .position(|f| f.path == "Cargo.toml")
        .ok_or_else(|| CurateError::Source(format!("{name} {version} has no Cargo.toml")))?;
    let text = String::from_utf8_lossy(&files[manifest].bytes).into_owned();
    let (offline, license, dropped) = offline_manifest(&text).map_err(|why| CurateError::Source(format!("{name} {version}: {why}")))?;
    files[manifest].bytes = offline.into_bytes();
    if !dropped.is_empty() {
        notes.push(format!("optional dependencies removed from Cargo.toml (fewer crates to vendor): {}", dropped.join(", ")));
    }
    // The lock is generated again for the trimmed manifest when the project is added.
    if let Some(lock) = files.iter().position(|f| f.path == "Cargo.lock") {
        files.remove(lock);
        notes.push("the shipped Cargo.lock replaced by one for the trimmed manifest".into());
    }
    let license_file = find_license_file(&files);
    notes.insert(0, format!("crates.io {name}-{version}.crate"));
    Ok(FetchedSource {
        name: name.to_owned(),
        version: version.to_owned(),
        origin: Origin::Crates,
        url: format!("https://crates.io/crates/{name}/{version}"),
        files,
        license,
        license_file,
        notes,
    })
}

/// The manifest without optional dependencies (and the features that enable them), its
/// `license`, and the names dropped. Required dependencies stay: they are locked and
/// vendored (`locking.rs`).
pub fn offline_manifest(text: &str) -> Result<(String, Option<String>, Vec<String>), String> {
    let mut manifest: toml::Table = text.parse().map_err(|e| format!("Cargo.toml does not parse: {e}"))?;
    let license = manifest.get("package").and_then(|p| p.get("license")).and_then(|l| l.as_str()).map(str::to_owned);
    let mut dropped = Vec::new();
    let mut strip = |table: &mut toml::Table| {
        for kind in ["dependencies", "dev-dependencies", "build-dependencies"] {
            let Some(deps) = table.get_mut(kind).and_then(|d| d.as_table_mut()) else { continue };
            let names: Vec<String> = deps.keys().cloned().collect();
            for dep in names {
                let optional = deps[&dep].get("optional").and_then(|o| o.as_bool()).unwrap_or(false);
                if optional {
                    deps.remove(&dep);
                    dropped.push(dep);
                }
            }
            if deps.is_empty() {
                table.remove(kind);
            }
        }
    };
    strip(&mut manifest);
    if let Some(targets) = manifest.get_mut("target").and_then(|t| t.as_table_mut()) {
        for (_, target) in targets.iter_mut() {
            if let Some(target) = target.as_table_mut() {
                strip(target);
            }
        }
        targets.retain(|_, t| t.as_table().is_some_and(|t| !t.is_empty()));
        if targets.is_empty() {
            manifest.remove("target");
        }
    }
    dropped.sort();
    dropped.dedup();
    if let Some(features) = manifest.get_mut("features").and_then(|f| f.as_table_mut()) {
        let enables_dropped = |entry: &str| {
            let head = entry.trim_start_matches("dep:");
            let head = head.split('/').next().unwrap_or(head).trim_end_matches('?');
            dropped.iter().any(|d| d == head)
        };
        for (_, list) in features.iter_mut() {
            if let Some(list) = list.as_array_mut() {
                list.retain(|v| !v.as_str().is_some_and(enables_dropped));
            }
        }
    }
    Ok((toml::to_string(&manifest).map_err(|e| e.to_string())?, license, dropped))
}

fn fetch_git(path: &Path, rev: &str) -> Result<FetchedSource, CurateError> {
    let git = |context: &str| {
        let context = context.to_owned();
        move |source| CurateError::Git { context, source }
    };
    let repo = git2::Repository::open(path).map_err(git(&format!("open {}", path.display())))?;
    let commit = repo.revparse_single(rev).and_then(|o| o.peel_to_commit()).map_err(git(&format!("find revision {rev}")))?;
    let tree = commit.tree().map_err(git("read the commit's tree"))?;
    let mut files = Vec::new();
    let mut walk_error = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        // Regular files only: links and submodules do not enter task trees.
        let mode = entry.filemode();
        if mode != 0o100644 && mode != 0o100755 {
            return git2::TreeWalkResult::Ok;
        }
        let path = format!("{dir}{}", entry.name().unwrap_or_default());
        match entry.to_object(&repo).and_then(|o| o.peel_to_blob()) {
            Ok(blob) => files.push(TreeFile { path, executable: mode == 0o100755, bytes: blob.content().to_vec() }),
            Err(e) => {
                walk_error = Some(e);
                return git2::TreeWalkResult::Abort;
            }
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(git("walk the tree"))?;
    if let Some(error) = walk_error {
        return Err(git("read a file")(error));
    }
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let (files, mut notes) = clean(files);
    let name = std::fs::canonicalize(path)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_lowercase()))
        .unwrap_or_else(|| "project".into());
    let version = commit.id().to_string()[..12].to_owned();
    let license = files
        .iter()
        .find(|f| f.path == "Cargo.toml")
        .and_then(|f| offline_manifest(&String::from_utf8_lossy(&f.bytes)).ok().and_then(|m| m.1))
        .or_else(|| files.iter().find(|f| f.path == "PKG-INFO").and_then(|f| license_from_pkg_info(&String::from_utf8_lossy(&f.bytes))))
        .or_else(|| {
            files.iter().find(|f| f.path == "pyproject.toml").and_then(|f| license_from_pyproject(&String::from_utf8_lossy(&f.bytes)))
        });
    let license_file = find_license_file(&files);
    notes.insert(0, format!("git {} at {rev} ({version})", path.display()));
    Ok(FetchedSource { name, version, origin: Origin::Git, url: path.display().to_string(), files, license, license_file, notes })
}

/// Regular files of a `.tar.gz`, with the archive's single top directory removed.
fn unpack_tar_gz(bytes: &[u8]) -> Result<Vec<TreeFile>, CurateError> {
    let mut decoder = flate2::read::GzDecoder::new(bytes);
    let mut raw = Vec::new();
    decoder.read_to_end(&mut raw).map_err(|e| CurateError::Source(format!("archive is not gzip: {e}")))?;
    let mut archive = tar::Archive::new(raw.as_slice());
    let mut files = Vec::new();
    let entries = archive.entries().map_err(|e| CurateError::Source(format!("archive is not a tar: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| CurateError::Source(format!("archive is corrupt: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map(|p| p.to_string_lossy().replace('\\', "/")).unwrap_or_default();
        let Some((_, rest)) = path.split_once('/') else { continue };
        let plain = !rest.is_empty() && rest.split('/').all(|c| !c.is_empty() && c != ".." && c != ".");
        if !plain {
            continue;
        }
        let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(|e| CurateError::Source(format!("archive is corrupt: {e}")))?;
        files.push(TreeFile { path: rest.to_owned(), executable, bytes: content });
    }
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    files.dedup_by(|a, b| a.path == b.path);
    Ok(files)
}

/// Directories whose contents are caches or build output, never source.
const JUNK_DIRS: &[&str] =
    &[".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".tox", ".nox", "target", ".hypothesis", ".eggs", "node_modules"];
const JUNK_FILES: &[&str] = &[".DS_Store", ".cargo_vcs_info.json", "Cargo.toml.orig"];

/// Drops caches and build artefacts (`__pycache__`, `target/`, `.pytest_cache`, `*.egg-info`,
/// `*.pyc`, …) and says what went.
pub fn clean(files: Vec<TreeFile>) -> (Vec<TreeFile>, Vec<String>) {
    let mut dropped: BTreeMap<String, usize> = BTreeMap::new();
    let kept = files
        .into_iter()
        .filter(|f| {
            let parts: Vec<&str> = f.path.split('/').collect();
            let (dirs, name) = parts.split_at(parts.len() - 1);
            let junk = dirs.iter().find(|d| JUNK_DIRS.contains(d) || d.ends_with(".egg-info")).map(|d| (*d).to_owned()).or_else(|| {
                let name = name[0];
                (JUNK_FILES.contains(&name) || name.ends_with(".pyc") || name.ends_with(".pyo")).then(|| name.to_owned())
            });
            match junk {
                Some(what) => {
                    *dropped.entry(what).or_default() += 1;
                    false
                }
                None => true,
            }
        })
        .collect();
    let notes = if dropped.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "removed caches and build artefacts: {}",
            dropped.iter().map(|(what, n)| format!("{what} ({n})")).collect::<Vec<_>>().join(", ")
        )]
    };
    (kept, notes)
}

fn find_license_file(files: &[TreeFile]) -> Option<String> {
    files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| !p.contains('/'))
        .find(|p| {
            let upper = p.to_ascii_uppercase();
            upper.starts_with("LICENSE") || upper.starts_with("LICENCE") || upper.starts_with("COPYING")
        })
        .map(str::to_owned)
}

/// The licence a PKG-INFO states: `License-Expression`, a short `License`, or the first
/// OSI classifier mapped to its SPDX identifier.
pub fn license_from_pkg_info(text: &str) -> Option<String> {
    let header = |key: &str| text.lines().take_while(|l| !l.is_empty()).find_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_owned());
    if let Some(expression) = header("License-Expression:").filter(|v| !v.is_empty()) {
        return Some(expression);
    }
    if let Some(license) = header("License:").filter(|v| !v.is_empty() && v.len() <= 40 && !v.eq_ignore_ascii_case("UNKNOWN")) {
        return Some(spdx_from_words(&license).unwrap_or(license));
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("Classifier: License :: "))
        .find_map(|c| spdx_from_words(c.rsplit(" :: ").next().unwrap_or(c)))
}

fn license_from_pyproject(text: &str) -> Option<String> {
    let table: toml::Table = text.parse().ok()?;
    let license = table.get("project")?.get("license")?;
    license.as_str().map(str::to_owned).or_else(|| license.get("text").and_then(|t| t.as_str()).map(str::to_owned))
}

fn spdx_from_words(words: &str) -> Option<String> {
    let lower = words.to_ascii_lowercase();
    let known = [
        ("mit", "MIT"),
        ("bsd license", "BSD-3-Clause"),
        ("bsd", "BSD-3-Clause"),
        ("new bsd", "BSD-3-Clause"),
        ("apache software license", "Apache-2.0"),
        ("apache 2.0", "Apache-2.0"),
        ("apache-2.0", "Apache-2.0"),
        ("python software foundation license", "PSF-2.0"),
        ("isc license (iscl)", "ISC"),
        ("isc", "ISC"),
        ("mozilla public license 2.0 (mpl 2.0)", "MPL-2.0"),
    ];
    known
        .iter()
        .find(|(k, _)| lower == *k || lower.starts_with(&format!("{k} ")))
        .map(|(_, s)| (*s).to_owned())
        .or_else(|| lower.contains("mit license").then(|| "MIT".to_owned()))
}

/// Writes `files` below `dir`.
pub fn write_files(dir: &Path, files: &[TreeFile]) -> Result<(), CurateError> {
    for file in files {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent.display()))?;
        }
        std::fs::write(&path, &file.bytes).map_err(io_error(path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = if file.executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(io_error(path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_refs_parse() {
        assert_eq!(
            "pypi:toolz==1.2.0".parse::<SourceRef>().expect("pypi"),
            SourceRef::Pypi { name: "toolz".into(), version: "1.2.0".into() }
        );
        assert_eq!(
            "crate:semver@1.0.27".parse::<SourceRef>().expect("crate"),
            SourceRef::Crate { name: "semver".into(), version: "1.0.27".into() }
        );
        assert!("pypi:toolz".parse::<SourceRef>().is_err());
        assert!("/definitely/not/here".parse::<SourceRef>().is_err());
    }

    #[test]
    fn pypi_relative_links_resolve_against_the_api() {
        assert_eq!(
            resolve_url("https://pypi.org/pypi/toolz/json", "../../packages/ab/toolz-1.tar.gz"),
            "https://pypi.org/packages/ab/toolz-1.tar.gz"
        );
        assert_eq!(resolve_url("https://pypi.org/pypi/x/json", "https://files.example/x.tar.gz"), "https://files.example/x.tar.gz");
    }

    #[test]
    fn caches_and_build_output_are_dropped() {
        let file = |p: &str| TreeFile { path: p.into(), executable: false, bytes: Vec::new() };
        let (kept, notes) = clean(vec![
            file("pkg/__pycache__/m.cpython-311.pyc"),
            file("pkg/m.py"),
            file("pkg.egg-info/PKG-INFO"),
            file("target/debug/x"),
            file(".pytest_cache/v"),
            file("old.pyc"),
        ]);
        assert_eq!(kept.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["pkg/m.py"]);
        assert!(notes[0].contains("__pycache__"), "{notes:?}");
    }

    #[test]
    fn licences_come_from_metadata() {
        assert_eq!(license_from_pkg_info("Name: x\nLicense-Expression: MIT\n\nbody").as_deref(), Some("MIT"));
        assert_eq!(license_from_pkg_info("Name: x\nLicense: BSD\n").as_deref(), Some("BSD-3-Clause"));
        assert_eq!(
            license_from_pkg_info("Name: x\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n").as_deref(),
            Some("MIT")
        );
        assert_eq!(license_from_pkg_info("Name: x\n"), None);
    }

    #[test]
    fn optional_dependencies_are_removed_and_required_ones_kept() {
        let manifest = r#"
[package]
name = "semver"
license = "MIT OR Apache-2.0"
[features]
default = ["std"]
serde = ["dep:serde"]
std = []
[dependencies.serde]
version = "1"
optional = true
[target."cfg(any())".dependencies.serde]
version = "1"
optional = true
"#;
        let (offline, license, dropped) = offline_manifest(manifest).expect("offline");
        assert_eq!(license.as_deref(), Some("MIT OR Apache-2.0"));
        assert_eq!(dropped, ["serde"]);
        assert!(!offline.contains("dependencies"), "{offline}");
        assert!(!offline.contains("dep:serde"), "{offline}");
        let needy = "[package]\nname = \"x\"\n[dev-dependencies]\nproptest = \"1\"\n";
        let (kept, _, dropped) = offline_manifest(needy).expect("required dev-dependencies are vendored");
        assert!(kept.contains("proptest"), "{kept}");
        assert!(dropped.is_empty());
    }
}
