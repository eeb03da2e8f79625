//! deploy/ and the Dockerfile, checked with what runs here (no container engine does):
//! `scripts/check_deploy.py` holds the ECS and Scheduler documents against botocore's service
//! models, creates the IAM policy on the emulator (its policy grammar), and checks the CronJob
//! and the Dockerfile's structure; each deployment's command line then goes through
//! trailproof's own parser and validation, as the container would run it.

use clap::Parser;

use crate::util::endpoint;

#[test]
fn every_deployment_file_is_valid_and_runs_a_command_trailproof_accepts() {
    let python = std::env::var("TRAILPROOF_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new(python)
        .arg(format!("{root}/scripts/check_deploy.py"))
        .arg(root)
        .arg(endpoint())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Vec<String>> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "the CronJob's and the ECS task's command lines"
    );
    for args in lines {
        let argv = std::iter::once("trailproof".to_owned()).chain(args.iter().cloned());
        let cli =
            trailproof::cli::Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let inv = trailproof::commands::Invocation::try_from(cli.command)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let trailproof::commands::Invocation::Verify(v) = inv else {
            panic!("{args:?} is not verify");
        };
        assert!(
            v.pipeline.publish.is_some(),
            "{args:?}: evidence not published to S3"
        );
        assert!(v.pipeline.summary_line);
        let state = v
            .state
            .as_ref()
            .unwrap_or_else(|| panic!("{args:?}: no --state"));
        assert!(
            matches!(state.location, trailproof::state::Location::S3 { .. }),
            "{args:?}: the state is not on S3"
        );
        assert_eq!(v.pipeline.max_silence_hours, Some(6));
    }
}
