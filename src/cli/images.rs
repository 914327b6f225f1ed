//! `whetstone images`: build the sandbox base image and the task sets' environments ahead of
//! time, so the first run does not wait for them. The builds are `whetstone_sandbox`'s.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use whetstone::ui::Spinner;

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Task set directories whose environments to build.
    #[arg(default_values_os_t = [whetstone::defaults::task_set()])]
    sets: Vec<PathBuf>,
}

pub async fn run(args: ImagesArgs) -> Result<()> {
    let spinner = Spinner::new("connecting to Docker");
    let sandbox = whetstone_sandbox::Sandbox::connect("images").await?;
    let base = sandbox.ensure_base_image(&spinner).await?;
    let mut built = vec![base.to_string()];
    for path in args.sets {
        let set = whetstone_tasks::TaskSet::load(&path).with_context(|| format!("task set {} is invalid", path.display()))?;
        for task in &set.tasks {
            let image = sandbox.ensure_environment_image(&task.environment(), &spinner).await?;
            if !built.contains(&image.to_string()) {
                built.push(image.to_string());
            }
        }
    }
    spinner.done(format!("images ready: {}", built.join(", ")));
    Ok(())
}
