//! Locked Rust dependencies: every crates.io package a `Cargo.lock` names, fetched on the
//! host into the [`DependencyCache`] by the lock's own sha256 checksum, so an image build can
//! vendor them with no network.
//!
//! Downloads go through `curl`, which honours `HTTPS_PROXY`/`NO_PROXY`; the CA bundle is
//! cargo's `CARGO_HTTP_CAINFO` when set, else curl's own (`CURL_CA_BUNDLE`,
//! `SSL_CERT_FILE`). `WHETSTONE_CRATES_URL` replaces `https://static.crates.io/crates` (a
//! mirror laid out the same way: `<url>/<name>/<name>-<version>.crate`).

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::deps::{DependencyCache, DependencyError};

/// The lock's file name in a task's `environment/`.
pub const CARGO_LOCK_FILE: &str = "Cargo.lock";
const DEFAULT_CRATES_URL: &str = "https://static.crates.io/crates";

/// One registry package of a `Cargo.lock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedCrate {
    pub name: String,
    pub version: String,
    /// sha256 of the `.crate` file, as the lock gives it.
    pub checksum: String,
}

impl LockedCrate {
    pub fn file_name(&self) -> String {
        format!("{}-{}.crate", self.name, self.version)
    }
}

/// The crates.io packages of a `Cargo.lock` (workspace members, which have no `source`, are
/// skipped). A package from git or another registry is refused by name: nothing but
/// crates.io can be vendored.
pub fn locked_crates(lock: &str) -> Result<Vec<LockedCrate>, DependencyError> {
    let bad = |reason: String| DependencyError::BadCargoLock { reason };
    let table: toml::Table = lock.parse().map_err(|e: toml::de::Error| bad(e.message().to_owned()))?;
    let packages = table.get("package").and_then(toml::Value::as_array).cloned().unwrap_or_default();
    let mut crates = Vec::new();
    for package in &packages {
        let field = |key: &str| package.get(key).and_then(toml::Value::as_str).map(str::to_owned);
        let (Some(name), Some(version)) = (field("name"), field("version")) else {
            return Err(bad("a [[package]] without name or version".into()));
        };
        let Some(source) = field("source") else { continue };
        let from_crates_io =
            source == "registry+https://github.com/rust-lang/crates.io-index" || source == "sparse+https://index.crates.io/";
        if !from_crates_io {
            return Err(bad(format!(
                "{name} {version} comes from {source}; only crates.io packages can be vendored for an offline build \
                 (vendor it into the project, or depend on a published version)"
            )));
        }
        let Some(checksum) = field("checksum") else {
            return Err(bad(format!("{name} {version} has no checksum (a lock from cargo older than 1.53? regenerate it)")));
        };
        crates.push(LockedCrate { name, version, checksum });
    }
    Ok(crates)
}

impl DependencyCache {
    /// The `.crate` files `crates` name, from the cache, downloading the missing ones first
    /// (each checked against its checksum): `(file name, path)` in the given order.
    pub fn crates_for(&self, crates: &[LockedCrate]) -> Result<Vec<(String, PathBuf)>, DependencyError> {
        let base = self.crates_url.clone().or_else(|| std::env::var("WHETSTONE_CRATES_URL").ok().filter(|u| !u.trim().is_empty()));
        let base = base.as_deref().unwrap_or(DEFAULT_CRATES_URL).trim_end_matches('/').to_owned();
        for locked in crates.iter().filter(|c| self.cached(&c.checksum).is_none()) {
            let scratch = self.scratch()?;
            let file = locked.file_name();
            let dest = scratch.path().join(&file);
            let url = format!("{base}/{}/{file}", locked.name);
            let mut curl = Command::new("curl");
            curl.args(["--fail", "--silent", "--show-error", "--location", "--retry", "2", "--output"]).arg(&dest);
            if let Some(ca) = std::env::var_os("CARGO_HTTP_CAINFO").filter(|v| !v.is_empty()) {
                curl.arg("--cacert").arg(ca);
            }
            let output = curl.arg(&url).output().map_err(|source| DependencyError::Io { action: "run curl".into(), source })?;
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
                return Err(DependencyError::CrateDownload {
                    package: format!("{} {}", locked.name, locked.version),
                    url,
                    reason: stderr,
                    cache: self.root().to_owned(),
                });
            }
            let sha256 = self.store(&dest, &file)?;
            if sha256 != locked.checksum {
                let _ = fs::remove_dir_all(self.root().join("sha256").join(&sha256));
                return Err(DependencyError::HashMismatch { file, expected: locked.checksum.clone(), actual: sha256 });
            }
        }
        crates
            .iter()
            .map(|c| {
                self.cached(&c.checksum)
                    .map(|(_, path)| (c.file_name(), path))
                    .ok_or_else(|| DependencyError::Missing { package: format!("{} {}", c.name, c.version) })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_packages_are_read_and_other_sources_refused() {
        let sum = "a".repeat(64);
        let lock = format!(
            "version = 3\n\n[[package]]\nname = \"demo\"\nversion = \"0.1.0\"\ndependencies = [\"itoa\"]\n\n\
             [[package]]\nname = \"itoa\"\nversion = \"1.0.11\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{sum}\"\n"
        );
        let crates = locked_crates(&lock).expect("parses");
        assert_eq!(crates, [LockedCrate { name: "itoa".into(), version: "1.0.11".into(), checksum: sum.clone() }]);
        assert_eq!(crates[0].file_name(), "itoa-1.0.11.crate");
        let git = lock.replace("registry+https://github.com/rust-lang/crates.io-index", "git+https://example.com/itoa#abc");
        let error = locked_crates(&git).expect_err("git source").to_string();
        assert!(error.contains("itoa 1.0.11 comes from git+https://example.com/itoa#abc"), "{error}");
        let unsummed = lock.replace(&format!("checksum = \"{sum}\"\n"), "");
        assert!(locked_crates(&unsummed).expect_err("no checksum").to_string().contains("no checksum"));
    }
}
