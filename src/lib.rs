//! trailproof: prove that CloudTrail really records every enabled region.
//!
//! The binary is a thin shell over [`run`]. Modules:
//! - [`check`]: the configuration verdict (CIS AWS 3.1 / Security Hub CloudTrail.1), as a
//!   pure decision procedure over facts gathered from AWS;
//! - [`aws`]: one `SdkConfig` for every client, and failed calls classified as data;
//! - [`regions`]: the region scope (discovery, partitions, fallbacks).

pub mod aws;
pub mod check;
pub mod cli;
pub mod decode;
pub mod error;
pub mod layout;
pub mod regions;
pub mod time;

use std::io::Write;

pub use error::{Error, ErrorKind, Result};

use crate::cli::{CheckConfig, Cli, Command, Format};

/// What a command concluded, for the exit code: 0 proven/pass, 1 findings, 2 error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub exit_code: u8,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Check(args) => run_check(CheckConfig::try_from(args)?).await,
    }
}

async fn run_check(config: CheckConfig) -> Result<Outcome> {
    let sdk = aws::sdk_config(&config.aws).await;
    let clients = aws::CheckClients::from_sdk_config(&sdk);
    let (facts, eval) = check::run(&clients, &config.options).await;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = match config.format {
        Format::Json => check::render::write_json(
            &mut out,
            &check::render::CheckReport::new(&facts, &eval, &config.options),
        ),
        Format::Text => check::render::write_text(&mut out, &facts, &eval, &config.options),
    }
    .and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        // A closed pipe (`| head`) is not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            return Err(Error::with_source(
                ErrorKind::Output,
                "cannot write the report to stdout",
                e,
            ));
        }
    }
    Ok(Outcome {
        exit_code: eval.verdict.exit_code(),
    })
}
