//! The shipped compact set `tasks/sets/curated`: what it promises (size, projects, licences,
//! no leaks), and a re-validation of a sample of its tasks with the curation engine.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use whetstone_sandbox::Sandbox;
use whetstone_tasks::TaskSet;
use whetstone_tasks::compact::{CompactTask, ProjectBase, reverse_patch};
use whetstone_tasks::curate::project::ProjectRecord;
use whetstone_tasks::curate::validate::ValidTask;
use whetstone_tasks::curate::{BugCandidate, Environment, ValidationConfig, ValidationOutcome, validate_candidates};
use whetstone_tasks::digest::read_tree;
use whetstone_tasks::task::Framework;

fn set_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sets/curated")
}

#[test]
fn shipped_set_loads_matches_its_pins_and_covers_real_projects() {
    let set = TaskSet::load(&set_dir()).expect("the curated set loads and matches DIGESTS");
    let projects: BTreeSet<&str> = set.tasks.iter().map(|t| t.spec.source.project.as_str()).collect();
    println!("{} tasks from {} projects: {projects:?}", set.tasks.len(), projects.len());
    assert!(set.tasks.len() >= 100, "only {} tasks", set.tasks.len());
    assert!(projects.len() >= 5, "{projects:?}");
    assert!(set.tasks.iter().any(|t| t.spec.framework == Framework::Cargo), "no Rust task");
    // Projects with real dependencies, locked in their environment (FORMAT.md, "Locked
    // environments"): at least five, two of them crates, each with tasks.
    let locked: Vec<(String, Framework)> = std::fs::read_dir(set_dir().join("projects"))
        .expect("projects")
        .map(|entry| entry.expect("entry").path())
        .filter(|dir| dir.join("environment/requirements.lock").is_file() || dir.join("environment/Cargo.lock").is_file())
        .map(|dir| {
            let record = ProjectRecord::load(&dir).expect("record");
            (record.name, record.framework)
        })
        .collect();
    assert!(locked.len() >= 5, "{locked:?}");
    assert!(locked.iter().filter(|(_, f)| *f == Framework::Cargo).count() >= 2, "{locked:?}");
    for (name, _) in &locked {
        assert!(projects.contains(name.as_str()), "{name} has no task");
    }
    let difficulties: BTreeSet<&str> = set.tasks.iter().filter_map(|t| t.spec.difficulty.as_deref()).collect();
    assert!(difficulties.len() >= 2, "{difficulties:?}");
    for task in &set.tasks {
        assert_ne!(task.spec.source.license, "UNKNOWN", "{} has no licence", task.spec.id);
        let gold = String::from_utf8_lossy(task.gold_patch()).into_owned();
        for line in gold.lines().filter(|l| l.starts_with('+') && !l.starts_with("+++")) {
            let line = line[1..].trim();
            if line.chars().filter(|c| !c.is_whitespace()).count() >= 12 {
                assert!(!task.instruction.contains(line), "{} statement quotes its fix: {line}", task.spec.id);
            }
        }
        // The failing tests' files are hidden from the agent.
        let hidden: Vec<_> = task.bundle.files.iter().filter(|f| f.path.starts_with("hidden/")).collect();
        if task.spec.framework == Framework::Pytest {
            assert!(!hidden.is_empty(), "{} hides nothing", task.spec.id);
        }
        for file in &hidden {
            let repo_path = file.path.replacen("hidden/", "repo/", 1);
            assert!(task.bundle.file(&repo_path).is_none(), "{} shows hidden {repo_path}", task.spec.id);
        }
        assert!(
            !task.bundle.files.iter().any(|f| f.path.contains("__pycache__") || f.path.contains("/target/") || f.path.ends_with(".pyc")),
            "{} ships build artefacts",
            task.spec.id
        );
    }
}

/// Re-validates a sample of shipped tasks: each bug patch, applied to its project's base in
/// the project's image, must fail exactly the task's FAIL_TO_PASS tests, stably, and its
/// reverse must restore the suite.
#[tokio::test(flavor = "multi_thread")]
async fn docker_sample_of_shipped_tasks_revalidates() {
    const SAMPLE: usize = 3;
    let dir = set_dir();
    let set = TaskSet::load(&dir).expect("curated set");
    let sandbox = Sandbox::connect("tasks-test").await.expect("Docker");
    // One project (the first by name), a few of its tasks, in one container.
    let mut by_project: BTreeMap<String, Vec<(String, Vec<String>)>> = BTreeMap::new();
    for task in &set.tasks {
        let compact: CompactTask =
            toml::from_str(&std::fs::read_to_string(dir.join("tasks").join(&task.spec.id).join("compact.toml")).expect("compact.toml"))
                .expect("parses");
        by_project.entry(compact.project).or_default().push((task.spec.id.clone(), task.spec.tests.fail_to_pass.clone()));
    }
    // The first Python project whose environment is locked: its image installs from the lock.
    let (project, tasks) = by_project
        .into_iter()
        .find(|(p, _)| {
            let project_dir = dir.join("projects").join(p);
            ProjectRecord::load(&project_dir).expect("record").framework == Framework::Pytest
                && project_dir.join("environment/requirements.lock").is_file()
        })
        .expect("a Python project with locked dependencies");
    let project_dir = dir.join("projects").join(&project);
    let record = ProjectRecord::load(&project_dir).expect("record");
    let base = read_tree(&project_dir.join("base")).expect("base");
    let environment = ProjectBase::load(&project_dir).expect("project").environment_files();
    let image = sandbox.ensure_environment_image(&environment, &whetstone_sandbox::NoProgress).await.expect("image");
    let env = Environment { image, framework: record.framework, command: record.test_command.clone(), timeout_secs: record.timeout_secs };
    let sample: Vec<_> = tasks.into_iter().take(SAMPLE).collect();
    let candidates: Vec<BugCandidate> = sample
        .iter()
        .map(|(id, _)| {
            let bug = std::fs::read_to_string(dir.join("tasks").join(id).join("bug.patch")).expect("bug.patch");
            BugCandidate { id: id.clone(), gold_patch: reverse_patch(&bug), bug_patch: bug, bugs: 1, label: id.clone() }
        })
        .collect();
    let config = ValidationConfig { batch_size: SAMPLE, parallel: 1, ..ValidationConfig::default() };
    let outcomes =
        validate_candidates(&sandbox, &env, &base, &record.stable_tests, &candidates, &config, &|_, _| {}).await.expect("validation ran");
    for ((id, fail_to_pass), outcome) in sample.iter().zip(outcomes) {
        match outcome {
            ValidationOutcome::Valid(ValidTask { fail_to_pass: found, .. }) => assert_eq!(&found, fail_to_pass, "{id}"),
            ValidationOutcome::Rejected(why) => panic!("{id} no longer validates: {why:?}"),
        }
    }
}
