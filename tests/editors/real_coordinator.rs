//! A real coordinator with its solve API on loopback, an API key made as `whetstone keys
//! create` makes it, the `repair` example agent submitted (signed, as a miner does), and a
//! real worker session whose executor runs no container: it records each solve assignment
//! and answers with the test's diff and a log, as the coordinator's own solve tests do. The
//! Docker path behind a solve job is the `solve` command's to test; what these tests add is
//! the editor servers against the real API (auth, snapshot checks, events, status, cancel).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use whetstone_chain::wallet::dev::{self, DevKey};
use whetstone_coordinator::solve::keys::{KeyLimits, KeyStore};
use whetstone_coordinator::{Coordinator, CoordinatorConfig};
use whetstone_proto::auth::RequestSigner;
use whetstone_proto::job::{Assignment, Capability, Report, RunOutcome, SolveAssignment, SolveReport};
use whetstone_proto::worker::{Executor, WorkerConfig, run_worker};
use whetstone_tasks::Hotkey;

/// Answers every solve job with `diff`, except a job whose statement mentions [`HOLD`]: that
/// one runs until it is cancelled, like an agent that takes its time.
#[derive(Debug)]
pub struct CannedSolver {
    diff: String,
    pub seen: Mutex<Vec<SolveAssignment>>,
    /// The jobs whose cancellation reached the runner (where the container would be killed).
    pub cancelled: Mutex<Vec<String>>,
}

pub const HOLD: &str = "[hold]";

#[async_trait::async_trait]
impl Executor for CannedSolver {
    async fn execute(&self, assignment: Assignment, cancel: CancellationToken) -> Report {
        let Assignment::Solve(solve) = assignment else { panic!("the solver was sent {assignment:?}") };
        self.seen.lock().expect("seen").push(solve.clone());
        if solve.statement.contains(HOLD) {
            cancel.cancelled().await;
            self.cancelled.lock().expect("cancelled").push(solve.solve_id.clone());
            return Report::Solve(SolveReport {
                cancelled: true,
                ..SolveReport::failed(solve.solve_id, RunOutcome::InfraError, "cancelled")
            });
        }
        Report::Solve(SolveReport {
            solve_id: solve.solve_id,
            outcome: RunOutcome::Completed,
            patch: self.diff.as_bytes().to_vec(),
            log: "reading calc.py\nadd subtracts: changing - to +".into(),
            error: String::new(),
            spent_micro_usd: 1200,
            duration: Duration::from_millis(5),
            cancelled: false,
            tests: None,
        })
    }
}

pub struct RealCoordinator {
    /// The solve API's base URL.
    pub url: String,
    pub key: String,
    /// The digest of the `repair` agent the jobs name.
    pub agent: String,
    pub solver: Arc<CannedSolver>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

fn signer(key: DevKey) -> RequestSigner {
    RequestSigner::new(key.pair(), Hotkey::new(dev::ALICE))
}

impl RealCoordinator {
    pub async fn start(diff: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("coordinator");
        let mut config = CoordinatorConfig {
            data_dir: data_dir.clone(),
            listen: ([127, 0, 0, 1], 0).into(),
            auth: whetstone_coordinator::auth::AuthConfig::devnet(),
            ..CoordinatorConfig::default()
        };
        config.solve.listen = Some(([127, 0, 0, 1], 0).into());
        let coordinator = Coordinator::bind(config).await.expect("the coordinator binds");
        let grpc = format!("http://{}", coordinator.local_addr().expect("grpc address"));
        let url = format!("http://{}", coordinator.solve_addr().expect("the solve API listens"));
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        let serving = stop.clone();
        tasks.push(tokio::spawn(async move {
            coordinator.serve(serving).await.expect("the coordinator serves");
        }));

        let client = whetstone::client::CoordinatorClient::connect(&grpc).await.expect("connect");
        let repair = whetstone::defaults::agents().into_iter().find(|path| path.ends_with("repair")).expect("the repair example");
        let agent = client.submit_agent(&repair, &signer(DevKey::Bob)).await.expect("the agent is accepted").agent_digest;
        let (_, key) = KeyStore::open(&whetstone_coordinator::DatabaseUrl::in_data_dir(&data_dir))
            .await
            .expect("key store")
            .create("dev", KeyLimits::default())
            .await
            .expect("key");

        let solver = Arc::new(CannedSolver { diff: diff.to_owned(), seen: Mutex::new(Vec::new()), cancelled: Mutex::new(Vec::new()) });
        let worker = WorkerConfig {
            coordinator_urls: vec![grpc],
            worker_id: "runner-1".into(),
            signer: signer(DevKey::Alice),
            capabilities: vec![Capability::RunAgent],
            capacity: 1,
            reconnect_delay: Duration::from_millis(100),
        };
        tasks.push(tokio::spawn(run_worker(worker, solver.clone(), stop.clone())));
        Self { url, key, agent, solver, stop, tasks, _dir: dir }
    }

    pub fn assignments(&self) -> Vec<SolveAssignment> {
        self.solver.seen.lock().expect("seen").clone()
    }
}

impl Drop for RealCoordinator {
    fn drop(&mut self) {
        self.stop.cancel();
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl RealCoordinator {
    pub fn cancelled(&self) -> Vec<String> {
        self.solver.cancelled.lock().expect("cancelled").clone()
    }
}
