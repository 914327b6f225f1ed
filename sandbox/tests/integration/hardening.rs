//! Containment beyond the basics: a read-only root with size-capped tmpfs work trees, open
//! files, seccomp, and stopping every process of a run (daemons, fork bombs) while keeping
//! its files.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use whetstone_sandbox::archive::{file_contents, pack_dir, pack_files, unpack_safe};
use whetstone_sandbox::{Exit, Limits, SandboxError, Tmpfs, Upload};

use crate::common::{TestSandbox, sh, spec};

const MIB: u64 = 1024 * 1024;

/// Files go into tmpfs mounts of a running read-only container and come back out; ownership
/// follows the mount; nothing else is writable.
#[tokio::test]
async fn docker_read_only_root_with_tmpfs_work_tree_round_trips() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let src = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(src.path().join("pkg")).expect("mkdir");
    fs::write(src.path().join("pkg/data.txt"), "payload\n").expect("write");
    let script = src.path().join("make.sh");
    fs::write(&script, "#!/bin/sh\ncp pkg/data.txt copy.txt && rm pkg/data.txt\n").expect("write");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");

    let mut run = sh(
        &base,
        r#"cd /work && ./make.sh || exit 9
        touch /etc/x 2>/dev/null && echo root-writable || echo root-read-only
        touch /home/agent/x 2>/dev/null && echo home-writable || echo home-read-only
        echo scratch > /tmp/s && echo tmp-writable
        touch /opt/tool/x 2>/dev/null && echo tool-writable || echo tool-read-only
        sh /opt/tool/tool.sh
        stat -c 'work %u:%g' /work/copy.txt
        stat -c 'tool %u:%g %a' /opt/tool/tool.sh"#,
    );
    run.user = Some("1000:1000".to_owned());
    run.read_only_root = true;
    run.tmpfs.push(Tmpfs::owned_by("/work", 16 * MIB, (1000, 1000)));
    run.tmpfs.push(Tmpfs::read_only_to_users("/opt/tool", MIB));
    let tool = pack_files(&[("tool.sh".to_owned(), b"echo tool-ran\n".to_vec(), 0o755)], (0, 0)).expect("pack");
    run.uploads = vec![
        Upload { dest_dir: "/work".to_owned(), tar: pack_dir(src.path(), "", (1000, 1000)).expect("pack") },
        Upload { dest_dir: "/opt/tool".to_owned(), tar: tool },
    ];
    run.downloads = vec!["/work".to_owned(), "/work/copy.txt".to_owned(), "/work/missing".to_owned()];
    let outcome = t.sandbox.run(run).await.expect("run");
    assert_eq!(outcome.exit, Exit::Code(0), "{}", outcome.output);
    for want in ["root-read-only", "home-read-only", "tmp-writable", "tool-read-only", "tool-ran", "work 1000:1000", "tool 0:0 755"] {
        assert!(outcome.output.lines().any(|l| l == want), "no {want:?} in:\n{}", outcome.output);
    }
    assert!(outcome.download_problems.is_empty(), "{:?}", outcome.download_problems);
    let [(_, Some(work)), (_, Some(copy)), (_, None)] = &outcome.downloads[..] else {
        panic!("unexpected downloads {:?}", outcome.downloads.iter().map(|(p, t)| (p, t.is_some())).collect::<Vec<_>>());
    };
    assert_eq!(file_contents(copy).expect("file"), b"payload\n");
    let dest = tempfile::tempdir().expect("tempdir");
    unpack_safe(work, dest.path(), true).expect("unpack");
    assert_eq!(fs::read_to_string(dest.path().join("copy.txt")).expect("copy"), "payload\n");
    assert!(!dest.path().join("pkg/data.txt").exists(), "the deletion was lost");
    let usage: Vec<&str> = outcome.filesystems.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(usage, ["/tmp", "/work", "/opt/tool"]);
    assert_eq!(outcome.full_filesystems().count(), 0);
    t.assert_nothing_left().await;
}

/// A disk filler gets "No space left on device" at the caps, the runner learns which mounts
/// are full, and the host's disk never sees a byte.
#[tokio::test]
async fn docker_tmpfs_caps_stop_a_disk_filler() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let mut run = sh(
        &base,
        "dd if=/dev/zero of=/work/fill bs=1M count=64 2>&1 | grep dd:; \
         dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>&1 | grep dd:; \
         dd if=/dev/zero of=/var/tmp/fill bs=1M count=1 2>&1 | grep dd:; exit 0",
    );
    run.user = Some("1000:1000".to_owned());
    run.read_only_root = true;
    run.tmpfs = vec![Tmpfs::scratch("/tmp", 8 * MIB), Tmpfs::owned_by("/work", 8 * MIB, (1000, 1000))];
    run.downloads = vec!["/work".to_owned()];
    run.limits = Limits { memory_bytes: 256 * MIB, timeout: Duration::from_secs(30), ..Limits::default() };
    let outcome = t.sandbox.run(run).await.expect("run");
    assert_eq!(outcome.exit, Exit::Code(0), "{}", outcome.output);
    assert_eq!(outcome.output.matches("No space left on device").count(), 2, "{}", outcome.output);
    assert!(outcome.output.contains("Read-only file system"), "{}", outcome.output);
    let full: Vec<&str> = outcome.full_filesystems().map(|f| f.path.as_str()).collect();
    assert_eq!(full, ["/tmp", "/work"], "{:?}", outcome.filesystems);
    let tar = outcome.downloads[0].1.as_deref().expect("the full tree still comes back");
    assert!(tar.len() as u64 <= 8 * MIB + 64 * 1024, "{} bytes", tar.len());
    t.assert_nothing_left().await;
}

#[tokio::test]
async fn docker_open_files_are_limited() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let script = "ulimit -n; python3 -c \"
import os
fds = []
try:
    while True: fds.append(os.open('/dev/null', os.O_RDONLY))
except OSError as e: print('opened', len(fds), e.strerror)
\"";
    let outcome = t.sandbox.run(sh(&base, script)).await.expect("run");
    assert!(outcome.output.starts_with("1024\nopened 10"), "{}", outcome.output);
    assert!(outcome.output.contains("Too many open files"), "{}", outcome.output);

    let mut small = sh(&base, "ulimit -n");
    small.open_files = 64;
    let outcome = t.sandbox.run(small).await.expect("run");
    assert_eq!(outcome.output, "64\n");
    t.assert_nothing_left().await;
}

/// The default seccomp profile is on, and nothing of the host is mounted: no Docker socket,
/// no host directory.
#[tokio::test]
async fn docker_container_has_seccomp_and_no_host_paths() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let script = "grep '^Seccomp:' /proc/self/status; \
                  ls /var/run/docker.sock /run/docker.sock 2>&1 | wc -l; \
                  ls /var/run/docker.sock 2>/dev/null && echo socket-present; \
                  cut -d' ' -f2 /proc/self/mounts | sort -u";
    let mut run = sh(&base, script);
    run.read_only_root = true;
    let outcome = t.sandbox.run(run).await.expect("run");
    assert_eq!(outcome.exit, Exit::Code(0), "{}", outcome.output);
    assert!(outcome.output.contains("Seccomp:\t2"), "{}", outcome.output);
    assert!(!outcome.output.contains("socket-present"), "{}", outcome.output);
    // Everything the engine mounts for any container, plus our /tmp; nothing else.
    let allowed = ["/", "/tmp", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/sbin/docker-init", "/usr/sbin/docker-init"];
    for mount in outcome.output.lines().filter(|l| l.starts_with('/')) {
        let engine_owned = ["/proc", "/dev", "/sys"].iter().any(|p| mount == *p || mount.starts_with(&format!("{p}/")));
        assert!(engine_owned || allowed.contains(&mount), "unexpected mount {mount}:\n{}", outcome.output);
    }
    t.assert_nothing_left().await;
}

/// At the deadline every process of the run dies, `setsid` daemons too (were one left, it
/// would hold the output open and the run would hang), yet its files are still collected.
#[tokio::test]
async fn docker_timeout_kills_daemons_and_keeps_the_files() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let mut run = sh(
        &base,
        "setsid sh -c 'while :; do echo tick >> /work/ticks; sleep 0.1; done' & \
         (setsid sleep 600 &); echo started; exec sleep 600",
    );
    run.user = Some("1000:1000".to_owned());
    run.read_only_root = true;
    run.tmpfs.push(Tmpfs::owned_by("/work", 8 * MIB, (1000, 1000)));
    run.downloads = vec!["/work/ticks".to_owned()];
    run.limits.timeout = Duration::from_secs(2);
    let started = Instant::now();
    let outcome = t.sandbox.run(run).await.expect("run");
    let elapsed = started.elapsed();
    assert_eq!(outcome.exit, Exit::TimedOut);
    assert_eq!(outcome.output, "started\n");
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
    let ticks = file_contents(outcome.downloads[0].1.as_deref().expect("ticks collected")).expect("file");
    assert!(ticks.starts_with(b"tick\n"), "{}", String::from_utf8_lossy(&ticks));
    t.assert_nothing_left().await;
}

/// A command that exits leaving a daemon behind ends the run at once: the daemon is killed.
#[tokio::test]
async fn docker_exit_with_a_daemon_left_ends_the_run() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let started = Instant::now();
    let outcome = t.sandbox.run(sh(&base, "setsid sh -c 'sleep 600' & echo parent-done")).await.expect("run");
    assert_eq!(outcome.exit, Exit::Code(0));
    assert_eq!(outcome.output, "parent-done\n");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    t.assert_nothing_left().await;
}

/// A fork bomb fills the pid limit and never lets go; the run still ends at its deadline,
/// and the files written before the bomb are still collected.
#[tokio::test]
async fn docker_fork_bomb_is_stopped_and_its_files_collected() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let mut run = spec(
        &base,
        &[
            "python3",
            "-c",
            "import os, time\nopen('/work/before', 'w').write('written\\n')\nwhile True:\n    try: os.fork()\n    except OSError: time.sleep(0.01)\n",
        ],
    );
    run.user = Some("1000:1000".to_owned());
    run.read_only_root = true;
    run.tmpfs.push(Tmpfs::owned_by("/work", 8 * MIB, (1000, 1000)));
    run.downloads = vec!["/work/before".to_owned()];
    run.limits = Limits { pids: 64, timeout: Duration::from_secs(3), ..Limits::default() };
    let started = Instant::now();
    let outcome = t.sandbox.run(run).await.expect("run");
    assert_eq!(outcome.exit, Exit::TimedOut, "{}", outcome.output);
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    let before = outcome.downloads[0].1.as_deref().unwrap_or_else(|| panic!("lost despite the bomb: {:?}", outcome.download_problems));
    assert_eq!(file_contents(before).expect("file"), b"written\n");
    t.assert_nothing_left().await;
}

/// An upload too big for its tmpfs is the caller's mistake, reported clearly.
#[tokio::test]
async fn docker_upload_larger_than_its_tmpfs_fails_clearly() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let big = pack_files(&[("big.bin".to_owned(), vec![7; 3 * MIB as usize], 0o644)], (1000, 1000)).expect("pack");
    let mut run = spec(&base, &["true"]);
    run.user = Some("1000:1000".to_owned());
    run.tmpfs.push(Tmpfs::owned_by("/work", MIB, (1000, 1000)));
    run.uploads = vec![Upload { dest_dir: "/work".to_owned(), tar: big }];
    let err = t.sandbox.run(run).await.expect_err("a 3 MiB file fit in 1 MiB");
    assert!(matches!(err, SandboxError::Upload { .. }), "{err:?}");
    assert!(err.to_string().contains("the tmpfs holds 1048576 bytes"), "{err}");
    t.assert_nothing_left().await;
}

/// A command that cannot be started is an exit status, not an engine failure.
#[tokio::test]
async fn docker_missing_command_is_an_exit_status() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let outcome = t.sandbox.run(spec(&base, &["/no/such/program"])).await.expect("run");
    assert!(matches!(outcome.exit, Exit::Code(126 | 127)), "{:?}: {}", outcome.exit, outcome.output);
    t.assert_nothing_left().await;
}

/// A command that kills every process it can (the stopper among them) is still stopped at
/// its deadline by a fresh exec, and its files still come back.
#[tokio::test]
async fn docker_command_that_kills_the_stopper_is_still_stopped() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let mut run = sh(&base, "kill -KILL -1; echo survivor > /work/f; setsid sleep 600 & exec sleep 600");
    run.user = Some("1000:1000".to_owned());
    run.read_only_root = true;
    run.tmpfs.push(Tmpfs::owned_by("/work", 8 * MIB, (1000, 1000)));
    run.downloads = vec!["/work/f".to_owned()];
    run.limits.timeout = Duration::from_secs(2);
    let started = Instant::now();
    let outcome = t.sandbox.run(run).await.expect("run");
    assert_eq!(outcome.exit, Exit::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    let file = outcome.downloads[0].1.as_deref().unwrap_or_else(|| panic!("lost: {:?}", outcome.download_problems));
    assert_eq!(file_contents(file).expect("file"), b"survivor\n");
    assert_eq!(outcome.filesystems.len(), 2, "the fallback measures too: {:?}", outcome.filesystems);
    t.assert_nothing_left().await;
}
