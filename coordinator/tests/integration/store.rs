//! Durable state: the real migrations on a real SQLite file and a real PostgreSQL database,
//! what survives a restart, and the leases on solve jobs' rows. Every test here runs on both
//! (`backends`).

use std::sync::Arc;
use std::time::Duration;

use whetstone_chain::wallet::dev::DevKey;
use whetstone_coordinator::solve::keys::{JobLease, KeyLimits, KeyStore};
use whetstone_coordinator::store::{
    CompletedRun, Counts, ExpiredLease, GradeLease, GradePurpose, HeldLease, LeaseTerms, LeasedJob, NewAgent, NewTask, NewVerdict,
    Recorded, RunCost, SqlStore, Store,
};
use whetstone_proto::job::{Capability, RunOutcome, RunReport};
use whetstone_proto::pb;
use whetstone_tasks::{Digest, Hotkey, RunId};

use crate::backends::on_each_backend;
use crate::support::{CannedRunner, CannedValidator, HOTKEY, Harness, RawWorker, run_report};

on_each_backend! {
    async fn migrations_apply_to_a_fresh_database_and_state_survives_reopening(db) {
        let dir = tempfile::tempdir().expect("temporary dir");
        let url = db.url(&dir.path().join("not-yet"));
        let store = SqlStore::open(&url).await.expect("a fresh database opens and migrates");
        assert_eq!(store.counts().await.expect("counts"), Counts::default());
        assert_eq!(store.task_count().await.expect("task count"), 0);
        assert!(store.agents().await.expect("agents").is_empty());

        let agent = NewAgent {
            digest: Digest::of_bytes(b"agent"),
            name: "noop".into(),
            version: "0.1.0".into(),
            hotkey: Hotkey::parse(HOTKEY).expect("valid hotkey"),
            claimed_at_ms: 1,
            claim_signature: vec![7; 64],
        };
        assert!(store.insert_agent(&agent).await.expect("insert agent"));
        assert!(!store.insert_agent(&agent).await.expect("insert agent again"), "an agent is stored once");
        let task = NewTask { digest: Digest::of_bytes(b"task"), task_id: "some-task".into(), timeout_secs: 60 };
        assert!(store.insert_task(&task).await.expect("insert task"));
        assert_eq!(store.schedule_missing_runs(None).await.expect("schedule"), 1);
        assert_eq!(store.schedule_missing_runs(None).await.expect("schedule again"), 0, "one run per agent and task");
        assert_eq!(store.queue_depth().await.expect("queue depth"), (1, 0));
        // Lease times are whatever the caller says: the store reads no clock.
        let terms = |worker| LeaseTerms { worker, coordinator: "coordinator-a", expires_at_ms: 10_000 };
        let claimed = store.claim_run(&terms("runner-1")).await.expect("claim").expect("a queued run");
        assert_eq!(claimed.attempt, 1);
        assert_eq!(store.queue_depth().await.expect("queue depth"), (0, 0), "a leased run waits for nobody");
        let run = claimed.run;
        assert_eq!(store.claim_run(&terms("runner-2")).await.expect("claim again"), None, "a leased run is not leased twice");
        store.close().await;

        // Reopening applies no migration twice and keeps everything, the lease too.
        let store = SqlStore::open(&url).await.expect("the database reopens");
        assert_eq!(store.agents().await.expect("agents").len(), 1);
        assert_eq!(store.counts().await.expect("counts").runs_total, 1);
        let lease = HeldLease { job: LeasedJob::Run(run.run_id.clone()), worker: "runner-1".into(), expires_at_ms: 10_000 };
        assert_eq!(store.held_leases("coordinator-a").await.expect("leases"), vec![lease]);
        // Renewed only by its holder; a heartbeat through another coordinator moves it there.
        let job = vec![run.run_id.to_string()];
        let renew = |worker| LeaseTerms { worker, coordinator: "coordinator-b", expires_at_ms: 20_000 };
        assert!(store.renew_leases(&renew("runner-2"), &job).await.expect("renew").is_empty(), "not runner-2's lease");
        assert_eq!(store.renew_leases(&renew("runner-1"), &job).await.expect("renew").len(), 1);
        assert!(store.held_leases("coordinator-a").await.expect("leases").is_empty());
        assert_eq!(store.held_leases("coordinator-b").await.expect("leases").len(), 1);
        // It runs out at its expiry, not before, and is reported once.
        assert!(store.expire_leases(19_999, 3).await.expect("expire").is_empty());
        let expired = ExpiredLease { job: LeasedJob::Run(run.run_id.clone()), worker: "runner-1".into(), requeued: true };
        assert_eq!(store.expire_leases(20_000, 3).await.expect("expire"), vec![expired]);
        assert!(store.expire_leases(20_000, 3).await.expect("expire again").is_empty(), "each expiry is reported once");
        // The worker that lost it cannot requeue it any more.
        assert_eq!(store.requeue_run(&run.run_id, "runner-1", 3, "late failure").await.expect("requeue"), None);
        let again = store.claim_run(&terms("runner-2")).await.expect("claim").expect("the requeued run");
        assert_eq!((again.run.run_id.clone(), again.attempt), (run.run_id.clone(), 2), "attempts are durable");

        let report = RunReport {
            run_id: run.run_id.clone(),
            outcome: RunOutcome::Completed,
            patch: b"diff".to_vec(),
            exit_code: 0,
            log: String::new(),
            duration: Duration::from_secs(1),
            error: String::new(),
            llm: whetstone_proto::job::LlmUsage { spent_micro_usd: 1_250, ..Default::default() },
            sandbox: Duration::from_millis(700),
        };
        let runner = Hotkey::parse(HOTKEY).expect("valid hotkey");
        assert_eq!(store.complete_run(&report, "runner-2", &runner, 2).await.expect("complete"), Recorded::Accepted);
        assert_eq!(store.complete_run(&report, "runner-1", &runner, 2).await.expect("complete again"), Recorded::Duplicate);
        let unknown = RunReport { run_id: RunId::new("run-unknown"), ..report };
        assert_eq!(store.complete_run(&unknown, "runner-1", &runner, 2).await.expect("complete unknown"), Recorded::Unknown);
        let counts = store.counts().await.expect("counts");
        assert_eq!(counts, Counts { runs_total: 1, runs_done: 1, grades_total: 2, grades_done: 0 }, "one grade slot per replica");
        assert_eq!(store.queue_depth().await.expect("queue depth"), (0, 2), "both grade slots wait");
        let spent = RunCost { llm_micro_usd: 1_250, sandbox_ms: 700 };
        assert_eq!(store.agent_costs().await.expect("costs"), vec![(run.agent.clone(), spent)], "the first report's cost, once");
        assert_eq!(store.run_records(None).await.expect("records")[0].cost, spent);

        // A validator holds at most one slot of a run; the other slot goes to another validator.
        let slots = store.queued_grades(10).await.expect("queued grades");
        assert_eq!(slots.len(), 2);
        assert_eq!(slots[0].runner.as_ref(), Some(&runner));
        let (alice, ferdie) = (Hotkey::new(whetstone_chain::wallet::dev::ALICE), Hotkey::new(whetstone_chain::wallet::dev::FERDIE));
        let (attempt, patch) = store.lease_grade(&slots[0].grade_id, &terms("validator-a"), &alice).await.expect("lease").expect("leased");
        assert_eq!((attempt, patch.as_slice()), (1, b"diff".as_slice()), "the lease carries the run's patch");
        let twice = store.lease_grade(&slots[1].grade_id, &terms("validator-a2"), &alice).await.expect("lease");
        assert_eq!(twice, None, "not twice to one hotkey");
        assert_eq!(store.queued_grades(10).await.expect("queued")[0].taken_by, vec![alice.clone()]);
        assert!(store.lease_grade(&slots[1].grade_id, &terms("validator-f"), &ferdie).await.expect("lease").is_some());
        // A grade lease is what opens a task's grading part to its holder, for that task only.
        assert!(store.holds_grade_lease(&alice, &task.digest).await.expect("lease lookup"));
        assert!(!store.holds_grade_lease(&alice, &Digest::of_bytes(b"another task")).await.expect("lease lookup"));
        assert!(!store.holds_grade_lease(&runner, &task.digest).await.expect("lease lookup"), "running is not grading");
        // Only the holder requeues a slot, and a requeued slot is free for anyone again.
        assert_eq!(store.requeue_grade(&slots[0].grade_id, "validator-f", 3, "not mine").await.expect("requeue"), None);
        assert_eq!(store.requeue_grade(&slots[0].grade_id, "validator-a", 3, "docker died").await.expect("requeue"), Some(true));
        assert!(!store.holds_grade_lease(&alice, &task.digest).await.expect("lease lookup"), "the lease is gone");
        assert!(store.grades_for_run(&run.run_id).await.expect("grades").iter().all(|g| g.validator.as_ref() != Some(&alice)));
        store.close().await;
    }
}

on_each_backend! {
    async fn results_survive_a_coordinator_restart(db) {
        let mut harness = Harness::start_on(db, |_| {}).await;
        let tasks = harness.publish_tasks(2).await;
        harness.submit_agent("noop").await;
        let runner = harness.spawn_worker("runner-1", Capability::RunAgent, 2, Arc::new(CannedRunner::completing("runner-1")));
        let validator = harness.spawn_worker("validator-1", Capability::Grade, 2, Arc::new(CannedValidator::resolving([tasks[1].clone()])));
        let before = harness.wait_for_progress("the round", |p| (p.runs_done, p.grades_done) == (2, 2)).await;
        let board = harness.leaderboard().await;
        let weights = harness.weights().await;
        assert_eq!((board[0].resolved, board[0].graded), (1, 2), "{board:?}");
        runner.stop().await;
        validator.stop().await;

        harness.restart().await;

        assert_eq!(harness.leaderboard().await, board);
        assert_eq!(harness.weights().await, weights);
        let after = harness.progress().await;
        let counts = |p: &pb::ProgressResponse| (p.runs_total, p.runs_done, p.grades_total, p.grades_done);
        assert_eq!(counts(&after), counts(&before));
    }
}

on_each_backend! {
    async fn a_run_leased_at_shutdown_stays_with_its_worker_across_a_restart(db) {
        // Leases far longer than the test: nothing may take the run from its worker.
        let mut harness = Harness::start_on(db, |config| config.lease_secs = 600).await;
        harness.publish_tasks(1).await;
        harness.submit_agent("noop").await;

        // The worker is mid-run when the coordinator stops; stopping ends its session.
        let mut holder = RawWorker::connect(harness.url(), "runner-a", pb::Capability::RunAgent, 1).await;
        let leased = holder.next_run().await;
        assert_eq!(leased.attempt, 1);
        harness.restart().await;
        holder.ended().await;

        // Another runner is ready on the new process, but the lease is in the database and
        // still runs: the run is not handed out again.
        let runner = Arc::new(CannedRunner::completing("runner-b"));
        let _runner = harness.spawn_worker("runner-b", Capability::RunAgent, 1, runner.clone());
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(runner.seen.all().is_empty(), "the run was handed out again: {:?}", runner.seen.all());

        // The worker comes back, its heartbeat renews the lease here, and its report counts.
        let mut back = RawWorker::connect(harness.url(), "runner-a", pb::Capability::RunAgent, 1).await;
        let beat = pb::Heartbeat { active_job_ids: vec![leased.run_id.clone()] };
        back.send(pb::WorkerMessage { kind: Some(pb::worker_message::Kind::Heartbeat(beat)) }).await;
        back.send(run_report(&leased.run_id, pb::RunOutcome::Completed, b"diff --git a/x b/x\n")).await;
        let ack = back.next_ack().await;
        assert_eq!((ack.job_id.as_str(), ack.accepted), (leased.run_id.as_str(), true));
        let progress = harness.wait_for_progress("the run to finish", |p| p.runs_done == 1).await;
        assert_eq!((progress.runs_total, progress.grades_total), (1, 1));
        assert!(runner.seen.all().is_empty(), "{:?}", runner.seen.all());
    }
}

on_each_backend! {
    async fn a_worker_back_with_a_job_from_before_a_restart_gets_no_more_than_its_room(db) {
        let mut harness = Harness::start_on(db, |config| config.lease_secs = 600).await;
        harness.publish_tasks(2).await;
        harness.submit_agent("noop").await;
        let bob = DevKey::of_address(HOTKEY).unwrap_or(DevKey::Bob);
        let mut worker = RawWorker::connect_as(harness.url(), bob, "runner-a", pb::Capability::RunAgent, 1).await;
        let first = worker.next_run().await;
        harness.restart().await;
        worker.ended().await;

        // Back with the first run still going and room for one: nothing more until it reports.
        let active = [first.run_id.as_str()];
        let mut back = RawWorker::connect_running(harness.url(), bob, "runner-a", pb::Capability::RunAgent, 1, &active).await;
        let early = back.next_within(Duration::from_millis(800)).await;
        assert!(early.is_none(), "a worker at capacity was sent more work: {early:?}");
        back.send(run_report(&first.run_id, pb::RunOutcome::Completed, b"diff --git a/x b/x\n")).await;
        let ack = back.next_ack().await;
        assert_eq!((ack.job_id.as_str(), ack.accepted), (first.run_id.as_str(), true), "its lease was renewed here");
        let second = back.next_run().await;
        assert_ne!(second.run_id, first.run_id);
    }
}

on_each_backend! {
    async fn concurrent_claims_from_two_stores_never_take_a_run_twice(db) {
        let dir = tempfile::tempdir().expect("temporary dir");
        let url = db.url(dir.path());
        // Two pools on one database, as two coordinators have.
        let stores = [SqlStore::open(&url).await.expect("open"), SqlStore::open(&url).await.expect("open again")];
        let miner = Hotkey::parse(HOTKEY).expect("valid hotkey");
        let agent = NewAgent {
            digest: Digest::of_bytes(b"agent"),
            name: "noop".into(),
            version: "1".into(),
            hotkey: miner,
            claimed_at_ms: 1,
            claim_signature: vec![7; 64],
        };
        stores[0].insert_agent(&agent).await.expect("agent");
        for task in 0..40 {
            let digest = Digest::of_bytes(format!("task {task}").as_bytes());
            stores[0].insert_task(&NewTask { digest, task_id: format!("task-{task:02}"), timeout_secs: 60 }).await.expect("task");
        }
        assert_eq!(stores[0].schedule_missing_runs(None).await.expect("schedule"), 40);

        // Eight claimers, four per store, claim until the queue is empty.
        let mut claimers = tokio::task::JoinSet::new();
        for claimer in 0..8 {
            let store = stores[claimer % 2].clone();
            claimers.spawn(async move {
                let worker = format!("runner-{claimer}");
                let terms = LeaseTerms { worker: &worker, coordinator: if claimer % 2 == 0 { "a" } else { "b" }, expires_at_ms: i64::MAX };
                let mut taken = Vec::new();
                while let Some(claimed) = store.claim_run(&terms).await.expect("claim") {
                    taken.push(claimed.run.run_id);
                }
                taken
            });
        }
        let mut taken: Vec<RunId> = claimers.join_all().await.into_iter().flatten().collect();
        assert_eq!(taken.len(), 40, "every run claimed");
        taken.sort();
        taken.dedup();
        assert_eq!(taken.len(), 40, "no run claimed twice");
        let held = stores[0].held_leases("a").await.expect("a").len() + stores[1].held_leases("b").await.expect("b").len();
        assert_eq!(held, 40);
        for store in &stores {
            store.close().await;
        }
    }
}

on_each_backend! {
    async fn solve_job_rows_are_closed_only_by_their_coordinator_or_once_its_lease_ran_out(db) {
        let dir = tempfile::tempdir().expect("temporary dir");
        let keys = KeyStore::open(&db.url(dir.path())).await.expect("a fresh database opens and migrates");
        // One key per job, so each key's spend is its job's: the budget while the row is open,
        // 0 once closed as failed, what it spent once finished.
        let mut key_ids = Vec::new();
        for name in ["a-live", "b-live", "b-done", "a-queued"] {
            key_ids.push(keys.create(name, KeyLimits::default()).await.expect("key").0.key_id);
        }
        let spend = || async {
            let listed = keys.list().await.expect("list");
            listed.iter().map(|k| (k.name.clone(), k.spent_micro_usd)).collect::<std::collections::BTreeMap<_, _>>()
        };
        let lease = |coordinator, expires_at_ms| JobLease { coordinator, expires_at_ms };
        keys.job_created("solve-1", &key_ids[0], "sha256:agent", 100, lease("a", 10_000)).await.expect("job");
        keys.job_created("solve-2", &key_ids[1], "sha256:agent", 200, lease("b", 10_000)).await.expect("job");
        keys.job_created("solve-3", &key_ids[2], "sha256:agent", 300, lease("b", 10_000)).await.expect("job");
        keys.job_finished("solve-3", "diff", 30).await.expect("finished");
        keys.job_created("solve-4", &key_ids[3], "sha256:agent", 400, lease("a", 10_000)).await.expect("job");

        // A renewal moves its holder's unfinished rows only.
        assert_eq!(keys.renew_job_leases(lease("a", 20_000)).await.expect("renew"), 2);
        // Rows run out at their expiry, not before, and are closed once.
        assert_eq!(keys.close_expired_jobs(9_999).await.expect("close"), 0);
        assert_eq!(keys.close_expired_jobs(10_000).await.expect("close"), 1, "b stopped renewing solve-2");
        assert_eq!(keys.close_expired_jobs(10_000).await.expect("close again"), 0);
        let expected = |a_live: u64, b_live: u64, a_queued: u64| -> std::collections::BTreeMap<String, u64> {
            [("a-live", a_live), ("b-live", b_live), ("b-done", 30), ("a-queued", a_queued)].map(|(name, spent)| (name.to_owned(), spent)).into()
        };
        assert_eq!(spend().await, expected(100, 0, 400), "a's jobs hold their budgets, b's finished one keeps its spend");

        // A coordinator that stops closes its own rows and nobody else's.
        keys.job_created("solve-5", &key_ids[1], "sha256:agent", 50, lease("b", 30_000)).await.expect("job");
        assert_eq!(keys.close_jobs_of("a", 15_000).await.expect("close a's"), 2);
        assert_eq!(spend().await, expected(0, 50, 0));
        assert_eq!(keys.renew_job_leases(lease("a", 40_000)).await.expect("renew"), 0, "a holds nothing any more");
        // A job closed while its coordinator still ran it gets its real end when it finishes.
        keys.job_finished("solve-2", "diff", 70).await.expect("finished");
        assert_eq!(spend().await, expected(0, 120, 0));
    }
}

on_each_backend! {
    async fn a_batch_gives_each_item_what_it_would_get_alone(db) {
        // The scheduler records a batch of reports and leases a dispatch pass in one
        // transaction per kind: duplicates and unknown jobs inside a batch must come out as
        // they would one at a time, and in the batch's order.
        let dir = tempfile::tempdir().expect("temporary dir");
        let store = SqlStore::open(&db.url(dir.path())).await.expect("store opens");
        let hotkey = Hotkey::parse(HOTKEY).expect("valid hotkey");
        for (index, name) in ["first", "second", "third"].into_iter().enumerate() {
            let task = NewTask { digest: Digest::of_bytes(name.as_bytes()), task_id: format!("task-{index}"), timeout_secs: 60 };
            store.insert_task(&task).await.expect("insert task");
        }
        let agent = NewAgent {
            digest: Digest::of_bytes(b"agent"),
            name: "noop".into(),
            version: "0.1.0".into(),
            hotkey: hotkey.clone(),
            claimed_at_ms: 1,
            claim_signature: vec![7; 64],
        };
        store.insert_agent(&agent).await.expect("insert agent");
        assert_eq!(store.schedule_missing_runs(None).await.expect("schedule"), 3, "three runs with one timestamp");

        // Four takers, three runs: each taker in turn gets the oldest left, ties by id.
        let terms = |worker| LeaseTerms { worker, coordinator: "coordinator-a", expires_at_ms: 10_000 };
        let takers = [terms("runner-1"), terms("runner-2"), terms("runner-1"), terms("runner-3")];
        let claimed = store.claim_runs(&takers).await.expect("claim");
        let mut ids: Vec<RunId> = claimed.iter().map(|c| c.run.run_id.clone()).collect();
        assert_eq!(ids.len(), 3, "as many as were queued");
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first, ties by id: {ids:?}");
        assert_eq!(store.claim_runs(&takers).await.expect("claim again"), Vec::new());

        // Runs: accepted, the same again (duplicate), an unknown run, and a crashed one
        // (recorded, but nothing to grade).
        let report = |run_id: &RunId, outcome| RunReport {
            run_id: run_id.clone(),
            outcome,
            patch: format!("diff {run_id}").into_bytes(),
            exit_code: 0,
            log: String::new(),
            duration: Duration::from_secs(1),
            error: String::new(),
            llm: Default::default(),
            sandbox: Duration::from_millis(5),
        };
        let reports = [
            report(&ids[0], RunOutcome::Completed),
            report(&ids[1], RunOutcome::Completed),
            report(&ids[0], RunOutcome::Completed),
            report(&RunId::new("run-unknown"), RunOutcome::Completed),
            report(&ids[2], RunOutcome::AgentError),
        ];
        let batch: Vec<CompletedRun<'_>> = reports.iter().map(|report| CompletedRun { report, worker: "runner-1", runner: &hotkey }).collect();
        let recorded = store.complete_runs(&batch, 2).await.expect("complete");
        use Recorded::{Accepted, Duplicate, Unknown};
        assert_eq!(recorded, vec![Accepted, Accepted, Duplicate, Unknown, Accepted]);
        let counts = store.counts().await.expect("counts");
        assert_eq!((counts.runs_done, counts.grades_total), (3, 4), "two slots for each completed run, none for the crashed one");

        // Slots: one validator gets one slot of a run even when a pass asks for two.
        let slots = store.queued_grades(10).await.expect("queued");
        let of_run = |run: &RunId| slots.iter().filter(|s| &s.run_id == run).map(|s| s.grade_id.clone()).collect::<Vec<_>>();
        let (first, second) = (of_run(&ids[0]), of_run(&ids[1]));
        let (alice, ferdie) = (Hotkey::new(whetstone_chain::wallet::dev::ALICE), Hotkey::new(whetstone_chain::wallet::dev::FERDIE));
        let lease = |grade_id, worker, validator| GradeLease { grade_id, terms: terms(worker), validator };
        let leases = [
            lease(&first[0], "validator-a", &alice),
            lease(&first[1], "validator-a", &alice),
            lease(&second[0], "validator-f", &ferdie),
            lease(&first[1], "validator-f", &ferdie),
        ];
        let leased = store.lease_grades(&leases).await.expect("lease");
        assert_eq!(leased.iter().map(Option::is_some).collect::<Vec<_>>(), vec![true, false, true, true]);
        assert_eq!(leased[2].as_ref().map(|(attempt, patch)| (*attempt, patch.clone())), Some((1, format!("diff {}", ids[1]).into_bytes())));

        // What each verdict is about, in order, unknown ones as None.
        let unknown = whetstone_tasks::GradeId::new("grade-unknown");
        let asked = [first[1].clone(), unknown.clone(), first[0].clone()];
        let subjects = store.grade_subjects(&asked).await.expect("subjects");
        assert_eq!(subjects.iter().map(|s| s.as_ref().map(|s| s.run_id.clone())).collect::<Vec<_>>(), vec![
            Some(ids[0].clone()),
            None,
            Some(ids[0].clone())
        ]);

        // Verdicts: accepted, the same validator on the same run again (duplicate), an
        // unknown grade, and another validator on that run.
        let grade_report = |grade_id: &whetstone_tasks::GradeId| whetstone_proto::job::GradeReport {
            grade_id: grade_id.clone(),
            verdict: whetstone_tasks::Verdict {
                status: whetstone_tasks::VerdictStatus::Resolved,
                fail_to_pass_passed: 1,
                fail_to_pass_total: 1,
                pass_to_pass_passed: 0,
                pass_to_pass_total: 0,
                tests: Vec::new(),
                notes: String::new(),
            },
            log: String::new(),
            duration: Duration::from_millis(3),
            signed: None,
        };
        let signed = |validator: &Hotkey| whetstone_chain::verdict::SignedVerdict {
            statement: format!("statement by {validator}").into_bytes(),
            signature: vec![1; 64],
        };
        let (by_alice, by_ferdie) = (signed(&alice), signed(&ferdie));
        let reports = [grade_report(&first[0]), grade_report(&first[0]), grade_report(&unknown), grade_report(&first[1])];
        let verdicts = [
            NewVerdict { report: &reports[0], run_id: &ids[0], validator: &alice, signed: &by_alice, worker: "validator-a" },
            NewVerdict { report: &reports[1], run_id: &ids[0], validator: &alice, signed: &by_alice, worker: "validator-a" },
            NewVerdict { report: &reports[2], run_id: &ids[0], validator: &alice, signed: &by_alice, worker: "validator-a" },
            NewVerdict { report: &reports[3], run_id: &ids[0], validator: &ferdie, signed: &by_ferdie, worker: "validator-f" },
        ];
        assert_eq!(store.record_verdicts(&verdicts).await.expect("record"), vec![Accepted, Duplicate, Unknown, Accepted]);
        let ledger = store.verdicts_after(0, 10).await.expect("ledger");
        assert_eq!(ledger.len(), 2, "one ledger row per (run, validator)");

        // Gradings, in the order asked, and extra slots in one go.
        ids.push(RunId::new("run-unknown"));
        let gradings = store.run_gradings(&[ids[1].clone(), ids[0].clone(), ids[3].clone()]).await.expect("gradings");
        assert_eq!(gradings[0].statements.len(), 0);
        assert_eq!(gradings[1].statements.len(), 2);
        assert_eq!(gradings[1].slots.iter().filter(|(_, open)| !open).count(), 2, "both of the first run's slots are filled");
        assert_eq!(gradings[2], Default::default(), "an unknown run has nothing");
        let added = store.add_grades(&[(ids[0].clone(), GradePurpose::Audit), (ids[1].clone(), GradePurpose::Dispute)]).await.expect("add");
        assert_eq!(added.len(), 2);
        assert_eq!(store.counts().await.expect("counts").grades_total, 6);
    }
}

#[tokio::test]
async fn an_unreachable_postgres_server_is_a_clear_error_without_the_password() {
    // Port 1 on loopback: nothing listens there.
    let url: whetstone_coordinator::DatabaseUrl = "postgres://whetstone:hunter2@127.0.0.1:1/whetstone".parse().expect("valid URL");
    let error = SqlStore::open(&url).await.expect_err("nothing listens on port 1");
    let chain = whetstone_proto::error_chain(&error);
    assert!(chain.contains("failed to connect to the database at postgres://whetstone:***@127.0.0.1:1/whetstone"), "{chain}");
    assert!(chain.to_lowercase().contains("refused"), "the cause is named: {chain}");
    assert!(!chain.contains("hunter2"), "{chain}");
}

/// On SQLite the coordinator's checkpointer copies the WAL back into the database file, so no
/// writer pays for it inside a commit; SQLite's own checkpoint waits for 16,384 pages, so without
/// it the few pages written here would stay in the WAL until the store closes.
#[tokio::test]
async fn on_sqlite_the_wal_is_copied_into_the_database_file_in_the_background() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().expect("temporary dir");
    let url = whetstone_coordinator::store::DatabaseUrl::in_data_dir(dir.path());
    let whetstone_coordinator::store::DatabaseUrl::Sqlite(path) = &url else { panic!("SQLite by default") };
    let store = SqlStore::open(&url).await.expect("open");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let checkpoints = store.spawn_checkpoints(Duration::from_millis(50), shutdown.clone()).expect("SQLite has a checkpointer");
    for task in 0..200 {
        let digest = Digest::of_bytes(format!("task {task}").as_bytes());
        store.insert_task(&NewTask { digest, task_id: format!("task-{task:03}"), timeout_secs: 60 }).await.expect("task");
    }
    // The file holds every page once the WAL is copied back: its length is the page count
    // times the page size (a reader's view, which copies nothing itself).
    let mut reader = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.expect("a reader");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (pages, page_size): (i64, i64) = sqlx::query_as("SELECT page_count, page_size FROM pragma_page_count(), pragma_page_size()")
            .fetch_one(&mut reader)
            .await
            .expect("pages");
        let on_disk = std::fs::metadata(path).expect("the database file").len();
        if on_disk == u64::try_from(pages * page_size).expect("positive") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the WAL was not checkpointed: the file has {on_disk} bytes of {pages} pages");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reader.close().await.expect("close the reader");
    shutdown.cancel();
    checkpoints.await.expect("the checkpointer stops");
    store.close().await;
}
