//! The main job, end to end: `whetstone devnet` on its embedded defaults runs the example
//! agents on the starter tasks through real gRPC, real Docker and a real SQLite store; two
//! validators grade every patch and agree, each computes its own weights from the signed
//! verdict ledger, and the leaderboard, the weights and the Yuma incentive they earn come out
//! as the agents deserve.

use tokio_util::sync::CancellationToken;
use whetstone::dev_keys;
use whetstone::devnet::{self, DevnetOptions, Reporter};
use whetstone_proto::pb;

struct Quiet;

impl whetstone_sandbox::Progress for Quiet {
    fn message(&self, _msg: &str) {}
}

impl Reporter for Quiet {
    fn step(&self, message: &str) {
        eprintln!("devnet: {message}");
    }

    fn event(&self, message: &str) {
        eprintln!("devnet: {message}");
    }

    fn round(&self, _progress: &pb::ProgressResponse) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn docker_devnet_round_ranks_the_example_agents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = DevnetOptions { data_dir: dir.path().join("devnet"), solve: true, ..DevnetOptions::default() };
    devnet::prepare_data_dir(&options.data_dir).expect("data dir");
    let report = devnet::run(options.clone(), &Quiet, CancellationToken::new()).await.expect("devnet round");

    let score = |name: &str| {
        let entry = report.leaderboard.iter().find(|e| e.name == name).unwrap_or_else(|| panic!("{name} on the board"));
        (entry.resolved, entry.tasks)
    };
    assert_eq!(report.tasks, 6);
    assert_eq!(score("repair"), (4, 6), "the repair agent fixes the four single-token bugs");
    assert_eq!(score("noop"), (0, 6));
    assert_eq!(score("cheater"), (0, 6), "editing tests must earn nothing");
    assert_eq!(report.leaderboard[0].name, "repair");
    assert_eq!(report.runs.len(), 18, "every agent ran on every task");
    // Both validators graded every run and agree on each: the consensus is today's
    // single-validator score, and nobody dissents.
    assert!(
        report.runs.iter().all(|r| r.run_state == "done" && r.verdicts == 2 && r.agreeing == 2 && r.consensus != "pending"),
        "every run graded by both validators, in agreement: {:?}",
        report.runs.iter().map(|r| (&r.task_id, &r.agent_name, r.verdicts, r.agreeing, &r.consensus)).collect::<Vec<_>>()
    );
    assert!(report.scoring.starts_with("consensus/1"), "{}", report.scoring);
    assert_eq!(report.standings.validators.len(), 2);
    for standing in &report.standings.validators {
        assert_eq!((standing.verdicts, standing.agreed, standing.flagged_run_ids.len()), (18, 18, 0), "{standing:?}");
    }
    assert!(report.standings.rejected.is_empty(), "{:?}", report.standings.rejected);

    // Each validator computed the same weights from the ledger itself: only the repair agent's
    // miner (Charlie, uid 2) earns, max-upscaled; set on the localnet through subxt, stored there
    // as submitted, and kept in each validator's audit log.
    assert_eq!(report.hotkeys[2], dev_keys::CHARLIE);
    assert_eq!(report.validators.iter().map(|v| v.name).collect::<Vec<_>>(), vec!["Alice", "Ferdie"]);
    for validator in &report.validators {
        assert_eq!((validator.accepted, validator.rejected, validator.decided, validator.pending), (36, 0, 18, 0));
        assert_eq!((validator.weights.uids.clone(), validator.weights.weights.clone()), (vec![2], vec![65535]), "{}", validator.name);
        let audit = whetstone_chain::FileLedger::new(validator.audit_path.clone());
        assert_eq!(audit.submissions().expect("audit log readable"), vec![validator.weights.clone()]);
        assert!(validator.extrinsic.is_some(), "{}'s weights went on chain", validator.name);
        assert_eq!(validator.weights.extrinsic, validator.extrinsic.as_ref().map(|(hash, _)| hash.clone()));
        assert_eq!(validator.chain_weights, vec![(2, 65535)]);
    }
    // The final leaderboard was read after the coordinator's sync saw both validators' weights:
    // a Yuma epoch over them pays Charlie all of the miners' incentive.
    let view = report.chain.expect("devnet's coordinator has a chain view of its localnet");
    assert_eq!((view.netuid, view.validators_with_weights), (1, 2));
    let repair = report.leaderboard.iter().find(|e| e.name == "repair").expect("repair on the board");
    assert_eq!((repair.uid, repair.incentive), (Some(2), Some(1.0)));
    assert!(report.leaderboard.iter().filter(|e| e.name != "repair").all(|e| e.incentive == Some(0.0)));
    assert_eq!(report.leftover_containers, 0);

    // After the round, --solve sent the first starter task's repository to the best agent
    // through the solve API and got the fix back as a diff.
    let solve = report.solve.clone().expect("--solve ran").expect("the solve job ran");
    assert_eq!((solve.agent.name.as_str(), solve.status.as_str()), ("repair", "diff"), "{solve:?}");
    assert!(solve.diff.contains("toolz/itertoolz.py"), "{}", solve.diff);

    // A second round in the same directory starts clean instead of refusing or mixing results.
    devnet::prepare_data_dir(&options.data_dir).expect("devnet may reuse its own directory");
    assert!(!report.validators[0].audit_path.exists());
}

#[test]
fn devnet_refuses_a_directory_it_did_not_make() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("precious.txt"), b"keep me").expect("write");
    let error = devnet::prepare_data_dir(dir.path()).expect_err("must refuse");
    assert!(error.to_string().contains("not empty"), "{error}");
    assert!(dir.path().join("precious.txt").exists());
}
