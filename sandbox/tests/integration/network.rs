//! Run networks: an agent on one reaches the proxy on it and nothing else — not the host by
//! any of its addresses, not the network's gateway, not the internet, not DNS.

use std::collections::HashMap;
use std::net::{IpAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{LogsOptionsBuilder, RemoveContainerOptionsBuilder};
use futures::StreamExt;
use whetstone_sandbox::{Exit, ImageRef, ServiceSpec};

use crate::common::{TestSandbox, sh};

/// Tries each `name=host:port` at once (a connect only: nothing is sent), then an HTTP GET to
/// the proxy and a DNS lookup; prints one line per attempt.
const PROBE: &str = r#"
import socket, subprocess, sys, threading, time, urllib.request
results = {}
def connect(name, host, port):
    started = time.monotonic()
    s = socket.socket()
    s.settimeout(4)
    try:
        s.connect((host, int(port)))
        verdict = "open"
    except OSError as e:
        verdict = "closed:" + type(e).__name__
    finally:
        s.close()
    results[name] = "%s %.1fs" % (verdict, time.monotonic() - started)
threads = []
for arg in sys.argv[1:]:
    name, target = arg.split("=")
    host, port = target.rsplit(":", 1)
    threads.append(threading.Thread(target=connect, args=(name, host, port)))
for t in threads: t.start()
for t in threads: t.join()
for name in sorted(results): print(name, results[name])
proxy = [a.split("=")[1] for a in sys.argv[1:] if a.startswith("proxy=")][0]
try:
    print("http", urllib.request.urlopen("http://%s/" % proxy, timeout=5).status)
except Exception as e:
    print("http failed", e)
started = time.monotonic()
dns = subprocess.run(["getent", "hosts", "pypi.org"], capture_output=True, timeout=20)
print("dns rc=%d %.1fs %s" % (dns.returncode, time.monotonic() - started, dns.stdout.decode().strip()))
print("ipv6", repr(open("/proc/net/if_inet6").read()))
"#;

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

/// The host's address on its default route, found without sending a packet (none on a host
/// without a default route).
fn host_primary_ip() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("1.1.1.1:53").ok()?;
    Some(socket.local_addr().ok()?.ip())
}

/// docker0's address: the first host of the default bridge's subnet (the engine does not
/// list a gateway for it).
async fn default_bridge_gateway(t: &TestSandbox) -> String {
    let bridge = t.sandbox.docker().inspect_network("bridge", None).await.expect("bridge");
    let subnet = bridge
        .ipam
        .and_then(|ipam| ipam.config)
        .and_then(|configs| configs.into_iter().find_map(|c| c.subnet))
        .expect("the default bridge has a subnet");
    let network: std::net::Ipv4Addr = subnet.split('/').next().and_then(|a| a.parse().ok()).expect("IPv4 subnet");
    std::net::Ipv4Addr::from(u32::from(network) + 1).to_string()
}

/// The control: from Docker's default bridge the host listener IS reachable, so its being
/// unreachable from a run network is the network's doing, not a host firewall's.
async fn reachable_from_default_bridge(t: &TestSandbox, image: &ImageRef, target: &str) -> String {
    let docker = t.sandbox.docker();
    let labels =
        HashMap::from([("whetstone.sandbox".to_owned(), "1".to_owned()), ("whetstone.owner".to_owned(), t.sandbox.owner().to_owned())]);
    let (host, port) = target.rsplit_once(':').expect("host:port");
    let script = format!("import socket; s = socket.create_connection(('{host}', {port}), timeout=4); print('control-open')");
    let created = docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            ContainerCreateBody {
                image: Some(image.as_str().to_owned()),
                cmd: Some(vec!["python3".into(), "-c".into(), script]),
                labels: Some(labels),
                host_config: Some(HostConfig { network_mode: Some("bridge".into()), ..Default::default() }),
                ..Default::default()
            },
        )
        .await
        .expect("create control");
    docker.start_container(&created.id, None).await.expect("start control");
    let _ = docker.wait_container(&created.id, None).next().await;
    let mut logs = docker.logs(&created.id, Some(LogsOptionsBuilder::default().stdout(true).stderr(true).build()));
    let mut text = String::new();
    while let Some(Ok(chunk)) = logs.next().await {
        text.push_str(&chunk.to_string());
    }
    let remove = RemoveContainerOptionsBuilder::default().force(true).build();
    docker.remove_container(&created.id, Some(remove)).await.expect("remove control");
    text
}

#[tokio::test]
async fn docker_run_network_reaches_the_proxy_and_nothing_else() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let (port, reached) = host_listener().await;
    let network = t.sandbox.create_run_network("net-test").await.expect("network");
    let gateway = network.gateway().expect("the engine allocates a gateway address");

    let mut proxy_spec = ServiceSpec::new(
        base.clone(),
        ["python3", "-m", "http.server", "8080", "--directory", "/tmp"].map(str::to_owned).to_vec(),
        "net-test",
    );
    proxy_spec.user = Some("1000:1000".to_owned());
    let proxy = t.sandbox.start_service(proxy_spec, &network).await.expect("proxy");

    let docker0 = default_bridge_gateway(&t).await;
    let mut targets = vec![
        format!("proxy={}:8080", proxy.address()),
        format!("host_docker0={docker0}:{port}"),
        format!("host_gateway={gateway}:{port}"),
        "public=1.1.1.1:443".to_owned(),
    ];
    targets.extend(host_primary_ip().map(|ip| format!("host_primary={ip}:{port}")));
    let mut run = sh(&base, "sleep 1; exec python3 -c \"$PROBE\" \"$@\"");
    run.command.push("probe".to_owned());
    run.command.extend(targets.iter().cloned());
    run.env = vec![("PROBE".to_owned(), PROBE.to_owned())];
    run.user = Some("1000:1000".to_owned());
    run.network = network.mode();
    run.limits.timeout = Duration::from_secs(40);
    let started = Instant::now();
    let outcome = t.sandbox.run(run).await.expect("run");
    eprintln!("probe took {:?}:\n{}", started.elapsed(), outcome.output);
    assert_eq!(outcome.exit, Exit::Code(0), "{}", outcome.output);
    let line = |name: &str| {
        outcome
            .output
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} line in:\n{}", outcome.output))
            .to_owned()
    };
    assert!(line("proxy").starts_with("proxy open"), "{}", outcome.output);
    assert_eq!(line("http"), "http 200", "{}", outcome.output);
    for name in targets[1..].iter().filter_map(|t| t.split('=').next()) {
        assert!(line(name).contains(" closed:"), "{name} reachable:\n{}", outcome.output);
    }
    let dns = line("dns");
    assert!(!dns.starts_with("dns rc=0"), "pypi.org resolved: {dns}");
    assert_eq!(line("ipv6"), "ipv6 ''", "{}", outcome.output);
    assert_eq!(reached.load(Ordering::SeqCst), 0, "something reached the host listener");

    let control = reachable_from_default_bridge(&t, &base, &format!("{docker0}:{port}")).await;
    assert!(control.contains("control-open"), "control failed, so the test proves nothing: {control}");
    assert!(reached.load(Ordering::SeqCst) >= 1);

    proxy.remove().await.expect("remove proxy");
    network.remove().await.expect("remove network");
    t.assert_nothing_left().await;
}

/// The network's guard removes it, and what is still attached, when the owner drops it.
#[tokio::test]
async fn docker_dropped_run_network_is_removed_with_its_service() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let network = t.sandbox.create_run_network("net-drop").await.expect("network");
    let service =
        t.sandbox.start_service(ServiceSpec::new(base, vec!["sleep".into(), "600".into()], "net-drop"), &network).await.expect("service");
    assert_eq!(t.sandbox.list_our_networks(whetstone_sandbox::OrphanScope::ThisOwner).await.expect("list").len(), 1);
    drop(network);
    drop(service);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let networks = t.sandbox.list_our_networks(whetstone_sandbox::OrphanScope::ThisOwner).await.expect("list");
        let containers = t.sandbox.list_ours(whetstone_sandbox::OrphanScope::ThisOwner).await.expect("list");
        if networks.is_empty() && containers.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still there: {networks:?} {containers:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
