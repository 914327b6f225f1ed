//! The main job, end to end: `whetstone devnet` on its embedded defaults runs the example
//! agents on the starter tasks through real gRPC, real Docker and a real SQLite store; two
//! validators grade every patch and agree, each computes its own weights from the signed
//! verdict ledger, and the leaderboard, the weights and the Yuma incentive they earn come out
//! as the agents deserve.

use tokio_util::sync::CancellationToken;
use whetstone::dev_keys;
use whetstone::devnet::{self, DevnetOptions, Reporter};
use whetstone_proto::pb;

/// Prints devnet's steps; with `--serve`, passes on the dashboard's URL once the round is over.
struct Quiet {
    serving: Option<tokio::sync::mpsc::UnboundedSender<String>>,
}

impl whetstone_sandbox::Progress for Quiet {
    fn message(&self, _msg: &str) {}
}

impl Reporter for Quiet {
    fn step(&self, message: &str) {
        eprintln!("devnet: {message}");
        let url = message.strip_prefix("round finished; dashboard at ").and_then(|rest| rest.split_whitespace().next());
        if let (Some(url), Some(serving)) = (url, &self.serving) {
            let _ = serving.send(url.to_owned());
        }
    }

    fn event(&self, message: &str) {
        eprintln!("devnet: {message}");
    }

    fn round(&self, _progress: &pb::ProgressResponse) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn docker_devnet_round_ranks_the_example_agents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = DevnetOptions { data_dir: dir.path().join("devnet"), solve: true, serve: true, ..DevnetOptions::default() };
    devnet::prepare_data_dir(&options.data_dir).expect("data dir");
    // With --serve, devnet keeps its dashboard up after the round until told to stop: read
    // the leaderboard page there (the Yuma incentive of the weights just set is on it), then stop.
    let (serving, mut served) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stop = CancellationToken::new();
    let reader = tokio::spawn({
        let stop = stop.clone();
        async move {
            let url = served.recv().await;
            let page = match &url {
                Some(url) => get(url).await,
                None => String::new(),
            };
            stop.cancel();
            page
        }
    });
    let run = devnet::run(options.clone(), &Quiet { serving: Some(serving) }, stop.clone()).await;
    stop.cancel();
    let report = run.expect("devnet round");
    let board = reader.await.expect("the page reader");
    assert!(board.contains("<h1>Leaderboard</h1>") && board.contains(">repair</a>"), "the dashboard served the board: {board}");
    assert!(board.contains("100.0%<div class=\"sub\">uid 2</div>"), "it shows the Yuma incentive the weights earn: {board}");
    assert!(report.dashboard.is_some());

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
    // Devnet runs in one long epoch whose draw takes every starter task (consensus/2 over
    // epochs/1), and each validator, recomputing the set from the localnet's block hash, scores
    // every agent exactly as the coordinator's leaderboard does.
    assert!(report.scoring.starts_with("consensus/2"), "{}", report.scoring);
    assert_eq!(report.epoch, Some(0));
    for validator in &report.validators {
        assert_eq!(validator.epoch, Some(0), "{}", validator.name);
        for entry in &report.leaderboard {
            let own = validator.scores.iter().find(|(digest, _)| digest == &entry.agent_digest).map(|(_, s)| *s);
            assert_eq!(own, Some(entry.score), "{} scores {} as the leaderboard does", validator.name, entry.name);
        }
    }
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

/// The body of a GET to `url`.
async fn get(url: &str) -> String {
    use http_body_util::BodyExt as _;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = client.get(url.parse().expect("a URL")).await.expect("the dashboard answers");
    let body = response.into_body().collect().await.expect("the whole page").to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

#[test]
fn devnet_refuses_a_directory_it_did_not_make() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("precious.txt"), b"keep me").expect("write");
    let error = devnet::prepare_data_dir(dir.path()).expect_err("must refuse");
    assert!(error.to_string().contains("not empty"), "{error}");
    assert!(dir.path().join("precious.txt").exists());
}
