//! Terminal output: progress while work runs, tables when it is done.

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

fn short(text: &str, keep: usize) -> String {
    if text.len() > keep { format!("{}…", &text[..keep]) } else { text.to_owned() }
}

pub fn leaderboard_table(entries: &[pb::LeaderboardEntry]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["#", "agent", "version", "hotkey", "digest", "resolved", "score"]);
    for (rank, entry) in entries.iter().enumerate() {
        table.add_row([
            Cell::new(rank + 1),
            Cell::new(&entry.name),
            Cell::new(&entry.version),
            Cell::new(short(&entry.hotkey, 10)),
            Cell::new(short(&entry.agent_digest, 12)),
            Cell::new(format!("{}/{}", entry.resolved, entry.tasks)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.3}", entry.score)).set_alignment(CellAlignment::Right),
        ]);
    }
    table
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
