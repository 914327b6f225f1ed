//! LLM agents end to end, as production runs them: the runner's inference gateway (proxy on
//! the host, a relay on the run network), the reference LLM agent from `examples/agents/llm`,
//! and a scripted OpenAI-compatible upstream replaying recorded completions.

use std::net::SocketAddr;

use whetstone_agent_runner::proxy::{ModelPrice, ProxyConfig, UpstreamKey};
use whetstone_agent_runner::scripted::{Reply, ScriptedUpstream};
use whetstone_agent_runner::{InferenceGateway, run_agent_with_llm};
use whetstone_proto::job::RunOutcome;
use whetstone_sandbox::{NoProgress, Sandbox};
use whetstone_tasks::VerdictStatus;

use crate::{assert_nothing_left, example_agent, limits, root, sandbox, task};

const TASK: &str = "toolz-get-single-index-tuple";

fn proxy_config(upstream: &ScriptedUpstream) -> ProxyConfig {
    ProxyConfig {
        upstream_base_url: upstream.base_url(),
        upstream_api_key_env: "UNUSED".into(),
        models: vec![ModelPrice {
            name: "deepseek-ai/DeepSeek-V3".into(),
            input_micro_usd_per_mtok: 270_000,
            output_micro_usd_per_mtok: 1_100_000,
            max_output_tokens: 4096,
        }],
        request_timeout_secs: 60,
    }
}

async fn start(replies: Vec<Reply>, sandbox: &Sandbox) -> (ScriptedUpstream, InferenceGateway) {
    // The upstream listens on every host address, as a real local model server might: the
    // agent must still not reach it.
    let upstream = ScriptedUpstream::start(replies, SocketAddr::from(([0, 0, 0, 0], 0))).await.expect("scripted upstream");
    let gateway = InferenceGateway::start(sandbox, proxy_config(&upstream), UpstreamKey::new("")).await.expect("gateway");
    (upstream, gateway)
}

/// The reference LLM agent resolves a shipped task through the proxy, with the recorded
/// completion for it; the run's report carries the metered call.
#[tokio::test]
async fn docker_llm_agent_resolves_a_shipped_task_through_the_proxy() {
    let sandbox = sandbox("llm-resolve").await;
    let task = task(TASK);
    let image = sandbox.ensure_task_image(task.dockerfile(), &NoProgress).await.expect("image");
    let replies = ScriptedUpstream::load(&root().join("examples/upstream/starter.jsonl")).expect("script");
    let (upstream, gateway) = start(replies, &sandbox).await;

    let report =
        run_agent_with_llm(&sandbox, &image, &task.visible(), &example_agent("llm"), limits(240), "llm-resolve", &gateway, 250_000).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{}\n{}", report.error, report.log);
    assert!(report.log.contains("[agent] applied ['toolz/itertoolz.py']"), "{}", report.log);
    let first = report.llm.calls.first().unwrap_or_else(|| panic!("no LLM call recorded:\n{}", report.log));
    assert_eq!(first.status, 200);
    assert_eq!(first.model, "deepseek-ai/DeepSeek-V3");
    assert_eq!((first.prompt_tokens, first.completion_tokens), (6400, 180));
    // 6400 × $0.27/M + 180 × $1.10/M = 1728 + 198 micro-dollars.
    assert_eq!(first.cost_micro_usd, 1926);
    assert_eq!(report.llm.spent_micro_usd, report.llm.calls.iter().map(|c| c.cost_micro_usd).sum::<u64>());
    assert!(upstream.requests().0 >= 1);
    // The run's other cost: the agent container's lifetime, at least the call's round trip.
    assert!(report.sandbox >= std::time::Duration::from_millis(first.latency_ms), "sandbox time {:?}", report.sandbox);

    let graded = whetstone_validator::grade_patch(&sandbox, &image, &task, &report.patch, limits(300), "llm-grade").await;
    assert_eq!(
        graded.verdict.status,
        VerdictStatus::Resolved,
        "{:?}\n--- patch\n{}",
        graded.verdict,
        String::from_utf8_lossy(&report.patch)
    );

    gateway.shutdown().await;
    assert_nothing_left(&sandbox).await;
}

/// A budget too small for any request: the proxy refuses with 429 before anything reaches the
/// upstream, the agent stops cleanly, and the run is an ordinary completed run with the
/// refusal on record.
#[tokio::test]
async fn docker_llm_budget_exhaustion_gets_429_and_the_run_ends_cleanly() {
    let sandbox = sandbox("llm-budget").await;
    let task = task(TASK);
    let image = sandbox.ensure_task_image(task.dockerfile(), &NoProgress).await.expect("image");
    let replies = ScriptedUpstream::load(&root().join("examples/upstream/starter.jsonl")).expect("script");
    let (upstream, gateway) = start(replies, &sandbox).await;

    let report =
        run_agent_with_llm(&sandbox, &image, &task.visible(), &example_agent("llm"), limits(120), "llm-budget", &gateway, 50).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{}\n{}", report.error, report.log);
    assert_eq!(report.exit_code, 0, "{}", report.log);
    assert!(report.log.contains("LLM budget exhausted"), "{}", report.log);
    assert!(report.llm.refused >= 1, "{:?}", report.llm);
    assert_eq!(report.llm.spent_micro_usd, 0);
    assert_eq!(upstream.requests().0, 0, "a refused request reached the upstream");
    assert!(report.patch.is_empty());

    gateway.shutdown().await;
    assert_nothing_left(&sandbox).await;
}
