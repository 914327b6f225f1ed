//! `/`: the leaderboard, as `Scores.Leaderboard` computes it, with the round's progress and,
//! when the coordinator follows the chain, the Yuma incentive the validators' weights earn.

use axum::extract::State;
use axum::response::Response;

use crate::web::html::{Html, duration_ms, percent, short_digest, usd};
use crate::web::{PageError, Tab, Web, hotkey, layout};

pub(crate) async fn page(State(web): State<Web>) -> Result<Response, PageError> {
    let services = &web.services;
    let (board, evaluation) = services.current_leaderboard().await?;
    let counts = services.store.counts().await?;
    let incentives = services.incentive_view();
    let scoring = evaluation.describe();

    let mut body = Html::new();
    body.raw("<h1>Leaderboard</h1><p class=\"lead\">Coding agents ranked by the share of tasks the validators' consensus says they resolved.</p>");
    body.raw("<div class=\"cards\">");
    card(&mut body, "Agents", &board.len().to_string());
    card(&mut body, "Tasks", &evaluation.consensus.tasks.max(services.store.task_count().await?).to_string());
    card(&mut body, "Agent runs done", &format!("{} / {}", counts.runs_done, counts.runs_total));
    card(&mut body, "Gradings done", &format!("{} / {}", counts.grades_done, counts.grades_total));
    card(&mut body, "Validators", &evaluation.consensus.validators.len().to_string());
    body.raw("</div>");

    if board.is_empty() {
        body.raw("<p class=\"empty\">No agent has been submitted yet. Miners submit with <code>whetstone agent submit</code>.</p>");
        return Ok(layout("Leaderboard", Some(Tab::Leaderboard), &scoring, body));
    }
    body.raw(
        "<table class=\"board\"><thead><tr><th class=\"num\">Rank</th><th>Agent</th><th>Miner hotkey</th>\
         <th class=\"num\">Resolved</th><th>Score</th><th class=\"num\">Pending</th><th class=\"num\">Cost / resolved</th>\
         <th class=\"num\">Yuma incentive</th></tr></thead><tbody>",
    );
    for (rank, entry) in board.iter().enumerate() {
        let digest = entry.agent.digest.to_string();
        body.raw("<tr><td class=\"num rank\">").fmt(format_args!("{}", rank + 1)).raw("</td><td>");
        body.link("/agents/", &digest, &entry.agent.name).raw(" <span class=\"muted\">").text(&entry.agent.version).raw("</span>");
        body.raw("<div class=\"sub\"><code title=\"").text(&digest).raw("\">").text(&short_digest(&digest)).raw("</code>");
        if let Some(copy) = &entry.agent.copy_of {
            body.raw(" <span class=\"badge copy\" title=\"accepted as a flagged copy of ")
                .text(copy.original.as_str())
                .raw("\">")
                .fmt(format_args!("copy ({}‰ similar)", copy.permille))
                .raw("</span>");
        }
        body.raw("</div></td><td>");
        hotkey(&mut body, entry.agent.hotkey.as_str());
        body.raw("</td><td class=\"num\">").fmt(format_args!("{} / {}", entry.resolved, entry.tasks)).raw("</td><td>");
        score_bar(&mut body, entry.score);
        body.raw("</td><td class=\"num\">").fmt(format_args!("{}", entry.pending)).raw("</td><td class=\"num\">");
        match entry.cost_per_resolved() {
            Some(cost) => {
                body.text(&usd(cost.llm_micro_usd)).raw("<div class=\"sub\">").text(&duration_ms(cost.sandbox_ms)).raw(" sandbox</div>");
            }
            None => {
                body.raw("<span class=\"muted\" title=\"nothing resolved yet\">—</span>");
            }
        }
        body.raw("</td><td class=\"num\">");
        match incentives.as_ref().and_then(|view| view.of_hotkey(&entry.agent.hotkey)) {
            Some(earned) => {
                body.text(&percent(earned.incentive)).raw("<div class=\"sub\">").fmt(format_args!("uid {}", earned.uid)).raw("</div>");
            }
            None => {
                body.raw("<span class=\"muted\">—</span>");
            }
        }
        body.raw("</td></tr>");
    }
    body.raw("</tbody></table>");
    body.raw("<p class=\"note\">");
    match &incentives {
        Some(view) => {
            body.fmt(format_args!(
                "Yuma incentive: each miner's share of the subnet's incentive in one Yuma Consensus epoch over the metagraph of netuid {} \
                 at block {} (tempo {}), from the weights {} validator(s) set on chain. A projection of the next epoch, not the chain's record.",
                view.netuid, view.block, view.tempo, view.validators_with_weights
            ));
        }
        None => {
            body.raw(
                "Yuma incentive: this coordinator does not follow the subnet's chain (its membership is not synced from a metagraph), \
                 so it cannot show what the validators' weights earn each miner. A coordinator started with membership from the chain \
                 (<code>whetstone coordinator --chain.endpoint …</code>) shows it here.",
            );
        }
    }
    body.raw(
        "</p><p class=\"note\">Score = tasks resolved ÷ tasks in the ledger. A run counts once a quorum of validators has signed \
         verdicts on it; pending runs count for nobody yet. Cost / resolved: the agent's LLM spend over all its runs (and the time \
         its sandboxes ran) divided by the tasks it resolved, as agent-runners report it; it orders equal scores on this board \
         only and never moves weights (docs/scoring.md).</p>",
    );
    Ok(layout("Leaderboard", Some(Tab::Leaderboard), &scoring, body))
}

pub(crate) fn card(body: &mut Html, label: &str, value: &str) {
    body.raw("<div class=\"card\"><div class=\"card-value\">")
        .text(value)
        .raw("</div><div class=\"card-label\">")
        .text(label)
        .raw("</div></div>");
}

/// A score in 0..=1 as a figure and a small bar (SVG, so the page needs no inline style).
fn score_bar(body: &mut Html, score: f64) {
    body.raw("<div class=\"score\"><span>")
        .text(&percent(score))
        .raw("</span><svg class=\"meter\" viewBox=\"0 0 100 8\" preserveAspectRatio=\"none\" aria-hidden=\"true\"><rect class=\"track\" width=\"100\" height=\"8\" rx=\"4\"/><rect class=\"fill\" height=\"8\" rx=\"4\" width=\"")
        .fmt(format_args!("{:.1}", (score * 100.0).clamp(0.0, 100.0)))
        .raw("\"/></svg></div>");
}
