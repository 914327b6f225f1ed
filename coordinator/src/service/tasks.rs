use tonic::{Request, Response, Status};
use whetstone_proto::convert::parse_digest;
use whetstone_proto::pb;
use whetstone_tasks::Task;
use whetstone_tasks::bundle::Bundle;

use super::{ApiError, Services};
use whetstone_proto::error_chain;

use crate::scheduler::Event;
use crate::store::NewTask;

#[tonic::async_trait]
impl pb::tasks_server::Tasks for Services {
    async fn publish(&self, request: Request<pb::PublishTaskRequest>) -> Result<Response<pb::PublishTaskResponse>, Status> {
        let curator = self.auth.curator(request.metadata(), request.get_ref())?;
        let bytes = request.into_inner().bundle;
        let refused = |e: &dyn std::error::Error| ApiError::BadRequest(format!("task refused: {}", error_chain(e)));
        let bundle = Bundle::from_tar(&bytes).map_err(|e| refused(&e))?;
        let task = Task::from_bundle(bundle).map_err(|e| refused(&e))?;
        let digest = task.digest().clone();
        let canonical = task.bundle.to_tar().map_err(|e| refused(&e))?;
        self.blobs.put(&digest, &canonical).await.map_err(ApiError::from)?;
        let created = self
            .store
            .insert_task(&NewTask { digest: digest.clone(), task_id: task.spec.id.clone(), timeout_secs: task.spec.tests.timeout_secs })
            .await
            .map_err(ApiError::from)?;
        let runs = self.store.schedule_missing_runs().await.map_err(ApiError::from)?;
        self.scheduler.send(Event::WorkAdded).await;
        tracing::info!(task = %task.spec.id, digest = %digest, %curator, created, runs, "task published");
        Ok(Response::new(pb::PublishTaskResponse { task_digest: digest.to_string(), task_id: task.spec.id, created, runs_scheduled: runs }))
    }

    async fn fetch(&self, request: Request<pb::FetchTaskRequest>) -> Result<Response<pb::TaskBundle>, Status> {
        self.auth.task_fetcher(request.metadata(), request.get_ref())?;
        let digest = parse_digest("task_digest", &request.into_inner().task_digest)?;
        let bundle = self.blobs.get(&digest).await.map_err(ApiError::from)?;
        let bundle = bundle.ok_or_else(|| ApiError::NotFound(format!("no task with digest {digest}")))?;
        Ok(Response::new(pb::TaskBundle { task_digest: digest.to_string(), bundle }))
    }
}
