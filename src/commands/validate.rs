//! `trailproof validate`: the digest chains of every region, then every log file's hash.

use crate::error::Result;
use crate::report::validate::ValidateReport;

use super::{LogPhase, Outcome};

/// Validated settings of `validate`: a log phase that hashes without parsing, digests
/// required.
pub type Config = LogPhase;

pub async fn run(config: Config) -> Result<Outcome> {
    let r = config.run().await?;
    let report = ValidateReport::new(&r.outcome, &r.integrity, &r.dir);
    report.write(r.staging.path())?;
    crate::report::pack::write(r.staging.path())?;
    r.staging.commit()?;
    let (dir, line) = super::finish(
        &r.dir,
        r.publish.as_ref(),
        &r.aws,
        r.summary_line,
        "validate",
        (0, 0),
    )
    .await?;
    let report = report.with_dir(&dir);
    crate::report::print(r.format, &report)?;
    if let Some(line) = line {
        eprintln!("{line}");
    }
    Ok(Outcome {
        exit_code: report.exit_code,
    })
}
