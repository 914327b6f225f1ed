//! [`Store`] in SQL, one implementation for both databases: an SQLite file (migrations in
//! `coordinator/migrations/`) or PostgreSQL (`coordinator/migrations-postgres/`, the same
//! numbers), through sqlx's `Any` driver. Statements use `$N` parameters, which both accept;
//! where the dialects differ the statement matches on [`Backend`] with both texts side by side.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AssertSqlSafe};
use sqlx::{ConnectOptions, Connection, Executor, Row};
use tokio_util::sync::CancellationToken;
use whetstone_proto::error_chain;
use whetstone_proto::job::{LlmCall, LlmUsage, RunOutcome};
use whetstone_tasks::{Digest, GradeId, Hotkey, RunId};

use super::leases;
use super::{
    AgentRow, Backend, ClaimRow, ClaimedRun, CompletedRun, CopyMark, Counts, DatabaseUrl, EpochRow, EpochTasks, ExpiredLease, GradeLease,
    GradePurpose, GradeRow, GradeSubject, HeldLease, LeaseTerms, LedgerRow, NewAgent, NewTask, NewVerdict, Placement, QueuedGrade,
    QueuedRun, Recorded, RunCost, RunDetail, RunGrading, RunRecord, Store, StoreError, StoredFingerprint,
};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations-postgres");

/// How long opening waits for a PostgreSQL server before saying it is unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    url: Arc<DatabaseUrl>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

pub(super) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(super) fn digest(text: String) -> Result<Digest, StoreError> {
    Digest::from_str(&text).map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))
}

pub(super) fn to_u32(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

/// At most this many values in one `IN (…)` or `VALUES` list (SQLite allows 32,766 parameters).
pub(super) const IN_LIST: usize = 500;
/// Columns of one completed run in `complete_runs`'s `VALUES`.
const COMPLETED_COLUMNS: usize = 13;
/// Columns of one filled slot in `fill_slots`'s `VALUES`.
const FILLED_COLUMNS: usize = 8;

/// `($first, …), (…)`: `rows` rows of `columns` numbered parameters for a `VALUES` list, in
/// row order. Only these are formatted into a statement; the values are bound.
pub(super) fn values(first: usize, rows: usize, columns: usize) -> String {
    (0..rows).map(|row| format!("({})", params(first + row * columns, columns))).collect::<Vec<_>>().join(", ")
}

/// `$first, $first+1, …`: `count` numbered parameters for an `IN (…)` list. Only these are
/// formatted into a statement; the values are bound.
pub(super) fn params(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

fn new_grade_id() -> String {
    format!("grade-{}", uuid::Uuid::new_v4().simple())
}

impl SqlStore {
    /// Opens the database (creating an SQLite file and its directory when missing) and applies
    /// pending migrations. Several coordinators may open one PostgreSQL database at once: the
    /// migrator holds an advisory lock while it migrates.
    pub async fn open(url: &DatabaseUrl) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (pool, migrator) = match url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(|source| StoreError::CreateDir { path: parent.display().to_string(), source })?;
                }
                let file = sqlx::sqlite::SqliteConnectOptions::new().filename(path).create_if_missing(true).to_url_lossy();
                let options = AnyConnectOptions::from_url(&file)?;
                // The `Any` driver takes a URL only, so the pragmas are set on each connection.
                // A 16 MiB page cache per connection keeps the queues' hot pages in memory (the
                // default 2 MiB read them back from the file on every pass under load), and the
                // WAL is checkpointed by [`Self::spawn_checkpoints`] rather than by whichever
                // writer crosses SQLite's default 1,000 pages: the automatic one stays only as
                // a backstop for a process that runs no checkpointer.
                let pool = AnyPoolOptions::new()
                    .max_connections(4)
                    .after_connect(|connection, _| {
                        Box::pin(async move {
                            connection
                                .execute(
                                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                                     PRAGMA busy_timeout = 10000; PRAGMA cache_size = -16384; \
                                     PRAGMA wal_autocheckpoint = 16384;",
                                )
                                .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?;
                (pool, &SQLITE_MIGRATIONS)
            }
            DatabaseUrl::Postgres(text) => {
                let unreachable = |source: sqlx::Error| StoreError::Connect { url: url.to_string(), source };
                let options = AnyConnectOptions::from_str(text).map_err(unreachable)?;
                // One connection first, so an unreachable server says why (refused, no such
                // host, wrong password) instead of the pool's "timed out".
                let probe = tokio::time::timeout(CONNECT_TIMEOUT, sqlx::AnyConnection::connect_with(&options))
                    .await
                    .map_err(|_| unreachable(sqlx::Error::PoolTimedOut))?
                    .map_err(unreachable)?;
                probe.close().await.map_err(unreachable)?;
                let pool = AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(unreachable)?;
                (pool, &POSTGRES_MIGRATIONS)
            }
        };
        migrator.run(&pool).await?;
        Ok(Self { pool, backend: url.backend(), url: Arc::new(url.clone()) })
    }

    /// A transaction that writes. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so one that reads before it writes never fails on a stale snapshot.
    pub(super) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub(super) fn backend(&self) -> Backend {
        self.backend
    }

    /// Where this store lives (passwords redacted when displayed).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The pool, for the solve API's keys and job accounting ([`crate::solve::keys`]).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// On SQLite, copies the WAL back into the database file every `every` until `shutdown`,
    /// on a connection of its own (a passive checkpoint: it waits for no reader or writer).
    /// Left to SQLite, the checkpoint runs inside the commit of whichever writer crosses the
    /// threshold, and that writer is the scheduler: 20 to 40 ms stalls under load. `None` on
    /// PostgreSQL, which needs none.
    pub fn spawn_checkpoints(&self, every: Duration, shutdown: CancellationToken) -> Option<tokio::task::JoinHandle<()>> {
        if self.backend != Backend::Sqlite {
            return None;
        }
        let pool = self.pool.clone();
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = tick.tick() => {
                        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                            tracing::warn!(error = %error_chain(&error), "WAL checkpoint failed; trying again");
                        }
                    }
                }
            }
        }))
    }

    /// Closes the pool (on SQLite, flushing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait::async_trait]
impl Store for SqlStore {
    async fn insert_agent(&self, agent: &NewAgent) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO agents (digest, name, version, hotkey, submitted_at_ms, claimed_at_ms, claim_signature)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(agent.digest.as_str())
        .bind(&agent.name)
        .bind(&agent.version)
        .bind(agent.hotkey.as_str())
        .bind(now_ms())
        .bind(to_i64(agent.claimed_at_ms))
        .bind(&agent.claim_signature)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn insert_task(&self, task: &NewTask) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO tasks (digest, task_id, timeout_secs, published_at_ms) VALUES ($1, $2, $3, $4)
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

    async fn schedule_missing_runs(&self, epoch: Option<&EpochTasks>) -> Result<u32, StoreError> {
        super::epochs_sql::schedule_missing_runs(&self.pool, epoch).await
    }

    async fn record_epoch(&self, epoch: &EpochRow) -> Result<bool, StoreError> {
        super::epochs_sql::record_epoch(&self.pool, epoch).await
    }

    async fn epochs(&self) -> Result<Vec<EpochRow>, StoreError> {
        super::epochs_sql::epochs(&self.pool).await
    }

    async fn place_task(&self, task: &Digest, placement: Placement) -> Result<bool, StoreError> {
        super::epochs_sql::place_task(&self.pool, task, placement).await
    }

    async fn placements(&self) -> Result<Vec<(Digest, Placement)>, StoreError> {
        super::epochs_sql::placements(&self.pool).await
    }

    async fn queued_runs(&self, limit: u32) -> Result<Vec<QueuedRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT run_id, agent_digest, task_digest FROM runs WHERE state = 'queued' ORDER BY created_at_ms, run_id LIMIT $1",
        )
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

    async fn claim_runs(&self, terms: &[LeaseTerms<'_>]) -> Result<Vec<ClaimedRun>, StoreError> {
        leases::claim_runs(self, terms).await
    }

    async fn requeue_run(&self, run_id: &RunId, worker: &str, max_attempts: u32, reason: &str) -> Result<Option<bool>, StoreError> {
        leases::requeue_run(self, run_id, worker, max_attempts, reason, now_ms()).await
    }

    async fn lease_grades(&self, leases: &[GradeLease<'_>]) -> Result<Vec<Option<(u32, Vec<u8>)>>, StoreError> {
        leases::lease_grades(self, leases).await
    }

    async fn requeue_grade(&self, grade_id: &GradeId, worker: &str, max_attempts: u32, reason: &str) -> Result<Option<bool>, StoreError> {
        leases::requeue_grade(self, grade_id, worker, max_attempts, reason, now_ms()).await
    }

    async fn renew_leases(&self, terms: &LeaseTerms<'_>, job_ids: &[String]) -> Result<Vec<HeldLease>, StoreError> {
        leases::renew_leases(self, terms, job_ids).await
    }

    async fn expire_leases(&self, now_ms: i64, max_attempts: u32) -> Result<Vec<ExpiredLease>, StoreError> {
        leases::expire_leases(self, now_ms, max_attempts).await
    }

    async fn held_leases(&self, coordinator: &str) -> Result<Vec<HeldLease>, StoreError> {
        leases::held_leases(self, coordinator).await
    }

    async fn complete_runs(&self, runs: &[CompletedRun<'_>], replicas: u32) -> Result<Vec<Recorded>, StoreError> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        // One statement per chunk records the first report of each run; a later one for the
        // same run in this batch is a duplicate, like a report for a run already done.
        let mut seen = HashSet::with_capacity(runs.len());
        let firsts: Vec<&CompletedRun<'_>> = runs.iter().filter(|run| seen.insert(run.report.run_id.as_str())).collect();
        let mut accepted: HashSet<String> = HashSet::with_capacity(firsts.len());
        for chunk in firsts.chunks(IN_LIST / COMPLETED_COLUMNS) {
            let sql = format!(
                "WITH report (run_id, outcome, exit_code, patch, log, error, duration_ms, reported_by, llm_spent_micro_usd, llm_refused,
                              sandbox_ms, runner_hotkey, patch_digest) AS (VALUES {})
                 UPDATE runs SET state = 'done', outcome = report.outcome, exit_code = report.exit_code, patch = report.patch,
                     log = report.log, error = report.error, duration_ms = report.duration_ms, reported_by = report.reported_by,
                     finished_at_ms = $1, llm_spent_micro_usd = report.llm_spent_micro_usd, llm_refused = report.llm_refused,
                     sandbox_ms = report.sandbox_ms, runner_hotkey = report.runner_hotkey, patch_digest = report.patch_digest
                 FROM report WHERE runs.run_id = report.run_id AND runs.state != 'done'
                 RETURNING runs.run_id",
                values(2, chunk.len(), COMPLETED_COLUMNS)
            );
            let mut update = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql)).bind(now);
            for CompletedRun { report, worker, runner } in chunk.iter().copied().copied() {
                update = update
                    .bind(report.run_id.as_str())
                    .bind(report.outcome.as_str())
                    .bind(report.exit_code)
                    .bind(&report.patch)
                    .bind(&report.log)
                    .bind(&report.error)
                    .bind(i64::try_from(report.duration.as_millis()).unwrap_or(i64::MAX))
                    .bind(worker)
                    .bind(to_i64(report.llm.spent_micro_usd))
                    .bind(i64::from(report.llm.refused))
                    .bind(i64::try_from(report.sandbox.as_millis()).unwrap_or(i64::MAX))
                    .bind(runner.as_str())
                    .bind(Digest::of_bytes(&report.patch).as_str().to_owned());
            }
            accepted.extend(update.fetch_all(&mut *tx).await?);
        }
        // Of the rest, which runs exist (duplicates) and which do not (unknown).
        let others: Vec<&str> = seen.iter().copied().filter(|id| !accepted.contains(*id)).collect::<HashSet<_>>().into_iter().collect();
        let mut existing: HashSet<String> = HashSet::new();
        for chunk in others.chunks(IN_LIST) {
            let sql = format!("SELECT run_id FROM runs WHERE run_id IN ({})", params(1, chunk.len()));
            let mut query = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            existing.extend(query.fetch_all(&mut *tx).await?);
        }
        let mut recorded = Vec::with_capacity(runs.len());
        let mut to_grade = Vec::new();
        let mut calls = Vec::new();
        for run in runs {
            let id = run.report.run_id.as_str();
            // `remove`: only the first report of a run takes its acceptance.
            if accepted.remove(id) {
                existing.insert(id.to_owned());
                if matches!(run.report.outcome, RunOutcome::Completed | RunOutcome::TimedOut) {
                    to_grade.push(&run.report.run_id);
                }
                calls.extend(run.report.llm.calls.iter().enumerate().map(|(seq, call)| (id, seq, call)));
                recorded.push(Recorded::Accepted);
            } else if existing.contains(id) {
                recorded.push(Recorded::Duplicate);
            } else {
                recorded.push(Recorded::Unknown);
            }
        }
        for chunk in calls.chunks(IN_LIST / 8) {
            let sql = format!(
                "INSERT INTO llm_calls (run_id, seq, model, prompt_tokens, completion_tokens, cost_micro_usd, latency_ms, status) VALUES {}",
                values(1, chunk.len(), 8)
            );
            let mut insert = sqlx::query(AssertSqlSafe(sql));
            for (run_id, seq, call) in chunk {
                insert = insert
                    .bind(*run_id)
                    .bind(to_i64(*seq as u64))
                    .bind(&call.model)
                    .bind(to_i64(call.prompt_tokens))
                    .bind(to_i64(call.completion_tokens))
                    .bind(to_i64(call.cost_micro_usd))
                    .bind(to_i64(call.latency_ms))
                    .bind(i64::from(call.status));
            }
            insert.execute(&mut *tx).await?;
        }
        let slots: Vec<&RunId> = to_grade.iter().flat_map(|run| std::iter::repeat_n(*run, replicas.max(1) as usize)).collect();
        for chunk in slots.chunks(IN_LIST / 2) {
            let rows = (0..chunk.len()).map(|i| format!("(${}, ${}, 'replica', 'queued', $1)", 2 * i + 2, 2 * i + 3)).collect::<Vec<_>>();
            let sql = format!("INSERT INTO grades (grade_id, run_id, purpose, state, created_at_ms) VALUES {}", rows.join(", "));
            let mut insert = sqlx::query(AssertSqlSafe(sql)).bind(now);
            for run_id in chunk {
                insert = insert.bind(new_grade_id()).bind(run_id.as_str());
            }
            insert.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(recorded)
    }

    async fn queued_grades(&self, limit: u32) -> Result<Vec<QueuedGrade>, StoreError> {
        // Who may not take each slot, as one space-separated column: the aggregate's name is
        // the only difference between the dialects.
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT g.grade_id, g.run_id, g.purpose, r.task_digest, r.agent_digest, r.runner_hotkey, t.timeout_secs,
                        (SELECT group_concat(hotkey, ' ') FROM (
                            SELECT o.validator AS hotkey FROM grades o WHERE o.run_id = g.run_id AND o.validator IS NOT NULL
                            UNION SELECT v.validator FROM verdicts v WHERE v.run_id = g.run_id) AS taken) AS taken_by
                 FROM grades g JOIN runs r ON r.run_id = g.run_id JOIN tasks t ON t.digest = r.task_digest
                 WHERE g.state = 'queued' ORDER BY g.created_at_ms, g.grade_id LIMIT $1"
            }
            Backend::Postgres => {
                "SELECT g.grade_id, g.run_id, g.purpose, r.task_digest, r.agent_digest, r.runner_hotkey, t.timeout_secs,
                        (SELECT string_agg(hotkey, ' ') FROM (
                            SELECT o.validator AS hotkey FROM grades o WHERE o.run_id = g.run_id AND o.validator IS NOT NULL
                            UNION SELECT v.validator FROM verdicts v WHERE v.run_id = g.run_id) AS taken) AS taken_by
                 FROM grades g JOIN runs r ON r.run_id = g.run_id JOIN tasks t ON t.digest = r.task_digest
                 WHERE g.state = 'queued' ORDER BY g.created_at_ms, g.grade_id LIMIT $1"
            }
        };
        let rows = sqlx::query(sql).bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|row| {
                let taken_by: Option<String> = row.try_get("taken_by")?;
                Ok(QueuedGrade {
                    grade_id: GradeId::new(row.try_get::<String, _>("grade_id")?),
                    run_id: RunId::new(row.try_get::<String, _>("run_id")?),
                    task: digest(row.try_get("task_digest")?)?,
                    agent: digest(row.try_get("agent_digest")?)?,
                    task_timeout_secs: u64::try_from(row.try_get::<i64, _>("timeout_secs")?).unwrap_or(0),
                    purpose: GradePurpose::parse(&row.try_get::<String, _>("purpose")?),
                    runner: row.try_get::<Option<String>, _>("runner_hotkey")?.map(Hotkey::new),
                    taken_by: taken_by.unwrap_or_default().split_whitespace().map(Hotkey::new).collect(),
                })
            })
            .collect()
    }

    async fn holds_grade_lease(&self, validator: &Hotkey, task: &Digest) -> Result<bool, StoreError> {
        let held: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM grades g JOIN runs r ON r.run_id = g.run_id
             WHERE g.validator = $1 AND g.state = 'leased' AND r.task_digest = $2 LIMIT 1",
        )
        .bind(validator.as_str())
        .bind(task.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(held.is_some())
    }

    async fn grade_subjects(&self, grade_ids: &[GradeId]) -> Result<Vec<Option<GradeSubject>>, StoreError> {
        let mut found = HashMap::with_capacity(grade_ids.len());
        for chunk in grade_ids.chunks(IN_LIST) {
            let sql = format!(
                "SELECT g.grade_id, g.run_id, g.validator, r.task_digest, r.agent_digest, r.patch_digest
                 FROM grades g JOIN runs r ON r.run_id = g.run_id WHERE g.grade_id IN ({})",
                params(1, chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for grade_id in chunk {
                query = query.bind(grade_id.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                let subject = GradeSubject {
                    run_id: RunId::new(row.try_get::<String, _>("run_id")?),
                    task: digest(row.try_get("task_digest")?)?,
                    agent: digest(row.try_get("agent_digest")?)?,
                    // Runs stored before schema 3 have no patch digest; no verdict can match it.
                    patch: row
                        .try_get::<Option<String>, _>("patch_digest")?
                        .map(digest)
                        .transpose()?
                        .unwrap_or_else(|| Digest::of_bytes(b"")),
                    holder: row.try_get::<Option<String>, _>("validator")?.map(Hotkey::new),
                };
                found.insert(row.try_get::<String, _>("grade_id")?, subject);
            }
        }
        Ok(grade_ids.iter().map(|id| found.get(id.as_str()).cloned()).collect())
    }

    async fn record_verdicts(&self, verdicts: &[NewVerdict<'_>]) -> Result<Vec<Recorded>, StoreError> {
        if verdicts.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        // Which grades exist, then every new verdict in one statement per chunk: a verdict
        // whose (run, validator) is in the ledger already comes back without a sequence number.
        let mut known = HashSet::with_capacity(verdicts.len());
        for chunk in verdicts.chunks(IN_LIST) {
            let sql = format!("SELECT grade_id FROM grades WHERE grade_id IN ({})", params(1, chunk.len()));
            let mut query = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
            for verdict in chunk {
                query = query.bind(verdict.report.grade_id.as_str());
            }
            known.extend(query.fetch_all(&mut *tx).await?);
        }
        let new: Vec<&NewVerdict<'_>> = verdicts.iter().filter(|v| known.contains(v.report.grade_id.as_str())).collect();
        let mut sequence: HashMap<(String, String), i64> = HashMap::with_capacity(new.len());
        for chunk in new.chunks(IN_LIST / 4) {
            let rows: Vec<String> =
                (0..chunk.len()).map(|i| format!("(${}, ${}, ${}, ${}, $1)", 4 * i + 2, 4 * i + 3, 4 * i + 4, 4 * i + 5)).collect();
            let sql = format!(
                "INSERT INTO verdicts (run_id, validator, statement, signature, recorded_at_ms) VALUES {}
                 ON CONFLICT (run_id, validator) DO NOTHING RETURNING seq, run_id, validator",
                rows.join(", ")
            );
            let mut insert = sqlx::query(AssertSqlSafe(sql)).bind(now);
            for verdict in chunk {
                insert = insert
                    .bind(verdict.run_id.as_str())
                    .bind(verdict.validator.as_str())
                    .bind(&verdict.signed.statement)
                    .bind(&verdict.signed.signature);
            }
            for row in insert.fetch_all(&mut *tx).await? {
                sequence.insert((row.try_get("run_id")?, row.try_get("validator")?), row.try_get("seq")?);
            }
        }
        let mut recorded = Vec::with_capacity(verdicts.len());
        let mut fills = Vec::with_capacity(verdicts.len());
        for verdict in verdicts {
            if !known.contains(verdict.report.grade_id.as_str()) {
                recorded.push(Recorded::Unknown);
                continue;
            }
            // The first of the batch with its (run, validator) takes the sequence number.
            let key = (verdict.run_id.as_str().to_owned(), verdict.validator.as_str().to_owned());
            let Some(seq) = sequence.remove(&key) else {
                recorded.push(Recorded::Duplicate);
                continue;
            };
            fills.push((verdict, seq));
            recorded.push(Recorded::Accepted);
        }
        fill_slots(&mut tx, &fills, now).await?;
        tx.commit().await?;
        Ok(recorded)
    }

    async fn run_gradings(&self, run_ids: &[RunId]) -> Result<Vec<RunGrading>, StoreError> {
        let mut gradings: HashMap<String, RunGrading> = HashMap::with_capacity(run_ids.len());
        for chunk in run_ids.chunks(IN_LIST) {
            let ids = params(1, chunk.len());
            let sql = format!("SELECT run_id, purpose, state FROM grades WHERE run_id IN ({ids}) ORDER BY created_at_ms, grade_id");
            let mut slots = sqlx::query(AssertSqlSafe(sql));
            for run_id in chunk {
                slots = slots.bind(run_id.as_str());
            }
            for row in slots.fetch_all(&self.pool).await? {
                let open = row.try_get::<String, _>("state")? != "done";
                let slot = (GradePurpose::parse(&row.try_get::<String, _>("purpose")?), open);
                gradings.entry(row.try_get("run_id")?).or_default().slots.push(slot);
            }
            let sql = format!("SELECT run_id, statement FROM verdicts WHERE run_id IN ({ids}) ORDER BY seq");
            let mut statements = sqlx::query(AssertSqlSafe(sql));
            for run_id in chunk {
                statements = statements.bind(run_id.as_str());
            }
            for row in statements.fetch_all(&self.pool).await? {
                gradings.entry(row.try_get("run_id")?).or_default().statements.push(row.try_get("statement")?);
            }
        }
        Ok(run_ids.iter().map(|id| gradings.get(id.as_str()).cloned().unwrap_or_default()).collect())
    }

    async fn add_grades(&self, grades: &[(RunId, GradePurpose)]) -> Result<Vec<GradeId>, StoreError> {
        if grades.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        let mut ids = Vec::with_capacity(grades.len());
        for (run_id, purpose) in grades {
            let grade_id = new_grade_id();
            sqlx::query("INSERT INTO grades (grade_id, run_id, purpose, state, created_at_ms) VALUES ($1, $2, $3, 'queued', $4)")
                .bind(&grade_id)
                .bind(run_id.as_str())
                .bind(purpose.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            ids.push(GradeId::new(grade_id));
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn verdicts_after(&self, after_seq: u64, limit: u32) -> Result<Vec<LedgerRow>, StoreError> {
        let rows = sqlx::query("SELECT seq, run_id, statement, signature FROM verdicts WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(to_i64(after_seq))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(LedgerRow {
                    seq: to_u64(row.try_get("seq")?),
                    run_id: RunId::new(row.try_get::<String, _>("run_id")?),
                    statement: row.try_get("statement")?,
                    signature: row.try_get("signature")?,
                })
            })
            .collect()
    }

    async fn claims(&self) -> Result<Vec<ClaimRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT digest, hotkey, claimed_at_ms, claim_signature FROM agents WHERE claim_signature IS NOT NULL
             ORDER BY submitted_at_ms, digest",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(ClaimRow {
                    agent: digest(row.try_get("digest")?)?,
                    miner: Hotkey::new(row.try_get::<String, _>("hotkey")?),
                    claimed_at_ms: to_u64(row.try_get::<Option<i64>, _>("claimed_at_ms")?.unwrap_or(0)),
                    signature: row.try_get("claim_signature")?,
                })
            })
            .collect()
    }

    async fn grades_for_run(&self, run_id: &RunId) -> Result<Vec<GradeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT grade_id, run_id, purpose, state, validator, verdict FROM grades WHERE run_id = $1 ORDER BY created_at_ms, grade_id",
        )
        .bind(run_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let grade_id: String = row.try_get("grade_id")?;
                let verdict = row
                    .try_get::<Option<String>, _>("verdict")?
                    .map(|text| serde_json::from_str(&text))
                    .transpose()
                    .map_err(|source| StoreError::CorruptVerdict { grade_id: grade_id.clone(), source })?;
                Ok(GradeRow {
                    grade_id: GradeId::new(grade_id),
                    run_id: RunId::new(row.try_get::<String, _>("run_id")?),
                    purpose: GradePurpose::parse(&row.try_get::<String, _>("purpose")?),
                    state: row.try_get("state")?,
                    validator: row.try_get::<Option<String>, _>("validator")?.map(Hotkey::new),
                    verdict,
                })
            })
            .collect()
    }

    async fn agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        let rows = sqlx::query("SELECT digest, name, version, hotkey, copy_of, copy_permille FROM agents ORDER BY submitted_at_ms, digest")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                let copy_of = match row.try_get::<Option<String>, _>("copy_of")? {
                    Some(original) => Some(CopyMark {
                        original: digest(original)?,
                        permille: to_u32(row.try_get::<Option<i64>, _>("copy_permille")?.unwrap_or(0)),
                    }),
                    None => None,
                };
                Ok(AgentRow {
                    digest: digest(row.try_get("digest")?)?,
                    name: row.try_get("name")?,
                    version: row.try_get("version")?,
                    hotkey: Hotkey::new(row.try_get::<String, _>("hotkey")?),
                    copy_of,
                })
            })
            .collect()
    }

    async fn store_fingerprint(&self, digest: &Digest, version: u32, hashes: &[u64], copy: Option<&CopyMark>) -> Result<(), StoreError> {
        let bytes: Vec<u8> = hashes.iter().flat_map(|h| h.to_be_bytes()).collect();
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO agent_fingerprints (digest, version, hashes) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING")
            .bind(digest.as_str())
            .bind(i64::from(version))
            .bind(bytes)
            .execute(&mut *tx)
            .await?;
        if let Some(copy) = copy {
            sqlx::query("UPDATE agents SET copy_of = $1, copy_permille = $2 WHERE digest = $3")
                .bind(copy.original.as_str())
                .bind(i64::from(copy.permille))
                .bind(digest.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn fingerprints(&self, version: u32) -> Result<Vec<StoredFingerprint>, StoreError> {
        let rows = sqlx::query(
            "SELECT f.digest, a.hotkey, f.hashes FROM agent_fingerprints f JOIN agents a ON a.digest = f.digest
             WHERE f.version = $1 ORDER BY a.submitted_at_ms, f.digest",
        )
        .bind(i64::from(version))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let bytes: Vec<u8> = row.try_get("hashes")?;
                Ok(StoredFingerprint {
                    digest: digest(row.try_get("digest")?)?,
                    hotkey: Hotkey::new(row.try_get::<String, _>("hotkey")?),
                    hashes: bytes.chunks_exact(8).map(|c| u64::from_be_bytes(c.try_into().unwrap_or_default())).collect(),
                })
            })
            .collect()
    }

    async fn task_count(&self) -> Result<u32, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks").fetch_one(&self.pool).await?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
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

    async fn queue_depth(&self) -> Result<(u32, u32), StoreError> {
        let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE state = 'queued'").fetch_one(&self.pool).await?;
        let grades: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grades WHERE state = 'queued'").fetch_one(&self.pool).await?;
        Ok((to_u32(runs), to_u32(grades)))
    }

    async fn run_records(&self, agent: Option<&Digest>) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.run_id, r.agent_digest, a.name, r.task_digest, t.task_id, r.state, r.outcome, r.attempts,
                    r.duration_ms, r.error, r.llm_spent_micro_usd, r.sandbox_ms, (SELECT g.verdict FROM grades g WHERE g.run_id = r.run_id AND g.verdict_seq IS NOT NULL ORDER BY g.verdict_seq LIMIT 1) AS verdict,
                    (SELECT COUNT(*) FROM verdicts v WHERE v.run_id = r.run_id) AS verdict_count
             FROM runs r JOIN agents a ON a.digest = r.agent_digest JOIN tasks t ON t.digest = r.task_digest
             WHERE $1 IS NULL OR r.agent_digest = $1
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
                    r.duration_ms, r.error, r.log, r.patch, r.llm_spent_micro_usd, r.sandbox_ms, r.llm_refused, (SELECT g.verdict FROM grades g WHERE g.run_id = r.run_id AND g.verdict_seq IS NOT NULL ORDER BY g.verdict_seq LIMIT 1) AS verdict,
                    (SELECT COUNT(*) FROM verdicts v WHERE v.run_id = r.run_id) AS verdict_count
             FROM runs r JOIN agents a ON a.digest = r.agent_digest JOIN tasks t ON t.digest = r.task_digest
             WHERE r.run_id = $1",
        )
        .bind(run_id.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let calls = sqlx::query(
            "SELECT model, prompt_tokens, completion_tokens, cost_micro_usd, latency_ms, status
             FROM llm_calls WHERE run_id = $1 ORDER BY seq",
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
            sqlx::query_scalar("SELECT 1 FROM agents WHERE digest = $1").bind(digest.as_str()).fetch_optional(&self.pool).await?;
        Ok(found.is_some())
    }

    async fn submissions_since(&self, hotkey: &Hotkey, since_ms: i64) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT submitted_at_ms FROM agents WHERE hotkey = $1 AND submitted_at_ms >= $2 ORDER BY submitted_at_ms")
            .bind(hotkey.as_str())
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn agent_costs(&self) -> Result<Vec<(Digest, RunCost)>, StoreError> {
        // PostgreSQL sums BIGINTs to NUMERIC; the cast keeps both databases' results integers.
        let rows = sqlx::query(
            "SELECT agent_digest, CAST(SUM(llm_spent_micro_usd) AS BIGINT) AS llm, CAST(SUM(sandbox_ms) AS BIGINT) AS sandbox
             FROM runs WHERE state = 'done' GROUP BY agent_digest ORDER BY agent_digest",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let cost = RunCost { llm_micro_usd: to_u64(row.try_get("llm")?), sandbox_ms: to_u64(row.try_get("sandbox")?) };
                Ok((digest(row.try_get("agent_digest")?)?, cost))
            })
            .collect()
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

/// A `runs ⋈ agents ⋈ tasks` row, with its first verdict and verdict count, as a [`RunRecord`].
fn run_record(row: &AnyRow) -> Result<RunRecord, StoreError> {
    let run_id: String = row.try_get("run_id")?;
    let verdict = row
        .try_get::<Option<String>, _>("verdict")?
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|source| StoreError::CorruptVerdict { grade_id: format!("the first grade of {run_id}"), source })?;
    Ok(RunRecord {
        run_id: RunId::new(run_id),
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
        verdicts: to_u32(row.try_get("verdict_count")?),
        cost: RunCost { llm_micro_usd: to_u64(row.try_get("llm_spent_micro_usd")?), sandbox_ms: to_u64(row.try_get("sandbox_ms")?) },
    })
}

/// One run's report, inside the caller's transaction. A duplicate or unknown run writes nothing.
/// Fills each verdict's slot with it, inside the caller's transaction, once the verdict is in
/// the ledger as its `seq`. A slot is filled when this validator holds it (or nobody does: its
/// lease was lost and the slot requeued); a slot re-leased to another validator stays theirs.
/// Of two verdicts for one slot in a batch, the first fills it.
async fn fill_slots(tx: &mut AnyConnection, fills: &[(&NewVerdict<'_>, i64)], now: i64) -> Result<(), StoreError> {
    let mut seen = HashSet::with_capacity(fills.len());
    let fills: Vec<&(&NewVerdict<'_>, i64)> = fills.iter().filter(|(new, _)| seen.insert(new.report.grade_id.as_str())).collect();
    for chunk in fills.chunks(IN_LIST / FILLED_COLUMNS) {
        let sql = format!(
            "WITH filled (grade_id, validator, status, verdict, seq, log, duration_ms, worker) AS (VALUES {})
             UPDATE grades SET state = 'done', validator = filled.validator, status = filled.status, verdict = filled.verdict,
                 verdict_seq = filled.seq, log = filled.log, duration_ms = filled.duration_ms, reported_by = filled.worker,
                 finished_at_ms = $1
             FROM filled
             WHERE grades.grade_id = filled.grade_id AND grades.state != 'done'
               AND (grades.validator IS NULL OR grades.validator = filled.validator)",
            values(2, chunk.len(), FILLED_COLUMNS)
        );
        let mut update = sqlx::query(AssertSqlSafe(sql)).bind(now);
        for (new, seq) in chunk.iter().copied() {
            let report = new.report;
            let verdict = serde_json::to_string(&report.verdict)
                .map_err(|source| StoreError::CorruptVerdict { grade_id: report.grade_id.to_string(), source })?;
            update = update
                .bind(report.grade_id.as_str())
                .bind(new.validator.as_str())
                .bind(report.verdict.status.as_str())
                .bind(verdict)
                .bind(*seq)
                .bind(&report.log)
                .bind(i64::try_from(report.duration.as_millis()).unwrap_or(i64::MAX))
                .bind(new.worker);
        }
        update.execute(&mut *tx).await?;
    }
    Ok(())
}
