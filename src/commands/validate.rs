//! `trailproof validate`: the digest chains of every region, then every log file's hash.

use crate::error::Result;
use crate::report::validate::ValidateReport;

use super::{LogPhase, Outcome};

/// Validated settings of `validate`: a log phase that hashes without parsing, digests
/// required.
pub type Config = LogPhase;

pub async fn run(config: Config) -> Result<Outcome> {
    let (staging, r) = config.run().await?;
    let report = ValidateReport::new(&r.outcome, &r.integrity, &r.dir);
    report.write(staging.path())?;
    let (dir, line) = super::commit(staging, &r, "validate").await?;
    let report = report.with_dir(&dir);
    super::print(r.format, &report, line)?;
    Ok(Outcome {
        exit_code: report.exit_code,
    })
}
