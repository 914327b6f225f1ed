//! Per-run money: prices, worst-case reservations, settlement, and the record of every call.
//!
//! All amounts are integer micro-dollars. A call first reserves its worst case; the
//! reservation is held (it counts against the budget) until the call settles with the cost
//! its reported usage implies, or, if nothing was reported, with the whole reservation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::config::ModelPrice;

/// What a run may spend and the seed its chat requests are pinned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunBudget {
    pub budget_micro_usd: u64,
    /// Sent as `seed` in every chat request of the run, overriding the agent's. Keep it below
    /// 2^31: some servers (llama.cpp) read the seed as a 32-bit integer.
    pub seed: u64,
}

pub use whetstone_proto::job::{LlmCall, LlmUsage as RunUsage};

/// Token counts an upstream reported in a response's `usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}

/// The cost of `tokens` at `micro_usd_per_mtok`, rounded up to a whole micro-dollar.
fn price(tokens: u64, micro_usd_per_mtok: u64) -> u128 {
    u128::from(tokens) * u128::from(micro_usd_per_mtok)
}

fn to_micro_usd(micro_usd_times_mtok: u128) -> u64 {
    u64::try_from(micro_usd_times_mtok.div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// Cost of a call with the given usage; rounding happens once, on the sum, and upward.
pub(crate) fn cost_of(model: &ModelPrice, usage: Usage) -> u64 {
    to_micro_usd(
        price(usage.prompt_tokens, model.input_micro_usd_per_mtok)
            .saturating_add(price(usage.completion_tokens, model.output_micro_usd_per_mtok)),
    )
}

/// The most a call can cost: every byte of the forwarded body a prompt token (a token is at
/// least one byte) and every allowed completion token produced.
pub(crate) fn worst_case(model: &ModelPrice, body_bytes: usize, max_completion_tokens: u64) -> u64 {
    let prompt_bound = u64::try_from(body_bytes).unwrap_or(u64::MAX);
    cost_of(model, Usage { prompt_tokens: prompt_bound, completion_tokens: max_completion_tokens })
}

/// A request that would break the budget; the numbers go into the 429's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub budget: u64,
    pub spent: u64,
    pub outstanding: u64,
    pub needed: u64,
}

#[derive(Debug)]
struct RunLedger {
    budget: RunBudget,
    spent: u64,
    /// Sum of the reservations of calls in flight.
    outstanding: u64,
    /// Calls reserved and not yet settled.
    in_flight: u32,
    calls: Vec<LlmCall>,
    refused: u32,
    /// Set by `close`: the key is dead while the calls in flight finish.
    closing: bool,
}

impl RunLedger {
    fn new(budget: RunBudget) -> Self {
        Self { budget, spent: 0, outstanding: 0, in_flight: 0, calls: Vec::new(), refused: 0, closing: false }
    }

    fn try_reserve(&mut self, amount: u64) -> Result<(), Refusal> {
        let committed = self.spent.saturating_add(self.outstanding);
        if committed.saturating_add(amount) > self.budget.budget_micro_usd {
            self.refused += 1;
            metrics::counter!("whetstone_llm_refused_total").increment(1);
            return Err(Refusal { budget: self.budget.budget_micro_usd, spent: self.spent, outstanding: self.outstanding, needed: amount });
        }
        self.outstanding += amount;
        self.in_flight += 1;
        Ok(())
    }

    fn settle(&mut self, reserved: u64, call: LlmCall) {
        self.outstanding = self.outstanding.saturating_sub(reserved);
        self.in_flight = self.in_flight.saturating_sub(1);
        self.spent = self.spent.saturating_add(call.cost_micro_usd);
        self.calls.push(call);
    }

    fn into_usage(self) -> RunUsage {
        RunUsage { calls: self.calls, spent_micro_usd: self.spent, refused: self.refused }
    }
}

/// The open runs, by bearer token. Every operation holds the lock only for arithmetic.
#[derive(Debug, Default)]
pub(crate) struct Ledgers {
    runs: Mutex<HashMap<String, RunLedger>>,
    /// Woken whenever a call settles, for `close` waiting on calls in flight.
    settled: Notify,
}

/// Why a reservation was not made.
#[derive(Debug)]
pub(crate) enum ReserveError {
    UnknownRun,
    OverBudget(Refusal),
}

impl Ledgers {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, RunLedger>> {
        // A panic while holding the lock leaves only consistent integers behind.
        self.runs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn open(&self, token: String, budget: RunBudget) {
        self.lock().insert(token, RunLedger::new(budget));
    }

    /// Kills the run's key at once, waits up to `grace` for its calls in flight to settle
    /// (an agent's connections die with its container, which settles them), then removes
    /// the run and returns what it did.
    pub(crate) async fn close(&self, token: &str, grace: Duration) -> Option<RunUsage> {
        let deadline = Instant::now() + grace;
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            {
                let mut runs = self.lock();
                let run = runs.get_mut(token)?;
                run.closing = true;
                if run.in_flight == 0 || Instant::now() >= deadline {
                    if run.in_flight > 0 {
                        tracing::warn!(in_flight = run.in_flight, "closed a run with LLM calls still in flight; they are not recorded");
                    }
                    return runs.remove(token).map(RunLedger::into_usage);
                }
            }
            let _ = tokio::time::timeout_at(deadline, settled).await;
        }
    }

    /// What an open run has done so far.
    pub(crate) fn snapshot(&self, token: &str) -> Option<RunUsage> {
        self.lock().get(token).filter(|run| !run.closing).map(|run| RunUsage {
            calls: run.calls.clone(),
            spent_micro_usd: run.spent,
            refused: run.refused,
        })
    }

    /// The run's seed, if the token belongs to an open run.
    pub(crate) fn seed(&self, token: &str) -> Option<u64> {
        self.lock().get(token).filter(|run| !run.closing).map(|run| run.budget.seed)
    }

    /// Holds `amount` against the run's budget until the returned reservation settles (or is
    /// dropped, which charges it in full).
    pub(crate) fn reserve(self: &Arc<Self>, token: &str, model: &ModelPrice, amount: u64) -> Result<Reservation, ReserveError> {
        let mut runs = self.lock();
        let run = runs.get_mut(token).filter(|run| !run.closing).ok_or(ReserveError::UnknownRun)?;
        run.try_reserve(amount).map_err(ReserveError::OverBudget)?;
        Ok(Reservation {
            ledgers: Arc::clone(self),
            token: token.to_owned(),
            model: model.clone(),
            amount,
            started: Instant::now(),
            settled: false,
        })
    }
}

/// A call in flight. Settling records it; dropping it unsettled (the agent disconnected,
/// the handler was cancelled) charges the whole reservation, because the upstream may bill
/// for work it already did.
#[derive(Debug)]
pub(crate) struct Reservation {
    ledgers: Arc<Ledgers>,
    token: String,
    model: ModelPrice,
    amount: u64,
    started: Instant,
    settled: bool,
}

/// How a call ended, from the proxy's point of view.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    /// The upstream answered and reported usage: charge exactly that.
    Reported(Usage),
    /// The upstream answered successfully but reported nothing: charge the reservation.
    Unreported,
    /// The upstream refused or never answered: nothing was generated, charge nothing.
    Failed,
}

impl Reservation {
    pub(crate) fn settle(mut self, outcome: Outcome, status: u16) {
        self.record(outcome, status);
    }

    fn record(&mut self, outcome: Outcome, status: u16) {
        self.settled = true;
        let (usage, cost) = match outcome {
            Outcome::Reported(usage) => (usage, cost_of(&self.model, usage)),
            Outcome::Unreported => (Usage::default(), self.amount),
            Outcome::Failed => (Usage::default(), 0),
        };
        let call = LlmCall {
            model: self.model.name.clone(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cost_micro_usd: cost,
            latency_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            status,
        };
        tracing::debug!(?call, reserved = self.amount, "LLM call settled");
        record_metrics(&call);
        match self.ledgers.lock().get_mut(&self.token) {
            Some(run) => run.settle(self.amount, call),
            None => tracing::warn!(?call, "an LLM call finished after its run was closed; not recorded"),
        }
        self.ledgers.settled.notify_waiters();
    }
}

/// The proxy's side of the process metrics: every call, its tokens and what it cost.
fn record_metrics(call: &LlmCall) {
    let model = call.model.clone();
    metrics::counter!("whetstone_llm_calls_total", "model" => model.clone(), "status" => call.status.to_string()).increment(1);
    metrics::counter!("whetstone_llm_tokens_total", "model" => model.clone(), "kind" => "prompt").increment(call.prompt_tokens);
    metrics::counter!("whetstone_llm_tokens_total", "model" => model, "kind" => "completion").increment(call.completion_tokens);
    metrics::counter!("whetstone_llm_spent_micro_usd_total").increment(call.cost_micro_usd);
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            self.record(Outcome::Unreported, 499);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(input: u64, output: u64) -> ModelPrice {
        ModelPrice { name: "m".to_owned(), input_micro_usd_per_mtok: input, output_micro_usd_per_mtok: output, max_output_tokens: 100 }
    }

    #[test]
    fn costs_round_up_once_on_the_sum() {
        // (prompt, completion, input price, output price) -> micro-dollars
        let table: &[(u64, u64, u64, u64, u64)] = &[
            (0, 0, 1_000_000, 2_000_000, 0),
            (57, 12, 1_000_000, 2_000_000, 81),
            (1, 0, 1, 0, 1),       // 1e-6 µ$ rounds up to 1
            (500_000, 0, 1, 0, 1), // 0.5 µ$ rounds up
            (1_000_000, 0, 270_000, 0, 270_000),
            (400_000, 300_000, 1, 2, 1),                        // 0.4 + 0.6 = exactly 1, not 2
            (u64::MAX, u64::MAX, u64::MAX, u64::MAX, u64::MAX), // saturates, never wraps
        ];
        for &(prompt, completion, input, output, want) in table {
            let got = cost_of(&model(input, output), Usage { prompt_tokens: prompt, completion_tokens: completion });
            assert_eq!(got, want, "prompt {prompt}, completion {completion}, prices {input}/{output}");
        }
    }

    #[test]
    fn worst_case_counts_every_body_byte_as_a_prompt_token() {
        assert_eq!(worst_case(&model(1_000_000, 2_000_000), 300, 100), 300 + 200);
        assert_eq!(worst_case(&model(1_000_000, 0), 64, 0), 64);
    }

    fn budget(micro_usd: u64) -> RunBudget {
        RunBudget { budget_micro_usd: micro_usd, seed: 7 }
    }

    #[tokio::test]
    async fn reservations_count_against_the_budget_until_settled() {
        let ledgers = Arc::new(Ledgers::default());
        ledgers.open("t".into(), budget(100));
        let m = model(1_000_000, 1_000_000);
        let first = ledgers.reserve("t", &m, 60).expect("fits");
        let Err(ReserveError::OverBudget(refusal)) = ledgers.reserve("t", &m, 41) else {
            panic!("60 outstanding + 41 > 100 must be refused");
        };
        assert_eq!(refusal, Refusal { budget: 100, spent: 0, outstanding: 60, needed: 41 });
        let second = ledgers.reserve("t", &m, 40).expect("60 + 40 = 100 fits exactly");

        first.settle(Outcome::Reported(Usage { prompt_tokens: 10, completion_tokens: 5 }), 200);
        second.settle(Outcome::Failed, 500);
        let third = ledgers.reserve("t", &m, 85).expect("15 spent + 85 = 100 fits");
        drop(third); // an abandoned call is charged in full

        let usage = ledgers.close("t", Duration::ZERO).await.expect("open");
        assert_eq!(usage.spent_micro_usd, 100);
        assert_eq!(usage.refused, 1);
        let statuses: Vec<(u16, u64)> = usage.calls.iter().map(|c| (c.status, c.cost_micro_usd)).collect();
        assert_eq!(statuses, vec![(200, 15), (500, 0), (499, 85)]);
        assert!(ledgers.reserve("t", &m, 1).is_err(), "a closed run reserves nothing");
    }

    #[tokio::test]
    async fn unreported_usage_charges_the_reservation() {
        let ledgers = Arc::new(Ledgers::default());
        ledgers.open("t".into(), budget(1000));
        ledgers.reserve("t", &model(1, 1), 123).expect("fits").settle(Outcome::Unreported, 200);
        assert_eq!(ledgers.close("t", Duration::ZERO).await.expect("open").spent_micro_usd, 123);
    }

    #[tokio::test]
    async fn close_kills_the_key_then_waits_for_calls_in_flight() {
        let ledgers = Arc::new(Ledgers::default());
        ledgers.open("t".into(), budget(1000));
        let in_flight = ledgers.reserve("t", &model(1, 1), 50).expect("fits");
        let closing = tokio::spawn({
            let ledgers = Arc::clone(&ledgers);
            async move { ledgers.close("t", Duration::from_secs(60)).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!closing.is_finished(), "close must wait for the call in flight");
        assert!(ledgers.seed("t").is_none() && ledgers.reserve("t", &model(1, 1), 1).is_err(), "the key is dead while closing");
        in_flight.settle(Outcome::Reported(Usage { prompt_tokens: 3, completion_tokens: 4 }), 200);
        let usage = closing.await.expect("joined").expect("was open");
        assert_eq!((usage.calls.len(), usage.spent_micro_usd), (1, 1));

        // A call that never settles holds close only for the grace period.
        ledgers.open("u".into(), budget(1000));
        let _stuck = ledgers.reserve("u", &model(1, 1), 50).expect("fits");
        let started = Instant::now();
        let usage = ledgers.close("u", Duration::from_millis(200)).await.expect("was open");
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(usage.calls.is_empty());
    }
}
