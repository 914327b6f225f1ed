//! Hostile agents. Each test runs one through `run_agent` exactly as production does and
//! asserts three things: the sandbox contained it, the report classifies it right, and no
//! container or network of the test's owner is left. Timeouts are a few seconds, so the whole
//! file runs in well under two minutes on two cores.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use whetstone_agent_runner::proxy::UpstreamKey;
use whetstone_agent_runner::{InferenceGateway, run_agent, run_agent_with_llm};
use whetstone_proto::job::{RunOutcome, RunReport, SandboxLimits};
use whetstone_sandbox::{ImageRef, NoProgress, Sandbox};
use whetstone_tasks::{AgentPackage, Task};

use crate::{assert_nothing_left, inline_agent, sandbox, task};

const TASK: &str = "toolz-get-single-index-tuple";

/// A sandbox of its own, the task and its image.
async fn setup(test: &str) -> (Sandbox, Task, ImageRef) {
    let sandbox = sandbox(test).await;
    let task = task(TASK);
    let image = sandbox.ensure_task_image(task.dockerfile(), &NoProgress).await.expect("image");
    (sandbox, task, image)
}

fn shell_agent(name: &str, script: &str) -> AgentPackage {
    inline_agent(name, &["sh", "run.sh"], &[("run.sh", script)])
}

fn python_agent(name: &str, script: &str) -> AgentPackage {
    inline_agent(name, &["python3", "agent.py"], &[("agent.py", script)])
}

fn limits(timeout_secs: u64, memory_mib: u64) -> SandboxLimits {
    SandboxLimits { timeout: Duration::from_secs(timeout_secs), memory_mib, ..SandboxLimits::default() }
}

fn explain(report: &RunReport) -> String {
    format!("outcome {:?}, exit {}, error {:?}\n--- log\n{}", report.outcome, report.exit_code, report.error, report.log)
}

/// A fork bomb fills the pid limit until the deadline; the run ends on time, as timed out, and
/// the edit made before the bomb is still collected.
#[tokio::test]
async fn docker_hostile_fork_bomb() {
    let (sandbox, task, image) = setup("fork-bomb").await;
    let agent = python_agent(
        "fork-bomb",
        "import os, time\n\
         open('/repo/before_the_bomb.txt', 'w').write('edited\\n')\n\
         print('bombing', flush=True)\n\
         while True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)\n",
    );
    let started = Instant::now();
    let report = run_agent(&sandbox, &image, &task.visible(), &agent, SandboxLimits { pids: 64, ..limits(4, 2048) }, "fork-bomb").await;
    let elapsed = started.elapsed();
    assert_eq!(report.outcome, RunOutcome::TimedOut, "{}", explain(&report));
    assert!(elapsed < Duration::from_secs(25), "took {elapsed:?}");
    assert!(report.log.contains("bombing"), "{}", explain(&report));
    let patch = String::from_utf8_lossy(&report.patch);
    assert!(patch.contains("+++ b/before_the_bomb.txt"), "{patch}\n{}", explain(&report));
    assert_nothing_left(&sandbox).await;
}

/// Memory past the limit ends in the OOM killer and an agent error, never a runner failure.
#[tokio::test]
async fn docker_hostile_memory_bomb() {
    let (sandbox, task, image) = setup("memory-bomb").await;
    let agent = python_agent(
        "memory-bomb",
        "print('allocating', flush=True)\nhoard = []\nwhile True:\n    hoard.append(b'x' * (64 * 1024 * 1024))\n",
    );
    let report = run_agent(&sandbox, &image, &task.visible(), &agent, limits(30, 256), "memory-bomb").await;
    assert_eq!(report.outcome, RunOutcome::AgentError, "{}", explain(&report));
    assert!(report.error.contains("ran out of memory (256 MiB)"), "{}", explain(&report));
    assert!(report.log.contains("allocating"), "{}", explain(&report));
    assert!(report.patch.is_empty());
    assert_nothing_left(&sandbox).await;
}

/// Writing past the caps hits "No space left on device" in the work tree and in /tmp, and
/// nowhere else is writable at all: the host's disk never sees a byte. The run is an agent
/// error that names the full mounts.
#[tokio::test]
async fn docker_hostile_disk_filler() {
    let (sandbox, task, image) = setup("disk-filler").await;
    let agent = shell_agent(
        "disk-filler",
        "dd if=/dev/zero of=/repo/filler.bin bs=1M count=100000 2>&1 | grep dd:\n\
         dd if=/dev/zero of=/tmp/filler.bin bs=1M count=100000 2>&1 | grep dd:\n\
         for dir in / /home/agent /var/tmp /agent /task /usr/local; do\n\
           touch \"$dir/filler\" 2>/dev/null && echo \"wrote $dir\" || echo \"refused $dir\"\n\
         done\n\
         exit 0\n",
    );
    let report = run_agent(&sandbox, &image, &task.visible(), &agent, limits(60, 512), "disk-filler").await;
    assert_eq!(report.outcome, RunOutcome::AgentError, "{}", explain(&report));
    assert!(report.error.contains("filled its disk space"), "{}", explain(&report));
    assert!(report.error.contains("/repo (128 MiB)") && report.error.contains("/tmp (128 MiB)"), "{}", explain(&report));
    assert_eq!(report.log.matches("No space left on device").count(), 2, "{}", explain(&report));
    for dir in ["/", "/home/agent", "/var/tmp", "/agent", "/task", "/usr/local"] {
        assert!(report.log.lines().any(|l| l == format!("refused {dir}")), "{dir} was writable:\n{}", explain(&report));
    }
    assert!(report.patch.is_empty());
    assert_nothing_left(&sandbox).await;
}

/// Processes spinning on every core get the CPU quota and no more, and die at the deadline.
#[tokio::test]
async fn docker_hostile_cpu_spinner() {
    let (sandbox, task, image) = setup("cpu-spinner").await;
    let agent = shell_agent(
        "cpu-spinner",
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max\n\
         for i in 1 2 3 4; do (while :; do :; done) & done\n\
         echo spinning\n\
         while :; do :; done\n",
    );
    let started = Instant::now();
    let report =
        run_agent(&sandbox, &image, &task.visible(), &agent, SandboxLimits { cpu_millis: 500, ..limits(3, 2048) }, "cpu-spinner").await;
    let elapsed = started.elapsed();
    assert_eq!(report.outcome, RunOutcome::TimedOut, "{}", explain(&report));
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    // Half a core: 50 ms of every 100 ms (cgroup v1), or "50000 100000" (v2).
    let quota: Vec<&str> = report.log.split_whitespace().take(2).collect();
    assert_eq!(quota, ["50000", "100000"], "{}", explain(&report));
    assert!(report.log.contains("spinning"), "{}", explain(&report));
    assert_nothing_left(&sandbox).await;
}

/// 200 MB on stdout: the log keeps its head and tail (64 KiB), the runner's memory does not
/// follow the flood, and the run completes.
#[tokio::test]
async fn docker_hostile_output_flood() {
    let (sandbox, task, image) = setup("output-flood").await;
    let agent = shell_agent("output-flood", "echo FLOOD-START\nhead -c 200000000 /dev/zero | tr '\\0' 'x'\necho\necho FLOOD-END\n");
    let report = run_agent(&sandbox, &image, &task.visible(), &agent, limits(60, 2048), "output-flood").await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{}", explain(&report));
    assert_eq!(report.exit_code, 0);
    assert!(report.log.len() < 70 * 1024, "log is {} bytes", report.log.len());
    assert!(report.log.starts_with("FLOOD-START\n"), "{}", &report.log[..200.min(report.log.len())]);
    assert!(report.log.ends_with("FLOOD-END\n"), "{}", &report.log[report.log.len().saturating_sub(200)..]);
    assert!(report.log.contains("bytes cut"));
    assert!(report.patch.is_empty());
    assert_nothing_left(&sandbox).await;
}

/// An agent that outlives its deadline with children of every kind (background jobs,
/// `setsid` daemons, `nohup`) is killed whole: the run ends on time, as timed out, with the
/// edits it made (were a daemon left alive, it would hold the output open and the run hang).
#[tokio::test]
async fn docker_hostile_sleep_past_timeout_with_daemons() {
    let (sandbox, task, image) = setup("daemons").await;
    let agent = shell_agent(
        "daemons",
        "setsid sh -c 'while :; do echo daemon-tick; sleep 0.2; done' &\n\
         (setsid sleep 600 &)\n\
         nohup sleep 600 > /dev/null 2>&1 &\n\
         sleep 600 &\n\
         echo edited > /repo/left_by_the_agent.txt\n\
         echo daemons-started\n\
         exec sleep 600\n",
    );
    let started = Instant::now();
    let report = run_agent(&sandbox, &image, &task.visible(), &agent, limits(3, 2048), "daemons").await;
    let elapsed = started.elapsed();
    assert_eq!(report.outcome, RunOutcome::TimedOut, "{}", explain(&report));
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}: something outlived the deadline");
    assert!(report.log.contains("daemons-started") && report.log.contains("daemon-tick"), "{}", explain(&report));
    assert!(String::from_utf8_lossy(&report.patch).contains("+++ b/left_by_the_agent.txt"), "{}", explain(&report));
    assert_nothing_left(&sandbox).await;
}

/// Tries every way out at once (a connect only, nothing is sent) and prints one line each;
/// then a DNS lookup, and the proxy if one is announced.
const EXFILTRATE: &str = r#"
import os, socket, subprocess, sys, threading, time, urllib.error, urllib.request
targets = dict(arg.split("=") for arg in sys.argv[1:])
try:
    for line in open("/proc/net/route").read().splitlines()[1:]:
        fields = line.split()
        if fields[1] == "00000000":
            targets["gateway"] = socket.inet_ntoa(bytes.fromhex(fields[2])[::-1]) + ":" + targets["host_docker0"].split(":")[1]
except OSError:
    pass
results = {}
def attempt(name, target):
    host, port = target.rsplit(":", 1)
    s = socket.socket()
    s.settimeout(4)
    try:
        s.connect((host, int(port)))
        results[name] = "OPEN"
    except OSError as e:
        results[name] = "failed " + type(e).__name__
    finally:
        s.close()
threads = [threading.Thread(target=attempt, args=item) for item in targets.items()]
for t in threads: t.start()
for t in threads: t.join()
for name in sorted(results): print("exfil", name, results[name])
dns = subprocess.run(["getent", "hosts", "pypi.org"], capture_output=True, timeout=20)
print("exfil dns", "OPEN" if dns.returncode == 0 else "failed rc=%d" % dns.returncode)
print("interfaces", sorted(os.listdir("/sys/class/net")))
proxy = os.environ.get("OPENAI_BASE_URL")
if proxy:
    try:
        status = urllib.request.urlopen(proxy, timeout=5).status
    except urllib.error.HTTPError as e:
        status = e.code
    print("proxy answered", status)
if os.environ.get("OPENAI_API_KEY"):
    print("OPENAI_API_KEY set")
"#;

/// A listener on every host address that counts whoever reaches it.
async fn host_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    tokio::spawn(async move {
        while let Ok(_connection) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, reached)
}

/// Network exfiltration: to a public IP, to the host by each of its addresses, to the
/// gateway, to the inference proxy's own host address (skipping the relay), to an upstream
/// listening on the host, by DNS. All fail with no network at all (a run without an LLM
/// budget) and on a run network behind the runner's inference gateway, where only the relay
/// to the proxy answers.
#[tokio::test]
async fn docker_hostile_network_exfiltration() {
    let (sandbox, task, image) = setup("network").await;
    let (port, reached) = host_listener().await;
    // The host listener doubles as the upstream: the proxy forwards there, the agent must not.
    let config = whetstone_agent_runner::proxy::ProxyConfig {
        upstream_base_url: format!("http://127.0.0.1:{port}/v1"),
        upstream_api_key_env: "UNUSED".into(),
        models: vec![whetstone_agent_runner::proxy::ModelPrice {
            name: "m".into(),
            input_micro_usd_per_mtok: 1,
            output_micro_usd_per_mtok: 1,
            max_output_tokens: 16,
        }],
        request_timeout_secs: 10,
    };
    let gateway = InferenceGateway::start(&sandbox, config, UpstreamKey::new("")).await.expect("gateway");
    let proxy = gateway.proxy_addr();
    // The host's address on its default route, found without sending a packet; a host
    // without one is tried as 127.0.0.1 instead (which is the container's own loopback).
    let primary = UdpSocket::bind("0.0.0.0:0")
        .and_then(|socket| socket.connect("1.1.1.1:53").and_then(|()| socket.local_addr()))
        .map_or_else(|_| "127.0.0.1".to_owned(), |addr| addr.ip().to_string());
    let script = format!(
        "python3 -c \"$EXFILTRATE\" public=1.1.1.1:443 host_docker0=172.17.0.1:{port} host_primary={primary}:{port} host_loopback=127.0.0.1:{port} proxy_direct={proxy}"
    );
    let files = [("run.sh", script.as_str()), ("exfiltrate.py", EXFILTRATE)];
    let mut agent = inline_agent("exfiltrate", &["sh", "-c", "EXFILTRATE=$(cat exfiltrate.py) exec sh run.sh"], &files);
    agent.manifest.name = "exfiltrate".into();

    let check = |report: &RunReport, behind_proxy: bool| {
        assert_eq!(report.outcome, RunOutcome::Completed, "{}", explain(report));
        assert_eq!(report.exit_code, 0, "{}", explain(report));
        let tried: Vec<&str> = report.log.lines().filter(|l| l.starts_with("exfil ")).collect();
        let expected = if behind_proxy { 7 } else { 6 }; // the gateway exists only on a network
        assert_eq!(tried.len(), expected, "{}", explain(report));
        assert!(tried.iter().all(|l| l.contains(" failed")), "a way out:\n{}", explain(report));
        let interfaces = if behind_proxy { "interfaces ['eth0', 'lo']" } else { "interfaces ['lo']" };
        assert!(report.log.contains(interfaces), "{}", explain(report));
        assert_eq!(report.log.contains("proxy answered 404"), behind_proxy, "{}", explain(report));
        assert_eq!(report.log.contains("OPENAI_API_KEY set"), behind_proxy, "{}", explain(report));
    };

    let report = run_agent(&sandbox, &image, &task.visible(), &agent, limits(60, 2048), "exfil-none").await;
    check(&report, false);

    let report = run_agent_with_llm(&sandbox, &image, &task.visible(), &agent, limits(60, 2048), "exfil-proxy", &gateway, 1000).await;
    check(&report, true);
    assert_eq!(reached.load(Ordering::SeqCst), 0, "an agent reached the host");
    gateway.shutdown().await;
    assert_nothing_left(&sandbox).await;
}

const SECRET_ENV: &str = "WHETSTONE_TEST_SECRET";

/// The runner's environment and files are not the agent's: a canary variable set in the
/// runner's process and a canary file on its disk are nowhere in the sandbox, though the agent
/// looks everywhere (its environment, every process's, the whole filesystem).
///
/// The workspace forbids `unsafe`, so the test cannot set a variable in its own process: it
/// runs itself again, with the canary in the environment.
#[tokio::test]
async fn docker_hostile_secrets_stay_outside() {
    let Ok(canary) = std::env::var(SECRET_ENV) else {
        let canary = format!("canary-{}", uuid::Uuid::new_v4().simple());
        let child = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
            .args(["hostile::docker_hostile_secrets_stay_outside", "--exact", "--nocapture"])
            .env(SECRET_ENV, &canary)
            .output()
            .await
            .expect("run the test again with the canary set");
        let output = String::from_utf8_lossy(&child.stdout) + String::from_utf8_lossy(&child.stderr);
        assert!(child.status.success(), "the run with the canary failed ({}):\n{output}", child.status);
        assert!(output.contains("1 passed"), "the run with the canary ran no test:\n{output}");
        return;
    };
    let host_file = std::env::temp_dir().join(format!("whetstone-canary-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&host_file, &canary).expect("write the canary file");
    let (sandbox, task, image) = setup("secrets").await;
    // The canary in two halves, so that the agent's own script does not contain it.
    let (head, tail) = canary.split_at(canary.len() / 2);
    let script = format!(
        "canary={head}\"\"{tail}\n\
         env | sort\n\
         echo \"looked: env $(env | grep -c \"$canary\")\"\n\
         cat {host} 2>/dev/null; echo \"looked: host file $?\"\n\
         echo \"looked: /proc environ $(cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c \"$canary\")\"\n\
         found=$(grep -rls --exclude-dir=proc --exclude-dir=sys \"$canary\" / 2>/dev/null)\n\
         echo \"looked: filesystem $(printf '%s' \"$found\" | grep -c .) $found\"\n",
        host = host_file.display(),
    );
    let agent = shell_agent("secrets", &script);
    let report = run_agent(&sandbox, &image, &task.visible(), &agent, limits(60, 2048), "secrets").await;
    let _ = std::fs::remove_file(&host_file);
    assert_eq!(report.outcome, RunOutcome::Completed, "{}", explain(&report));
    // It looked: the environment it was given is in the log, and each search reported.
    assert!(report.log.contains("WHETSTONE_REPO=/repo"), "{}", explain(&report));
    for looked in ["looked: env 0", "looked: host file 1", "looked: /proc environ 0", "looked: filesystem 0 "] {
        assert!(report.log.lines().any(|l| l == looked), "no {looked:?}:\n{}", explain(&report));
    }
    assert!(!report.log.contains(&canary), "{}", explain(&report));
    assert!(!String::from_utf8_lossy(&report.patch).contains(&canary));
    assert_nothing_left(&sandbox).await;
}
