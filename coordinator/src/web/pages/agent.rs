//! `/agents/{digest}`: one agent: where it ranks, a heat map of its results per task (each
//! validator's verdict and the consensus), its score after each verdict in the ledger, and
//! its runs.

use axum::extract::{Path, State};
use axum::response::Response;
use whetstone_chain::consensus::{self, Consensus, RunResult};
use whetstone_tasks::{Digest, VerdictStatus};

use super::leaderboard::card;
use crate::ledger::Evaluation;
use crate::store::RunRecord;
use crate::web::charts::{Cell, HeatCell, HeatMap, StepChart};
use crate::web::html::{Html, duration_ms, percent, short, usd, utc};
use crate::web::{PageError, Web, hotkey, layout, result_badge};

/// Most points in the score-over-time chart: the ledger is sampled, not replayed per verdict
/// (each point replays the scoring function over the ledger up to it).
const MAX_POINTS: usize = 40;

pub(crate) async fn page(State(web): State<Web>, Path(digest): Path<String>) -> Result<Response, PageError> {
    let unknown = || PageError::NotFound(format!("There is no agent {digest} on this coordinator; the leaderboard lists them all."));
    let digest: Digest = digest.parse().map_err(|_| unknown())?;
    let services = &web.services;
    let (board, evaluation) = services.current_leaderboard().await?;
    let (rank, entry) = board.iter().enumerate().find(|(_, e)| e.agent.digest == digest).ok_or_else(unknown)?;
    let all_runs = services.store.run_records(None).await?;
    let tasks = super::tasks_of(&all_runs);
    let runs: Vec<&RunRecord> = all_runs.iter().filter(|r| r.agent == digest).collect();
    let scoring = evaluation.describe();
    let agent = &entry.agent;

    let mut body = Html::new();
    body.raw("<p class=\"crumbs\"><a href=\"/\">Leaderboard</a> › agent</p><h1>")
        .text(&agent.name)
        .raw(" <span class=\"muted\">")
        .text(&agent.version)
        .raw("</span></h1><p class=\"lead\">Agent <code>")
        .text(agent.digest.as_str())
        .raw("</code> submitted by miner ");
    hotkey(&mut body, agent.hotkey.as_str());
    if let Some(copy) = &agent.copy_of {
        body.raw(" · <span class=\"badge copy\">flagged copy</span> of ").link(
            "/agents/",
            copy.original.as_str(),
            &short(copy.original.as_str(), 19),
        );
    }
    body.raw("</p><div class=\"cards\">");
    card(&mut body, "Rank", &format!("{} of {}", rank + 1, board.len()));
    card(&mut body, "Score", &percent(entry.score));
    card(&mut body, "Resolved", &format!("{} / {}", entry.resolved, entry.tasks));
    card(&mut body, "Decided", &entry.decided.to_string());
    card(&mut body, "Pending", &entry.pending.to_string());
    let per_resolved = entry.cost_per_resolved().map_or_else(|| "—".to_owned(), |c| usd(c.llm_micro_usd));
    card(&mut body, "LLM spend / resolved", &per_resolved);
    card(&mut body, "LLM spend, all runs", &usd(entry.cost.llm_micro_usd));
    body.raw("</div>");

    body.raw("<h2>Results per task</h2><p class=\"note\">Each validator's signed verdict on this agent's run of each task, and the consensus that counts. Click a cell for the run.</p><div class=\"scroll\">");
    body.append(heat_map(&evaluation.consensus, &tasks, &runs).render());
    legend(&mut body);
    body.raw("</div>");

    body.raw("<h2>Score over time</h2>");
    // Each point is the whole scoring function over a prefix of the ledger: CPU work, off the
    // async threads.
    let timeline = {
        let (evaluation, digest) = (evaluation.clone(), digest.clone());
        tokio::task::spawn_blocking(move || score_timeline(&evaluation, &digest)).await.map_err(|_| PageError::Internal)?
    };
    match (timeline.first(), timeline.last()) {
        (Some(first), Some(last)) => {
            let points: Vec<(f64, f64)> = timeline.iter().map(|p| (p.seq as f64, p.score)).collect();
            let chart = StepChart {
                points: &points,
                x_label: "verdicts in the ledger",
                x_ends: (format!("#{} · {}", first.seq, utc(first.graded_at_ms)), format!("#{} · {}", last.seq, utc(last.graded_at_ms))),
                title: "The agent's score after each verdict in the ledger",
            };
            body.append(chart.render());
            body.raw("<p class=\"note\">The scoring function replayed over the ledger as it stood after each verdict: the score this agent had at that point.</p>");
        }
        _ => {
            body.raw("<p class=\"empty\">No verdict on this agent's runs yet.</p>");
        }
    }

    body.raw("<h2>Runs</h2><table><thead><tr><th>Task</th><th>State</th><th>Consensus</th><th class=\"num\">Verdicts</th><th class=\"num\">Agent time</th><th class=\"num\">LLM spend</th><th>Run</th></tr></thead><tbody>");
    for run in &runs {
        let tally = evaluation.consensus.run(&run.run_id);
        body.raw("<tr><td>").text(&run.task_id).raw("</td><td>").text(&run.state);
        if let Some(outcome) = &run.outcome {
            body.raw(" <span class=\"muted\">(").text(outcome).raw(")</span>");
        }
        body.raw("</td><td>");
        result_badge(&mut body, tally.map_or("", |t| t.result.as_str()));
        let agreeing = tally.map_or(0, |t| t.votes.iter().filter(|v| v.agrees == Some(true)).count());
        body.raw("</td><td class=\"num\">").fmt(format_args!("{agreeing} of {} agree", run.verdicts)).raw("</td><td class=\"num\">");
        body.text(&run.duration_ms.map(duration_ms).unwrap_or_default()).raw("</td><td class=\"num\">");
        body.text(&usd(run.cost.llm_micro_usd)).raw("</td><td>");
        body.link("/runs/", run.run_id.as_str(), &short(run.run_id.as_str(), 14)).raw("</td></tr>");
    }
    body.raw("</tbody></table>");
    Ok(layout(&agent.name, None, &scoring, body))
}

/// Rows: each validator that voted on one of these runs, then the consensus; columns: tasks.
fn heat_map(consensus: &Consensus, tasks: &[(Digest, String)], runs: &[&RunRecord]) -> HeatMap<'static> {
    let run_of = |task: &Digest| runs.iter().find(|r| &r.task == task);
    let mut voters: Vec<&whetstone_tasks::Hotkey> =
        runs.iter().filter_map(|r| consensus.run(&r.run_id)).flat_map(|t| t.votes.iter().map(|v| &v.validator)).collect();
    voters.sort();
    voters.dedup();
    let mut rows = Vec::new();
    for voter in voters {
        let cells = tasks
            .iter()
            .map(|(task, task_id)| {
                let run = run_of(task);
                let vote = run.and_then(|r| consensus.run(&r.run_id)).and_then(|t| t.votes.iter().find(|v| &v.validator == voter));
                let (cell, said) = match vote.map(|v| v.status) {
                    Some(VerdictStatus::Resolved) => (Cell::Resolved, "resolved"),
                    Some(status) => (Cell::Unresolved, status.as_str()),
                    None => (Cell::Empty, "no verdict"),
                };
                let agrees = match vote.and_then(|v| v.agrees) {
                    Some(true) => ", agrees with the consensus",
                    Some(false) => ", dissents from the consensus",
                    None => "",
                };
                HeatCell { cell, tooltip: format!("{task_id}: {said}{agrees}"), run_id: run.map(|r| r.run_id.to_string()) }
            })
            .collect();
        rows.push((format!("validator {}", short(voter.as_str(), 8)), None, cells));
    }
    let consensus_row = tasks
        .iter()
        .map(|(task, task_id)| {
            let run = run_of(task);
            let result = run.and_then(|r| consensus.run(&r.run_id)).map(|t| &t.result);
            HeatCell {
                cell: cell_of(result),
                tooltip: format!("{task_id}: {}", result.map_or("no verdict yet", RunResult::as_str)),
                run_id: run.map(|r| r.run_id.to_string()),
            }
        })
        .collect();
    rows.push(("consensus".to_owned(), None, consensus_row));
    HeatMap { title: "Results per task", columns: tasks.iter().map(|(_, id)| id.clone()).collect(), rows }
}

/// A run's consensus result as a heat map cell.
pub(super) fn cell_of(result: Option<&RunResult>) -> Cell {
    match result {
        Some(RunResult::Resolved) => Cell::Resolved,
        Some(RunResult::Unresolved) => Cell::Unresolved,
        Some(RunResult::Pending(_)) => Cell::Pending,
        None => Cell::Empty,
    }
}

pub(super) fn legend(body: &mut Html) {
    body.raw(
        "<p class=\"legend\"><span class=\"swatch resolved\"></span>resolved <span class=\"swatch unresolved\"></span>not resolved \
         <span class=\"swatch pending\"></span>pending (no quorum yet) <span class=\"swatch empty\"></span>no verdict</p>",
    );
}

/// The agent's score after a verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ScorePoint {
    seq: u64,
    graded_at_ms: u64,
    score: f64,
}

/// The scoring function over each prefix of the accepted ledger, from the first verdict on
/// this agent's runs, at most [`MAX_POINTS`] prefixes (evenly spaced, always the last).
fn score_timeline(evaluation: &Evaluation, agent: &Digest) -> Vec<ScorePoint> {
    let accepted = &evaluation.verified.accepted;
    let Some(start) = accepted.iter().position(|v| &v.statement.agent == agent) else { return Vec::new() };
    let span = accepted.len() - start;
    let step = span.div_ceil(MAX_POINTS).max(1);
    let mut ends: Vec<usize> = (start + 1..=accepted.len()).step_by(step).collect();
    if ends.last() != Some(&accepted.len()) {
        ends.push(accepted.len());
    }
    let mut latest_ms = 0;
    ends.into_iter()
        .map(|end| {
            let prefix = &accepted[..end];
            latest_ms = prefix[start..].iter().map(|v| v.statement.graded_at_ms).max().unwrap_or(latest_ms).max(latest_ms);
            let decided = consensus::decide(prefix, &evaluation.validators, &evaluation.rules);
            ScorePoint { seq: prefix[end - 1].seq, graded_at_ms: latest_ms, score: decided.agent(agent).map_or(0.0, |t| t.score) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use whetstone_chain::consensus::{Accepted, Rules, ValidatorSet, Verified};
    use whetstone_chain::verdict::VerdictStatement;
    use whetstone_tasks::{Hotkey, RunId};

    use super::*;

    #[test]
    fn the_timeline_replays_the_scoring_function_over_the_ledger() {
        let validators = ValidatorSet::new([(Hotkey::new("v1"), 1)]);
        let rules = Rules::for_validators(&validators);
        let (a, b) = (Digest::of_bytes(b"a"), Digest::of_bytes(b"b"));
        let verdict = |seq: u64, agent: &Digest, task: u8, status| Accepted {
            seq,
            statement: VerdictStatement {
                run_id: RunId::new(format!("r{seq}")),
                task: Digest::of_bytes(&[task]),
                agent: agent.clone(),
                patch: Digest::of_bytes(&[seq as u8]),
                validator: Hotkey::new("v1"),
                status,
                tests: Vec::new(),
                grader_version: "t".into(),
                graded_at_ms: 1000 * seq,
            },
        };
        // b's first verdict is the second in the ledger; the tasks' count grows to two.
        let accepted = vec![
            verdict(1, &a, 1, VerdictStatus::Resolved),
            verdict(2, &b, 1, VerdictStatus::Resolved),
            verdict(3, &a, 2, VerdictStatus::Unresolved),
            verdict(4, &b, 2, VerdictStatus::Unresolved),
        ];
        let consensus = consensus::decide(&accepted, &validators, &rules);
        let evaluation = Evaluation { verified: Verified { accepted, rejected: Vec::new() }, consensus, validators, rules, epochs: None };
        let timeline = score_timeline(&evaluation, &b);
        let seen: Vec<(u64, u64, f64)> = timeline.iter().map(|p| (p.seq, p.graded_at_ms, p.score)).collect();
        assert_eq!(seen, vec![(2, 2000, 1.0), (3, 3000, 0.5), (4, 4000, 0.5)]);
        assert_eq!(timeline.last().map(|p| p.score), evaluation.consensus.agent(&b).map(|t| t.score), "it ends at the board's score");
    }
}
