//! `trailproof scan`: the log phase alone over a bucket or a local copy, with no CloudTrail
//! call but `ListPublicKeys`.

use crate::error::Result;
use crate::report::summary::{ScanView, Summary};

use super::incremental::{Incremental, Ran};
use super::{LogPhase, Outcome};

/// Validated settings of `scan`.
#[derive(Debug, Clone)]
pub struct Config {
    pub run: LogPhase,
    /// What was asked, as recorded in `summary.json`.
    pub parameters: serde_json::Value,
    /// `--state`: run incrementally.
    pub state: Option<crate::state::Settings>,
}

pub async fn run(config: Config) -> Result<Outcome> {
    let Config {
        mut run,
        mut parameters,
        state,
    } = config;
    let mut incremental = Incremental::open(state, &run.aws).await?;
    if let Some(inc) = &mut incremental {
        inc.plan(&mut run.pipeline, &run.source, &mut parameters)?;
    }
    let (staging, r) = run.run().await?;
    let mut code = r.outcome.evidence.exit_code();
    if let Some(inc) = &incremental {
        code = inc.exit_code(code);
    }
    let summary = Summary::new(
        "scan",
        Some(&r.outcome),
        r.outcome.evidence.as_str().to_owned(),
        code,
        parameters,
        None,
    );
    summary.write(staging.path())?;
    let (dir, mut line) = super::commit(staging, &r, "scan").await?;
    let advanced = match incremental {
        Some(inc) => {
            let ran = Ran {
                command: "scan",
                outcome: &r.outcome,
                integrity: Some(&r.integrity),
                verdict: r.outcome.evidence.as_str(),
                exit_code: code,
                shown: &dir,
            };
            inc.advance(ran, &mut line).await
        }
        None => Ok(()),
    };
    let view = ScanView {
        outcome: &r.outcome,
        summary: &summary,
        dir: &dir,
    };
    super::print(r.format, &view, line)?;
    Ok(Outcome {
        exit_code: super::incremental::exit_code(code, advanced),
    })
}
