//! `whetstone keys`: the solve API's keys, made and revoked by the coordinator's operator on
//! the coordinator's own database (the coordinator may be running). A key is shown once, when
//! it is made; the database keeps only its SHA-256.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use whetstone_coordinator::solve::keys::{KeyLimits, KeyStore};
use whetstone_coordinator::{CoordinatorConfig, DatabaseUrl};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key for a developer (or an editor, or an assistant) to call the solve API with.
    /// Prints it once; give it to them as WHETSTONE_API_KEY.
    Create(CreateArgs),
    /// List every key with its limits, its jobs and what they spent.
    List(Where),
    /// Revoke a key (by id or name): requests with it get 401 from then on.
    Revoke(RevokeArgs),
}

/// Which coordinator's database.
#[derive(Debug, Args)]
pub struct Where {
    /// The coordinator's TOML configuration; its `database` (or data_dir) says where the
    /// database is.
    #[arg(long, env = "WHETSTONE_COORDINATOR_CONFIG")]
    config: Option<PathBuf>,
    /// The coordinator's data directory (overrides the configuration's). Default
    /// .whetstone/coordinator, as `whetstone coordinator` uses.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The coordinator's database, as given to `whetstone coordinator --database`
    /// (postgres://… or an SQLite file); overrides the configuration and --data-dir.
    #[arg(long, env = "WHETSTONE_DATABASE", value_name = "URL")]
    database: Option<DatabaseUrl>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Who the key is for, e.g. "alice-laptop"; shown by `keys list`, usable with `keys revoke`.
    name: String,
    /// Jobs the key may start per minute (default: the coordinator's `[solve] rate_per_minute`).
    #[arg(long)]
    rate_per_minute: Option<u32>,
    /// Jobs the key may have queued or running at once (default `[solve] max_concurrent`).
    #[arg(long)]
    max_concurrent: Option<u32>,
    /// What the key's jobs may spend on LLM calls per window, in micro-dollars (1 000 000 = $1;
    /// default `[solve] spend_cap_micro_usd`).
    #[arg(long, value_name = "MICRO_USD")]
    spend_cap: Option<u64>,
    #[command(flatten)]
    place: Where,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The key's id (key-…) or name.
    key: String,
    #[command(flatten)]
    place: Where,
}

impl Where {
    async fn open(&self) -> Result<KeyStore> {
        let mut config: CoordinatorConfig = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("{} is not a valid coordinator configuration", path.display()))?
            }
            None => CoordinatorConfig::default(),
        };
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(database) = &self.database {
            config.database = Some(database.clone());
        }
        let database = config.database_or_default();
        KeyStore::open(&database)
            .await
            .with_context(|| format!("failed to open the coordinator database {database} (pass --database, --data-dir or --config)"))
    }
}

fn limit(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "default".to_owned(), |v| v.to_string())
}

pub async fn run(command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Create(args) => {
            let keys = args.place.open().await?;
            let limits = KeyLimits {
                rate_per_minute: args.rate_per_minute,
                max_concurrent: args.max_concurrent,
                spend_cap_micro_usd: args.spend_cap,
            };
            let (record, key) = keys.create(&args.name, limits).await?;
            println!("made {} ({}). The key, shown only now:\n\n    {key}\n", record.key_id, record.name);
            println!("use it with: export WHETSTONE_API_KEY={key}   (then `whetstone solve \"…\"` in a repository)");
        }
        KeysCommand::List(place) => {
            let records = place.open().await?.list().await?;
            if records.is_empty() {
                println!("no keys yet; make one with `whetstone keys create NAME`");
                return Ok(());
            }
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED);
            table.set_header(["id", "name", "state", "jobs", "spent", "rate/min", "concurrent", "spend cap (µ$)"]);
            for r in records {
                let state = if r.revoked_at_ms.is_some() { "revoked" } else { "active" };
                table.add_row([
                    r.key_id,
                    r.name,
                    state.to_owned(),
                    r.jobs.to_string(),
                    whetstone::ui::usd(r.spent_micro_usd),
                    limit(r.limits.rate_per_minute),
                    limit(r.limits.max_concurrent),
                    limit(r.limits.spend_cap_micro_usd),
                ]);
            }
            println!("{table}");
        }
        KeysCommand::Revoke(args) => {
            if !args.place.open().await?.revoke(&args.key).await? {
                bail!("no active key with id or name {:?}; `whetstone keys list` shows them", args.key);
            }
            println!("revoked {}", args.key);
        }
    }
    Ok(())
}
