//! Handing out work to workers with free room: queued solve jobs first (a developer waits),
//! then grade slots to validators and runs to agent-runners. One dispatch pass leases all it
//! hands out in one transaction per kind, then sends the assignments.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use whetstone_proto::convert::assignment_to_wire;
use whetstone_proto::job::{Assignment, Capability, GradeAssignment, RunAssignment, SandboxLimits};
use whetstone_tasks::{Hotkey, RunId};

use super::{JobKind, Lease, Scheduler, Session};
use crate::store::{GradeLease, LeaseTerms, QueuedGrade, StoreError, now_ms};

/// At most this many grade slots are handed out in one dispatch pass.
const GRADES_PER_PASS: u32 = 256;

impl Scheduler {
    pub(super) async fn dispatch(&mut self) -> Result<(), StoreError> {
        self.dispatch_grades().await?;
        let runners: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.capabilities.contains(&Capability::RunAgent) && s.capacity > s.held)
            .map(|(worker_id, _)| worker_id.clone())
            .collect();
        let mut room = Vec::with_capacity(runners.len());
        for worker_id in runners {
            self.dispatch_solves(&worker_id, self.free(&worker_id));
            let free = self.free(&worker_id);
            if free > 0 && self.can_send(&worker_id) {
                room.push((worker_id, free));
            }
        }
        self.dispatch_runs(room).await
    }

    /// Slots a worker has free: its capacity less the leases it holds.
    fn free(&self, worker_id: &str) -> u32 {
        self.sessions.get(worker_id).map_or(0, |s| s.capacity.saturating_sub(s.held))
    }

    /// Queued solve jobs go to runners with free room before scored runs: a developer waits.
    fn dispatch_solves(&mut self, worker_id: &str, mut free: u32) {
        while free > 0 && self.can_send(worker_id) {
            let Some(assignment) = self.solves.take_next() else { break };
            let solve_id = assignment.solve_id.clone();
            let assignment = Assignment::Solve(assignment);
            if !self.send(worker_id, JobKind::Solve, &assignment) {
                if let Assignment::Solve(assignment) = assignment {
                    self.solves.requeue(assignment);
                }
                break;
            }
            self.solves.started(&solve_id, worker_id);
            free -= 1;
        }
    }

    /// Hands the oldest queued runs to the runners with free room, in worker order, all claimed
    /// in one transaction. One look at the queue first: claiming writes, and most dispatches
    /// find nothing queued.
    async fn dispatch_runs(&mut self, room: Vec<(String, u32)>) -> Result<(), StoreError> {
        if room.is_empty() || self.store.queued_runs(1).await?.is_empty() {
            return Ok(());
        }
        let takers: Vec<String> =
            room.into_iter().flat_map(|(worker_id, free)| std::iter::repeat_n(worker_id, usize::try_from(free).unwrap_or(0))).collect();
        let expires_at_ms = now_ms() + self.lease_ms();
        let terms: Vec<LeaseTerms<'_>> =
            takers.iter().map(|worker_id| LeaseTerms { worker: worker_id, coordinator: &self.coordinator_id, expires_at_ms }).collect();
        let claimed = self.store.claim_runs(&terms).await?;
        for (worker_id, claimed) in takers.iter().zip(claimed) {
            let run = claimed.run;
            let assignment = Assignment::Run(RunAssignment {
                run_id: run.run_id.clone(),
                agent: run.agent,
                task: run.task,
                limits: self.config.agent_limits,
                attempt: claimed.attempt,
                llm_budget_micro_usd: self.config.llm_budget_micro_usd,
            });
            if !self.send(worker_id, JobKind::Run, &assignment) {
                self.store.requeue_run(&run.run_id, worker_id, self.config.max_attempts, "worker stream closed").await?;
            }
        }
        Ok(())
    }

    /// Hands queued grade slots, oldest first, to validators: each slot to the grader with the
    /// most room that may take it (see [`Graders::pick`]), all leased in one transaction.
    async fn dispatch_grades(&mut self) -> Result<(), StoreError> {
        let total: u32 =
            self.sessions.values().filter(|s| s.capabilities.contains(&Capability::Grade)).map(|s| s.capacity.saturating_sub(s.held)).sum();
        if total == 0 {
            return Ok(());
        }
        // Slots some grader may not take are skipped, so look further than the free room; but
        // each slot read costs a look at who holds its run's other slots, so one pass reads a
        // bounded window and the next pass (after the next batch of events) takes the rest.
        let wanted = total.min(GRADES_PER_PASS);
        let queued = self.store.queued_grades(wanted.saturating_mul(2).saturating_add(32)).await?;
        let picked: Vec<(String, Hotkey, QueuedGrade)> = {
            let mut graders = Graders::new(&self.sessions);
            queued
                .into_iter()
                .map_while(|grade| graders.has_room().then(|| graders.pick(&grade).map(|(w, h)| (w, h, grade))))
                .flatten()
                .collect()
        };
        if picked.is_empty() {
            return Ok(());
        }
        let expires_at_ms = now_ms() + self.lease_ms();
        let leases: Vec<GradeLease<'_>> = picked
            .iter()
            .map(|(worker_id, validator, grade)| GradeLease {
                grade_id: &grade.grade_id,
                terms: LeaseTerms { worker: worker_id, coordinator: &self.coordinator_id, expires_at_ms },
                validator,
            })
            .collect();
        let leased = self.store.lease_grades(&leases).await?;
        for ((worker_id, _, grade), leased) in picked.into_iter().zip(leased) {
            // Not leased: another coordinator took the slot first.
            let Some((attempt, patch)) = leased else { continue };
            let limits = SandboxLimits {
                // The task's own test timeout plus room for container start and patching.
                timeout: Duration::from_secs(grade.task_timeout_secs) + self.config.grade_overhead,
                ..self.config.grade_limits
            };
            let grade_id = grade.grade_id.clone();
            let assignment = Assignment::Grade(GradeAssignment {
                grade_id: grade.grade_id,
                run_id: grade.run_id,
                task: grade.task,
                agent: grade.agent,
                patch,
                limits,
                attempt,
            });
            if !self.send(&worker_id, JobKind::Grade, &assignment) {
                self.store.requeue_grade(&grade_id, &worker_id, self.config.max_attempts, "worker stream closed").await?;
            }
        }
        Ok(())
    }

    /// Whether the worker's stream can take an assignment now. Checked before leasing, so a
    /// closed or backed-up stream never costs a job an attempt. A closed stream's session is
    /// dropped here rather than waiting for its Disconnected event.
    pub(super) fn can_send(&mut self, worker_id: &str) -> bool {
        let Some(session) = self.sessions.get(worker_id) else { return false };
        if session.sender.is_closed() {
            tracing::info!(worker = worker_id, "worker stream closed; dropping its session");
            self.sessions.remove(worker_id);
            return false;
        }
        session.sender.capacity() > 0
    }

    /// Sends an assignment and takes the lease. False when the worker's stream is gone.
    fn send(&mut self, worker_id: &str, kind: JobKind, assignment: &Assignment) -> bool {
        let Some(session) = self.sessions.get(worker_id) else { return false };
        let wall_deadline = SystemTime::now() + self.config.lease_duration;
        let deadline_ms = wall_deadline.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        if session.sender.try_send(Ok(assignment_to_wire(assignment, deadline_ms))).is_err() {
            return false;
        }
        whetstone_proto::worker::job_span(assignment).in_scope(|| tracing::info!(worker = worker_id, "dispatched"));
        let expires_at_ms = now_ms() + self.lease_ms();
        self.hold(assignment.job_id().to_owned(), Lease { worker_id: worker_id.to_owned(), kind, expires_at_ms });
        true
    }
}

/// The connected validators during one dispatch pass: who has room (most room first, ties to
/// the first worker id) and which hotkeys are connected at all.
struct Graders<'a> {
    by_room: BTreeSet<(Reverse<u32>, &'a str)>,
    hotkey_of: HashMap<&'a str, &'a Hotkey>,
    /// Every connected grader's hotkey, with room or without.
    hotkeys: HashSet<&'a Hotkey>,
    /// Hotkeys given a slot of a run in this pass: no second slot of that run for them.
    picked: HashMap<RunId, Vec<&'a Hotkey>>,
}

impl<'a> Graders<'a> {
    fn new(sessions: &'a BTreeMap<String, Session>) -> Self {
        let mut graders = Self { by_room: BTreeSet::new(), hotkey_of: HashMap::new(), hotkeys: HashSet::new(), picked: HashMap::new() };
        for (worker_id, session) in sessions {
            if !session.capabilities.contains(&Capability::Grade) {
                continue;
            }
            graders.hotkeys.insert(&session.hotkey);
            let room = session.capacity.saturating_sub(session.held);
            if room > 0 && !session.sender.is_closed() && session.sender.capacity() > 0 {
                graders.by_room.insert((Reverse(room), worker_id));
                graders.hotkey_of.insert(worker_id, &session.hotkey);
            }
        }
        graders
    }

    fn has_room(&self) -> bool {
        !self.by_room.is_empty()
    }

    /// The grader for a slot and its hotkey, its room taken: one with free room whose hotkey
    /// has no other slot or verdict on the run, preferring the most free room. The hotkey
    /// whose runner made the patch is passed over while another validator that could grade
    /// the run is connected, even if busy: the slot waits for it.
    fn pick(&mut self, grade: &QueuedGrade) -> Option<(String, Hotkey)> {
        let picked = self.picked.get(&grade.run_id);
        let eligible = |hotkey: &Hotkey| !grade.taken_by.contains(hotkey) && !picked.is_some_and(|p| p.contains(&hotkey));
        let is_runner = |hotkey: &Hotkey| grade.runner.as_ref() == Some(hotkey);
        let others_connected = self.hotkeys.iter().any(|h| eligible(h) && !is_runner(h));
        let chosen = *self.by_room.iter().find(|(_, worker_id)| {
            let hotkey = self.hotkey_of[worker_id];
            eligible(hotkey) && !(others_connected && is_runner(hotkey))
        })?;
        self.by_room.remove(&chosen);
        let (Reverse(room), worker_id) = chosen;
        if room > 1 {
            self.by_room.insert((Reverse(room - 1), worker_id));
        }
        let hotkey = self.hotkey_of[worker_id];
        self.picked.entry(grade.run_id.clone()).or_default().push(hotkey);
        Some((worker_id.to_owned(), hotkey.clone()))
    }
}
