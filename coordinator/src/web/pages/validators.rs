//! `/validators`: each validator's standing as `Scores.Validators` reports it: stake, verdicts,
//! agreement with the consensus, runs where it dissented, and every ledger entry the scoring
//! function rejected, with the reason.

use axum::extract::State;
use axum::response::Response;
use whetstone_chain::consensus::RunResult;

use super::leaderboard::card;
use crate::web::charts::Bars;
use crate::web::html::{Html, percent, short};
use crate::web::{PageError, Tab, Web, hotkey, layout};

pub(crate) async fn page(State(web): State<Web>) -> Result<Response, PageError> {
    let evaluation = web.services.evaluate().await?;
    let consensus = &evaluation.consensus;
    let scoring = evaluation.describe();
    let count = |pred: &dyn Fn(&whetstone_chain::consensus::RunTally) -> bool| consensus.runs.iter().filter(|r| pred(r)).count();

    let mut body = Html::new();
    body.raw("<h1>Validators</h1><p class=\"lead\">Every verdict is signed by the validator that graded the patch. A run's result is the stake-weighted majority of its verdicts; a validator that often disagrees with it earns less trust.</p><div class=\"cards\">");
    card(&mut body, "Validators", &consensus.validators.len().to_string());
    card(&mut body, "Runs decided", &count(&|r| !matches!(r.result, RunResult::Pending(_))).to_string());
    card(&mut body, "Runs pending", &count(&|r| matches!(r.result, RunResult::Pending(_))).to_string());
    card(&mut body, "Runs disputed", &count(&|r| !r.disputed_tests.is_empty()).to_string());
    card(&mut body, "Verdicts rejected", &evaluation.verified.rejected.len().to_string());
    body.raw("</div>");

    if consensus.validators.is_empty() {
        body.raw("<p class=\"empty\">No verdict is in the ledger yet.</p>");
    } else {
        body.raw("<h2>Agreement with the consensus</h2>");
        let bars = Bars {
            title: "Share of each validator's verdicts on decided runs that agree with the result",
            bars: consensus
                .validators
                .iter()
                .map(|v| {
                    let note = match v.agreement() {
                        Some(share) => format!("{} ({} of {})", percent(share), v.agreed, v.on_decided),
                        None => "no decided run yet".to_owned(),
                    };
                    (short(v.hotkey.as_str(), 12), v.agreement().unwrap_or(0.0), note)
                })
                .collect(),
        };
        body.append(bars.render());
        body.raw(
            "<table><thead><tr><th>Validator hotkey</th><th class=\"num\">Stake</th><th class=\"num\">Verdicts</th>\
             <th class=\"num\">On decided runs</th><th class=\"num\">Agreed</th><th class=\"num\">Flaky-test dissents</th><th>Dissented on</th></tr></thead><tbody>",
        );
        for v in &consensus.validators {
            body.raw("<tr><td>");
            hotkey(&mut body, v.hotkey.as_str());
            body.raw("</td><td class=\"num\">")
                .fmt(format_args!("{}", evaluation.validators.stake(&v.hotkey)))
                .raw("</td><td class=\"num\">")
                .fmt(format_args!("{}", v.verdicts))
                .raw("</td><td class=\"num\">")
                .fmt(format_args!("{}", v.on_decided))
                .raw("</td><td class=\"num\">")
                .text(&v.agreement().map_or_else(|| "—".to_owned(), percent))
                .raw("</td><td class=\"num\">")
                .fmt(format_args!("{}", v.flaky))
                .raw("</td><td>");
            if v.flagged.is_empty() {
                body.raw("<span class=\"muted\">none</span>");
            }
            for (i, run) in v.flagged.iter().enumerate() {
                if i > 0 {
                    body.raw(", ");
                }
                body.link("/runs/", run.as_str(), &short(run.as_str(), 14));
            }
            body.raw("</td></tr>");
        }
        body.raw("</tbody></table>");
    }

    body.raw("<h2>Rejected verdicts</h2>");
    if evaluation.verified.rejected.is_empty() {
        body.raw("<p class=\"empty\">Every verdict in the ledger verifies and counts.</p>");
    } else {
        body.raw("<table><thead><tr><th class=\"num\">#</th><th>Run</th><th>Why it does not count</th></tr></thead><tbody>");
        for rejected in &evaluation.verified.rejected {
            body.raw("<tr class=\"rejected\"><td class=\"num\">").fmt(format_args!("{}", rejected.seq)).raw("</td><td>");
            body.link("/runs/", rejected.run_id.as_str(), &short(rejected.run_id.as_str(), 14));
            body.raw("</td><td>").text(&rejected.reason.to_string()).raw("</td></tr>");
        }
        body.raw("</tbody></table>");
    }
    Ok(layout("Validators", Some(Tab::Validators), &scoring, body))
}
