//! API keys for the solve API and the per-key accounting its limits read. A key is 32 random
//! bytes shown once (`ws_` + hex); the database keeps its SHA-256 only, so a leaked database
//! does not leak working keys.

use rand_core::RngCore;
use sha2::{Digest as _, Sha256};
use sqlx::AnyPool;
use sqlx::Row;

use crate::store::now_ms;
use crate::store::{DatabaseUrl, SqlStore, StoreError};

/// What every key starts with, so a key pasted in the wrong place is recognisable.
pub const KEY_PREFIX: &str = "ws_";

/// A key's record (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub key_id: String,
    pub name: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    /// Per-key overrides of the `[solve]` limits; `None` means the configuration's.
    pub limits: KeyLimits,
    /// Jobs made with the key, and what they spent (running jobs count their budget).
    pub jobs: u64,
    pub spent_micro_usd: u64,
}

/// Per-key overrides of the `[solve]` limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyLimits {
    pub rate_per_minute: Option<u32>,
    pub max_concurrent: Option<u32>,
    pub spend_cap_micro_usd: Option<u64>,
}

/// A key as the API sees it after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub key_id: String,
    pub name: String,
    pub limits: KeyLimits,
}

/// A solve job's row is leased to the coordinator process holding the job (solve jobs live
/// in its memory): that process renews the leases of its unfinished jobs while it runs, and
/// any coordinator on the database closes a row whose lease ran out. Lease times are Unix ms
/// from the caller, compared with the caller's clock (coordinators on NTP, as for run leases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLease<'a> {
    /// The holder: the id its run and grade leases carry too (address and a per-process suffix).
    pub coordinator: &'a str,
    pub expires_at_ms: i64,
}

/// The solve API's tables in the coordinator's database.
#[derive(Debug, Clone)]
pub struct KeyStore {
    pool: AnyPool,
}

fn sha256_hex(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn opt_u32(value: Option<i64>) -> Option<u32> {
    value.and_then(|v| u32::try_from(v).ok())
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl KeyStore {
    pub(crate) fn new(store: &SqlStore) -> Self {
        Self { pool: store.pool().clone() }
    }

    /// Opens the coordinator's database (applying migrations), for `whetstone keys`.
    pub async fn open(database: &DatabaseUrl) -> Result<Self, StoreError> {
        let store = SqlStore::open(database).await?;
        Ok(Self::new(&store))
    }

    /// Makes a key named `name`. Returns its record and the key, which is never shown again.
    pub async fn create(&self, name: &str, limits: KeyLimits) -> Result<(KeyRecord, String), StoreError> {
        let mut bytes = [0u8; 32];
        rand_core::OsRng.fill_bytes(&mut bytes);
        let key = format!("{KEY_PREFIX}{}", hex::encode(bytes));
        let key_id = format!("key-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let created_at_ms = now_ms();
        sqlx::query(
            "INSERT INTO solve_keys (key_id, name, key_sha256, created_at_ms, rate_per_minute, max_concurrent, spend_cap_micro_usd)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key_id)
        .bind(name)
        .bind(sha256_hex(&key))
        .bind(created_at_ms)
        .bind(limits.rate_per_minute.map(i64::from))
        .bind(limits.max_concurrent.map(i64::from))
        .bind(limits.spend_cap_micro_usd.map(to_i64))
        .execute(&self.pool)
        .await?;
        let record = KeyRecord { key_id, name: name.to_owned(), created_at_ms, revoked_at_ms: None, limits, jobs: 0, spent_micro_usd: 0 };
        Ok((record, key))
    }

    /// Every key, oldest first, with its jobs and spend.
    pub async fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT k.key_id, k.name, k.created_at_ms, k.revoked_at_ms, k.rate_per_minute, k.max_concurrent, k.spend_cap_micro_usd,
                    COUNT(j.solve_id) AS jobs, CAST(COALESCE(SUM(j.spent_micro_usd), 0) AS BIGINT) AS spent
             FROM solve_keys k LEFT JOIN solve_jobs j ON j.key_id = k.key_id
             GROUP BY k.key_id ORDER BY k.created_at_ms, k.key_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(KeyRecord {
                    key_id: row.try_get("key_id")?,
                    name: row.try_get("name")?,
                    created_at_ms: row.try_get("created_at_ms")?,
                    revoked_at_ms: row.try_get("revoked_at_ms")?,
                    limits: KeyLimits {
                        rate_per_minute: opt_u32(row.try_get("rate_per_minute")?),
                        max_concurrent: opt_u32(row.try_get("max_concurrent")?),
                        spend_cap_micro_usd: row.try_get::<Option<i64>, _>("spend_cap_micro_usd")?.and_then(|v| u64::try_from(v).ok()),
                    },
                    jobs: u64::try_from(row.try_get::<i64, _>("jobs")?).unwrap_or(0),
                    spent_micro_usd: u64::try_from(row.try_get::<i64, _>("spent")?).unwrap_or(0),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Revokes a key by id or name. False when no unrevoked key matches.
    pub async fn revoke(&self, id_or_name: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE solve_keys SET revoked_at_ms = $1 WHERE (key_id = $2 OR name = $3) AND revoked_at_ms IS NULL")
            .bind(now_ms())
            .bind(id_or_name)
            .bind(id_or_name)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// The unrevoked key whose hash matches `key`.
    pub async fn authenticate(&self, key: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(
            "SELECT key_id, name, rate_per_minute, max_concurrent, spend_cap_micro_usd
             FROM solve_keys WHERE key_sha256 = $1 AND revoked_at_ms IS NULL",
        )
        .bind(sha256_hex(key))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(ApiKey {
            key_id: row.try_get("key_id")?,
            name: row.try_get("name")?,
            limits: KeyLimits {
                rate_per_minute: opt_u32(row.try_get("rate_per_minute")?),
                max_concurrent: opt_u32(row.try_get("max_concurrent")?),
                spend_cap_micro_usd: row.try_get::<Option<i64>, _>("spend_cap_micro_usd")?.and_then(|v| u64::try_from(v).ok()),
            },
        }))
    }

    /// The key record standing for a hotkey that signs its requests (btauth/1), made on its
    /// first request (id `hotkey-<ss58>`, no secret: its hash column can match no key). `None`
    /// when the operator revoked it (`whetstone keys revoke hotkey-<ss58>`).
    pub(crate) async fn for_hotkey(&self, hotkey: &str) -> Result<Option<ApiKey>, StoreError> {
        sqlx::query("INSERT INTO solve_keys (key_id, name, key_sha256, created_at_ms) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(format!("hotkey-{hotkey}"))
            .bind(hotkey)
            .bind(format!("hotkey:{hotkey}"))
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        let row = sqlx::query(
            "SELECT key_id, name, rate_per_minute, max_concurrent, spend_cap_micro_usd
             FROM solve_keys WHERE key_sha256 = $1 AND revoked_at_ms IS NULL",
        )
        .bind(format!("hotkey:{hotkey}"))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(ApiKey {
            key_id: row.try_get("key_id")?,
            name: row.try_get("name")?,
            limits: KeyLimits {
                rate_per_minute: opt_u32(row.try_get("rate_per_minute")?),
                max_concurrent: opt_u32(row.try_get("max_concurrent")?),
                spend_cap_micro_usd: row.try_get::<Option<i64>, _>("spend_cap_micro_usd")?.and_then(|v| u64::try_from(v).ok()),
            },
        }))
    }

    /// Jobs the key made since `since_ms`, and what they spent or hold as budget.
    pub(crate) async fn usage_since(&self, key_id: &str, since_ms: i64) -> Result<(u32, u64), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS jobs, CAST(COALESCE(SUM(spent_micro_usd), 0) AS BIGINT) AS spent FROM solve_jobs WHERE key_id = $1 AND created_at_ms >= $2",
        )
        .bind(key_id)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        let jobs = u32::try_from(row.try_get::<i64, _>("jobs")?).unwrap_or(u32::MAX);
        let spent = u64::try_from(row.try_get::<i64, _>("spent")?).unwrap_or(0);
        Ok((jobs, spent))
    }

    /// Records a new job holding `budget` against the key's spend until it finishes, leased to
    /// the coordinator that accepted it.
    pub async fn job_created(&self, solve_id: &str, key_id: &str, agent: &str, budget: u64, lease: JobLease<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO solve_jobs (solve_id, key_id, agent_digest, created_at_ms, spent_micro_usd, lease_coordinator, lease_expires_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(solve_id)
        .bind(key_id)
        .bind(agent)
        .bind(now_ms())
        .bind(to_i64(budget))
        .bind(lease.coordinator)
        .bind(lease.expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records how a job ended and what it really spent.
    pub async fn job_finished(&self, solve_id: &str, status: &str, spent: u64) -> Result<(), StoreError> {
        sqlx::query("UPDATE solve_jobs SET finished_at_ms = $1, status = $2, spent_micro_usd = $3 WHERE solve_id = $4")
            .bind(now_ms())
            .bind(status)
            .bind(to_i64(spent))
            .bind(solve_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Moves the lease of every unfinished job `lease.coordinator` holds to `lease.expires_at_ms`.
    /// Returns how many it renewed.
    pub async fn renew_job_leases(&self, lease: JobLease<'_>) -> Result<u64, StoreError> {
        let result = sqlx::query("UPDATE solve_jobs SET lease_expires_at_ms = $1 WHERE lease_coordinator = $2 AND finished_at_ms IS NULL")
            .bind(lease.expires_at_ms)
            .bind(lease.coordinator)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    /// Closes as failed every unfinished job whose lease ran out by `now_ms`: its coordinator
    /// stopped renewing it (crashed, or was cut off from the database), and the job lived in
    /// that process's memory, so it can never finish. Rows from before leases (no holder) are
    /// closed too. A job of a live coordinator closed here by mistake (its renewals late by
    /// more than a lease) gets its real status and spend when it finishes. Returns how many.
    pub async fn close_expired_jobs(&self, now_ms: i64) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE solve_jobs SET finished_at_ms = $1, status = 'failed', spent_micro_usd = 0
             WHERE finished_at_ms IS NULL AND (lease_expires_at_ms IS NULL OR lease_expires_at_ms <= $2)",
        )
        .bind(now_ms)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// Closes as failed the unfinished jobs `coordinator` holds, when it stops: they end with it.
    /// Returns how many.
    pub async fn close_jobs_of(&self, coordinator: &str, now_ms: i64) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE solve_jobs SET finished_at_ms = $1, status = 'failed', spent_micro_usd = 0
             WHERE lease_coordinator = $2 AND finished_at_ms IS NULL",
        )
        .bind(now_ms)
        .bind(coordinator)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }
}
