//! `whetstone tasks …`: the curator's tools for task sets. `check`, `digests` and `publish`
//! are here; `add`, `generate` and `validate` (making tasks from real projects) are in
//! `curate.rs`; `import` (public benchmarks) in `import.rs`. Task sets themselves are
//! `whetstone_tasks`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use whetstone::client::CoordinatorClient;
use whetstone_tasks::TaskSet;

use super::connect::{ConnectArgs, SignerArgs};

mod curate;
mod import;

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// Load task sets, check every task against the format and the pinned digests.
    Check {
        #[arg(default_values_os_t = [whetstone::defaults::task_set()])]
        sets: Vec<PathBuf>,
    },
    /// Print each task's digest; with --write, pin them in the set's DIGESTS file.
    Digests {
        set: PathBuf,
        #[arg(long)]
        write: bool,
    },
    /// Publish every task of the given sets to a coordinator. On a coordinator with epochs
    /// they join the task pool, drawn into later epochs (`whetstone epochs` shows how many
    /// epochs the pool covers); with --fresh-epoch they join the current epoch's set.
    Publish {
        #[command(flatten)]
        connect: ConnectArgs,
        /// A curator's hotkey signs each task: the coordinator's own, or one listed in its
        /// `auth.curators`.
        #[command(flatten)]
        signer: SignerArgs,
        /// Task set directories.
        sets: Vec<PathBuf>,
        /// The tasks were generated for this epoch (the coordinator's current one) and enter
        /// its set at once, instead of the pool; needs --generator-seed. `whetstone epochs`
        /// shows the current epoch and its generator seed.
        #[arg(long, requires = "generator_seed", value_name = "EPOCH")]
        fresh_epoch: Option<u64>,
        /// The seed the tasks were generated with (`whetstone tasks generate --seed`); must be
        /// the epoch's generator seed.
        #[arg(long, requires = "fresh_epoch", value_name = "SEED")]
        generator_seed: Option<u64>,
    },
    /// Pin Debian packages for a task environment: resolve them against the sandbox base
    /// image (with bookworm-updates and bookworm-security) into a lock naming every .deb and
    /// its sha256, and fetch the files into the host's dependency cache.
    ///
    /// Put the lock in the environment as `environment/debian.lock` and install it in the
    /// Dockerfile with the lines this command prints on stderr; the image then builds with no
    /// network and the same bytes on every validator. Needs Docker and the Debian mirror.
    LockDebian {
        /// Debian package names, optionally `name=version`.
        #[arg(required = true)]
        packages: Vec<String>,
        /// Write the lock here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    Add(curate::AddArgs),
    Generate(curate::GenerateArgs),
    Validate(curate::ValidateArgs),
    /// Import public benchmark tasks (SWE-bench instances, Harbor task directories) into a
    /// task set; each task is reproduced in Docker before it is written.
    ///
    /// Reproduced means: its gold patch makes every FAIL_TO_PASS test pass and keeps every
    /// PASS_TO_PASS test passing, and without it every FAIL_TO_PASS test fails, graded exactly
    /// as validators grade agents. Tasks that do not reproduce are listed with the reason and
    /// left out. Needs Docker (and, once, root with debootstrap to build the base image).
    #[command(subcommand)]
    Import(import::ImportCommand),
}

pub async fn run(command: TasksCommand) -> Result<()> {
    match command {
        TasksCommand::Check { sets } => check(sets),
        TasksCommand::Digests { set, write } => digests(set, write),
        TasksCommand::Publish { connect, signer, sets, fresh_epoch, generator_seed } => {
            publish(connect, signer, sets, fresh_epoch.zip(generator_seed)).await
        }
        TasksCommand::LockDebian { packages, output } => lock_debian(packages, output).await,
        TasksCommand::Add(args) => curate::add(args).await,
        TasksCommand::Generate(args) => curate::generate(args).await,
        TasksCommand::Validate(args) => curate::validate(args).await,
        TasksCommand::Import(command) => import::run(command).await,
    }
}

fn check(sets: Vec<PathBuf>) -> Result<()> {
    for path in sets {
        let set = TaskSet::load(&path).with_context(|| format!("task set {} is invalid", path.display()))?;
        for task in &set.tasks {
            println!(
                "{}  {}  {} fail-to-pass, {} pass-to-pass",
                task.digest().short(),
                task.spec.id,
                task.spec.tests.fail_to_pass.len(),
                task.spec.tests.pass_to_pass.len()
            );
        }
        println!("{}: {} tasks, all valid", path.display(), set.tasks.len());
    }
    Ok(())
}

fn digests(set: PathBuf, write: bool) -> Result<()> {
    let loaded = TaskSet::load_unpinned(&set).with_context(|| format!("task set {} is invalid", set.display()))?;
    let text = loaded.digests_file();
    if write {
        let path = set.join(whetstone_tasks::task::DIGESTS_FILE);
        std::fs::write(&path, &text).with_context(|| format!("failed to write {}", path.display()))?;
        println!("pinned {} digests in {}", loaded.tasks.len(), path.display());
    } else {
        print!("{text}");
    }
    Ok(())
}

async fn lock_debian(packages: Vec<String>, output: Option<PathBuf>) -> Result<()> {
    let spinner = whetstone::ui::Spinner::new("connecting to Docker");
    let sandbox = whetstone_sandbox::Sandbox::connect("lock-debian").await?;
    let lock = sandbox.lock_debian_packages(&packages, &spinner).await?;
    let text = lock.to_text();
    match &output {
        Some(path) => std::fs::write(path, &text).with_context(|| format!("failed to write {}", path.display()))?,
        None => print!("{text}"),
    }
    let at = output.as_ref().map_or_else(|| "standard output".to_owned(), |p| p.display().to_string());
    spinner.done(format!("locked {} packages ({}) to {at}", lock.debs.len(), packages.join(" ")));
    eprintln!("install them in the environment's Dockerfile with:\n{}", whetstone_sandbox::debs::DEBIAN_LOCKED_INSTALL);
    Ok(())
}

async fn publish(connect: ConnectArgs, signer: SignerArgs, sets: Vec<PathBuf>, fresh: Option<(u64, u64)>) -> Result<()> {
    if sets.is_empty() {
        bail!("name at least one task set directory to publish");
    }
    let signer = signer.signer()?;
    let client = CoordinatorClient::connect(&connect.coordinator).await?;
    for path in sets {
        let set = TaskSet::load(&path).with_context(|| format!("task set {} is invalid", path.display()))?;
        for task in &set.tasks {
            let response = client.publish_task_for(task, &signer, fresh).await?;
            let state = if response.created { "published" } else { "already published" };
            println!("{state} {} ({}), {} runs scheduled", response.task_id, &response.task_digest[..12], response.runs_scheduled);
        }
    }
    Ok(())
}
