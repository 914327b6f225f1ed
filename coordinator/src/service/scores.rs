use tonic::{Request, Response, Status};
use whetstone_chain::consensus::{self, Consensus, ValidatorSet};
use whetstone_chain::incentive::IncentiveView;
use whetstone_chain::verdict::AgentClaim;
use whetstone_proto::convert::parse_digest;
use whetstone_proto::pb;
use whetstone_tasks::RunId;

use super::{ApiError, Services};
use crate::ledger::Evaluation;
use crate::scoring;
use crate::store::RunRecord;

/// Most ledger entries in one `Scores.Verdicts` page.
const MAX_PAGE: u32 = 5000;

impl Services {
    /// The scoring function over the ledger as it stands.
    pub(crate) async fn evaluate(&self) -> Result<Evaluation, ApiError> {
        Ok(self.ledger.evaluate(self.store.as_ref(), self.validator_set(), self.config.epochs).await?)
    }

    /// Whose verdicts count, with what stake: the synced metagraph when there is one (real
    /// stake), else the membership view (a static list: equal stake), else (membership not
    /// checked) every signer equally.
    pub(crate) fn validator_set(&self) -> Option<ValidatorSet> {
        let synced = self.chain.as_ref().and_then(|chain| chain.current()).map(|snapshot| ValidatorSet::from_snapshot(&snapshot));
        synced.or_else(|| self.auth.validator_set())
    }

    pub(crate) async fn current_leaderboard(&self) -> Result<(Vec<scoring::LeaderboardEntry>, Evaluation), ApiError> {
        let agents = self.store.agents().await?;
        let costs = self.store.agent_costs().await?.into_iter().collect();
        let evaluation = self.evaluate().await?;
        Ok((scoring::leaderboard(&agents, &evaluation.consensus, &costs), evaluation))
    }

    /// What the validators' weights on the synced metagraph earn each miner: a Yuma epoch
    /// over the latest snapshot (quick for a few hundred uids, so it runs per request); `None`
    /// without a chain view.
    pub(crate) fn incentive_view(&self) -> Option<IncentiveView> {
        self.chain.as_ref().and_then(|chain| chain.current()).and_then(|s| IncentiveView::of(&s))
    }

    async fn claims_checked(&self) -> Result<Vec<AgentClaim>, ApiError> {
        Ok(self
            .store
            .claims()
            .await?
            .into_iter()
            .map(|c| AgentClaim { agent: c.agent, miner: c.miner, claimed_at_ms: c.claimed_at_ms, signature: c.signature })
            .collect())
    }
}

#[tonic::async_trait]
impl pb::scores_server::Scores for Services {
    async fn leaderboard(&self, _: Request<pb::LeaderboardRequest>) -> Result<Response<pb::LeaderboardResponse>, Status> {
        let incentives = self.incentive_view();
        let (board, evaluation) = self.current_leaderboard().await?;
        let entries = board
            .into_iter()
            .map(|e| {
                let earned = incentives.as_ref().and_then(|view| view.of_hotkey(&e.agent.hotkey));
                let per_resolved = e.cost_per_resolved();
                let epoch = evaluation
                    .epochs
                    .as_ref()
                    .and_then(|(_, scores)| scores.standing(&e.agent.digest))
                    .and_then(|s| s.epochs.last())
                    .map(|t| t.epoch);
                pb::LeaderboardEntry {
                    llm_spent_micro_usd: e.cost.llm_micro_usd,
                    sandbox_ms: e.cost.sandbox_ms,
                    llm_micro_usd_per_resolved: per_resolved.map(|c| c.llm_micro_usd),
                    sandbox_ms_per_resolved: per_resolved.map(|c| c.sandbox_ms),
                    agent_digest: e.agent.digest.to_string(),
                    name: e.agent.name,
                    version: e.agent.version,
                    hotkey: e.agent.hotkey.to_string(),
                    resolved: e.resolved,
                    graded: e.decided,
                    tasks: e.tasks,
                    score: e.score,
                    uid: earned.map(|n| u32::from(n.uid)),
                    incentive: earned.map(|n| n.incentive),
                    pending: e.pending,
                    copy_of: e.agent.copy_of.as_ref().map(|c| c.original.to_string()).unwrap_or_default(),
                    copy_permille: e.agent.copy_of.as_ref().map_or(0, |c| c.permille),
                    epoch,
                }
            })
            .collect();
        let chain = incentives.map(|view| pb::ChainView {
            netuid: u32::from(view.netuid),
            block: view.block,
            tempo: u32::from(view.tempo),
            validators_with_weights: view.validators_with_weights,
        });
        let scoring = evaluation.describe();
        Ok(Response::new(pb::LeaderboardResponse { entries, chain, scoring, epoch: evaluation.current_epoch() }))
    }

    async fn weights(&self, _: Request<pb::WeightsRequest>) -> Result<Response<pb::WeightsResponse>, Status> {
        let evaluation = self.evaluate().await?;
        let (scores, _) = consensus::miner_scores(&evaluation.consensus, &self.claims_checked().await?);
        let weights = scoring::weights(&scores);
        Ok(Response::new(pb::WeightsResponse {
            hotkeys: weights.iter().map(|(h, _)| h.to_string()).collect(),
            weights: weights.iter().map(|(_, w)| u32::from(*w)).collect(),
        }))
    }

    async fn progress(&self, _: Request<pb::ProgressRequest>) -> Result<Response<pb::ProgressResponse>, Status> {
        let counts = self.store.counts().await.map_err(ApiError::from)?;
        Ok(Response::new(pb::ProgressResponse {
            runs_total: counts.runs_total,
            runs_done: counts.runs_done,
            grades_total: counts.grades_total,
            grades_done: counts.grades_done,
            workers_connected: self.scheduler.connected_workers().await,
        }))
    }

    async fn runs(&self, request: Request<pb::RunsRequest>) -> Result<Response<pb::RunsResponse>, Status> {
        let request = request.into_inner();
        let agent = if request.agent_digest.is_empty() { None } else { Some(parse_digest("agent_digest", &request.agent_digest)?) };
        let evaluation = self.evaluate().await?;
        let runs = self
            .store
            .run_records(agent.as_ref())
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|r| run_record_to_wire(r, &evaluation.consensus))
            .collect();
        Ok(Response::new(pb::RunsResponse { runs }))
    }

    async fn run_detail(&self, request: Request<pb::RunDetailRequest>) -> Result<Response<pb::RunDetailResponse>, Status> {
        let reader = self.auth.run_reader(request.metadata(), request.get_ref())?;
        let run_id = request.into_inner().run_id;
        if run_id.is_empty() {
            return Err(ApiError::BadRequest("run_id is required".into()).into());
        }
        let detail = self
            .store
            .run_detail(&RunId::new(run_id.clone()))
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("no run {run_id}; `whetstone runs` lists them")))?;
        self.auth.may_read_run(&reader, &detail.hotkey, &run_id)?;
        let evaluation = self.evaluate().await?;
        Ok(Response::new(pb::RunDetailResponse {
            run: Some(run_record_to_wire(detail.record, &evaluation.consensus)),
            log: detail.log.unwrap_or_default(),
            patch: detail.patch.unwrap_or_default(),
            llm_calls: detail.llm.calls.into_iter().map(Into::into).collect(),
            llm_spent_micro_usd: detail.llm.spent_micro_usd,
            llm_refused: detail.llm.refused,
        }))
    }

    async fn verdicts(&self, request: Request<pb::VerdictsRequest>) -> Result<Response<pb::VerdictsResponse>, Status> {
        let request = request.into_inner();
        let limit = if request.limit == 0 || request.limit > MAX_PAGE { MAX_PAGE } else { request.limit };
        // One more than asked says whether another page follows.
        let mut rows = self.store.verdicts_after(request.after_seq, limit + 1).await.map_err(ApiError::from)?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_after_seq = rows.last().map_or(request.after_seq, |r| r.seq);
        let verdicts = rows
            .into_iter()
            .map(|r| pb::LedgerVerdict { seq: r.seq, run_id: r.run_id.to_string(), statement: r.statement, signature: r.signature })
            .collect();
        Ok(Response::new(pb::VerdictsResponse { verdicts, next_after_seq, more }))
    }

    async fn claims(&self, _: Request<pb::ClaimsRequest>) -> Result<Response<pb::ClaimsResponse>, Status> {
        let claims = self
            .store
            .claims()
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|c| pb::AgentClaim {
                agent_digest: c.agent.to_string(),
                miner_hotkey: c.miner.to_string(),
                claimed_at_ms: c.claimed_at_ms,
                signature: c.signature,
            })
            .collect();
        Ok(Response::new(pb::ClaimsResponse { claims }))
    }

    async fn validators(&self, _: Request<pb::ValidatorsRequest>) -> Result<Response<pb::ValidatorsResponse>, Status> {
        let evaluation = self.evaluate().await?;
        let consensus = &evaluation.consensus;
        let validators = consensus
            .validators
            .iter()
            .map(|v| pb::ValidatorStanding {
                hotkey: v.hotkey.to_string(),
                stake: evaluation.validators.stake(&v.hotkey),
                verdicts: v.verdicts,
                on_decided: v.on_decided,
                agreed: v.agreed,
                flaky: v.flaky,
                flagged_run_ids: v.flagged.iter().map(ToString::to_string).collect(),
            })
            .collect();
        let count =
            |pred: &dyn Fn(&consensus::RunTally) -> bool| u32::try_from(consensus.runs.iter().filter(|r| pred(r)).count()).unwrap_or(0);
        Ok(Response::new(pb::ValidatorsResponse {
            validators,
            scoring: evaluation.describe(),
            runs_decided: count(&|r| !matches!(r.result, consensus::RunResult::Pending(_))),
            runs_pending: count(&|r| matches!(r.result, consensus::RunResult::Pending(_))),
            runs_disputed: count(&|r| !r.disputed_tests.is_empty()),
            rejected: evaluation
                .verified
                .rejected
                .iter()
                .map(|r| pb::RejectedVerdict { seq: r.seq, run_id: r.run_id.to_string(), reason: r.reason.to_string() })
                .collect(),
        }))
    }

    async fn epochs(&self, _: Request<pb::EpochsRequest>) -> Result<Response<pb::EpochsResponse>, Status> {
        Ok(Response::new(self.epochs_listing().await?))
    }
}

/// A run as miners see it, with the consensus over its verdicts.
fn run_record_to_wire(r: RunRecord, consensus: &Consensus) -> pb::RunRecord {
    let tally = consensus.run(&r.run_id);
    pb::RunRecord {
        verdicts: r.verdicts,
        consensus: tally.map(|t| t.result.as_str().to_owned()).unwrap_or_default(),
        disputed_tests: tally.map(|t| t.disputed_tests.clone()).unwrap_or_default(),
        agreeing: tally.map_or(0, |t| u32::try_from(t.votes.iter().filter(|v| v.agrees == Some(true)).count()).unwrap_or(0)),
        run_id: r.run_id.to_string(),
        agent_digest: r.agent.to_string(),
        agent_name: r.agent_name,
        task_id: r.task_id,
        task_digest: r.task.to_string(),
        run_state: r.state,
        run_outcome: r.outcome.unwrap_or_default(),
        attempts: r.attempts,
        verdict: r.verdict.map(Into::into),
        run_duration_ms: r.duration_ms.unwrap_or_default(),
        error: r.error.unwrap_or_default(),
        llm_spent_micro_usd: r.cost.llm_micro_usd,
        sandbox_ms: r.cost.sandbox_ms,
    }
}
