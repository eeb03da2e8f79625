//! `trailproof canary send`: the probes' calls, made concurrently, one region at a time each.

use aws_config::{AppName, Region, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{CanaryFile, Probe, ProbeKind, SCHEMA, Sent};
use crate::aws::ApiFailure;
use crate::time::{now_secs, rfc3339};

/// The read probe: a CloudTrail read, recorded as a read management event in the region.
pub const READ: (&str, &str, &str) = (
    "cloudtrail.amazonaws.com",
    "DescribeTrails",
    "cloudtrail:DescribeTrails",
);
/// The write probe: an EC2 write with `DryRun` (changes nothing; answered `DryRunOperation`,
/// recorded as a write with errorCode `Client.DryRunOperation`). The key pair it names does
/// not exist, so even a call without `DryRun` would change nothing.
pub const WRITE: (&str, &str, &str) = ("ec2.amazonaws.com", "DeleteKeyPair", "ec2:DeleteKeyPair");
/// The global probe: an IAM read, recorded in the partition's global region.
pub const GLOBAL: (&str, &str, &str) = (
    "iam.amazonaws.com",
    "ListAccountAliases",
    "iam:ListAccountAliases",
);

/// Whose probes, where.
pub struct Plan {
    pub account_id: String,
    pub partition: String,
    pub global_region: String,
    pub regions: Vec<String>,
    pub marker: String,
}

/// Makes every probe's call and returns the canary file (the calls that failed are in it,
/// `outcome: failed`, with the reason).
pub async fn send(sdk: &SdkConfig, plan: Plan) -> crate::Result<CanaryFile> {
    let app = AppName::new(plan.marker.clone()).map_err(|e| {
        crate::Error::with_source(
            crate::ErrorKind::Usage,
            format!("{} cannot be a user agent app name", plan.marker),
            e,
        )
    })?;
    let sdk = sdk.to_builder().app_name(app).build();
    let sent_at = rfc3339(now_secs());
    let mut tasks = tokio::task::JoinSet::new();
    for region in &plan.regions {
        let (conf, r) = (sdk.clone(), region.clone());
        tasks.spawn(async move {
            let p = read(&conf, &r).await;
            (r, p)
        });
        let (conf, r) = (sdk.clone(), region.clone());
        tasks.spawn(async move {
            let p = write(&conf, &r).await;
            (r, p)
        });
    }
    {
        let (sdk, region) = (sdk.clone(), plan.global_region.clone());
        tasks.spawn(async move {
            let p = global(&sdk, &region).await;
            (region, p)
        });
    }
    let mut probes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (region, mut probe) = done.expect("a probe task panicked");
        probe.region = region;
        probes.push(probe);
    }
    probes.sort_by(|a, b| (&a.region, a.kind).cmp(&(&b.region, b.kind)));
    Ok(CanaryFile {
        schema: SCHEMA.into(),
        marker: plan.marker,
        account_id: plan.account_id,
        partition: plan.partition,
        global_region: plan.global_region,
        sent_at,
        probes,
    })
}

fn probe(kind: ProbeKind, (source, name, _): (&str, &str, &str), at: i64) -> Probe {
    Probe {
        kind,
        region: String::new(),
        event_source: source.into(),
        event_name: name.into(),
        sent_at: rfc3339(at),
        request_id: None,
        outcome: Sent::Answered,
        error: None,
    }
}

/// Records a failed call on the probe: its request id if the service answered, the reason.
fn failed<E>(p: &mut Probe, api: &'static str, region: &str, e: &SdkError<E, HttpResponse>)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    p.outcome = Sent::Failed;
    p.request_id = request_id(e);
    let failure = ApiFailure::from_sdk(api, Some(region), e);
    tracing::warn!(error = %failure.summary(), "A canary call failed.");
    p.error = Some(failure.summary());
}

/// The request id of an answered call that failed (header or, for EC2 and IAM, the body).
fn request_id<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> Option<String> {
    let from_meta = match e {
        SdkError::ServiceError(s) => s.err().meta().extra("aws_request_id").map(str::to_owned),
        _ => None,
    };
    from_meta.or_else(|| {
        let headers = e.raw_response()?.headers();
        ["x-amzn-requestid", "x-amz-request-id"]
            .iter()
            .find_map(|h| headers.get(*h).map(str::to_owned))
    })
}

async fn read(sdk: &SdkConfig, region: &str) -> Probe {
    use aws_sdk_cloudtrail::operation::RequestId;
    let conf = aws_sdk_cloudtrail::config::Builder::from(sdk)
        .region(Region::new(region.to_owned()))
        .build();
    let client = aws_sdk_cloudtrail::Client::from_conf(conf);
    let mut p = probe(ProbeKind::Read, READ, now_secs());
    match client.describe_trails().send().await {
        Ok(out) => p.request_id = out.request_id().map(str::to_owned),
        Err(e) => failed(&mut p, READ.2, region, &e),
    }
    p
}

async fn write(sdk: &SdkConfig, region: &str) -> Probe {
    let conf = aws_sdk_ec2::config::Builder::from(sdk)
        .region(Region::new(region.to_owned()))
        .build();
    let client = aws_sdk_ec2::Client::from_conf(conf);
    let mut p = probe(ProbeKind::Write, WRITE, now_secs());
    let name = sdk
        .app_name()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "trailproof-canary".into());
    match client
        .delete_key_pair()
        .key_name(name)
        .dry_run(true)
        .send()
        .await
    {
        // DryRun answers with this error when the call would have succeeded.
        Err(SdkError::ServiceError(e)) if e.err().code() == Some("DryRunOperation") => {
            p.request_id = e.err().meta().extra("aws_request_id").map(str::to_owned);
        }
        Err(e) => failed(&mut p, WRITE.2, region, &e),
        Ok(_) => {
            p.outcome = Sent::Failed;
            p.error = Some(format!(
                "{} in {region} succeeded although DryRun was set",
                WRITE.2
            ));
        }
    }
    p
}

async fn global(sdk: &SdkConfig, region: &str) -> Probe {
    use aws_sdk_iam::operation::RequestId;
    let conf = aws_sdk_iam::config::Builder::from(sdk)
        .region(Region::new(region.to_owned()))
        .build();
    let client = aws_sdk_iam::Client::from_conf(conf);
    let mut p = probe(ProbeKind::Global, GLOBAL, now_secs());
    match client.list_account_aliases().send().await {
        Ok(out) => p.request_id = out.request_id().map(str::to_owned),
        Err(e) => failed(&mut p, GLOBAL.2, region, &e),
    }
    p
}
