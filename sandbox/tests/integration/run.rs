use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use whetstone_sandbox::archive::{file_contents, pack_dir, unpack_safe};
use whetstone_sandbox::{Exit, Limits, OrphanScope, Upload};

use crate::common::{TestSandbox, sh, spec};

#[tokio::test]
async fn docker_reports_exit_codes_and_output() {
    let t = TestSandbox::new().await;
    let base = t.base().await;

    let ok = t.sandbox.run(spec(&base, &["true"])).await.expect("run true");
    assert_eq!(ok.exit, Exit::Code(0));
    assert!(ok.exit.is_success());
    eprintln!(
        "`true`: create {:?}, run {:?}, total {:?}, overhead {:?}",
        ok.timings.create,
        ok.timings.run,
        ok.timings.total,
        ok.timings.total.saturating_sub(ok.timings.run)
    );

    let failed = t.sandbox.run(sh(&base, "echo to-stdout; echo to-stderr >&2; exit 3")).await.expect("run exit 3");
    assert_eq!(failed.exit, Exit::Code(3));
    assert!(failed.output.contains("to-stdout\n"), "{}", failed.output);
    assert!(failed.output.contains("to-stderr\n"), "{}", failed.output);
    assert!(!failed.output_truncated);
    t.assert_nothing_left().await;
}

#[tokio::test]
async fn docker_environment_is_only_what_the_spec_gives() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let mut run = sh(&base, "echo \"foo=$FOO\"; env | grep -c '^CARGO' || true");
    run.env = vec![("FOO".to_owned(), "bar baz".to_owned())];
    run.working_dir = "/tmp".to_owned();
    let outcome = t.sandbox.run(run).await.expect("run");
    assert_eq!(outcome.output, "foo=bar baz\n0\n");
    t.assert_nothing_left().await;
}

#[tokio::test]
async fn docker_upload_then_download_round_trip() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let src = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(src.path().join("pkg")).expect("mkdir");
    fs::write(src.path().join("pkg/data.txt"), "payload\n").expect("write");
    fs::write(src.path().join(".dotfile"), "hidden\n").expect("write");
    let script = src.path().join("make-report.sh");
    fs::write(&script, "#!/bin/sh\nmkdir -p out && cp pkg/data.txt out/copy.txt && id -u > out/uid\n").expect("write");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");

    let tar = pack_dir(src.path(), "work", (1000, 1000)).expect("pack");
    let mut run = spec(&base, &["./make-report.sh"]);
    run.uploads = vec![Upload { dest_dir: "/".to_owned(), tar }];
    run.working_dir = "/work".to_owned();
    run.user = Some("1000:1000".to_owned());
    run.downloads = vec!["/work/out".to_owned(), "/work/.dotfile".to_owned(), "/work/missing".to_owned()];
    let outcome = t.sandbox.run(run).await.expect("run");
    assert_eq!(outcome.exit, Exit::Code(0), "{}", outcome.output);

    let [(out_path, out), (dot_path, dot), (missing_path, missing)] = &outcome.downloads[..] else {
        panic!("expected three downloads, got {:?}", outcome.downloads.len());
    };
    assert_eq!((out_path.as_str(), dot_path.as_str(), missing_path.as_str()), ("/work/out", "/work/.dotfile", "/work/missing"));
    assert!(missing.is_none());
    assert_eq!(file_contents(dot.as_deref().expect("dotfile downloaded")).expect("file"), b"hidden\n");

    let dest = tempfile::tempdir().expect("tempdir");
    unpack_safe(out.as_deref().expect("out downloaded"), dest.path(), true).expect("unpack");
    assert_eq!(fs::read_to_string(dest.path().join("copy.txt")).expect("copy"), "payload\n");
    assert_eq!(fs::read_to_string(dest.path().join("uid")).expect("uid"), "1000\n");
    t.assert_nothing_left().await;
}

#[tokio::test]
async fn docker_timeout_kills_the_container() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let mut run = spec(&base, &["sleep", "600"]);
    run.limits = Limits { timeout: Duration::from_secs(2), ..Limits::default() };
    let started = Instant::now();
    let outcome = t.sandbox.run(run).await.expect("run");
    let elapsed = started.elapsed();
    eprintln!("timed-out run: run {:?}, total {elapsed:?}", outcome.timings.run);
    assert_eq!(outcome.exit, Exit::TimedOut);
    assert!(outcome.timings.run >= Duration::from_secs(2));
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    t.assert_nothing_left().await;
}

#[tokio::test]
async fn docker_memory_limit_ends_in_out_of_memory() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    // `b'x' * n` writes every byte, so the pages are really used (a zeroed bytearray might
    // not be).
    let mut run = spec(&base, &["python3", "-c", "b = b'x' * (512 * 1024 * 1024); print(len(b))"]);
    run.limits = Limits { memory_bytes: 64 * 1024 * 1024, timeout: Duration::from_secs(60), ..Limits::default() };
    let outcome = t.sandbox.run(run).await.expect("run");
    eprintln!("memory hog: {:?}", outcome.exit);
    // The command is an exec, for which the engine's OOMKilled flag stays false; the
    // cgroup's OOM-kill counter is what tells.
    assert_eq!(outcome.exit, Exit::OutOfMemory, "{}", outcome.output);
    t.assert_nothing_left().await;
}

#[tokio::test]
async fn docker_output_cap_keeps_head_and_tail() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let mut run = spec(&base, &["python3", "-c", "import sys; sys.stdout.write('HEAD\\n' + 'x' * 100000 + '\\nTAIL\\n')"]);
    run.output_cap_bytes = 1000;
    let outcome = t.sandbox.run(run).await.expect("run");
    assert!(outcome.output_truncated);
    assert!(outcome.output.starts_with("HEAD\n"), "{}", outcome.output);
    assert!(outcome.output.ends_with("\nTAIL\n"), "{}", outcome.output);
    assert!(outcome.output.contains("[… 99011 bytes cut …]"), "{}", outcome.output);
    t.assert_nothing_left().await;
}

#[tokio::test]
async fn docker_non_root_user_works() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let mut run = sh(&base, "id -u; id -g; echo ok > $HOME/probe && cat $HOME/probe");
    run.user = Some("1000:1000".to_owned());
    run.env = vec![("HOME".to_owned(), "/home/agent".to_owned())];
    let outcome = t.sandbox.run(run).await.expect("run");
    assert_eq!(outcome.exit, Exit::Code(0), "{}", outcome.output);
    assert_eq!(outcome.output, "1000\n1000\nok\n");
    t.assert_nothing_left().await;
}

#[tokio::test]
async fn docker_container_is_locked_down() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let script = "ls /sys/class/net; \
                  grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; \
                  cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; \
                  cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max";
    let mut run = sh(&base, script);
    run.limits = Limits { memory_bytes: 256 * 1024 * 1024, pids: 64, ..Limits::default() };
    let outcome = t.sandbox.run(run).await.expect("run");
    assert_eq!(outcome.exit, Exit::Code(0), "{}", outcome.output);
    let lines: Vec<&str> = outcome.output.lines().collect();
    assert_eq!(lines[0], "lo", "network interfaces: {}", outcome.output);
    assert!(outcome.output.contains("CapEff:\t0000000000000000"), "{}", outcome.output);
    assert!(outcome.output.contains("NoNewPrivs:\t1"), "{}", outcome.output);
    assert!(outcome.output.contains(&(256 * 1024 * 1024).to_string()), "{}", outcome.output);
    assert!(lines.contains(&"64"), "{}", outcome.output);
    t.assert_nothing_left().await;
}

#[tokio::test]
async fn docker_cancelled_run_leaves_no_container() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let run = spec(&base, &["sleep", "600"]);
    let cancelled = tokio::time::timeout(Duration::from_secs(2), t.sandbox.run(run)).await;
    assert!(cancelled.is_err(), "a 600 s sleep finished");
    // The guard removes it in a spawned task; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = t.sandbox.list_ours(OrphanScope::ThisOwner).await.expect("list");
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still there after cancellation: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn docker_run_outlives_the_client_request_timeout() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let sandbox = t.sandbox.clone().with_request_timeout(Duration::from_secs(2));
    let outcome = sandbox.run(sh(&base, "sleep 5; echo done")).await.expect("run");
    assert_eq!(outcome.exit, Exit::Code(0));
    assert_eq!(outcome.output, "done\n");
    t.assert_nothing_left().await;
}

#[tokio::test]
async fn docker_failed_upload_still_removes_the_container() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let tar = whetstone_sandbox::archive::pack_files(&[("f".to_owned(), b"x".to_vec(), 0o644)], (0, 0)).expect("pack");
    let mut run = spec(&base, &["true"]);
    run.uploads = vec![Upload { dest_dir: "/does/not/exist".to_owned(), tar }];
    let err = t.sandbox.run(run).await.expect_err("uploaded into a missing directory");
    assert!(err.to_string().contains("/does/not/exist"), "{err}");
    t.assert_nothing_left().await;
}
