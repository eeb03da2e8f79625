//! The commands: one file each. A command takes its validated config, runs the core
//! (check, pipeline, integrity) and hands the result to [`crate::report`].

pub mod canary;
pub mod check;
pub mod generate;
pub mod merge;
pub mod report;
pub mod scan;
pub mod validate;
pub mod verify;

mod incremental;

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
    Merge(merge::Config),
    Report(report::Config),
    VerifyEvidence(report::VerifyConfig),
    Generate(generate::Config),
    Canary(canary::Config),
    /// The least-privilege policy for these commands.
    Permissions(Vec<crate::permissions::Cmd>),
}

/// What a command concluded, for the exit code: 0 proven/pass, 1 findings, 2 error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub exit_code: u8,
}

/// Runs a validated command line.
pub async fn run(invocation: Invocation) -> Result<Outcome> {
    let publish = match &invocation {
        Invocation::Scan(c) => c.run.pipeline.publish.clone(),
        Invocation::Validate(c) => c.pipeline.publish.clone(),
        Invocation::Verify(c) => c.pipeline.publish.clone(),
        Invocation::Merge(c) => c.publish.clone(),
        _ => None,
    };
    // `--out s3://`: a private staging area (mode 0700, new), removed whatever happens (also
    // when the run is interrupted: the guard drops with this future), unless publishing a
    // complete directory failed: then it is the only copy, and the error names it.
    let mut guard = AreaGuard(None);
    if let Some(p) = &publish {
        new_private_dir(&p.area, "the staging area")?;
        guard.0 = Some(p.area.clone());
    }
    let result = dispatch(invocation).await;
    if matches!(&result, Err(e) if e.kind() == ErrorKind::Publish) {
        guard.0 = None;
    }
    result
}

/// Removes a scratch area (staging, downloads) when dropped.
pub(crate) struct AreaGuard(pub(crate) Option<PathBuf>);

/// A path for a scratch area under `parent`, unique to this process and moment:
/// `parent/NAME-PID-NANOS`.
pub(crate) fn scratch(parent: &std::path::Path, name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    parent.join(format!("{name}-{}-{nanos}", std::process::id()))
}

/// Creates a new directory only its owner can read (mode 0700): one that exists already is
/// refused (another user could have made it).
pub(crate) fn new_private_dir(dir: &std::path::Path, what: &str) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            Error::with_source(
                ErrorKind::Io,
                format!("cannot create {what} {}", dir.display()),
                e,
            )
        })
}

impl Drop for AreaGuard {
    fn drop(&mut self) {
        if let Some(area) = self.0.take() {
            std::fs::remove_dir_all(area).ok();
        }
    }
}

async fn dispatch(invocation: Invocation) -> Result<Outcome> {
    match invocation {
        Invocation::Check(c) => check::run(c).await,
        Invocation::Scan(c) => scan::run(c).await,
        Invocation::Verify(c) => verify::run(c).await,
        Invocation::Validate(c) => validate::run(c).await,
        Invocation::Merge(c) => merge::run(c).await,
        Invocation::Report(c) => report::run(c),
        Invocation::VerifyEvidence(c) => report::verify(c),
        Invocation::Generate(c) => generate::run(c).await,
        Invocation::Canary(c) => canary::run(c).await,
        Invocation::Permissions(c) => permissions(&c),
    }
}

/// `trailproof permissions`: prints the policy on stdout.
fn permissions(commands: &[crate::permissions::Cmd]) -> Result<Outcome> {
    use std::io::Write;
    std::io::stdout()
        .write_all(crate::permissions::policy_text(commands).as_bytes())
        .map_err(|e| Error::with_source(ErrorKind::Output, "cannot write the policy", e))?;
    Ok(Outcome { exit_code: 0 })
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

/// What a log-phase run produced.
struct LogPhaseRun {
    /// `--out s3://…`: where to publish the committed directory.
    publish: Option<crate::pipeline::Publish>,
    /// `--summary-line`.
    summary_line: bool,
    aws: crate::aws::AwsSettings,
    integrity: Arc<Integrity>,
    outcome: crate::report::RunOutcome,
    /// The evidence directory as given (`--out`), for the report.
    dir: PathBuf,
    format: crate::report::Format,
}

impl LogPhase {
    /// Clients, digests and the pipeline, into a staged evidence directory (returned beside
    /// the run, for the command to write its document into and [`commit`]).
    async fn run(self) -> Result<(crate::report::staging::Staging, LogPhaseRun)> {
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
        Ok((
            staging,
            LogPhaseRun {
                publish,
                summary_line,
                aws,
                integrity,
                outcome,
                dir,
                format,
            },
        ))
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
            tips: opts
                .carried
                .as_ref()
                .map(|c| c.tips.clone())
                .unwrap_or_default(),
        };
        let found = crate::integrity::collect(source, s3, clients, &iopts).await?;
        for note in &found.notes {
            tracing::warn!("Digests: {note}");
        }
        Ok(Arc::new(found))
    }
}

/// The result as one JSON line (`--summary-line`), read from the committed evidence
/// directory; every key is always there (null when not known).
fn summary_line(
    dir: Option<&std::path::Path>,
    shown_at: Option<&str>,
    fallback: Fallback,
) -> serde_json::Value {
    let run = dir.and_then(|d| crate::report::evidence::Run::read(d).ok());
    let mut counts = None;
    if let Some(d) = dir {
        let (mut definite, mut unknown) = (0u64, 0u64);
        if crate::report::evidence::for_each_gap(d, |g| {
            if g.is_unknown() {
                unknown += 1;
            } else {
                definite += 1;
            }
        })
        .is_ok()
        {
            counts = Some((definite, unknown));
        }
    }
    let manifest = dir
        .and_then(|d| {
            crate::report::evidence::hash_file(&d.join(crate::report::evidence::MANIFEST)).ok()
        })
        .map(|(_, sha)| sha);
    let window = run
        .as_ref()
        .map(|r| r.window)
        .filter(|w| *w != (0, 0))
        .or(fallback.window);
    serde_json::json!({
        "tool": "trailproof",
        "command": run.as_ref().map(|r| r.command.clone()).unwrap_or(fallback.command.into()),
        "verdict": run.as_ref().map(|r| r.verdict.clone()).or(fallback.verdict),
        "exit_code": run.as_ref().map(|r| r.exit_code).or(fallback.exit_code),
        "window_start": window.map(|w| crate::time::rfc3339(w.0)),
        "window_end": window.map(|w| crate::time::rfc3339(w.1)),
        "gaps": counts.map(|c| c.0),
        "unknown": counts.map(|c| c.1),
        "evidence": shown_at,
        "published": fallback.published,
        "manifest_sha256": manifest,
        "state": null,
    })
}

/// What the summary line says when the directory cannot tell.
#[derive(Default)]
pub(crate) struct Fallback {
    command: &'static str,
    verdict: Option<String>,
    exit_code: Option<u64>,
    /// The window asked for (a run without a log phase records none).
    window: Option<(i64, i64)>,
    published: Option<bool>,
}

/// Writes the pack into the staged directory (its run document already there), commits it and
/// publishes it: where the evidence is, and the summary line when asked for.
async fn commit(
    staging: crate::report::staging::Staging,
    run: &LogPhaseRun,
    command: &'static str,
) -> Result<(PathBuf, Option<serde_json::Value>)> {
    crate::report::pack::write(staging.path())?;
    staging.commit()?;
    finish(
        &run.dir,
        run.publish.as_ref(),
        &run.aws,
        run.summary_line,
        command,
        (0, 0),
    )
    .await
}

/// Prints the result in its format, then the summary line (on stderr).
fn print(
    format: crate::report::Format,
    result: &dyn crate::report::Render,
    line: Option<serde_json::Value>,
) -> Result<()> {
    crate::report::print(format, result)?;
    if let Some(line) = line {
        eprintln!("{line}");
    }
    Ok(())
}

/// Publishes (when `--out s3://`) and returns where the evidence is, with the summary line to
/// print at the end when asked for. When publishing fails the line (naming the kept local
/// copy) is printed before the error is returned.
async fn finish(
    dir: &std::path::Path,
    dest: Option<&crate::pipeline::Publish>,
    aws: &crate::aws::AwsSettings,
    line: bool,
    command: &'static str,
    window: (i64, i64),
) -> Result<(PathBuf, Option<serde_json::Value>)> {
    let fallback = |published| Fallback {
        command,
        window: (window != (0, 0)).then_some(window),
        published,
        ..Fallback::default()
    };
    match publish(dir, dest, aws, window).await {
        Ok(shown) => {
            let summary = line.then(|| {
                summary_line(
                    Some(dir),
                    Some(&shown.display().to_string()),
                    fallback(dest.map(|_| true)),
                )
            });
            Ok((shown, summary))
        }
        Err(e) => {
            if line {
                eprintln!(
                    "{}",
                    summary_line(
                        Some(dir),
                        Some(&dir.display().to_string()),
                        fallback(Some(false))
                    )
                );
            }
            Err(e)
        }
    }
}

/// The summary line of a run that committed nothing (`verify` ERROR).
pub(crate) fn summary_line_without_evidence(
    verdict: String,
    exit_code: u8,
    window: (i64, i64),
) -> serde_json::Value {
    summary_line(
        None,
        None,
        Fallback {
            command: "verify",
            verdict: Some(verdict),
            exit_code: Some(exit_code as u64),
            window: (window != (0, 0)).then_some(window),
            published: None,
        },
    )
}

/// The run document of every evidence directory: published first, it claims the folder.
const SUMMARY: &str = "summary.json";

/// The key prefix of a published run: `prefix/run=START_END`.
fn run_folder(prefix: Option<&str>, window: (i64, i64)) -> String {
    let folder = run_name(window);
    match prefix {
        Some(p) => format!("{p}/{folder}"),
        None => folder,
    }
}

/// A run's folder name, `run=START_END` (compact UTC times): published evidence and datasets.
pub(crate) fn run_name(window: (i64, i64)) -> String {
    let compact = |t: i64| crate::time::rfc3339(t).replace(['-', ':'], "");
    format!("run={}_{}", compact(window.0), compact(window.1))
}

/// Publishes the committed evidence directory `dir` (`--out s3://bucket/prefix`) under
/// `prefix/run=START_END/`, every object only if its key is free and `manifest.json` last: the
/// first object claims the folder, so a window published before (or by a concurrent run) goes
/// to `run=START_END/rerun=GENERATED_AT/` and no run overwrites another's objects. `window`: the
/// run's window when its document records none (no log phase). Returns where the evidence is.
async fn publish(
    dir: &std::path::Path,
    dest: Option<&crate::pipeline::Publish>,
    aws: &crate::aws::AwsSettings,
    window: (i64, i64),
) -> Result<PathBuf> {
    let Some(crate::pipeline::Publish {
        dest: Source::S3 { bucket, prefix },
        ..
    }) = dest
    else {
        return Ok(dir.to_owned());
    };
    let run = crate::report::evidence::Run::read(dir)?;
    let window = if run.window == (0, 0) {
        window
    } else {
        run.window
    };
    let mut folder = run_folder(prefix.as_deref(), window);
    // A shard's evidence goes beside its siblings': `run=START_END/shard=K/`.
    if let Some(shard) = run.doc["parameters"]["shard"].as_str()
        && let Ok(shard) = crate::shard::Shard::parse(shard)
    {
        folder = format!("{folder}/shard={}", shard.index);
    }
    let sdk = crate::aws::sdk_config(aws).await;
    let s3 = crate::aws::s3_client_for_bucket(&sdk, bucket).await;
    let manifest = crate::report::evidence::MANIFEST;
    let compact = crate::time::rfc3339(run.generated_secs()).replace(['-', ':'], "");
    // The first object claims a folder: a window published before (or by a run at the same
    // time) goes to `rerun=GENERATED_AT/` instead.
    let mut key_prefix = folder.clone();
    let mut result = Err(crate::source::UploadError::Taken);
    for candidate in [folder.clone(), format!("{folder}/rerun={compact}")] {
        key_prefix = candidate;
        result = crate::source::upload_dir(&s3, bucket, &key_prefix, dir, SUMMARY, manifest).await;
        if !matches!(result, Err(crate::source::UploadError::Taken)) {
            break;
        }
    }
    result.map_err(|e| {
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
