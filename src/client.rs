//! Client calls to a coordinator: publish tasks, submit agents, read scores.

use std::path::Path;

use tonic::transport::Channel;
use whetstone_proto::{MAX_MESSAGE_BYTES, pb};
use whetstone_tasks::{AgentPackage, Task};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the coordinator at {url}: is it running? (start one with `whetstone coordinator`)")]
    Connect {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("{what} failed: {}", .status.message())]
    Rpc { what: String, status: tonic::Status },
    #[error("{path} is not a valid agent")]
    Agent {
        path: String,
        #[source]
        source: whetstone_tasks::agent::AgentError,
    },
    #[error("failed to pack {path}")]
    Pack {
        path: String,
        #[source]
        source: whetstone_tasks::bundle::BundleError,
    },
    #[error("cannot sign the claim on agent {path} with this hotkey (claims are sr25519 signatures, as a Bittensor wallet's hotkey makes)")]
    Claim {
        path: String,
        #[source]
        source: whetstone_chain::verdict::StatementError,
    },
}

/// A connection to one coordinator.
#[derive(Debug, Clone)]
pub struct CoordinatorClient {
    channel: Channel,
}

impl CoordinatorClient {
    pub async fn connect(url: &str) -> Result<Self, ClientError> {
        let connect_err = |source| ClientError::Connect { url: url.to_owned(), source };
        let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
            .map_err(connect_err)?
            .connect_timeout(std::time::Duration::from_secs(5));
        let channel = endpoint.connect().await.map_err(connect_err)?;
        Ok(Self { channel })
    }

    fn tasks(&self) -> pb::tasks_client::TasksClient<Channel> {
        pb::tasks_client::TasksClient::new(self.channel.clone()).max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    fn agents(&self) -> pb::agents_client::AgentsClient<Channel> {
        pb::agents_client::AgentsClient::new(self.channel.clone()).max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn scores(&self) -> pb::scores_client::ScoresClient<Channel> {
        pb::scores_client::ScoresClient::new(self.channel.clone())
    }

    /// Publishes one loaded task, signed by a curator (to the pool, on a coordinator with
    /// epochs).
    pub async fn publish_task(
        &self,
        task: &Task,
        signer: &whetstone_proto::auth::RequestSigner,
    ) -> Result<pb::PublishTaskResponse, ClientError> {
        self.publish_task_for(task, signer, None).await
    }

    /// Publishes one loaded task; with `fresh` = (epoch, generator seed), as a task generated
    /// for that epoch with that seed.
    pub async fn publish_task_for(
        &self,
        task: &Task,
        signer: &whetstone_proto::auth::RequestSigner,
        fresh: Option<(u64, u64)>,
    ) -> Result<pb::PublishTaskResponse, ClientError> {
        let id = task.spec.id.clone();
        let bundle = task.bundle.to_tar().map_err(|source| ClientError::Pack { path: id.clone(), source })?;
        self.tasks()
            .publish(signer.signed(
                whetstone_proto::auth::PUBLISH_TASK,
                pb::PublishTaskRequest { bundle, fresh_epoch: fresh.map(|f| f.0), generator_seed: fresh.map(|f| f.1) },
            ))
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| ClientError::Rpc { what: format!("publishing task {id}"), status })
    }

    /// Packages and submits an agent directory under the signer's hotkey, signed with it, with
    /// the hotkey's signed claim on the agent (validators give weight only to claimed agents).
    pub async fn submit_agent(
        &self,
        dir: &Path,
        signer: &whetstone_proto::auth::RequestSigner,
    ) -> Result<pb::SubmitAgentResponse, ClientError> {
        let path = dir.display().to_string();
        let agent = AgentPackage::from_dir(dir).map_err(|source| ClientError::Agent { path: path.clone(), source })?;
        let package = agent.bundle.to_tar().map_err(|source| ClientError::Pack { path: path.clone(), source })?;
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let claim = whetstone_chain::verdict::AgentClaim::sign(agent.digest().clone(), signer.pair(), now_ms)
            .map_err(|source| ClientError::Claim { path: path.clone(), source })?;
        let request = pb::SubmitAgentRequest {
            hotkey: signer.hotkey().to_string(),
            package,
            claim_signature: claim.signature,
            claimed_at_ms: claim.claimed_at_ms,
        };
        self.agents()
            .submit(signer.signed(whetstone_proto::auth::SUBMIT_AGENT, request))
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| ClientError::Rpc { what: format!("submitting {path}"), status })
    }

    pub async fn progress(&self) -> Result<pb::ProgressResponse, ClientError> {
        self.scores()
            .progress(pb::ProgressRequest {})
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| ClientError::Rpc { what: "reading progress".into(), status })
    }

    pub async fn leaderboard(&self) -> Result<pb::LeaderboardResponse, ClientError> {
        self.scores()
            .leaderboard(pb::LeaderboardRequest {})
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| ClientError::Rpc { what: "reading the leaderboard".into(), status })
    }

    /// The evaluation epochs: rules, recorded boundaries, pool and fresh tasks.
    pub async fn epochs(&self) -> Result<pb::EpochsResponse, ClientError> {
        self.scores()
            .epochs(pb::EpochsRequest {})
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| ClientError::Rpc { what: "reading the epochs".into(), status })
    }

    /// Each validator's standing under the scoring function, and the verdicts it rejected.
    pub async fn validators(&self) -> Result<pb::ValidatorsResponse, ClientError> {
        self.scores()
            .validators(pb::ValidatorsRequest {})
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| ClientError::Rpc { what: "reading the validators' standings".into(), status })
    }

    /// Every run with its outcome and verdict; only `agent`'s when given.
    pub async fn runs(&self, agent: Option<&str>) -> Result<Vec<pb::RunRecord>, ClientError> {
        let request = pb::RunsRequest { agent_digest: agent.unwrap_or_default().to_owned() };
        self.scores()
            .runs(request)
            .await
            .map(|r| r.into_inner().runs)
            .map_err(|status| ClientError::Rpc { what: "reading runs".into(), status })
    }

    /// One run's trajectory: the agent's output, its LLM calls, its patch. Signed: the
    /// coordinator shows a run only to its miner and to validators.
    pub async fn run_detail(
        &self,
        run_id: &str,
        signer: &whetstone_proto::auth::RequestSigner,
    ) -> Result<pb::RunDetailResponse, ClientError> {
        let request = pb::RunDetailRequest { run_id: run_id.to_owned() };
        self.scores()
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .run_detail(signer.signed(whetstone_proto::auth::RUN_DETAIL, request))
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| ClientError::Rpc { what: format!("reading run {run_id}"), status })
    }
}
