//! The project record (`projects/<name>-<version>/project.toml` in a compact set): where the
//! code came from, its licence, how its tests run, and which tests the baseline found stable.
//! Also the environment each framework's tasks get.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{CurateError, io_error};
use crate::digest::TreeFile;
use crate::task::{DEFAULT_PROTECTED, Framework};

pub const PROJECT_FILE: &str = "project.toml";

/// Where a project's source came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Pypi,
    Crates,
    Git,
}

/// `project.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectRecord {
    pub name: String,
    pub version: String,
    pub origin: Origin,
    /// The project's page (PyPI, crates.io) or the repository path.
    pub url: String,
    /// SPDX identifier, or `UNKNOWN` when added with `--allow-unlicensed` (then `flagged`).
    pub license: String,
    /// The licence file in the base tree, if the source shipped one.
    #[serde(default)]
    pub license_file: Option<String>,
    /// True when the licence could not be established; such projects must not be published.
    #[serde(default)]
    pub license_flagged: bool,
    pub framework: Framework,
    /// Run by `sh -c` at the repository root (FORMAT.md).
    pub test_command: String,
    /// Per suite run, for the tasks and for validation.
    pub timeout_secs: u64,
    /// Baseline runs made on the clean tree (at least 3).
    pub baseline_runs: u32,
    /// The slowest baseline run, in seconds.
    pub suite_secs: f64,
    /// Tests that passed in every baseline run; only these can become FAIL_TO_PASS or
    /// PASS_TO_PASS.
    pub stable_tests: Vec<String>,
    /// Tests that failed, were skipped or flipped in some baseline run; never used.
    #[serde(default)]
    pub unstable_tests: Vec<String>,
    /// How the tree was obtained and cleaned.
    #[serde(default)]
    pub notes: Vec<String>,
}

impl ProjectRecord {
    /// `<name>-<version>`, the project's directory under `projects/`.
    pub fn key(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }

    pub fn load(dir: &Path) -> Result<Self, CurateError> {
        let path = dir.join(PROJECT_FILE);
        let text = std::fs::read_to_string(&path).map_err(io_error(path.display()))?;
        toml::from_str(&text).map_err(|source| CurateError::Toml { path: path.display().to_string(), source })
    }

    pub fn save(&self, dir: &Path) -> Result<(), CurateError> {
        let path = dir.join(PROJECT_FILE);
        let text = toml::to_string(self).map_err(|e| CurateError::Source(format!("cannot serialise the project record: {e}")))?;
        std::fs::write(&path, text).map_err(io_error(path.display()))
    }

    /// The protected globs for this project's tasks: the defaults, plus the manifest for
    /// cargo (it names the test targets and could switch a harness off).
    pub fn protected_globs(&self) -> Option<Vec<String>> {
        match self.framework {
            Framework::Pytest => None,
            Framework::Cargo => Some(
                DEFAULT_PROTECTED.iter().map(|g| (*g).to_owned()).chain(["**/Cargo.toml".to_owned(), "**/Cargo.lock".to_owned()]).collect(),
            ),
        }
    }
}

/// The Dockerfile of a cargo project with locked dependencies: on the Rust toolchain image
/// (`RUST_IMAGE`, Debian's current `rustc-web`), the crates of `environment/Cargo.lock`, which
/// the sandbox puts in the build context under `crates/` with their checksums, are checked and
/// unpacked as a vendored directory source that `/.cargo/config.toml` puts in place of
/// crates.io. Built with the network disabled; `cargo test --offline` then needs nothing else.
pub const CARGO_LOCKED_DOCKERFILE: &str = r#"ARG RUST_IMAGE
FROM ${RUST_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0 TZ=UTC LC_ALL=C.UTF-8
ENV CARGO_HOME=/tmp/cargo-home CARGO_NET_OFFLINE=true CARGO_INCREMENTAL=0 CARGO_TERM_COLOR=never
COPY crates/ /opt/whetstone-crates/
RUN mkdir -p /opt/whetstone-vendor /.cargo && cd /opt/whetstone-crates \
 && if [ -s SHA256SUMS ]; then sha256sum --check --quiet SHA256SUMS; fi \
 && while read -r sum file; do \
      dir="/opt/whetstone-vendor/${file%.crate}"; mkdir -p "$dir" \
      && tar -xzf "$file" -C "$dir" --strip-components=1 --no-same-owner \
      && printf '{"files":{},"package":"%s"}' "$sum" > "$dir/.cargo-checksum.json" || exit 1; \
    done < SHA256SUMS \
 && printf '[source.crates-io]\nreplace-with = "whetstone-vendor"\n\n[source.whetstone-vendor]\ndirectory = "/opt/whetstone-vendor"\n' > /.cargo/config.toml \
 && chmod -R a+rX /opt/whetstone-vendor /.cargo && rm -rf /opt/whetstone-crates
"#;

/// The test command a project gets unless the curator gives one.
pub fn default_test_command(framework: Framework, files: &[TreeFile]) -> String {
    match framework {
        // No doctests: each compiles separately (slow) and they live in the sources, so they
        // could never be hidden.
        Framework::Cargo => "cargo test --offline --tests".to_owned(),
        Framework::Pytest => {
            let has_dir = |dir: &str| files.iter().any(|f| f.path.starts_with(&format!("{dir}/")));
            let src_layout = files.iter().any(|f| f.path.starts_with("src/") && f.path.ends_with("/__init__.py"));
            let prefix = if src_layout { "PYTHONPATH=src " } else { "" };
            let target = ["tests", "test"].into_iter().find(|d| has_dir(d)).unwrap_or_default();
            format!("{prefix}python3 -m pytest -p no:cacheprovider {target}").trim_end().to_owned()
        }
    }
}

/// Which framework a tree's tests use.
pub fn detect_framework(files: &[TreeFile]) -> Framework {
    if files.iter().any(|f| f.path == "Cargo.toml") { Framework::Cargo } else { Framework::Pytest }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> TreeFile {
        TreeFile { path: path.into(), executable: false, bytes: Vec::new() }
    }

    #[test]
    fn default_commands_follow_the_layout() {
        assert_eq!(
            default_test_command(Framework::Pytest, &[file("pkg/m.py"), file("tests/test_m.py")]),
            "python3 -m pytest -p no:cacheprovider tests"
        );
        assert_eq!(
            default_test_command(Framework::Pytest, &[file("src/pkg/__init__.py"), file("tests/test_m.py")]),
            "PYTHONPATH=src python3 -m pytest -p no:cacheprovider tests"
        );
        assert_eq!(default_test_command(Framework::Pytest, &[file("pkg/tests/test_m.py")]), "python3 -m pytest -p no:cacheprovider");
        assert_eq!(detect_framework(&[file("Cargo.toml")]), Framework::Cargo);
    }

    #[test]
    fn record_round_trips_and_rejects_unknown_fields() {
        let record = ProjectRecord {
            name: "toolz".into(),
            version: "1.2.0".into(),
            origin: Origin::Pypi,
            url: "https://pypi.org/project/toolz/1.2.0/".into(),
            license: "BSD-3-Clause".into(),
            license_file: Some("LICENSE.txt".into()),
            license_flagged: false,
            framework: Framework::Pytest,
            test_command: "python3 -m pytest toolz".into(),
            timeout_secs: 120,
            baseline_runs: 3,
            suite_secs: 1.5,
            stable_tests: vec!["a::b".into()],
            unstable_tests: vec![],
            notes: vec![],
        };
        let text = toml::to_string(&record).expect("serialise");
        assert_eq!(toml::from_str::<ProjectRecord>(&text).expect("parse"), record);
        assert!(toml::from_str::<ProjectRecord>(&format!("{text}\nextra = 1\n")).is_err());
        assert_eq!(record.key(), "toolz-1.2.0");
    }
}
