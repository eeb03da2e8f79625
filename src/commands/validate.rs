//! `trailproof validate`: the digest chains of every region, then every log file's hash.

use crate::aws::AwsSettings;
use crate::error::Result;
use crate::pipeline::Options;
use crate::report::Format;
use crate::report::validate::ValidateReport;
use crate::source::Source;

use super::{Digests, Outcome};

/// Validated settings of `validate`.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: Source,
    pub format: Format,
    /// The pipeline hashes without parsing.
    pub pipeline: Options,
    pub digests: Digests,
    pub aws: AwsSettings,
}

pub async fn run(config: Config) -> Result<Outcome> {
    let Config {
        source,
        format,
        pipeline,
        digests,
        aws,
    } = config;
    let dir = pipeline.out_dir.clone();
    let (staging, found, outcome) = super::log_phase(&source, &aws, &digests, pipeline).await?;
    let report = ValidateReport::new(&outcome, &found, &dir);
    report.write(staging.path())?;
    staging.commit()?;
    crate::report::print(format, &report)?;
    Ok(Outcome {
        exit_code: report.exit_code,
    })
}
