//! `trailproof scan`: the log phase alone over a bucket or a local copy, with no CloudTrail
//! call but `ListPublicKeys`.

use crate::error::Result;
use crate::report::summary::{ScanView, Summary};

use super::{LogPhase, Outcome};

/// Validated settings of `scan`.
#[derive(Debug, Clone)]
pub struct Config {
    pub run: LogPhase,
    /// What was asked, as recorded in `summary.json`.
    pub parameters: serde_json::Value,
}

pub async fn run(config: Config) -> Result<Outcome> {
    let (staging, r) = config.run.run().await?;
    let code = r.outcome.evidence.exit_code();
    let summary = Summary::new(
        "scan",
        Some(&r.outcome),
        r.outcome.evidence.as_str().to_owned(),
        code,
        config.parameters,
        None,
    );
    summary.write(staging.path())?;
    let (dir, line) = super::commit(staging, &r, "scan").await?;
    let view = ScanView {
        outcome: &r.outcome,
        summary: &summary,
        dir: &dir,
    };
    super::print(r.format, &view, line)?;
    Ok(Outcome { exit_code: code })
}
