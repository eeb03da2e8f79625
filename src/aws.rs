//! AWS plumbing: one `SdkConfig` builder for every client, per-region clients, and the
//! classification of failed calls into a small fixed set of [`FailureKind`]s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

/// Region used for global calls (STS, account) when no region is configured at all.
pub const FALLBACK_REGION: &str = "us-east-1";

/// Attempts per AWS call when not configured (standard retry mode).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Connect timeout per AWS call when not configured.
pub const DEFAULT_CONNECT_TIMEOUT: &str = "5s";
/// Timeout of a whole AWS call, retries included, when not configured.
pub const DEFAULT_OPERATION_TIMEOUT: &str = "60s";

/// How to reach AWS: the standard chains, overridden where a field is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// Named profile from the shared config files.
    pub profile: Option<String>,
    /// Region for global calls (STS, account).
    pub region: Option<String>,
    /// One endpoint for every call (an emulator, a VPC endpoint).
    pub endpoint_url: Option<String>,
    pub max_attempts: u32,
    pub connect_timeout: std::time::Duration,
    pub operation_timeout: std::time::Duration,
}

/// Builds the one `SdkConfig` all clients derive from: the standard credential and region
/// chains, `--profile`, `--region`, `--endpoint-url` (or `AWS_ENDPOINT_URL`), standard retries
/// with `--max-attempts`, and connect/operation timeouts.
pub async fn sdk_config(args: &AwsSettings) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(args.connect_timeout)
        .operation_timeout(args.operation_timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(args.max_attempts))
        .timeout_config(timeouts);
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &args.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &args.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    if config.region().is_none() {
        tracing::info!(
            region = FALLBACK_REGION,
            "No region configured; using the default region for global calls."
        );
        return config
            .into_builder()
            .region(Region::new(FALLBACK_REGION))
            .build();
    }
    config
}

/// Builds a CloudTrail client for one region.
pub type CloudTrailFactory = dyn Fn(&str) -> aws_sdk_cloudtrail::Client + Send + Sync;

/// The clients `check` needs. CloudTrail is regional, so it comes from a factory; the
/// production factory caches one client per region, tests supply mocked ones.
#[derive(Clone)]
pub struct CheckClients {
    pub sts: aws_sdk_sts::Client,
    pub account: aws_sdk_account::Client,
    cloudtrail: Arc<CloudTrailFactory>,
}

impl CheckClients {
    pub fn new(
        sts: aws_sdk_sts::Client,
        account: aws_sdk_account::Client,
        cloudtrail: impl Fn(&str) -> aws_sdk_cloudtrail::Client + Send + Sync + 'static,
    ) -> Self {
        CheckClients {
            sts,
            account,
            cloudtrail: Arc::new(cloudtrail),
        }
    }

    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        let base = aws_sdk_cloudtrail::config::Builder::from(config);
        let cache: Mutex<HashMap<String, aws_sdk_cloudtrail::Client>> = Mutex::default();
        Self::new(
            aws_sdk_sts::Client::new(config),
            aws_sdk_account::Client::new(config),
            move |region| {
                let mut cache = cache
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                cache
                    .entry(region.to_owned())
                    .or_insert_with(|| {
                        aws_sdk_cloudtrail::Client::from_conf(
                            base.clone().region(Region::new(region.to_owned())).build(),
                        )
                    })
                    .clone()
            },
        )
    }

    pub fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        (self.cloudtrail)(region)
    }
}

/// Builds an S3 client from the shared config; path-style addressing whenever the endpoint
/// is overridden (emulators and most S3-compatible servers need it).
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let mut builder = aws_sdk_s3::config::Builder::from(config);
    if config.endpoint_url().is_some() {
        builder = builder.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// An S3 client for `bucket`: SigV4 needs the bucket's own region, which `HeadBucket`
/// reports; falls back to the configured region when it cannot be read.
pub async fn s3_client_for_bucket(config: &SdkConfig, bucket: &str) -> aws_sdk_s3::Client {
    let client = s3_client(config);
    let configured = config.region().map(|r| r.as_ref().to_owned());
    match client.head_bucket().bucket(bucket).send().await {
        Ok(out) => match out.bucket_region() {
            Some(region) if Some(region) != configured.as_deref() && !region.is_empty() => {
                let regional = config
                    .to_builder()
                    .region(Region::new(region.to_owned()))
                    .build();
                s3_client(&regional)
            }
            _ => client,
        },
        Err(e) => {
            tracing::warn!(bucket, error = %ApiFailure::from_sdk("s3:ListBucket", None, &e).summary(), "Cannot read the bucket's region; using the configured region.");
            client
        }
    }
}

/// The small fixed set of failure classes the verdict logic branches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The caller lacks permission (IAM, SCP, permission boundary).
    AccessDenied,
    /// The credentials were rejected (invalid, expired, or not valid in this region).
    InvalidCredentials,
    /// The named resource does not exist (or is not visible from here).
    NotFound,
    /// Throttled even after the SDK's retries.
    Throttled,
    /// No answer: connect failure, timeout, DNS.
    Unreachable,
    /// The API is not served at this endpoint (an emulator without it, a partition without it).
    NotImplemented,
    /// Any other service error.
    Service,
}

/// A failed AWS call, kept as data: which API, where, the service's error code and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiFailure {
    /// IAM action name, e.g. `cloudtrail:GetTrailStatus`.
    pub api: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub kind: FailureKind,
    /// The service's error code, when it sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub message: String,
}

impl ApiFailure {
    pub fn new(
        api: &'static str,
        region: Option<&str>,
        kind: FailureKind,
        message: impl Into<String>,
    ) -> Self {
        ApiFailure {
            api,
            region: region.map(str::to_owned),
            kind,
            code: None,
            message: message.into(),
        }
    }

    /// Classifies any SDK error with `ProvideErrorMetadata::code()` and the error's variant.
    pub fn from_sdk<E>(
        api: &'static str,
        region: Option<&str>,
        err: &SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = err.code().map(str::to_owned);
        let status = err.raw_response().map(|r| r.status().as_u16());
        let kind = match err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => FailureKind::Unreachable,
            _ => classify_code(code.as_deref()).unwrap_or(match status {
                Some(403) => FailureKind::AccessDenied,
                Some(404) | Some(501) => FailureKind::NotImplemented,
                Some(429) => FailureKind::Throttled,
                _ => FailureKind::Service,
            }),
        };
        let message = match (err.message(), err, status) {
            (Some(m), _, _) => m.to_owned(),
            (None, SdkError::TimeoutError(_), _) => "timed out".to_owned(),
            (None, SdkError::ServiceError(_) | SdkError::ResponseError(_), Some(status)) => {
                match kind {
                    FailureKind::NotImplemented => {
                        format!("HTTP {status}: the API is not served at this endpoint")
                    }
                    _ => format!("HTTP {status} with no error message"),
                }
            }
            (None, _, _) => DisplayErrorContext(err).to_string(),
        };
        ApiFailure {
            api,
            region: region.map(str::to_owned),
            kind,
            code,
            message,
        }
    }

    /// One line for humans: `cloudtrail:DescribeTrails in eu-west-1: AccessDeniedException: …`.
    pub fn summary(&self) -> String {
        let mut s = self.api.to_owned();
        if let Some(r) = &self.region {
            s.push_str(" in ");
            s.push_str(r);
        }
        s.push_str(": ");
        if let Some(c) = &self.code {
            s.push_str(c);
            s.push_str(": ");
        }
        s.push_str(&self.message);
        s
    }
}

/// Maps AWS error codes to a [`FailureKind`]; `None` for codes with no special meaning.
pub fn classify_code(code: Option<&str>) -> Option<FailureKind> {
    let kind = match code? {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError"
        | "UnauthorizedException"
        | "OperationNotPermittedException"
        | "Forbidden" => FailureKind::AccessDenied,
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "SignatureDoesNotMatch"
        | "InvalidAccessKeyId"
        | "AuthFailure"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "MissingAuthenticationToken" => FailureKind::InvalidCredentials,
        "Throttling"
        | "ThrottlingException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "SlowDown"
        | "RequestThrottled"
        | "RequestThrottledException" => FailureKind::Throttled,
        "TrailNotFoundException"
        | "NoSuchBucket"
        | "NoSuchKey"
        | "NotFound"
        | "ResourceNotFoundException" => FailureKind::NotFound,
        "NotImplemented" | "UnknownOperationException" | "InvalidAction" => {
            FailureKind::NotImplemented
        }
        _ => return None,
    };
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_classify() {
        let table = [
            ("AccessDeniedException", Some(FailureKind::AccessDenied)),
            ("AccessDenied", Some(FailureKind::AccessDenied)),
            (
                "UnrecognizedClientException",
                Some(FailureKind::InvalidCredentials),
            ),
            (
                "InvalidClientTokenId",
                Some(FailureKind::InvalidCredentials),
            ),
            ("ThrottlingException", Some(FailureKind::Throttled)),
            ("SlowDown", Some(FailureKind::Throttled)),
            ("TrailNotFoundException", Some(FailureKind::NotFound)),
            ("InternalFailure", None),
        ];
        for (code, want) in table {
            assert_eq!(classify_code(Some(code)), want, "code {code}");
        }
        assert_eq!(classify_code(None), None);
    }

    #[test]
    fn summary_names_api_region_and_code() {
        let mut f = ApiFailure::new(
            "cloudtrail:DescribeTrails",
            Some("eu-west-1"),
            FailureKind::AccessDenied,
            "no",
        );
        f.code = Some("AccessDeniedException".into());
        assert_eq!(
            f.summary(),
            "cloudtrail:DescribeTrails in eu-west-1: AccessDeniedException: no"
        );
    }
}
