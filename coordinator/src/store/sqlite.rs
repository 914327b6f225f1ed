//! [`Store`] on an SQLite file, with the migrations in `coordinator/migrations/`.

use std::path::Path;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use whetstone_proto::job::{GradeReport, LlmCall, LlmUsage, RunOutcome, RunReport};
use whetstone_tasks::{Digest, GradeId, Hotkey, RunId, VerdictStatus};

use super::{
    AgentRow, Counts, GradeRow, NewAgent, NewTask, QueuedGrade, QueuedRun, Recorded, RunDetail, RunRecord, RunSummary, Store, StoreError,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn digest(text: String) -> Result<Digest, StoreError> {
    Digest::from_str(&text).map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))
}

fn parse_status(text: &str) -> Option<VerdictStatus> {
    [VerdictStatus::Resolved, VerdictStatus::Unresolved, VerdictStatus::PatchRejected, VerdictStatus::InfraError]
        .into_iter()
        .find(|s| s.as_str() == text)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir { path: parent.display().to_string(), source })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Closes the pool, flushing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn insert_agent(&self, agent: &NewAgent) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO agents (digest, name, version, hotkey, submitted_at_ms) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(agent.digest.as_str())
        .bind(&agent.name)
        .bind(&agent.version)
        .bind(agent.hotkey.as_str())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn insert_task(&self, task: &NewTask) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO tasks (digest, task_id, timeout_secs, published_at_ms) VALUES (?, ?, ?, ?)
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(task.digest.as_str())
        .bind(&task.task_id)
        .bind(to_i64(task.timeout_secs))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn schedule_missing_runs(&self) -> Result<u32, StoreError> {
        let mut tx = self.pool.begin().await?;
        let missing = sqlx::query(
            "SELECT a.digest AS agent, t.digest AS task FROM agents a CROSS JOIN tasks t
             WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.agent_digest = a.digest AND r.task_digest = t.digest)
             ORDER BY a.submitted_at_ms, t.task_id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let now = now_ms();
        for row in &missing {
            sqlx::query("INSERT INTO runs (run_id, agent_digest, task_digest, state, created_at_ms) VALUES (?, ?, ?, 'queued', ?)")
                .bind(format!("run-{}", uuid::Uuid::new_v4().simple()))
                .bind(row.try_get::<String, _>("agent")?)
                .bind(row.try_get::<String, _>("task")?)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(u32::try_from(missing.len()).unwrap_or(u32::MAX))
    }

    async fn requeue_all_leased(&self) -> Result<u64, StoreError> {
        let runs = sqlx::query("UPDATE runs SET state = 'queued' WHERE state = 'leased'").execute(&self.pool).await?;
        let grades = sqlx::query("UPDATE grades SET state = 'queued' WHERE state = 'leased'").execute(&self.pool).await?;
        Ok(runs.rows_affected() + grades.rows_affected())
    }

    async fn queued_runs(&self, limit: u32) -> Result<Vec<QueuedRun>, StoreError> {
        let rows =
            sqlx::query("SELECT run_id, agent_digest, task_digest FROM runs WHERE state = 'queued' ORDER BY created_at_ms, run_id LIMIT ?")
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|row| {
                Ok(QueuedRun {
                    run_id: RunId::new(row.try_get::<String, _>("run_id")?),
                    agent: digest(row.try_get("agent_digest")?)?,
                    task: digest(row.try_get("task_digest")?)?,
                })
            })
            .collect()
    }

    async fn lease_run(&self, run_id: &RunId, _worker: &str) -> Result<Option<u32>, StoreError> {
        let row = sqlx::query(
            "UPDATE runs SET state = 'leased', attempts = attempts + 1 WHERE run_id = ? AND state = 'queued' RETURNING attempts",
        )
        .bind(run_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get::<i64, _>("attempts").map(|a| u32::try_from(a).unwrap_or(u32::MAX))).transpose().map_err(Into::into)
    }

    async fn requeue_run(&self, run_id: &RunId, max_attempts: u32, reason: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let attempts: Option<i64> = sqlx::query_scalar("SELECT attempts FROM runs WHERE run_id = ? AND state = 'leased'")
            .bind(run_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(attempts) = attempts else { return Ok(false) };
        let requeued = attempts < i64::from(max_attempts);
        if requeued {
            sqlx::query("UPDATE runs SET state = 'queued', error = ? WHERE run_id = ?")
                .bind(reason)
                .bind(run_id.as_str())
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query("UPDATE runs SET state = 'done', outcome = ?, error = ?, finished_at_ms = ? WHERE run_id = ?")
                .bind(RunOutcome::InfraError.as_str())
                .bind(format!("gave up after {attempts} attempts: {reason}"))
                .bind(now_ms())
                .bind(run_id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(requeued)
    }

    async fn complete_run(&self, report: &RunReport, worker: &str) -> Result<Recorded, StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let updated = sqlx::query(
            "UPDATE runs SET state = 'done', outcome = ?, exit_code = ?, patch = ?, log = ?, error = ?, duration_ms = ?,
                 reported_by = ?, finished_at_ms = ?
             WHERE run_id = ? AND state != 'done'",
        )
        .bind(report.outcome.as_str())
        .bind(report.exit_code)
        .bind(&report.patch)
        .bind(&report.log)
        .bind(&report.error)
        .bind(i64::try_from(report.duration.as_millis()).unwrap_or(i64::MAX))
        .bind(worker)
        .bind(now)
        .bind(report.run_id.as_str())
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM runs WHERE run_id = ?").bind(report.run_id.as_str()).fetch_optional(&mut *tx).await?;
            return Ok(if exists.is_some() { Recorded::Duplicate } else { Recorded::Unknown });
        }
        sqlx::query("UPDATE runs SET llm_spent_micro_usd = ?, llm_refused = ? WHERE run_id = ?")
            .bind(to_i64(report.llm.spent_micro_usd))
            .bind(i64::from(report.llm.refused))
            .bind(report.run_id.as_str())
            .execute(&mut *tx)
            .await?;
        for (seq, call) in report.llm.calls.iter().enumerate() {
            sqlx::query(
                "INSERT INTO llm_calls (run_id, seq, model, prompt_tokens, completion_tokens, cost_micro_usd, latency_ms, status)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(report.run_id.as_str())
            .bind(to_i64(seq as u64))
            .bind(&call.model)
            .bind(to_i64(call.prompt_tokens))
            .bind(to_i64(call.completion_tokens))
            .bind(to_i64(call.cost_micro_usd))
            .bind(to_i64(call.latency_ms))
            .bind(i64::from(call.status))
            .execute(&mut *tx)
            .await?;
        }
        if matches!(report.outcome, RunOutcome::Completed | RunOutcome::TimedOut) {
            sqlx::query("INSERT INTO grades (grade_id, run_id, state, created_at_ms) VALUES (?, ?, 'queued', ?)")
                .bind(format!("grade-{}", uuid::Uuid::new_v4().simple()))
                .bind(report.run_id.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Recorded::Accepted)
    }

    async fn queued_grades(&self, limit: u32) -> Result<Vec<QueuedGrade>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.grade_id, g.run_id, r.task_digest, r.agent_digest, r.patch, t.timeout_secs
             FROM grades g JOIN runs r ON r.run_id = g.run_id JOIN tasks t ON t.digest = r.task_digest
             WHERE g.state = 'queued' ORDER BY g.created_at_ms, g.grade_id LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(QueuedGrade {
                    grade_id: GradeId::new(row.try_get::<String, _>("grade_id")?),
                    run_id: RunId::new(row.try_get::<String, _>("run_id")?),
                    task: digest(row.try_get("task_digest")?)?,
                    agent: digest(row.try_get("agent_digest")?)?,
                    patch: row.try_get::<Option<Vec<u8>>, _>("patch")?.unwrap_or_default(),
                    task_timeout_secs: u64::try_from(row.try_get::<i64, _>("timeout_secs")?).unwrap_or(0),
                })
            })
            .collect()
    }

    async fn lease_grade(&self, grade_id: &GradeId, _worker: &str) -> Result<Option<u32>, StoreError> {
        let row = sqlx::query(
            "UPDATE grades SET state = 'leased', attempts = attempts + 1 WHERE grade_id = ? AND state = 'queued' RETURNING attempts",
        )
        .bind(grade_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get::<i64, _>("attempts").map(|a| u32::try_from(a).unwrap_or(u32::MAX))).transpose().map_err(Into::into)
    }

    async fn requeue_grade(&self, grade_id: &GradeId, max_attempts: u32, reason: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let attempts: Option<i64> = sqlx::query_scalar("SELECT attempts FROM grades WHERE grade_id = ? AND state = 'leased'")
            .bind(grade_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(attempts) = attempts else { return Ok(false) };
        let requeued = attempts < i64::from(max_attempts);
        if requeued {
            sqlx::query("UPDATE grades SET state = 'queued', log = ? WHERE grade_id = ?")
                .bind(reason)
                .bind(grade_id.as_str())
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query("UPDATE grades SET state = 'done', status = ?, log = ?, finished_at_ms = ? WHERE grade_id = ?")
                .bind(VerdictStatus::InfraError.as_str())
                .bind(format!("gave up after {attempts} attempts: {reason}"))
                .bind(now_ms())
                .bind(grade_id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(requeued)
    }

    async fn complete_grade(&self, report: &GradeReport, worker: &str) -> Result<Recorded, StoreError> {
        let verdict = serde_json::to_string(&report.verdict)
            .map_err(|source| StoreError::CorruptVerdict { grade_id: report.grade_id.to_string(), source })?;
        let updated = sqlx::query(
            "UPDATE grades SET state = 'done', status = ?, verdict = ?, log = ?, duration_ms = ?, reported_by = ?, finished_at_ms = ?
             WHERE grade_id = ? AND state != 'done'",
        )
        .bind(report.verdict.status.as_str())
        .bind(verdict)
        .bind(&report.log)
        .bind(i64::try_from(report.duration.as_millis()).unwrap_or(i64::MAX))
        .bind(worker)
        .bind(now_ms())
        .bind(report.grade_id.as_str())
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 1 {
            return Ok(Recorded::Accepted);
        }
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM grades WHERE grade_id = ?").bind(report.grade_id.as_str()).fetch_optional(&self.pool).await?;
        Ok(if exists.is_some() { Recorded::Duplicate } else { Recorded::Unknown })
    }

    async fn agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        let rows =
            sqlx::query("SELECT digest, name, version, hotkey FROM agents ORDER BY submitted_at_ms, digest").fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|row| {
                Ok(AgentRow {
                    digest: digest(row.try_get("digest")?)?,
                    name: row.try_get("name")?,
                    version: row.try_get("version")?,
                    hotkey: Hotkey::new(row.try_get::<String, _>("hotkey")?),
                })
            })
            .collect()
    }

    async fn task_count(&self) -> Result<u32, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks").fetch_one(&self.pool).await?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn run_summaries(&self) -> Result<Vec<RunSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.agent_digest, r.task_digest, r.state AS run_state, r.outcome, g.state AS grade_state, g.status
             FROM runs r LEFT JOIN grades g ON g.run_id = r.run_id ORDER BY r.created_at_ms, r.run_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(RunSummary {
                    agent: digest(row.try_get("agent_digest")?)?,
                    task: digest(row.try_get("task_digest")?)?,
                    run_done: row.try_get::<String, _>("run_state")? == "done",
                    run_outcome: row.try_get("outcome")?,
                    grade_done: row.try_get::<Option<String>, _>("grade_state")?.as_deref() == Some("done"),
                    verdict: row.try_get::<Option<String>, _>("status")?.as_deref().and_then(parse_status),
                })
            })
            .collect()
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM runs) AS runs_total,
                    (SELECT COUNT(*) FROM runs WHERE state = 'done') AS runs_done,
                    (SELECT COUNT(*) FROM grades) AS grades_total,
                    (SELECT COUNT(*) FROM grades WHERE state = 'done') AS grades_done",
        )
        .fetch_one(&self.pool)
        .await?;
        let get = |name: &str| -> Result<u32, StoreError> { Ok(u32::try_from(row.try_get::<i64, _>(name)?).unwrap_or(u32::MAX)) };
        Ok(Counts {
            runs_total: get("runs_total")?,
            runs_done: get("runs_done")?,
            grades_total: get("grades_total")?,
            grades_done: get("grades_done")?,
        })
    }

    async fn grade_for_run(&self, run_id: &RunId) -> Result<Option<GradeRow>, StoreError> {
        let row = sqlx::query("SELECT grade_id, run_id, verdict FROM grades WHERE run_id = ?")
            .bind(run_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let grade_id: String = row.try_get("grade_id")?;
        let verdict = row
            .try_get::<Option<String>, _>("verdict")?
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|source| StoreError::CorruptVerdict { grade_id: grade_id.clone(), source })?;
        Ok(Some(GradeRow { grade_id: GradeId::new(grade_id), run_id: RunId::new(row.try_get::<String, _>("run_id")?), verdict }))
    }

    async fn run_records(&self, agent: Option<&Digest>) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.run_id, r.agent_digest, a.name, r.task_digest, t.task_id, r.state, r.outcome, r.attempts,
                    r.duration_ms, r.error, g.grade_id, g.verdict
             FROM runs r JOIN agents a ON a.digest = r.agent_digest JOIN tasks t ON t.digest = r.task_digest
             LEFT JOIN grades g ON g.run_id = r.run_id
             WHERE ?1 IS NULL OR r.agent_digest = ?1
             ORDER BY a.submitted_at_ms, a.digest, t.task_id",
        )
        .bind(agent.map(Digest::as_str))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_record).collect()
    }

    async fn run_detail(&self, run_id: &RunId) -> Result<Option<RunDetail>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT r.run_id, r.agent_digest, a.name, a.hotkey, r.task_digest, t.task_id, r.state, r.outcome, r.attempts,
                    r.duration_ms, r.error, r.log, r.patch, r.llm_spent_micro_usd, r.llm_refused, g.grade_id, g.verdict
             FROM runs r JOIN agents a ON a.digest = r.agent_digest JOIN tasks t ON t.digest = r.task_digest
             LEFT JOIN grades g ON g.run_id = r.run_id
             WHERE r.run_id = ?",
        )
        .bind(run_id.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let calls = sqlx::query(
            "SELECT model, prompt_tokens, completion_tokens, cost_micro_usd, latency_ms, status
             FROM llm_calls WHERE run_id = ? ORDER BY seq",
        )
        .bind(run_id.as_str())
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|call| {
            Ok(LlmCall {
                model: call.try_get("model")?,
                prompt_tokens: to_u64(call.try_get("prompt_tokens")?),
                completion_tokens: to_u64(call.try_get("completion_tokens")?),
                cost_micro_usd: to_u64(call.try_get("cost_micro_usd")?),
                latency_ms: to_u64(call.try_get("latency_ms")?),
                status: u16::try_from(call.try_get::<i64, _>("status")?).unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(RunDetail {
            record: run_record(&row)?,
            hotkey: Hotkey::new(row.try_get::<String, _>("hotkey")?),
            log: row.try_get("log")?,
            patch: row.try_get("patch")?,
            llm: LlmUsage {
                calls,
                spent_micro_usd: to_u64(row.try_get("llm_spent_micro_usd")?),
                refused: u32::try_from(row.try_get::<i64, _>("llm_refused")?).unwrap_or(0),
            },
        }))
    }

    async fn agent_exists(&self, digest: &Digest) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM agents WHERE digest = ?").bind(digest.as_str()).fetch_optional(&self.pool).await?;
        Ok(found.is_some())
    }

    async fn submissions_since(&self, hotkey: &Hotkey, since_ms: i64) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT submitted_at_ms FROM agents WHERE hotkey = ? AND submitted_at_ms >= ? ORDER BY submitted_at_ms")
            .bind(hotkey.as_str())
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn blob_references(&self) -> Result<Vec<Digest>, StoreError> {
        let digests: Vec<String> =
            sqlx::query_scalar("SELECT digest FROM agents UNION SELECT digest FROM tasks").fetch_all(&self.pool).await?;
        // A malformed digest cannot name a blob, so it keeps nothing alive.
        Ok(digests.iter().filter_map(|digest| digest.parse().ok()).collect())
    }
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A `runs ⋈ agents ⋈ tasks ⟕ grades` row as a [`RunRecord`].
fn run_record(row: &sqlx::sqlite::SqliteRow) -> Result<RunRecord, StoreError> {
    let grade_id: Option<String> = row.try_get("grade_id")?;
    let verdict = row
        .try_get::<Option<String>, _>("verdict")?
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|source| StoreError::CorruptVerdict { grade_id: grade_id.unwrap_or_default(), source })?;
    Ok(RunRecord {
        run_id: RunId::new(row.try_get::<String, _>("run_id")?),
        agent: digest(row.try_get("agent_digest")?)?,
        agent_name: row.try_get("name")?,
        task: digest(row.try_get("task_digest")?)?,
        task_id: row.try_get("task_id")?,
        state: row.try_get("state")?,
        outcome: row.try_get("outcome")?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
        duration_ms: row.try_get::<Option<i64>, _>("duration_ms")?.and_then(|d| u64::try_from(d).ok()),
        error: row.try_get("error")?,
        verdict,
    })
}
