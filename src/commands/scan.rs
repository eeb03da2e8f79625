//! `trailproof scan`: the log phase alone over a bucket or a local copy, with no CloudTrail
//! call but `ListPublicKeys`.

use crate::aws::AwsSettings;
use crate::error::Result;
use crate::pipeline::Options;
use crate::report::Format;
use crate::report::summary::{ScanView, Summary};
use crate::source::Source;

use super::{Digests, Outcome};

/// Validated settings of `scan`.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: Source,
    pub format: Format,
    pub pipeline: Options,
    pub digests: Digests,
    pub aws: AwsSettings,
    /// What was asked, as recorded in `summary.json`.
    pub parameters: serde_json::Value,
}

pub async fn run(config: Config) -> Result<Outcome> {
    let Config {
        source,
        format,
        pipeline,
        digests,
        aws,
        parameters,
    } = config;
    let dir = pipeline.out_dir.clone();
    let (staging, _, outcome) = super::log_phase(&source, &aws, &digests, pipeline).await?;
    let code = outcome.evidence.exit_code();
    let summary = Summary::new(
        "scan",
        Some(&outcome),
        outcome.evidence.as_str().to_owned(),
        code,
        parameters,
        None,
    );
    summary.write(staging.path())?;
    staging.commit()?;
    let view = ScanView {
        outcome: &outcome,
        summary: &summary,
        dir: &dir,
    };
    crate::report::print(format, &view)?;
    Ok(Outcome { exit_code: code })
}
