//! Copied agents: a submission that is a disguised copy of another miner's earlier agent is
//! refused (the default policy) or accepted and marked on the leaderboard ("flag"); agents
//! written independently, and a miner's new version of its own agent, are not copies.

use std::collections::HashMap;
use std::path::Path;

use tonic::Code;
use whetstone_chain::wallet::dev::DevKey;
use whetstone_proto::pb;
use whetstone_tasks::AgentPackage;

use crate::support::{Harness, example_agent};

/// The example agent `name` as a copier would disguise it: every function it defines renamed,
/// comments dropped and others added, indentation changed, a new name in `agent.toml`.
fn disguised(name: &str, dir: &Path) -> AgentPackage {
    let source_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/agents").join(name);
    let source = std::fs::read_to_string(source_dir.join("agent.py")).expect("agent.py");
    let mut renames = HashMap::new();
    for line in source.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("def ") {
            let defined: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let renamed = format!("helper_{}", renames.len());
            renames.entry(defined).or_insert(renamed);
        }
    }
    let mut out = String::from("# my very own agent\n");
    for (n, line) in source.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let mut renamed = " ".repeat(indent / 2);
        let mut word = String::new();
        for c in line.trim_start().chars().chain(std::iter::once('\n')) {
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
                continue;
            }
            renamed.push_str(renames.get(&word).map_or(word.as_str(), String::as_str));
            word.clear();
            renamed.push(c);
        }
        out.push_str(&renamed);
        if n % 10 == 0 {
            out.push_str("# tuned\n");
        }
    }
    std::fs::write(dir.join("agent.py"), out).expect("write agent.py");
    let manifest = std::fs::read_to_string(source_dir.join("agent.toml")).expect("agent.toml");
    std::fs::write(dir.join("agent.toml"), manifest.replace(&format!("name = \"{name}\""), "name = \"original-work\""))
        .expect("write manifest");
    AgentPackage::from_dir(dir).expect("the disguised copy is a valid agent")
}

fn submission(key: DevKey, package: &AgentPackage) -> pb::SubmitAgentRequest {
    pb::SubmitAgentRequest { hotkey: key.address().into(), package: package.bundle.to_tar().expect("tar"), ..Default::default() }
}

#[tokio::test]
async fn a_disguised_copy_of_another_miners_agent_is_refused_and_independent_agents_are_not() {
    let harness = Harness::start().await;
    let repair = example_agent("repair");
    harness.submit(submission(DevKey::Bob, &repair)).await.expect("the original");
    for independent in ["noop", "cheater", "llm"] {
        harness.submit(submission(DevKey::Charlie, &example_agent(independent))).await.unwrap_or_else(|e| panic!("{independent}: {e}"));
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let copy = disguised("repair", dir.path());
    assert_ne!(copy.digest(), repair.digest(), "the copy's bytes differ");
    let refused = harness.submit(submission(DevKey::Dave, &copy)).await.expect_err("a copy is refused");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains(&format!("copy of agent {} submitted by {}", repair.digest(), DevKey::Bob.address())),
        "the refusal names the original and its miner: {}",
        refused.message()
    );
    let board = harness.leaderboard().await;
    assert_eq!(board.len(), 4, "the refused copy left nothing behind");
    assert!(board.iter().all(|e| e.copy_of.is_empty()), "independent agents are not marked: {board:?}");

    // A miner's new version of its own agent is not a copy.
    harness.submit(submission(DevKey::Bob, &copy)).await.expect("Bob may resubmit his own work");
}

#[tokio::test]
async fn with_the_flag_policy_a_copy_runs_and_the_leaderboard_marks_it() {
    let harness = Harness::start_with(|config| config.copies.policy = whetstone_coordinator::copies::CopyPolicy::Flag).await;
    let repair = example_agent("repair");
    harness.submit(submission(DevKey::Bob, &repair)).await.expect("the original");
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = disguised("repair", dir.path());
    harness.submit(submission(DevKey::Dave, &copy)).await.expect("accepted under the flag policy");
    let board = harness.leaderboard().await;
    let marked = board.iter().find(|e| e.name == "original-work").expect("the copy is on the board");
    assert_eq!(marked.copy_of, repair.digest().to_string());
    assert!(marked.copy_permille >= 800, "a disguised copy scores high: {}", marked.copy_permille);
    let original = board.iter().find(|e| e.name == "repair").expect("the original");
    assert!(original.copy_of.is_empty());
}
