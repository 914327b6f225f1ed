//! Leases in the database: which worker holds a run or grade slot, through which coordinator,
//! until when. Taking a job is one atomic statement, so coordinators sharing a database never
//! hand one job out twice; any of them requeues a lease that ran out. Times are Unix
//! milliseconds passed in by the caller (the scheduler), so the store reads no clock.
//!
//! A requeued job keeps `lease_holder` (who held it last, for the record); only `state`
//! says whether a lease is live.

use std::collections::{HashMap, HashSet};

use sqlx::{AssertSqlSafe, Row};
use whetstone_proto::job::RunOutcome;
use whetstone_tasks::{GradeId, RunId, VerdictStatus};

use super::sql::{IN_LIST, SqlStore, digest, params, to_u32, values};
use super::{Backend, ClaimedRun, ExpiredLease, GradeLease, HeldLease, LeaseTerms, LeasedJob, QueuedRun, StoreError};

pub(super) async fn claim_runs(store: &SqlStore, terms: &[LeaseTerms<'_>]) -> Result<Vec<ClaimedRun>, StoreError> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    // The n-th oldest queued run goes to the n-th taker, all in one statement. The same text on
    // both but for the lock clause: SQLite runs one writer at a time, PostgreSQL lets
    // concurrent claims pass over the rows another claim has locked.
    let lock = match store.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
    };
    let mut tx = store.begin_write().await?;
    let mut claimed = Vec::with_capacity(terms.len());
    for chunk in terms.chunks(IN_LIST / 4) {
        let sql = format!(
            "WITH taker (n, worker, coordinator, expires_at_ms) AS (VALUES {}),
                  picked AS (SELECT run_id, row_number() OVER (ORDER BY created_at_ms, run_id) AS n
                             FROM (SELECT run_id, created_at_ms FROM runs WHERE state = 'queued'
                                   ORDER BY created_at_ms, run_id LIMIT $1 {lock}) AS oldest)
             UPDATE runs SET state = 'leased', attempts = attempts + 1, lease_holder = taker.worker,
                 lease_coordinator = taker.coordinator, lease_expires_at_ms = taker.expires_at_ms
             FROM picked JOIN taker ON taker.n = picked.n
             WHERE runs.run_id = picked.run_id AND runs.state = 'queued'
             RETURNING runs.run_id, runs.agent_digest, runs.task_digest, runs.attempts, runs.created_at_ms",
            values(2, chunk.len(), 4)
        );
        let mut update = sqlx::query(AssertSqlSafe(sql)).bind(i64::try_from(chunk.len()).unwrap_or(i64::MAX));
        for (n, terms) in chunk.iter().enumerate() {
            update =
                update.bind(i64::try_from(n + 1).unwrap_or(i64::MAX)).bind(terms.worker).bind(terms.coordinator).bind(terms.expires_at_ms);
        }
        let mut rows = Vec::with_capacity(chunk.len());
        for row in update.fetch_all(&mut *tx).await? {
            let created: i64 = row.try_get("created_at_ms")?;
            let run = ClaimedRun {
                run: QueuedRun {
                    run_id: RunId::new(row.try_get::<String, _>("run_id")?),
                    agent: digest(row.try_get("agent_digest")?)?,
                    task: digest(row.try_get("task_digest")?)?,
                },
                attempt: to_u32(row.try_get("attempts")?),
            };
            rows.push((created, run));
        }
        // Back in queue order, which is the takers' order.
        rows.sort_by(|a, b| (a.0, &a.1.run.run_id).cmp(&(b.0, &b.1.run.run_id)));
        let short = rows.len() < chunk.len();
        claimed.extend(rows.into_iter().map(|(_, run)| run));
        if short {
            break;
        }
    }
    tx.commit().await?;
    Ok(claimed)
}

pub(super) async fn requeue_run(
    store: &SqlStore,
    run_id: &RunId,
    worker: &str,
    max_attempts: u32,
    reason: &str,
    now_ms: i64,
) -> Result<Option<bool>, StoreError> {
    let state: Option<String> = sqlx::query_scalar(
        "UPDATE runs SET
             state = CASE WHEN attempts < $1 THEN 'queued' ELSE 'done' END,
             outcome = CASE WHEN attempts < $1 THEN outcome ELSE $2 END,
             error = CASE WHEN attempts < $1 THEN $3 ELSE 'gave up after ' || attempts || ' attempts: ' || $3 END,
             finished_at_ms = CASE WHEN attempts < $1 THEN finished_at_ms ELSE $4 END,
             lease_coordinator = NULL, lease_expires_at_ms = NULL
         WHERE state = 'leased' AND run_id = $5 AND lease_holder = $6
         RETURNING state",
    )
    .bind(i64::from(max_attempts))
    .bind(RunOutcome::InfraError.as_str())
    .bind(reason)
    .bind(now_ms)
    .bind(run_id.as_str())
    .bind(worker)
    .fetch_optional(store.pool())
    .await?;
    Ok(state.map(|state| state == "queued"))
}

pub(super) async fn lease_grades(store: &SqlStore, leases: &[GradeLease<'_>]) -> Result<Vec<Option<(u32, Vec<u8>)>>, StoreError> {
    if leases.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = store.begin_write().await?;
    // The runs of the slots asked for. On PostgreSQL their rows are locked (in run order, so
    // two coordinators never wait on each other in a cycle): slots of one run are leased by one
    // transaction at a time, so two coordinators cannot each give a slot of a run to one
    // validator (the check in the UPDATE reads committed rows only).
    let mut run_of: HashMap<String, String> = HashMap::with_capacity(leases.len());
    for chunk in leases.chunks(IN_LIST) {
        let sql = match store.backend() {
            Backend::Sqlite => format!("SELECT grade_id, run_id FROM grades WHERE grade_id IN ({})", params(1, chunk.len())),
            Backend::Postgres => format!(
                "SELECT g.grade_id, g.run_id FROM grades g JOIN runs r ON r.run_id = g.run_id WHERE g.grade_id IN ({})
                 ORDER BY r.run_id FOR UPDATE OF r",
                params(1, chunk.len())
            ),
        };
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for lease in chunk {
            query = query.bind(lease.grade_id.as_str());
        }
        for row in query.fetch_all(&mut *tx).await? {
            run_of.insert(row.try_get("grade_id")?, row.try_get("run_id")?);
        }
    }
    // As one at a time would: one slot of a run per validator, one validator per slot, the
    // first ask that may have it gets it.
    let mut taken = HashSet::with_capacity(leases.len());
    let mut planned: HashMap<&str, usize> = HashMap::with_capacity(leases.len());
    let mut plan: Vec<&GradeLease<'_>> = Vec::with_capacity(leases.len());
    for (index, lease) in leases.iter().enumerate() {
        let Some(run) = run_of.get(lease.grade_id.as_str()) else { continue };
        if planned.contains_key(lease.grade_id.as_str()) || taken.contains(&(run.as_str(), lease.validator.as_str())) {
            continue;
        }
        taken.insert((run.as_str(), lease.validator.as_str()));
        planned.insert(lease.grade_id.as_str(), index);
        plan.push(lease);
    }
    let mut leased: HashMap<String, (u32, String)> = HashMap::with_capacity(plan.len());
    for chunk in plan.chunks(IN_LIST / 5) {
        let sql = format!(
            "WITH plan (grade_id, validator, worker, coordinator, expires_at_ms) AS (VALUES {})
             UPDATE grades SET state = 'leased', attempts = attempts + 1, validator = plan.validator, lease_holder = plan.worker,
                 lease_coordinator = plan.coordinator, lease_expires_at_ms = plan.expires_at_ms
             FROM plan
             WHERE grades.grade_id = plan.grade_id AND grades.state = 'queued'
               AND NOT EXISTS (SELECT 1 FROM grades o WHERE o.run_id = grades.run_id AND o.grade_id != grades.grade_id
                                                        AND o.validator = plan.validator)
               AND NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.run_id = grades.run_id AND v.validator = plan.validator)
             RETURNING grades.grade_id, grades.attempts, grades.run_id",
            values(1, chunk.len(), 5)
        );
        let mut update = sqlx::query(AssertSqlSafe(sql));
        for GradeLease { grade_id, terms, validator } in chunk.iter().copied().copied() {
            update = update
                .bind(grade_id.as_str())
                .bind(validator.as_str())
                .bind(terms.worker)
                .bind(terms.coordinator)
                .bind(terms.expires_at_ms);
        }
        for row in update.fetch_all(&mut *tx).await? {
            leased.insert(row.try_get("grade_id")?, (to_u32(row.try_get("attempts")?), row.try_get("run_id")?));
        }
    }
    // The patches to grade, one read for all.
    let runs: Vec<&str> = leased.values().map(|(_, run_id)| run_id.as_str()).collect::<HashSet<_>>().into_iter().collect();
    let mut patches = HashMap::with_capacity(runs.len());
    for chunk in runs.chunks(IN_LIST) {
        let sql = format!("SELECT run_id, patch FROM runs WHERE run_id IN ({})", params(1, chunk.len()));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for run_id in chunk {
            query = query.bind(*run_id);
        }
        for row in query.fetch_all(&mut *tx).await? {
            patches.insert(row.try_get::<String, _>("run_id")?, row.try_get::<Option<Vec<u8>>, _>("patch")?.unwrap_or_default());
        }
    }
    tx.commit().await?;
    Ok(leases
        .iter()
        .enumerate()
        .map(|(index, lease)| {
            let grade_id = lease.grade_id.as_str();
            let (attempt, run_id) = leased.get(grade_id).filter(|_| planned.get(grade_id) == Some(&index))?;
            Some((*attempt, patches.get(run_id).cloned().unwrap_or_default()))
        })
        .collect())
}

pub(super) async fn requeue_grade(
    store: &SqlStore,
    grade_id: &GradeId,
    worker: &str,
    max_attempts: u32,
    reason: &str,
    now_ms: i64,
) -> Result<Option<bool>, StoreError> {
    // Requeued, any validator may take it, the one that failed too.
    let state: Option<String> = sqlx::query_scalar(
        "UPDATE grades SET
             state = CASE WHEN attempts < $1 THEN 'queued' ELSE 'done' END,
             validator = CASE WHEN attempts < $1 THEN NULL ELSE validator END,
             status = CASE WHEN attempts < $1 THEN status ELSE $2 END,
             log = CASE WHEN attempts < $1 THEN $3 ELSE 'gave up after ' || attempts || ' attempts: ' || $3 END,
             finished_at_ms = CASE WHEN attempts < $1 THEN finished_at_ms ELSE $4 END,
             lease_coordinator = NULL, lease_expires_at_ms = NULL
         WHERE state = 'leased' AND grade_id = $5 AND lease_holder = $6
         RETURNING state",
    )
    .bind(i64::from(max_attempts))
    .bind(VerdictStatus::InfraError.as_str())
    .bind(reason)
    .bind(now_ms)
    .bind(grade_id.as_str())
    .bind(worker)
    .fetch_optional(store.pool())
    .await?;
    Ok(state.map(|state| state == "queued"))
}

pub(super) async fn renew_leases(store: &SqlStore, terms: &LeaseTerms<'_>, job_ids: &[String]) -> Result<Vec<HeldLease>, StoreError> {
    if job_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = params(4, job_ids.len());
    let mut renewed = Vec::new();
    for (table, column) in [("runs", "run_id"), ("grades", "grade_id")] {
        let sql = format!(
            "UPDATE {table} SET lease_expires_at_ms = $1, lease_coordinator = $2
             WHERE state = 'leased' AND lease_holder = $3 AND {column} IN ({ids}) RETURNING {column}"
        );
        let mut query =
            sqlx::query_scalar::<_, String>(AssertSqlSafe(sql)).bind(terms.expires_at_ms).bind(terms.coordinator).bind(terms.worker);
        for id in job_ids {
            query = query.bind(id.as_str());
        }
        for id in query.fetch_all(store.pool()).await? {
            let job = if table == "runs" { LeasedJob::Run(RunId::new(id)) } else { LeasedJob::Grade(GradeId::new(id)) };
            renewed.push(HeldLease { job, worker: terms.worker.to_owned(), expires_at_ms: terms.expires_at_ms });
        }
    }
    Ok(renewed)
}

pub(super) async fn expire_leases(store: &SqlStore, now_ms: i64, max_attempts: u32) -> Result<Vec<ExpiredLease>, StoreError> {
    // Most ticks find nothing: a read says so without taking SQLite's write lock.
    let any: Option<String> = sqlx::query_scalar(
        "SELECT run_id FROM runs WHERE state = 'leased' AND lease_expires_at_ms <= $1
         UNION ALL SELECT grade_id FROM grades WHERE state = 'leased' AND lease_expires_at_ms <= $1 LIMIT 1",
    )
    .bind(now_ms)
    .fetch_optional(store.pool())
    .await?;
    if any.is_none() {
        return Ok(Vec::new());
    }
    // Each row is updated by one caller only (the WHERE is checked again under the row's
    // lock), so each expiry is reported once across coordinators.
    let runs = sqlx::query(
        "UPDATE runs SET
             state = CASE WHEN attempts < $1 THEN 'queued' ELSE 'done' END,
             outcome = CASE WHEN attempts < $1 THEN outcome ELSE $2 END,
             error = CASE WHEN attempts < $1 THEN 'lease expired on worker ' || lease_holder
                          ELSE 'gave up after ' || attempts || ' attempts: lease expired on worker ' || lease_holder END,
             finished_at_ms = CASE WHEN attempts < $1 THEN finished_at_ms ELSE $3 END,
             lease_coordinator = NULL, lease_expires_at_ms = NULL
         WHERE state = 'leased' AND lease_expires_at_ms <= $3
         RETURNING run_id, lease_holder, state",
    )
    .bind(i64::from(max_attempts))
    .bind(RunOutcome::InfraError.as_str())
    .bind(now_ms)
    .fetch_all(store.pool())
    .await?;
    let grades = sqlx::query(
        "UPDATE grades SET
             state = CASE WHEN attempts < $1 THEN 'queued' ELSE 'done' END,
             validator = CASE WHEN attempts < $1 THEN NULL ELSE validator END,
             status = CASE WHEN attempts < $1 THEN status ELSE $2 END,
             log = CASE WHEN attempts < $1 THEN 'lease expired on worker ' || lease_holder
                        ELSE 'gave up after ' || attempts || ' attempts: lease expired on worker ' || lease_holder END,
             finished_at_ms = CASE WHEN attempts < $1 THEN finished_at_ms ELSE $3 END,
             lease_coordinator = NULL, lease_expires_at_ms = NULL
         WHERE state = 'leased' AND lease_expires_at_ms <= $3
         RETURNING grade_id, lease_holder, state",
    )
    .bind(i64::from(max_attempts))
    .bind(VerdictStatus::InfraError.as_str())
    .bind(now_ms)
    .fetch_all(store.pool())
    .await?;
    let mut expired = Vec::with_capacity(runs.len() + grades.len());
    for row in runs {
        let job = LeasedJob::Run(RunId::new(row.try_get::<String, _>("run_id")?));
        expired.push(ExpiredLease { job, worker: holder(&row)?, requeued: row.try_get::<String, _>("state")? == "queued" });
    }
    for row in grades {
        let job = LeasedJob::Grade(GradeId::new(row.try_get::<String, _>("grade_id")?));
        expired.push(ExpiredLease { job, worker: holder(&row)?, requeued: row.try_get::<String, _>("state")? == "queued" });
    }
    Ok(expired)
}

pub(super) async fn held_leases(store: &SqlStore, coordinator: &str) -> Result<Vec<HeldLease>, StoreError> {
    let rows = sqlx::query(
        "SELECT run_id AS job, 'run' AS kind, lease_holder, lease_expires_at_ms FROM runs WHERE state = 'leased' AND lease_coordinator = $1
         UNION ALL
         SELECT grade_id, 'grade', lease_holder, lease_expires_at_ms FROM grades WHERE state = 'leased' AND lease_coordinator = $1",
    )
    .bind(coordinator)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("job")?;
            let job = if row.try_get::<String, _>("kind")? == "run" {
                LeasedJob::Run(RunId::new(id))
            } else {
                LeasedJob::Grade(GradeId::new(id))
            };
            Ok(HeldLease { job, worker: holder(row)?, expires_at_ms: row.try_get::<Option<i64>, _>("lease_expires_at_ms")?.unwrap_or(0) })
        })
        .collect()
}

/// The lease holder column; empty for a lease taken before schema 8 (it had none).
fn holder(row: &sqlx::any::AnyRow) -> Result<String, StoreError> {
    Ok(row.try_get::<Option<String>, _>("lease_holder")?.unwrap_or_default())
}
