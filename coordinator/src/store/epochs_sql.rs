//! The epoch half of [`super::SqlStore`] (migration 0007 in both databases): recorded
//! boundaries, task placements, and run scheduling on an epoch's set. Kept apart so `sql.rs`
//! stays readable; the statements are the same for SQLite and PostgreSQL.

use sqlx::AnyPool;
use sqlx::Row;
use whetstone_chain::epochs::{epoch_run_id, parse_block_hash};
use whetstone_tasks::Digest;

use super::sql::{digest, now_ms, to_i64};
use super::{EpochRow, EpochTasks, Placement, StoreError};

fn corrupt(what: String) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(what.into()))
}

pub(super) async fn schedule_missing_runs(pool: &AnyPool, epoch: Option<&EpochTasks>) -> Result<u32, StoreError> {
    let mut tx = pool.begin().await?;
    let missing = sqlx::query(
        "SELECT a.digest AS agent, t.digest AS task FROM agents a CROSS JOIN tasks t
         WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.agent_digest = a.digest AND r.task_digest = t.digest)
         ORDER BY a.submitted_at_ms, t.task_id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let now = now_ms();
    let mut scheduled = 0u32;
    for row in &missing {
        let task: String = row.try_get("task")?;
        let run_id = match epoch {
            Some(set) if !set.tasks.iter().any(|t| t.as_str() == task) => continue,
            Some(set) => epoch_run_id(set.epoch, &uuid::Uuid::new_v4().simple().to_string()).as_str().to_owned(),
            None => format!("run-{}", uuid::Uuid::new_v4().simple()),
        };
        sqlx::query("INSERT INTO runs (run_id, agent_digest, task_digest, state, created_at_ms) VALUES ($1, $2, $3, 'queued', $4)")
            .bind(run_id)
            .bind(row.try_get::<String, _>("agent")?)
            .bind(&task)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        scheduled += 1;
    }
    tx.commit().await?;
    Ok(scheduled)
}

pub(super) async fn record_epoch(pool: &AnyPool, epoch: &EpochRow) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO epochs (epoch, boundary_block, block_hash, recorded_at_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (epoch) DO NOTHING",
    )
    .bind(to_i64(epoch.epoch))
    .bind(to_i64(epoch.boundary_block))
    .bind(hex::encode(epoch.block_hash))
    .bind(now_ms())
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub(super) async fn epochs(pool: &AnyPool) -> Result<Vec<EpochRow>, StoreError> {
    let rows = sqlx::query("SELECT epoch, boundary_block, block_hash FROM epochs ORDER BY epoch").fetch_all(pool).await?;
    rows.into_iter()
        .map(|row| {
            let text: String = row.try_get("block_hash")?;
            let block_hash =
                parse_block_hash(&text).ok_or_else(|| corrupt(format!("stored block hash {text:?} is not 32 bytes of hex")))?;
            Ok(EpochRow {
                epoch: u64::try_from(row.try_get::<i64, _>("epoch")?).unwrap_or(0),
                boundary_block: u64::try_from(row.try_get::<i64, _>("boundary_block")?).unwrap_or(0),
                block_hash,
            })
        })
        .collect()
}

pub(super) async fn place_task(pool: &AnyPool, task: &Digest, placement: Placement) -> Result<bool, StoreError> {
    let (pool_from, fresh_epoch, seed) = match placement {
        Placement::Pool { eligible_from } => (Some(to_i64(eligible_from)), None, None),
        Placement::Fresh { epoch, generator_seed } => (None, Some(to_i64(epoch)), Some(generator_seed.to_string())),
    };
    let result = sqlx::query(
        "UPDATE tasks SET pool_from_epoch = $1, fresh_epoch = $2, generator_seed = $3
         WHERE digest = $4 AND pool_from_epoch IS NULL AND fresh_epoch IS NULL",
    )
    .bind(pool_from)
    .bind(fresh_epoch)
    .bind(seed)
    .bind(task.as_str())
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub(super) async fn placements(pool: &AnyPool) -> Result<Vec<(Digest, Placement)>, StoreError> {
    let rows = sqlx::query(
        "SELECT digest, pool_from_epoch, fresh_epoch, generator_seed FROM tasks
         WHERE pool_from_epoch IS NOT NULL OR fresh_epoch IS NOT NULL ORDER BY digest",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let task = digest(row.try_get("digest")?)?;
            let pool_from: Option<i64> = row.try_get("pool_from_epoch")?;
            let fresh_epoch: Option<i64> = row.try_get("fresh_epoch")?;
            let placement = match (pool_from, fresh_epoch) {
                (Some(from), _) => Placement::Pool { eligible_from: u64::try_from(from).unwrap_or(0) },
                (None, Some(epoch)) => {
                    let seed: Option<String> = row.try_get("generator_seed")?;
                    let generator_seed = seed
                        .as_deref()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| corrupt(format!("fresh task {task} has no readable generator seed ({seed:?})")))?;
                    Placement::Fresh { epoch: u64::try_from(epoch).unwrap_or(0), generator_seed }
                }
                (None, None) => return Err(corrupt(format!("task {task} was selected as placed but has no place"))),
            };
            Ok((task, placement))
        })
        .collect()
}
