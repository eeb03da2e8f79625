//! S3: paginated listing streamed into a channel, and GETs whose body read is retried (the
//! SDK's retries stop at the response headers).

use tokio::sync::mpsc;

use super::{Entry, ReadError};
use crate::aws::{ApiFailure, FailureKind};

/// LIST requests sent by this process (every page of every listing), for the run's
/// statistics: what a listing costs is measured, not estimated.
pub static LIST_REQUESTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn listed_a_page() {
    LIST_REQUESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Lists "folders" under a prefix (delimiter `/`).
pub(super) async fn list_dirs(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, ApiFailure> {
    let mut out = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .delimiter("/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        listed_a_page();
        let page = page.map_err(|e| ApiFailure::from_sdk("s3:ListBucket", None, &e))?;
        for cp in page.common_prefixes() {
            if let Some(p) = cp.prefix() {
                out.push(p[prefix.len()..].trim_end_matches('/').to_owned());
            }
        }
    }
    Ok(out)
}

/// Sends every key under `prefix` into `tx`, page by page (S3 lists in key order).
pub(super) async fn list(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    tx: &mpsc::Sender<Entry>,
) -> Result<u64, String> {
    let mut sent = 0;
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        listed_a_page();
        let page = page.map_err(|e| ApiFailure::from_sdk("s3:ListBucket", None, &e).summary())?;
        for obj in page.contents() {
            let Some(key) = obj.key() else { continue };
            let entry = Entry {
                key: key.to_owned(),
                size: obj.size().unwrap_or(0).max(0) as u64,
                regular: true,
            };
            if tx.send(entry).await.is_err() {
                return Ok(sent);
            }
            sent += 1;
        }
    }
    Ok(sent)
}

/// GETs one object with its user metadata and ETag; failures as `access_denied`, `not_found`,
/// `too_large` (its `Content-Length` over `max_bytes`: the body is not read) or `fetch_failed`
/// (after five attempts: the SDK's retries stop at the response headers, so a body cut off
/// mid-read is retried here).
pub async fn fetch_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    max_bytes: u64,
) -> Result<super::Object, ReadError> {
    let mut last = String::new();
    for attempt in 0..5u32 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
        }
        match s3.get_object().bucket(bucket).key(key).send().await {
            Ok(mut out) => {
                let length = out.content_length().unwrap_or(0).max(0) as u64;
                if length > max_bytes {
                    return Err(ReadError::too_large(length, max_bytes));
                }
                let metadata = out.metadata.take().unwrap_or_default();
                let etag = out.e_tag.take();
                match out.body.collect().await {
                    Ok(data) => {
                        return Ok(super::Object {
                            bytes: data.into_bytes(),
                            metadata,
                            etag,
                        });
                    }
                    Err(e) => {
                        last = format!(
                            "body read failed: {}",
                            aws_smithy_types::error::display::DisplayErrorContext(&e)
                        )
                    }
                }
            }
            Err(e) => {
                let f = ApiFailure::from_sdk("s3:GetObject", None, &e);
                let status = match f.kind {
                    FailureKind::AccessDenied => "access_denied",
                    FailureKind::NotFound => "not_found",
                    _ => {
                        last = f.summary();
                        continue;
                    }
                };
                return Err(ReadError {
                    status,
                    error: f.summary(),
                });
            }
        }
    }
    Err(ReadError {
        status: "fetch_failed",
        error: last,
    })
}

/// Objects larger than this are uploaded in parts of [`UPLOAD_PART`] bytes.
pub const MULTIPART_FROM: u64 = 64 << 20;
/// Part size of a multipart upload.
pub const UPLOAD_PART: usize = 16 << 20;

/// Why [`upload_dir`] stopped.
#[derive(Debug)]
pub enum UploadError {
    /// The first object was already there: another run has this folder.
    Taken,
    Failed(String),
}

impl std::fmt::Display for UploadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UploadError::Taken => f.write_str("the folder is another run's"),
            UploadError::Failed(e) => f.write_str(e),
        }
    }
}

/// Whether a PUT failed because the key exists (`If-None-Match: *`).
fn exists(status: Option<u16>, failure: &ApiFailure) -> bool {
    status == Some(412) || failure.code.as_deref() == Some("PreconditionFailed")
}

/// Uploads the regular files of `dir` under `prefix` (`prefix/NAME`), each with a SHA-256
/// checksum S3 verifies and only if its key is free (`If-None-Match: *`): `first` first (it
/// claims the folder: when it exists, another run has the folder and nothing is written,
/// [`UploadError::Taken`]), then the others in name order, `last` after every other: a reader
/// that finds `last` finds a complete set, and no object of another run is ever overwritten.
/// Large files go up in parts, one part in memory at a time. Returns the keys written.
pub async fn upload_dir(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    dir: &std::path::Path,
    first: &str,
    last: &str,
) -> Result<Vec<String>, UploadError> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| UploadError::Failed(format!("cannot list {}: {e}", dir.display())))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort_by_key(|n| (n != first, n == last, n.clone()));
    let mut keys = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let key = format!("{}/{name}", prefix.trim_end_matches('/'));
        let failed = |e: String| UploadError::Failed(e);
        let size = std::fs::metadata(&path)
            .map_err(|e| failed(format!("cannot read {}: {e}", path.display())))?
            .len();
        let result = put_new(s3, bucket, &key, &path, size).await;
        match result {
            Ok(()) => {}
            Err((true, _)) if keys.is_empty() => return Err(UploadError::Taken),
            Err((true, _)) => {
                return Err(failed(format!(
                    "{key} was written by another run meanwhile: this folder is incomplete"
                )));
            }
            Err((false, e)) => return Err(failed(e)),
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Uploads the file at `path` (`size` bytes) to `key` with a SHA-256 checksum S3 verifies, only
/// if the key is free (`If-None-Match: *`), in parts past [`MULTIPART_FROM`]; an error says
/// whether the key was taken (`true`) and what happened.
pub async fn put_new(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    path: &std::path::Path,
    size: u64,
) -> Result<(), (bool, String)> {
    if size >= MULTIPART_FROM {
        return upload_parts(s3, bucket, key, path).await;
    }
    let body = aws_sdk_s3::primitives::ByteStream::from_path(path)
        .await
        .map_err(|e| (false, format!("cannot read {}: {e}", path.display())))?;
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
        .if_none_match("*")
        .body(body)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            let f = ApiFailure::from_sdk("s3:PutObject", None, &e);
            (
                exists(e.raw_response().map(|r| r.status().as_u16()), &f),
                f.summary(),
            )
        })
}

/// A multipart upload, completed only if the key is free; an error says whether it was not.
async fn upload_parts(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    path: &std::path::Path,
) -> Result<(), (bool, String)> {
    use std::io::Read;
    let fail = |e: &dyn std::fmt::Display| (false, format!("{key}: {e}"));
    let started = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
        .send()
        .await
        .map_err(|e| {
            (
                false,
                ApiFailure::from_sdk("s3:PutObject", None, &e).summary(),
            )
        })?;
    let id = started.upload_id().unwrap_or_default().to_owned();
    let result = async {
        let mut file = std::fs::File::open(path).map_err(|e| fail(&e))?;
        let mut parts = Vec::new();
        let mut buf = vec![0u8; UPLOAD_PART];
        for number in 1.. {
            let mut n = 0;
            while n < buf.len() {
                let got = file.read(&mut buf[n..]).map_err(|e| fail(&e))?;
                if got == 0 {
                    break;
                }
                n += got;
            }
            if n == 0 {
                break;
            }
            let part = s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(&id)
                .part_number(number)
                .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
                .body(aws_sdk_s3::primitives::ByteStream::from(buf[..n].to_vec()))
                .send()
                .await
                .map_err(|e| {
                    (
                        false,
                        ApiFailure::from_sdk("s3:PutObject", None, &e).summary(),
                    )
                })?;
            parts.push(
                aws_sdk_s3::types::CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(part.e_tag().map(str::to_owned))
                    .set_checksum_sha256(part.checksum_sha256().map(str::to_owned))
                    .build(),
            );
            if n < buf.len() {
                break;
            }
        }
        s3.complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .multipart_upload(
                aws_sdk_s3::types::CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .if_none_match("*")
            .send()
            .await
            .map_err(|e| {
                let f = ApiFailure::from_sdk("s3:PutObject", None, &e);
                (
                    exists(e.raw_response().map(|r| r.status().as_u16()), &f),
                    f.summary(),
                )
            })?;
        Ok::<(), (bool, String)>(())
    }
    .await;
    if result.is_err() {
        // Nothing half-uploaded is left to be billed or mistaken for output.
        s3.abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .send()
            .await
            .ok();
    }
    result
}
