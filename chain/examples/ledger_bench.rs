//! How long a validator takes to verify and score a large verdict ledger: 100,000 signed
//! verdicts (50,000 runs graded by two of 16 validators; 2,000 agents on 25 tasks), verified
//! against the validator set, decided by the scoring function and turned into miner scores.
//! The target is under 2 s on a 2-core machine.
//!
//! ```sh
//! cargo run --release -p whetstone-chain --example ledger_bench [-- VERDICTS]
//! ```

use std::time::Instant;

use whetstone_chain::consensus::{self, LedgerEntry, Rules, ValidatorSet};
use whetstone_chain::verdict::{AgentClaim, VerdictStatement};
use whetstone_chain::wallet::HotkeyPair;
use whetstone_tasks::{Digest, RunId, TestResult, TestStatus, VerdictStatus};

const VALIDATORS: u8 = 16;
const TASKS: usize = 25;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let verdicts: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(100_000);
    let runs = verdicts / 2;
    let agents = runs.div_ceil(TASKS);
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    println!("ledger_bench: {verdicts} verdicts on {runs} runs ({agents} agents × {TASKS} tasks), {VALIDATORS} validators, {cores} cores");

    let keys: Vec<HotkeyPair> = (1..=VALIDATORS).map(|i| HotkeyPair::sr25519_from_seed([i; 32])).collect::<Result<_, _>>()?;
    let validators = ValidatorSet::new(keys.iter().enumerate().map(|(i, k)| (k.hotkey().clone(), 1_000 + i as u64 * 100)));
    let miners: Vec<HotkeyPair> = (0..agents).map(|i| HotkeyPair::sr25519_from_seed(seed(0xA0, i))).collect::<Result<_, _>>()?;
    let tasks: Vec<Digest> = (0..TASKS).map(|t| Digest::of_bytes(format!("task {t}").as_bytes())).collect();

    let started = Instant::now();
    let mut entries = Vec::with_capacity(verdicts);
    let mut claims = Vec::with_capacity(agents);
    for (a, miner) in miners.iter().enumerate() {
        let agent = Digest::of_bytes(format!("agent {a}").as_bytes());
        claims.push(AgentClaim::sign(agent.clone(), miner, 1_700_000_000_000 + a as u64)?);
        for (t, task) in tasks.iter().enumerate() {
            let run = a * TASKS + t;
            if run >= runs {
                break;
            }
            let resolved = (a + t) % 3 == 0;
            for replica in 0..2 {
                let key = &keys[(run + replica * 7) % keys.len()];
                let statement = VerdictStatement {
                    run_id: RunId::new(format!("run-{run:08}")),
                    task: task.clone(),
                    agent: agent.clone(),
                    patch: Digest::of_bytes(format!("patch {run}").as_bytes()),
                    validator: key.hotkey().clone(),
                    status: if resolved { VerdictStatus::Resolved } else { VerdictStatus::Unresolved },
                    tests: vec![
                        TestResult {
                            id: "tests/test_a.py::test_fix".into(),
                            status: if resolved { TestStatus::Passed } else { TestStatus::Failed },
                        },
                        TestResult { id: "tests/test_a.py::test_kept".into(), status: TestStatus::Passed },
                    ],
                    grader_version: "whetstone-validator 0.1.0".into(),
                    graded_at_ms: 1_700_000_000_000 + run as u64,
                };
                let seq = entries.len() as u64 + 1;
                entries.push(LedgerEntry { seq, run_id: statement.run_id.clone(), verdict: statement.sign(key)? });
            }
        }
    }
    println!("  signed the ledger in {:.2} s (setup, not measured)", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let verified = consensus::verify_ledger(&entries, &validators);
    let verify = started.elapsed();
    let started = Instant::now();
    let decided = consensus::decide(&verified.accepted, &validators, &Rules::for_validators(&validators));
    let (scores, unowned) = consensus::miner_scores(&decided, &claims);
    let score = started.elapsed();
    let total = verify + score;
    assert_eq!(verified.accepted.len(), entries.len(), "every verdict verifies");
    assert!(unowned.is_empty());

    println!(
        "  verify signatures and admit: {:>8.3} s  ({:.0} verdicts/s)",
        verify.as_secs_f64(),
        entries.len() as f64 / verify.as_secs_f64()
    );
    println!(
        "  decide runs, score miners:   {:>8.3} s  ({} runs, {} miners scored)",
        score.as_secs_f64(),
        decided.runs.len(),
        scores.len()
    );
    println!(
        "  total:                       {:>8.3} s  (target < 2 s on 2 cores: {})",
        total.as_secs_f64(),
        if total.as_secs_f64() < 2.0 { "met" } else { "missed" }
    );
    Ok(())
}

fn seed(tag: u8, i: usize) -> [u8; 32] {
    let mut seed = [tag; 32];
    seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
    seed
}
