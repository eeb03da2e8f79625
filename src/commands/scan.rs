//! `trailproof scan`: the log phase alone over a bucket or a local copy, with no CloudTrail
//! call but `ListPublicKeys`.

use crate::aws::AwsSettings;
use crate::error::Result;
use crate::pipeline::Options;
use crate::report::Format;
use crate::report::staging::Staging;
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
        mut pipeline,
        digests,
        aws,
        parameters,
    } = config;
    let dir = pipeline.out_dir.clone();
    let staging = Staging::begin(&dir)?;
    pipeline.out_dir = staging.path().to_owned();
    let (s3, clients) = super::clients(&source, &aws).await;
    pipeline.integrity = Some(
        digests
            .collect(&source, s3.as_ref(), clients.as_ref(), &pipeline)
            .await?,
    );
    let outcome = crate::pipeline::run(&source, s3, pipeline).await?;
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
