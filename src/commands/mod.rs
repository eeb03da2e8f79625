//! The commands: one file each. A command takes its validated config, runs the core
//! (check, pipeline, integrity) and hands the result to [`crate::report`].

pub mod check;
pub mod generate;
pub mod report;
pub mod scan;
pub mod validate;
pub mod verify;

use std::path::PathBuf;
use std::sync::Arc;

use crate::aws::CheckClients;
use crate::error::{Error, ErrorKind, Result};
use crate::integrity::digest::KeyRing;
use crate::integrity::{DigestMode, Integrity, IntegrityOptions};
use crate::pipeline::Options;
use crate::source::Source;

/// A validated command line.
#[derive(Debug)]
pub enum Invocation {
    Check(check::Config),
    Scan(scan::Config),
    Verify(verify::Config),
    Validate(validate::Config),
    Report(report::Config),
    VerifyEvidence(report::VerifyConfig),
    Generate(generate::Config),
}

/// What a command concluded, for the exit code: 0 proven/pass, 1 findings, 2 error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub exit_code: u8,
}

/// Runs a validated command line.
pub async fn run(invocation: Invocation) -> Result<Outcome> {
    // `--out s3://`: the private local staging area goes whatever happens, unless publishing a
    // complete directory failed (then it is the only copy, and the error names it).
    let area = match &invocation {
        Invocation::Scan(c) => staging_area(&c.run.pipeline),
        Invocation::Validate(c) => staging_area(&c.pipeline),
        Invocation::Verify(c) => staging_area(&c.pipeline),
        _ => None,
    };
    let result = dispatch(invocation).await;
    if let Some(area) = area
        && !matches!(&result, Err(e) if e.kind() == ErrorKind::Publish)
    {
        std::fs::remove_dir_all(area).ok();
    }
    result
}

/// The private staging area of a run that publishes to S3.
fn staging_area(p: &Options) -> Option<PathBuf> {
    p.publish
        .as_ref()
        .and_then(|_| p.out_dir.parent().map(|a| a.to_path_buf()))
}

async fn dispatch(invocation: Invocation) -> Result<Outcome> {
    match invocation {
        Invocation::Check(c) => check::run(c).await,
        Invocation::Scan(c) => scan::run(c).await,
        Invocation::Verify(c) => verify::run(c).await,
        Invocation::Validate(c) => validate::run(c).await,
        Invocation::Report(c) => report::run(c),
        Invocation::VerifyEvidence(c) => report::verify(c),
        Invocation::Generate(c) => generate::run(c).await,
    }
}

/// The clients a log-phase command needs for `source`: S3 (in the bucket's own region) and
/// CloudTrail's `ListPublicKeys`; none for a local copy.
async fn clients(
    source: &Source,
    aws: &crate::aws::AwsSettings,
) -> (Option<aws_sdk_s3::Client>, Option<CheckClients>) {
    match source {
        Source::S3 { bucket, .. } => {
            let sdk = crate::aws::sdk_config(aws).await;
            (
                Some(crate::aws::s3_client_for_bucket(&sdk, bucket).await),
                Some(CheckClients::from_sdk_config(&sdk)),
            )
        }
        Source::Local(_) => (None, None),
    }
}

/// What a log-phase command (`scan`, `validate`) reads, how, and where its evidence goes.
#[derive(Debug, Clone)]
pub struct LogPhase {
    pub source: Source,
    pub format: crate::report::Format,
    pub pipeline: Options,
    pub digests: Digests,
    pub aws: crate::aws::AwsSettings,
}

/// What a log-phase run produced, with the staging directory to write its summary into and
/// commit.
struct LogPhaseRun {
    /// `--out s3://…`: where to publish the committed directory.
    publish: Option<Source>,
    /// `--summary-line`.
    summary_line: bool,
    aws: crate::aws::AwsSettings,
    staging: crate::report::staging::Staging,
    integrity: Arc<Integrity>,
    outcome: crate::report::RunOutcome,
    /// The evidence directory as given (`--out`), for the report.
    dir: PathBuf,
    format: crate::report::Format,
}

impl LogPhase {
    /// Clients, digests and the pipeline, into a staged evidence directory.
    async fn run(self) -> Result<LogPhaseRun> {
        let LogPhase {
            source,
            format,
            mut pipeline,
            digests,
            aws,
        } = self;
        let dir = pipeline.out_dir.clone();
        let publish = pipeline.publish.clone();
        let summary_line = pipeline.summary_line;
        let staging = crate::report::staging::Staging::begin(&dir)?;
        pipeline.out_dir = staging.path().to_owned();
        let (s3, clients) = clients(&source, &aws).await;
        let integrity = digests
            .collect(&source, s3.as_ref(), clients.as_ref(), &pipeline)
            .await?;
        pipeline.integrity = Some(integrity.clone());
        let outcome = crate::pipeline::run(&source, s3, pipeline).await?;
        Ok(LogPhaseRun {
            publish,
            summary_line,
            aws,
            staging,
            integrity,
            outcome,
            dir,
            format,
        })
    }
}

/// How digests take part in a run, as asked for.
#[derive(Debug, Clone)]
pub struct Digests {
    pub mode: DigestMode,
    /// `--public-keys FILE`, read when the run starts.
    pub public_keys: Option<PathBuf>,
    pub trail: Option<String>,
}

impl Digests {
    /// Reads the keys file, if any.
    fn keys(&self) -> Result<Option<KeyRing>> {
        let Some(path) = &self.public_keys else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::with_source(
                ErrorKind::Usage,
                format!("cannot read {}", path.display()),
                e,
            )
        })?;
        KeyRing::from_list_json(&text)
            .map(Some)
            .map_err(|e| Error::usage(format!("{}: {e}", path.display())))
    }

    /// Reads and checks the digest chains for a run of the pipeline over `source`.
    async fn collect(
        &self,
        source: &Source,
        s3: Option<&aws_sdk_s3::Client>,
        clients: Option<&CheckClients>,
        opts: &Options,
    ) -> Result<Arc<Integrity>> {
        let iopts = IntegrityOptions {
            mode: self.mode,
            window: opts.window,
            scope: opts.scope.clone(),
            trail: self.trail.clone(),
            public_keys: self.keys()?,
            now: crate::time::now_secs(),
            max_object_bytes: opts.max_object_bytes,
            max_decompressed: opts
                .max_decompressed
                .min(crate::integrity::MAX_DIGEST_DECOMPRESSED),
        };
        let found = crate::integrity::collect(source, s3, clients, &iopts).await?;
        for note in &found.notes {
            tracing::warn!("Digests: {note}");
        }
        Ok(Arc::new(found))
    }
}

/// The result as one JSON line (`--summary-line`), read from the committed evidence
/// directory before it is published.
fn summary_line(dir: &std::path::Path, shown_at: &str) -> Option<String> {
    let run = crate::report::evidence::Run::read(dir).ok()?;
    let (mut definite, mut unknown) = (0u64, 0u64);
    crate::report::evidence::for_each_gap(dir, |g| {
        if g.is_unknown() {
            unknown += 1;
        } else {
            definite += 1;
        }
    })
    .ok()?;
    let manifest = crate::report::evidence::hash_file(&dir.join(crate::report::evidence::MANIFEST))
        .ok()
        .map(|(_, sha)| sha);
    let line = serde_json::json!({
        "tool": "trailproof",
        "command": run.command,
        "verdict": run.verdict,
        "exit_code": run.exit_code,
        "window_start": crate::time::rfc3339(run.window.0),
        "window_end": crate::time::rfc3339(run.window.1),
        "gaps": definite,
        "unknown": unknown,
        "evidence": shown_at,
        "manifest_sha256": manifest,
    });
    Some(line.to_string())
}

/// Publishes (when `--out s3://`) and returns where the evidence is, with the summary line to
/// print at the end when asked for.
async fn finish(
    dir: &std::path::Path,
    dest: Option<&Source>,
    aws: &crate::aws::AwsSettings,
    line: bool,
) -> Result<(PathBuf, Option<String>)> {
    let shown_at = match dest {
        Some(Source::S3 { bucket, prefix }) => {
            let run = crate::report::evidence::Run::read(dir)?;
            format!(
                "s3://{bucket}/{}",
                run_folder(prefix.as_deref(), run.window)
            )
        }
        _ => dir.display().to_string(),
    };
    let summary = line.then(|| summary_line(dir, &shown_at)).flatten();
    let shown = publish(dir, dest, aws).await?;
    Ok((shown, summary))
}

/// The key prefix of a published run: `prefix/run=START_END`.
fn run_folder(prefix: Option<&str>, window: (i64, i64)) -> String {
    let compact = |t: i64| crate::time::rfc3339(t).replace(['-', ':'], "");
    let folder = format!("run={}_{}", compact(window.0), compact(window.1));
    match prefix {
        Some(p) => format!("{p}/{folder}"),
        None => folder,
    }
}

/// Publishes the committed evidence directory `dir` to `dest` (`--out s3://bucket/prefix`)
/// under `prefix/run=START_END/`, `manifest.json` last; returns where the evidence now is, for
/// the report. A local `--out` is returned as it is.
async fn publish(
    dir: &std::path::Path,
    dest: Option<&Source>,
    aws: &crate::aws::AwsSettings,
) -> Result<PathBuf> {
    let Some(Source::S3 { bucket, prefix }) = dest else {
        return Ok(dir.to_owned());
    };
    let run = crate::report::evidence::Run::read(dir)?;
    let key_prefix = run_folder(prefix.as_deref(), run.window);
    let sdk = crate::aws::sdk_config(aws).await;
    let s3 = crate::aws::s3_client_for_bucket(&sdk, bucket).await;
    crate::source::upload_dir(
        &s3,
        bucket,
        &key_prefix,
        dir,
        crate::report::evidence::MANIFEST,
    )
    .await
    .map_err(|e| {
        Error::new(
            ErrorKind::Publish,
            format!(
                "cannot publish the evidence to s3://{bucket}/{key_prefix}: {e} (the complete evidence is kept in {})",
                dir.display()
            ),
        )
    })?;
    Ok(PathBuf::from(format!("s3://{bucket}/{key_prefix}")))
}
