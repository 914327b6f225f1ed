//! The validator's weight loop against a localnet in-process: it reads the coordinator's
//! leaderboard (a `Scores` service on 127.0.0.1 serving scores the test sets), sets them on
//! chain through subxt, waits out the subnet's rate limit instead of hammering the chain, and
//! commits timelocked weights the chain later reveals when the subnet runs commit-reveal.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use whetstone_chain::client::{ClientOptions, SubtensorClient};
use whetstone_chain::wallet::dev::DevKey;
use whetstone_chain::{FileLedger, WeightSubmission};
use whetstone_localnet::{Hyperparameters, LocalDrand, LocalnetConfig, LocalnetHandle};
use whetstone_proto::pb;

const NETUID: u16 = 1;
/// The loop ticks far faster than the rate limit lets it set weights.
const TICK: Duration = Duration::from_millis(50);
const DEADLINE: Duration = Duration::from_secs(60);

/// A coordinator's `Scores` service reduced to a leaderboard the test edits.
#[derive(Debug, Clone, Default)]
struct Leaderboard(Arc<Mutex<Vec<pb::LeaderboardEntry>>>);

impl Leaderboard {
    /// `(dev key, score)` per miner.
    fn set(&self, scores: &[(DevKey, f64)]) {
        let entries = scores
            .iter()
            .map(|(key, score)| pb::LeaderboardEntry {
                name: format!("agent-of-{}", key.address()),
                hotkey: key.address().to_owned(),
                score: *score,
                ..pb::LeaderboardEntry::default()
            })
            .collect();
        *self.0.lock().expect("lock") = entries;
    }
}

#[tonic::async_trait]
impl pb::scores_server::Scores for Leaderboard {
    async fn leaderboard(&self, _: Request<pb::LeaderboardRequest>) -> Result<Response<pb::LeaderboardResponse>, Status> {
        let entries = self.0.lock().expect("lock").clone();
        Ok(Response::new(pb::LeaderboardResponse { entries, chain: None, scoring: String::new() }))
    }

    async fn weights(&self, _: Request<pb::WeightsRequest>) -> Result<Response<pb::WeightsResponse>, Status> {
        Err(Status::unimplemented("not used by the weight loop"))
    }

    async fn progress(&self, _: Request<pb::ProgressRequest>) -> Result<Response<pb::ProgressResponse>, Status> {
        Err(Status::unimplemented("not used by the weight loop"))
    }

    async fn runs(&self, _: Request<pb::RunsRequest>) -> Result<Response<pb::RunsResponse>, Status> {
        Err(Status::unimplemented("not used by the weight loop"))
    }

    async fn run_detail(&self, _: Request<pb::RunDetailRequest>) -> Result<Response<pb::RunDetailResponse>, Status> {
        Err(Status::unimplemented("not used by the weight loop"))
    }

    async fn verdicts(&self, _: Request<pb::VerdictsRequest>) -> Result<Response<pb::VerdictsResponse>, Status> {
        Err(Status::unimplemented("not used by the weight loop"))
    }

    async fn claims(&self, _: Request<pb::ClaimsRequest>) -> Result<Response<pb::ClaimsResponse>, Status> {
        Err(Status::unimplemented("not used by the weight loop"))
    }
}

/// Serves `board` on 127.0.0.1 and returns a client of it.
async fn serve(board: Leaderboard, shutdown: CancellationToken) -> pb::scores_client::ScoresClient<tonic::transport::Channel> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(pb::scores_server::ScoresServer::new(board))
            .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned()),
    );
    let channel = tonic::transport::Channel::from_shared(url).expect("url").connect().await.expect("connects");
    pb::scores_client::ScoresClient::new(channel)
}

/// A running weight loop for Alice (uid 0, the permit holder) and what it leaves behind.
struct Loop {
    node: LocalnetHandle,
    chain: Arc<SubtensorClient>,
    board: Leaderboard,
    audit: FileLedger,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Loop {
    async fn start(edit: impl FnOnce(&mut Hyperparameters), beacon: Option<Arc<dyn whetstone_localnet::Beacon>>) -> Self {
        let mut config = LocalnetConfig { listen: "127.0.0.1:0".parse().expect("address"), ..LocalnetConfig::default() };
        edit(&mut config.subnets[0].hyperparameters);
        let node = whetstone_localnet::spawn_with_beacon(config, beacon).await.expect("localnet starts");
        // Short blocks, so a timelocked commit targets a drand round that comes soon.
        let options = ClientOptions { block_time: Some(Duration::from_millis(100)), ..ClientOptions::default() };
        let chain = Arc::new(SubtensorClient::connect_with(&node.url, options).await.expect("subxt connects"));
        let shutdown = CancellationToken::new();
        let board = Leaderboard::default();
        board.set(&[(DevKey::Bob, 0.75), (DevKey::Charlie, 0.25)]);
        let scores = serve(board.clone(), shutdown.clone()).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let audit = FileLedger::new(dir.path().join("weights.jsonl"));
        let task = {
            let (chain, audit, shutdown) = (Arc::clone(&chain), audit.clone(), shutdown.clone());
            tokio::spawn(async move {
                let alice = DevKey::Alice.pair();
                whetstone_validator::run_weight_loop(scores, &chain, &alice, NETUID, &audit, TICK, shutdown).await;
            })
        };
        Self { node, chain, board, audit, shutdown, task, _dir: dir }
    }

    fn submissions(&self) -> Vec<WeightSubmission> {
        self.audit.submissions().unwrap_or_default()
    }

    /// Waits until the audit log holds `count` accepted submissions.
    async fn wait_for_submissions(&self, count: usize) -> Vec<WeightSubmission> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let submissions = self.submissions();
            if submissions.len() >= count {
                return submissions;
            }
            assert!(Instant::now() < deadline, "{count} submissions within {DEADLINE:?}; have {}", submissions.len());
            tokio::time::sleep(TICK).await;
        }
    }

    async fn alice_last_update(&self) -> u64 {
        self.chain.neurons(NETUID).await.expect("neurons").1[0].last_update
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("the loop stops on shutdown").expect("no panic");
        self.node.stop().await;
    }
}

#[tokio::test]
async fn the_weight_loop_sets_the_leaderboard_on_chain_and_waits_out_the_rate_limit() {
    const RATE_LIMIT: u64 = 4;
    let weight_loop = Loop::start(|h| h.weights_set_rate_limit = RATE_LIMIT, None).await;
    let first = weight_loop.wait_for_submissions(1).await;
    assert_eq!((first[0].uids.clone(), first[0].weights.clone()), (vec![1, 2], vec![65535, 21845]));
    assert!(first[0].extrinsic.is_some(), "the audit log names the extrinsic");
    assert_eq!(weight_loop.chain.weights_row(NETUID, 0).await.expect("row"), vec![(1, 65535), (2, 21845)]);
    let first_block = weight_loop.alice_last_update().await;

    // New scores, but the rate limit has not passed and no block comes: a dozen ticks go by
    // without a submission, and without a transaction (one would have sealed a block).
    weight_loop.board.set(&[(DevKey::Bob, 0.2), (DevKey::Charlie, 0.8)]);
    tokio::time::sleep(TICK * 12).await;
    assert_eq!(weight_loop.submissions().len(), 1, "nothing is set while rate-limited");
    assert_eq!(weight_loop.chain.current_block().await.expect("head"), first_block, "nothing was submitted");

    // Once the limit has passed, the next tick sets the new scores.
    weight_loop.node.seal_blocks(RATE_LIMIT as u32).await;
    let second = weight_loop.wait_for_submissions(2).await;
    let row: Vec<(u16, u16)> = second[1].uids.iter().copied().zip(second[1].weights.iter().copied()).collect();
    assert_eq!(row.last(), Some(&(2, 65535)), "charlie leads now");
    assert_eq!(weight_loop.chain.weights_row(NETUID, 0).await.expect("row"), row);
    assert!(weight_loop.alice_last_update().await >= first_block + RATE_LIMIT);
    weight_loop.stop().await;
}

#[tokio::test]
async fn with_commit_reveal_the_weight_loop_commits_and_the_chain_reveals() {
    const RATE_LIMIT: u64 = 3;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let beacon = LocalDrand::new("weight-loop-test", now - 10, 1).expect("beacon");
    let weight_loop = Loop::start(
        |h| {
            h.commit_reveal_weights_enabled = true;
            h.tempo = 4;
            h.reveal_period_epochs = 1;
            h.weights_set_rate_limit = RATE_LIMIT;
        },
        Some(Arc::new(beacon)),
    )
    .await;
    let first = weight_loop.wait_for_submissions(1).await;
    assert_eq!((first[0].uids.clone(), first[0].weights.clone()), (vec![1, 2], vec![65535, 21845]));
    let commits = weight_loop.chain.timelocked_commits(NETUID).await.expect("commits");
    assert_eq!(commits.len(), 1, "a timelocked commit, not plain weights");
    assert_eq!(commits[0].hotkey.as_str(), DevKey::Alice.address());
    assert!(weight_loop.chain.weights_row(NETUID, 0).await.expect("row").is_empty(), "sealed until revealed");

    // Blocks pass (the loop commits again whenever the rate limit allows) and the drand round
    // is published: the chain reveals the committed weights.
    let start_block = weight_loop.chain.current_block().await.expect("head");
    let deadline = Instant::now() + DEADLINE;
    let revealed = loop {
        weight_loop.node.seal_blocks(1).await;
        let row = weight_loop.chain.weights_row(NETUID, 0).await.expect("row");
        if !row.is_empty() {
            break row;
        }
        assert!(Instant::now() < deadline, "revealed within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(revealed, vec![(1, 65535), (2, 21845)]);

    // Commits were rate limited: at most one per RATE_LIMIT blocks since the first.
    let end_block = weight_loop.chain.current_block().await.expect("head");
    let commits = weight_loop.submissions().len() as u64;
    assert!(commits <= (end_block - start_block) / RATE_LIMIT + 1, "{commits} commits in blocks {start_block}..={end_block}");
    weight_loop.stop().await;
}
