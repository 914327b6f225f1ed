//! Who may call the coordinator. `Agents.Submit` and the hello of `Worker.Connect` must be
//! signed with a hotkey (`btauth/1`, see `whetstone_proto::auth`) for the coordinator's own
//! hotkey, and the signer must be registered on the subnet; a worker offering to grade (and,
//! by default, to run agents) must also hold a validator permit, and so must a worker fetching
//! a task's visible part or an agent package. A task's grading part (hidden tests, gold patch,
//! expected test ids) goes only to a validator holding a grade lease on a run of that task. `Tasks.Publish` is for
//! curators: the coordinator's own hotkey and those listed in `auth.curators`.
//! `Scores.RunDetail` (a run's output, LLM calls and patch) is answered only to the miner whose
//! agent made the run or to a validator; everything else in `Scores` is public. Membership comes from a
//! [`Membership`] view: the synced metagraph in production, a fixed list or the dev keyring
//! locally.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tonic::Status;
use tonic::metadata::MetadataMap;
use whetstone_chain::auth::{AuthError, Caller, Verifier, VerifierConfig};
use whetstone_chain::metagraph::{AllowAll, Membership, StaticMembership};
use whetstone_chain::wallet::dev;
use whetstone_proto::auth::{FETCH_TASK, GET_AGENT, PUBLISH_TASK, RUN_DETAIL, SUBMIT_AGENT, WORKER_CONNECT, status_of, verify_message};
use whetstone_proto::job::Capability;
use whetstone_proto::pb;
use whetstone_tasks::Hotkey;

/// Where the coordinator learns who is registered and who holds a validator permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipPolicy {
    /// The subnet's metagraph, synced from the chain; the coordinator must be started with
    /// it (`Coordinator::bind_with_membership`). The production setting.
    #[default]
    Chain,
    /// The hotkeys listed in `registered` and `validators`.
    Static,
    /// Devnet's dev keyring: Alice and Ferdie validate, Bob, Charlie, Dave and Eve mine.
    Dev,
    /// Any correctly signed request; nobody's membership is checked. Local testing only.
    AllowAll,
}

/// The `[auth]` section of the coordinator configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// This coordinator's hotkey (SS58): clients sign their requests for it
    /// (`--coordinator-hotkey`). Required with `membership = "chain"` or `"static"`; otherwise
    /// defaults to devnet's coordinator, dev key Alice.
    pub hotkey: Option<String>,
    /// Who may submit agents and serve as a worker. Default `"chain"`.
    pub membership: MembershipPolicy,
    /// With `membership = "static"`: registered hotkeys (SS58). Default empty.
    pub registered: Vec<String>,
    /// With `membership = "static"`: hotkeys holding a validator permit; they count as
    /// registered too. Default empty.
    pub validators: Vec<String>,
    /// The oldest signature accepted, in seconds. Default 10, as the Bittensor SDK.
    pub max_age_secs: u64,
    /// How far ahead of this clock a signature may be dated, in seconds. Default 2, as the SDK.
    pub allowed_skew_secs: u64,
    /// Agent-runners need a validator permit too, not only validators: the patch a runner
    /// reports decides a miner's score, and the tasks it fetches hold the hidden tests.
    /// Default true; with false, registered runners may fetch tasks too.
    pub runners_need_permit: bool,
    /// Hotkeys (SS58) besides the coordinator's own that may publish tasks. Default empty.
    pub curators: Vec<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            hotkey: None,
            membership: MembershipPolicy::Chain,
            registered: Vec::new(),
            validators: Vec::new(),
            max_age_secs: 10,
            allowed_skew_secs: 2,
            runners_need_permit: true,
            curators: Vec::new(),
        }
    }
}

impl AuthConfig {
    /// Devnet's: the dev keyring, the coordinator as Alice.
    pub fn devnet() -> Self {
        Self { hotkey: Some(dev::ALICE.to_owned()), membership: MembershipPolicy::Dev, ..Self::default() }
    }

    /// Any signer is admitted (tests).
    pub fn allow_all() -> Self {
        Self { membership: MembershipPolicy::AllowAll, ..Self::default() }
    }
}

/// Why the `[auth]` configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error(
        "auth.membership = \"chain\" needs the subnet's metagraph, and this coordinator was started without one; \
         start it with the chain sync, or set auth.membership to \"static\" (with auth.registered and \
         auth.validators), or to \"dev\" for a devnet"
    )]
    NoMetagraph,
    #[error(
        "auth.hotkey is not set: name this coordinator's hotkey (SS58), the one clients sign their requests for \
         (`whetstone coordinator --hotkey 5…`, or `hotkey = \"5…\"` in the configuration's [auth] section)"
    )]
    NoHotkey,
    #[error("auth.{field} holds {value:?}, which is not an SS58 hotkey")]
    BadHotkey { field: &'static str, value: String },
}

/// The coordinator's verifier and membership view, shared by the services.
#[derive(Debug)]
pub(crate) struct Auth {
    verifier: Verifier,
    membership: Arc<dyn Membership>,
    runners_need_permit: bool,
    /// Who may publish tasks: the coordinator's own hotkey and `auth.curators`; anyone signed
    /// under `allow_all`.
    curators: Option<HashSet<Hotkey>>,
}

fn hotkey(field: &'static str, value: &str) -> Result<Hotkey, AuthSetupError> {
    Hotkey::parse(value).map_err(|_| AuthSetupError::BadHotkey { field, value: value.to_owned() })
}

impl Auth {
    /// `chain` is the synced metagraph, used when the policy is `"chain"`.
    pub(crate) fn from_config(config: &AuthConfig, chain: Option<Arc<dyn Membership>>) -> Result<Self, AuthSetupError> {
        let membership: Arc<dyn Membership> = match config.membership {
            MembershipPolicy::Chain => chain.ok_or(AuthSetupError::NoMetagraph)?,
            MembershipPolicy::Static => {
                let registered = config.registered.iter().map(|h| hotkey("registered", h)).collect::<Result<Vec<_>, _>>()?;
                let validators = config.validators.iter().map(|h| hotkey("validators", h)).collect::<Result<Vec<_>, _>>()?;
                Arc::new(StaticMembership::new(registered, validators))
            }
            MembershipPolicy::Dev => Arc::new(StaticMembership::devnet()),
            MembershipPolicy::AllowAll => Arc::new(AllowAll),
        };
        let own = match (&config.hotkey, config.membership) {
            (Some(value), _) => hotkey("hotkey", value)?,
            (None, MembershipPolicy::Chain | MembershipPolicy::Static) => return Err(AuthSetupError::NoHotkey),
            (None, MembershipPolicy::Dev | MembershipPolicy::AllowAll) => Hotkey::new(dev::ALICE),
        };
        let curators = match config.membership {
            MembershipPolicy::AllowAll => None,
            _ => {
                let listed = config.curators.iter().map(|h| hotkey("curators", h)).collect::<Result<HashSet<_>, _>>()?;
                Some(listed.into_iter().chain([own.clone()]).collect())
            }
        };
        let mut verifier = VerifierConfig::new(own);
        verifier.max_age = Duration::from_secs(config.max_age_secs);
        verifier.allowed_skew = Duration::from_secs(config.allowed_skew_secs);
        Ok(Self { verifier: Verifier::new(verifier), membership, runners_need_permit: config.runners_need_permit, curators })
    }

    fn registered(&self, caller: &Caller, doing: &str) -> Result<(), AuthError> {
        if self.membership.is_registered(&caller.hotkey) {
            Ok(())
        } else {
            Err(AuthError::Forbidden(format!("hotkey {} is not registered on the subnet; register it before {doing}", caller.hotkey)))
        }
    }

    /// A solve API request signed with btauth/1 (`x-bittensor-*` headers over the HTTP method,
    /// path and body): the signing hotkey, which must be registered on the subnet.
    pub(crate) fn solve_caller(
        &self,
        headers: &whetstone_chain::auth::AuthHeaders,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Hotkey, AuthError> {
        let request = whetstone_chain::auth::RequestParts { method, path, body };
        Ok(self.verifier.verify_admitting(headers, request, |caller| self.registered(caller, "using the solve API"))?.hotkey)
    }

    /// `Agents.Submit`: the signing hotkey, which must be registered.
    pub(crate) fn submitter(&self, metadata: &MetadataMap, request: &pb::SubmitAgentRequest) -> Result<Hotkey, Status> {
        let caller =
            verify_message(&self.verifier, metadata, SUBMIT_AGENT, request, |caller| self.registered(caller, "submitting agents"))?;
        Ok(caller.hotkey)
    }

    /// `Scores.RunDetail`, before the run is looked up: any correctly signed request; whether
    /// the signer may read the run is [`Auth::may_read_run`]'s question.
    pub(crate) fn run_reader(&self, metadata: &MetadataMap, request: &pb::RunDetailRequest) -> Result<Hotkey, Status> {
        Ok(verify_message(&self.verifier, metadata, RUN_DETAIL, request, |_| Ok(()))?.hotkey)
    }

    /// A run's detail is its miner's (the hotkey that submitted the agent, registered or not
    /// any more) and the validators', who audit runs; a competitor must not read its patch.
    /// The validators whose verdicts count and their stake, as this coordinator's membership
    /// view knows them; `None` when membership is not checked.
    pub(crate) fn validator_set(&self) -> Option<whetstone_chain::consensus::ValidatorSet> {
        self.membership.validator_set()
    }

    pub(crate) fn may_read_run(&self, reader: &Hotkey, owner: &Hotkey, run_id: &str) -> Result<(), Status> {
        if reader == owner || self.membership.has_validator_permit(reader) {
            return Ok(());
        }
        Err(status_of(AuthError::Forbidden(format!(
            "run {run_id} belongs to the miner {owner}; hotkey {reader} may read only its own runs (sign with the \
             miner's hotkey: --wallet.name/--wallet.hotkey)"
        ))))
    }

    /// `Tasks.Publish`: the signer must be a curator.
    pub(crate) fn curator(&self, metadata: &MetadataMap, request: &pb::PublishTaskRequest) -> Result<Hotkey, Status> {
        let caller = verify_message(&self.verifier, metadata, PUBLISH_TASK, request, |caller| match &self.curators {
            Some(curators) if !curators.contains(&caller.hotkey) => Err(AuthError::Forbidden(format!(
                "hotkey {} is not a curator of this coordinator; tasks are published with the coordinator's own hotkey \
                 ({}) or one listed in its auth.curators",
                caller.hotkey,
                self.verifier.config().receiver
            ))),
            _ => Ok(()),
        })?;
        Ok(caller.hotkey)
    }

    /// `Tasks.Fetch` of a task's visible part: the workers that run agents (and validators).
    pub(crate) fn task_fetcher(&self, metadata: &MetadataMap, request: &pb::FetchTaskRequest) -> Result<Hotkey, Status> {
        Ok(verify_message(&self.verifier, metadata, FETCH_TASK, request, |caller| self.worker_fetch(caller, "fetching tasks"))?.hotkey)
    }

    /// `Tasks.Fetch` of a task's grading part (hidden tests, gold patch, expected test ids):
    /// a validator permit whatever `runners_need_permit` says. Whether the validator holds a
    /// grade lease on the task is the store's question, asked next by the service.
    pub(crate) fn grading_fetcher(&self, metadata: &MetadataMap, request: &pb::FetchTaskRequest) -> Result<Hotkey, Status> {
        let caller = verify_message(&self.verifier, metadata, FETCH_TASK, request, |caller| {
            if self.membership.has_validator_permit(&caller.hotkey) {
                return Ok(());
            }
            Err(AuthError::Forbidden(format!(
                "hotkey {} holds no validator permit, and a task's grading part (hidden tests, gold patch, expected \
                 test ids) goes only to validators grading it; agent-runners fetch the visible part",
                caller.hotkey
            )))
        })?;
        Ok(caller.hotkey)
    }

    /// `Agents.Get`: agent packages go to the workers that run them, not to competitors.
    pub(crate) fn agent_fetcher(&self, metadata: &MetadataMap, request: &pb::GetAgentRequest) -> Result<Hotkey, Status> {
        Ok(verify_message(&self.verifier, metadata, GET_AGENT, request, |caller| self.worker_fetch(caller, "fetching agents"))?.hotkey)
    }

    /// A validator permit, or with `runners_need_permit = false` a registration.
    fn worker_fetch(&self, caller: &Caller, doing: &str) -> Result<(), AuthError> {
        if self.membership.has_validator_permit(&caller.hotkey) {
            return Ok(());
        }
        if !self.runners_need_permit {
            return self.registered(caller, doing);
        }
        Err(AuthError::Forbidden(format!("hotkey {} holds no validator permit on the subnet, which {doing} needs", caller.hotkey)))
    }

    /// `Worker.Connect`: the hotkey that signed the hello, which must be registered and hold
    /// a validator permit for weight-relevant capabilities.
    pub(crate) fn worker(&self, metadata: &MetadataMap, hello: &pb::Hello, capabilities: &HashSet<Capability>) -> Result<Hotkey, Status> {
        // The signed body is the first stream message as sent: the hello in its envelope.
        let first = pb::WorkerMessage { kind: Some(pb::worker_message::Kind::Hello(hello.clone())) };
        let caller = verify_message(&self.verifier, metadata, WORKER_CONNECT, &first, |caller| {
            self.registered(caller, "serving as a worker")?;
            let needs_permit = capabilities.iter().find(|capability| **capability == Capability::Grade || self.runners_need_permit);
            match needs_permit {
                Some(capability) if !self.membership.has_validator_permit(&caller.hotkey) => Err(AuthError::Forbidden(format!(
                    "hotkey {} holds no validator permit on the subnet, which {} needs",
                    caller.hotkey,
                    match capability {
                        Capability::Grade => "grading",
                        Capability::RunAgent => "running agents",
                    }
                ))),
                _ => Ok(()),
            }
        })?;
        Ok(caller.hotkey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_settings_refuse_to_start_without_what_they_need() {
        let error = Auth::from_config(&AuthConfig::default(), None).expect_err("no metagraph");
        assert!(error.to_string().contains("\"dev\""), "{error}");
        let error = Auth::from_config(&AuthConfig::default(), Some(Arc::new(AllowAll))).expect_err("no hotkey");
        assert!(matches!(error, AuthSetupError::NoHotkey));
        let config = AuthConfig { membership: MembershipPolicy::Static, hotkey: Some("alice".into()), ..AuthConfig::default() };
        assert!(matches!(Auth::from_config(&config, None), Err(AuthSetupError::BadHotkey { field: "hotkey", .. })));
        assert!(Auth::from_config(&AuthConfig::devnet(), None).is_ok());
    }

    #[test]
    fn the_auth_section_reads_from_configuration() {
        let config: AuthConfig = parse(
            r#"{"hotkey": "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", "membership": "static", "validators": ["5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"]}"#,
        );
        assert_eq!(config.membership, MembershipPolicy::Static);
        assert_eq!(config.max_age_secs, 10);
        assert!(Auth::from_config(&config, None).is_ok());
    }

    fn parse(json: &str) -> AuthConfig {
        serde_json::from_str(json).expect("valid auth section")
    }
}
