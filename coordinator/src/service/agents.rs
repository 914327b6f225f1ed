use tonic::{Request, Response, Status};
use whetstone_chain::verdict::AgentClaim;
use whetstone_proto::convert::parse_digest;
use whetstone_proto::pb;
use whetstone_tasks::{AgentPackage, Hotkey};

use super::{ApiError, Services};
use crate::config::CoordinatorConfig;
use crate::copies::CopyPolicy;
use crate::scheduler::Event;
use crate::store::{NewAgent, now_ms};

#[tonic::async_trait]
impl pb::agents_server::Agents for Services {
    async fn submit(&self, request: Request<pb::SubmitAgentRequest>) -> Result<Response<pb::SubmitAgentResponse>, Status> {
        let signer = self.auth.submitter(request.metadata(), request.get_ref())?;
        let request = request.into_inner();
        let hotkey = Hotkey::parse(&request.hotkey).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        if hotkey != signer {
            return Err(ApiError::BadRequest(format!("the request names hotkey {hotkey} but is signed by {signer}")).into());
        }
        let package = AgentPackage::from_tar(&request.package)
            .map_err(|e| ApiError::BadRequest(format!("agent package refused: {}", whetstone_proto::error_chain(&e))))?;
        let digest = package.digest().clone();
        let claim = AgentClaim {
            agent: digest.clone(),
            miner: hotkey.clone(),
            claimed_at_ms: request.claimed_at_ms,
            signature: request.claim_signature.clone(),
        };
        claim.verify().map_err(|e| {
            ApiError::BadRequest(format!(
                "the agent claim does not verify ({e}): sign the claim message for agent {digest} and claimed_at_ms with hotkey {hotkey} \
                 (whetstone agent submit does this); validators give weight only to agents with a valid claim"
            ))
        })?;
        check_resources(&package, &self.config)?;
        if self.store.agent_exists(&digest).await.map_err(ApiError::from)? {
            return Err(ApiError::AlreadyExists(format!("agent {digest} was already submitted")).into());
        }
        self.check_submission_rate(&hotkey).await?;
        let comparison = self.compare_with_earlier_agents(&package, &hotkey).await?;
        if let (Some(copy), CopyPolicy::Reject) = (&comparison.copy, self.config.copies.policy) {
            tracing::warn!(agent = %digest, %hotkey, original = %copy.original, similarity = copy.similarity, "copied agent refused");
            return Err(ApiError::Refused(format!(
                "agent refused: it is a copy of agent {} submitted by {} (structural similarity {:.2}, the subnet refuses {:.2} and above); \
                 submit an agent of your own",
                copy.original, copy.original_miner, copy.similarity, self.config.copies.threshold
            ))
            .into());
        }
        // Stored bytes are the canonical tar, whatever order the client packed.
        let canonical = package.bundle.to_tar().map_err(|e| ApiError::BadRequest(e.to_string()))?;
        self.blobs.put(&digest, &canonical).await.map_err(ApiError::from)?;
        let agent = NewAgent {
            digest: digest.clone(),
            name: package.manifest.name.clone(),
            version: package.manifest.version.clone(),
            hotkey,
            claimed_at_ms: claim.claimed_at_ms,
            claim_signature: claim.signature,
        };
        // The fingerprint is stored after the agent row (it references it).
        if !self.store.insert_agent(&agent).await.map_err(ApiError::from)? {
            return Err(ApiError::AlreadyExists(format!("agent {digest} was already submitted")).into());
        }
        let mark = comparison.copy.as_ref().map(crate::copies::CopiedFrom::mark);
        if let Some(copy) = &comparison.copy {
            tracing::warn!(agent = %digest, original = %copy.original, similarity = copy.similarity, "agent accepted as a flagged copy");
        }
        self.store
            .store_fingerprint(&digest, crate::copies::VERSION, comparison.fingerprint.hashes(), mark.as_ref())
            .await
            .map_err(ApiError::from)?;
        let runs = crate::epochs::schedule_runs(self.store.as_ref(), self.config.epochs).await.map_err(ApiError::from)?;
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
        self.auth.agent_fetcher(request.metadata(), request.get_ref())?;
        let digest = parse_digest("agent_digest", &request.into_inner().agent_digest)?;
        let package = self.blobs.get(&digest).await.map_err(ApiError::from)?;
        let package = package.ok_or_else(|| ApiError::NotFound(format!("no agent package with digest {digest}")))?;
        Ok(Response::new(pb::AgentPackage { agent_digest: digest.to_string(), package }))
    }
}

impl Services {
    /// The package's fingerprint and the closest earlier agent of another miner, if it copies one.
    async fn compare_with_earlier_agents(&self, package: &AgentPackage, miner: &Hotkey) -> Result<crate::copies::Comparison, ApiError> {
        let earlier = self.store.fingerprints(crate::copies::VERSION).await?;
        let (package, miner, threshold) = (package.clone(), miner.clone(), self.config.copies.threshold);
        tokio::task::spawn_blocking(move || crate::copies::compare(&package, &miner, &earlier, threshold))
            .await
            .unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()))
            .map_err(|e| ApiError::BadRequest(format!("agent package refused: cannot read its code: {e}")))
    }

    /// At most `submissions.max` agents per hotkey in any window of `submissions.window_secs`.
    async fn check_submission_rate(&self, hotkey: &Hotkey) -> Result<(), ApiError> {
        let limit = self.config.submissions;
        let now = now_ms();
        let window_ms = i64::try_from(limit.window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let recent = self.store.submissions_since(hotkey, now.saturating_sub(window_ms)).await?;
        if recent.len() < limit.max as usize {
            return Ok(());
        }
        // The oldest submission in the window leaves it first.
        let oldest = recent.first().copied().unwrap_or(now);
        let wait_secs = (oldest.saturating_add(window_ms).saturating_sub(now) + 999) / 1000;
        Err(ApiError::RateLimited(format!(
            "hotkey {hotkey} has submitted {} agents in the last {}s (the limit is {}); the next submission is accepted in {wait_secs}s",
            recent.len(),
            limit.window_secs,
            limit.max
        )))
    }
}

/// Declared resources above the subnet's limits are refused: the runner would cut them down,
/// and the miner should know now rather than from a failed run.
fn check_resources(package: &AgentPackage, config: &CoordinatorConfig) -> Result<(), ApiError> {
    let declared = package.manifest.resources;
    let limits = config.agent_limits;
    let over = [
        ("memory_mib", declared.memory_mib, limits.memory_mib),
        ("cpu_millis", declared.cpu_millis, limits.cpu_millis),
        ("timeout_secs", declared.timeout_secs, limits.timeout_secs),
    ]
    .into_iter()
    .filter_map(|(name, asked, most)| asked.filter(|&asked| asked > most).map(|asked| format!("{name} = {asked} (at most {most})")))
    .collect::<Vec<_>>();
    if over.is_empty() {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!("agent.toml [resources] asks for more than this subnet allows: {}", over.join(", "))))
    }
}
