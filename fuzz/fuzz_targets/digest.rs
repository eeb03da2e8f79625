//! Digest parsing and the chain checks (`src/integrity/digest.rs`) on arbitrary digest content.
//!
//! Input: sections separated by the byte 0xFF (never part of UTF-8 text):
//! `FLAGS 0xFF KEY1 0xFF CONTENT1 0xFF SIG1 [0xFF KEY2 0xFF CONTENT2 0xFF SIG2]`. Each
//! (KEY, CONTENT, SIG) is one `ReadDigest`: CONTENT its inflated bytes, SIG its
//! `x-amz-meta-signature` (absent when empty). FLAGS bit 0: read from the generator's bucket
//! (else an offline copy, bucket ""); bit 1: metadata present, with the algorithm and
//! backfill-generation values. They go through `check_chain` with the generator's test key.
//!
//! Properties: never panics; a digest is `Valid`/`Empty` only if its content is a JSON
//! `DigestFile` whose signature really verifies under the ring's key for its fingerprint over
//! the exact string-to-sign (checked here independently), at the key it was read from, for the
//! chain's account, with a window that parses; holes lie inside the window. Also
//! `KeyRing::from_list_json` and `PublicKey::from_der` on the whole input never panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use trailproof::integrity::digest::{
    ChainContext, DigestContent, DigestFile, DigestIndex, KeyRing, PublicKey, ReadDigest, Status,
    check_chain, hour_statuses, sha256_hex, string_to_sign,
};
use trailproof::source::layout::parse_key;
use trailproof::time::parse_event_time;

/// `GenConfig::default().start` (2026-01-01T00:00:00Z) and its default hours.
const START: i64 = 1_767_225_600;
const HOURS: u32 = 24;
const ACCOUNT: &str = "111122223333";
const BUCKET: &str = "trailproof-demo";

fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| {
        KeyRing::from_list_json(&trailproof::generate::test_public_keys_json(START, HOURS))
            .expect("the generator's test key ring parses")
    })
}

fn read_digest(flags: u8, key: &[u8], content: &[u8], sig: &[u8]) -> ReadDigest {
    let key = String::from_utf8_lossy(key).into_owned();
    let (stamp, backfill) = parse_key(&key)
        .map(|k| (k.delivered_at, k.backfill))
        .unwrap_or((START + 3_600, false));
    let metadata = flags & 2 != 0;
    let meta = |v: &str| metadata.then(|| v.to_owned());
    ReadDigest {
        bucket: if flags & 1 != 0 {
            BUCKET.into()
        } else {
            String::new()
        },
        key,
        stamp,
        backfill,
        content: Ok(DigestContent {
            inflated: content.to_vec(),
            signature: (!sig.is_empty()).then(|| String::from_utf8_lossy(sig).into_owned()),
            signature_algorithm: meta("SHA256withRSA"),
            backfill_generated: meta("2026-01-02T00:00:00Z"),
            has_metadata: metadata,
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    // Never panic on arbitrary key material.
    let _ = KeyRing::from_list_json(&String::from_utf8_lossy(data));
    let _ = PublicKey::from_der(data, None, None, None);
    let _ = PublicKey::from_der(data, Some("00"), Some(i64::MIN), Some(i64::MAX));

    let parts: Vec<&[u8]> = data.split(|&b| b == 0xFF).collect();
    if parts.len() < 4 {
        return;
    }
    let flags = parts[0].first().copied().unwrap_or(0);
    let mut read = vec![read_digest(flags, parts[1], parts[2], parts[3])];
    if parts.len() >= 7 {
        read.push(read_digest(flags, parts[4], parts[5], parts[6]));
    }
    let inputs = read.clone();
    let region = parse_key(&inputs[0].key).map_or("eu-west-1", |k| k.region);
    let window = (START, START + i64::from(HOURS) * 3_600);
    let ctx = ChainContext {
        account: ACCOUNT,
        region,
        window,
        keys: Ok(ring()),
        due_until: START + 12 * 3_600,
    };
    let chain = check_chain(&ctx, read);
    assert_eq!(chain.digests.len(), inputs.len());

    for d in &chain.digests {
        if !matches!(d.status, Status::Valid | Status::Empty) {
            continue;
        }
        assert!(
            d.problems.is_empty(),
            "{:?} with problems {:?}",
            d.status,
            d.problems
        );
        // Some input read from this key must vouch for it on its own terms.
        let vouched = inputs.iter().any(|r| {
            let Ok(c) = &r.content else { return false };
            let Ok(doc) = serde_json::from_slice::<DigestFile>(&c.inflated) else {
                return false;
            };
            let hash = sha256_hex(&c.inflated);
            let times = (
                parse_event_time(&doc.digest_start_time),
                parse_event_time(&doc.digest_end_time),
            );
            r.key == d.key
                && doc.digest_s3_object == r.key
                && (r.bucket.is_empty() || doc.digest_s3_bucket == r.bucket)
                && doc.aws_account_id == ACCOUNT
                && matches!(times, (Some(s), Some(e)) if s < e && (s, e) == (d.start, d.end))
                && d.doc.as_ref() == Some(&doc)
                && d.inflated_sha256.as_deref() == Some(hash.as_str())
                && (d.status == Status::Valid) != doc.log_files.is_empty()
                && d.signature.as_deref().is_some_and(|sig| {
                    ring()
                        .get(&doc.digest_public_key_fingerprint)
                        .is_some_and(|k| k.verify(string_to_sign(&doc, &hash).as_bytes(), sig))
                })
        });
        assert!(vouched, "{:?} but no input vouches for it: {d:?}", d.status);
    }
    for h in &chain.holes {
        assert!(
            window.0 <= h.start && h.start < h.end && h.end <= window.1,
            "{h:?}"
        );
    }

    // The consumers of a chain: no panic.
    let hours = hour_statuses(&chain, window);
    assert_eq!(hours.len(), HOURS as usize);
    let index = DigestIndex::build(BUCKET, std::slice::from_ref(&chain));
    for d in &chain.digests {
        let _ = index.classify(&d.key, ACCOUNT, region, d.end, Some("00"));
        if let Some(doc) = &d.doc {
            for l in &doc.log_files {
                let _ = index.classify(&l.s3_object, ACCOUNT, region, d.start, None);
            }
        }
    }
});
