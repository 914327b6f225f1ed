//! Recording the reports of one batch of events: every run result in one transaction, every
//! verdict in one (after one read of what each grade is about), the dispute and audit slots
//! they call for in one more; the rare failure reports and solve reports one by one. Then each
//! report's lease ends and its worker gets its acknowledgement. A report whose transaction
//! failed is not acknowledged: its worker keeps it and sends it again.

use tracing::Instrument as _;
use whetstone_chain::verdict::VerdictStatement;
use whetstone_proto::error_chain;
use whetstone_proto::job::{GradeReport, Report, RunOutcome, RunReport};
use whetstone_proto::pb;
use whetstone_tasks::{Hotkey, RunId, VerdictStatus};

use super::Scheduler;
use crate::grading::{Refused, check_verified, next_grade, verify_signature};
use crate::store::{CompletedRun, NewVerdict, Recorded, StoreError};
use crate::telemetry;

/// A report waiting for the end of its batch of events.
#[derive(Debug)]
pub(crate) struct PendingReport {
    pub(super) worker_id: String,
    /// The hotkey of the session it arrived on, when the session was still there.
    pub(super) hotkey: Option<Hotkey>,
    pub(super) report: Report,
    /// A grade report's signature as its session task verified it.
    pub(super) signature: Option<Box<Result<VerdictStatement, Refused>>>,
}

/// What became of one report: `Some(first)` once recorded (whether it was the job's first
/// result), `None` when it could not be and must be sent again.
type Outcome = Option<bool>;

impl Scheduler {
    /// Records the reports received since the last call, acknowledges them and frees their
    /// workers' room.
    pub(super) async fn record_reports(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return;
        }
        let mut outcomes: Vec<Outcome> = vec![None; pending.len()];
        let mut runs = Vec::new();
        let mut verdicts = Vec::new();
        for (index, item) in pending.iter().enumerate() {
            match &item.report {
                Report::Run(run) if run.outcome != RunOutcome::InfraError => runs.push(index),
                Report::Grade(grade) if grade.verdict.status != VerdictStatus::InfraError => verdicts.push(index),
                report => {
                    let recorded = self.record_one(&item.worker_id, report).instrument(report_span(report)).await;
                    outcomes[index] = self.settled(report.job_id(), recorded);
                }
            }
        }
        self.record_runs(&pending, &runs, &mut outcomes).await;
        self.record_verdicts(&pending, &verdicts, &mut outcomes).await;
        for (item, outcome) in pending.iter().zip(outcomes) {
            let Some(accepted) = outcome else { continue };
            let job_id = item.report.job_id();
            if self.holds_lease(&item.worker_id, job_id) {
                self.release(job_id);
            }
            self.needs_dispatch = true;
            if let Some(session) = self.sessions.get(&item.worker_id) {
                let ack = pb::ReportAck { job_id: job_id.to_owned(), accepted };
                let message = pb::CoordinatorMessage { kind: Some(pb::coordinator_message::Kind::Ack(ack)) };
                let _ = session.sender.try_send(Ok(message));
            }
        }
    }

    /// The outcome of a store call about one job, its failure logged.
    fn settled(&self, job_id: &str, recorded: Result<bool, StoreError>) -> Outcome {
        recorded.inspect_err(|error| tracing::error!(job = job_id, error = %error_chain(error), "failed to record report")).ok()
    }

    /// A failure report (the job goes back to the queue) or a solve report.
    async fn record_one(&mut self, worker_id: &str, report: &Report) -> Result<bool, StoreError> {
        let max = self.config.max_attempts;
        match report {
            // A failure report only counts from the lease holder: a worker that lost the job
            // (its lease expired, the coordinator restarted) must not requeue another's run.
            // The store checks who holds the lease.
            Report::Run(run) => match self.store.requeue_run(&run.run_id, worker_id, max, &run.error).await? {
                None => {
                    tracing::info!(run = %run.run_id, worker = worker_id, "ignoring a failure report from a worker without the lease");
                    Ok(false)
                }
                Some(requeued) => {
                    tracing::warn!(run = %run.run_id, worker = worker_id, error = %run.error, requeued, "runner failed the run");
                    Ok(true)
                }
            },
            Report::Grade(grade) => match self.store.requeue_grade(&grade.grade_id, worker_id, max, &grade.verdict.notes).await? {
                None => {
                    tracing::info!(grade = %grade.grade_id, worker = worker_id, "ignoring a failure report from a worker without the lease");
                    Ok(false)
                }
                Some(requeued) => {
                    tracing::warn!(grade = %grade.grade_id, worker = worker_id, notes = %grade.verdict.notes, requeued, "grader failed");
                    Ok(true)
                }
            },
            Report::Solve(solve) => {
                let first = self.solves.is_running(&solve.solve_id);
                tracing::info!(solve = %solve.solve_id, worker = worker_id, outcome = solve.outcome.as_str(), cancelled = solve.cancelled, "solve report");
                self.solves.finish(solve.clone()).await;
                Ok(first)
            }
        }
    }

    /// The completed runs among `pending` (at `indices`), in one transaction.
    async fn record_runs(&mut self, pending: &[PendingReport], indices: &[usize], outcomes: &mut [Outcome]) {
        let mut batch = Vec::with_capacity(indices.len());
        let mut batched = Vec::with_capacity(indices.len());
        for &index in indices {
            let item = &pending[index];
            let Report::Run(report) = &item.report else { continue };
            match &item.hotkey {
                Some(runner) => {
                    batch.push(CompletedRun { report, worker: &item.worker_id, runner });
                    batched.push(index);
                }
                // Reports arrive on the session's stream, so its session existed; one racing
                // a reconnect is sent again on the new session.
                None => outcomes[index] = Some(false),
            }
        }
        if batch.is_empty() {
            return;
        }
        let recorded = match self.store.complete_runs(&batch, self.config.grading.replicas).await {
            Ok(recorded) => recorded,
            Err(error) => {
                tracing::error!(reports = batch.len(), error = %error_chain(&error), "failed to record run reports; their workers send them again");
                return;
            }
        };
        for ((run, index), recorded) in batch.iter().zip(batched).zip(recorded) {
            let report: &RunReport = run.report;
            tracing::info!(run = %report.run_id, worker = run.worker, outcome = report.outcome.as_str(), ?recorded, "run report");
            if recorded == Recorded::Accepted {
                telemetry::run_reported(report);
            }
            outcomes[index] = Some(recorded == Recorded::Accepted);
        }
    }

    /// The verdicts among `pending` (at `indices`): each checked against its grade and its
    /// session's hotkey, those that pass appended to the ledger in one transaction; a refused
    /// one's slot is requeued for another attempt. Runs whose slots are then all filled may
    /// get a dispute or an audit slot ([`next_grade`]).
    async fn record_verdicts(&mut self, pending: &[PendingReport], indices: &[usize], outcomes: &mut [Outcome]) {
        let grades: Vec<(usize, &GradeReport, &Hotkey)> = indices
            .iter()
            .filter_map(|&index| {
                let item = &pending[index];
                let Report::Grade(grade) = &item.report else { return None };
                match &item.hotkey {
                    Some(validator) => Some((index, grade, validator)),
                    None => {
                        outcomes[index] = Some(false);
                        None
                    }
                }
            })
            .collect();
        if grades.is_empty() {
            return;
        }
        let ids: Vec<_> = grades.iter().map(|(_, grade, _)| grade.grade_id.clone()).collect();
        let subjects = match self.store.grade_subjects(&ids).await {
            Ok(subjects) => subjects,
            Err(error) => {
                tracing::error!(reports = ids.len(), error = %error_chain(&error), "failed to read grades; their workers send the verdicts again");
                return;
            }
        };
        let mut checked = Vec::with_capacity(grades.len());
        for ((index, grade, validator), subject) in grades.into_iter().zip(subjects) {
            let worker_id = pending[index].worker_id.as_str();
            let Some(subject) = subject else {
                tracing::info!(grade = %grade.grade_id, worker = worker_id, "ignoring a verdict for an unknown grade");
                outcomes[index] = Some(false);
                continue;
            };
            let verified = pending[index].signature.as_deref().cloned().unwrap_or_else(|| verify_signature(grade));
            match check_verified(grade, verified, &subject, validator) {
                Ok((signed, _)) => checked.push((index, grade, validator, subject.run_id, signed)),
                Err(refused) => {
                    tracing::warn!(grade = %grade.grade_id, worker = worker_id, %validator, reason = %refused, "verdict refused");
                    // Requeued only when this worker holds the slot (the store checks).
                    let reason = format!("verdict refused: {refused}");
                    let requeued = self.store.requeue_grade(&grade.grade_id, worker_id, self.config.max_attempts, &reason).await;
                    outcomes[index] = self.settled(grade.grade_id.as_str(), requeued.map(|_| false));
                }
            }
        }
        let new: Vec<NewVerdict<'_>> = checked
            .iter()
            .map(|(index, report, validator, run_id, signed)| NewVerdict {
                report,
                run_id,
                validator,
                signed,
                worker: &pending[*index].worker_id,
            })
            .collect();
        let recorded = match self.store.record_verdicts(&new).await {
            Ok(recorded) => recorded,
            Err(error) => {
                tracing::error!(reports = new.len(), error = %error_chain(&error), "failed to record verdicts; their workers send them again");
                return;
            }
        };
        let mut filled = Vec::new();
        for ((index, report, validator, run_id, _), recorded) in checked.iter().zip(&recorded) {
            tracing::info!(
                grade = %report.grade_id, run = %run_id, %validator, verdict = report.verdict.status.as_str(), ?recorded, "verdict"
            );
            if *recorded == Recorded::Accepted {
                telemetry::verdict_recorded(report);
                filled.push((*index, run_id.clone()));
            }
            outcomes[*index] = Some(*recorded == Recorded::Accepted);
        }
        if let Err(error) = self.more_grades(&filled).await {
            // The verdicts stand; without their acknowledgement the workers send them again, and
            // the duplicates do not ask again, so say which runs may lack a dispute or audit.
            let runs: Vec<&str> = filled.iter().map(|(_, run)| run.as_str()).collect();
            tracing::error!(error = %error_chain(&error), ?runs, "failed to queue dispute or audit grades for these runs");
        }
    }

    /// Queues a dispute or audit slot for each of these runs that needs one. It waits for a
    /// validator that has not graded the run yet (one that connects later takes it).
    async fn more_grades(&mut self, filled: &[(usize, RunId)]) -> Result<(), StoreError> {
        if filled.is_empty() {
            return Ok(());
        }
        let mut runs: Vec<RunId> = filled.iter().map(|(_, run)| run.clone()).collect();
        runs.sort();
        runs.dedup();
        let gradings = self.store.run_gradings(&runs).await?;
        let wanted: Vec<_> = runs
            .into_iter()
            .zip(gradings)
            .filter_map(|(run, grading)| next_grade(&run, &grading, &self.config.grading, &self.audit_seed).map(|purpose| (run, purpose)))
            .collect();
        let ids = self.store.add_grades(&wanted).await?;
        for ((run, purpose), grade) in wanted.iter().zip(ids) {
            tracing::info!(run = %run, grade = %grade, purpose = purpose.as_str(), "extra grade queued");
        }
        Ok(())
    }
}

/// The span a report is recorded in, keyed by the job it reports on, like the worker's.
fn report_span(report: &Report) -> tracing::Span {
    match report {
        Report::Run(run) => tracing::info_span!("run", run_id = %run.run_id),
        Report::Grade(grade) => tracing::info_span!("grade", grade_id = %grade.grade_id),
        Report::Solve(solve) => tracing::info_span!("solve", solve_id = %solve.solve_id),
    }
}
