//! Harbor task directories (`task.toml`, `instruction.md`, `environment/Dockerfile`,
//! `tests/test.sh`, `solution/solve.sh`) to Whetstone tasks.
//!
//! # The mapping
//!
//! Harbor builds the environment, lets the agent work in the image's `WORKDIR` (the
//! *workspace*, usually `/app`), then copies `tests/` to `/tests` and runs `tests/test.sh`,
//! whose verdict is the reward it writes to `/logs/verifier/reward.txt` (or `reward.json`);
//! the script's exit status does not count. Whetstone grades by JUnit test ids in a sandbox
//! whose repository is `/repo`, so an imported task is:
//!
//! - `repo/`: the files the Dockerfile copies into the workspace (from `environment/`);
//! - `environment/Dockerfile`: the Harbor Dockerfile on Whetstone's base image (its `FROM` is
//!   replaced, its workspace `COPY`s are gone since their files are `repo/`), with pip and
//!   `python` added, and the workspace linked to `/repo`, `/tests` to the hidden copy of the
//!   tests and `/logs` to scratch space, so the paths Harbor tasks hard-code keep working;
//! - `hidden/whetstone_harbor/tests/`: Harbor's `tests/`;
//! - one test, `test_harbor_verifier::test_harbor_verifier` ([`VERIFIER_TEST_ID`]): a pytest
//!   file next to them that runs `test.sh` the way Harbor does and passes only on full reward
//!   (1). It is the task's only FAIL_TO_PASS test. pytest runs it with an empty `pytest.ini`
//!   of its own and that directory as the rootdir, so the workspace's pytest configuration
//!   can neither change its id nor add options to it;
//! - `gold.patch`: the diff the reference solution (`solution/solve.sh`, run as root in the
//!   task's environment) leaves in the workspace, made when the task is reproduced.
//!
//! What cannot carry over is refused, with the reason: multi-stage builds, prebuilt images
//! (`docker_image`, `docker-compose.yaml`), files copied outside the workspace, `ADD` of URLs
//! or archives. What may not carry over is found out by reproduction: Whetstone's tests run
//! without network and not as root, so a `test.sh` that installs tools when it starts fails
//! its gold run (and the drop reason points at the line).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::environment::shell_quote;
use super::reproduce::Solution;
use super::testids::junit_id;
use super::{Candidate, DEFAULT_SOLUTION_TIMEOUT, Dropped, SourceToml, TaskToml, TestsToml, task_id_from};
use crate::digest::{TreeFile, read_tree};

/// Where Harbor's `tests/` go, relative to the repository (and the hidden files).
pub const HIDDEN_DIR: &str = "whetstone_harbor";
const VERIFIER_FILE: &str = "whetstone_harbor/test_harbor_verifier.py";
const VERIFIER_INI: &str = "whetstone_harbor/pytest.ini";
/// The one test of an imported Harbor task (its rootdir is [`HIDDEN_DIR`]).
pub const VERIFIER_TEST_ID: &str = "test_harbor_verifier::test_harbor_verifier";
/// Scratch directory `/logs` points to in the image.
const LOGS_DIR: &str = "/tmp/whetstone-harbor/logs";
/// Harbor's default verifier time limit.
const DEFAULT_VERIFIER_TIMEOUT_SECS: f64 = 600.0;
/// Time the pytest run gets beyond the verifier's own limit.
const VERIFIER_SLACK_SECS: u64 = 30;
/// Debian packages every imported environment gets: Harbor images are mostly Python images,
/// whose tasks expect `pip` and `python`.
const COMPAT_PACKAGES: &str = "python3-pip python3-venv python-is-python3";

/// Choices a Harbor task does not make.
#[derive(Debug, Clone, Default)]
pub struct HarborOptions {
    /// The SPDX licence of the tasks; `[metadata] license` of each task when `None`.
    pub license: Option<String>,
    /// Where the tasks come from (a URL); `[metadata]` `source`/`url` when `None`.
    pub source_url: Option<String>,
}

/// The task for the Harbor task directory `dir`, or why it cannot be imported.
pub fn convert(dir: &Path, options: &HarborOptions) -> Result<Candidate, Dropped> {
    let dir_name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "harbor-task".into());
    let files =
        read_tree(dir).map_err(|e| Dropped { id: task_id_from(&dir_name), reason: format!("cannot read {}: {e}", dir.display()) })?;
    convert_files(&dir_name, &files, options)
}

/// [`convert`] on a task directory's files (paths relative to it).
pub fn convert_files(dir_name: &str, files: &[TreeFile], options: &HarborOptions) -> Result<Candidate, Dropped> {
    let text = |path: &str| files.iter().find(|f| f.path == path).map(|f| String::from_utf8_lossy(&f.bytes).into_owned());
    let config: toml::Table = match text("task.toml") {
        Some(toml_text) => {
            toml_text.parse().map_err(|e| Dropped { id: task_id_from(dir_name), reason: format!("task.toml is not valid TOML: {e}") })?
        }
        None => return Err(Dropped { id: task_id_from(dir_name), reason: "no task.toml: not a Harbor task directory".into() }),
    };
    let config = HarborConfig::from_table(&config);
    let name = config.name.clone().unwrap_or_else(|| dir_name.to_owned());
    let id = task_id_from(name.rsplit('/').next().unwrap_or(&name));
    let drop = |reason: String| Dropped { id: id.clone(), reason };

    let instruction = text("instruction.md").ok_or_else(|| drop("no instruction.md".into()))?;
    if files.iter().any(|f| f.path.starts_with("environment/docker-compose")) {
        return Err(drop("environment/docker-compose.yaml: multi-container environments are not supported".into()));
    }
    let dockerfile = match text("environment/Dockerfile") {
        Some(dockerfile) => dockerfile,
        None if config.docker_image.is_some() => {
            return Err(drop(format!(
                "the environment is the prebuilt image {}; no registry is reachable, so Whetstone needs environment/Dockerfile",
                config.docker_image.as_deref().unwrap_or_default()
            )));
        }
        None => return Err(drop("no environment/Dockerfile".into())),
    };
    if text("tests/test.sh").is_none() {
        return Err(drop("no tests/test.sh".into()));
    }
    let context: Vec<&TreeFile> =
        files.iter().filter(|f| f.path.starts_with("environment/") && f.path != "environment/Dockerfile").collect();
    let translated = translate_dockerfile(&dockerfile, &context).map_err(drop)?;

    let license = options
        .license
        .clone()
        .or_else(|| config.metadata_string("license"))
        .ok_or_else(|| drop("no licence: pass --license with the tasks' SPDX identifier".into()))?;
    let url = options
        .source_url
        .clone()
        .or_else(|| config.metadata_string("source"))
        .or_else(|| config.metadata_string("url"))
        .unwrap_or_else(|| format!("harbor:{dir_name}"));
    let verifier_timeout = config.verifier_timeout_secs.unwrap_or(DEFAULT_VERIFIER_TIMEOUT_SECS).max(1.0);
    let verifier_test = junit_id("test_harbor_verifier.py::test_harbor_verifier").map_err(|e| drop(e.to_string()))?;
    debug_assert_eq!(verifier_test, VERIFIER_TEST_ID);
    let spec = TaskToml {
        format: super::IMPORT_FORMAT,
        id: id.clone(),
        difficulty: config.metadata_string("difficulty").filter(|d| ["easy", "medium", "hard"].contains(&d.as_str())),
        source: SourceToml {
            project: name.clone(),
            version: config.metadata_string("version").unwrap_or_else(|| "unversioned".into()),
            license,
            url,
        },
        tests: TestsToml {
            command: format!("python3 -m pytest -c {VERIFIER_INI} --rootdir={HIDDEN_DIR} {VERIFIER_FILE}"),
            timeout_secs: verifier_timeout.ceil() as u64 + VERIFIER_SLACK_SECS,
            fail_to_pass: vec![verifier_test],
            pass_to_pass: Vec::new(),
        },
    };

    let mut task_files = vec![
        text_file("task.toml", &spec.to_toml()),
        text_file("instruction.md", &instruction),
        text_file("environment/Dockerfile", &translated.dockerfile),
        // Made by running the reference solution when the task is reproduced.
        text_file("gold.patch", ""),
        text_file(&format!("hidden/{VERIFIER_INI}"), "# The Harbor verifier bridge's own (empty) pytest configuration.\n[pytest]\n"),
        text_file(&format!("hidden/{VERIFIER_FILE}"), &verifier_test_file(&translated.workspace, &config.verifier_env, verifier_timeout)),
    ];
    for file in files.iter().filter(|f| f.path.starts_with("tests/")) {
        task_files.push(TreeFile { path: format!("hidden/{HIDDEN_DIR}/{}", file.path), ..file.clone() });
    }
    let mut notes = translated.notes;
    if translated.repo.is_empty() {
        // The format needs a repository with a file; the agent starts from an empty workspace.
        task_files.push(text_file("repo/.gitkeep", ""));
        notes.push("the workspace starts empty (repo/ holds only .gitkeep)".into());
    }
    for (path, file) in translated.repo {
        task_files.push(TreeFile { path: format!("repo/{path}"), executable: file.executable, bytes: file.bytes.clone() });
    }

    let solution_files: Vec<TreeFile> =
        files.iter().filter_map(|f| f.path.strip_prefix("solution/").map(|rest| TreeFile { path: rest.to_owned(), ..f.clone() })).collect();
    if solution_files.is_empty() {
        return Err(drop("no reference solution (solution/solve.sh): Whetstone makes the gold patch by running it".into()));
    }
    let command = if solution_files.iter().any(|f| f.path == "solve.sh") {
        vec!["bash".to_owned(), "/solution/solve.sh".to_owned()]
    } else {
        // Without a script, the solution's files are the solved workspace's.
        notes.push("solution/ has no solve.sh; its files are copied over the workspace".into());
        vec!["cp".to_owned(), "-R".to_owned(), "/solution/.".to_owned(), "/repo/".to_owned()]
    };
    let mut hints = script_hints("tests/test.sh", &text("tests/test.sh").unwrap_or_default(), "the tests run");
    hints.extend(script_hints("solution/solve.sh", &text("solution/solve.sh").unwrap_or_default(), "the solution runs"));
    let solution = Solution {
        files: solution_files,
        command,
        env: Vec::new(),
        timeout: config.agent_timeout_secs.map_or(DEFAULT_SOLUTION_TIMEOUT, |s| Duration::from_secs_f64(s.max(1.0))),
    };
    let mut candidate = Candidate::new(id, task_files, notes)?;
    candidate.hints = hints;
    candidate.solution = Some(solution);
    Ok(candidate)
}

fn text_file(path: &str, text: &str) -> TreeFile {
    TreeFile { path: path.into(), executable: path.ends_with(".sh"), bytes: text.as_bytes().to_vec() }
}

/// The parts of Harbor's `task.toml` an import uses. Harbor's schema has changed between
/// versions (`version = "1.0"` with flat metadata, `schema_version = "1.1"` with a `[task]`
/// table) and its metadata is free-form, so it is read leniently.
#[derive(Debug, Clone, Default)]
struct HarborConfig {
    name: Option<String>,
    metadata: toml::Table,
    verifier_timeout_secs: Option<f64>,
    verifier_env: BTreeMap<String, String>,
    agent_timeout_secs: Option<f64>,
    docker_image: Option<String>,
}

impl HarborConfig {
    fn from_table(table: &toml::Table) -> Self {
        let section = |name: &str| table.get(name).and_then(toml::Value::as_table).cloned().unwrap_or_default();
        let number = |t: &toml::Table, key: &str| t.get(key).and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)));
        let verifier = section("verifier");
        Self {
            name: section("task").get("name").and_then(toml::Value::as_str).map(str::to_owned),
            metadata: section("metadata"),
            verifier_timeout_secs: number(&verifier, "timeout_sec"),
            verifier_env: verifier
                .get("env")
                .and_then(toml::Value::as_table)
                .map(|env| env.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
                .unwrap_or_default(),
            agent_timeout_secs: number(&section("agent"), "timeout_sec"),
            docker_image: section("environment").get("docker_image").and_then(toml::Value::as_str).map(str::to_owned),
        }
    }

    fn metadata_string(&self, key: &str) -> Option<String> {
        self.metadata.get(key).and_then(toml::Value::as_str).map(str::to_owned)
    }
}

/// The Harbor Dockerfile on Whetstone's terms.
#[derive(Debug, Clone)]
struct Translated<'a> {
    dockerfile: String,
    /// The workspace (the last `WORKDIR`), absolute.
    workspace: String,
    /// Files the Dockerfile copied into the workspace, by path inside it.
    repo: BTreeMap<String, &'a TreeFile>,
    notes: Vec<String>,
}

/// Rewrites a Harbor Dockerfile: `FROM` becomes the base image, workspace `COPY`/`ADD`s
/// become `repo/`, and the links that keep Harbor's paths working come last. `context` are the
/// build context's files (paths start with `environment/`).
fn translate_dockerfile<'a>(text: &str, context: &[&'a TreeFile]) -> Result<Translated<'a>, String> {
    let mut kept = Vec::new();
    let mut from = None;
    let mut workdir = String::from("/");
    let mut copies: Vec<(String, &'a TreeFile)> = Vec::new();
    let mut notes = Vec::new();
    for instruction in logical_lines(text) {
        let (keyword, args) = instruction.split_once(char::is_whitespace).unwrap_or((&instruction, ""));
        let args = args.trim();
        match keyword.to_ascii_uppercase().as_str() {
            "FROM" => {
                if from.is_some() {
                    return Err("multi-stage Dockerfiles (a second FROM) are not supported".into());
                }
                let image = args.split_whitespace().find(|w| !w.starts_with("--")).unwrap_or_default();
                from = Some(image.to_owned());
            }
            // ARGs before FROM only parameterise the upstream image, which is replaced.
            "ARG" if from.is_none() => {}
            _ if from.is_none() => return Err(format!("{keyword} before FROM")),
            "WORKDIR" => {
                workdir = resolve(&workdir, args.trim_matches('"'));
                kept.push(instruction.clone());
            }
            "COPY" | "ADD" => copies.extend(copy_sources(keyword, args, &workdir, context)?),
            "ONBUILD" => return Err("ONBUILD is not supported".into()),
            _ => kept.push(instruction.clone()),
        }
    }
    let upstream = from.ok_or("environment/Dockerfile has no FROM")?;
    if workdir == "/" {
        return Err("environment/Dockerfile sets no WORKDIR; Whetstone needs the workspace directory the agent works in".into());
    }
    let mut repo = BTreeMap::new();
    for (target, file) in copies {
        let inside = target.strip_prefix(&format!("{workdir}/")).ok_or_else(|| {
            format!(
                "the Dockerfile copies {} to {target}, outside the workspace {workdir}; only the workspace can be \
                 carried over (as the task's repo/)",
                file.path.trim_start_matches("environment/")
            )
        })?;
        repo.insert(inside.to_owned(), file);
    }
    notes.push(format!("FROM {upstream} replaced by Whetstone's base image (Debian bookworm, its Python 3.11, pytest)"));
    let quoted = shell_quote(&workdir);
    let logs = shell_quote(LOGS_DIR);
    let mut dockerfile = format!(
        "ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\n\
         # Imported from a Harbor task by `whetstone tasks import harbor`. The upstream image\n\
         # ({upstream}) is replaced by Whetstone's base image; the files the upstream Dockerfile\n\
         # copied into {workdir} are the task's repo/, which Whetstone puts at /repo.\n\
         RUN apt-get update \\\n && apt-get install -y --no-install-recommends {COMPAT_PACKAGES} \\\n && rm -rf /var/lib/apt/lists/*\n\
         ENV PIP_BREAK_SYSTEM_PACKAGES=1\n"
    );
    for line in &kept {
        dockerfile.push_str(line);
        dockerfile.push('\n');
    }
    dockerfile.push_str(&format!(
        "USER root\n\
         # The workspace is the task's repository, /tests the hidden copy of Harbor's tests, and\n\
         # /logs scratch space (the root is read-only while tests run).\n\
         RUN set -e; \\\n \
         if [ -d {quoted} ] && [ -n \"$(ls -A {quoted})\" ]; then \\\n   \
         echo 'whetstone: the image build wrote files into the workspace {workdir}; they would be hidden by the task repository' >&2; exit 1; \\\n \
         fi; \\\n \
         rm -rf {quoted} /tests /logs; mkdir -p \"$(dirname {quoted})\"; \\\n \
         ln -s /repo {quoted}; ln -s /repo/{HIDDEN_DIR}/tests /tests; ln -s {logs} /logs\n\
         WORKDIR /repo\n"
    ));
    Ok(Translated { dockerfile, workspace: workdir, repo, notes })
}

/// Instructions with their continuation lines joined; comments and blank lines dropped.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head.trim_end());
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let line = std::mem::take(&mut current);
        if !line.trim().is_empty() {
            lines.push(line.trim().to_owned());
        }
    }
    if !current.trim().is_empty() {
        lines.push(current.trim().to_owned());
    }
    lines
}

/// `path` against the working directory `base`, normalised (`.` and `..` resolved).
fn resolve(base: &str, path: &str) -> String {
    let joined = if path.starts_with('/') { path.to_owned() } else { format!("{base}/{path}") };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Where each build-context file a `COPY`/`ADD` names lands (absolute paths in the image).
fn copy_sources<'a>(keyword: &str, args: &str, workdir: &str, context: &[&'a TreeFile]) -> Result<Vec<(String, &'a TreeFile)>, String> {
    let mut words: Vec<String> = if args.starts_with('[') {
        serde_json::from_str(args).map_err(|_| format!("cannot read `{keyword} {args}`"))?
    } else {
        args.split_whitespace().map(str::to_owned).collect()
    };
    words.retain(|w| {
        // --chown/--chmod do not matter to the repository; --link changes nothing here.
        !(w.starts_with("--chown") || w.starts_with("--chmod") || w == "--link")
    });
    if let Some(flag) = words.iter().find(|w| w.starts_with("--")) {
        return Err(format!("`{keyword} {flag}` is not supported (multi-stage builds and remote sources cannot be imported)"));
    }
    if words.len() < 2 {
        return Err(format!("`{keyword} {args}` names no source"));
    }
    let dest_raw = words.pop().unwrap_or_default();
    let dest = resolve(workdir, &dest_raw);
    // As Docker does: a destination that is a directory (the working directory, say) gets the
    // files inside it.
    let into_dir = dest_raw.ends_with('/') || dest_raw == "." || dest == workdir || words.len() > 1;
    let mut placed = Vec::new();
    for source in &words {
        if source.contains("://") {
            return Err(format!("{keyword} fetches {source}; builds reach only PyPI and the Debian mirror"));
        }
        let archive = [".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz"].iter().any(|ext| source.ends_with(ext));
        if keyword.eq_ignore_ascii_case("ADD") && archive {
            return Err(format!("ADD unpacks the archive {source}; unpack it into environment/ and COPY the files instead"));
        }
        let relative = resolve("/", source).trim_start_matches('/').to_owned();
        let prefix = if relative.is_empty() { "environment/".to_owned() } else { format!("environment/{relative}/") };
        let exact = format!("environment/{relative}");
        let glob = source.contains(['*', '?', '[']);
        let matcher = if glob {
            Some(
                globset::GlobBuilder::new(&exact)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| format!("bad pattern {source}: {e}"))?
                    .compile_matcher(),
            )
        } else {
            None
        };
        let mut found = false;
        for file in context {
            if let Some(matcher) = &matcher {
                if matcher.is_match(&file.path) {
                    let name = file.path.rsplit('/').next().unwrap_or_default();
                    placed.push((format!("{dest}/{name}"), *file));
                    found = true;
                }
            } else if file.path == exact {
                let name = file.path.rsplit('/').next().unwrap_or_default();
                let target = if into_dir { format!("{dest}/{name}") } else { dest.clone() };
                placed.push((target, *file));
                found = true;
            } else if let Some(inside) = file.path.strip_prefix(&prefix) {
                // A directory's contents, not the directory itself, land in the destination.
                placed.push((format!("{dest}/{inside}"), *file));
                found = true;
            }
        }
        if !found {
            return Err(format!("{keyword} names {source}, which is not in environment/"));
        }
    }
    Ok(placed)
}

/// The pytest file that runs Harbor's verifier: `tests/test.sh` from the workspace with the
/// task's verifier environment, then the reward decides.
fn verifier_test_file(workspace: &str, env: &BTreeMap<String, String>, timeout_secs: f64) -> String {
    let env_json = serde_json::to_string(env).unwrap_or_else(|_| "{}".into());
    let workspace_json = serde_json::to_string(workspace).unwrap_or_else(|_| "\"/repo\"".into());
    format!(
        r#""""Whetstone's bridge to this task's Harbor verifier (written by `whetstone tasks import harbor`).

Harbor grades by running tests/test.sh, which writes a reward to /logs/verifier/reward.json
or reward.txt; the reward decides, not the script's exit status. Whetstone grades by test
ids, so this one test runs the script as Harbor does and passes only on full reward (1).
The task image links the workspace to /repo, /tests to the hidden copy of the Harbor tests
next to this file, and /logs to scratch space.
"""

import json
import os
import pathlib
import shutil
import subprocess

WORKSPACE = {workspace_json}
VERIFIER_ENV = json.loads({env_literal})
TIMEOUT_SECS = {timeout_secs}
LOGS = pathlib.Path({logs_json})
# The grader's own settings for pytest; the verifier's scripts run as under Harbor.
GRADER_ONLY = ("PYTHONSAFEPATH", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")


def read_reward(verifier):
    """Harbor's reading: reward.json first (its `reward`, else every number in it must be
    full), then reward.txt."""
    as_json = verifier / "reward.json"
    if as_json.exists():
        data = json.loads(as_json.read_text())
        if isinstance(data, dict) and isinstance(data.get("reward"), (int, float)):
            return float(data["reward"])
        numbers = [v for v in data.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return min(numbers) if numbers else None
    as_text = verifier / "reward.txt"
    if as_text.exists():
        return float(as_text.read_text().strip())
    return None


def test_harbor_verifier():
    shutil.rmtree(LOGS, ignore_errors=True)
    (LOGS / "verifier").mkdir(parents=True)
    (LOGS / "agent").mkdir()
    env = {{k: v for k, v in os.environ.items() if k not in GRADER_ONLY}}
    env.update(VERIFIER_ENV)
    run = subprocess.run(
        ["bash", "/tests/test.sh"],
        cwd=WORKSPACE,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=TIMEOUT_SECS,
    )
    print(run.stdout.decode(errors="replace"))
    reward = read_reward(LOGS / "verifier")
    assert reward is not None, (
        f"tests/test.sh (exit {{run.returncode}}) wrote no reward to /logs/verifier/reward.json or reward.txt"
    )
    assert reward >= 1, f"reward {{reward}}: the verifier gives full marks (1) only to a solved task"
"#,
        env_literal = serde_json::to_string(&env_json).unwrap_or_else(|_| "\"{}\"".into()),
        logs_json = serde_json::to_string(LOGS_DIR).unwrap_or_default(),
    )
}

/// Lines of a script that need what Whetstone's sandboxes do not give (network, root at test
/// time), as hints for a drop reason.
fn script_hints(path: &str, script: &str, when: &str) -> Vec<String> {
    let mut hints = Vec::new();
    for (index, line) in script.lines().enumerate() {
        let code = line.split(" #").next().unwrap_or_default().trim();
        if code.starts_with('#') || code.is_empty() {
            continue;
        }
        let downloads =
            ["apt-get update", "apt update", "curl ", "wget ", "http://", "https://", "git clone"].iter().any(|w| code.contains(w));
        let installs =
            ["apt-get install", "apt install", "pip install", "pip3 install", "uv pip", "uvx ", "uv run", "uv add", "npm install"]
                .iter()
                .any(|w| code.contains(w));
        if downloads || installs {
            let what = if downloads { "downloads" } else { "installs software" };
            hints.push(format!(
                "{path} line {} {what} (`{}`), but {when} without network and not as root in Whetstone; \
                 install what it needs in environment/Dockerfile",
                index + 1,
                short(code)
            ));
        }
    }
    hints
}

fn short(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX { text.to_owned() } else { format!("{}…", text.chars().take(MAX).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> TreeFile {
        TreeFile { path: path.into(), executable: false, bytes: text.as_bytes().to_vec() }
    }

    #[test]
    fn dockerfile_copies_become_the_repository() {
        let context = [
            file("environment/app.py", "print(1)\n"),
            file("environment/data/a.csv", "a\n"),
            file("environment/data/b.csv", "b\n"),
            file("environment/conf/x.ini", "[x]\n"),
        ];
        let refs: Vec<&TreeFile> = context.iter().collect();
        let dockerfile = "# syntax=docker/dockerfile:1\nARG PY=3.12\nFROM python:${PY}-slim AS base\n\
            RUN apt-get update && \\\n    apt-get install -y tmux\nWORKDIR /app\nCOPY app.py .\n\
            COPY --chown=1000:1000 data/ ./data/\nCOPY [\"conf/x.ini\", \"/app/etc/x.ini\"]\nENV A=1\n";
        let translated = translate_dockerfile(dockerfile, &refs).expect("translates");
        assert_eq!(translated.workspace, "/app");
        assert_eq!(translated.repo.keys().map(String::as_str).collect::<Vec<_>>(), ["app.py", "data/a.csv", "data/b.csv", "etc/x.ini"]);
        let out = &translated.dockerfile;
        assert!(out.starts_with("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n"), "{out}");
        assert!(out.contains("RUN apt-get update && apt-get install -y tmux\n"), "{out}");
        assert!(out.contains("WORKDIR /app\n") && out.contains("ENV A=1\n"), "{out}");
        assert!(!out.lines().any(|l| l.starts_with("COPY") || l.starts_with("FROM python")), "{out}");
        assert!(out.contains("# (python:${PY}-slim) is replaced"), "the upstream image is named: {out}");
        assert!(out.contains("ln -s /repo /app; ln -s /repo/whetstone_harbor/tests /tests"), "{out}");
        assert!(out.ends_with("WORKDIR /repo\n"), "{out}");
    }

    #[test]
    fn what_cannot_carry_over_is_refused_with_a_reason() {
        let context = [file("environment/cfg.json", "{}"), file("environment/x.tar.gz", "")];
        let refs: Vec<&TreeFile> = context.iter().collect();
        for (dockerfile, words) in [
            ("FROM a\nFROM b\nWORKDIR /app\n", "multi-stage"),
            ("FROM a\nWORKDIR /app\nCOPY --from=build /x /app/x\n", "--from"),
            ("FROM a\nWORKDIR /app\nCOPY cfg.json /etc/app/cfg.json\n", "outside the workspace /app"),
            ("FROM a\nWORKDIR /app\nADD https://example.com/x /app/x\n", "fetches https://example.com/x"),
            ("FROM a\nWORKDIR /app\nADD x.tar.gz /app/\n", "unpacks the archive"),
            ("FROM a\nWORKDIR /app\nCOPY missing.txt /app/\n", "not in environment/"),
            ("FROM a\nRUN true\n", "no WORKDIR"),
            ("RUN true\n", "before FROM"),
        ] {
            let error = translate_dockerfile(dockerfile, &refs).expect_err(dockerfile);
            assert!(error.contains(words), "{dockerfile}: {error}");
        }
    }

    #[test]
    fn relative_paths_resolve_against_the_working_directory() {
        assert_eq!(resolve("/app", "src/../lib/."), "/app/lib");
        assert_eq!(resolve("/app", "/opt//x/"), "/opt/x");
        assert_eq!(resolve("/", "."), "/");
    }

    #[test]
    fn scripts_that_fetch_at_test_time_give_hints() {
        let script = "#!/bin/bash\n# comment with curl in it\napt-get update\napt-get install -y curl\n\
                      curl -LsSf https://astral.sh/uv/0.7.13/install.sh | sh\npytest /tests -rA\n";
        let hints = script_hints("tests/test.sh", script, "the tests run");
        assert_eq!(hints.len(), 3, "{hints:?}");
        assert!(hints[0].contains("line 3 downloads"), "{}", hints[0]);
        assert!(hints[1].contains("line 4 installs software"), "{}", hints[1]);
        assert!(hints[2].contains("line 5 downloads"), "{}", hints[2]);
    }

    #[test]
    fn harbor_task_toml_of_both_schemas_is_read() {
        let old: toml::Table =
            "version = \"1.0\"\n[metadata]\ndifficulty = \"easy\"\n[verifier]\ntimeout_sec = 120.0\n[agent]\ntimeout_sec = 300"
                .parse()
                .expect("toml");
        let config = HarborConfig::from_table(&old);
        assert_eq!((config.verifier_timeout_secs, config.agent_timeout_secs), (Some(120.0), Some(300.0)));
        assert_eq!(config.metadata_string("difficulty").as_deref(), Some("easy"));
        let new: toml::Table = "schema_version = \"1.1\"\n[task]\nname = \"org/my-task\"\n[verifier]\nenv = { API = \"x\" }\n[environment]\ndocker_image = \"img\"\n"
            .parse()
            .expect("toml");
        let config = HarborConfig::from_table(&new);
        assert_eq!(config.name.as_deref(), Some("org/my-task"));
        assert_eq!(config.verifier_env.get("API").map(String::as_str), Some("x"));
        assert_eq!(config.docker_image.as_deref(), Some("img"));
    }
}
