//! The records the generator writes: the event mix (management reads and writes, global
//! services, data and service events, records without `readOnly` or category) and each
//! record's JSON as CloudTrail lays it out.

use super::Rng;
use crate::time::rfc3339;

/// The kinds of event the mix draws from: (source, name, category, readOnly, type, weight).
pub(super) struct Template {
    pub(super) source: &'static str,
    pub(super) name: &'static str,
    pub(super) category: Option<&'static str>,
    pub(super) read_only: Option<bool>,
    pub(super) event_type: &'static str,
    pub(super) global: bool,
    pub(super) weight: u32,
}

pub(super) const fn t(
    source: &'static str,
    name: &'static str,
    category: Option<&'static str>,
    read_only: Option<bool>,
    event_type: &'static str,
    global: bool,
    weight: u32,
) -> Template {
    Template {
        source,
        name,
        category,
        read_only,
        event_type,
        global,
        weight,
    }
}

pub(super) const M: Option<&str> = Some("Management");
pub(super) const D: Option<&str> = Some("Data");

/// Regional events (every region).
pub(super) const REGIONAL: &[Template] = &[
    t(
        "ec2.amazonaws.com",
        "DescribeInstances",
        M,
        Some(true),
        "AwsApiCall",
        false,
        30,
    ),
    t(
        "ec2.amazonaws.com",
        "RunInstances",
        M,
        Some(false),
        "AwsApiCall",
        false,
        4,
    ),
    t(
        "ec2.amazonaws.com",
        "CreateTags",
        M,
        Some(false),
        "AwsApiCall",
        false,
        4,
    ),
    t(
        "s3.amazonaws.com",
        "ListBuckets",
        M,
        Some(true),
        "AwsApiCall",
        false,
        8,
    ),
    t(
        "s3.amazonaws.com",
        "PutBucketPolicy",
        M,
        Some(false),
        "AwsApiCall",
        false,
        1,
    ),
    t(
        "kms.amazonaws.com",
        "Decrypt",
        M,
        Some(true),
        "AwsApiCall",
        false,
        12,
    ),
    t(
        "kms.amazonaws.com",
        "RotateKey",
        M,
        Some(false),
        "AwsServiceEvent",
        false,
        1,
    ),
    t(
        "lambda.amazonaws.com",
        "ListFunctions20150331",
        M,
        Some(true),
        "AwsApiCall",
        false,
        6,
    ),
    t(
        "lambda.amazonaws.com",
        "UpdateFunctionCode20150331v2",
        M,
        Some(false),
        "AwsApiCall",
        false,
        2,
    ),
    t(
        "logs.amazonaws.com",
        "CreateLogStream",
        M,
        None,
        "AwsApiCall",
        false,
        1,
    ),
    t(
        "s3.amazonaws.com",
        "GetObject",
        D,
        Some(true),
        "AwsApiCall",
        false,
        8,
    ),
    t(
        "lambda.amazonaws.com",
        "Invoke",
        D,
        Some(false),
        "AwsApiCall",
        false,
        3,
    ),
    t(
        "cloudtrail.amazonaws.com",
        "InsightEvent",
        Some("Insight"),
        None,
        "AwsCloudTrailInsight",
        false,
        0,
    ),
    t(
        "ec2.amazonaws.com",
        "DescribeVolumes",
        None,
        Some(true),
        "AwsApiCall",
        false,
        1,
    ),
];

/// Global-service events, recorded in the partition's global region.
pub(super) const GLOBAL: &[Template] = &[
    t(
        "iam.amazonaws.com",
        "ListUsers",
        M,
        Some(true),
        "AwsApiCall",
        true,
        10,
    ),
    t(
        "iam.amazonaws.com",
        "CreateRole",
        M,
        Some(false),
        "AwsApiCall",
        true,
        2,
    ),
    t(
        "sts.amazonaws.com",
        "GetCallerIdentity",
        M,
        Some(true),
        "AwsApiCall",
        true,
        4,
    ),
    t(
        "organizations.amazonaws.com",
        "DescribeOrganization",
        M,
        Some(true),
        "AwsApiCall",
        true,
        2,
    ),
    t(
        "route53.amazonaws.com",
        "ListHostedZones",
        M,
        Some(true),
        "AwsApiCall",
        true,
        1,
    ),
    t(
        "cloudfront.amazonaws.com",
        "ListDistributions",
        M,
        Some(true),
        "AwsApiCall",
        true,
        1,
    ),
    t(
        "signin.amazonaws.com",
        "ConsoleLogin",
        M,
        Some(false),
        "AwsConsoleSignIn",
        true,
        1,
    ),
];

/// The trail's own calls, written by the stop-logging fault.
pub(super) const STOP_LOGGING: Template = t(
    "cloudtrail.amazonaws.com",
    "StopLogging",
    M,
    Some(false),
    "AwsApiCall",
    false,
    0,
);
pub(super) const START_LOGGING: Template = t(
    "cloudtrail.amazonaws.com",
    "StartLogging",
    M,
    Some(false),
    "AwsApiCall",
    false,
    0,
);

pub(super) fn choose<'a>(rng: &mut Rng, set: &'a [Template]) -> &'a Template {
    let total: u32 = set.iter().map(|t| t.weight).sum();
    let mut x = rng.below(total as u64) as u32;
    for t in set {
        if x < t.weight {
            return t;
        }
        x -= t.weight;
    }
    &set[0]
}

/// User agents seen in real trails: CLI, SDKs, Terraform, the console.
pub(super) const USER_AGENTS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exe/x86_64.amzn.2023 prompt/off command/ec2.describe-instances",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.79 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.3 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.150.1",
    "aws-internal/3 aws-sdk-java/1.12.677 Linux/5.10.213-180.871.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.402-b08 java/1.8.0_402 vendor/Oracle_Corporation cfg/retry-mode/standard",
    "AWS Internal",
    "console.amazonaws.com",
];

/// Writes one record as CloudTrail would (field order as in real files), with the nesting
/// real records carry (session context, request parameters, response elements, resources).
pub(super) fn record(
    rng: &mut Rng,
    tpl: &Template,
    account: &str,
    region: &str,
    time: i64,
) -> String {
    let mut s = String::with_capacity(1600);
    let key = rng.alnum(16).to_uppercase();
    let user = rng.below(7);
    if tpl.event_type == "AwsServiceEvent" {
        s.push_str(&format!(
            "{{\"eventVersion\":\"1.11\",\"userIdentity\":{{\"accountId\":\"{account}\",\"invokedBy\":\"{}\"}},",
            tpl.source
        ));
    } else if rng.below(5) < 3 {
        let role = [
            "Admin",
            "ReadOnly",
            "Deploy",
            "OrganizationAccountAccessRole",
            "AWSReservedSSO_PowerUser_4f1a",
        ][rng.below(5) as usize];
        let created = rfc3339(time - rng.below(3_600) as i64);
        s.push_str(&format!(
            "{{\"eventVersion\":\"1.11\",\"userIdentity\":{{\"type\":\"AssumedRole\",\"principalId\":\"AROA{key}:session-{user}\",\"arn\":\"arn:aws:sts::{account}:assumed-role/{role}/session-{user}\",\"accountId\":\"{account}\",\"accessKeyId\":\"ASIA{}\",\"sessionContext\":{{\"sessionIssuer\":{{\"type\":\"Role\",\"principalId\":\"AROA{key}\",\"arn\":\"arn:aws:iam::{account}:role/{role}\",\"accountId\":\"{account}\",\"userName\":\"{role}\"}},\"attributes\":{{\"creationDate\":\"{created}\",\"mfaAuthenticated\":\"false\"}}}}}},",
            rng.alnum(16).to_uppercase()
        ));
    } else {
        s.push_str(&format!(
            "{{\"eventVersion\":\"1.11\",\"userIdentity\":{{\"type\":\"IAMUser\",\"principalId\":\"AIDA{key}\",\"arn\":\"arn:aws:iam::{account}:user/user{user}\",\"accountId\":\"{account}\",\"accessKeyId\":\"AKIA{}\",\"userName\":\"user{user}\"}},",
            rng.alnum(16).to_uppercase()
        ));
    }
    let ua = USER_AGENTS[rng.below(USER_AGENTS.len() as u64) as usize];
    s.push_str(&format!(
        "\"eventTime\":\"{}\",\"eventSource\":\"{}\",\"eventName\":\"{}\",\"awsRegion\":\"{region}\",\"sourceIPAddress\":\"{}.{}.{}.{}\",\"userAgent\":\"{ua}\",",
        rfc3339(time),
        tpl.source,
        tpl.name,
        rng.below(223) + 1,
        rng.below(256),
        rng.below(256),
        rng.below(254) + 1
    ));
    let id = format!("{:017x}", rng.next_u64() >> 4);
    match tpl.read_only {
        Some(false) => {
            s.push_str(&format!(
                "\"requestParameters\":{{\"clientToken\":\"{}\",\"tagSpecificationSet\":{{\"items\":[{{\"resourceType\":\"volume\",\"tags\":[{{\"key\":\"team\",\"value\":\"t{}\"}},{{\"key\":\"Name\",\"value\":\"res-{}\"}}]}}]}}}},",
                rng.uuid().to_uppercase(),
                rng.below(9),
                rng.alnum(8)
            ));
            s.push_str(&format!(
                "\"responseElements\":{{\"requestId\":\"{}\",\"resourceId\":\"res-{id}\",\"status\":\"creating\",\"createTime\":{},\"encrypted\":{},\"tagSet\":{{\"items\":[{{\"key\":\"team\",\"value\":\"t{}\"}}]}}}},",
                rng.uuid(),
                time * 1_000,
                rng.below(2) == 0,
                rng.below(9)
            ));
        }
        _ => {
            s.push_str(&format!(
                "\"requestParameters\":{{\"maxResults\":{},\"filterSet\":{{\"items\":[{{\"name\":\"tag:team\",\"valueSet\":{{\"items\":[{{\"value\":\"t{}\"}}]}}}}]}},\"instancesSet\":{{\"items\":[{{\"instanceId\":\"i-{id}\"}}]}}}},\"responseElements\":null,",
                rng.below(1000),
                rng.below(9)
            ));
        }
    }
    s.push_str(&format!(
        "\"requestID\":\"{}\",\"eventID\":\"{}\",",
        rng.uuid(),
        rng.uuid()
    ));
    if let Some(ro) = tpl.read_only {
        s.push_str(&format!("\"readOnly\":{ro},"));
    }
    if tpl.source == "kms.amazonaws.com" {
        s.push_str(&format!(
            "\"resources\":[{{\"accountId\":\"{account}\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"arn:aws:kms:{region}:{account}:key/{}\"}}],",
            rng.uuid()
        ));
    }
    s.push_str(&format!("\"eventType\":\"{}\",", tpl.event_type));
    if let Some(cat) = tpl.category {
        s.push_str(&format!("\"managementEvent\":{},", cat == "Management"));
    }
    s.push_str(&format!("\"recipientAccountId\":\"{account}\""));
    if let Some(cat) = tpl.category {
        s.push_str(&format!(",\"eventCategory\":\"{cat}\""));
    }
    if tpl.event_type != "AwsServiceEvent" {
        s.push_str(&format!(
            ",\"tlsDetails\":{{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":\"{}.{region}.amazonaws.com\"}}",
            tpl.source.split('.').next().unwrap_or("api")
        ));
    }
    if ua == "console.amazonaws.com" {
        s.push_str(",\"sessionCredentialFromConsole\":\"true\"");
    }
    s.push('}');
    s
}

/// The record CloudTrail writes for a canary probe's call (`trailproof canary send`): made by
/// the probing user, the marker in its user agent, the probe's request id; the write probe
/// answered `Client.DryRunOperation`.
pub(super) fn canary_record(
    p: &crate::canary::Probe,
    marker: &str,
    account: &str,
    time: i64,
) -> String {
    use crate::canary::ProbeKind;
    let region = &p.region;
    let (read_only, params, error) = match p.kind {
        ProbeKind::Read => (true, "{\"includeShadowTrails\":true}".to_owned(), String::new()),
        ProbeKind::Write => (
            false,
            format!("{{\"keyName\":\"{marker}\"}}"),
            "\"errorCode\":\"Client.DryRunOperation\",\"errorMessage\":\"Request would have succeeded, but DryRun flag is set.\",".to_owned(),
        ),
        ProbeKind::Global => (true, "null".to_owned(), String::new()),
    };
    let host = p.event_source.split('.').next().unwrap_or("api");
    format!(
        "{{\"eventVersion\":\"1.11\",\"userIdentity\":{{\"type\":\"IAMUser\",\"principalId\":\"AIDACANARYPROBE0000\",\"arn\":\"arn:aws:iam::{account}:user/trailproof-canary\",\"accountId\":\"{account}\",\"accessKeyId\":\"AKIACANARYPROBE00000\",\"userName\":\"trailproof-canary\"}},\"eventTime\":\"{}\",\"eventSource\":\"{}\",\"eventName\":\"{}\",\"awsRegion\":\"{region}\",\"sourceIPAddress\":\"198.51.100.7\",\"userAgent\":\"aws-sdk-rust/1.3.9 ua/2.1 api/{host}/1.0 os/linux lang/rust/1.95.0 app/{marker}\",{error}\"requestParameters\":{params},\"responseElements\":null,\"requestID\":\"{}\",\"eventID\":\"{}\",\"readOnly\":{read_only},\"eventType\":\"AwsApiCall\",\"managementEvent\":true,\"recipientAccountId\":\"{account}\",\"eventCategory\":\"Management\",\"tlsDetails\":{{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":\"{host}.{region}.amazonaws.com\"}}}}",
        rfc3339(time),
        p.event_source,
        p.event_name,
        p.request_id
            .as_deref()
            .unwrap_or("00000000-0000-0000-0000-000000000000"),
        crate::canary::event_id(&p.request_id, &p.event_name),
    )
}
