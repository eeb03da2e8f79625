//! `trailproof check`: the configuration verdict.

use crate::aws::{AwsSettings, CheckClients};
use crate::check::CheckOptions;
use crate::error::Result;
use crate::report::Format;
use crate::report::check::CheckView;

use super::Outcome;

/// Validated settings of `check`.
#[derive(Debug, Clone)]
pub struct Config {
    pub aws: AwsSettings,
    pub format: Format,
    pub options: CheckOptions,
}

pub async fn run(config: Config) -> Result<Outcome> {
    let sdk = crate::aws::sdk_config(&config.aws).await;
    let clients = CheckClients::from_sdk_config(&sdk);
    let (facts, eval) = crate::check::run(&clients, &config.options).await;
    let view = CheckView {
        facts: &facts,
        eval: &eval,
        opts: &config.options,
    };
    crate::report::print(config.format, &view)?;
    Ok(Outcome {
        exit_code: eval.verdict.exit_code(),
    })
}
