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
pub mod coverage;
pub mod decode;
pub mod digest;
pub mod error;
pub mod evidence;
pub mod extract;
pub mod generate;
pub mod inflate;
pub mod integrity;
pub mod layout;
pub mod regions;
pub mod scan;
pub mod sink;
pub mod time;

use std::io::Write;

pub use error::{Error, ErrorKind, Result};

use crate::cli::{
    CheckConfig, Cli, Command, Format, GenerateArgs, IntegrityArgs, ScanArgs, ValidateArgs,
    VerifyArgs,
};

/// What a command concluded, for the exit code: 0 proven/pass, 1 findings, 2 error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub exit_code: u8,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Check(args) => run_check(CheckConfig::try_from(args)?).await,
        Command::Scan(args) => run_scan(args).await,
        Command::Verify(args) => run_verify(args).await,
        Command::Validate(args) => run_validate(args).await,
        Command::Generate(args) => run_generate(args).await,
    }
}

async fn run_check(config: CheckConfig) -> Result<Outcome> {
    let sdk = aws::sdk_config(&config.aws).await;
    let clients = aws::CheckClients::from_sdk_config(&sdk);
    let (facts, eval) = check::run(&clients, &config.options).await;
    stdout(|out| match config.format {
        Format::Json => check::render::write_json(
            out,
            &check::render::CheckReport::new(&facts, &eval, &config.options),
        ),
        Format::Text => check::render::write_text(out, &facts, &eval, &config.options),
    })?;
    Ok(Outcome {
        exit_code: eval.verdict.exit_code(),
    })
}

/// Writes to stdout; a closed pipe (`| head`) is not an error of ours.
fn stdout(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match f(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::with_source(
            ErrorKind::Output,
            "cannot write to stdout",
            e,
        )),
    }
}

fn print_evidence(
    format: Format,
    outcome: &scan::ScanOutcome,
    summary: &evidence::Summary<'_>,
    dir: &std::path::Path,
) -> Result<()> {
    stdout(|out| match format {
        Format::Text => evidence::write_text(out, outcome, dir),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, summary)?;
            writeln!(out)
        }
    })
}

async fn run_scan(args: ScanArgs) -> Result<Outcome> {
    let source: scan::Source = args.source.parse().map_err(Error::usage)?;
    cli::validate_regions(&args.regions)?;
    let mut opts = args.pipeline.options()?;
    opts.window = args.window.resolve(time::now_secs(), None)?;
    opts.accounts = args.accounts.clone();
    opts.regions = args.regions.clone();
    opts.org_id = args.org_id.clone();
    if args.pipeline.global_region.is_none()
        && let Some(first) = args.regions.as_ref().and_then(|r| r.first())
    {
        opts.global_region = regions::global_region(regions::partition_of_region(first)).to_owned();
    }
    let (s3, clients) = match &source {
        scan::Source::S3 { .. } => {
            let sdk = aws::sdk_config(&args.aws).await;
            (
                Some(aws::s3_client(&sdk)),
                Some(aws::CheckClients::from_sdk_config(&sdk)),
            )
        }
        scan::Source::Local(_) => (None, None),
    };
    opts.integrity = Some(
        integrity_phase(
            &args.pipeline.integrity,
            &source,
            s3.as_ref(),
            clients.as_ref(),
            &opts,
        )
        .await?,
    );
    let dir = opts.out_dir.clone();
    let outcome = scan::run(&source, s3, opts).await?;
    let code = outcome.evidence.exit_code();
    let params = serde_json::json!({"source": args.source, "since": args.window.since, "until": args.window.until, "regions": args.regions, "accounts": args.accounts, "max_silence_s": args.pipeline.max_silence.map(|d| d.as_secs()), "late_after_s": args.pipeline.late_after.as_secs()});
    let summary = evidence::Summary::new(
        "scan",
        Some(&outcome),
        format!("{:?}", outcome.evidence).to_uppercase(),
        code,
        params,
        None,
    );
    summary.write(&dir)?;
    print_evidence(args.format, &outcome, &summary, &dir)?;
    Ok(Outcome { exit_code: code })
}

async fn run_verify(args: VerifyArgs) -> Result<Outcome> {
    let config = CheckConfig::try_from(args.check.clone())?;
    let mut opts = args.pipeline.options()?;
    opts.window = args.window.resolve(time::now_secs(), Some("24h"))?;
    let sdk = aws::sdk_config(&config.aws).await;
    let clients = aws::CheckClients::from_sdk_config(&sdk);
    let (facts, eval) = check::run(&clients, &config.options).await;
    let report = serde_json::to_value(check::render::CheckReport::new(
        &facts,
        &eval,
        &config.options,
    ))
    .map_err(|e| Error::with_source(ErrorKind::Output, "cannot encode the check report", e))?;
    let dir = opts.out_dir.clone();
    std::fs::create_dir_all(&dir).map_err(|e| {
        Error::with_source(ErrorKind::Io, format!("cannot create {}", dir.display()), e)
    })?;
    let params = serde_json::json!({"since": args.window.since.clone().unwrap_or_else(|| "24h".into()), "until": args.window.until, "bucket": args.bucket, "prefix": args.prefix, "max_silence_s": args.pipeline.max_silence.map(|d| d.as_secs()), "late_after_s": args.pipeline.late_after.as_secs()});
    let source = eval.log_sources.first();
    let bucket = args
        .bucket
        .clone()
        .or_else(|| source.and_then(|s| s.bucket.clone()));
    let Some(bucket) = bucket.filter(|_| eval.verdict != check::Verdict::Error) else {
        // No log phase: the configuration alone decides (FAIL/INCONCLUSIVE 1, ERROR 2).
        let code = eval.verdict.exit_code().max(1);
        evidence::Summary::new(
            "verify",
            None,
            eval.verdict.to_string(),
            code,
            params,
            Some(report),
        )
        .write(&dir)?;
        stdout(|out| {
            check::render::write_text(out, &facts, &eval, &config.options)?;
            writeln!(
                out,
                "\nNo log phase: no compliant trail names a bucket (pass --bucket to read one anyway)."
            )
        })?;
        return Ok(Outcome { exit_code: code });
    };
    opts.accounts = args
        .accounts
        .clone()
        .or_else(|| source.map(|s| s.accounts.clone()))
        .or_else(|| {
            facts
                .identity
                .as_ref()
                .ok()
                .map(|i| vec![i.account_id.clone()])
        });
    opts.regions = Some(facts.regions.names().map(str::to_owned).collect());
    opts.org_id = args
        .org_id
        .clone()
        .or_else(|| source.and_then(|s| s.organization_id.clone()));
    if let Some(s) = source {
        opts.global_region = args
            .pipeline
            .global_region
            .clone()
            .unwrap_or_else(|| s.global_region.clone());
    }
    let prefix = args
        .prefix
        .clone()
        .or_else(|| source.and_then(|s| s.key_prefix.clone()));
    let s3 = aws::s3_client_for_bucket(&sdk, &bucket).await;
    let src = scan::Source::S3 { bucket, prefix };
    opts.integrity = Some(
        integrity_phase(
            &args.pipeline.integrity,
            &src,
            Some(&s3),
            Some(&clients),
            &opts,
        )
        .await?,
    );
    let outcome = scan::run(&src, Some(s3), opts).await?;
    let code = eval.verdict.exit_code().max(outcome.evidence.exit_code());
    let verdict = if eval.verdict.exit_code() > 0 {
        eval.verdict.to_string()
    } else {
        format!("{:?}", outcome.evidence).to_uppercase()
    };
    let summary = evidence::Summary::new(
        "verify",
        Some(&outcome),
        verdict,
        code,
        params,
        Some(report),
    );
    summary.write(&dir)?;
    match config.format {
        Format::Json => print_evidence(Format::Json, &outcome, &summary, &dir)?,
        Format::Text => stdout(|out| {
            check::render::write_text(out, &facts, &eval, &config.options)?;
            writeln!(
                out,
                "\n----------------------------------------------------------------\n"
            )?;
            evidence::write_text(out, &outcome, &dir)
        })?,
    }
    Ok(Outcome { exit_code: code })
}

async fn run_generate(args: GenerateArgs) -> Result<Outcome> {
    let mut cfg = generate::GenConfig {
        seed: args.seed,
        accounts: args.accounts.clone(),
        hours: args.hours,
        events_per_hour: args.events_per_hour,
        org_id: args.org_id.clone(),
        max_files_per_slot: args.max_files_per_slot,
        extras: !args.no_extras,
        faults: args.faults.clone(),
        digests: !args.no_digests,
        trail_name: args.trail_name.clone(),
        ..Default::default()
    };
    if let Some(r) = &args.regions {
        cli::validate_regions(&Some(r.clone()))?;
        cfg.regions = r.clone();
    }
    if let Some(s) = &args.start {
        let t = cli::parse_time(s, time::now_secs())?;
        cfg.start = t - t.rem_euclid(3_600);
    }
    if let Some(path) = &args.public_keys_out {
        std::fs::write(
            path,
            generate::test_public_keys_json(cfg.start, cfg.hours) + "\n",
        )
        .map_err(|e| {
            Error::with_source(ErrorKind::Io, format!("cannot write {}", path.display()), e)
        })?;
    }
    let truth = match args.out.parse::<scan::Source>().map_err(Error::usage)? {
        scan::Source::Local(dir) => {
            cfg.prefix = args.prefix.clone();
            if let Some(name) = dir.file_name().and_then(|n| n.to_str()) {
                cfg.bucket = name.to_owned();
            }
            tokio::task::spawn_blocking(move || generate::write_dir(&cfg, &dir))
                .await
                .expect("generator panicked")
                .map_err(|e| Error::with_source(ErrorKind::Io, "cannot write the corpus", e))?
        }
        scan::Source::S3 { bucket, prefix } => {
            cfg.prefix = prefix.or(args.prefix.clone());
            cfg.bucket = bucket.clone();
            let s3 = aws::s3_client(&aws::sdk_config(&args.aws).await);
            upload(s3, bucket, cfg).await?
        }
    };
    if args.truth {
        stdout(|out| {
            serde_json::to_writer_pretty(&mut *out, &truth)?;
            writeln!(out)
        })?;
    } else {
        eprintln!(
            "trailproof generate: {} objects, {:.1} MB ({:.1} MB JSON) written to {}",
            truth.objects,
            truth.bytes as f64 / 1e6,
            truth.json_bytes as f64 / 1e6,
            args.out
        );
    }
    Ok(Outcome { exit_code: 0 })
}

/// Reads and checks the digest chains for a `scan` or `verify` run.
async fn integrity_phase(
    args: &IntegrityArgs,
    source: &scan::Source,
    s3: Option<&aws_sdk_s3::Client>,
    clients: Option<&aws::CheckClients>,
    opts: &scan::ScanOptions,
) -> Result<std::sync::Arc<integrity::Integrity>> {
    let iopts = integrity::IntegrityOptions {
        mode: args.digests,
        window: opts.window,
        accounts: opts.accounts.clone(),
        regions: opts.regions.clone(),
        org_id: opts.org_id.clone(),
        trail: args.trail.clone(),
        public_keys: args.keys()?,
        delivery_grace_s: opts.delivery_grace_s,
        now: time::now_secs(),
        max_decompressed: opts.max_decompressed.min(64 << 20),
    };
    let found = integrity::collect(source, s3, clients, &iopts).await?;
    for note in &found.notes {
        tracing::warn!("Digests: {note}");
    }
    Ok(std::sync::Arc::new(found))
}

/// `trailproof validate`: the digest chains of every region, then every log file's hash.
async fn run_validate(args: ValidateArgs) -> Result<Outcome> {
    let source: scan::Source = args.source.parse().map_err(Error::usage)?;
    cli::validate_regions(&args.regions)?;
    if args.workers == Some(0) {
        return Err(Error::usage("--workers must be at least 1"));
    }
    let defaults = scan::ScanOptions::default();
    let mut opts = scan::ScanOptions {
        window: args.window.resolve(time::now_secs(), Some("24h"))?,
        accounts: args.accounts.clone(),
        regions: args.regions.clone(),
        org_id: args.org_id.clone(),
        out_dir: args.out.clone(),
        workers: args.workers.unwrap_or(defaults.workers),
        delivery_grace_s: args.delivery_grace.as_secs() as i64,
        parse: false,
        ..defaults
    };
    let (s3, clients) = match &source {
        scan::Source::S3 { bucket, .. } => {
            let sdk = aws::sdk_config(&args.aws).await;
            (
                Some(aws::s3_client_for_bucket(&sdk, bucket).await),
                Some(aws::CheckClients::from_sdk_config(&sdk)),
            )
        }
        scan::Source::Local(_) => (None, None),
    };
    let iargs = IntegrityArgs {
        digests: integrity::DigestMode::Require,
        public_keys: args.public_keys.clone(),
        trail: args.trail.clone(),
    };
    let found = integrity_phase(&iargs, &source, s3.as_ref(), clients.as_ref(), &opts).await?;
    opts.integrity = Some(found.clone());
    let outcome = scan::run(&source, s3, opts).await?;
    let report = integrity::ValidateReport::new(&outcome, &found);
    report.write(&args.out)?;
    stdout(|out| match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)
        }
        Format::Text => integrity::write_validate_text(out, &report, &args.out),
    })?;
    Ok(Outcome {
        exit_code: report.exit_code,
    })
}

/// Uploads the generated corpus with bounded concurrency while it is generated.
async fn upload(
    s3: aws_sdk_s3::Client,
    bucket: String,
    cfg: generate::GenConfig,
) -> Result<generate::Truth> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<generate::Object>(64);
    let producer = tokio::task::spawn_blocking(move || {
        generate::generate(&cfg, &mut |o| {
            tx.blocking_send(o)
                .map_err(|_| std::io::Error::other("uploader stopped"))
        })
    });
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    let mut failure = None;
    while let Some(generate::Object {
        key,
        body,
        metadata,
    }) = rx.recv().await
    {
        let permit = limit.clone().acquire_owned().await.expect("semaphore open");
        let (s3, bucket) = (s3.clone(), bucket.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let mut put = s3.put_object().bucket(&bucket).key(&key).body(body.into());
            for (k, v) in metadata {
                put = put.metadata(k, v);
            }
            put.send().await.map(|_| ()).map_err(|e| {
                aws::ApiFailure::from_sdk("s3:PutObject", None, &e).summary() + " (" + &key + ")"
            })
        });
        while let Some(done) = tasks.try_join_next() {
            if let Err(e) = done.expect("upload task panicked") {
                failure.get_or_insert(e);
            }
        }
        if failure.is_some() {
            break;
        }
    }
    drop(rx);
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done.expect("upload task panicked") {
            failure.get_or_insert(e);
        }
    }
    let truth = producer.await.expect("generator panicked");
    if let Some(e) = failure {
        return Err(Error::new(ErrorKind::Aws, e));
    }
    truth.map_err(|e| Error::with_source(ErrorKind::Io, "generation failed", e))
}
