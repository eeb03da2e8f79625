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
    *PROFILE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = args.profile.clone();
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
            let failure = ApiFailure::from_sdk("s3:ListBucket", None, &e);
            // A setup failure is the run's error, said once by the call that needs the
            // bucket: not a warning here as well.
            if !failure.kind.is_setup() {
                tracing::warn!(bucket, error = %failure.summary(), "Cannot read the bucket's region; using the configured region.");
            }
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
    /// No credentials: the default chain found none, or could not load the ones configured.
    NoCredentials,
    /// The profile's SSO session has expired or was never started (`aws sso login`).
    SsoLoginRequired,
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

/// The reason codes of setup failures ([`FailureKind::is_setup`]), as summaries spell them.
pub const SETUP_REASONS: [&str; 4] = [
    "NO_CREDENTIALS",
    "SSO_TOKEN_EXPIRED",
    "INVALID_CREDENTIALS",
    "ENDPOINT_UNREACHABLE",
];

impl FailureKind {
    /// Failures of the caller's setup (credentials, endpoint), not of one call: the same for
    /// every call, so the person must fix them first.
    pub fn is_setup(self) -> bool {
        matches!(
            self,
            FailureKind::NoCredentials
                | FailureKind::SsoLoginRequired
                | FailureKind::InvalidCredentials
                | FailureKind::Unreachable
        )
    }
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
    /// One line a person can act on.
    pub message: String,
    /// What the call was about (a trail ARN, a bucket), when known: named with a denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
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
            resource: None,
        }
    }

    /// The same failure, about `resource`.
    pub fn on(mut self, resource: impl Into<String>) -> Self {
        let resource = resource.into();
        if self.kind == FailureKind::AccessDenied && !self.message.contains(&resource) {
            // `not authorized on ARN (why)`: the resource before the why, so a cut keeps it.
            let message = match self.message.strip_prefix("not authorized") {
                Some(why) => format!("not authorized on {resource}{why}"),
                None => format!("{} (on {resource})", self.message),
            };
            self.message = one_line(&message, MESSAGE_MAX);
        }
        self.resource = Some(resource);
        self
    }

    /// The reason code of this failure as findings spell it: `PERMISSION_DENIED(api)`,
    /// `INVALID_CREDENTIALS`, `NO_CREDENTIALS`, `SSO_TOKEN_EXPIRED`, `ENDPOINT_UNREACHABLE`,
    /// else `API_ERROR(api)`.
    pub fn reason(&self) -> String {
        match self.kind {
            FailureKind::AccessDenied => format!("PERMISSION_DENIED({})", self.api),
            FailureKind::InvalidCredentials => "INVALID_CREDENTIALS".into(),
            FailureKind::NoCredentials => "NO_CREDENTIALS".into(),
            FailureKind::SsoLoginRequired => "SSO_TOKEN_EXPIRED".into(),
            FailureKind::Unreachable => "ENDPOINT_UNREACHABLE".into(),
            _ => format!("API_ERROR({})", self.api),
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
        // An error body the SDK could not parse (an emulator's XML for a JSON protocol, a
        // wrapper it does not expect) still names the code and message.
        let (body_code, body_message) = match err.code() {
            Some(_) => (None, None),
            None => body_error(err.raw_response()),
        };
        let code = err.code().map(str::to_owned).or(body_code);
        let aws_message = err.message().map(str::to_owned).or(body_message);
        let status = err.raw_response().map(|r| r.status().as_u16());
        let credentials = match err {
            SdkError::DispatchFailure(_) => credentials_problem(err),
            _ => None,
        };
        let kind = match (err, &credentials) {
            (_, Some((kind, _))) => *kind,
            (SdkError::TimeoutError(_) | SdkError::DispatchFailure(_), _) => {
                FailureKind::Unreachable
            }
            _ => classify_code(code.as_deref()).unwrap_or(match status {
                Some(401) => FailureKind::InvalidCredentials,
                Some(403) => FailureKind::AccessDenied,
                Some(404) | Some(501) => FailureKind::NotImplemented,
                Some(429) => FailureKind::Throttled,
                _ => FailureKind::Service,
            }),
        };
        let message = match (credentials, kind) {
            (Some((_, message)), _) => message,
            (None, FailureKind::Unreachable) => match err {
                SdkError::TimeoutError(_) => UNREACHABLE_HINT.replace("{cause}", "timed out"),
                _ => UNREACHABLE_HINT.replace("{cause}", &root_cause(err)),
            },
            (None, FailureKind::InvalidCredentials) => format!(
                "the credentials were rejected ({}): invalid or expired keys; renew them or set AWS_PROFILE",
                code.as_deref().unwrap_or("HTTP 401/403")
            ),
            (None, FailureKind::AccessDenied) => {
                // The action and the resource are named by the failure; of the service's
                // message only why (an explicit deny, no policy allowing it).
                let why = aws_message.as_deref().and_then(denial_why);
                match (why, status) {
                    (Some(why), _) => format!("not authorized ({why})"),
                    (None, Some(status)) if aws_message.is_none() => {
                        format!("not authorized (HTTP {status})")
                    }
                    (None, _) => "not authorized".to_owned(),
                }
            }
            (None, _) => match (aws_message.as_deref(), err, status) {
                (Some(m), _, _) => m.to_owned(),
                (None, SdkError::ServiceError(_) | SdkError::ResponseError(_), Some(status)) => {
                    match kind {
                        FailureKind::NotImplemented => {
                            format!("HTTP {status}: the API is not served at this endpoint")
                        }
                        _ => format!("HTTP {status} with no error message"),
                    }
                }
                (None, _, _) => root_cause(err),
            },
        };
        if matches!(
            kind,
            FailureKind::NoCredentials
                | FailureKind::SsoLoginRequired
                | FailureKind::Unreachable
                | FailureKind::InvalidCredentials
        ) || aws_message.is_none()
        {
            // The SDK's whole chain is for `-v`: the finding holds the one line above.
            tracing::info!(api, error = %DisplayErrorContext(err), "The AWS call failed.");
        }
        ApiFailure {
            api,
            region: region.map(str::to_owned),
            kind,
            code,
            message: one_line(&message, MESSAGE_MAX),
            resource: None,
        }
    }

    /// One line for humans: `cloudtrail:DescribeTrails in eu-west-1: ThrottlingException: …`,
    /// a denial led by its reason: `PERMISSION_DENIED(cloudtrail:DescribeTrails) in …`.
    pub fn summary(&self) -> String {
        match self.kind {
            FailureKind::AccessDenied => self.reason() + &self.detail()[self.api.len()..],
            // What the person must fix comes first: `NO_CREDENTIALS: s3:ListBucket: …`.
            k if k.is_setup() => format!("{}: {}", self.reason(), self.detail()),
            _ => self.detail(),
        }
    }

    /// [`ApiFailure::summary`] without the reason, for a finding that states it:
    /// `cloudtrail:DescribeTrails in eu-west-1: AccessDeniedException: …`.
    pub fn detail(&self) -> String {
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

/// The longest message a failure keeps (findings stay one line under 200 characters); the
/// SDK's whole error chain is logged under `-v`.
pub const MESSAGE_MAX: usize = 160;

const NO_CREDENTIALS_HINT: &str = "set AWS_PROFILE or run aws configure / aws sso login";
const UNREACHABLE_HINT: &str =
    "cannot reach the AWS endpoint ({cause}): check --endpoint-url, --region, the network or proxy";

/// The profile the credentials come from (`--profile`, `AWS_PROFILE`), as [`sdk_config`]
/// last saw it: named in the `aws sso login` a failure asks for.
static PROFILE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn profile_in_use() -> String {
    PROFILE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "default".into())
}

/// `s` on one line, at most `max` characters (cut with `…`).
pub fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Why AWS denied a call, short (the finding names the action and resource itself): AWS's
/// "… with an explicit deny in a service control policy" becomes "explicit deny in a service
/// control policy", "… because no identity-based policy allows the X action" becomes "no
/// identity-based policy allows it".
fn denial_why(m: &str) -> Option<String> {
    let m = m.trim_end_matches('.');
    if let Some(i) = m.find("explicit deny") {
        return Some(m[i..].to_owned());
    }
    let rest = &m[m.find("because no ")? + "because ".len()..];
    let what = rest.find(" allows").map_or(rest, |j| &rest[..j]);
    Some(format!("{what} allows it"))
}

/// `<Code>` and `<Message>` of an XML error body.
fn body_error(raw: Option<&HttpResponse>) -> (Option<String>, Option<String>) {
    let Some(bytes) = raw.and_then(|r| r.body().bytes()) else {
        return (None, None);
    };
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    if !text.trim_start().starts_with('<') {
        return (None, None);
    }
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = start + text[start..].find(&format!("</{name}>"))?;
        Some(text[start..end].trim().to_owned()).filter(|s| !s.is_empty())
    };
    (tag("Code"), tag("Message"))
}

/// The innermost error of a chain (`Connection refused (os error 111)`), or the error itself.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    let text = last.to_string();
    if text.is_empty() {
        err.to_string()
    } else {
        text
    }
}

/// Whether a dispatch failure is the credential chain's (the SDK resolves credentials before
/// it sends): the kind and the line to show. The chain's errors are only reachable as text
/// (their types are private to aws-config), so this reads the texts of the error chain; the
/// integration tests (`errors.rs`) pin them by running the binary against the SDK's own
/// providers (no credentials, an expired SSO token, a profile not defined).
fn credentials_problem(err: &(dyn std::error::Error + 'static)) -> Option<(FailureKind, String)> {
    let mut texts = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        texts.push(e.to_string());
        next = e.source();
    }
    let is = |needle: &str| texts.iter().any(|t| t.contains(needle));
    let credentials = is("the credential provider was not enabled")
        || is("while loading credentials")
        || is("credentials provider was not properly configured")
        || is("credentials provider timed out")
        || is("unexpected credentials error");
    if !credentials {
        return None;
    }
    // A profile that does not exist is that, whatever its name holds (`SSO-Audit`).
    let undefined = is("was not defined");
    // The SSO providers: the token provider's errors name the SSO token or session; the
    // legacy profile (its `sso_start_url` in the profile) reads the token cache, then calls
    // GetRoleCredentials.
    let sso = [
        "SSO token",
        "SSO session",
        "sso_session",
        "/sso/cache/",
        "GetRoleCredentials",
    ]
    .iter()
    .any(|k| is(k))
        || is("UnauthorizedException");
    if sso && !undefined {
        let p = profile_in_use();
        return Some((
            FailureKind::SsoLoginRequired,
            format!(
                "run aws sso login --profile {p}: its SSO session has expired or was never started"
            ),
        ));
    }
    let named = PROFILE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    // A profile was named and the chain found nothing (the profile gave no credentials).
    let found_nothing = is("the credential provider was not enabled") || is("IMDS");
    if let Some(p) = named
        .filter(|_| found_nothing)
        .or_else(|| undefined.then(profile_in_use))
    {
        return Some((
            FailureKind::NoCredentials,
            format!(
                "profile {p} is not defined (or holds no credentials) in the AWS config files: {NO_CREDENTIALS_HINT}"
            ),
        ));
    }
    if found_nothing {
        return Some((
            FailureKind::NoCredentials,
            format!(
                "no AWS credentials found (tried env vars, profile files, SSO, web identity, ECS, IMDS): {NO_CREDENTIALS_HINT}"
            ),
        ));
    }
    let cause = one_line(texts.last().map(String::as_str).unwrap_or_default(), 70);
    Some((
        FailureKind::NoCredentials,
        format!("cannot load AWS credentials ({cause}): {NO_CREDENTIALS_HINT}"),
    ))
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
            "PERMISSION_DENIED(cloudtrail:DescribeTrails) in eu-west-1: AccessDeniedException: no"
        );
        f.kind = FailureKind::Throttled;
        f.code = Some("ThrottlingException".into());
        assert_eq!(
            f.summary(),
            "cloudtrail:DescribeTrails in eu-west-1: ThrottlingException: no"
        );
    }

    #[test]
    fn a_denial_names_its_resource_once() {
        let f = ApiFailure::new(
            "s3:ListBucket",
            None,
            FailureKind::AccessDenied,
            "not authorized",
        )
        .on("arn:aws:s3:::logs");
        assert_eq!(f.resource.as_deref(), Some("arn:aws:s3:::logs"));
        assert_eq!(
            f.summary(),
            "PERMISSION_DENIED(s3:ListBucket): not authorized on arn:aws:s3:::logs"
        );
        assert_eq!(f.clone().on("arn:aws:s3:::logs").message, f.message);
    }

    /// A failed CloudTrail call whose error body the SDK could not parse, as moto answers.
    fn unparsed(status: u16, body: &'static str) -> ApiFailure {
        use aws_sdk_cloudtrail::operation::describe_trails::DescribeTrailsError;
        use aws_smithy_types::error::ErrorMetadata;
        let raw = HttpResponse::new(
            status.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::from(body),
        );
        let err = SdkError::service_error(
            DescribeTrailsError::generic(ErrorMetadata::builder().build()),
            raw,
        );
        ApiFailure::from_sdk("cloudtrail:DescribeTrails", Some("eu-west-1"), &err)
    }

    #[test]
    fn an_xml_error_body_the_sdk_cannot_parse_is_read() {
        let denied = unparsed(
            403,
            "<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: \
             arn:aws:iam::123456789012:user/reader is not authorized to perform: \
             cloudtrail:DescribeTrails because no identity-based policy allows the \
             cloudtrail:DescribeTrails action</Message></Error></Errors></ErrorResponse>",
        );
        assert_eq!(denied.kind, FailureKind::AccessDenied);
        assert_eq!(denied.code.as_deref(), Some("AccessDenied"));
        assert_eq!(
            denied.message,
            "not authorized (no identity-based policy allows it)"
        );
        let rejected = unparsed(
            403,
            "<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>InvalidClientTokenId\
             </Code><Message>The security token included in the request is invalid.</Message>\
             </Error></Errors></ErrorResponse>",
        );
        assert_eq!(rejected.kind, FailureKind::InvalidCredentials);
        assert_eq!(rejected.reason(), "INVALID_CREDENTIALS");
        assert!(rejected.message.contains("(InvalidClientTokenId)"));
        let bare = unparsed(403, "");
        assert_eq!(
            (bare.kind, bare.code.as_deref(), bare.message.as_str()),
            (FailureKind::AccessDenied, None, "not authorized (HTTP 403)")
        );
        assert_eq!(unparsed(404, "").kind, FailureKind::NotImplemented);
    }

    #[test]
    fn aws_denial_texts_are_short_and_the_trail_stays_named() {
        // AWS's own texts (longer than moto's), on a long trail ARN: the finding line stays
        // under 200 characters with the resource in it.
        let scp = unparsed(
            403,
            "<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: \
             arn:aws:sts::123456789012:assumed-role/AuditReadOnly/session-name is not \
             authorized to perform: cloudtrail:GetEventSelectors on resource: \
             arn:aws:cloudtrail:ap-southeast-1:123456789012:trail/organization-audit-trail \
             with an explicit deny in a service control policy</Message></Error></Errors>\
             </ErrorResponse>",
        );
        assert_eq!(
            scp.message,
            "not authorized (explicit deny in a service control policy)"
        );
        let arn = "arn:aws:cloudtrail:ap-southeast-1:123456789012:trail/organization-audit-trail";
        let on = scp.on(arn);
        // As the check's finding has it: the ARN names the trail and its region.
        let line = format!("{}: {}", on.reason(), on.message);
        assert!(
            line.chars().count() < 200,
            "{} chars: {line}",
            line.chars().count()
        );
        assert!(line.contains(arn), "{line}");
    }

    #[test]
    fn one_line_flattens_and_cuts() {
        assert_eq!(one_line("a\n  b\tc", 10), "a b c");
        let long = one_line(&"x".repeat(300), MESSAGE_MAX);
        assert_eq!(long.chars().count(), MESSAGE_MAX);
        assert!(long.ends_with('…'));
    }
}
