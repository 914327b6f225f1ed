use tonic::{Request, Response, Status};
use whetstone_chain::incentive::IncentiveView;
use whetstone_proto::convert::parse_digest;
use whetstone_proto::pb;
use whetstone_tasks::RunId;

use super::{ApiError, Services};
use crate::scoring;
use crate::store::RunRecord;

impl Services {
    async fn current_leaderboard(&self) -> Result<Vec<scoring::LeaderboardEntry>, ApiError> {
        let agents = self.store.agents().await?;
        let tasks = self.store.task_count().await?;
        let runs = self.store.run_summaries().await?;
        Ok(scoring::leaderboard(&agents, tasks, &runs))
    }
}

#[tonic::async_trait]
impl pb::scores_server::Scores for Services {
    async fn leaderboard(&self, _: Request<pb::LeaderboardRequest>) -> Result<Response<pb::LeaderboardResponse>, Status> {
        // An epoch over a few hundred uids is quick; it runs per request on the latest snapshot.
        let incentives = self.chain.as_ref().and_then(|chain| chain.current()).and_then(|s| IncentiveView::of(&s));
        let entries = self
            .current_leaderboard()
            .await?
            .into_iter()
            .map(|e| {
                let earned = incentives.as_ref().and_then(|view| view.of_hotkey(&e.agent.hotkey));
                pb::LeaderboardEntry {
                    agent_digest: e.agent.digest.to_string(),
                    name: e.agent.name,
                    version: e.agent.version,
                    hotkey: e.agent.hotkey.to_string(),
                    resolved: e.resolved,
                    graded: e.finished,
                    tasks: e.tasks,
                    score: e.score,
                    uid: earned.map(|n| u32::from(n.uid)),
                    incentive: earned.map(|n| n.incentive),
                    pending: 0,
                }
            })
            .collect();
        let chain = incentives.map(|view| pb::ChainView {
            netuid: u32::from(view.netuid),
            block: view.block,
            tempo: u32::from(view.tempo),
            validators_with_weights: view.validators_with_weights,
        });
        Ok(Response::new(pb::LeaderboardResponse { entries, chain, scoring: String::new() }))
    }

    async fn weights(&self, _: Request<pb::WeightsRequest>) -> Result<Response<pb::WeightsResponse>, Status> {
        let weights = scoring::weights(&self.current_leaderboard().await?);
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
        let runs = self.store.run_records(agent.as_ref()).await.map_err(ApiError::from)?.into_iter().map(run_record_to_wire).collect();
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
        Ok(Response::new(pb::RunDetailResponse {
            run: Some(run_record_to_wire(detail.record)),
            log: detail.log.unwrap_or_default(),
            patch: detail.patch.unwrap_or_default(),
            llm_calls: detail.llm.calls.into_iter().map(Into::into).collect(),
            llm_spent_micro_usd: detail.llm.spent_micro_usd,
            llm_refused: detail.llm.refused,
        }))
    }

    async fn verdicts(&self, _: Request<pb::VerdictsRequest>) -> Result<Response<pb::VerdictsResponse>, Status> {
        Err(Status::unimplemented("this coordinator does not serve the verdict ledger yet"))
    }

    async fn claims(&self, _: Request<pb::ClaimsRequest>) -> Result<Response<pb::ClaimsResponse>, Status> {
        Err(Status::unimplemented("this coordinator does not serve agent claims yet"))
    }
}

fn run_record_to_wire(r: RunRecord) -> pb::RunRecord {
    pb::RunRecord {
        verdicts: u32::from(r.verdict.is_some()),
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
        consensus: String::new(),
    }
}
