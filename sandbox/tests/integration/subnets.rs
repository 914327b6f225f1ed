//! Run networks at scale: many at once from the configured range, each still a network where
//! an agent reaches its peer and nothing else; and several processes (two runners, a crashed
//! one) sharing a range without stepping on each other.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::join_all;
use whetstone_sandbox::{Exit, ImageRef, Ipv4Block, OrphanScope, RunNetwork, RunSubnets, Sandbox, SandboxError, ServiceSpec};

use crate::common::{TestSandbox, assert_nothing_left, sh};

/// Connects to each `name=host:port` at once and prints `name open` or `name closed:<why>`.
const PROBE: &str = r#"
import socket, sys, threading
results = {}
def connect(name, host, port):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((host, int(port)))
        results[name] = "open"
    except OSError as e:
        results[name] = "closed:" + type(e).__name__
    finally:
        s.close()
threads = []
for arg in sys.argv[1:]:
    name, target = arg.split("=")
    host, port = target.rsplit(":", 1)
    threads.append(threading.Thread(target=connect, args=(name, host, port)))
for t in threads: t.start()
for t in threads: t.join()
for name in sorted(results): print(name, results[name])
"#;

const NETWORKS: usize = 50;
/// Networks probed at once: each probe is two containers, and the machine has few cores.
const PROBES_AT_ONCE: usize = 8;

/// A TCP listener on every host address that counts whoever reaches it.
async fn host_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    tokio::spawn(async move {
        while let Ok((_stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, reached)
}

/// docker0's address, where the host answers containers on the default bridge: the first
/// host of that network's subnet.
async fn docker0(sandbox: &Sandbox) -> std::net::Ipv4Addr {
    let bridge = sandbox.docker().inspect_network("bridge", None).await.expect("the default bridge");
    let subnet: Ipv4Block = bridge
        .ipam
        .and_then(|ipam| ipam.config)
        .and_then(|configs| configs.into_iter().find_map(|c| c.subnet))
        .and_then(|subnet| subnet.parse().ok())
        .expect("the default bridge has an IPv4 subnet");
    subnet.first_host()
}

/// On `network`: a peer listening on 8080 and a probe next to it, which also tries the host
/// (on `host_port`, at the network's gateway and at `docker0`). Returns the probe's output.
async fn probe(t: &TestSandbox, base: &ImageRef, network: &RunNetwork, docker0: std::net::Ipv4Addr, host_port: u16) -> String {
    let job = format!("probe-{}", network.subnet().base());
    let mut peer_spec =
        ServiceSpec::new(base.clone(), ["python3", "-m", "http.server", "8080", "--directory", "/tmp"].map(str::to_owned).to_vec(), &*job);
    peer_spec.user = Some("65534:65534".to_owned());
    let peer = t.sandbox.start_service(peer_spec, network).await.expect("peer");
    let gateway = network.gateway().expect("the run network names its gateway");
    let mut run = sh(
        base,
        "for i in 1 2 3 4 5 6 7 8 9 10; do python3 -c \"$PROBE\" \"$@\" > /tmp/out; grep -q 'peer open' /tmp/out && break; sleep 0.3; done; cat /tmp/out",
    );
    run.command.push("probe".to_owned());
    run.command.push(format!("peer={}:8080", peer.address()));
    run.command.push(format!("host_gateway={gateway}:{host_port}"));
    run.command.push(format!("host_docker0={docker0}:{host_port}"));
    run.env = vec![("PROBE".to_owned(), PROBE.to_owned())];
    run.user = Some("1000:1000".to_owned());
    run.network = network.mode();
    run.limits.timeout = Duration::from_secs(60);
    let outcome = t.sandbox.run(run).await.expect("probe run");
    peer.remove().await.expect("remove peer");
    assert_eq!(outcome.exit, Exit::Code(0), "{}", outcome.output);
    outcome.output
}

/// Fifty run networks at once from the default range: each gets its own /29 inside it, an
/// agent on each reaches its peer but not the host, and removing them leaves nothing.
#[tokio::test]
async fn docker_fifty_run_networks_at_once_reach_their_peer_and_not_the_host() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let subnets = t.sandbox.run_subnets();
    assert_eq!(subnets, RunSubnets::default());

    let started = Instant::now();
    let jobs: Vec<String> = (0..NETWORKS).map(|i| format!("fifty-{i}")).collect();
    let created = join_all(jobs.iter().map(|job| t.sandbox.create_run_network(job))).await;
    let create_time = started.elapsed();
    let networks: Vec<RunNetwork> = created.into_iter().map(|n| n.expect("a run network")).collect();
    eprintln!("created {NETWORKS} run networks at once in {create_time:?}");

    let blocks: HashSet<Ipv4Block> = networks.iter().map(RunNetwork::subnet).collect();
    assert_eq!(blocks.len(), NETWORKS, "two networks share a block");
    for network in &networks {
        let block = network.subnet();
        assert!(subnets.range().contains(&block) && block.prefix() == subnets.block_prefix(), "{block} is not a block of {subnets}");
        let inspected = t.sandbox.docker().inspect_network(network.id(), None).await.expect("inspect");
        let engine_subnet = inspected.ipam.and_then(|ipam| ipam.config).and_then(|c| c.into_iter().find_map(|c| c.subnet));
        assert_eq!(engine_subnet, Some(block.to_string()), "the engine's subnet for {}", network.name());
    }
    let ours = t.sandbox.list_our_networks(OrphanScope::ThisOwner).await.expect("list");
    assert_eq!(ours.len(), NETWORKS);

    let (port, reached) = host_listener().await;
    let docker0 = docker0(&t.sandbox).await;
    let started = Instant::now();
    let outputs: Vec<String> = futures::stream::iter(&networks)
        .map(|network| probe(&t, &base, network, docker0, port))
        .buffer_unordered(PROBES_AT_ONCE)
        .collect()
        .await;
    eprintln!("probed {NETWORKS} run networks in {:?}", started.elapsed());
    for output in &outputs {
        assert!(output.lines().any(|l| l == "peer open"), "the peer was not reachable:\n{output}");
        for target in ["host_gateway", "host_docker0"] {
            assert!(output.lines().any(|l| l.starts_with(&format!("{target} closed:"))), "{target} reachable:\n{output}");
        }
    }
    assert_eq!(reached.load(Ordering::SeqCst), 0, "something reached the host listener");

    let started = Instant::now();
    for result in join_all(networks.into_iter().map(RunNetwork::remove)).await {
        result.expect("remove network");
    }
    eprintln!("removed {NETWORKS} run networks in {:?}", started.elapsed());
    t.assert_nothing_left().await;
}

/// Four /29 blocks shared by a crashed process and two live ones.
const SMALL_RANGE: &str = "10.78.0.0/27";
const CHILD_OWNER_ENV: &str = "WHETSTONE_TEST_SUBNET_HOG_OWNER";

fn small_range() -> RunSubnets {
    RunSubnets::new(SMALL_RANGE.parse().expect("range"), 29).expect("subnets")
}

async fn sandbox_on_small_range(owner: &str) -> Sandbox {
    Sandbox::connect(owner).await.expect("connect").with_run_subnets(small_range())
}

/// Not a test on its own: the child of the test below. Takes two blocks of the small range,
/// says so, and waits to be killed.
#[tokio::test]
#[ignore = "run only as the child of docker_run_networks_share_a_range_across_processes_and_crashes"]
async fn subnet_hogging_child() {
    let Ok(owner) = std::env::var(CHILD_OWNER_ENV) else {
        return;
    };
    let sandbox = sandbox_on_small_range(&owner).await;
    let first = sandbox.create_run_network("hog-1").await.expect("network");
    let second = sandbox.create_run_network("hog-2").await.expect("network");
    println!("READY");
    std::io::Write::flush(&mut std::io::stdout()).expect("flush");
    tokio::time::sleep(Duration::from_secs(600)).await;
    drop((first, second));
}

/// A runner killed with SIGKILL keeps its blocks until its janitor runs; two live runners
/// (separate allocators, as separate processes have) split what is left, racing for the same
/// blocks without failing; a full range is a clear error; after the janitor, every block is
/// usable again.
#[tokio::test]
async fn docker_run_networks_share_a_range_across_processes_and_crashes() {
    use std::io::BufRead;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let child_owner = format!("test-hog-{tag}");
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["subnets::subnet_hogging_child", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_OWNER_ENV, &child_owner)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("stdout");
    let ready =
        tokio::task::spawn_blocking(move || std::io::BufReader::new(stdout).lines().map_while(Result::ok).any(|line| line == "READY"));
    let ready = tokio::time::timeout(Duration::from_secs(60), ready).await;
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    assert!(matches!(ready, Ok(Ok(true))), "the child never took its blocks");

    let first = sandbox_on_small_range(&format!("test-runner-a-{tag}")).await;
    let second = sandbox_on_small_range(&format!("test-runner-b-{tag}")).await;
    let (a, b) = tokio::join!(first.create_run_network("a-1"), second.create_run_network("b-1"));
    let (a, b) = (a.expect("runner a's network"), b.expect("runner b's network"));
    assert_ne!(a.subnet(), b.subnet());
    let full = first.create_run_network("a-2").await.expect_err("a fifth network in four blocks");
    assert!(matches!(full, SandboxError::NoFreeSubnet { blocks: 4, .. }), "{full}");
    assert!(full.to_string().contains("all 4 blocks of 10.78.0.0/27 in /29 blocks are taken"), "{full}");
    a.remove().await.expect("remove");
    b.remove().await.expect("remove");

    let restarted = sandbox_on_small_range(&child_owner).await;
    assert_eq!(restarted.remove_orphans(OrphanScope::ThisOwner).await.expect("janitor"), 2, "the crashed runner's two networks");

    // Both runners at once, two networks each, into exactly the four blocks there are.
    let jobs = [(&first, "all-a1"), (&first, "all-a2"), (&second, "all-b1"), (&second, "all-b2")];
    let created = join_all(jobs.into_iter().map(|(sandbox, job)| sandbox.create_run_network(job))).await;
    let networks: Vec<RunNetwork> = created.into_iter().map(|n| n.expect("a block for each")).collect();
    let blocks: HashSet<String> = networks.iter().map(|n| n.subnet().to_string()).collect();
    let all: HashSet<String> = (0..4).map(|i| small_range().block(i).to_string()).collect();
    assert_eq!(blocks, all);
    for network in networks {
        network.remove().await.expect("remove");
    }
    for sandbox in [&first, &second, &restarted] {
        assert_nothing_left(sandbox).await;
    }
}
