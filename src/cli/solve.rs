//! `whetstone solve`: ask the subnet's best agent (or one named) to fix something in the git
//! repository you are in. Packs the work tree (tracked files plus uncommitted changes), sends
//! it to the coordinator's solve API, follows the job (a spinner and the agent's log, resuming
//! the event stream if the connection drops), prints the diff, and with `--apply` applies it
//! (checked first, then a 3-way merge if it does not apply cleanly). Ctrl-C cancels the job.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use futures::StreamExt as _;
use whetstone::solve_client::{
    DEFAULT_SOLVE_URL, Finished, HOW_TO_GET_A_KEY, SolveClient, SolveEventKind, SolveRequest, pack_worktree, worktree_root,
};
use whetstone::ui::{self, Spinner};

#[derive(Debug, Args)]
pub struct SolveArgs {
    /// What to fix, in words, as you would write an issue: the agent gets it as its instruction.
    statement: String,
    /// `best` (the top of the leaderboard among agents with enough graded tasks) or an agent
    /// digest (`whetstone leaderboard` lists them).
    #[arg(long, default_value = "best")]
    agent: String,
    /// Apply the diff to your work tree when it comes back (checked first; 3-way merge when
    /// your files moved on meanwhile).
    #[arg(long)]
    apply: bool,
    /// A command that runs your tests (e.g. "python3 -m pytest -q"); the agent is told it.
    #[arg(long, value_name = "CMD")]
    test: Option<String>,
    /// LLM budget for the job in micro-dollars (1 000 000 = $1); default: the coordinator's.
    #[arg(long, value_name = "MICRO_USD")]
    budget: Option<u64>,
    /// The coordinator's solve API.
    #[arg(long, env = "WHETSTONE_SOLVE_URL", default_value = DEFAULT_SOLVE_URL)]
    url: String,
    /// Your API key (from the coordinator's operator: `whetstone keys create`).
    #[arg(long, env = "WHETSTONE_API_KEY", hide_env_values = true)]
    key: Option<String>,
    /// The repository (any directory inside it). Default: the current directory.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

pub async fn run(args: SolveArgs) -> Result<()> {
    let Some(key) = args.key.clone().filter(|k| !k.trim().is_empty()) else {
        bail!("no API key: {HOW_TO_GET_A_KEY} (or pass --key)");
    };
    let root = worktree_root(&args.dir)?;
    let spinner = Spinner::new(format!("packing {}", root.display()));
    let snapshot = pack_worktree(&root)?;
    let client = SolveClient::new(&args.url, &key)?;
    spinner.set(format!("sending {} KiB to {}", snapshot.len().div_ceil(1024), client.base_url()));
    let request = SolveRequest {
        statement: args.statement.clone(),
        // Kept: the base of the 3-way merge when the work tree changes while the agent works.
        snapshot: snapshot.clone(),
        agent: args.agent.clone(),
        budget_micro_usd: args.budget,
        test_command: args.test.clone(),
    };
    let accepted = client.submit(&request).await?;
    spinner.println(format!(
        "job {} with agent {} {} ({})",
        accepted.id,
        accepted.agent.name,
        accepted.agent.version,
        ui::short(&accepted.agent.digest, 19)
    ));
    let finished = tokio::select! {
        finished = follow(&client, &accepted.id, &spinner) => finished?,
        _ = tokio::signal::ctrl_c() => {
            spinner.set("cancelling");
            let answer = client.cancel(&accepted.id).await?;
            spinner.done(format!("cancelled {} ({})", accepted.id, answer.state));
            bail!("cancelled: no diff");
        }
    };
    match finished.status.as_str() {
        "diff" => {
            spinner.done(format!("{} made a diff", finished.agent.name));
            print!("{}", finished.diff);
            if args.apply {
                apply(&root, &finished.diff, &snapshot)?;
            }
            Ok(())
        }
        status => {
            spinner.done(format!("no diff came back ({status})"));
            let why = if finished.error.is_empty() { "the agent changed nothing".to_owned() } else { finished.error };
            bail!("no diff ({status}): {why}")
        }
    }
}

/// Follows the job to its end, reconnecting with the last event id when the stream drops.
async fn follow(client: &SolveClient, id: &str, spinner: &Spinner) -> Result<Finished> {
    let mut last = 0;
    let mut drops = 0;
    loop {
        let mut events = client.events(id, Some(last)).await?;
        while let Some(event) = events.next().await {
            let event = match event {
                Ok(event) => event,
                Err(error) => {
                    tracing::debug!(%error, "event stream dropped");
                    break;
                }
            };
            last = event.id;
            match event.kind {
                SolveEventKind::Queued { position } => spinner.set(format!("queued ({position} in line)")),
                SolveEventKind::Started { runner } => spinner.set(format!("running on {runner}")),
                SolveEventKind::Log { line } => spinner.println(format!("  │ {line}")),
                SolveEventKind::Spend { micro_usd } => spinner.set(format!("LLM spend {}", ui::usd(micro_usd))),
                SolveEventKind::Tests { command, exit_code, output_tail } => {
                    spinner.println(format!("tests `{command}` exited {exit_code}\n{output_tail}"));
                }
                SolveEventKind::Finished(finished) => return Ok(finished),
                SolveEventKind::Other { name, .. } => tracing::debug!(event = %name, "unknown event"),
            }
        }
        drops += 1;
        if drops > 20 {
            let status = client.status(id).await.context("the event stream keeps dropping")?;
            bail!("the event stream keeps dropping; the job is {} (see `GET /v1/solve/{id}` on {})", status.state, client.base_url());
        }
        spinner.set(format!("reconnecting after event {last}"));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Applies the agent's diff to the work tree: `git apply` after `git apply --check`; when the
/// check fails (files changed while the agent worked), a 3-way merge per file with
/// `git merge-file`, the base being the snapshot the agent was given, "theirs" that snapshot with
/// the diff applied, and "ours" the file as it is now. Conflicts are left marked in the files
/// and named in the error.
fn apply(root: &std::path::Path, diff: &str, snapshot: &[u8]) -> Result<()> {
    if git(root, &["apply", "--check", "-"], diff)?.status.success() {
        let applied = git(root, &["apply", "-"], diff)?;
        if !applied.status.success() {
            bail!("git apply failed: {}", String::from_utf8_lossy(&applied.stderr));
        }
        eprintln!("whetstone: applied to {}", root.display());
        return Ok(());
    }
    let (base, theirs) = (tempfile::tempdir()?, tempfile::tempdir()?);
    for dir in [base.path(), theirs.path()] {
        tar::Archive::new(snapshot).unpack(dir).context("failed to unpack the snapshot sent to the agent")?;
    }
    let patched = git(theirs.path(), &["apply", "-"], diff)?;
    if !patched.status.success() {
        bail!(
            "the diff does not apply even to the snapshot the agent worked on:\n{}\nthe diff is printed above",
            String::from_utf8_lossy(&patched.stderr)
        );
    }
    let mut conflicts = Vec::new();
    for path in touched_paths(diff) {
        let (ours, was, now) = (root.join(&path), base.path().join(&path), theirs.path().join(&path));
        let read = |p: &std::path::Path| std::fs::read(p).ok();
        match (read(&ours), read(&was), read(&now)) {
            // Nobody else touched it, or both made the same change.
            (current, before, after) if current == before || current == after => match after {
                Some(after) => {
                    if let Some(parent) = ours.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(&ours, after)?;
                }
                None => {
                    let _ = std::fs::remove_file(&ours);
                }
            },
            (Some(_), Some(_), Some(_)) => {
                let ours_text = ours.to_string_lossy().into_owned();
                let (was_text, now_text) = (was.to_string_lossy().into_owned(), now.to_string_lossy().into_owned());
                let args = ["merge-file", "-L", "yours", "-L", "sent to the agent", "-L", "agent", &ours_text, &was_text, &now_text];
                let merged = git(root, &args, "")?;
                match merged.status.code() {
                    Some(0) => {}
                    Some(n) if n > 0 => conflicts.push(format!("{path} ({n} conflict{})", if n == 1 { "" } else { "s" })),
                    _ => bail!("git merge-file failed on {path}: {}", String::from_utf8_lossy(&merged.stderr)),
                }
            }
            _ => conflicts.push(format!("{path} (you and the agent each created, changed or deleted it)")),
        }
    }
    if conflicts.is_empty() {
        eprintln!("whetstone: applied to {} with a 3-way merge (your files had changed); review `git diff`", root.display());
        return Ok(());
    }
    bail!(
        "applied to {} with a 3-way merge, but these files conflict: {}; the conflicts are marked with <<<<<<< in the files \
         (files where you and the agent disagree on existence were left as yours); the diff is printed above",
        root.display(),
        conflicts.join(", ")
    )
}

/// Runs git in `dir` with `input` on its stdin.
fn git(dir: &std::path::Path, args: &[&str], input: &str) -> Result<std::process::Output> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("failed to run git (is it installed?)")?;
    child.stdin.take().context("git's stdin")?.write_all(input.as_bytes())?;
    Ok(child.wait_with_output()?)
}

/// The paths a `git diff` names (old and new sides), without their `a/` and `b/` prefixes.
fn touched_paths(diff: &str) -> std::collections::BTreeSet<String> {
    diff.lines()
        .filter_map(|line| line.strip_prefix("--- a/").or_else(|| line.strip_prefix("+++ b/")))
        .map(|path| path.trim_end().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn sh(dir: &Path, script: &str) -> String {
        let out = std::process::Command::new("sh").arg("-c").arg(script).current_dir(dir).output().expect("sh runs");
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A repository with `f` = lines 1..=10 committed, its snapshot as `whetstone solve` packs
    /// it, and the diff an agent changing line 5 to "five" returns.
    fn repository() -> (tempfile::TempDir, Vec<u8>, String) {
        let repo = tempfile::tempdir().expect("tempdir");
        sh(repo.path(), "git init -q && seq 1 10 > f && git add f && git -c user.email=t@t -c user.name=t commit -qm base");
        let snapshot = whetstone::solve_client::pack_worktree(repo.path()).expect("packs");
        let agent = tempfile::tempdir().expect("tempdir");
        tar::Archive::new(snapshot.as_slice()).unpack(agent.path()).expect("unpacks");
        let diff = sh(
            agent.path(),
            "git init -q && git add -A && git -c user.email=t@t -c user.name=t commit -qm s && sed -i 's/^5$/five/' f && git diff",
        );
        (repo, snapshot, diff)
    }

    fn lines(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("f")).expect("f").lines().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn a_diff_applies_as_it_is_to_an_unchanged_tree() {
        let (repo, snapshot, diff) = repository();
        apply(repo.path(), &diff, &snapshot).expect("applies");
        assert_eq!(lines(repo.path()), "1 2 3 4 five 6 7 8 9 10");
    }

    #[test]
    fn a_change_made_while_the_agent_worked_is_merged_with_the_agents() {
        let (repo, snapshot, diff) = repository();
        // Line 2 is in the hunk's context: `git apply` alone refuses, and `--3way` refuses a
        // file with unstaged changes.
        sh(repo.path(), "sed -i 's/^2$/two/' f");
        apply(repo.path(), &diff, &snapshot).expect("merges");
        assert_eq!(lines(repo.path()), "1 two 3 4 five 6 7 8 9 10");
    }

    #[test]
    fn a_conflicting_change_is_marked_in_the_file_and_named() {
        let (repo, snapshot, diff) = repository();
        sh(repo.path(), "sed -i 's/^5$/FIVE/' f");
        let error = apply(repo.path(), &diff, &snapshot).expect_err("conflicts").to_string();
        assert!(error.contains("f (1 conflict)"), "{error}");
        let text = std::fs::read_to_string(repo.path().join("f")).expect("f");
        assert!(
            text.contains("<<<<<<< yours") && text.contains("FIVE") && text.contains("five") && text.contains(">>>>>>> agent"),
            "{text}"
        );
    }
}
