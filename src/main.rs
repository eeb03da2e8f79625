//! The `trailproof` binary: parse, set up logging and the runtime, run, map to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use trailproof::cli::Cli;
use trailproof::commands::{self, Invocation};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // Without -v the SDK's credential and region chains stay quiet: a chain that finds
    // nothing (no IMDS off EC2) or fails (an expired SSO session) is the run's one finding,
    // NO_CREDENTIALS or SSO_TOKEN_EXPIRED, not warnings carrying the SDK's error chain.
    let quiet_chains = match cli.verbose {
        0 => concat!(
            ",aws_config::imds=off,aws_config::meta::credentials=off",
            ",aws_config::meta::region=off,aws_config::profile::credentials=off"
        ),
        _ => "",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("trailproof={default_level},warn{quiet_chains}"))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();

    let invocation = match Invocation::try_from(cli.command) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trailproof: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let run = async {
        tokio::select! {
            done = commands::run(invocation) => Some(done),
            _ = tokio::signal::ctrl_c() => None,
        }
    };
    match runtime.block_on(run) {
        Some(Ok(outcome)) => ExitCode::from(outcome.exit_code),
        Some(Err(e)) => fail(e),
        // The run was dropped: a half-written evidence directory is removed, and says so.
        None => {
            eprintln!("trailproof: interrupted");
            ExitCode::from(130)
        }
    }
}

fn fail(e: trailproof::Error) -> ExitCode {
    let full = format!("{:#}", anyhow::Error::new(e));
    // A failure of the caller's setup (no credentials, an expired SSO session, rejected keys,
    // no endpoint) is the same whatever the run was doing: its reason line alone, the context
    // under -v.
    let setup = trailproof::aws::SETUP_REASONS
        .iter()
        .filter_map(|r| full.find(&format!("{r}: ")))
        .min();
    match setup {
        Some(at) => {
            tracing::info!(error = %full, "The run failed.");
            eprintln!("trailproof: {}", &full[at..]);
        }
        None => eprintln!("trailproof: {full}"),
    }
    ExitCode::from(2)
}
