//! Validators decide: each run is graded by several validators (never by its own runner's
//! hotkey while another can), every verdict is signed and kept verbatim in the ledger, the
//! leaderboard is the public scoring function over that ledger, and what a validator or the
//! coordinator does wrong shows up by name.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use whetstone_chain::consensus::{self, LedgerEntry, Policy, Rejection, Rules, ValidatorSet};
use whetstone_chain::verdict::AgentClaim;
use whetstone_chain::wallet::dev::DevKey;
use whetstone_chain::yuma::{Epoch, EpochInput, Hyperparameters, NeuronState};
use whetstone_proto::job::{Capability, GradeAssignment};
use whetstone_proto::pb;
use whetstone_tasks::{Digest, Hotkey};

use crate::support::{CannedRunner, CannedValidator, Harness, RawWorker, example_agent, signed_report};

fn redundant(replicas: u32) -> impl FnOnce(&mut whetstone_coordinator::CoordinatorConfig) {
    move |config| config.grading = whetstone_coordinator::GradingConfig { replicas, max_disputes: 2, audit_fraction: 0.0 }
}

/// The whole ledger, a page of `page` entries at a time, as a validator reads it.
async fn ledger(harness: &Harness, page: u32) -> Vec<LedgerEntry> {
    let mut entries = Vec::new();
    let mut after_seq = 0;
    loop {
        let response = harness.scores().verdicts(pb::VerdictsRequest { after_seq, limit: page }).await.expect("verdicts").into_inner();
        assert!(response.verdicts.len() <= page as usize, "a page holds at most the limit");
        for v in response.verdicts {
            assert!(v.seq > after_seq, "sequence numbers only grow");
            after_seq = v.seq;
            entries.push(LedgerEntry::try_from(v).expect("a well-formed ledger entry"));
        }
        assert_eq!(response.next_after_seq, after_seq);
        if !response.more {
            return entries;
        }
    }
}

async fn claims(harness: &Harness) -> Vec<AgentClaim> {
    let response = harness.scores().claims(pb::ClaimsRequest {}).await.expect("claims").into_inner();
    response.claims.into_iter().map(|c| AgentClaim::try_from(c).expect("a well-formed claim")).collect()
}

async fn standings(harness: &Harness) -> pb::ValidatorsResponse {
    harness.scores().validators(pb::ValidatorsRequest {}).await.expect("validators").into_inner()
}

fn standing(response: &pb::ValidatorsResponse, key: DevKey) -> &pb::ValidatorStanding {
    response.validators.iter().find(|v| v.hotkey == key.address()).unwrap_or_else(|| panic!("{key:?} has a standing: {response:?}"))
}

fn run_ids(seen: &[GradeAssignment]) -> Vec<String> {
    let mut ids: Vec<String> = seen.iter().map(|g| g.run_id.to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_run_is_graded_by_distinct_validators_and_never_by_its_own_runner_when_another_can() {
    let harness = Harness::start_with(redundant(2)).await;
    let tasks = harness.publish_tasks(2).await;
    harness.submit_agent("noop").await;
    // Alice runs the agent and is a validator too, with the most room: she must still not grade
    // while Ferdie and Charlie are connected, even when they are busy.
    let honest = |key| Arc::new(CannedValidator::resolving([tasks[0].clone()]).signing_as(key).taking(Duration::from_millis(200)));
    let (alice, ferdie, charlie) = (honest(DevKey::Alice), honest(DevKey::Ferdie), honest(DevKey::Charlie));
    let _f = harness.spawn_worker_as(DevKey::Ferdie, "validator-ferdie", Capability::Grade, 1, ferdie.clone());
    let _c = harness.spawn_worker_as(DevKey::Charlie, "validator-charlie", Capability::Grade, 1, charlie.clone());
    harness.wait_for_progress("Ferdie and Charlie connected", |p| p.workers_connected == 2).await;
    let _a = harness.spawn_worker_as(DevKey::Alice, "validator-alice", Capability::Grade, 4, alice.clone());
    let _runner = harness.spawn_worker_as(DevKey::Alice, "runner-alice", Capability::RunAgent, 2, Arc::new(CannedRunner::completing("a")));
    let progress = harness.wait_for_progress("both runs graded twice", |p| p.runs_done == 2 && p.grades_done == 4).await;
    assert_eq!(progress.grades_total, 4, "two slots per run");

    assert!(alice.seen.all().is_empty(), "the runner's hotkey graded its own work: {:?}", alice.seen.all());
    let runs: Vec<String> = {
        let mut ids = run_ids(&ferdie.seen.all());
        ids.dedup();
        ids
    };
    assert_eq!(runs.len(), 2, "each validator graded each run once");
    assert_eq!(run_ids(&ferdie.seen.all()), run_ids(&charlie.seen.all()));

    let records = harness.scores().runs(pb::RunsRequest::default()).await.expect("runs").into_inner().runs;
    let mut results: Vec<(u32, String)> = records.iter().map(|r| (r.verdicts, r.consensus.clone())).collect();
    results.sort();
    assert_eq!(results, vec![(2, "resolved".to_owned()), (2, "unresolved".to_owned())]);

    let board = harness.scores().leaderboard(pb::LeaderboardRequest {}).await.expect("leaderboard").into_inner();
    assert!(board.scoring.starts_with("consensus/1"), "the board names its function: {}", board.scoring);
    let entry = &board.entries[0];
    assert_eq!((entry.resolved, entry.graded, entry.pending, entry.tasks, entry.score), (1, 2, 0, 2, 0.5));

    // The ledger, read a verdict per page, is four verdicts that verify, by Ferdie and Charlie.
    let entries = ledger(&harness, 1).await;
    assert_eq!(entries.len(), 4);
    let validators = ValidatorSet::new([DevKey::Ferdie, DevKey::Charlie].map(|k| (Hotkey::new(k.address()), 1)));
    let verified = consensus::verify_ledger(&entries, &validators);
    assert!(verified.rejected.is_empty(), "{:?}", verified.rejected);
    let mine = consensus::decide(&verified.accepted, &validators, &Rules::for_validators(&validators));
    assert_eq!(mine.agents[0].score, 0.5, "a validator's own computation gives the board's score");

    let standings = standings(&harness).await;
    for key in [DevKey::Ferdie, DevKey::Charlie] {
        let s = standing(&standings, key);
        assert_eq!((s.verdicts, s.on_decided, s.agreed, s.flagged_run_ids.len()), (2, 2, 2, 0));
    }
    assert_eq!((standings.runs_decided, standings.runs_pending, standings.runs_disputed), (2, 0, 0));
}

/// A validator that calls every patch resolved, beside two honest ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_validator_is_outvoted_and_loses_validator_trust_and_dividends() {
    let harness = Harness::start_with(redundant(3)).await;
    let tasks = harness.publish_tasks(3).await;
    let noop = harness.submit_agent("noop").await;
    let repair = example_agent("repair");
    let request = pb::SubmitAgentRequest {
        hotkey: DevKey::Dave.address().into(),
        package: repair.bundle.to_tar().expect("tar"),
        ..Default::default()
    };
    harness.submit(request).await.expect("dave submits");
    // Honest truth: noop solves the first task, repair the first two.
    let truth = {
        let (noop, repair, tasks) = (noop.clone(), repair.digest().clone(), tasks.clone());
        move |grade: &GradeAssignment| (grade.agent == noop && grade.task == tasks[0]) || (grade.agent == repair && grade.task != tasks[2])
    };
    let _runner = harness.spawn_worker("runner", Capability::RunAgent, 3, Arc::new(CannedRunner::completing("r")));
    let _a = harness.spawn_worker_as(
        DevKey::Alice,
        "v-alice",
        Capability::Grade,
        3,
        Arc::new(CannedValidator::with_rule(DevKey::Alice, truth.clone())),
    );
    let _f = harness.spawn_worker_as(
        DevKey::Ferdie,
        "v-ferdie",
        Capability::Grade,
        3,
        Arc::new(CannedValidator::with_rule(DevKey::Ferdie, truth)),
    );
    let _c = harness.spawn_worker_as(
        DevKey::Charlie,
        "v-liar",
        Capability::Grade,
        3,
        Arc::new(CannedValidator::with_rule(DevKey::Charlie, |_| true)),
    );
    harness.wait_for_progress("six runs graded three times", |p| p.runs_done == 6 && p.grades_done == 18).await;

    // The consensus is the honest majority's.
    let board = harness.scores().leaderboard(pb::LeaderboardRequest {}).await.expect("leaderboard").into_inner();
    let resolved: BTreeMap<String, u32> = board.entries.iter().map(|e| (e.name.clone(), e.resolved)).collect();
    assert_eq!(resolved, BTreeMap::from([("noop".to_owned(), 1), ("repair".to_owned(), 2)]));

    // The liar agrees on the three runs it called right and is flagged on the other three.
    let standings = standings(&harness).await;
    let liar = standing(&standings, DevKey::Charlie);
    assert_eq!((liar.verdicts, liar.agreed, liar.flagged_run_ids.len()), (6, 3, 3), "{liar:?}");
    for key in [DevKey::Alice, DevKey::Ferdie] {
        let honest = standing(&standings, key);
        assert_eq!((honest.agreed, honest.on_decided, honest.flagged_run_ids.len()), (6, 6, 0));
    }
    assert_eq!(standings.runs_disputed, 3, "the three runs the liar contradicted, on their tests");

    // Each validator computes its weights from the ledger: the honest with the consensus, the
    // liar trusting its own verdicts. Yuma over the three weight rows (equal stake) pays the
    // liar less validator trust and smaller dividends.
    let entries = ledger(&harness, 5).await;
    let claims = claims(&harness).await;
    let keys = [DevKey::Alice, DevKey::Ferdie, DevKey::Charlie];
    let validators = ValidatorSet::new(keys.map(|k| (Hotkey::new(k.address()), 1)));
    let verified = consensus::verify_ledger(&entries, &validators);
    let miners = [Hotkey::new(DevKey::Bob.address()), Hotkey::new(DevKey::Dave.address())];
    let row = |policy: Policy| {
        let decided = consensus::decide(&verified.accepted, &validators, &Rules { quorum: 2, policy });
        let (scores, _) = consensus::miner_scores(&decided, &claims);
        let scores: Vec<(u16, f64)> =
            miners.iter().enumerate().map(|(i, m)| (3 + i as u16, scores.get(m).copied().unwrap_or(0.0))).collect();
        let (uids, weights) = whetstone_chain::scores_to_u16_weights(&scores);
        uids.into_iter().zip(weights).collect::<Vec<_>>()
    };
    let honest_row = row(Policy::Consensus);
    let liar_row = row(Policy::OwnFirst(Hotkey::new(DevKey::Charlie.address())));
    assert_ne!(honest_row, liar_row, "the liar's own verdicts weigh the miners differently");
    let validator =
        |weights: Vec<(u16, u16)>| NeuronState { stake: 1000, validator_permit: true, last_update: 1, weights, ..NeuronState::default() };
    let mut input = EpochInput {
        current_block: 10,
        emission: 1_000_000_000,
        hyperparameters: Hyperparameters::subtensor_defaults(),
        neurons: vec![
            validator(honest_row.clone()),
            validator(honest_row),
            validator(liar_row),
            NeuronState { last_update: 1, ..NeuronState::default() },
            NeuronState { last_update: 1, ..NeuronState::default() },
        ],
    };
    let mut output = Epoch::run(&input);
    for _ in 0..5 {
        input.neurons = output.carry_into(&input);
        output = Epoch::run(&input);
    }
    let (honest, lying) = (&output.neurons[0], &output.neurons[2]);
    assert!(lying.validator_trust < honest.validator_trust, "vtrust: liar {} honest {}", lying.validator_trust, honest.validator_trust);
    assert!(lying.dividends < honest.dividends, "dividends: liar {} honest {}", lying.dividends, honest.dividends);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disagreement_gets_a_dispute_grade_and_agreement_an_audit() {
    let harness = Harness::start_with(|config| {
        config.grading = whetstone_coordinator::GradingConfig { replicas: 2, max_disputes: 1, audit_fraction: 1.0 }
    })
    .await;
    let tasks = harness.publish_tasks(2).await;
    harness.submit_agent("noop").await;
    let _runner = harness.spawn_worker("runner", Capability::RunAgent, 2, Arc::new(CannedRunner::completing("r")));
    // Alice and Ferdie split on the first task; both call the second unresolved.
    let first = tasks[0].clone();
    let _a = harness.spawn_worker_as(
        DevKey::Alice,
        "v-alice",
        Capability::Grade,
        2,
        Arc::new(CannedValidator::with_rule(DevKey::Alice, move |g| g.task == first)),
    );
    let _f = harness.spawn_worker_as(
        DevKey::Ferdie,
        "v-ferdie",
        Capability::Grade,
        2,
        Arc::new(CannedValidator::with_rule(DevKey::Ferdie, |_| false)),
    );
    harness.wait_for_progress("the replica grades", |p| p.runs_done == 2 && p.grades_done == 4).await;
    // A third validator arrives; the split run gets a dispute grade, the agreed one an audit.
    let charlie = Arc::new(CannedValidator::resolving([tasks[0].clone()]).signing_as(DevKey::Charlie));
    let _c = harness.spawn_worker_as(DevKey::Charlie, "v-charlie", Capability::Grade, 2, charlie.clone());
    let progress = harness.wait_for_progress("the extra grades", |p| p.grades_done == 6).await;
    assert_eq!(progress.grades_total, 6, "one dispute (the cap) and one audit, nothing more");
    assert_eq!(charlie.seen.all().len(), 2);

    let records = harness.scores().runs(pb::RunsRequest::default()).await.expect("runs").into_inner().runs;
    let split = records.iter().find(|r| r.task_digest == tasks[0].as_str()).expect("first task's run");
    assert_eq!((split.verdicts, split.consensus.as_str()), (3, "resolved"), "the dispute decided it");
    assert_eq!(split.disputed_tests, vec!["tests/test_fix.py::test_fix".to_owned()], "the disagreement is recorded per test");
    let agreed = records.iter().find(|r| r.task_digest == tasks[1].as_str()).expect("second task's run");
    assert_eq!((agreed.verdicts, agreed.consensus.as_str()), (3, "unresolved"));
    let standings = standings(&harness).await;
    assert_eq!(standing(&standings, DevKey::Ferdie).flagged_run_ids, vec![split.run_id.clone()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verdict_altered_in_the_store_or_moved_to_another_run_is_rejected_by_name() {
    let mut harness = Harness::start_with(redundant(2)).await;
    let tasks = harness.publish_tasks(2).await;
    harness.submit_agent("noop").await;
    let runner = harness.spawn_worker("runner", Capability::RunAgent, 2, Arc::new(CannedRunner::completing("r")));
    let resolve = || CannedValidator::resolving(tasks.clone());
    let a = harness.spawn_worker_as(DevKey::Alice, "v-alice", Capability::Grade, 2, Arc::new(resolve().signing_as(DevKey::Alice)));
    let f = harness.spawn_worker_as(DevKey::Ferdie, "v-ferdie", Capability::Grade, 2, Arc::new(resolve().signing_as(DevKey::Ferdie)));
    harness.wait_for_progress("both runs graded twice", |p| p.grades_done == 4).await;
    let honest = ledger(&harness, 100).await;
    assert_eq!(honest.len(), 4);
    for worker in [runner, a, f] {
        worker.stop().await;
    }

    // A coordinator bending the ledger: one byte flipped in the first verdict on run A, and
    // the first verdict on run B filed under run A.
    harness.server.stop().await;
    let altered = &honest[0];
    let run_a = altered.run_id.clone();
    let moved = honest.iter().find(|e| e.run_id != run_a).expect("a verdict on the other run");
    {
        let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", harness.data_dir().join("coordinator.db").display())).await.expect("db");
        let mut statement = honest[0].verdict.statement.clone();
        let last = statement.len() - 1;
        statement[last] ^= 1;
        sqlx::query("UPDATE verdicts SET statement = ? WHERE seq = ?")
            .bind(statement)
            .bind(altered.seq as i64)
            .execute(&db)
            .await
            .expect("alter");
        // Run A already has this validator's verdict: give the moved one a fresh key.
        sqlx::query("UPDATE verdicts SET run_id = ?, validator = 'moved' WHERE seq = ?")
            .bind(run_a.as_str())
            .bind(moved.seq as i64)
            .execute(&db)
            .await
            .expect("move");
        db.close().await;
    }
    harness.restart().await;

    // A validator's own check names both, and why.
    let served = ledger(&harness, 100).await;
    let validators = ValidatorSet::new([DevKey::Alice, DevKey::Ferdie].map(|k| (Hotkey::new(k.address()), 1)));
    let verified = consensus::verify_ledger(&served, &validators);
    assert_eq!(verified.accepted.len(), 2);
    let rejected: Vec<(u64, String)> = verified.rejected.iter().map(|r| (r.seq, r.to_string())).collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert_eq!(verified.rejected[0].seq, altered.seq);
    assert!(matches!(verified.rejected[0].reason, Rejection::Invalid(_)), "{rejected:?}");
    assert!(
        rejected[0].1.starts_with(&format!("verdict #{} (run {run_a}) rejected: the signature does not verify", altered.seq)),
        "{rejected:?}"
    );
    assert_eq!(verified.rejected[1].seq, moved.seq);
    assert!(
        matches!(&verified.rejected[1].reason, Rejection::MislabelledRun { served, signed } if *served == run_a && *signed == moved.run_id),
        "{rejected:?}"
    );
    // The coordinator's own board applies the same function: both runs lost a verdict and,
    // one short of the quorum, count for nobody.
    let standings = standings(&harness).await;
    assert_eq!(standings.rejected.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![altered.seq, moved.seq]);
    assert_eq!(standings.runs_pending, 2, "{standings:?}");
    let board = harness.leaderboard().await;
    assert_eq!((board[0].resolved, board[0].pending), (0, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_killed_mid_grade_has_its_grade_released_and_no_run_counts_twice() {
    let harness = Harness::start_with(redundant(2)).await;
    let tasks = harness.publish_tasks(1).await;
    harness.submit_agent("noop").await;
    let _runner = harness.spawn_worker_as(DevKey::Alice, "runner", Capability::RunAgent, 1, Arc::new(CannedRunner::completing("r")));
    harness.wait_for_progress("the run", |p| p.runs_done == 1).await;

    // Dave takes a grade and dies without a word.
    let mut dave = RawWorker::connect_as(harness.url(), DevKey::Dave, "v-dave", pb::Capability::Grade, 1).await;
    let held = dave.next_grade().await;
    drop(dave);

    // Ferdie and Charlie arrive: one takes the free slot, and Dave's slot, back in the queue
    // once his lease runs out, goes to the other.
    let resolve = || CannedValidator::resolving([tasks[0].clone()]);
    let ferdie = Arc::new(resolve().signing_as(DevKey::Ferdie));
    let charlie = Arc::new(resolve().signing_as(DevKey::Charlie));
    let _f = harness.spawn_worker_as(DevKey::Ferdie, "v-ferdie", Capability::Grade, 2, ferdie.clone());
    let _c = harness.spawn_worker_as(DevKey::Charlie, "v-charlie", Capability::Grade, 2, charlie.clone());
    let progress = harness.wait_for_progress("both slots filled", |p| p.grades_done == 2).await;
    assert_eq!(progress.grades_total, 2);
    let graded: Vec<GradeAssignment> = ferdie.seen.all().into_iter().chain(charlie.seen.all()).collect();
    assert_eq!(graded.len(), 2, "one slot each: {graded:?}");
    let released = graded.iter().find(|g| g.grade_id == held.grade_id).expect("Dave's slot was re-leased");
    assert_eq!(released.attempt, 2);

    // Dave's verdict arrives late: it is a third signed opinion on the run, never a second
    // result. Sent again, it changes nothing.
    let dave = RawWorker::connect_as(harness.url(), DevKey::Dave, "v-dave", pb::Capability::Grade, 1).await;
    let late = signed_report(&held, DevKey::Dave, true);
    let message = pb::WorkerMessage { kind: Some(pb::worker_message::Kind::GradeReport(late.into())) };
    dave.send(message.clone()).await;
    let mut dave = dave;
    assert!(dave.next_ack().await.accepted, "a late verdict by a validator new to the run is evidence");
    dave.send(message).await;
    assert!(!dave.next_ack().await.accepted, "only a validator's first verdict on a run counts");

    let records = harness.scores().runs(pb::RunsRequest::default()).await.expect("runs").into_inner().runs;
    assert_eq!((records.len(), records[0].verdicts, records[0].consensus.as_str()), (1, 3, "resolved"));
    let board = harness.leaderboard().await;
    assert_eq!((board[0].resolved, board[0].graded, board[0].tasks), (1, 1, 1), "one task, counted once");
    let digest: Digest = records[0].task_digest.parse().expect("digest");
    assert_eq!(digest, tasks[0]);
}
