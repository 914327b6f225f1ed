//! How long a validator takes to verify and score a large verdict ledger: 100,000 signed
//! verdicts (50,000 runs graded by two of 16 validators; 2,000 agents on 25 tasks), verified
//! against the validator set, decided by the scoring function and turned into miner scores.
//! The target is under 2 s on a 2-core machine. Each phase prints its wall time and the CPU
//! time the process spent in it (from /proc/self/stat): on a machine busy with other work the
//! wall time grows while the CPU time does not, and CPU time over the cores it ran on is what
//! the phase takes on a quiet machine.
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

    let (started, cpu) = (Instant::now(), cpu_seconds());
    let verified = consensus::verify_ledger(&entries, &validators);
    let (verify, verify_cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let decided = consensus::decide(&verified.accepted, &validators, &Rules::for_validators(&validators));
    let (scores, unowned) = consensus::miner_scores(&decided, &claims);
    let (score, score_cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    assert_eq!(verified.accepted.len(), entries.len(), "every verdict verifies");
    assert!(unowned.is_empty());

    // Verification spreads over the cores; deciding runs on one.
    let quiet = verify_cpu / cores.clamp(1, 2) as f64 + score_cpu;
    println!(
        "  verify signatures and admit: {verify:>7.3} s wall, {verify_cpu:>6.3} s CPU  ({:.0} verdicts per CPU second)",
        entries.len() as f64 / verify_cpu.max(1e-9)
    );
    println!(
        "  decide runs, score miners:   {score:>7.3} s wall, {score_cpu:>6.3} s CPU  ({} runs, {} miners scored)",
        decided.runs.len(),
        scores.len()
    );
    println!(
        "  total:                       {:>7.3} s wall; on a quiet 2-core machine about {quiet:.3} s (target < 2 s: {})",
        verify + score,
        if quiet < 2.0 { "met" } else { "missed" }
    );
    Ok(())
}

/// User and system CPU time of this process so far, in seconds (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // The fields after the command name (which may hold spaces) follow the last ')'; utime
    // and stime are the 14th and 15th of the line, the 12th and 13th after the name.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Linux reports them in USER_HZ, 100 per second on every platform Rust targets.
    (ticks(11) + ticks(12)) / 100.0
}

fn seed(tag: u8, i: usize) -> [u8; 32] {
    let mut seed = [tag; 32];
    seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
    seed
}
