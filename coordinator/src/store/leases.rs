//! Leases in the database: which worker holds a run or grade slot, through which coordinator,
//! until when. Taking a job is one atomic statement, so coordinators sharing a database never
//! hand one job out twice; any of them requeues a lease that ran out. Times are Unix
//! milliseconds passed in by the caller (the scheduler), so the store reads no clock.
//!
//! A requeued job keeps `lease_holder` (who held it last, for the record); only `state`
//! says whether a lease is live.

use std::collections::HashMap;

use sqlx::{AnyConnection, AssertSqlSafe, Row};
use whetstone_proto::job::RunOutcome;
use whetstone_tasks::{GradeId, RunId, VerdictStatus};

use super::sql::{IN_LIST, SqlStore, digest, params, to_u32};
use super::{Backend, ClaimedRun, ExpiredLease, GradeLease, HeldLease, LeaseTerms, LeasedJob, QueuedRun, StoreError};

pub(super) async fn claim_runs(store: &SqlStore, terms: &[LeaseTerms<'_>]) -> Result<Vec<ClaimedRun>, StoreError> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    // The same statement on both but for the lock clause: SQLite runs one writer at a time,
    // PostgreSQL lets concurrent claims pass over the row another claim has locked.
    let sql = match store.backend() {
        Backend::Sqlite => {
            "UPDATE runs SET state = 'leased', attempts = attempts + 1, lease_holder = $1, lease_coordinator = $2, lease_expires_at_ms = $3
             WHERE state = 'queued' AND run_id = (SELECT run_id FROM runs WHERE state = 'queued' ORDER BY created_at_ms, run_id LIMIT 1)
             RETURNING run_id, agent_digest, task_digest, attempts"
        }
        Backend::Postgres => {
            "UPDATE runs SET state = 'leased', attempts = attempts + 1, lease_holder = $1, lease_coordinator = $2, lease_expires_at_ms = $3
             WHERE state = 'queued' AND run_id = (SELECT run_id FROM runs WHERE state = 'queued' ORDER BY created_at_ms, run_id LIMIT 1
                                                   FOR UPDATE SKIP LOCKED)
             RETURNING run_id, agent_digest, task_digest, attempts"
        }
    };
    let mut tx = store.begin_write().await?;
    let mut claimed = Vec::with_capacity(terms.len());
    for terms in terms {
        let row = sqlx::query(sql).bind(terms.worker).bind(terms.coordinator).bind(terms.expires_at_ms).fetch_optional(&mut *tx).await?;
        let Some(row) = row else { break };
        claimed.push(ClaimedRun {
            run: QueuedRun {
                run_id: RunId::new(row.try_get::<String, _>("run_id")?),
                agent: digest(row.try_get("agent_digest")?)?,
                task: digest(row.try_get("task_digest")?)?,
            },
            attempt: to_u32(row.try_get("attempts")?),
        });
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
    let mut leased = Vec::with_capacity(leases.len());
    for lease in leases {
        leased.push(lease_grade(&mut tx, store.backend(), lease).await?);
    }
    // The patches to grade, one read for all.
    let runs: Vec<&str> = leased.iter().flatten().map(|(_, run_id)| run_id.as_str()).collect();
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
    Ok(leased
        .into_iter()
        .map(|lease| lease.map(|(attempt, run_id)| (attempt, patches.get(&run_id).cloned().unwrap_or_default())))
        .collect())
}

/// One slot, inside the caller's transaction: its attempt number and run when leased.
async fn lease_grade(tx: &mut AnyConnection, backend: Backend, lease: &GradeLease<'_>) -> Result<Option<(u32, String)>, StoreError> {
    let GradeLease { grade_id, terms, validator } = *lease;
    if backend == Backend::Postgres {
        // Slots of one run are leased one at a time, so two coordinators cannot each give a
        // slot of the same run to one validator (the check below reads committed rows only).
        sqlx::query("SELECT run_id FROM runs WHERE run_id = (SELECT run_id FROM grades WHERE grade_id = $1) FOR UPDATE")
            .bind(grade_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    }
    let row = sqlx::query(
        "UPDATE grades SET state = 'leased', attempts = attempts + 1, validator = $1,
             lease_holder = $3, lease_coordinator = $4, lease_expires_at_ms = $5
         WHERE grade_id = $2 AND state = 'queued'
           AND NOT EXISTS (SELECT 1 FROM grades o WHERE o.run_id = grades.run_id AND o.grade_id != grades.grade_id AND o.validator = $1)
           AND NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.run_id = grades.run_id AND v.validator = $1)
         RETURNING attempts, run_id",
    )
    .bind(validator.as_str())
    .bind(grade_id.as_str())
    .bind(terms.worker)
    .bind(terms.coordinator)
    .bind(terms.expires_at_ms)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some((to_u32(row.try_get("attempts")?), row.try_get("run_id")?)))
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
