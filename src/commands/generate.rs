//! `trailproof generate`: a deterministic CloudTrail bucket written to a directory or
//! uploaded to S3 while it is generated, and its ground truth.

use std::path::PathBuf;

use crate::aws::AwsSettings;
use crate::error::{Error, ErrorKind, Result};
use crate::generate::{GenConfig, Object, Truth};
use crate::source::Source;

use super::Outcome;

/// Validated settings of `generate`.
#[derive(Debug, Clone)]
pub struct Config {
    pub gen_config: GenConfig,
    /// Where to write.
    pub out: Source,
    /// `--out` as given, for the closing line.
    pub out_text: String,
    /// Print the ground truth as JSON.
    pub truth: bool,
    pub public_keys_out: Option<PathBuf>,
    pub aws: AwsSettings,
}

/// PUTs in flight at once when uploading.
const UPLOAD_CONCURRENCY: usize = 16;

pub async fn run(config: Config) -> Result<Outcome> {
    let Config {
        gen_config: mut cfg,
        out,
        out_text,
        truth: print_truth,
        public_keys_out,
        aws,
    } = config;
    if let Some(path) = &public_keys_out {
        std::fs::write(
            path,
            crate::generate::test_public_keys_json(cfg.start, cfg.hours) + "\n",
        )
        .map_err(|e| {
            Error::with_source(ErrorKind::Io, format!("cannot write {}", path.display()), e)
        })?;
    }
    let truth = match out {
        Source::Local(dir) => {
            if let Some(name) = dir.file_name().and_then(|n| n.to_str()) {
                cfg.bucket = name.to_owned();
            }
            tokio::task::spawn_blocking(move || crate::generate::write_dir(&cfg, &dir))
                .await
                .expect("generator panicked")
                .map_err(|e| Error::with_source(ErrorKind::Io, "cannot write the corpus", e))?
        }
        Source::S3 { bucket, prefix } => {
            cfg.prefix = prefix.or(cfg.prefix);
            cfg.bucket = bucket.clone();
            let s3 = crate::aws::s3_client(&crate::aws::sdk_config(&aws).await);
            upload(s3, bucket, cfg).await?
        }
    };
    if print_truth {
        crate::report::print(crate::report::Format::Json, &TruthView(&truth))?;
    } else {
        eprintln!(
            "trailproof generate: {} objects, {:.1} MB ({:.1} MB JSON) written to {out_text}",
            truth.objects,
            truth.bytes as f64 / 1e6,
            truth.json_bytes as f64 / 1e6,
        );
    }
    Ok(Outcome { exit_code: 0 })
}

/// The ground truth, printed as JSON.
struct TruthView<'a>(&'a Truth);

impl crate::report::Render for TruthView<'_> {
    fn text(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.json(out)
    }

    fn json(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        crate::report::json(out, self.0)
    }
}

/// Uploads the generated corpus with bounded concurrency while it is generated.
async fn upload(s3: aws_sdk_s3::Client, bucket: String, cfg: GenConfig) -> Result<Truth> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Object>(64);
    let producer = tokio::task::spawn_blocking(move || {
        crate::generate::generate(&cfg, &mut |o| {
            tx.blocking_send(o)
                .map_err(|_| std::io::Error::other("uploader stopped"))
        })
    });
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(UPLOAD_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    let mut failure = None;
    while let Some(Object {
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
                crate::aws::ApiFailure::from_sdk("s3:PutObject", None, &e).summary()
                    + " ("
                    + &key
                    + ")"
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
