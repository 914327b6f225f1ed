//! Locked Debian packages: resolved once against the base image, then installed from the
//! host's cache in a build with no network; a package the cache lacks and the mirror does not
//! serve is named.

use whetstone_sandbox::debs::{DEBIAN_LOCK_FILE, DEBIAN_LOCKED_INSTALL};
use whetstone_sandbox::deps::DependencyCache;
use whetstone_sandbox::{EnvironmentFiles, Exit, NoProgress, Sandbox, SandboxError};

use crate::common::{TestSandbox, sh};

/// A mirror nothing listens on.
const DEAD_MIRROR: &str = "http://127.0.0.1:9/debian";

/// A sandbox of the test's owner with its own dependency cache.
async fn connect(owner: &str, cache: DependencyCache) -> Sandbox {
    Sandbox::connect(owner).await.expect("docker").with_dependency_cache(cache)
}

#[tokio::test]
async fn docker_debian_lock_installs_offline_and_names_a_missing_package() {
    let t = TestSandbox::new().await;
    let cache = tempfile::tempdir().expect("tempdir");
    let owner = t.sandbox.owner();

    // Resolution reaches the mirror once and fills the cache.
    let locking = connect(owner, DependencyCache::at(cache.path())).await;
    let lock = locking.lock_debian_packages(&["jq".to_owned()], &NoProgress).await.expect("jq resolves on the mirror");
    let names: Vec<&str> = lock.debs.iter().map(|d| d.name.as_str()).collect();
    assert!(names.contains(&"jq") && names.contains(&"libjq1"), "jq and the library it needs: {names:?}");
    assert!(lock.debs.iter().all(|d| d.path.starts_with("debian") && d.path.contains("/pool/")), "{lock:?}");

    let environment = EnvironmentFiles::new([
        ("Dockerfile".to_owned(), format!("ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\n{DEBIAN_LOCKED_INSTALL}").into_bytes()),
        (DEBIAN_LOCK_FILE.to_owned(), lock.to_text().into_bytes()),
    ]);
    assert!(environment.is_locked() && environment.builds_offline());

    // The build takes every file from the cache: the mirror is unreachable now.
    let offline = connect(owner, DependencyCache::at(cache.path()).with_debian_mirror(DEAD_MIRROR)).await;
    let image = offline.ensure_environment_image(&environment, &NoProgress).await.expect("builds from the cache alone");
    let outcome = offline.run(sh(&image, "jq --version && echo '{\"a\":41}' | jq '.a + 1'")).await.expect("run");
    assert_eq!(outcome.exit, Exit::Code(0), "{}", outcome.output);
    assert!(outcome.output.starts_with("jq-1.6") && outcome.output.ends_with("42\n"), "{}", outcome.output);

    // With an empty cache and no mirror, the error names the package and what to configure
    // (a fresh lock text, so the tag is not the image just built).
    let mut missing = lock.clone();
    missing.debs.retain(|d| d.name == "jq");
    let environment = EnvironmentFiles::new([
        ("Dockerfile".to_owned(), format!("ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\n{DEBIAN_LOCKED_INSTALL}# jq alone\n").into_bytes()),
        (DEBIAN_LOCK_FILE.to_owned(), missing.to_text().into_bytes()),
    ]);
    let empty = tempfile::tempdir().expect("tempdir");
    let stranded = connect(owner, DependencyCache::at(empty.path()).with_debian_mirror(DEAD_MIRROR)).await;
    let error = stranded.ensure_environment_image(&environment, &NoProgress).await.expect_err("nothing to build from");
    let text = error.to_string();
    assert!(matches!(error, SandboxError::Dependencies(_)), "{error:?}");
    assert!(text.contains("Debian package jq ") && text.contains("127.0.0.1:9") && text.contains("WHETSTONE_DEBIAN_MIRROR"), "{text}");
    t.assert_nothing_left().await;
}
