//! `trailproof canary send`: the probes' calls, written to a canary file.

use std::io::Write;
use std::path::PathBuf;

use crate::aws::{AwsSettings, CheckClients};
use crate::canary::{CanaryFile, Sent};
use crate::check::CheckOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::report::{Format, Render};

use super::Outcome;

/// Validated settings of `canary send`.
#[derive(Debug, Clone)]
pub struct Config {
    pub out: PathBuf,
    /// `--regions` / `--exclude-regions` (the scope, as `check` resolves it).
    pub options: CheckOptions,
    pub global_region: Option<String>,
    pub format: Format,
    pub aws: AwsSettings,
}

pub async fn run(config: Config) -> Result<Outcome> {
    let sdk = crate::aws::sdk_config(&config.aws).await;
    let file = send(&sdk, &config.options, config.global_region.clone()).await?;
    file.write(&config.out)?;
    let failed = file
        .probes
        .iter()
        .filter(|p| p.outcome == Sent::Failed)
        .count();
    crate::report::print(
        config.format,
        &SendView {
            file: &file,
            path: &config.out,
        },
    )?;
    Ok(Outcome {
        exit_code: u8::from(failed > 0),
    })
}

/// Resolves the scope (the caller's account and partition, the regions as `check` finds
/// them) and makes the calls.
pub async fn send(
    sdk: &aws_config::SdkConfig,
    options: &CheckOptions,
    global_region: Option<String>,
) -> Result<CanaryFile> {
    let clients = CheckClients::from_sdk_config(sdk);
    let (identity, regions) = crate::check::collect::scope(&clients, options).await;
    let identity = identity.map_err(|f| {
        Error::new(
            ErrorKind::Aws,
            format!("cannot tell whose account to probe: {}", f.summary()),
        )
    })?;
    if let Some(f) = &regions.discovery_failure {
        tracing::warn!(error = %f.summary(), "Cannot list the enabled regions; probing the partition's default regions.");
    }
    let plan = crate::canary::send::Plan {
        global_region: global_region
            .unwrap_or_else(|| crate::regions::global_region(&identity.partition).to_owned()),
        account_id: identity.account_id,
        partition: identity.partition,
        regions: regions.names().map(str::to_owned).collect(),
        marker: crate::canary::new_marker(),
    };
    crate::canary::send::send(sdk, plan).await
}

/// What `canary send` prints.
struct SendView<'a> {
    file: &'a CanaryFile,
    path: &'a std::path::Path,
}

impl Render for SendView<'_> {
    fn text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let f = self.file;
        let failed: Vec<_> = f
            .probes
            .iter()
            .filter(|p| p.outcome == Sent::Failed)
            .collect();
        writeln!(
            out,
            "canary {}: {} probes sent to account {} at {} ({} answered, {} failed)",
            f.marker,
            f.probes.len(),
            f.account_id,
            f.sent_at,
            f.probes.len() - failed.len(),
            failed.len()
        )?;
        for p in failed {
            writeln!(
                out,
                "  FAILED {} {} {}:{}: {}",
                p.region,
                p.kind.as_str(),
                p.event_source,
                p.event_name,
                p.error.as_deref().unwrap_or("")
            )?;
        }
        writeln!(
            out,
            "written to {}; then: trailproof verify --canary {} (CloudTrail delivers in about 5 minutes)",
            self.path.display(),
            self.path.display()
        )
    }

    fn json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        crate::report::json(out, self.file)
    }
}
