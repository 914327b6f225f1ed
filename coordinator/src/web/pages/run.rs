//! `/runs/{run_id}`: one run: what happened, every verdict in the ledger on it with its
//! validator and whether its signature verified and counts, the consensus; and, for those who
//! may read them, the agent's log, its LLM calls with their cost, and the patch as a diff.

use axum::extract::{Path, State};
use axum::response::Response;
use whetstone_chain::consensus::{Rejection, RunResult};
use whetstone_tasks::{RunId, TestStatus, VerdictStatus};

use super::leaderboard::card;
use crate::store::RunDetail;
use crate::web::html::{Html, duration_ms, short_digest, usd, utc};
use crate::web::{PageError, Web, diff, hotkey, layout, result_badge};

pub(crate) async fn page(State(web): State<Web>, Path(run_id): Path<String>) -> Result<Response, PageError> {
    let services = &web.services;
    let run = RunId::new(run_id.clone());
    let detail = services
        .store
        .run_detail(&run)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("There is no run {run_id} on this coordinator; an agent's page lists its runs.")))?;
    let evaluation = services.evaluate().await?;
    let scoring = evaluation.describe();
    let record = &detail.record;
    let tally = evaluation.consensus.run(&run);

    let mut body = Html::new();
    body.raw("<p class=\"crumbs\"><a href=\"/\">Leaderboard</a> › ")
        .link("/agents/", record.agent.as_str(), &record.agent_name)
        .raw(" › run</p><h1>")
        .text(&record.agent_name)
        .raw(" <span class=\"muted\">on</span> ")
        .text(&record.task_id)
        .raw("</h1><p class=\"lead\">Run <code>")
        .text(record.run_id.as_str())
        .raw("</code> · task <code title=\"")
        .text(record.task.as_str())
        .raw("\">")
        .text(&short_digest(record.task.as_str()))
        .raw("</code> · miner ");
    hotkey(&mut body, detail.hotkey.as_str());
    body.raw("</p><div class=\"cards\"><div class=\"card\"><div class=\"card-value\">");
    result_badge(&mut body, tally.map_or("", |t| t.result.as_str()));
    body.raw("</div><div class=\"card-label\">Consensus</div></div>");
    // The outcome once the run finished (completed, timed_out, …), its state (queued, leased) before.
    card(&mut body, "Agent run", record.outcome.as_deref().unwrap_or(&record.state));
    card(&mut body, "Agent time", &record.duration_ms.map(duration_ms).unwrap_or_else(|| "—".into()));
    card(&mut body, "LLM spend", &usd(record.cost.llm_micro_usd));
    card(&mut body, "Sandbox time", &duration_ms(record.cost.sandbox_ms));
    body.raw("</div>");
    if let Some(error) = record.error.as_deref().filter(|e| !e.is_empty()) {
        body.raw("<p class=\"problem\">").text(error).raw("</p>");
    }
    if let Some(RunResult::Pending(why)) = tally.map(|t| &t.result) {
        body.raw("<p class=\"note\">Pending: ").fmt(format_args!("{why}")).raw(". It counts for nobody until it has a result.</p>");
    }

    body.raw(
        "<h2>Verdicts</h2><table><thead><tr><th class=\"num\">#</th><th>Validator</th><th>Verdict</th><th>With consensus</th>\
         <th>Tests passed</th><th>Graded</th><th>Signature</th></tr></thead><tbody>",
    );
    let accepted = evaluation.verified.accepted.iter().filter(|v| v.statement.run_id == run);
    let mut verdicts = 0;
    for verdict in accepted {
        verdicts += 1;
        let statement = &verdict.statement;
        let vote = tally.and_then(|t| t.votes.iter().find(|v| v.seq == verdict.seq));
        body.raw("<tr><td class=\"num\">").fmt(format_args!("{}", verdict.seq)).raw("</td><td>");
        hotkey(&mut body, statement.validator.as_str());
        body.raw("</td><td>");
        result_badge(&mut body, if statement.status == VerdictStatus::Resolved { "resolved" } else { "unresolved" });
        if !matches!(statement.status, VerdictStatus::Resolved | VerdictStatus::Unresolved) {
            body.raw(" <span class=\"muted\">").text(statement.status.as_str()).raw("</span>");
        }
        body.raw("</td><td>").raw(match vote.and_then(|v| v.agrees) {
            Some(true) => "<span class=\"ok\">agrees</span>",
            Some(false) => "<span class=\"bad\">dissents</span>",
            None => "<span class=\"muted\">pending</span>",
        });
        let passed = statement.tests.iter().filter(|t| t.status == TestStatus::Passed).count();
        body.raw("</td><td><details><summary>")
            .fmt(format_args!("{passed} of {}", statement.tests.len()))
            .raw("</summary><ul class=\"tests\">");
        for test in &statement.tests {
            body.raw(if test.status == TestStatus::Passed { "<li class=\"ok\">" } else { "<li class=\"bad\">" })
                .text(&format!("{:?}", test.status).to_lowercase())
                .raw(" <code>")
                .text(&test.id)
                .raw("</code></li>");
        }
        body.raw("</ul></details></td><td>")
            .text(&utc(statement.graded_at_ms))
            .raw("<div class=\"sub\">")
            .text(&statement.grader_version)
            .raw("</div></td><td><span class=\"ok\">✓ verified</span><div class=\"sub\">patch ")
            .text(&short_digest(statement.patch.as_str()))
            .raw("</div></td></tr>");
    }
    for rejected in evaluation.verified.rejected.iter().filter(|r| r.run_id == run) {
        verdicts += 1;
        let signature = match &rejected.reason {
            Rejection::Invalid(_) => "✗ does not verify",
            _ => "✓ verified, not counted",
        };
        body.raw("<tr class=\"rejected\"><td class=\"num\">")
            .fmt(format_args!("{}", rejected.seq))
            .raw("</td><td colspan=\"5\">")
            .text(&rejected.reason.to_string())
            .raw("</td><td><span class=\"bad\">")
            .raw(signature)
            .raw("</span></td></tr>");
    }
    body.raw("</tbody></table>");
    if verdicts == 0 {
        body.raw("<p class=\"empty\">No validator has graded this run yet.</p>");
    }
    if let Some(disputed) = tally.map(|t| &t.disputed_tests).filter(|d| !d.is_empty()) {
        body.raw("<p class=\"note\">Validators disagreed on: ");
        for (i, test) in disputed.iter().enumerate() {
            if i > 0 {
                body.raw(", ");
            }
            body.raw("<code>").text(test).raw("</code>");
        }
        body.raw("</p>");
    }

    if web.show_run_details() {
        trajectory(&mut body, &detail);
    } else {
        body.raw("<h2>Agent log, LLM calls and patch</h2><div class=\"locked\"><p>")
            .raw(
                "These are for the run's miner and the subnet's validators only, as in the coordinator's gRPC API: another miner \
                 must not read a competitor's patch. The miner reads them with a request signed by its hotkey:</p><pre>",
            )
            .text(&format!("whetstone runs {} --wallet.name <wallet> --wallet.hotkey <hotkey>", record.run_id))
            .raw("</pre></div>");
    }
    Ok(layout(&format!("{} on {}", record.agent_name, record.task_id), None, &scoring, body))
}

/// The private part of a run: log, LLM calls, patch.
fn trajectory(body: &mut Html, detail: &RunDetail) {
    body.raw("<h2>LLM calls</h2>");
    let llm = &detail.llm;
    if llm.calls.is_empty() {
        body.raw("<p class=\"empty\">The agent made no LLM call.</p>");
    } else {
        body.raw("<p class=\"note\">")
            .fmt(format_args!(
                "{} call(s), {} spent, {} refused by the budget or the allowlist.",
                llm.calls.len(),
                usd(llm.spent_micro_usd),
                llm.refused
            ))
            .raw(
                "</p><table><thead><tr><th class=\"num\">#</th><th>Model</th><th class=\"num\">Prompt tokens</th>\
                 <th class=\"num\">Completion tokens</th><th class=\"num\">Cost</th><th class=\"num\">Latency</th><th class=\"num\">Status</th></tr></thead><tbody>",
            );
        for (i, call) in llm.calls.iter().enumerate() {
            body.raw(if call.status == 200 { "<tr>" } else { "<tr class=\"rejected\">" })
                .raw("<td class=\"num\">")
                .fmt(format_args!("{}", i + 1))
                .raw("</td><td>")
                .text(&call.model)
                .raw("</td><td class=\"num\">")
                .fmt(format_args!("{}", call.prompt_tokens))
                .raw("</td><td class=\"num\">")
                .fmt(format_args!("{}", call.completion_tokens))
                .raw("</td><td class=\"num\">")
                .text(&usd(call.cost_micro_usd))
                .raw("</td><td class=\"num\">")
                .text(&duration_ms(call.latency_ms))
                .raw("</td><td class=\"num\">")
                .fmt(format_args!("{}", call.status))
                .raw("</td></tr>");
        }
        body.raw("</tbody></table>");
    }
    body.raw("<h2>Patch</h2>");
    match detail.patch.as_deref() {
        Some(patch) if !patch.is_empty() => {
            body.append(diff::render(patch));
        }
        _ => {
            body.raw("<p class=\"empty\">The agent left no patch.</p>");
        }
    }
    body.raw("<h2>Agent log</h2>");
    match detail.log.as_deref() {
        Some(log) if !log.is_empty() => {
            body.raw("<pre class=\"log\">").text(log).raw("</pre>");
        }
        _ => {
            body.raw("<p class=\"empty\">The agent wrote nothing.</p>");
        }
    }
}
