//! Terminal output: progress while work runs, tables when it is done. Below every command:
//! it knows the wire and chain types it draws, and no command's own types.

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use whetstone_chain::WeightSubmission;
use whetstone_proto::pb;

/// A spinner with a message on a terminal; plain lines, each printed once, elsewhere (CI logs,
/// pipes), so progress is visible either way. Also the sandbox's image-build progress sink.
#[derive(Debug, Clone)]
pub struct Spinner {
    bar: ProgressBar,
    last_line: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Spinner {
    pub fn new(message: impl Into<String>) -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        let spinner = Self { bar, last_line: Default::default() };
        spinner.set(message);
        spinner
    }

    pub fn set(&self, message: impl Into<String>) {
        let message = message.into();
        if self.bar.is_hidden() {
            self.print_once(&message);
        }
        self.bar.set_message(message);
    }

    /// True when drawing to a terminal; false for CI logs and pipes.
    pub fn is_terminal(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Prints a line above the spinner.
    pub fn println(&self, line: impl AsRef<str>) {
        if self.bar.is_hidden() {
            self.print_once(line.as_ref());
        } else {
            self.bar.println(line);
        }
    }

    pub fn done(&self, message: impl Into<String>) {
        let message = message.into();
        if self.bar.is_hidden() {
            self.print_once(&message);
        }
        self.bar.finish_with_message(message);
    }

    fn print_once(&self, line: &str) {
        if let Ok(mut last) = self.last_line.lock()
            && *last != line
        {
            eprintln!("{line}");
            line.clone_into(&mut last);
        }
    }
}

impl whetstone_sandbox::Progress for Spinner {
    fn message(&self, msg: &str) {
        self.set(msg);
    }
}

/// The first `keep` characters, with an ellipsis when cut.
pub fn short(text: &str, keep: usize) -> String {
    match text.char_indices().nth(keep) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// One word for where a run ended: the validators' consensus when it has verdicts, else its
/// run outcome or state.
pub fn run_result(record: &pb::RunRecord) -> &'static str {
    let first = record.verdict.as_ref().and_then(|v| pb::VerdictStatus::try_from(v.status).ok());
    match record.consensus.as_str() {
        "resolved" => return "✓ resolved",
        "unresolved" if first == Some(pb::VerdictStatus::PatchRejected) => return "✗ patch rejected",
        "unresolved" => return "✗ unresolved",
        "pending" => return "… pending",
        _ => {}
    }
    if first == Some(pb::VerdictStatus::InfraError) {
        return "! grader failed";
    }
    match record.run_outcome.as_str() {
        "agent_error" => "✗ agent error",
        "infra_error" => "! runner failed",
        "" if record.run_state == "leased" => "… running",
        "" => "… queued",
        _ => "… grading",
    }
}

/// Micro-dollars as dollars, to the cent's hundredth.
pub fn usd(micro: u64) -> String {
    format!("${}.{:04}", micro / 1_000_000, (micro % 1_000_000) / 100)
}

/// One run's trajectory: its LLM calls.
pub fn llm_calls_table(calls: &[pb::LlmCall]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["#", "model", "prompt tokens", "completion tokens", "cost", "latency", "status"]);
    for (index, call) in calls.iter().enumerate() {
        table.add_row([
            Cell::new(index + 1),
            Cell::new(&call.model),
            Cell::new(call.prompt_tokens).set_alignment(CellAlignment::Right),
            Cell::new(call.completion_tokens).set_alignment(CellAlignment::Right),
            Cell::new(usd(call.cost_micro_usd)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{} ms", call.latency_ms)).set_alignment(CellAlignment::Right),
            Cell::new(call.status),
        ]);
    }
    table
}

/// Tasks down, agents across: what each agent did on each task.
pub fn results_matrix(records: &[pb::RunRecord]) -> Table {
    let mut agents: Vec<(&str, &str)> = Vec::new();
    let mut tasks: Vec<&str> = Vec::new();
    for record in records {
        if !agents.iter().any(|(digest, _)| *digest == record.agent_digest) {
            agents.push((&record.agent_digest, &record.agent_name));
        }
        if !tasks.contains(&record.task_id.as_str()) {
            tasks.push(&record.task_id);
        }
    }
    tasks.sort_unstable();
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(std::iter::once("task").chain(agents.iter().map(|(_, name)| *name)));
    for task in tasks {
        let cells = agents.iter().map(|(digest, _)| {
            records.iter().find(|r| r.task_id == task && r.agent_digest == *digest).map_or(String::new(), run_result_with_agreement)
        });
        table.add_row(std::iter::once(task.to_owned()).chain(cells));
    }
    table
}

/// One row per run, with the verdict's test counts and notes.
pub fn runs_table(records: &[pb::RunRecord]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["agent", "task", "result (agreeing/verdicts)", "fail→pass", "pass→pass", "agent time", "notes"]);
    for record in records {
        let (f2p, p2p, notes) = match &record.verdict {
            Some(v) => (
                format!("{}/{}", v.fail_to_pass_passed, v.fail_to_pass_total),
                format!("{}/{}", v.pass_to_pass_passed, v.pass_to_pass_total),
                v.notes.clone(),
            ),
            None => (String::new(), String::new(), record.error.clone()),
        };
        table.add_row([
            Cell::new(&record.agent_name),
            Cell::new(&record.task_id),
            Cell::new(run_result_with_agreement(record)),
            Cell::new(f2p).set_alignment(CellAlignment::Right),
            Cell::new(p2p).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.1}s", record.run_duration_ms as f64 / 1000.0)).set_alignment(CellAlignment::Right),
            Cell::new(short(&notes, 80)),
        ]);
    }
    table
}

/// The leaderboard; with a chain view, each hotkey's uid and Yuma incentive share too.
pub fn leaderboard_table(board: &pb::LeaderboardResponse) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["#", "agent", "version", "hotkey", "digest", "resolved", "pending", "score", "cost/resolved"];
    if board.chain.is_some() {
        header.extend(["uid", "incentive"]);
    }
    table.set_header(header);
    for (rank, entry) in board.entries.iter().enumerate() {
        let mut row = vec![
            Cell::new(rank + 1),
            Cell::new(if entry.copy_of.is_empty() {
                entry.name.clone()
            } else {
                format!("{} (copy of {}, similarity {:.2})", entry.name, short(&entry.copy_of, 12), f64::from(entry.copy_permille) / 1000.0)
            }),
            Cell::new(&entry.version),
            Cell::new(short(&entry.hotkey, 10)),
            Cell::new(short(&entry.agent_digest, 12)),
            Cell::new(format!("{}/{}", entry.resolved, entry.tasks)).set_alignment(CellAlignment::Right),
            Cell::new(entry.pending).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.3}", entry.score)).set_alignment(CellAlignment::Right),
            Cell::new(cost_per_resolved(entry)).set_alignment(CellAlignment::Right),
        ];
        if board.chain.is_some() {
            // Unregistered hotkeys have neither: nothing on chain pays them.
            row.push(Cell::new(entry.uid.map(|uid| uid.to_string()).unwrap_or_else(|| "-".into())).set_alignment(CellAlignment::Right));
            let incentive = entry.incentive.map(|share| format!("{:.2}%", share * 100.0));
            row.push(Cell::new(incentive.unwrap_or_else(|| "not registered".into())).set_alignment(CellAlignment::Right));
        }
        table.add_row(row);
    }
    table
}

/// LLM spend and sandbox time per resolved task, e.g. "$0.0420 + 95 s"; "-" before the
/// agent resolves anything.
pub fn cost_per_resolved(entry: &pb::LeaderboardEntry) -> String {
    match (entry.llm_micro_usd_per_resolved, entry.sandbox_ms_per_resolved) {
        (Some(llm), Some(sandbox_ms)) => format!("{} + {:.0} s", usd(llm), sandbox_ms as f64 / 1000.0),
        _ => "-".to_owned(),
    }
}

/// The epochs a coordinator recorded: boundary, seed, generator seed and set sizes.
pub fn epochs_table(listing: &pb::EpochsResponse) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["epoch", "boundary block", "block hash", "seed", "generator seed", "pool tasks", "fresh tasks"]);
    for epoch in &listing.epochs {
        table.add_row([
            Cell::new(epoch.epoch).set_alignment(CellAlignment::Right),
            Cell::new(epoch.boundary_block).set_alignment(CellAlignment::Right),
            Cell::new(short(&epoch.block_hash, 16)),
            Cell::new(short(&epoch.seed, 16)),
            Cell::new(epoch.generator_seed).set_alignment(CellAlignment::Right),
            Cell::new(epoch.drawn).set_alignment(CellAlignment::Right),
            Cell::new(epoch.fresh).set_alignment(CellAlignment::Right),
        ]);
    }
    table
}

/// A run's result with how many of its verdicts agree with it, e.g. "✓ resolved 2/2".
pub fn run_result_with_agreement(record: &pb::RunRecord) -> String {
    let result = run_result(record);
    match record.consensus.as_str() {
        "resolved" | "unresolved" => format!("{result} {}/{}", record.agreeing, record.verdicts),
        "pending" => format!("{result} ({} verdict{})", record.verdicts, if record.verdicts == 1 { "" } else { "s" }),
        _ => result.to_owned(),
    }
}

/// Each validator's standing: stake, verdicts, agreement with the consensus, dissents.
pub fn validators_table(standings: &pb::ValidatorsResponse, names: &dyn Fn(&str) -> String) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["validator", "hotkey", "stake share", "verdicts", "agreement", "flagged runs", "flaky dissents"]);
    let total_stake: u64 = standings.validators.iter().map(|v| v.stake).sum();
    for v in &standings.validators {
        let share = if total_stake == 0 { 0.0 } else { v.stake as f64 / total_stake as f64 * 100.0 };
        let agreement = if v.on_decided == 0 {
            "-".to_owned()
        } else {
            format!("{:.1}% ({}/{})", f64::from(v.agreed) / f64::from(v.on_decided) * 100.0, v.agreed, v.on_decided)
        };
        table.add_row([
            Cell::new(names(&v.hotkey)),
            Cell::new(short(&v.hotkey, 10)),
            Cell::new(format!("{share:.1}%")).set_alignment(CellAlignment::Right),
            Cell::new(v.verdicts).set_alignment(CellAlignment::Right),
            Cell::new(agreement).set_alignment(CellAlignment::Right),
            Cell::new(v.flagged_run_ids.len()).set_alignment(CellAlignment::Right),
            Cell::new(v.flaky).set_alignment(CellAlignment::Right),
        ]);
    }
    table
}

/// The line under a board or a standings table: which function produced it and how much of
/// the ledger is still undecided.
pub fn scoring_note(standings: &pb::ValidatorsResponse) -> String {
    let mut note = format!(
        "scores: {} over the signed verdict ledger (docs/scoring.md); {} runs decided, {} pending, {} with verdicts that differ on a test",
        standings.scoring, standings.runs_decided, standings.runs_pending, standings.runs_disputed
    );
    if !standings.rejected.is_empty() {
        note.push_str(&format!("; {} verdicts rejected:", standings.rejected.len()));
        for r in &standings.rejected {
            note.push_str(&format!("\n  verdict #{} (run {}): {}", r.seq, r.run_id, r.reason));
        }
    }
    note
}

/// What the leaderboard's incentive column rests on, or why there is none.
pub fn incentive_note(chain: Option<&pb::ChainView>) -> String {
    match chain {
        None => "incentive: not shown; this coordinator has no chain view (its [auth] membership is not \"chain\"), \
                 so what the scores earn on chain is unknown here"
            .into(),
        Some(view) if view.validators_with_weights == 0 => {
            format!("incentive: no validator has weights on subnet {} at block {} yet, so nobody earns incentive", view.netuid, view.block)
        }
        Some(view) => format!(
            "incentive: each hotkey's share of subnet {}'s miner emission in a Yuma Consensus epoch over the weights of {} \
             validator{} at block {} (epochs every {} blocks); weights still sealed in timelocked commits count once revealed",
            view.netuid,
            view.validators_with_weights,
            if view.validators_with_weights == 1 { "" } else { "s" },
            view.block,
            view.tempo + 1
        ),
    }
}

/// The submitted weights with each uid's hotkey and share.
pub fn weights_table(submission: &WeightSubmission, hotkeys: &[String], names: &dyn Fn(&str) -> String) -> Table {
    let total: f64 = submission.weights.iter().map(|w| f64::from(*w)).sum();
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["uid", "hotkey", "agent", "weight (u16)", "share"]);
    for (uid, weight) in submission.uids.iter().zip(&submission.weights) {
        let hotkey = hotkeys.get(usize::from(*uid)).cloned().unwrap_or_default();
        let share = if total > 0.0 { f64::from(*weight) / total * 100.0 } else { 0.0 };
        table.add_row([
            Cell::new(uid),
            Cell::new(short(&hotkey, 10)),
            Cell::new(names(&hotkey)),
            Cell::new(weight).set_alignment(CellAlignment::Right),
            Cell::new(format!("{share:.1}%")).set_alignment(CellAlignment::Right),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_cuts_on_character_boundaries() {
        assert_eq!(short("abc", 5), "abc");
        assert_eq!(short("abcdef", 3), "abc…");
        assert_eq!(short("ééé", 2), "éé…");
    }

    #[test]
    fn the_leaderboard_shows_incentive_only_with_a_chain_view() {
        let entry = |name: &str, uid: Option<u32>, incentive: Option<f64>| pb::LeaderboardEntry {
            name: name.into(),
            hotkey: format!("hotkey-of-{name}"),
            uid,
            incentive,
            ..pb::LeaderboardEntry::default()
        };
        let chain = pb::ChainView { netuid: 1, block: 42, tempo: 10, validators_with_weights: 1 };
        let board = pb::LeaderboardResponse {
            entries: vec![entry("repair", Some(2), Some(0.75)), entry("stray", None, None)],
            chain: Some(chain),
            ..pb::LeaderboardResponse::default()
        };
        let text = leaderboard_table(&board).to_string();
        assert!(text.contains("incentive") && text.contains("75.00%") && text.contains("not registered"), "{text}");
        assert!(text.contains("cost/resolved"), "{text}");
        let note = incentive_note(board.chain.as_ref());
        assert!(note.contains("1 validator at block 42") && note.contains("every 11 blocks"), "{note}");

        let without = pb::LeaderboardResponse { chain: None, ..board };
        assert!(!leaderboard_table(&without).to_string().contains("incentive"));
        assert!(incentive_note(None).contains("no chain view"));
        let idle = pb::ChainView { validators_with_weights: 0, ..chain };
        assert!(incentive_note(Some(&idle)).contains("no validator has weights"));
    }

    #[test]
    fn cost_per_resolved_task_shows_spend_and_sandbox_time_or_a_dash() {
        let paid =
            pb::LeaderboardEntry { llm_micro_usd_per_resolved: Some(42_000), sandbox_ms_per_resolved: Some(95_400), ..Default::default() };
        assert_eq!(cost_per_resolved(&paid), format!("{} + 95 s", usd(42_000)));
        assert_eq!(cost_per_resolved(&pb::LeaderboardEntry::default()), "-");
    }

    #[test]
    fn matrix_puts_tasks_down_and_agents_across() {
        let record = |agent: &str, task: &str, consensus: &str, (agreeing, verdicts): (u32, u32), outcome: &str| pb::RunRecord {
            agent_digest: format!("d-{agent}"),
            agent_name: agent.into(),
            task_id: task.into(),
            run_state: "done".into(),
            run_outcome: outcome.into(),
            consensus: consensus.into(),
            agreeing,
            verdicts,
            ..Default::default()
        };
        let records = vec![
            record("a", "t2", "resolved", (2, 3), "completed"),
            record("b", "t1", "", (0, 0), "agent_error"),
            record("a", "t1", "unresolved", (2, 2), "completed"),
            record("b", "t2", "pending", (0, 1), "completed"),
        ];
        let text = results_matrix(&records).to_string();
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("t1") || l.contains("t2")).collect();
        assert!(lines[0].contains("t1") && lines[0].contains("✗ unresolved 2/2") && lines[0].contains("✗ agent error"), "{text}");
        assert!(lines[1].contains("t2") && lines[1].contains("✓ resolved 2/3") && lines[1].contains("… pending (1 verdict)"), "{text}");
    }
}
