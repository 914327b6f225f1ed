use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::ContainerCreateBody;
use tokio_util::sync::CancellationToken;
use whetstone_sandbox::{JanitorConfig, OrphanScope};

use crate::common::TestSandbox;

#[tokio::test]
async fn docker_janitor_removes_only_this_owners_containers() {
    let t = TestSandbox::new().await;
    let other = TestSandbox::new().await;
    let base = t.base().await;
    // Containers as a crashed process would leave them: labelled, never removed.
    for owner in [t.sandbox.owner(), t.sandbox.owner(), other.sandbox.owner()] {
        let labels = HashMap::from([("whetstone.sandbox".to_owned(), "1".to_owned()), ("whetstone.owner".to_owned(), owner.to_owned())]);
        t.sandbox
            .docker()
            .create_container(
                None::<bollard::query_parameters::CreateContainerOptions>,
                ContainerCreateBody {
                    image: Some(base.as_str().to_owned()),
                    cmd: Some(vec!["true".to_owned()]),
                    labels: Some(labels),
                    ..Default::default()
                },
            )
            .await
            .expect("create orphan");
    }
    assert_eq!(t.sandbox.list_ours(OrphanScope::ThisOwner).await.expect("list").len(), 2);
    assert_eq!(t.sandbox.remove_orphans(OrphanScope::ThisOwner).await.expect("janitor"), 2);
    t.assert_nothing_left().await;
    assert_eq!(other.sandbox.list_ours(OrphanScope::ThisOwner).await.expect("list").len(), 1);
    assert_eq!(other.sandbox.remove_orphans(OrphanScope::ThisOwner).await.expect("janitor"), 1);
    other.assert_nothing_left().await;
}

/// Creates a container and a network the way a crashed process of this owner leaves them;
/// returns the network's name.
async fn make_orphans(t: &TestSandbox, base: &whetstone_sandbox::ImageRef) -> String {
    let labels =
        HashMap::from([("whetstone.sandbox".to_owned(), "1".to_owned()), ("whetstone.owner".to_owned(), t.sandbox.owner().to_owned())]);
    t.sandbox
        .docker()
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            ContainerCreateBody {
                image: Some(base.as_str().to_owned()),
                cmd: Some(vec!["sleep".to_owned(), "600".to_owned()]),
                labels: Some(labels.clone()),
                ..Default::default()
            },
        )
        .await
        .expect("create orphan container");
    let network_name = format!("orphan-{}", uuid::Uuid::new_v4().simple());
    t.sandbox
        .docker()
        .create_network(bollard::models::NetworkCreateRequest {
            name: network_name.clone(),
            internal: Some(true),
            labels: Some(labels),
            ..Default::default()
        })
        .await
        .expect("create orphan network");
    network_name
}

#[tokio::test]
async fn docker_janitor_removes_orphan_networks_too() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let network = make_orphans(&t, &base).await;
    assert_eq!(t.sandbox.list_our_networks(OrphanScope::ThisOwner).await.expect("list"), [network]);
    assert_eq!(t.sandbox.remove_orphans(OrphanScope::ThisOwner).await.expect("janitor"), 2);
    t.assert_nothing_left().await;
}

/// The timer janitor removes orphans while a run of this process goes on undisturbed, and
/// stops when told to.
#[tokio::test]
async fn docker_timer_janitor_spares_live_runs() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let network = t.sandbox.create_run_network("live").await.expect("network");
    let mut live_run = crate::common::sh(&base, "sleep 4; echo survived");
    live_run.network = network.mode();
    let sandbox = t.sandbox.clone();
    let live = tokio::spawn(async move { sandbox.run(live_run).await });
    // Let the live run's container exist before the orphans and the sweeps.
    tokio::time::sleep(Duration::from_secs(1)).await;
    make_orphans(&t, &base).await;

    let shutdown = CancellationToken::new();
    let config = JanitorConfig { interval: Duration::from_millis(300), grace: Duration::ZERO };
    let janitor = t.sandbox.spawn_janitor(config, shutdown.clone());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let containers = t.sandbox.list_ours(OrphanScope::ThisOwner).await.expect("list");
        let networks = t.sandbox.list_our_networks(OrphanScope::ThisOwner).await.expect("list");
        // Left: the live run's container and network only.
        if containers.len() == 1 && networks == [network.name()] {
            break;
        }
        assert!(Instant::now() < deadline, "orphans not swept: {containers:?} {networks:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let outcome = live.await.expect("join").expect("the live run survived the janitor");
    assert_eq!(outcome.output, "survived\n");
    network.remove().await.expect("remove network");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), janitor).await.expect("janitor stops").expect("join");
    t.assert_nothing_left().await;
}

/// A sweep with a grace period leaves another process's young resources alone.
#[tokio::test]
async fn docker_sweep_spares_young_resources_of_other_processes() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let labels = HashMap::from([
        ("whetstone.sandbox".to_owned(), "1".to_owned()),
        ("whetstone.owner".to_owned(), t.sandbox.owner().to_owned()),
        ("whetstone.instance".to_owned(), "another-process".to_owned()),
        (
            "whetstone.created".to_owned(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs().to_string(),
        ),
    ]);
    t.sandbox
        .docker()
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            ContainerCreateBody {
                image: Some(base.as_str().to_owned()),
                cmd: Some(vec!["true".to_owned()]),
                labels: Some(labels),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    assert_eq!(t.sandbox.sweep_orphans(Duration::from_secs(3600)).await.expect("sweep"), 0);
    assert_eq!(t.sandbox.sweep_orphans(Duration::ZERO).await.expect("sweep"), 1);
    t.assert_nothing_left().await;
}

const CHILD_OWNER_ENV: &str = "WHETSTONE_TEST_ORPHAN_OWNER";

/// Not a test on its own: the child process of the test below (it does nothing unless that
/// test starts it). Leaves a running container and a network, says so, and waits to be killed.
#[tokio::test]
#[ignore = "run only as the child of docker_sigkilled_process_leaves_nothing_after_restart"]
async fn orphan_making_child() {
    let Ok(owner) = std::env::var(CHILD_OWNER_ENV) else {
        return;
    };
    let sandbox = whetstone_sandbox::Sandbox::connect(&owner).await.expect("connect");
    let base = sandbox.ensure_base_image(&whetstone_sandbox::NoProgress).await.expect("base");
    let network = sandbox.create_run_network("orphan").await.expect("network");
    let mut run = crate::common::sh(&base, "sleep 600");
    run.network = network.mode();
    let runner = sandbox.clone();
    tokio::spawn(async move { runner.run(run).await });
    let running = HashMap::from([("label", vec![format!("whetstone.owner={owner}")]), ("status", vec!["running".to_owned()])]);
    let options = bollard::query_parameters::ListContainersOptionsBuilder::default().filters(&running).build();
    while sandbox.docker().list_containers(Some(options.clone())).await.expect("list").is_empty() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("READY");
    std::io::Write::flush(&mut std::io::stdout()).expect("flush");
    tokio::time::sleep(Duration::from_secs(600)).await;
    drop(network);
}

/// A process killed with SIGKILL runs no guard; its successor with the same owner removes
/// everything it left at start-up.
#[tokio::test]
async fn docker_sigkilled_process_leaves_nothing_after_restart() {
    use std::io::BufRead;
    let t = TestSandbox::new().await;
    t.base().await;
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["janitor::orphan_making_child", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_OWNER_ENV, t.sandbox.owner())
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
    assert!(matches!(ready, Ok(Ok(true))), "the child never got its container running");

    let left = t.sandbox.list_ours(OrphanScope::ThisOwner).await.expect("list");
    let networks = t.sandbox.list_our_networks(OrphanScope::ThisOwner).await.expect("list");
    assert_eq!((left.len(), networks.len()), (1, 1), "what the killed process left: {left:?} {networks:?}");

    let restarted = whetstone_sandbox::Sandbox::connect(t.sandbox.owner()).await.expect("connect");
    let removed = restarted.remove_orphans(OrphanScope::ThisOwner).await.expect("janitor");
    assert_eq!(removed, 2, "removed {removed} of {left:?} {networks:?}");
    t.assert_nothing_left().await;
}
