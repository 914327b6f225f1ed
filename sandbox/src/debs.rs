//! Locked Debian packages: every `.deb` an image installs on top of the base image, named by
//! its place in the Debian archive and the sha256 of its bytes, so the image builds with no
//! network and installs the same bytes on every host, or fails saying which package is gone.
//!
//! A lock is resolved once (by a curator, or by us for the Rust toolchain) with
//! [`Sandbox::lock_debian_packages`]: apt, in a throwaway image on the base image with the
//! network on, prints the URIs and hashes of what `apt-get install` would fetch (main,
//! `bookworm-updates` and `bookworm-security`). Building an image from a lock fetches the
//! missing files on the host into the [`DependencyCache`] (curl, from the same mirror the base
//! image comes from) and installs them with `dpkg -i` in a build without network.
//!
//! The lock is relative to the base image: packages the base image already has are not in
//! it. A lock that no longer fits the base image fails its build with dpkg's words.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::client::{Progress, Sandbox};
use crate::deps::{DependencyCache, DependencyError};
use crate::error::SandboxError;
use crate::images::ImageRef;
use crate::mirror::debian_mirror;
use crate::spec::{Role, RunSpec};

/// The lock's file name in a task's `environment/`.
pub const DEBIAN_LOCK_FILE: &str = "debian.lock";

const LOCK_HEADER: &str = "# whetstone debian lock v1: every .deb installed over the base image, with its sha256\n\
                           # (name version arch sha256 archive-path; installed with dpkg -i, no network)\n";

/// Dockerfile lines that install a locked environment's packages: the sandbox puts the
/// files in the build context under `debs/` with a `debs/SHA256SUMS`.
pub const DEBIAN_LOCKED_INSTALL: &str = "COPY debs/ /opt/whetstone-debs/
RUN cd /opt/whetstone-debs && sha256sum --check --quiet SHA256SUMS \\
 && dpkg -i --force-confdef --force-confold *.deb > /dev/null \\
 && cd / && rm -rf /opt/whetstone-debs
";

/// One locked package file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedDeb {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// sha256 of the `.deb`, 64 lowercase hex characters.
    pub sha256: String,
    /// Where it lives below the archive host: `<archive>/pool/…/<file>.deb`, e.g.
    /// `debian-security/pool/updates/main/r/rustc-web/rustc-web_….deb`.
    pub path: String,
}

impl LockedDeb {
    /// The `.deb` file name (the last part of its path).
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The archive it comes from (`debian`, `debian-security`).
    pub fn archive(&self) -> &str {
        self.path.split('/').next().unwrap_or_default()
    }
}

/// A Debian lock: one line per package, sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DebianLock {
    pub debs: Vec<LockedDeb>,
}

impl DebianLock {
    /// Reads a lock written by [`DebianLock::to_text`] (comments and blank lines are fine).
    pub fn parse(text: &str) -> Result<Self, DependencyError> {
        let mut debs = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| DependencyError::BadDebianLock { line: index + 1, reason: format!("{reason}: {line}") };
            let [name, version, arch, sha256, path] = line.split_whitespace().collect::<Vec<_>>()[..] else {
                return Err(bad("expected `name version arch sha256 archive/pool/…/file.deb`"));
            };
            if !is_sha256(sha256) {
                return Err(bad("the hash is not 64 lowercase hex characters"));
            }
            if !path.contains("/pool/") || !path.ends_with(".deb") || path.split('/').any(|part| part == ".." || part.is_empty()) {
                return Err(bad("the path is not an archive path like debian/pool/main/…/file.deb"));
            }
            let deb = LockedDeb { name: name.into(), version: version.into(), arch: arch.into(), sha256: sha256.into(), path: path.into() };
            debs.push(deb);
        }
        Ok(Self { debs })
    }

    pub fn to_text(&self) -> String {
        let mut text = String::from(LOCK_HEADER);
        for deb in &self.debs {
            text.push_str(&format!("{} {} {} {} {}\n", deb.name, deb.version, deb.arch, deb.sha256, deb.path));
        }
        text
    }

    /// The lock of what `apt-get install --print-uris` prints: `'URI' file size SHA256:hex`
    /// lines (other lines are ignored). The archive path is the URI's part from the segment
    /// before `/pool/`.
    pub fn from_print_uris(output: &str) -> Result<Self, DependencyError> {
        let mut debs = Vec::new();
        for line in output.lines().filter(|l| l.starts_with('\'')) {
            let bad = || DependencyError::BadDebianLock { line: 0, reason: format!("apt printed an unexpected line: {line}") };
            let mut words = line.split_whitespace();
            let uri = words.next().map(|w| w.trim_matches('\'')).ok_or_else(bad)?;
            let sha256 = words.nth(2).and_then(|w| w.strip_prefix("SHA256:")).filter(|h| is_sha256(h)).ok_or_else(bad)?;
            let pool = uri.find("/pool/").ok_or_else(bad)?;
            let archive_start = uri[..pool].rfind('/').map_or(0, |i| i + 1);
            let path = uri[archive_start..].to_owned();
            let file = percent_decode(path.rsplit('/').next().unwrap_or_default().trim_end_matches(".deb"));
            let [name, version, arch] = file.split('_').collect::<Vec<_>>()[..] else { return Err(bad()) };
            debs.push(LockedDeb { name: name.into(), version: version.into(), arch: arch.into(), sha256: sha256.into(), path });
        }
        debs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self { debs })
    }
}

/// `%XX` escapes decoded (apt escapes `:`, `+` and `~` of versions in URIs).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%').then(|| text.get(i + 1..i + 3)).flatten().and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The URL of `archive` (`debian`, `debian-security`) on the host's mirror: the mirror
/// itself for its own archive, its sibling for another (`…/debian` → `…/debian-security`).
fn archive_url(mirror: &str, archive: &str) -> String {
    let mirror = mirror.trim_end_matches('/');
    match mirror.rsplit_once('/') {
        Some((_, last)) if last == archive => mirror.to_owned(),
        Some((parent, _)) => format!("{parent}/{archive}"),
        None => format!("{mirror}/{archive}"),
    }
}

impl DependencyCache {
    /// The `.deb` files `lock` names, from the cache, downloading the missing ones first from
    /// the host's Debian mirror (each checked against its hash): `(file name, path)` in lock
    /// order.
    pub fn debs_for(&self, lock: &DebianLock) -> Result<Vec<(String, PathBuf)>, DependencyError> {
        let mirror = self.debian_mirror.clone().unwrap_or_else(debian_mirror);
        for deb in lock.debs.iter().filter(|d| self.cached(&d.sha256).is_none()) {
            let scratch = self.scratch()?;
            let file = deb.file_name().to_owned();
            let dest = scratch.path().join(&file);
            let archive = archive_url(&mirror, deb.archive());
            let url = format!("{archive}/{}", deb.path.split_once('/').map_or("", |(_, rest)| rest));
            let output = Command::new("curl")
                .args(["--fail", "--silent", "--show-error", "--location", "--retry", "2", "--output"])
                .arg(&dest)
                .arg(&url)
                .output()
                .map_err(|source| DependencyError::Io { action: "run curl".into(), source })?;
            if !output.status.success() {
                return Err(DependencyError::DebDownload {
                    package: format!("{} {}", deb.name, deb.version),
                    url,
                    reason: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
                    cache: self.root().to_owned(),
                });
            }
            let sha256 = self.store(&dest, &file)?;
            if sha256 != deb.sha256 {
                let _ = fs::remove_dir_all(self.root().join("sha256").join(&sha256));
                return Err(DependencyError::HashMismatch { file, expected: deb.sha256.clone(), actual: sha256 });
            }
        }
        lock.debs
            .iter()
            .map(|d| {
                self.cached(&d.sha256)
                    .map(|(_, path)| (d.file_name().to_owned(), path))
                    .ok_or_else(|| DependencyError::Missing { package: format!("{} {}", d.name, d.version) })
            })
            .collect()
    }
}

/// The build-context files of `lock`: `debs/<file>` and `debs/SHA256SUMS`.
pub(crate) fn debian_context(cache: &DependencyCache, lock: &DebianLock) -> Result<Vec<(String, Vec<u8>, u32)>, DependencyError> {
    let mut context = Vec::new();
    let mut sums = String::new();
    for (deb, (file, path)) in lock.debs.iter().zip(cache.debs_for(lock)?) {
        let bytes = fs::read(&path).map_err(|source| DependencyError::Io { action: format!("read {}", path.display()), source })?;
        sums.push_str(&format!("{}  {file}\n", deb.sha256));
        context.push((format!("debs/{file}"), bytes, 0o644));
    }
    context.push(("debs/SHA256SUMS".to_owned(), sums.into_bytes(), 0o644));
    Ok(context)
}

/// The resolving image's Dockerfile: the base image's sources plus `bookworm-updates` and
/// `bookworm-security` on the same mirror, and apt's plan for `packages` with each file's
/// SHA256 from the (signed) package indices, by [`RESOLVE_SCRIPT`].
fn resolve_recipe(packages: &[String]) -> String {
    format!(
        "ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nCOPY resolve.py /tmp/resolve.py\n\
         RUN sed -n 's#^deb \\(.*\\)/debian bookworm main.*#deb \\1/debian bookworm-updates main\\ndeb \\1/debian-security bookworm-security main#p' \
         /etc/apt/sources.list > /etc/apt/sources.list.d/whetstone-updates.list \\\n \
         && apt-get update -qq \\\n \
         && apt-get install --print-uris -qq -y --no-install-recommends {} > /tmp/uris.txt \\\n \
         && python3 /tmp/resolve.py < /tmp/uris.txt > /whetstone-uris.txt\n",
        packages.join(" ")
    )
}

/// apt's `--print-uris` names a file's MD5 only; this replaces it with the SHA256 the package
/// index gives for the same file (`apt-cache show name=version`, the record whose `Filename`
/// the URI ends with).
const RESOLVE_SCRIPT: &str = r#"import subprocess, sys, urllib.parse
for line in sys.stdin:
    if not line.startswith("'"):
        continue
    uri, file, size = line.split()[:3]
    uri = uri.strip("'")
    name, version, _arch = urllib.parse.unquote(file[: -len(".deb")]).split("_")
    shown = subprocess.run(["apt-cache", "show", f"{name}={version}"], capture_output=True, text=True, check=True).stdout
    sha256 = None
    for record in shown.split("\n\n"):
        fields = dict(l.split(": ", 1) for l in record.splitlines() if ": " in l and not l.startswith(" "))
        if fields.get("Filename") and urllib.parse.unquote(uri).endswith("/" + fields["Filename"]):
            sha256 = fields.get("SHA256")
    if not sha256:
        sys.exit(f"no SHA256 for {uri} in the package index")
    print(f"'{uri}' {file} {size} SHA256:{sha256}")
"#;

impl Sandbox {
    /// Resolves `packages` (Debian package names, optionally `name=version`) against the base
    /// image: what `apt-get install --no-install-recommends` would add, with hashes, from the
    /// host's mirror (bookworm, bookworm-updates, bookworm-security). Needs the network (the
    /// image build reaches the mirror); the files are fetched into the dependency cache too,
    /// so a build right after needs nothing else.
    pub async fn lock_debian_packages(&self, packages: &[String], progress: &dyn Progress) -> Result<DebianLock, SandboxError> {
        if let Some(bad) = packages.iter().find(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || "+-.:=~".contains(c))) {
            return Err(SandboxError::Dependencies(DependencyError::BadDebianLock {
                line: 0,
                reason: format!("{bad:?} is not a Debian package name (letters, digits, + - . and an optional =version)"),
            }));
        }
        let base = self.ensure_base_image(progress).await?;
        let recipe = resolve_recipe(packages);
        let recipe_tag = crate::images::env_image_tag(format!("{recipe}{RESOLVE_SCRIPT}").as_bytes(), &base);
        let tag = ImageRef::new(format!("whetstone-resolve:{}", recipe_tag.as_str().split_once(':').map_or("", |(_, hash)| hash)));
        progress.message(&format!("resolving {} against {base}", packages.join(" ")));
        let context =
            [("Dockerfile".to_owned(), recipe.into_bytes(), 0o644), ("resolve.py".to_owned(), RESOLVE_SCRIPT.as_bytes().to_vec(), 0o644)];
        self.build_context_image(&context, &[("BASE_IMAGE", base.as_str())], &tag, false, progress).await?;
        let spec = RunSpec::new(tag.clone(), vec!["cat".into(), "/whetstone-uris.txt".into()], Role::Probe, "resolve-debs");
        let outcome = self.run(spec).await;
        let _ = self.remove_image(&tag).await;
        let outcome = outcome?;
        if !outcome.exit.is_success() {
            return Err(SandboxError::Dependencies(DependencyError::BadDebianLock {
                line: 0,
                reason: format!("reading apt's plan failed: {}", outcome.output.trim()),
            }));
        }
        let lock = DebianLock::from_print_uris(&outcome.output)?;
        let cache = self.dependency_cache().clone();
        let fetch = lock.clone();
        progress.message(&format!("fetching {} packages into {}", lock.debs.len(), cache.root().display()));
        tokio::task::spawn_blocking(move || cache.debs_for(&fetch))
            .await
            .map_err(|e| SandboxError::io("fetch the locked packages", std::io::Error::other(e)))??;
        Ok(lock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn apt_plans_become_locks_that_round_trip() {
        let printed = format!(
            "'http://deb.debian.org/debian/pool/main/j/jq/jq_1.6-2.1_amd64.deb' jq_1.6-2.1_amd64.deb 64440 SHA256:{HASH}\n\
             'http://mirror.example/debian-security/pool/updates/main/r/rustc-web/rustc-web_1.96.0%2bdfsg1-1%7edeb12u1_amd64.deb' \
             rustc-web_1.96.0+dfsg1-1~deb12u1_amd64.deb 3000 SHA256:{HASH}\n\
             'http://deb.debian.org/debian/pool/main/s/shadow/passwd_1%3a4.13%2bdfsg1-1_amd64.deb' x.deb 1 SHA256:{HASH}\n"
        );
        let lock = DebianLock::from_print_uris(&printed).expect("parses");
        let names: Vec<&str> = lock.debs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["jq", "passwd", "rustc-web"]);
        assert_eq!(lock.debs[0].path, "debian/pool/main/j/jq/jq_1.6-2.1_amd64.deb");
        assert_eq!(lock.debs[1].version, "1:4.13+dfsg1-1", "the URI's escapes are decoded");
        assert_eq!(lock.debs[2].version, "1.96.0+dfsg1-1~deb12u1");
        assert_eq!(lock.debs[2].archive(), "debian-security");
        assert_eq!(DebianLock::parse(&lock.to_text()).expect("round trip"), lock);
        for (bad, says) in [
            ("jq 1.6 amd64\n".to_owned(), "expected `name version"),
            ("jq 1.6 amd64 XYZ debian/pool/main/j/jq/jq.deb\n".to_owned(), "64 lowercase hex"),
            (format!("jq 1.6 amd64 {HASH} /etc/passwd\n"), "not an archive path"),
            (format!("jq 1.6 amd64 {HASH} debian/pool/../../x.deb\n"), "not an archive path"),
        ] {
            let error = DebianLock::parse(&bad).expect_err(&bad).to_string();
            assert!(error.contains(says) && error.contains("line 1"), "{error}");
        }
    }

    #[test]
    fn archives_are_found_beside_the_mirror() {
        assert_eq!(archive_url("http://deb.debian.org/debian", "debian"), "http://deb.debian.org/debian");
        assert_eq!(archive_url("http://deb.debian.org/debian/", "debian-security"), "http://deb.debian.org/debian-security");
        assert_eq!(archive_url("http://mirror.local/pub/debian", "debian-security"), "http://mirror.local/pub/debian-security");
    }
}
