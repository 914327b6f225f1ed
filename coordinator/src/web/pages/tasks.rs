//! `/tasks`: how hard each task is: the share of agents whose run of it the consensus
//! resolved, what nobody solves (a task may be broken, or simply hard), what everybody solves
//! (it no longer tells agents apart), and the whole agents × tasks grid.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use whetstone_chain::consensus::RunResult;
use whetstone_tasks::Digest;

use super::agent::{cell_of, legend};
use crate::store::RunRecord;
use crate::web::charts::{Bars, HeatCell, HeatMap};
use crate::web::html::{Html, percent, short_digest};
use crate::web::{PageError, Tab, Web, layout};

/// One task's results across agents.
#[derive(Debug)]
struct TaskStanding {
    digest: Digest,
    task_id: String,
    runs: u32,
    resolved: u32,
    decided: u32,
    pending: u32,
}

impl TaskStanding {
    /// Resolved among the decided runs; `None` before any is decided.
    fn rate(&self) -> Option<f64> {
        (self.decided > 0).then(|| f64::from(self.resolved) / f64::from(self.decided))
    }
}

pub(crate) async fn page(State(web): State<Web>) -> Result<Response, PageError> {
    let services = &web.services;
    let (board, evaluation) = services.current_leaderboard().await?;
    let records = services.store.run_records(None).await?;
    let consensus = &evaluation.consensus;
    let scoring = evaluation.describe();
    let tasks = super::tasks_of(&records);

    let mut by_task: BTreeMap<&Digest, Vec<&RunRecord>> = BTreeMap::new();
    for record in &records {
        by_task.entry(&record.task).or_default().push(record);
    }
    let mut standings: Vec<TaskStanding> = tasks
        .iter()
        .map(|(digest, task_id)| {
            let mut standing =
                TaskStanding { digest: digest.clone(), task_id: task_id.clone(), runs: 0, resolved: 0, decided: 0, pending: 0 };
            for record in by_task.get(digest).into_iter().flatten() {
                standing.runs += 1;
                match consensus.run(&record.run_id).map(|t| &t.result) {
                    Some(RunResult::Resolved) => {
                        standing.resolved += 1;
                        standing.decided += 1;
                    }
                    Some(RunResult::Unresolved) => standing.decided += 1,
                    Some(RunResult::Pending(_)) => standing.pending += 1,
                    None => {}
                }
            }
            standing
        })
        .collect();
    standings.sort_by(|a, b| b.rate().unwrap_or(-1.0).total_cmp(&a.rate().unwrap_or(-1.0)).then_with(|| a.task_id.cmp(&b.task_id)));

    let mut body = Html::new();
    body.raw("<h1>Tasks</h1><p class=\"lead\">")
        .fmt(format_args!("{} task(s), each run by every agent. ", standings.len()))
        .raw("The resolve rate is the share of agents whose run the validators' consensus decided resolved.</p>");
    if standings.is_empty() {
        body.raw("<p class=\"empty\">No task has runs yet. Curators publish tasks with <code>whetstone tasks publish</code>.</p>");
        return Ok(layout("Tasks", Some(Tab::Tasks), &scoring, body));
    }
    let agents_with_runs = u32::try_from(board.len()).unwrap_or(u32::MAX);
    let nobody: Vec<&TaskStanding> = standings.iter().filter(|t| t.decided > 0 && t.resolved == 0).collect();
    let everybody: Vec<&TaskStanding> =
        standings.iter().filter(|t| t.decided > 0 && t.resolved == t.decided && t.decided >= agents_with_runs).collect();
    body.raw("<div class=\"split\"><section><h2>Nobody solves</h2>");
    task_list(&mut body, &nobody, "Every task has been solved by at least one agent.");
    body.raw("</section><section><h2>Everybody solves</h2>");
    task_list(&mut body, &everybody, "No task is solved by every agent.");
    body.raw("</section></div>");

    body.raw("<h2>Resolve rate per task</h2>");
    let bars = Bars {
        title: "Resolve rate per task",
        bars: standings
            .iter()
            .map(|t| {
                let note = match t.rate() {
                    Some(rate) => format!("{} ({} of {})", percent(rate), t.resolved, t.decided),
                    None => format!("no result yet ({} pending)", t.pending),
                };
                (t.task_id.clone(), t.rate().unwrap_or(0.0), note)
            })
            .collect(),
    };
    body.append(bars.render());

    body.raw("<h2>Every agent on every task</h2><p class=\"note\">The consensus on each agent's run of each task. Click a cell for the run.</p><div class=\"scroll\">");
    let by_agent_and_task: BTreeMap<(&Digest, &Digest), &RunRecord> = records.iter().map(|r| ((&r.agent, &r.task), r)).collect();
    let rows = board
        .iter()
        .map(|entry| {
            let cells = tasks
                .iter()
                .map(|(task, task_id)| {
                    let run = by_agent_and_task.get(&(&entry.agent.digest, task)).copied();
                    let result = run.and_then(|r| consensus.run(&r.run_id)).map(|t| &t.result);
                    HeatCell {
                        cell: cell_of(result),
                        tooltip: format!("{} on {task_id}: {}", entry.agent.name, result.map_or("no verdict yet", RunResult::as_str)),
                        run_id: run.map(|r| r.run_id.to_string()),
                    }
                })
                .collect();
            let href = format!("/agents/{}", entry.agent.digest);
            (format!("{} {}", entry.agent.name, entry.agent.version), Some(href), cells)
        })
        .collect();
    let map = HeatMap { title: "Every agent on every task", columns: tasks.iter().map(|(_, id)| id.clone()).collect(), rows };
    body.append(map.render());
    legend(&mut body);
    body.raw("</div>");

    body.raw(
        "<h2>All tasks</h2><table><thead><tr><th>Task</th><th>Digest</th><th class=\"num\">Runs</th><th class=\"num\">Resolved</th>\
         <th class=\"num\">Decided</th><th class=\"num\">Pending</th><th class=\"num\">Resolve rate</th></tr></thead><tbody>",
    );
    for t in &standings {
        body.raw("<tr><td>")
            .text(&t.task_id)
            .raw("</td><td><code title=\"")
            .text(t.digest.as_str())
            .raw("\">")
            .text(&short_digest(t.digest.as_str()))
            .raw("</code></td><td class=\"num\">")
            .fmt(format_args!("{}", t.runs))
            .raw("</td><td class=\"num\">")
            .fmt(format_args!("{}", t.resolved))
            .raw("</td><td class=\"num\">")
            .fmt(format_args!("{}", t.decided))
            .raw("</td><td class=\"num\">")
            .fmt(format_args!("{}", t.pending))
            .raw("</td><td class=\"num\">")
            .text(&t.rate().map_or_else(|| "—".to_owned(), percent))
            .raw("</td></tr>");
    }
    body.raw("</tbody></table>");
    Ok(layout("Tasks", Some(Tab::Tasks), &scoring, body))
}

fn task_list(body: &mut Html, tasks: &[&TaskStanding], none: &'static str) {
    if tasks.is_empty() {
        body.raw("<p class=\"empty\">").raw(none).raw("</p>");
        return;
    }
    body.raw("<ul class=\"task-list\">");
    for t in tasks {
        body.raw("<li><strong>")
            .text(&t.task_id)
            .raw("</strong> <span class=\"muted\">")
            .fmt(format_args!("{} of {} decided runs resolved", t.resolved, t.decided))
            .raw("</span></li>");
    }
    body.raw("</ul>");
}
