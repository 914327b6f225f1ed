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
        let request = request.into_inner();
        let refused = |e: &dyn std::error::Error| ApiError::BadRequest(format!("task refused: {}", error_chain(e)));
        let bundle = Bundle::from_tar(&request.bundle).map_err(|e| refused(&e))?;
        let task = Task::from_bundle(bundle).map_err(|e| refused(&e))?;
        let digest = task.digest().clone();
        // Where it goes in the epochs is decided before anything is stored, so a refused
        // fresh task leaves nothing behind.
        let placement = match self.config.epochs {
            Some(rules) => {
                let view = crate::epochs::EpochView::load(self.store.as_ref(), rules).await.map_err(ApiError::from)?;
                Some(view.placement(request.fresh_epoch, request.generator_seed).map_err(ApiError::BadRequest)?)
            }
            None if request.fresh_epoch.is_some() => {
                return Err(ApiError::BadRequest(
                    "this coordinator runs without epochs ([epochs] is not configured): publish without --fresh-epoch".to_owned(),
                )
                .into());
            }
            None => None,
        };
        let canonical = task.bundle.to_tar().map_err(|e| refused(&e))?;
        self.blobs.put(&digest, &canonical).await.map_err(ApiError::from)?;
        let created = self
            .store
            .insert_task(&NewTask { digest: digest.clone(), task_id: task.spec.id.clone(), timeout_secs: task.spec.tests.timeout_secs })
            .await
            .map_err(ApiError::from)?;
        if let Some(placement) = placement
            && self.store.place_task(&digest, placement).await.map_err(ApiError::from)?
        {
            tracing::info!(task = %task.spec.id, ?placement, "task placed in the epochs");
        }
        let runs = crate::epochs::schedule_runs(self.store.as_ref(), self.config.epochs).await.map_err(ApiError::from)?;
        self.scheduler.send(Event::WorkAdded).await;
        tracing::info!(task = %task.spec.id, digest = %digest, %curator, created, runs, "task published");
        Ok(Response::new(pb::PublishTaskResponse { task_digest: digest.to_string(), task_id: task.spec.id, created, runs_scheduled: runs }))
    }

    /// One part of a task (`whetstone_tasks::split`). The task is stored whole, content
    /// addressed and checked on every read; each part is cut from it here, deterministically,
    /// and travels with its own digest. The grading part goes only to a validator that holds
    /// a grade lease on a run of the task; agent-runners get the visible part.
    async fn fetch(&self, request: Request<pb::FetchTaskRequest>) -> Result<Response<pb::TaskBundle>, Status> {
        let part = pb::TaskPart::try_from(request.get_ref().part).unwrap_or(pb::TaskPart::Unspecified);
        let digest = parse_digest("task_digest", &request.get_ref().task_digest)?;
        match part {
            pb::TaskPart::Unspecified => {
                return Err(ApiError::BadRequest(
                    "name the task part to fetch: TASK_PART_VISIBLE (agent-runners) or TASK_PART_GRADING (validators \
                     holding a grade lease on the task); this coordinator no longer sends whole tasks"
                        .into(),
                )
                .into());
            }
            pb::TaskPart::Visible => {
                self.auth.task_fetcher(request.metadata(), request.get_ref())?;
            }
            pb::TaskPart::Grading => {
                let validator = self.auth.grading_fetcher(request.metadata(), request.get_ref())?;
                if !self.store.holds_grade_lease(&validator, &digest).await.map_err(ApiError::from)? {
                    return Err(ApiError::Forbidden(format!(
                        "hotkey {validator} holds no grade lease on a run of task {digest}: its grading part (hidden tests, \
                         gold patch, expected test ids) goes only to the validator grading it, while it grades; \
                         agent-runners fetch the visible part (TASK_PART_VISIBLE)"
                    ))
                    .into());
                }
            }
        }
        let bytes = self.blobs.get(&digest).await.map_err(ApiError::from)?;
        let bytes = bytes.ok_or_else(|| ApiError::NotFound(format!("no task with digest {digest}")))?;
        let broken = |e: &dyn std::error::Error| {
            ApiError::Blob(crate::blobs::BlobError::Corrupt { key: digest.to_string(), reason: error_chain(e) })
        };
        let task = Task::from_bundle(Bundle::from_tar(&bytes).map_err(|e| broken(&e))?).map_err(|e| broken(&e))?;
        let bundle = match part {
            pb::TaskPart::Grading => task.grading_part(),
            _ => task.visible().bundle,
        };
        let tar = bundle.to_tar().map_err(|e| broken(&e))?;
        Ok(Response::new(pb::TaskBundle {
            task_digest: digest.to_string(),
            bundle: tar,
            part: part as i32,
            part_digest: bundle.digest.to_string(),
        }))
    }
}
