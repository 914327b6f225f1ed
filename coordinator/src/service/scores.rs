use tonic::{Request, Response, Status};
use whetstone_proto::pb;

use super::{ApiError, Services};
use crate::scoring;

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
        let entries = self
            .current_leaderboard()
            .await?
            .into_iter()
            .map(|e| pb::LeaderboardEntry {
                agent_digest: e.agent.digest.to_string(),
                name: e.agent.name,
                version: e.agent.version,
                hotkey: e.agent.hotkey.to_string(),
                resolved: e.resolved,
                graded: e.finished,
                tasks: e.tasks,
                score: e.score,
            })
            .collect();
        Ok(Response::new(pb::LeaderboardResponse { entries }))
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
}
