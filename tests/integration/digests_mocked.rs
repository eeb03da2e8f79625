//! The ListPublicKeys path (moto has no such API), driven through `integrity::collect` with
//! `aws-smithy-mocks` CloudTrail clients over a generated local copy of a bucket.

use aws_sdk_cloudtrail::operation::list_public_keys::{ListPublicKeysError, ListPublicKeysOutput};
use aws_sdk_cloudtrail::types::PublicKey as ApiKey;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::{Blob, DateTime};
use trailproof::aws::CheckClients;
use trailproof::coverage::GapKind;
use trailproof::generate::{GenConfig, test_public_keys_json};
use trailproof::integrity::{DigestMode, IntegrityOptions, collect};
use trailproof::source::Source;
use trailproof::time::Window;

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

fn corpus() -> (tempfile::TempDir, GenConfig) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = GenConfig {
        regions: REGIONS.iter().map(|s| s.to_string()).collect(),
        hours: 4,
        events_per_hour: 4,
        extras: false,
        ..Default::default()
    };
    trailproof::generate::write_dir(&cfg, dir.path()).unwrap();
    (dir, cfg)
}

/// The generator's public key as ListPublicKeys returns it: raw DER in a Blob.
fn api_key(fingerprint: Option<&str>) -> ApiKey {
    let doc: serde_json::Value = serde_json::from_str(&test_public_keys_json(0, 1)).unwrap();
    let k = &doc["PublicKeyList"][0];
    let der = aws_smithy_types::base64::decode(k["Value"].as_str().unwrap()).unwrap();
    ApiKey::builder()
        .value(Blob::new(der))
        .fingerprint(fingerprint.unwrap_or(k["Fingerprint"].as_str().unwrap()))
        .validity_start_time(DateTime::from_secs(1_700_000_000))
        .validity_end_time(DateTime::from_secs(1_800_000_000))
        .build()
}

fn clients(rules: Vec<aws_smithy_mocks::Rule>) -> CheckClients {
    let sts = {
        let r = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
            aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput::builder().build()
        });
        mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&r])
    };
    let account = {
        let r = mock!(aws_sdk_account::Client::list_regions).then_output(|| {
            aws_sdk_account::operation::list_regions::ListRegionsOutput::builder().build()
        });
        mock_client!(aws_sdk_account, RuleMode::MatchAny, [&r])
    };
    let ct = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, rules.iter());
    CheckClients::new(sts, account, move |_| ct.clone())
}

fn options(cfg: &GenConfig, mode: DigestMode) -> IntegrityOptions {
    IntegrityOptions {
        mode,
        window: Window::new(cfg.start, cfg.start + 4 * 3_600, 3_600),
        now: trailproof::time::now_secs(),
        max_decompressed: 1 << 26,
        ..Default::default()
    }
}

#[tokio::test]
async fn keys_from_list_public_keys_verify_the_chains() {
    let (dir, cfg) = corpus();
    let since = cfg.start;
    // The request asks for keys around the window (from 2 h before, beyond its end).
    let rule = mock!(aws_sdk_cloudtrail::Client::list_public_keys)
        .match_requests(move |r| {
            r.start_time()
                .is_some_and(|t| t.secs() <= since - 2 * 3_600)
                && r.end_time().is_some_and(|t| t.secs() >= since + 5 * 3_600)
        })
        .then_output(|| {
            ListPublicKeysOutput::builder()
                .public_key_list(api_key(None))
                .build()
        });
    let c = clients(vec![rule]);
    let found = collect(
        &Source::Local(dir.path().to_owned()),
        None,
        Some(&c),
        &options(&cfg, DigestMode::On),
    )
    .await
    .unwrap();
    assert!(found.in_use, "{:?}", found.notes);
    assert_eq!(found.chains.len(), 2);
    assert_eq!(found.keys.len(), 2, "one key per region: {:?}", found.keys);
    assert!(found.keys.iter().any(|k| k.source == "eu-west-1"));
    assert!(found.gaps().is_empty(), "{:#?}", found.gaps());
    let s = found.summary();
    assert!(
        s.digests_by_status.get("valid").copied().unwrap_or(0) > 6,
        "{s:#?}"
    );
}

#[tokio::test]
async fn pages_of_keys_are_followed() {
    let (dir, cfg) = corpus();
    let first = mock!(aws_sdk_cloudtrail::Client::list_public_keys)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| ListPublicKeysOutput::builder().next_token("page2").build());
    let second = mock!(aws_sdk_cloudtrail::Client::list_public_keys)
        .match_requests(|r| r.next_token() == Some("page2"))
        .then_output(|| {
            ListPublicKeysOutput::builder()
                .public_key_list(api_key(None))
                .build()
        });
    let c = clients(vec![first, second]);
    let found = collect(
        &Source::Local(dir.path().to_owned()),
        None,
        Some(&c),
        &options(&cfg, DigestMode::Require),
    )
    .await
    .unwrap();
    assert!(found.notes.is_empty(), "{:?}", found.notes);
    assert!(found.gaps().is_empty(), "{:#?}", found.gaps());
}

#[tokio::test]
async fn a_denied_key_listing_is_said_and_never_proves() {
    let (dir, cfg) = corpus();
    let rule = mock!(aws_sdk_cloudtrail::Client::list_public_keys).then_error(|| {
        ListPublicKeysError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not allowed")
                .build(),
        )
    });
    let c = clients(vec![rule]);
    let src = Source::Local(dir.path().to_owned());
    // on: the digests are set aside, and the note names the API and the error.
    let on = collect(&src, None, Some(&c), &options(&cfg, DigestMode::On))
        .await
        .unwrap();
    assert!(!on.in_use);
    assert!(
        on.notes[0].contains("cloudtrail:ListPublicKeys") && on.notes[0].contains("AccessDenied"),
        "{:?}",
        on.notes
    );
    assert!(on.gaps().is_empty());
    // require: every digest is unverified, so coverage is unknown, never proven.
    let req = collect(&src, None, Some(&c), &options(&cfg, DigestMode::Require))
        .await
        .unwrap();
    let gaps = req.gaps();
    assert!(!gaps.is_empty());
    assert!(
        gaps.iter().all(|g| g.kind == GapKind::DigestUnverified),
        "{gaps:#?}"
    );
    assert!(req.attested().values().all(|h| h.is_empty()));
}

#[tokio::test]
async fn a_key_whose_fingerprint_lies_is_not_used() {
    let (dir, cfg) = corpus();
    let rule = mock!(aws_sdk_cloudtrail::Client::list_public_keys).then_output(|| {
        ListPublicKeysOutput::builder()
            .public_key_list(api_key(Some("00000000000000000000000000000000")))
            .build()
    });
    let c = clients(vec![rule]);
    let found = collect(
        &Source::Local(dir.path().to_owned()),
        None,
        Some(&c),
        &options(&cfg, DigestMode::On),
    )
    .await
    .unwrap();
    assert!(!found.in_use);
    assert!(
        found.notes[0].contains("no usable key"),
        "{:?}",
        found.notes
    );
}
