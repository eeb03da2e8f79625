//! `trailproof validate`: the digest chains of every region, then every log file's hash.

use crate::aws::AwsSettings;
use crate::error::Result;
use crate::pipeline::Options;
use crate::report::Format;
use crate::report::staging::Staging;
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
        mut pipeline,
        digests,
        aws,
    } = config;
    let dir = pipeline.out_dir.clone();
    let staging = Staging::begin(&dir)?;
    pipeline.out_dir = staging.path().to_owned();
    let (s3, clients) = super::clients(&source, &aws).await;
    let found = digests
        .collect(&source, s3.as_ref(), clients.as_ref(), &pipeline)
        .await?;
    pipeline.integrity = Some(found.clone());
    let outcome = crate::pipeline::run(&source, s3, pipeline).await?;
    let report = ValidateReport::new(&outcome, &found, &dir);
    report.write(staging.path())?;
    staging.commit()?;
    crate::report::print(format, &report)?;
    Ok(Outcome {
        exit_code: report.exit_code,
    })
}
