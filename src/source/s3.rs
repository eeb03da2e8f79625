//! S3: paginated listing streamed into a channel, and GETs whose body read is retried (the
//! SDK's retries stop at the response headers).

use tokio::sync::mpsc;

use super::{Entry, ReadError};
use crate::aws::{ApiFailure, FailureKind};

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
