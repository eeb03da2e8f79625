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
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let roles: Vec<&str> = lines.iter().map(|l| l["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        ["daily", "daily", "shard", "merge", "shard", "merge"],
        "the CronJob's and the ECS task's daily runs, AWS Batch's and the Indexed Job's shards and merges"
    );
    for line in &lines {
        let mut args: Vec<String> = line["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        if line["role"] == "shard" {
            // The engine gives the index; here shard 3 of N stands in for it.
            let i = args
                .iter()
                .position(|a| a == "--shards")
                .expect("--shards N");
            let n = args[i + 1].clone();
            args.splice(i..i + 2, ["--shard".to_owned(), format!("3/{n}")]);
        }
        let argv = std::iter::once("trailproof".to_owned()).chain(args.iter().cloned());
        let cli =
            trailproof::cli::Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let inv = trailproof::commands::Invocation::try_from(cli.command)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        match (line["role"].as_str().unwrap(), inv) {
            ("daily", trailproof::commands::Invocation::Verify(v)) => {
                assert!(
                    v.pipeline.publish.is_some(),
                    "{args:?}: evidence not published to S3"
                );
                assert!(v.pipeline.summary_line);
                assert_eq!(v.pipeline.max_silence_hours, Some(6));
                let state = v
                    .state
                    .as_ref()
                    .unwrap_or_else(|| panic!("{args:?}: no --state"));
                assert!(
                    matches!(state.location, trailproof::state::Location::S3 { .. }),
                    "{args:?}: the state is not on S3"
                );
            }
            ("shard", trailproof::commands::Invocation::Scan(s)) => {
                let shard = s.run.pipeline.scope.shard.expect("a shard");
                assert_eq!(shard.index, 3);
                assert!(s.run.pipeline.publish.is_some(), "{args:?}");
                assert!(s.run.pipeline.window.bounds().is_some(), "{args:?}");
                assert_eq!(
                    s.run.digests.mode,
                    trailproof::integrity::DigestMode::Require,
                    "{args:?}: shards must agree on digests"
                );
            }
            ("merge", trailproof::commands::Invocation::Merge(m)) => {
                assert!(
                    m.check.is_some(),
                    "{args:?}: the configuration check runs once, here"
                );
                assert!(m.publish.is_some(), "{args:?}");
                assert!(m.shards[0].starts_with("s3://"), "{args:?}");
                assert!(
                    m.dataset.as_deref().is_some_and(|d| d.starts_with("s3://")),
                    "{args:?}: no dataset for Athena"
                );
            }
            (role, other) => panic!("{}: {role} runs {other:?}", line["name"]),
        }
    }
}

#[test]
fn the_athena_tables_have_the_datasets_columns() {
    use trailproof::report::parquet::DATASET_TABLES;
    let sql = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/athena/tables.sql"
    ))
    .unwrap();
    for table in DATASET_TABLES {
        let name = table.file_name().trim_end_matches(".parquet");
        let head = format!("CREATE EXTERNAL TABLE IF NOT EXISTS trailproof_{name} (");
        let start = sql.find(&head).unwrap_or_else(|| panic!("no {head}")) + head.len();
        let body = &sql[start..start + sql[start..].find("\n)\n").unwrap()];
        let declared: Vec<(String, String)> = body
            .lines()
            .map(|l| l.trim().trim_end_matches(','))
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (c, t) = l.split_once(' ').unwrap();
                (c.trim_matches('`').to_owned(), t.to_owned())
            })
            .collect();
        let expected: Vec<(String, String)> = table
            .schema()
            .fields()
            .iter()
            .filter(|f| f.name() != "account_id")
            .map(|f| {
                let t = match f.data_type() {
                    arrow_schema::DataType::Utf8 => "string",
                    arrow_schema::DataType::UInt64 | arrow_schema::DataType::Int64 => "bigint",
                    arrow_schema::DataType::Boolean => "boolean",
                    arrow_schema::DataType::Timestamp(..) => "timestamp",
                    other => panic!("{name}.{}: {other}", f.name()),
                };
                (f.name().clone(), t.to_owned())
            })
            .collect();
        assert_eq!(declared, expected, "trailproof_{name}");
        let rest = &sql[start..];
        let location = format!("LOCATION 's3://EVIDENCE-BUCKET/dataset/{name}/'");
        let template = format!(
            "'storage.location.template' = 's3://EVIDENCE-BUCKET/dataset/{name}/run=${{run}}/account_id=${{account_id}}/'"
        );
        assert!(
            rest.contains(&location) && rest.contains(&template),
            "{name}"
        );
    }
}
