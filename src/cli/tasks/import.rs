//! `whetstone tasks import swebench|harbor`: public benchmark tasks into a Whetstone task set.
//! The conversion is `whetstone_tasks::import`; the Docker side (image builds, gold and
//! no-patch gradings, reference solutions) is `whetstone_validator::ImportReproducer`. This
//! module parses the options, shows progress and prints the summary.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use whetstone_sandbox::Sandbox;
use whetstone_tasks::import::harbor::{self, HarborOptions};
use whetstone_tasks::import::source::Source;
use whetstone_tasks::import::swebench::{self, SwebenchOptions, parse_instances};
use whetstone_tasks::import::{Candidate, Dropped, ImportEvent, ImportSummary, import_all};
use whetstone_validator::ImportReproducer;

/// Import public benchmark tasks into a task set. Every task is reproduced in Docker before it
/// is written: its gold patch must make every FAIL_TO_PASS test pass and keep every
/// PASS_TO_PASS test passing, and without the patch every FAIL_TO_PASS test must fail. Tasks
/// that do not reproduce are listed with the reason and left out.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// SWE-bench instances (JSON Lines in the dataset's schema) from a local copy of the
    /// upstream repository, or from the source tree at the base commit without history.
    ///
    /// Example: whetstone tasks import swebench --instances toolz.jsonl --repo toolz.bundle
    /// --out tasks/sets/swebench-toolz
    ///
    /// Example: whetstone tasks import swebench --instances one.jsonl --source toolz-0.12.tar.gz
    /// --out tasks/sets/swebench-toolz
    Swebench(SwebenchArgs),
    /// Harbor (Terminal-Bench 2) task directories: task.toml, instruction.md,
    /// environment/Dockerfile, tests/test.sh and solution/solve.sh.
    ///
    /// Example: whetstone tasks import harbor datasets/my-tasks --license Apache-2.0 --out
    /// tasks/sets/harbor
    Harbor(HarborArgs),
}

#[derive(Debug, Args)]
pub struct SwebenchArgs {
    /// The instances: a JSON Lines file with one SWE-bench instance per line (instance_id,
    /// repo, base_commit, patch, test_patch, problem_statement, FAIL_TO_PASS, PASS_TO_PASS, …),
    /// or a JSON array of them.
    #[arg(long, value_name = "FILE.jsonl")]
    pub instances: PathBuf,
    /// The upstream repository, which must hold every base_commit: a clone (any git
    /// directory) or a bundle file (`git bundle create FILE --all` in a clone). GitHub is not
    /// reachable from here, so it has to be a local copy.
    #[arg(long, value_name = "PATH_OR_BUNDLE", required_unless_present = "source", conflicts_with = "source")]
    pub repo: Option<PathBuf>,
    /// Instead of --repo: the source tree at the instances' base commit, without history: a
    /// directory (an unpacked sdist, a /testbed copy; a .git inside is ignored) or a tarball
    /// (.tar, .tar.gz, .tgz; one top-level directory is stripped). Every instance is read from
    /// this tree, so give instances that share one base commit; the base commit is recorded in
    /// each task, not checked.
    #[arg(long, value_name = "DIR_OR_TARBALL")]
    pub source: Option<PathBuf>,
    /// The task set directory to write (created when missing). A task already there with the
    /// same id is replaced; the set's DIGESTS file pins the new tasks.
    #[arg(long, value_name = "SET_DIR")]
    pub out: PathBuf,
    /// Import only the instances of this upstream repository (`owner/name`, the instances'
    /// `repo` field); useful when the file covers several repositories.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo_name: Option<String>,
    /// Import only this instance (repeatable).
    #[arg(long = "instance", value_name = "INSTANCE_ID")]
    pub only: Vec<String>,
    /// The repository's licence as an SPDX identifier (default: detected from its licence
    /// file; instances whose licence cannot be found are dropped).
    #[arg(long, value_name = "SPDX")]
    pub license: Option<String>,
    /// Seconds the tests of one task may run.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Extra PyPI package for the environment, beyond the dependencies the project declares
    /// (repeatable), e.g. --pip 'numpy<2'.
    #[arg(long = "pip", value_name = "REQUIREMENT")]
    pub pip: Vec<String>,
    /// Extra Debian package for the environment (repeatable), e.g. --apt libxml2-dev. Locked
    /// once here against the base image into environment/debian.lock (like `whetstone tasks
    /// lock-debian`) and installed offline; with --no-lock, installed by apt-get at build time
    /// with network access to the Debian mirror.
    #[arg(long = "apt", value_name = "PACKAGE")]
    pub apt: Vec<String>,
    /// Install the PyPI dependencies unlocked, by pip at image build time, instead of
    /// locking them here (the default: resolved once by this host's pip, honouring
    /// PIP_INDEX_URL, PIP_CERT and HTTPS_PROXY, into environment/requirements.lock with
    /// hashes, and installed offline from the host's wheel cache, WHETSTONE_DEPS_CACHE).
    #[arg(long)]
    pub no_lock: bool,
}

#[derive(Debug, Args)]
pub struct HarborArgs {
    /// Harbor task directories (each holds a task.toml), or dataset directories whose
    /// subdirectories are tasks.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// The task set directory to write (created when missing). A task already there with the
    /// same id is replaced; the set's DIGESTS file pins the new tasks.
    #[arg(long, value_name = "SET_DIR")]
    pub out: PathBuf,
    /// The tasks' licence as an SPDX identifier (default: each task's `[metadata] license`;
    /// tasks without one are dropped).
    #[arg(long, value_name = "SPDX")]
    pub license: Option<String>,
    /// Where the tasks come from, recorded in each task (default: `[metadata] source`).
    #[arg(long, value_name = "URL")]
    pub source_url: Option<String>,
}

pub async fn run(command: ImportCommand) -> Result<()> {
    let started = Instant::now();
    let (out, converted) = match command {
        ImportCommand::Swebench(args) => {
            let apt_lock = lock_apt(&args).await?;
            (args.out.clone(), convert_swebench(&args, apt_lock)?)
        }
        ImportCommand::Harbor(args) => (args.out.clone(), convert_harbor(&args)?),
    };
    if converted.is_empty() {
        bail!("nothing to import: no instance or task directory matched");
    }
    let sandbox = Sandbox::connect("importer").await.context("Docker is needed to reproduce the tasks")?;
    let bar = ImportBar::new(converted.len() as u64);
    let reproducer = ImportReproducer::new(sandbox, &bar);
    let summary = import_all(&reproducer, converted, &out, |event| bar.event(event)).await?;
    bar.bar.finish_and_clear();
    print_summary(&summary, &out, started.elapsed());
    if summary.imported.is_empty() {
        bail!("no task reproduced, so none was written; the reasons are listed above");
    }
    Ok(())
}

/// The `--apt` packages resolved into a Debian lock, unless there are none or --no-lock.
async fn lock_apt(args: &SwebenchArgs) -> Result<Option<whetstone_sandbox::debs::DebianLock>> {
    if args.apt.is_empty() || args.no_lock {
        return Ok(None);
    }
    let spinner = whetstone::ui::Spinner::new(format!("locking the Debian packages {}", args.apt.join(" ")));
    let sandbox = Sandbox::connect("importer").await.context("Docker is needed to lock the --apt packages")?;
    let lock = sandbox.lock_debian_packages(&args.apt, &spinner).await.context("locking the --apt packages failed")?;
    spinner.done(format!("locked {} Debian packages for {}", lock.debs.len(), args.apt.join(" ")));
    Ok(Some(lock))
}

fn convert_swebench(args: &SwebenchArgs, apt_lock: Option<whetstone_sandbox::debs::DebianLock>) -> Result<Vec<Result<Candidate, Dropped>>> {
    let text = std::fs::read_to_string(&args.instances)
        .with_context(|| format!("failed to read the instances file {}", args.instances.display()))?;
    let mut instances =
        parse_instances(&text).with_context(|| format!("{} is not a SWE-bench instances file", args.instances.display()))?;
    if let Some(name) = &args.repo_name {
        instances.retain(|i| &i.repo == name);
    }
    if !args.only.is_empty() {
        let unknown: Vec<&String> = args.only.iter().filter(|id| !instances.iter().any(|i| &&i.instance_id == id)).collect();
        if !unknown.is_empty() {
            bail!(
                "no instance with id {} in {}",
                unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                args.instances.display()
            );
        }
        instances.retain(|i| args.only.contains(&i.instance_id));
    }
    let source = match (&args.repo, &args.source) {
        (_, Some(tree)) => {
            let bases: std::collections::BTreeSet<&str> = instances.iter().map(|i| i.base_commit.as_str()).collect();
            if bases.len() > 1 {
                bail!(
                    "--source is one tree, but the instances have {} base commits ({}); import them one base commit at a time \
                     (--instance ID), or give --repo with their history",
                    bases.len(),
                    bases.into_iter().collect::<Vec<_>>().join(", ")
                );
            }
            Source::open_tree(tree).with_context(|| format!("cannot read the source tree {}", tree.display()))?
        }
        (Some(repo), None) => Source::open(repo).with_context(|| format!("cannot read the repository {}", repo.display()))?,
        (None, None) => bail!("give the upstream code with --repo (a clone or bundle) or --source (a tree without history)"),
    };
    let options = SwebenchOptions {
        license: args.license.clone(),
        timeout_secs: args.timeout,
        apt: args.apt.clone(),
        apt_lock,
        pip: args.pip.clone(),
        lock_with: (!args.no_lock).then(whetstone_sandbox::deps::DependencyCache::from_env),
    };
    Ok(instances.iter().map(|instance| swebench::convert(instance, &source, &options)).collect())
}

fn convert_harbor(args: &HarborArgs) -> Result<Vec<Result<Candidate, Dropped>>> {
    let options = HarborOptions { license: args.license.clone(), source_url: args.source_url.clone() };
    let mut dirs = Vec::new();
    for dir in &args.dirs {
        if !dir.is_dir() {
            bail!("{} is not a directory", dir.display());
        }
        dirs.extend(task_dirs(dir)?);
    }
    Ok(dirs.iter().map(|dir| harbor::convert(dir, &options)).collect())
}

/// `dir` itself when it is a task, else its subdirectories that are.
fn task_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    if dir.join("task.toml").is_file() {
        return Ok(vec![dir.to_owned()]);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("failed to list {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("task.toml").is_file())
        .collect();
    found.sort();
    if found.is_empty() {
        bail!("{} holds no Harbor task: neither it nor its subdirectories have a task.toml", dir.display());
    }
    Ok(found)
}

/// A bar over the tasks; image builds and each check show as its message. Plain lines when
/// stderr is not a terminal.
struct ImportBar {
    bar: ProgressBar,
}

impl ImportBar {
    fn new(total: u64) -> Self {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} tasks [{elapsed_precise}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Self { bar }
    }

    fn event(&self, event: ImportEvent<'_>) {
        match event {
            ImportEvent::Checking { id, index, total } => {
                self.say(format!("reproducing {id} ({} of {total})", index + 1));
            }
            ImportEvent::Imported { id } => {
                self.bar.inc(1);
                self.say(format!("imported {id}"));
            }
            ImportEvent::Dropped { dropped } => {
                self.bar.inc(1);
                self.say(format!("dropped {}", dropped.id));
            }
        }
    }

    fn say(&self, text: String) {
        if self.bar.is_hidden() {
            eprintln!("{text}");
        }
        self.bar.set_message(text);
    }
}

impl whetstone_sandbox::Progress for ImportBar {
    fn message(&self, msg: &str) {
        let line: String = msg.chars().take(100).collect();
        if self.bar.is_hidden() {
            eprintln!("{line}");
        }
        self.bar.set_message(line);
    }
}

fn print_summary(summary: &ImportSummary, out: &Path, elapsed: Duration) {
    println!(
        "{} imported, {} dropped, in {:.0}s; set: {}",
        summary.imported.len(),
        summary.dropped.len(),
        elapsed.as_secs_f64(),
        out.display()
    );
    for imported in &summary.imported {
        let task = &imported.task;
        let replaced = if summary.replaced.contains(&task.spec.id) { " (replaced the earlier import)" } else { "" };
        println!(
            "  imported {}  {}  {} fail-to-pass, {} pass-to-pass{replaced}",
            task.digest().short(),
            task.spec.id,
            task.spec.tests.fail_to_pass.len(),
            task.spec.tests.pass_to_pass.len()
        );
        for note in &imported.notes {
            println!("      note: {note}");
        }
    }
    for dropped in &summary.dropped {
        println!("  dropped {}: {}", dropped.id, dropped.reason.replace('\n', "\n      "));
    }
}
