//! Conversions between wire types ([`crate::pb`]) and domain types. Incoming messages are
//! checked here, once: a malformed message becomes a [`WireError`] naming the field.

use std::time::Duration;

use whetstone_chain::consensus::LedgerEntry;
use whetstone_chain::verdict::{AgentClaim, SignedVerdict};
use whetstone_tasks::{Digest, GradeId, Hotkey, RunId, TestResult, TestStatus, Verdict, VerdictStatus};

use crate::job::{
    Assignment, Capability, GradeAssignment, GradeReport, LlmCall, LlmUsage, Report, RunAssignment, RunOutcome, RunReport, SandboxLimits,
    SolveAssignment, SolveReport, SolveTests,
};
use crate::pb;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("message is missing {0}")]
    Missing(&'static str),
    #[error("field {field} is invalid: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl From<WireError> for tonic::Status {
    fn from(error: WireError) -> Self {
        tonic::Status::invalid_argument(error.to_string())
    }
}

pub fn parse_digest(field: &'static str, text: &str) -> Result<Digest, WireError> {
    text.parse().map_err(|e: whetstone_tasks::digest::InvalidDigest| WireError::Invalid { field, reason: e.to_string() })
}

fn non_empty(field: &'static str, text: String) -> Result<String, WireError> {
    if text.is_empty() { Err(WireError::Missing(field)) } else { Ok(text) }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

// --- capabilities --------------------------------------------------------------------------

impl From<Capability> for pb::Capability {
    fn from(value: Capability) -> Self {
        match value {
            Capability::RunAgent => Self::RunAgent,
            Capability::Grade => Self::Grade,
        }
    }
}

pub fn capability_from_wire(value: i32) -> Option<Capability> {
    match pb::Capability::try_from(value).ok()? {
        pb::Capability::RunAgent => Some(Capability::RunAgent),
        pb::Capability::Grade => Some(Capability::Grade),
        pb::Capability::Unspecified => None,
    }
}

// --- limits --------------------------------------------------------------------------------

impl From<SandboxLimits> for pb::SandboxLimits {
    fn from(value: SandboxLimits) -> Self {
        Self { timeout_secs: value.timeout.as_secs(), memory_mib: value.memory_mib, cpu_millis: value.cpu_millis, pids: value.pids }
    }
}

impl TryFrom<Option<pb::SandboxLimits>> for SandboxLimits {
    type Error = WireError;

    fn try_from(value: Option<pb::SandboxLimits>) -> Result<Self, Self::Error> {
        let value = value.ok_or(WireError::Missing("limits"))?;
        let positive = |field, v: u64| {
            if v == 0 { Err(WireError::Invalid { field, reason: "must be positive".into() }) } else { Ok(v) }
        };
        Ok(Self {
            timeout: Duration::from_secs(positive("limits.timeout_secs", value.timeout_secs)?),
            memory_mib: positive("limits.memory_mib", value.memory_mib)?,
            cpu_millis: positive("limits.cpu_millis", value.cpu_millis)?,
            pids: positive("limits.pids", value.pids)?,
        })
    }
}

// --- assignments ---------------------------------------------------------------------------

/// The coordinator's side: an assignment with its lease deadline, as sent.
pub fn assignment_to_wire(assignment: &Assignment, lease_expires_at_ms: u64) -> pb::CoordinatorMessage {
    let kind = match assignment {
        Assignment::Run(run) => pb::coordinator_message::Kind::Run(pb::RunAssignment {
            run_id: run.run_id.to_string(),
            agent_digest: run.agent.to_string(),
            task_digest: run.task.to_string(),
            limits: Some(run.limits.into()),
            lease_expires_at_ms,
            attempt: run.attempt,
            llm_budget_micro_usd: run.llm_budget_micro_usd,
        }),
        Assignment::Grade(grade) => pb::coordinator_message::Kind::Grade(pb::GradeAssignment {
            grade_id: grade.grade_id.to_string(),
            run_id: grade.run_id.to_string(),
            task_digest: grade.task.to_string(),
            patch: grade.patch.clone(),
            limits: Some(grade.limits.into()),
            lease_expires_at_ms,
            attempt: grade.attempt,
            agent_digest: grade.agent.to_string(),
        }),
        Assignment::Solve(solve) => pb::coordinator_message::Kind::Solve(pb::SolveAssignment {
            solve_id: solve.solve_id.clone(),
            agent_digest: solve.agent.to_string(),
            snapshot_tar: solve.snapshot.clone(),
            statement: solve.statement.clone(),
            test_command: solve.test_command.clone(),
            limits: Some(solve.limits.into()),
            llm_budget_micro_usd: solve.llm_budget_micro_usd,
            lease_expires_at_ms,
        }),
    };
    pb::CoordinatorMessage { kind: Some(kind) }
}

impl TryFrom<pb::SolveAssignment> for SolveAssignment {
    type Error = WireError;

    fn try_from(value: pb::SolveAssignment) -> Result<Self, Self::Error> {
        Ok(Self {
            solve_id: non_empty("solve_id", value.solve_id)?,
            agent: parse_digest("agent_digest", &value.agent_digest)?,
            snapshot: value.snapshot_tar,
            statement: non_empty("statement", value.statement)?,
            test_command: value.test_command,
            limits: value.limits.try_into()?,
            llm_budget_micro_usd: value.llm_budget_micro_usd,
        })
    }
}

impl From<SolveReport> for pb::SolveReport {
    fn from(value: SolveReport) -> Self {
        Self {
            solve_id: value.solve_id,
            outcome: pb::RunOutcome::from(value.outcome).into(),
            patch: value.patch,
            log: value.log,
            error: value.error,
            spent_micro_usd: value.spent_micro_usd,
            duration_ms: millis(value.duration),
            cancelled: value.cancelled,
            tests: value.tests.map(|t| pb::SolveTests { command: t.command, exit_code: t.exit_code, output_tail: t.output_tail }),
        }
    }
}

impl TryFrom<pb::SolveReport> for SolveReport {
    type Error = WireError;

    fn try_from(value: pb::SolveReport) -> Result<Self, Self::Error> {
        Ok(Self {
            solve_id: non_empty("solve_id", value.solve_id)?,
            outcome: run_outcome_from_wire(value.outcome)?,
            patch: value.patch,
            log: value.log,
            error: value.error,
            spent_micro_usd: value.spent_micro_usd,
            duration: Duration::from_millis(value.duration_ms),
            cancelled: value.cancelled,
            tests: value.tests.map(|t| SolveTests { command: t.command, exit_code: t.exit_code, output_tail: t.output_tail }),
        })
    }
}

impl TryFrom<pb::RunAssignment> for RunAssignment {
    type Error = WireError;

    fn try_from(value: pb::RunAssignment) -> Result<Self, Self::Error> {
        Ok(Self {
            run_id: RunId::new(non_empty("run_id", value.run_id)?),
            agent: parse_digest("agent_digest", &value.agent_digest)?,
            task: parse_digest("task_digest", &value.task_digest)?,
            limits: value.limits.try_into()?,
            attempt: value.attempt,
            llm_budget_micro_usd: value.llm_budget_micro_usd,
        })
    }
}

impl TryFrom<pb::GradeAssignment> for GradeAssignment {
    type Error = WireError;

    fn try_from(value: pb::GradeAssignment) -> Result<Self, Self::Error> {
        Ok(Self {
            grade_id: GradeId::new(non_empty("grade_id", value.grade_id)?),
            run_id: RunId::new(non_empty("run_id", value.run_id)?),
            task: parse_digest("task_digest", &value.task_digest)?,
            agent: parse_digest("agent_digest", &value.agent_digest)?,
            patch: value.patch,
            limits: value.limits.try_into()?,
            attempt: value.attempt,
        })
    }
}

// --- run reports ---------------------------------------------------------------------------

impl From<RunOutcome> for pb::RunOutcome {
    fn from(value: RunOutcome) -> Self {
        match value {
            RunOutcome::Completed => Self::Completed,
            RunOutcome::TimedOut => Self::TimedOut,
            RunOutcome::AgentError => Self::AgentError,
            RunOutcome::InfraError => Self::InfraError,
        }
    }
}

impl From<RunReport> for pb::RunReport {
    fn from(value: RunReport) -> Self {
        Self {
            run_id: value.run_id.to_string(),
            outcome: pb::RunOutcome::from(value.outcome).into(),
            patch: value.patch,
            exit_code: value.exit_code,
            log: value.log,
            duration_ms: millis(value.duration),
            error: value.error,
            llm_calls: value.llm.calls.into_iter().map(Into::into).collect(),
            llm_spent_micro_usd: value.llm.spent_micro_usd,
            llm_refused: value.llm.refused,
            sandbox_ms: millis(value.sandbox),
        }
    }
}

impl From<LlmCall> for pb::LlmCall {
    fn from(value: LlmCall) -> Self {
        Self {
            model: value.model,
            prompt_tokens: value.prompt_tokens,
            completion_tokens: value.completion_tokens,
            cost_micro_usd: value.cost_micro_usd,
            latency_ms: value.latency_ms,
            status: u32::from(value.status),
        }
    }
}

impl TryFrom<pb::LlmCall> for LlmCall {
    type Error = WireError;

    fn try_from(value: pb::LlmCall) -> Result<Self, Self::Error> {
        let status = u16::try_from(value.status)
            .map_err(|_| WireError::Invalid { field: "llm_calls.status", reason: format!("{} is not an HTTP status", value.status) })?;
        Ok(Self {
            model: value.model,
            prompt_tokens: value.prompt_tokens,
            completion_tokens: value.completion_tokens,
            cost_micro_usd: value.cost_micro_usd,
            latency_ms: value.latency_ms,
            status,
        })
    }
}

impl TryFrom<pb::RunReport> for RunReport {
    type Error = WireError;

    fn try_from(value: pb::RunReport) -> Result<Self, Self::Error> {
        let outcome = run_outcome_from_wire(value.outcome)?;
        Ok(Self {
            run_id: RunId::new(non_empty("run_id", value.run_id)?),
            outcome,
            patch: value.patch,
            exit_code: value.exit_code,
            log: value.log,
            duration: Duration::from_millis(value.duration_ms),
            error: value.error,
            llm: LlmUsage {
                calls: value.llm_calls.into_iter().map(LlmCall::try_from).collect::<Result<_, _>>()?,
                spent_micro_usd: value.llm_spent_micro_usd,
                refused: value.llm_refused,
            },
            sandbox: Duration::from_millis(value.sandbox_ms),
        })
    }
}

fn run_outcome_from_wire(value: i32) -> Result<RunOutcome, WireError> {
    match pb::RunOutcome::try_from(value) {
        Ok(pb::RunOutcome::Completed) => Ok(RunOutcome::Completed),
        Ok(pb::RunOutcome::TimedOut) => Ok(RunOutcome::TimedOut),
        Ok(pb::RunOutcome::AgentError) => Ok(RunOutcome::AgentError),
        Ok(pb::RunOutcome::InfraError) => Ok(RunOutcome::InfraError),
        _ => Err(WireError::Invalid { field: "outcome", reason: format!("unknown value {value}") }),
    }
}

// --- verdicts ------------------------------------------------------------------------------

fn status_to_wire(status: VerdictStatus) -> pb::VerdictStatus {
    match status {
        VerdictStatus::Resolved => pb::VerdictStatus::Resolved,
        VerdictStatus::Unresolved => pb::VerdictStatus::Unresolved,
        VerdictStatus::PatchRejected => pb::VerdictStatus::PatchRejected,
        VerdictStatus::InfraError => pb::VerdictStatus::InfraError,
    }
}

fn test_status_to_wire(status: TestStatus) -> pb::TestStatus {
    match status {
        TestStatus::Passed => pb::TestStatus::Passed,
        TestStatus::Failed => pb::TestStatus::Failed,
        TestStatus::Error => pb::TestStatus::Error,
        TestStatus::Skipped => pb::TestStatus::Skipped,
        TestStatus::Missing => pb::TestStatus::Missing,
    }
}

impl From<Verdict> for pb::Verdict {
    fn from(value: Verdict) -> Self {
        Self {
            status: status_to_wire(value.status).into(),
            fail_to_pass_passed: value.fail_to_pass_passed,
            fail_to_pass_total: value.fail_to_pass_total,
            pass_to_pass_passed: value.pass_to_pass_passed,
            pass_to_pass_total: value.pass_to_pass_total,
            tests: value.tests.into_iter().map(|t| pb::TestResult { id: t.id, status: test_status_to_wire(t.status).into() }).collect(),
            notes: value.notes,
        }
    }
}

impl TryFrom<pb::Verdict> for Verdict {
    type Error = WireError;

    fn try_from(value: pb::Verdict) -> Result<Self, Self::Error> {
        let status = match pb::VerdictStatus::try_from(value.status) {
            Ok(pb::VerdictStatus::Resolved) => VerdictStatus::Resolved,
            Ok(pb::VerdictStatus::Unresolved) => VerdictStatus::Unresolved,
            Ok(pb::VerdictStatus::PatchRejected) => VerdictStatus::PatchRejected,
            Ok(pb::VerdictStatus::InfraError) => VerdictStatus::InfraError,
            _ => return Err(WireError::Invalid { field: "verdict.status", reason: format!("unknown value {}", value.status) }),
        };
        let tests = value
            .tests
            .into_iter()
            .map(|t| {
                let status = match pb::TestStatus::try_from(t.status) {
                    Ok(pb::TestStatus::Passed) => TestStatus::Passed,
                    Ok(pb::TestStatus::Failed) => TestStatus::Failed,
                    Ok(pb::TestStatus::Error) => TestStatus::Error,
                    Ok(pb::TestStatus::Skipped) => TestStatus::Skipped,
                    Ok(pb::TestStatus::Missing) => TestStatus::Missing,
                    _ => return Err(WireError::Invalid { field: "verdict.tests.status", reason: format!("unknown value {}", t.status) }),
                };
                Ok(TestResult { id: t.id, status })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            status,
            fail_to_pass_passed: value.fail_to_pass_passed,
            fail_to_pass_total: value.fail_to_pass_total,
            pass_to_pass_passed: value.pass_to_pass_passed,
            pass_to_pass_total: value.pass_to_pass_total,
            tests,
            notes: value.notes,
        })
    }
}

impl From<GradeReport> for pb::GradeReport {
    fn from(value: GradeReport) -> Self {
        Self {
            grade_id: value.grade_id.to_string(),
            verdict: Some(value.verdict.into()),
            log: value.log,
            duration_ms: millis(value.duration),
            statement: value.signed.as_ref().map(|s| s.statement.clone()).unwrap_or_default(),
            signature: value.signed.map(|s| s.signature).unwrap_or_default(),
        }
    }
}

impl TryFrom<pb::GradeReport> for GradeReport {
    type Error = WireError;

    fn try_from(value: pb::GradeReport) -> Result<Self, Self::Error> {
        Ok(Self {
            grade_id: GradeId::new(non_empty("grade_id", value.grade_id)?),
            verdict: value.verdict.ok_or(WireError::Missing("verdict"))?.try_into()?,
            log: value.log,
            duration: Duration::from_millis(value.duration_ms),
            // An empty statement is no verdict (an infrastructure failure); the coordinator
            // decides what a report without one may change.
            signed: (!value.statement.is_empty()).then_some(SignedVerdict { statement: value.statement, signature: value.signature }),
        })
    }
}

// --- the verdict ledger --------------------------------------------------------------------

impl TryFrom<pb::LedgerVerdict> for LedgerEntry {
    type Error = WireError;

    /// The statement and signature stay opaque bytes here: whether they stand is for
    /// `whetstone_chain::consensus::verify_ledger` to say, with the reason.
    fn try_from(value: pb::LedgerVerdict) -> Result<Self, Self::Error> {
        if value.seq == 0 {
            return Err(WireError::Invalid { field: "seq", reason: "ledger sequence numbers start at 1".into() });
        }
        Ok(Self {
            seq: value.seq,
            run_id: RunId::new(non_empty("run_id", value.run_id)?),
            verdict: SignedVerdict { statement: value.statement, signature: value.signature },
        })
    }
}

impl TryFrom<pb::AgentClaim> for AgentClaim {
    type Error = WireError;

    /// Checks the shapes (digest, SS58 hotkey); the signature is checked by
    /// [`AgentClaim::verify`].
    fn try_from(value: pb::AgentClaim) -> Result<Self, Self::Error> {
        Ok(Self {
            agent: parse_digest("agent_digest", &value.agent_digest)?,
            miner: Hotkey::parse(&value.miner_hotkey).map_err(|e| WireError::Invalid { field: "miner_hotkey", reason: e.to_string() })?,
            claimed_at_ms: value.claimed_at_ms,
            signature: value.signature,
        })
    }
}

impl From<Report> for pb::WorkerMessage {
    fn from(value: Report) -> Self {
        let kind = match value {
            Report::Run(run) => pb::worker_message::Kind::RunReport(run.into()),
            Report::Grade(grade) => pb::worker_message::Kind::GradeReport(grade.into()),
            Report::Solve(solve) => pb::worker_message::Kind::SolveReport(solve.into()),
        };
        Self { kind: Some(kind) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> Digest {
        Digest::of_bytes(b"x")
    }

    #[test]
    fn run_assignment_round_trips() {
        let run = RunAssignment {
            run_id: RunId::new("run-1"),
            agent: digest(),
            task: digest(),
            limits: SandboxLimits::default(),
            attempt: 2,
            llm_budget_micro_usd: 250_000,
        };
        let wire = assignment_to_wire(&Assignment::Run(run.clone()), 5);
        let Some(pb::coordinator_message::Kind::Run(msg)) = wire.kind else { panic!("not a run") };
        assert_eq!(msg.lease_expires_at_ms, 5);
        assert_eq!(RunAssignment::try_from(msg).expect("valid"), run);
    }

    #[test]
    fn malformed_messages_name_the_field() {
        let bad = pb::RunAssignment { run_id: "r".into(), agent_digest: "nope".into(), ..Default::default() };
        let err = RunAssignment::try_from(bad).expect_err("bad digest");
        assert!(err.to_string().contains("agent_digest"), "{err}");
        let no_limits = pb::RunAssignment {
            run_id: "r".into(),
            agent_digest: digest().to_string(),
            task_digest: digest().to_string(),
            ..Default::default()
        };
        assert!(matches!(RunAssignment::try_from(no_limits), Err(WireError::Missing("limits"))));
    }

    #[test]
    fn run_report_round_trips_with_its_llm_calls() {
        let call = LlmCall { model: "m".into(), prompt_tokens: 10, completion_tokens: 5, cost_micro_usd: 7, latency_ms: 30, status: 200 };
        let report = RunReport {
            run_id: RunId::new("run-1"),
            outcome: RunOutcome::Completed,
            patch: b"diff".to_vec(),
            exit_code: 0,
            log: "out".into(),
            duration: Duration::from_millis(1200),
            error: String::new(),
            llm: LlmUsage { calls: vec![call.clone(), LlmCall { status: 429, ..call }], spent_micro_usd: 14, refused: 1 },
            sandbox: Duration::from_millis(900),
        };
        let wire: pb::RunReport = report.clone().into();
        assert_eq!(RunReport::try_from(wire).expect("valid"), report);
        let bad = pb::RunReport {
            run_id: "r".into(),
            outcome: pb::RunOutcome::Completed.into(),
            llm_calls: vec![pb::LlmCall { status: 70_000, ..Default::default() }],
            ..Default::default()
        };
        assert!(RunReport::try_from(bad).expect_err("bad status").to_string().contains("llm_calls.status"));
    }

    #[test]
    fn grade_report_round_trips() {
        let report = GradeReport {
            grade_id: GradeId::new("grade-1"),
            verdict: Verdict {
                status: VerdictStatus::Resolved,
                fail_to_pass_passed: 1,
                fail_to_pass_total: 1,
                pass_to_pass_passed: 0,
                pass_to_pass_total: 0,
                tests: vec![TestResult { id: "a::b".into(), status: TestStatus::Passed }],
                notes: "strict".into(),
            },
            log: "ok".into(),
            duration: Duration::from_millis(1500),
            signed: Some(SignedVerdict { statement: b"statement".to_vec(), signature: vec![7; 64] }),
        };
        let wire: pb::GradeReport = report.clone().into();
        assert_eq!(GradeReport::try_from(wire).expect("valid"), report);
    }

    #[test]
    fn solve_assignment_and_report_round_trip() {
        let solve = SolveAssignment {
            solve_id: "solve-1".into(),
            agent: digest(),
            snapshot: b"tar bytes".to_vec(),
            statement: "fix it".into(),
            test_command: "pytest -q".into(),
            limits: SandboxLimits::default(),
            llm_budget_micro_usd: 7,
        };
        let pb::CoordinatorMessage { kind: Some(pb::coordinator_message::Kind::Solve(wire)) } =
            assignment_to_wire(&Assignment::Solve(solve.clone()), 5)
        else {
            panic!("not a solve assignment")
        };
        assert_eq!(SolveAssignment::try_from(wire).expect("valid"), solve);
        let report = SolveReport {
            patch: b"diff".to_vec(),
            spent_micro_usd: 3,
            cancelled: true,
            tests: Some(SolveTests { command: "pytest".into(), exit_code: 1, output_tail: "1 failed".into() }),
            ..SolveReport::failed("solve-1", RunOutcome::Completed, "")
        };
        assert_eq!(SolveReport::try_from(pb::SolveReport::from(report.clone())).expect("valid"), report);
        let unnamed = pb::SolveReport { solve_id: String::new(), ..pb::SolveReport::from(report) };
        assert!(matches!(
            SolveReport::try_from(unnamed),
            Err(WireError::Invalid { field: "solve_id", .. }) | Err(WireError::Missing("solve_id"))
        ));
    }
}
