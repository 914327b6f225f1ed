//! The validator's weights from the signed verdict ledger, against a localnet in-process and
//! a fake coordinator (`Scores` on 127.0.0.1) that serves a ledger the test signs with dev
//! keys: verdicts by the subnet's validators (//Alice and //Ferdie hold permits), claims by
//! the miners. The fake's leaderboard and weights are garbage, which the validator must never
//! read. Covered: an honest ledger's weights on chain; tampered, mislabelled and foreign
//! verdicts rejected by name while the rest still counts; catching up page by page and
//! refusing a rewritten history; the own-verdicts-first policy; and the weight loop waiting
//! out the rate limit and committing under commit-reveal.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use whetstone_chain::client::{ClientOptions, SubtensorClient};
use whetstone_chain::sync::MetagraphSnapshot;
use whetstone_chain::verdict::{AgentClaim, VerdictStatement};
use whetstone_chain::wallet::HotkeyPair;
use whetstone_chain::wallet::dev::DevKey;
use whetstone_chain::{FileLedger, WeightSubmission};
use whetstone_localnet::{AccountRef, Hyperparameters, LocalDrand, LocalnetConfig, LocalnetHandle, NeuronConfig, SubnetConfig, TAO};
use whetstone_proto::pb;
use whetstone_tasks::{Digest, Hotkey, RunId, TestResult, TestStatus, VerdictStatus};
use whetstone_validator::{CatchUpError, Evaluation, Ledger, ScoringOptions, WeightsError};

const NETUID: u16 = 1;
/// The loop ticks far faster than the rate limit lets it set weights.
const TICK: Duration = Duration::from_millis(50);
const DEADLINE: Duration = Duration::from_secs(60);
/// Bob's agent resolves 3 of 4 tasks, Charlie's 1: 0.75 and 0.25, normalised as the SDK does.
const HONEST_ROW: [(u16, u16); 2] = [(1, 65535), (2, 21845)];

type ScoresClient = pb::scores_client::ScoresClient<tonic::transport::Channel>;

// --- the fake coordinator ------------------------------------------------------------------

#[derive(Debug, Default)]
struct Served {
    verdicts: Vec<pb::LedgerVerdict>,
    claims: Vec<pb::AgentClaim>,
    /// `(after_seq, limit)` of every `Verdicts` request.
    requests: Vec<(u64, u32)>,
    /// Serve every page from the start, whatever the cursor: a coordinator rewriting history.
    rewrite: bool,
    /// Calls to the RPCs a validator must not use for weights.
    leaderboard_calls: u32,
}

/// A coordinator's `Scores` service serving a verdict ledger the test builds.
#[derive(Debug, Clone, Default)]
struct FakeCoordinator(Arc<Mutex<Served>>);

impl FakeCoordinator {
    fn with<T>(&self, edit: impl FnOnce(&mut Served) -> T) -> T {
        edit(&mut self.0.lock().expect("lock"))
    }

    fn requests(&self) -> Vec<(u64, u32)> {
        self.with(|s| std::mem::take(&mut s.requests))
    }
}

#[tonic::async_trait]
impl pb::scores_server::Scores for FakeCoordinator {
    /// Garbage: Dave, who has no agent in the ledger, tops it.
    async fn leaderboard(&self, _: Request<pb::LeaderboardRequest>) -> Result<Response<pb::LeaderboardResponse>, Status> {
        self.with(|s| s.leaderboard_calls += 1);
        let entry = pb::LeaderboardEntry { name: "dave".into(), hotkey: DevKey::Dave.address().into(), score: 1.0, ..Default::default() };
        Ok(Response::new(pb::LeaderboardResponse { entries: vec![entry], chain: None, scoring: String::new(), epoch: None }))
    }

    async fn weights(&self, _: Request<pb::WeightsRequest>) -> Result<Response<pb::WeightsResponse>, Status> {
        self.with(|s| s.leaderboard_calls += 1);
        Err(Status::unimplemented("a validator computes its own weights"))
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

    async fn verdicts(&self, request: Request<pb::VerdictsRequest>) -> Result<Response<pb::VerdictsResponse>, Status> {
        let pb::VerdictsRequest { after_seq, limit } = request.into_inner();
        let page = self.with(|s| {
            s.requests.push((after_seq, limit));
            let limit = if limit == 0 || limit > 5000 { 5000 } else { limit as usize };
            let after = if s.rewrite { 0 } else { after_seq };
            let rest: Vec<pb::LedgerVerdict> = s.verdicts.iter().filter(|v| v.seq > after).cloned().collect();
            let more = rest.len() > limit;
            let verdicts: Vec<pb::LedgerVerdict> = rest.into_iter().take(limit).collect();
            let next_after_seq = verdicts.last().map_or(after_seq, |v| v.seq);
            pb::VerdictsResponse { verdicts, next_after_seq, more }
        });
        Ok(Response::new(page))
    }

    async fn claims(&self, _: Request<pb::ClaimsRequest>) -> Result<Response<pb::ClaimsResponse>, Status> {
        Ok(Response::new(pb::ClaimsResponse { claims: self.with(|s| s.claims.clone()) }))
    }

    async fn validators(&self, _: Request<pb::ValidatorsRequest>) -> Result<Response<pb::ValidatorsResponse>, Status> {
        Err(Status::unimplemented("a validator's weights must not depend on the coordinator's standings"))
    }

    /// A coordinator from before epochs: the validator scores every task as one set.
    async fn epochs(&self, _: Request<pb::EpochsRequest>) -> Result<Response<pb::EpochsResponse>, Status> {
        Err(Status::unimplemented("no epochs"))
    }
}

/// Serves `fake` on 127.0.0.1 and returns a client of it.
async fn serve(fake: FakeCoordinator, shutdown: CancellationToken) -> ScoresClient {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(pb::scores_server::ScoresServer::new(fake))
            .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned()),
    );
    let channel = tonic::transport::Channel::from_shared(url).expect("url").connect().await.expect("connects");
    pb::scores_client::ScoresClient::new(channel)
}

// --- signed evidence -----------------------------------------------------------------------

fn agent_of(miner: DevKey) -> Digest {
    Digest::of_bytes(format!("agent of {}", miner.name()).as_bytes())
}

fn task(n: u8) -> Digest {
    Digest::of_bytes(&[b't', n])
}

fn run_id(miner: DevKey, task: u8) -> String {
    format!("run-{}-{task}", miner.name())
}

/// `validator`'s signed verdict on `miner`'s agent's run of task `task`.
fn verdict(validator: DevKey, miner: DevKey, task_n: u8, resolved: bool) -> VerdictStatement {
    let outcome = if resolved { TestStatus::Passed } else { TestStatus::Failed };
    VerdictStatement {
        run_id: RunId::new(run_id(miner, task_n)),
        task: task(task_n),
        agent: agent_of(miner),
        patch: Digest::of_bytes(run_id(miner, task_n).as_bytes()),
        validator: Hotkey::new(validator.address()),
        status: if resolved { VerdictStatus::Resolved } else { VerdictStatus::Unresolved },
        tests: vec![TestResult { id: "tests/test_fix.py::test_fix".into(), status: outcome }],
        grader_version: "whetstone-validator test".into(),
        graded_at_ms: 1_700_000_000_000 + u64::from(task_n),
    }
}

/// Dev keys derive from the dev phrase with PBKDF2, slow enough to derive each once.
fn pair(key: DevKey) -> &'static HotkeyPair {
    static PAIRS: OnceLock<Vec<HotkeyPair>> = OnceLock::new();
    let index = DevKey::ALL.iter().position(|k| *k == key).expect("a dev key");
    &PAIRS.get_or_init(|| DevKey::ALL.iter().map(|k| k.pair()).collect())[index]
}

fn claim(miner: DevKey) -> pb::AgentClaim {
    let claim = AgentClaim::sign(agent_of(miner), pair(miner), 1_700_000_000_000).expect("sign the claim");
    pb::AgentClaim {
        agent_digest: claim.agent.to_string(),
        miner_hotkey: claim.miner.to_string(),
        claimed_at_ms: claim.claimed_at_ms,
        signature: claim.signature,
    }
}

impl Served {
    /// Appends `statement`, signed by its validator, filed under its own run id.
    fn push(&mut self, statement: &VerdictStatement) -> u64 {
        let signer = pair(DevKey::of_address(statement.validator.as_str()).expect("a dev key"));
        let signed = statement.sign(signer).expect("sign the verdict");
        self.push_raw(statement.run_id.as_str(), signed.statement, signed.signature)
    }

    fn push_raw(&mut self, run_id: &str, statement: Vec<u8>, signature: Vec<u8>) -> u64 {
        let seq = self.verdicts.last().map_or(1, |v| v.seq + 1);
        self.verdicts.push(pb::LedgerVerdict { seq, run_id: run_id.into(), statement, signature });
        seq
    }

    /// Both validators grade `miner`'s agent on each task; `resolved[i]` is task i+1's result.
    fn graded_by_both(&mut self, miner: DevKey, first_task: u8, resolved: &[bool]) {
        for (i, resolved) in resolved.iter().enumerate() {
            let task = first_task + i as u8;
            self.push(&verdict(DevKey::Alice, miner, task, *resolved));
            self.push(&verdict(DevKey::Ferdie, miner, task, *resolved));
        }
    }

    /// Four tasks, both validators agreeing: Bob's agent resolves three, Charlie's one.
    fn honest() -> Self {
        let mut served = Served::default();
        served.graded_by_both(DevKey::Bob, 1, &[true, true, true, false]);
        served.graded_by_both(DevKey::Charlie, 1, &[true, false, false, false]);
        served.claims = vec![claim(DevKey::Bob), claim(DevKey::Charlie)];
        served
    }
}

// --- the chain -----------------------------------------------------------------------------

/// Subnet 1 spelt out: //Alice (uid 0) and //Ferdie (uid 5) validate with permits and the
/// given stakes in TAO; //Bob, //Charlie and //Dave mine; //Eve is registered without a permit.
fn subnet(alice_tao: u64, ferdie_tao: u64) -> SubnetConfig {
    let neuron = |name: &str, stake: u64, validator_permit: bool| NeuronConfig {
        hotkey: AccountRef::dev(name),
        coldkey: None,
        stake: stake * TAO,
        validator_permit,
    };
    SubnetConfig {
        netuid: NETUID,
        owner: AccountRef::dev("Alice"),
        owner_hotkey: None,
        hyperparameters: Hyperparameters::default(),
        neurons: vec![
            neuron("Alice", alice_tao, true),
            neuron("Bob", 0, false),
            neuron("Charlie", 0, false),
            neuron("Dave", 0, false),
            neuron("Eve", 0, false),
            neuron("Ferdie", ferdie_tao, true),
        ],
    }
}

/// A localnet, a fake coordinator and an audit log.
struct Setup {
    node: LocalnetHandle,
    chain: Arc<SubtensorClient>,
    fake: FakeCoordinator,
    scores: ScoresClient,
    audit: FileLedger,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn start(
        subnet: SubnetConfig,
        served: Served,
        edit: impl FnOnce(&mut Hyperparameters),
        beacon: Option<Arc<dyn whetstone_localnet::Beacon>>,
    ) -> Self {
        let mut config =
            LocalnetConfig { listen: "127.0.0.1:0".parse().expect("address"), subnets: vec![subnet], ..LocalnetConfig::default() };
        edit(&mut config.subnets[0].hyperparameters);
        let node = whetstone_localnet::spawn_with_beacon(config, beacon).await.expect("localnet starts");
        // Short blocks, so a timelocked commit targets a drand round that comes soon.
        let options = ClientOptions { block_time: Some(Duration::from_millis(100)), ..ClientOptions::default() };
        let chain = Arc::new(SubtensorClient::connect_with(&node.url, options).await.expect("subxt connects"));
        let shutdown = CancellationToken::new();
        let fake = FakeCoordinator(Arc::new(Mutex::new(served)));
        let scores = serve(fake.clone(), shutdown.clone()).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let audit = FileLedger::new(dir.path().join("weights.jsonl"));
        Self { node, chain, fake, scores, audit, shutdown, _dir: dir }
    }

    async fn honest() -> Self {
        Self::start(subnet(1000, 600), Served::honest(), |_| {}, None).await
    }

    /// One round of [`whetstone_validator::set_weights_on_chain`] as Alice.
    async fn set_weights(&mut self, ledger: &mut Ledger, options: &ScoringOptions) -> (Vec<(u16, u16)>, Evaluation) {
        let (outcome, evaluation) = whetstone_validator::set_weights_on_chain(
            ledger,
            &mut self.scores,
            &self.chain,
            pair(DevKey::Alice),
            NETUID,
            &self.audit,
            None,
            options,
        )
        .await
        .expect("weights set");
        let receipt = outcome.receipt.expect("submitted");
        assert_eq!(receipt.uid, 0, "Alice sets them");
        let row = self.chain.weights_row(NETUID, 0).await.expect("row");
        (row, evaluation)
    }

    async fn stop(self) {
        assert_eq!(self.fake.with(|s| s.leaderboard_calls), 0, "the validator never asked the coordinator for scores or weights");
        self.shutdown.cancel();
        self.node.stop().await;
    }
}

// --- one round -----------------------------------------------------------------------------

#[tokio::test]
async fn an_honest_ledger_sets_the_weights_it_implies_and_never_the_leaderboard() {
    let mut setup = Setup::honest().await;
    let mut ledger = Ledger::new();
    let (row, evaluation) = setup.set_weights(&mut ledger, &ScoringOptions::default()).await;
    assert_eq!(row, HONEST_ROW, "Bob 0.75, Charlie 0.25; Dave, top of the coordinator's leaderboard, gets nothing");
    assert_eq!((evaluation.accepted, evaluation.rejected.len()), (16, 0));
    assert_eq!((evaluation.decided_runs(), evaluation.pending_runs()), (8, 0));
    assert_eq!((evaluation.permit_holders, evaluation.rules.quorum), (2, 2));
    assert!(evaluation.unowned.is_empty() && evaluation.unregistered.is_empty() && evaluation.rejected_claims.is_empty());
    assert_eq!(evaluation.scores, [(1, 0.75), (2, 0.25)]);
    let audit = setup.audit.submissions().expect("audit log");
    assert_eq!((audit.len(), audit[0].uids.clone()), (1, vec![1, 2]));
    setup.stop().await;
}

#[tokio::test]
async fn tampered_mislabelled_and_foreign_verdicts_are_rejected_by_name_and_the_rest_counts() {
    let mut served = Served::honest();
    // The coordinator flips Alice's "unresolved" on Charlie's task 2 to "resolved": one byte.
    // Accepted, Alice's larger stake would make the run resolved and Charlie's score 0.5.
    let target = served.verdicts.iter().position(|v| v.run_id == run_id(DevKey::Charlie, 2)).expect("Alice's verdict");
    let original = served.verdicts[target].statement.clone();
    let mut flipped = VerdictStatement::decode(&original).expect("decode");
    assert_eq!(flipped.validator.as_str(), DevKey::Alice.address());
    flipped.status = VerdictStatus::Resolved;
    let tampered = flipped.encode().expect("encode");
    assert_eq!(original.iter().zip(&tampered).filter(|(a, b)| a != b).count(), 1, "one byte changed");
    served.verdicts[target].statement = tampered;
    let tampered_seq = served.verdicts[target].seq;
    // It serves Ferdie's "resolved" on Bob's task 1 again, filed under Charlie's task 3.
    let copy = served.verdicts.iter().find(|v| v.run_id == run_id(DevKey::Bob, 1) && v.seq == 2).expect("Ferdie's verdict").clone();
    let mislabelled_seq = served.push_raw(&run_id(DevKey::Charlie, 3), copy.statement, copy.signature);
    // Eve, registered without a permit, signs a verdict of her own for Charlie.
    let foreign_seq = served.push(&verdict(DevKey::Eve, DevKey::Charlie, 4, true));
    // An entry with no run id, and a claim that is not one.
    let unreadable_seq = served.push_raw("", b"junk".to_vec(), vec![0; 64]);
    served.claims.push(pb::AgentClaim { agent_digest: "not-a-digest".into(), ..claim(DevKey::Dave) });

    let mut setup = Setup::start(subnet(1000, 600), served, |_| {}, None).await;
    let (row, evaluation) = setup.set_weights(&mut Ledger::new(), &ScoringOptions::default()).await;
    assert_eq!(row, HONEST_ROW, "the rejected verdicts moved nothing");
    let reasons: Vec<String> = evaluation.rejected.iter().map(ToString::to_string).collect();
    assert_eq!(evaluation.rejected.iter().map(|r| r.seq).collect::<Vec<_>>(), [tampered_seq, mislabelled_seq, foreign_seq, unreadable_seq]);
    assert!(
        reasons[0].starts_with(&format!(
            "verdict #{tampered_seq} (run run-charlie-2) rejected: the signature does not verify for {}",
            DevKey::Alice.address()
        )),
        "{reasons:?}"
    );
    assert_eq!(
        reasons[1],
        format!(
            "verdict #{mislabelled_seq} (run run-charlie-3) rejected: it was served under run run-charlie-3 but signed for run run-bob-1"
        )
    );
    assert!(reasons[2].contains(&format!("its signer {} holds no validator permit", DevKey::Eve.address())), "{reasons:?}");
    assert!(reasons[3].contains("run_id"), "{reasons:?}");
    // The tampered run lost Alice's vote and waits for a quorum; the rest is decided.
    assert_eq!((evaluation.accepted, evaluation.decided_runs(), evaluation.pending_runs()), (15, 7, 1));
    let pending = evaluation.consensus.run(&RunId::new(run_id(DevKey::Charlie, 2))).expect("run");
    assert_eq!(pending.result.as_str(), "pending");
    assert_eq!(evaluation.rejected_claims.len(), 1);
    assert!(evaluation.rejected_claims[0].to_string().contains("not-a-digest"));
    setup.stop().await;
}

// --- catching up ---------------------------------------------------------------------------

#[tokio::test]
async fn the_ledger_catches_up_page_by_page_and_refuses_a_rewritten_history() {
    let setup = Setup::honest().await;
    let mut scores = setup.scores.clone();
    let snapshot = MetagraphSnapshot::fetch(&setup.chain, NETUID).await.expect("metagraph");
    let alice = Hotkey::new(DevKey::Alice.address());
    let options = ScoringOptions::default();
    let mut ledger = Ledger::with_page_limit(3);

    // This is the ledger-file path: no chain submission, the same evaluation.
    let (first, _, evaluation) =
        whetstone_validator::set_weights(&mut ledger, &mut scores, &snapshot, &setup.audit, &alice, 0, &options).await.expect("weights");
    assert_eq!(setup.fake.requests(), [(0, 3), (3, 3), (6, 3), (9, 3), (12, 3), (15, 3)], "16 verdicts in pages of 3");
    assert_eq!((ledger.cursor(), evaluation.accepted), (16, 16));
    assert_eq!(first.uids.iter().copied().zip(first.weights.iter().copied()).collect::<Vec<_>>(), HONEST_ROW);

    // Four verdicts more: Charlie's agent resolves a fifth task, Bob's does not. Only the new
    // pages are read.
    setup.fake.with(|s| {
        s.graded_by_both(DevKey::Charlie, 5, &[true]);
        s.graded_by_both(DevKey::Bob, 5, &[false]);
    });
    let (second, _, evaluation) =
        whetstone_validator::set_weights(&mut ledger, &mut scores, &snapshot, &setup.audit, &alice, 0, &options).await.expect("weights");
    assert_eq!(setup.fake.requests(), [(16, 3), (19, 3)]);
    assert_eq!((ledger.cursor(), evaluation.accepted, evaluation.consensus.tasks), (20, 20, 5));
    assert_eq!(evaluation.scores, [(1, 0.6), (2, 0.4)]);
    assert_eq!(second.weights, [65535, 43690]);

    // Nothing new: one request, nothing read.
    let caught_up = ledger.catch_up(&mut scores).await.expect("nothing new");
    assert_eq!((caught_up.pages, caught_up.verdicts), (1, 0));
    setup.fake.requests();

    // The coordinator serves its ledger from the start again, as if history were rewritten.
    setup.fake.with(|s| s.rewrite = true);
    let error = whetstone_validator::set_weights(&mut ledger, &mut scores, &snapshot, &setup.audit, &alice, 0, &options)
        .await
        .expect_err("a rewritten ledger is refused");
    assert!(matches!(&error, WeightsError::VerdictLedger(CatchUpError::Rewritten { cursor: 20, previous: 20, seq: 1 })), "{error:?}");
    let text = whetstone_proto::error_chain(&error);
    assert!(text.contains("after verdict #20 it served #1"), "{text}");
    assert_eq!((ledger.cursor(), ledger.entries().len()), (20, 20), "the refused page left the ledger as it was");
    assert_eq!(setup.audit.submissions().expect("audit").len(), 2, "no weights from a rewritten ledger");
    setup.stop().await;
}

// --- policy --------------------------------------------------------------------------------

#[tokio::test]
async fn own_verdicts_first_counts_the_run_the_validator_graded_in_dissent() {
    // Ferdie outweighs Alice here. On Bob's task 4 Alice says resolved, Ferdie unresolved.
    let mut served = Served::default();
    served.graded_by_both(DevKey::Bob, 1, &[true, true, true]);
    served.push(&verdict(DevKey::Alice, DevKey::Bob, 4, true));
    served.push(&verdict(DevKey::Ferdie, DevKey::Bob, 4, false));
    served.graded_by_both(DevKey::Charlie, 1, &[true, false, false, false]);
    served.claims = vec![claim(DevKey::Bob), claim(DevKey::Charlie)];
    let mut setup = Setup::start(subnet(400, 600), served, |_| {}, None).await;

    // The consensus: Ferdie's stake carries the run, Bob's agent resolves 3 of 4.
    let mut ledger = Ledger::new();
    ledger.catch_up(&mut setup.scores).await.expect("catch up");
    let snapshot = MetagraphSnapshot::fetch(&setup.chain, NETUID).await.expect("metagraph");
    let alice = Hotkey::new(DevKey::Alice.address());
    let consensus = Evaluation::of(&ledger, &snapshot, &alice, &ScoringOptions::default());
    let disputed = RunId::new(run_id(DevKey::Bob, 4));
    assert_eq!(consensus.consensus.run(&disputed).map(|r| r.result.as_str()), Some("unresolved"));
    assert_eq!(consensus.scores, [(1, 0.75), (2, 0.25)]);

    // Alice's own verdict first: the run is resolved for her, Bob's agent resolves all four.
    let own_first = ScoringOptions { quorum: None, own_first: true };
    let (row, evaluation) = setup.set_weights(&mut ledger, &own_first).await;
    assert_eq!(evaluation.consensus.run(&disputed).map(|r| r.result.as_str()), Some("resolved"));
    assert_eq!(evaluation.scores, [(1, 1.0), (2, 0.25)]);
    assert_eq!(row, [(1, 65535), (2, 16384)]);

    // A quorum no run reaches (three validators; the subnet has two) leaves every run pending
    // but those Alice graded, under her own-first policy.
    let strict = Evaluation::of(&ledger, &snapshot, &alice, &ScoringOptions { quorum: Some(3), own_first: false });
    assert_eq!(strict.decided_runs(), 0);
    assert!(strict.scores.iter().all(|(_, score)| *score == 0.0), "{:?}", strict.scores);
    let strict_own = Evaluation::of(&ledger, &snapshot, &alice, &ScoringOptions { quorum: Some(3), own_first: true });
    assert_eq!(strict_own.pending_runs(), 0, "Alice graded every run");
    setup.stop().await;
}

// --- the loop ------------------------------------------------------------------------------

/// A running weight loop for Alice (uid 0) over `setup`'s fake coordinator.
fn start_loop(setup: &Setup) -> tokio::task::JoinHandle<()> {
    let (chain, audit, shutdown, scores) = (Arc::clone(&setup.chain), setup.audit.clone(), setup.shutdown.clone(), setup.scores.clone());
    tokio::spawn(async move {
        let alice = DevKey::Alice.pair();
        whetstone_validator::run_weight_loop(scores, &chain, &alice, NETUID, &audit, TICK, ScoringOptions::default(), shutdown).await;
    })
}

impl Setup {
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

    async fn stop_loop(self, task: tokio::task::JoinHandle<()>) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), task).await.expect("the loop stops on shutdown").expect("no panic");
        self.stop().await;
    }
}

#[tokio::test]
async fn the_weight_loop_sets_the_ledgers_weights_and_waits_out_the_rate_limit() {
    const RATE_LIMIT: u64 = 4;
    let setup = Setup::start(subnet(1000, 600), Served::honest(), |h| h.weights_set_rate_limit = RATE_LIMIT, None).await;
    let task = start_loop(&setup);
    let first = setup.wait_for_submissions(1).await;
    assert_eq!((first[0].uids.clone(), first[0].weights.clone()), (vec![1, 2], vec![65535, 21845]));
    assert!(first[0].extrinsic.is_some(), "the audit log names the extrinsic");
    assert_eq!(setup.chain.weights_row(NETUID, 0).await.expect("row"), HONEST_ROW);
    let first_block = setup.alice_last_update().await;

    // New verdicts (Charlie's agent resolves four more tasks, Bob's none), but the rate limit
    // has not passed and no block comes: a dozen ticks go by without a submission, and
    // without a transaction (one would have sealed a block).
    setup.fake.with(|s| {
        s.graded_by_both(DevKey::Charlie, 5, &[true, true, true, true]);
        s.graded_by_both(DevKey::Bob, 5, &[false, false, false, false]);
    });
    tokio::time::sleep(TICK * 12).await;
    assert_eq!(setup.submissions().len(), 1, "nothing is set while rate-limited");
    assert_eq!(setup.chain.current_block().await.expect("head"), first_block, "nothing was submitted");

    // Once the limit has passed, the next tick sets the new scores: Bob 3/8, Charlie 5/8.
    setup.node.seal_blocks(RATE_LIMIT as u32).await;
    let second = setup.wait_for_submissions(2).await;
    let row: Vec<(u16, u16)> = second[1].uids.iter().copied().zip(second[1].weights.iter().copied()).collect();
    assert_eq!(row, [(1, 39321), (2, 65535)], "charlie leads now");
    assert_eq!(setup.chain.weights_row(NETUID, 0).await.expect("row"), row);
    assert!(setup.alice_last_update().await >= first_block + RATE_LIMIT);
    setup.stop_loop(task).await;
}

#[tokio::test]
async fn with_commit_reveal_the_weight_loop_commits_and_the_chain_reveals() {
    const RATE_LIMIT: u64 = 3;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let beacon = LocalDrand::new("weight-loop-test", now - 10, 1).expect("beacon");
    let setup = Setup::start(
        subnet(1000, 600),
        Served::honest(),
        |h| {
            h.commit_reveal_weights_enabled = true;
            h.tempo = 4;
            h.reveal_period_epochs = 1;
            h.weights_set_rate_limit = RATE_LIMIT;
        },
        Some(Arc::new(beacon)),
    )
    .await;
    let task = start_loop(&setup);
    let first = setup.wait_for_submissions(1).await;
    assert_eq!((first[0].uids.clone(), first[0].weights.clone()), (vec![1, 2], vec![65535, 21845]));
    let commits = setup.chain.timelocked_commits(NETUID).await.expect("commits");
    assert_eq!(commits.len(), 1, "a timelocked commit, not plain weights");
    assert_eq!(commits[0].hotkey.as_str(), DevKey::Alice.address());
    assert!(setup.chain.weights_row(NETUID, 0).await.expect("row").is_empty(), "sealed until revealed");

    // Blocks pass (the loop commits again whenever the rate limit allows) and the drand round
    // is published: the chain reveals the committed weights.
    let start_block = setup.chain.current_block().await.expect("head");
    let deadline = Instant::now() + DEADLINE;
    let revealed = loop {
        setup.node.seal_blocks(1).await;
        let row = setup.chain.weights_row(NETUID, 0).await.expect("row");
        if !row.is_empty() {
            break row;
        }
        assert!(Instant::now() < deadline, "revealed within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(revealed, HONEST_ROW);

    // Commits were rate limited: at most one per RATE_LIMIT blocks since the first.
    let end_block = setup.chain.current_block().await.expect("head");
    let commits = setup.submissions().len() as u64;
    assert!(commits <= (end_block - start_block) / RATE_LIMIT + 1, "{commits} commits in blocks {start_block}..={end_block}");
    setup.stop_loop(task).await;
}
