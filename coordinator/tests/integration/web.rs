//! The dashboard in a real browser: a coordinator with a finished round in it (three tasks,
//! two agents, three validators of which one lies), its pages opened in headless Chromium
//! (Debian's `chromium`), what each page shows checked in the DOM the browser built, every
//! link on them followed, and a screenshot of each saved under
//! `target/tmp/web-pages/` for a person to look at. Then the visibility rule: a run's log,
//! LLM calls and patch are hidden from the public pages as from unsigned gRPC, shown only
//! when the operator says so, and hostile text in them (and in an agent's version) stays text.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::{Method, StatusCode};
use tempfile::TempDir;
use whetstone_chain::wallet::dev::DevKey;
use whetstone_proto::job::{Capability, GradeAssignment};
use whetstone_proto::pb;
use whetstone_tasks::AgentPackage;

use crate::support::{CannedRunner, CannedValidator, Harness, call};

/// Markup an agent's author or its output might try to slip into the page.
const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// Headless Chromium with a profile of its own, saving screenshots to `shots`.
struct Browser {
    profile: TempDir,
    shots: PathBuf,
}

impl Browser {
    fn new() -> Self {
        let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-pages");
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        Self { profile: tempfile::tempdir().expect("browser profile dir"), shots }
    }

    /// Loads `url`, saves `<name>.png` (1280 wide, `height` tall) and returns the DOM as the
    /// browser built it.
    async fn open(&self, url: &str, name: &str, height: u32) -> String {
        let shot = self.shots.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&shot);
        let chromium = std::env::var("WHETSTONE_CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let run = tokio::process::Command::new(&chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--no-first-run"])
            .arg(format!("--user-data-dir={}", self.profile.path().display()))
            .arg(format!("--window-size=1280,{height}"))
            .arg(format!("--screenshot={}", shot.display()))
            .arg("--dump-dom")
            .arg(url)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(90), run).await.expect("chromium answers within 90 s").unwrap_or_else(|e| {
            panic!("cannot start {chromium} ({e}): install Debian's chromium (`apt-get install chromium`; .ci/run does)")
        });
        assert!(output.status.success(), "chromium failed on {url}: {}", String::from_utf8_lossy(&output.stderr));
        assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000), "chromium saved a screenshot of {url} at {}", shot.display());
        String::from_utf8(output.stdout).expect("the DOM is UTF-8")
    }
}

/// Every same-site link target on a page (`href="/…"`), deduplicated.
fn links(dom: &str) -> Vec<String> {
    let mut found: Vec<String> = dom.split("href=\"").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_owned).collect();
    found.sort();
    found.dedup();
    for link in &found {
        assert!(link.starts_with('/') || link.starts_with("data:"), "a link leaves the coordinator (no CDN, works offline): {link}");
    }
    assert!(!dom.contains("src=\"http"), "nothing is loaded from elsewhere");
    found.retain(|l| l.starts_with('/'));
    found
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// An agent of Dave's whose version string is markup.
fn hostile_agent(dir: &Path) -> AgentPackage {
    std::fs::write(
        dir.join("agent.toml"),
        format!("name = \"shouty\"\nversion = \"{}\"\nentrypoint = [\"python3\", \"main.py\"]\n", HOSTILE.replace('"', "\\\"")),
    )
    .expect("manifest");
    std::fs::write(
        dir.join("main.py"),
        "import os, sys\n\nfor root, _, files in os.walk('.'):\n    for name in sorted(files):\n        print(os.path.join(root, name), file=sys.stderr)\n",
    )
    .expect("agent code");
    AgentPackage::from_dir(dir).expect("the hostile agent packages")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_finished_round_in_a_real_browser_and_hides_what_miners_may_not_see() {
    let mut harness = Harness::start_with(|config| {
        config.solve.listen = Some(([127, 0, 0, 1], 0).into());
        config.grading = whetstone_coordinator::GradingConfig { replicas: 3, max_disputes: 0, audit_fraction: 0.0 };
    })
    .await;
    let tasks = harness.publish_tasks(3).await;
    let noop = harness.submit_agent("noop").await;
    let dir = tempfile::tempdir().expect("agent dir");
    let shouty = hostile_agent(dir.path());
    let request = pb::SubmitAgentRequest {
        hotkey: DevKey::Dave.address().into(),
        package: shouty.bundle.to_tar().expect("tar"),
        ..Default::default()
    };
    harness.submit(request).await.expect("dave submits");
    // The truth: noop solves the first task, shouty the first two; nobody the third. Charlie
    // calls everything resolved and is outvoted.
    let truth = {
        let (noop, shouty, tasks) = (noop.clone(), shouty.digest().clone(), tasks.clone());
        move |grade: &GradeAssignment| (grade.agent == noop && grade.task == tasks[0]) || (grade.agent == shouty && grade.task != tasks[2])
    };
    // The runner's name is in every run's log and patch.
    let _runner = harness.spawn_worker("runner", Capability::RunAgent, 3, Arc::new(CannedRunner::completing(HOSTILE)));
    let honest = |key| Arc::new(CannedValidator::with_rule(key, truth.clone()));
    let _a = harness.spawn_worker_as(DevKey::Alice, "v-alice", Capability::Grade, 3, honest(DevKey::Alice));
    let _f = harness.spawn_worker_as(DevKey::Ferdie, "v-ferdie", Capability::Grade, 3, honest(DevKey::Ferdie));
    let liar = Arc::new(CannedValidator::with_rule(DevKey::Charlie, |_| true));
    let _c = harness.spawn_worker_as(DevKey::Charlie, "v-liar", Capability::Grade, 3, liar);
    harness.wait_for_progress("six runs graded three times", |p| p.runs_done == 6 && p.grades_done == 18).await;

    let url = harness.server.solve_url.clone().expect("the HTTP port");
    let browser = Browser::new();

    // The leaderboard: both agents ranked, shouty first; every link on it works.
    let board = browser.open(&format!("{url}/"), "leaderboard", 900).await;
    assert!(board.contains("<h1>Leaderboard</h1>"), "{board}");
    assert_eq!(count(&board, "<td class=\"num rank\">"), 2, "one row per agent: {board}");
    let first_row = board.find(">shouty</a>").expect("shouty is on the board");
    assert!(first_row < board.find(">noop</a>").expect("noop is on the board"), "the better agent ranks first");
    assert!(board.contains(">2 / 3</td>") && board.contains(">1 / 3</td>"), "resolved counts: {board}");
    assert!(board.contains("66.7%") && board.contains("33.3%"), "scores as the consensus computes them");
    // Three runs at $0.000412 each: shouty's over two resolved tasks, noop's over one.
    assert!(board.contains(">$0.000618<") && board.contains(">$0.001236<"), "cost per resolved task: {board}");
    assert!(board.contains("does not follow the subnet's chain"), "no incentive without a chain view, and the page says why");
    assert!(!board.contains("<img"), "an agent's version is text, never markup: {board}");
    let mut visited = Vec::new();
    for link in links(&board) {
        let (status, _) = call(Method::GET, &format!("{url}{link}"), None, None, &[]).await;
        assert_eq!(status, StatusCode::OK, "{link} from the leaderboard");
        visited.push(link);
    }
    let agent_link = format!("/agents/{noop}");
    assert!(visited.contains(&agent_link), "the board links each agent: {visited:?}");
    for page in ["/tasks", "/validators", "/assets/style.css"] {
        assert!(visited.iter().any(|v| v == page), "the board links {page}: {visited:?}");
    }

    // The agent page: heat map (three validators and the consensus), score chart, its runs.
    let agent = browser.open(&format!("{url}{agent_link}"), "agent", 1400).await;
    assert!(agent.contains("<svg class=\"chart heatmap\""), "a heat map: {agent}");
    assert_eq!(
        count(&agent, "class=\"cell resolved\""),
        1 + 1 + 1 + 3,
        "Alice, Ferdie and the consensus resolve one task, the liar all three"
    );
    assert!(agent.contains("<svg class=\"chart line-chart\"") && agent.contains("<path class=\"line\""), "a score-over-time chart");
    let runs: Vec<String> = links(&agent).into_iter().filter(|l| l.starts_with("/runs/")).collect();
    assert_eq!(runs.len(), 3, "one run per task: {runs:?}");
    for link in links(&agent) {
        let (status, _) = call(Method::GET, &format!("{url}{link}"), None, None, &[]).await;
        assert_eq!(status, StatusCode::OK, "{link} from the agent page");
    }

    // The run page, public: verdicts with their validators and signatures; the work hidden.
    // Noop's run of the third task: the honest two say unresolved, the liar resolved.
    let records = harness.scores().runs(pb::RunsRequest { agent_digest: noop.to_string() }).await.expect("runs").into_inner().runs;
    let disputed = records.iter().find(|r| r.task_digest == tasks[2].as_str()).expect("noop's run of the third task");
    let run_link = &format!("/runs/{}", disputed.run_id);
    assert!(runs.contains(run_link), "the agent page links it: {runs:?}");
    let run = browser.open(&format!("{url}{run_link}"), "run-public", 1000).await;
    assert_eq!(count(&run, "✓ verified"), 3, "three signed verdicts, each verified: {run}");
    assert!(run.contains("dissents"), "the liar's dissent shows");
    for key in [DevKey::Alice, DevKey::Ferdie, DevKey::Charlie] {
        assert!(run.contains(key.address()), "each verdict names its validator");
    }
    assert!(run.contains("whetstone runs ") && run.contains("--wallet.name"), "the page says how the miner reads the rest");
    assert!(!run.contains("worked on") && !run.contains("canned run by"), "no patch or log on a public page: {run}");

    let tasks_page = browser.open(&format!("{url}/tasks"), "tasks", 1300).await;
    assert!(tasks_page.contains("<svg class=\"chart bars\"") && tasks_page.contains("<svg class=\"chart heatmap\""));
    let nobody = &tasks_page[tasks_page.find("<h2>Nobody solves</h2>").expect("section")..];
    assert!(nobody[..nobody.find("</section>").expect("end")].contains(&starter_id(2)), "nobody solves the third task");
    let everybody = &tasks_page[tasks_page.find("<h2>Everybody solves</h2>").expect("section")..];
    assert!(everybody[..everybody.find("</section>").expect("end")].contains(&starter_id(0)), "everybody solves the first");

    let validators = browser.open(&format!("{url}/validators"), "validators", 1000).await;
    assert!(validators.contains("<svg class=\"chart bars\""));
    assert!(validators.contains("50.0% (3 of 6)"), "the liar agrees on half: {validators}");
    assert_eq!(count(&validators, "100.0% (6 of 6)"), 2, "the honest validators agree on all");
    for link in links(&validators) {
        let (status, _) = call(Method::GET, &format!("{url}{link}"), None, None, &[]).await;
        assert_eq!(status, StatusCode::OK, "{link} from the validators page");
    }

    // Unknown pages are an HTML 404 that leads back.
    let (status, body) = call(Method::GET, &format!("{url}/runs/no-such-run"), None, None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("Back to the leaderboard"));
    let (status, _) = call(Method::GET, &format!("{url}/agents/not-a-digest"), None, None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The operator opens runs' details (devnet does): the patch as a coloured diff, the LLM
    // calls with their cost, the log; the runner's hostile name is text everywhere.
    harness.config.web.show_run_details = true;
    harness.restart().await;
    let url = harness.server.solve_url.clone().expect("the HTTP port");
    let (status, raw) = call(Method::GET, &format!("{url}{run_link}"), None, None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let raw = String::from_utf8(raw).expect("UTF-8");
    assert!(!raw.contains(HOSTILE), "hostile text is escaped in the HTML sent");
    let run = browser.open(&format!("{url}{run_link}"), "run-details", 1500).await;
    assert!(run.contains("<pre class=\"diff\">") && run.contains("<span class=\"file\">diff --git a/toolz/itertoolz.py"), "{run}");
    assert!(run.contains("&lt;img src=x onerror=alert(1)&gt; worked on"), "the patch shows the runner's text as text: {run}");
    assert!(run.contains("canned run by &lt;img"), "the log too");
    assert!(!run.contains("<img"), "no element was injected: {run}");
    assert!(run.contains("$0.000412") && run.contains(">429<"), "LLM calls with cost and status");
}

/// The id of the `index`-th starter task.
fn starter_id(index: usize) -> String {
    crate::support::starter_tasks(index + 1)[index].spec.id.clone()
}
