use tonic::{Request, Response, Status};
use whetstone_proto::convert::parse_digest;
use whetstone_proto::pb;
use whetstone_tasks::{AgentPackage, Hotkey};

use super::{ApiError, Services};
use crate::scheduler::Event;
use crate::store::NewAgent;

#[tonic::async_trait]
impl pb::agents_server::Agents for Services {
    async fn submit(&self, request: Request<pb::SubmitAgentRequest>) -> Result<Response<pb::SubmitAgentResponse>, Status> {
        let request = request.into_inner();
        let hotkey = Hotkey::parse(&request.hotkey).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let package = AgentPackage::from_tar(&request.package)
            .map_err(|e| ApiError::BadRequest(format!("agent package refused: {}", whetstone_proto::error_chain(&e))))?;
        let digest = package.digest().clone();
        // Stored bytes are the canonical tar, whatever order the client packed.
        let canonical = package.bundle.to_tar().map_err(|e| ApiError::BadRequest(e.to_string()))?;
        self.blobs.put(&digest, &canonical).map_err(ApiError::from)?;
        let agent = NewAgent {
            digest: digest.clone(),
            name: package.manifest.name.clone(),
            version: package.manifest.version.clone(),
            hotkey,
        };
        if !self.store.insert_agent(&agent).await.map_err(ApiError::from)? {
            return Err(ApiError::AlreadyExists(format!("agent {digest} was already submitted")).into());
        }
        let runs = self.store.schedule_missing_runs().await.map_err(ApiError::from)?;
        self.scheduler.send(Event::WorkAdded).await;
        tracing::info!(agent = %digest, name = %agent.name, hotkey = %agent.hotkey, runs, "agent submitted");
        Ok(Response::new(pb::SubmitAgentResponse {
            agent_digest: digest.to_string(),
            name: agent.name,
            version: agent.version,
            runs_scheduled: runs,
        }))
    }

    async fn get(&self, request: Request<pb::GetAgentRequest>) -> Result<Response<pb::AgentPackage>, Status> {
        let digest = parse_digest("agent_digest", &request.into_inner().agent_digest)?;
        let package = self.blobs.get(&digest).map_err(ApiError::from)?;
        let package = package.ok_or_else(|| ApiError::NotFound(format!("no agent package with digest {digest}")))?;
        Ok(Response::new(pb::AgentPackage { agent_digest: digest.to_string(), package }))
    }
}
