//! The memorisation test (issue 15): an agent that carries the gold patches of the shipped
//! sets tops a fixed set and scores nothing on an epoch's fresh tasks. Both figures come from
//! real runs graded in Docker, scored by the public epoch function:
//!
//! - epoch 0 draws three starter tasks from a pool of the six, seeded by a localnet block hash;
//! - epoch 1's fresh tasks are generated from toolz (the curated set's project) with epoch 1's
//!   generator seed, validated in Docker as `whetstone tasks generate` does, and left out of
//!   the memory because they did not exist when it was built;
//! - the memoriser runs on both sets exactly as `whetstone agent test` runs agents.
//!
//! Bounded for CI: three shipped tasks, at most four generator candidates.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use whetstone::agent_tools::{AgentTestOptions, TaskOutcome, Upstream, test_agent};
use whetstone::ui::Spinner;
use whetstone_chain::client::SubtensorClient;
use whetstone_chain::consensus::{Consensus, RunResult, RunTally};
use whetstone_chain::epochs::{self, EpochRules, EpochSeed, FreshTask, PoolTask, epoch_run_id};
use whetstone_sandbox::Sandbox;
use whetstone_tasks::curate::{self, GenerateOptions, ValidationConfig};
use whetstone_tasks::{Digest, TaskSet, VerdictStatus};

fn workspace(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

struct Quiet;

impl curate::CurateProgress for Quiet {
    fn message(&self, text: &str) {
        eprintln!("generate: {text}");
    }

    fn start(&self, total: u64) {
        eprintln!("generate: validating {total} candidates");
    }

    fn advance(&self, label: &str, valid: bool) {
        eprintln!("generate: {label} {}", if valid { "valid" } else { "rejected" });
    }
}

/// A compact set holding only the curated set's toolz project and its tasks, where the
/// generator writes new tasks (leaving out bugs already shipped).
fn toolz_set(dir: &Path) -> PathBuf {
    let curated = workspace("tasks/sets/curated");
    let set = dir.join("toolz-set");
    std::fs::create_dir_all(set.join("tasks")).expect("mkdir");
    std::fs::copy(curated.join("set.toml"), set.join("set.toml")).expect("set.toml");
    copy_dir(&curated.join("projects/toolz-1.2.0"), &set.join("projects/toolz-1.2.0"));
    for entry in std::fs::read_dir(curated.join("tasks")).expect("tasks") {
        let entry = entry.expect("entry");
        if entry.file_name().to_string_lossy().starts_with("toolz-") {
            copy_dir(&entry.path(), &set.join("tasks").join(entry.file_name()));
        }
    }
    set
}

async fn run_memoriser(agent: &Path, set: &Path, tasks: &[String]) -> Vec<TaskOutcome> {
    let defaults = whetstone_coordinator::CoordinatorConfig::default();
    let options = AgentTestOptions {
        agent_dir: agent.to_path_buf(),
        task_sets: vec![set.to_path_buf()],
        tasks: tasks.to_vec(),
        upstream: Upstream::None,
        proxy_config: None,
        budget_micro_usd: 0,
        limits: defaults.agent_limits.into(),
        grade_limits: defaults.grade_limits.into(),
        grade_overhead: Duration::from_secs(defaults.grade_overhead_secs),
        jobs: 2,
    };
    test_agent(&options, &Spinner::new("memoriser")).await.expect("the memoriser runs and is graded")
}

fn tally(epoch: u64, set: &TaskSet, outcomes: &[TaskOutcome], agent: &Digest) -> Vec<RunTally> {
    outcomes
        .iter()
        .map(|outcome| {
            let task = set.tasks.iter().find(|t| t.spec.id == outcome.task_id).expect("task of the set");
            let resolved = outcome.verdict.as_ref().is_some_and(|v| v.status == VerdictStatus::Resolved);
            RunTally {
                run_id: epoch_run_id(epoch, &outcome.task_id),
                task: task.digest().clone(),
                agent: agent.clone(),
                votes: Vec::new(),
                result: if resolved { RunResult::Resolved } else { RunResult::Unresolved },
                disputed_tests: Vec::new(),
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn docker_memoriser_tops_the_shipped_set_and_scores_nothing_on_the_next_epochs_fresh_tasks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let starter = TaskSet::load(&workspace("tasks/sets/starter")).expect("starter set");
    let curated = TaskSet::load(&workspace("tasks/sets/curated")).expect("curated set");

    // The memoriser, with the gold patch of every shipped task.
    let agent = dir.path().join("memoriser");
    copy_dir(&workspace("examples/agents/memoriser"), &agent);
    let (_, remembered) = whetstone::memoriser::write_memory(&agent, &[starter.clone(), curated.clone()]).expect("memory");
    assert_eq!(remembered, starter.tasks.len() + curated.tasks.len(), "one memorised gold patch per shipped task");

    // Two epochs of one block each on a localnet: their boundary hashes seed the sets.
    let node = whetstone_localnet::spawn(whetstone_localnet::LocalnetConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        ..whetstone_localnet::LocalnetConfig::default()
    })
    .await
    .expect("localnet");
    let chain = SubtensorClient::connect(&node.url).await.expect("subxt");
    let genesis = chain.current_block().await.expect("head");
    node.seal_blocks(1).await;
    let rules = EpochRules { genesis_block: genesis, length_blocks: 1, draw: 3, fresh: 4, decay: 0.5 };
    let mut seeds = Vec::new();
    for epoch in 0..2 {
        seeds.push(EpochSeed::derive(epoch, &chain.block_hash(rules.boundary(epoch)).await.expect("boundary hash")));
    }
    node.stop().await;

    // Epoch 1's fresh tasks: generated with its generator seed, validated in Docker.
    let toolz = toolz_set(dir.path());
    let shipped: BTreeSet<String> = std::fs::read_dir(toolz.join("tasks"))
        .expect("tasks")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let sandbox = Sandbox::connect("memoriser-test").await.expect("Docker");
    let generated = curate::pipeline::generate(
        &sandbox,
        &GenerateOptions {
            set_dir: toolz.clone(),
            project: "toolz-1.2.0".into(),
            max_candidates: 4,
            max_combined: 0,
            seed: seeds[1].generator_seed(),
            validation: ValidationConfig { parallel: 2, ..ValidationConfig::default() },
        },
        &Quiet,
    )
    .await
    .expect("generation runs");
    eprintln!("generated {} candidates, {} valid", generated.candidates, generated.valid);
    let unpinned = TaskSet::load_unpinned(&toolz).expect("generated set loads");
    std::fs::write(toolz.join(whetstone_tasks::task::DIGESTS_FILE), unpinned.digests_file()).expect("pin digests");
    let toolz_tasks = TaskSet::load(&toolz).expect("pinned set");
    let fresh: Vec<FreshTask> = toolz_tasks
        .tasks
        .iter()
        .filter(|t| !shipped.contains(&t.spec.id))
        .map(|t| FreshTask { task: t.digest().clone(), epoch: 1, generator_seed: seeds[1].generator_seed() })
        .collect();
    assert!(!fresh.is_empty(), "the generator found no valid bug among its candidates");

    // The sets, as the coordinator and every validator compute them.
    let pool: Vec<PoolTask> = starter.tasks.iter().map(|t| PoolTask { task: t.digest().clone(), eligible_from: 0 }).collect();
    let sets = epochs::epoch_sets(&rules, &seeds, &pool, &fresh);
    assert_eq!((sets[0].drawn.len(), sets[0].fresh.len()), (3, 0));
    assert_eq!((sets[1].drawn.len(), sets[1].fresh.len()), (3, fresh.len().min(4)));
    let ids = |set: &TaskSet, digests: &[Digest]| -> Vec<String> {
        set.tasks.iter().filter(|t| digests.contains(t.digest())).map(|t| t.spec.id.clone()).collect()
    };
    let shipped_ids = ids(&starter, &sets[0].drawn);
    let fresh_ids = ids(&toolz_tasks, &sets[1].fresh);

    // The memoriser on both, graded in Docker as validators grade.
    let on_shipped = run_memoriser(&agent, &starter.path, &shipped_ids).await;
    let on_fresh = run_memoriser(&agent, &toolz, &fresh_ids).await;
    for outcome in on_shipped.iter().chain(&on_fresh) {
        eprintln!("{}", outcome.line());
    }

    // Scored by the epoch function: epoch 0 over its set, epoch 1 over its fresh tasks alone
    // (the epoch's drawn tasks are scored like epoch 0's; this figure is the fresh ones).
    let memoriser = Digest::of_bytes(b"memoriser");
    let mut runs = tally(0, &starter, &on_shipped, &memoriser);
    runs.extend(tally(1, &toolz_tasks, &on_fresh, &memoriser));
    runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    let consensus = Consensus { runs, agents: Vec::new(), validators: Vec::new(), tasks: 0, flaky_tests: BTreeSet::new() };
    let scores = epochs::score_epochs(&consensus, &sets, &rules);
    assert!(scores.out_of_epoch.is_empty(), "{:?}", scores.out_of_epoch);
    let standing = scores.standing(&memoriser).expect("the memoriser took part");
    let shipped_resolved = standing.in_epoch(0).map_or(0, |t| t.resolved);
    let fresh_resolved = standing.in_epoch(1).map_or(0, |t| t.resolved);
    let shipped_score = f64::from(shipped_resolved) / shipped_ids.len() as f64;
    let fresh_score = f64::from(fresh_resolved) / fresh_ids.len() as f64;
    println!(
        "memoriser: shipped set (epoch 0) {shipped_resolved}/{} = {shipped_score:.2}; fresh tasks (epoch 1) {fresh_resolved}/{} = {fresh_score:.2}; carried over into epoch 1 with decay {}: {:.2}",
        shipped_ids.len(),
        fresh_ids.len(),
        rules.decay,
        standing.score
    );
    assert_eq!(shipped_score, 1.0, "the memoriser resolves every shipped task it was drawn: {on_shipped:?}");
    assert_eq!(fresh_score, 0.0, "the memoriser resolves no fresh task: {on_fresh:?}");
    assert!(standing.score < 0.5, "a memorised epoch is outweighed by the fresh one");
}
