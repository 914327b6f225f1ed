//! The blob store against the local file backend (for real, on a temporary directory) and,
//! through the same code, the in-memory backend under a key prefix as an S3 bucket would have.
//! S3 itself cannot be reached from here; opening an `s3://` URL is checked, not used.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use object_store::memory::InMemory;
use object_store::{ObjectStoreExt, PutPayload};
use tokio_util::sync::CancellationToken;
use whetstone_tasks::bundle::Bundle;
use whetstone_tasks::digest::{TreeFile, digest_files};

use super::*;
use crate::store::Store as _;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn bundle(text: &str) -> (Digest, Vec<u8>) {
    let files = vec![
        TreeFile { path: "agent.toml".to_owned(), executable: false, bytes: format!("name = \"{text}\"\n").into_bytes() },
        TreeFile { path: "run.sh".to_owned(), executable: true, bytes: b"#!/bin/sh\n".to_vec() },
    ];
    let bundle = Bundle { digest: digest_files(&files), files };
    (bundle.digest.clone(), bundle.to_tar().expect("tar"))
}

/// A local store in a fresh directory, and the directory.
fn local() -> (BlobStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    (BlobStore::local(dir.path().join("blobs")).expect("open"), dir)
}

/// An in-memory store whose keys sit under a prefix, as in `s3://bucket/whetstone/prod`.
fn prefixed_memory() -> BlobStore {
    BlobStore { objects: Arc::new(InMemory::new()), prefix: Key::from("whetstone/prod"), url: "memory:".to_owned(), local_root: None }
}

fn files_below(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walk(dir) {
        found.push(entry.strip_prefix(dir).expect("below").display().to_string());
    }
    found.sort();
    found
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .flat_map(|entry| {
            let path = entry.expect("entry").path();
            if path.is_dir() { walk(&path) } else { vec![path] }
        })
        .collect()
}

#[tokio::test]
async fn bundles_round_trip_on_local_disk_in_the_old_layout() {
    let (store, dir) = local();
    let (digest, tar) = bundle("a");
    assert_eq!(store.get(&digest).await.expect("get"), None);
    store.put(&digest, &tar).await.expect("put");
    store.put(&digest, &tar).await.expect("a second put of the same blob is fine");
    assert_eq!(store.get(&digest).await.expect("get"), Some(tar));
    // Only the final file: no temporary file is left beside it.
    let expected = format!("{}/{digest}.tar", &digest.as_str()[..2]);
    assert_eq!(files_below(&dir.path().join("blobs")), [expected]);
}

#[tokio::test]
async fn a_blob_written_by_the_previous_store_is_read() {
    let (store, dir) = local();
    let (digest, tar) = bundle("old");
    let path = dir.path().join("blobs").join(&digest.as_str()[..2]).join(format!("{digest}.tar"));
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, &tar).expect("write");
    assert_eq!(store.get(&digest).await.expect("get"), Some(tar));
}

#[tokio::test]
async fn bytes_that_do_not_have_the_digest_are_refused() {
    let (store, _dir) = local();
    let (digest, _) = bundle("a");
    let (_, other) = bundle("b");
    let error = store.put(&digest, &other).await.expect_err("wrong digest stored");
    assert!(matches!(error, BlobError::Mismatch { .. }), "{error}");
    let error = store.put(&digest, b"not a tar").await.expect_err("garbage stored");
    assert!(matches!(error, BlobError::Mismatch { .. }), "{error}");
    assert_eq!(store.get(&digest).await.expect("get"), None);
}

#[tokio::test]
async fn a_corrupted_blob_is_an_error_not_content() {
    let (store, dir) = local();
    let (digest, tar) = bundle("a");
    store.put(&digest, &tar).await.expect("put");
    let log = store.put_log(b"agent output\n").await.expect("put log");
    let (_, other) = bundle("b");
    let bundle_path = dir.path().join("blobs").join(&digest.as_str()[..2]).join(format!("{digest}.tar"));
    std::fs::write(&bundle_path, other).expect("tamper");
    let log_path = dir.path().join("blobs/logs").join(&log.as_str()[..2]).join(format!("{log}.log"));
    std::fs::write(&log_path, b"agent output, edited\n").expect("tamper");
    for error in [store.get(&digest).await.expect_err("tampered bundle"), store.get_log(&log).await.expect_err("tampered log")] {
        assert!(matches!(error, BlobError::Corrupt { .. }), "{error}");
        assert!(error.to_string().contains("is corrupt"), "{error}");
    }
}

#[tokio::test]
async fn logs_are_keyed_by_the_sha256_of_their_bytes() {
    for store in [local().0, prefixed_memory()] {
        let digest = store.put_log(b"line 1\nline 2\n").await.expect("put");
        assert_eq!(digest, Digest::of_bytes(b"line 1\nline 2\n"));
        assert_eq!(store.get_log(&digest).await.expect("get"), Some(b"line 1\nline 2\n".to_vec()));
        // A bundle and a log are different namespaces.
        assert_eq!(store.get(&digest).await.expect("get"), None);
    }
}

/// The same sweep against both backends: what is named stays, what is young stays, what is
/// old and unnamed goes, and keys the store does not write are never touched.
#[tokio::test]
async fn garbage_collection_keeps_referenced_and_young_blobs() {
    let (local_store, _dir) = local();
    for store in [local_store, prefixed_memory()] {
        let (kept, kept_tar) = bundle("kept");
        let (dropped, dropped_tar) = bundle("dropped");
        store.put(&kept, &kept_tar).await.expect("put");
        store.put(&dropped, &dropped_tar).await.expect("put");
        let log = store.put_log(b"unreferenced log").await.expect("put log");
        let foreign = store.prefix.clone().join("README");
        store.objects.put(&foreign, PutPayload::from_static(b"not a blob")).await.expect("put foreign");
        let referenced = HashSet::from([kept.clone()]);

        let now = store.collect_garbage(&referenced, DAY, SystemTime::now()).await.expect("sweep");
        assert_eq!(now, GcReport { blobs: 3, referenced: 1, young: 2, foreign: 1, ..GcReport::default() }, "{}", store.url());

        let later = SystemTime::now() + 2 * DAY;
        let report = store.collect_garbage(&referenced, DAY, later).await.expect("sweep");
        assert_eq!((report.referenced, report.young, report.deleted, report.foreign), (1, 0, 2, 1), "{}", store.url());
        assert_eq!(report.deleted_bytes, (dropped_tar.len() + b"unreferenced log".len()) as u64);
        assert_eq!(store.get(&kept).await.expect("get"), Some(kept_tar));
        assert_eq!(store.get(&dropped).await.expect("get"), None);
        assert_eq!(store.get_log(&log).await.expect("get"), None);
        store.objects.head(&foreign).await.expect("the foreign object is still there");

        let again = store.collect_garbage(&referenced, DAY, later).await.expect("sweep");
        assert_eq!(again.deleted, 0, "nothing left to delete");
    }
}

/// Writing a blob again makes it young again, which is what keeps a sweep from deleting a
/// blob whose record is being stored right now.
#[tokio::test]
async fn writing_an_old_blob_again_protects_it() {
    let (store, dir) = local();
    let (digest, tar) = bundle("resubmitted");
    store.put(&digest, &tar).await.expect("put");
    let path = dir.path().join("blobs").join(&digest.as_str()[..2]).join(format!("{digest}.tar"));
    let two_days_ago = SystemTime::now() - 2 * DAY;
    std::fs::File::options().write(true).open(&path).expect("open").set_modified(two_days_ago).expect("age it");
    let nothing = HashSet::new();
    store.put(&digest, &tar).await.expect("put again");
    let report = store.collect_garbage(&nothing, DAY, SystemTime::now()).await.expect("sweep");
    assert_eq!((report.young, report.deleted), (1, 0));
    std::fs::File::options().write(true).open(&path).expect("open").set_modified(two_days_ago).expect("age it");
    let report = store.collect_garbage(&nothing, DAY, SystemTime::now()).await.expect("sweep");
    assert_eq!(report.deleted, 1, "an old, unreferenced blob goes");
}

#[test]
fn urls_name_a_backend_or_say_what_is_wrong() {
    let cases: &[(&str, Result<&str, &str>)] = &[
        ("/var/lib/whetstone/blobs", Ok("/var/lib/whetstone/blobs")),
        ("relative/blobs", Ok("relative/blobs")),
        ("file:///var/lib/whetstone/blobs", Ok("/var/lib/whetstone/blobs")),
        ("s3://whetstone-blobs/prod", Ok("s3://whetstone-blobs/prod")),
        ("s3a://bucket", Ok("s3a://bucket")),
        ("memory:", Ok("memory:")),
        ("", Err("it is empty")),
        ("s3:///prefix", Err("names its bucket")),
        ("gs://bucket/prefix", Err("the gs:// scheme is not supported")),
        ("file://relative", Err("absolute path")),
    ];
    for (text, expected) in cases {
        match (text.parse::<BlobUrl>(), expected) {
            (Ok(url), Ok(shown)) => assert_eq!(url.to_string(), *shown, "{text}"),
            (Err(error), Err(fragment)) => assert!(error.to_string().contains(fragment), "{text}: {error}"),
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }
}

/// The S3 backend is compiled in and an `s3://` URL opens without touching the network
/// (requests only start with the first read or write, which cannot happen here).
#[test]
fn an_s3_url_opens_the_s3_backend_with_its_prefix() {
    let store = BlobStore::open(&"s3://whetstone-blobs/prod/v1".parse().expect("url")).expect("open");
    assert_eq!(store.url(), "s3://whetstone-blobs/prod/v1");
    assert_eq!(store.prefix.as_ref(), "prod/v1");
    assert!(store.local_root.is_none());
    assert!(store.objects.to_string().contains("whetstone-blobs"), "{}", store.objects);
}

#[test]
fn the_blobs_table_parses_with_defaults_and_refuses_typos() {
    let config: crate::CoordinatorConfig = toml::from_str("[blobs]\nurl = \"s3://bucket/prefix\"\ngc_grace_secs = 60\n").expect("parse");
    assert_eq!(config.blobs.url, Some(BlobUrl::S3("s3://bucket/prefix".parse().expect("url"))));
    assert_eq!((config.blobs.gc_interval_secs, config.blobs.gc_grace_secs), (21_600, 60));
    let default = crate::CoordinatorConfig::default();
    assert_eq!(default.blobs.url_or_default(&default.data_dir), BlobUrl::Local(PathBuf::from(".whetstone/coordinator/blobs")));
    let error = toml::from_str::<crate::CoordinatorConfig>("[blobs]\nurl = \"gs://bucket\"\n").expect_err("gs");
    assert!(error.to_string().contains("not supported"), "{error}");
    let error = toml::from_str::<crate::CoordinatorConfig>("[blobs]\ngc_grace = 60\n").expect_err("typo");
    assert!(error.to_string().contains("unknown field"), "{error}");
    let off = toml::from_str::<crate::CoordinatorConfig>("[blobs]\ngc_interval_secs = 0\n").expect("parse");
    assert_eq!(off.blobs.gc_schedule(), None);
}

/// The coordinator's timer sweeps once per interval (not at start) and stops when shut down.
#[tokio::test]
async fn the_timer_sweeps_every_interval_until_shutdown() {
    let store = prefixed_memory();
    let (digest, tar) = bundle("orphan");
    store.put(&digest, &tar).await.expect("put");
    let shutdown = CancellationToken::new();
    let interval = Duration::from_millis(300);
    let references: Arc<dyn BlobReferences> = Arc::new(HashSet::<Digest>::new());
    let started = std::time::Instant::now();
    let timer = spawn_gc(store.clone(), references, GcSchedule { interval, grace: Duration::ZERO }, shutdown.clone());

    while store.get(&digest).await.expect("get").is_some() {
        assert!(started.elapsed() < Duration::from_secs(10), "the timer never swept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(started.elapsed() >= interval, "swept before the first interval had passed");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), timer).await.expect("the timer stops on shutdown").expect("no panic");
}

/// The references come from the real store (SQLite with its migrations): a published task's
/// bundle stays however old, an orphan of the same age goes.
#[tokio::test]
async fn the_store_names_what_the_sweep_keeps() {
    let (blobs, dir) = local();
    let store = crate::store::SqlStore::open(&crate::store::DatabaseUrl::in_data_dir(dir.path())).await.expect("open store");
    let (task, task_tar) = bundle("a published task");
    let (orphan, orphan_tar) = bundle("a bundle whose record was never stored");
    blobs.put(&task, &task_tar).await.expect("put");
    blobs.put(&orphan, &orphan_tar).await.expect("put");
    let new_task = crate::store::NewTask { digest: task.clone(), task_id: "t-1".to_owned(), timeout_secs: 60 };
    assert!(store.insert_task(&new_task).await.expect("insert task"));
    let references: Arc<dyn crate::store::Store> = Arc::new(store.clone());

    let report = blobs.collect_garbage(&references, DAY, SystemTime::now() + 2 * DAY).await.expect("sweep");
    assert_eq!((report.referenced, report.deleted), (1, 1));
    assert_eq!(blobs.get(&task).await.expect("get"), Some(task_tar));
    assert_eq!(blobs.get(&orphan).await.expect("get"), None);
    store.close().await;
}
