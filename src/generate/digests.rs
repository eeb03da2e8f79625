//! Signed digests as CloudTrail writes them, and the test key pair they are signed with.
//! The keys live here and nowhere else in the library: they protect nothing.

use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use sha2::Sha256;

use super::*;

/// The generator's test signing keys (`testkeys/README.md` beside this file): NOT SECRET.
const TEST_KEY_A: &[u8] = include_bytes!("testkeys/signing-a.der");
const TEST_KEY_B: &[u8] = include_bytes!("testkeys/signing-b.der");

fn test_key(der: &[u8]) -> RsaPrivateKey {
    RsaPrivateKey::from_pkcs1_der(der).expect("embedded test key parses")
}

/// The public half of the key the generator signs with, as `aws cloudtrail
/// list-public-keys` prints it (what `--public-keys FILE` reads).
pub fn test_public_keys_json(start: i64, hours: u32) -> String {
    use rsa::pkcs1::EncodeRsaPublicKey;
    let der = test_key(TEST_KEY_A)
        .to_public_key()
        .to_pkcs1_der()
        .expect("encode public key");
    serde_json::to_string_pretty(&serde_json::json!({"PublicKeyList": [{
        "Value": aws_smithy_types::base64::encode(der.as_bytes()),
        "ValidityStartTime": start - 30 * 86_400,
        "ValidityEndTime": start + hours as i64 * 3_600 + 30 * 86_400,
        "Fingerprint": crate::integrity::digest::fingerprint(der.as_bytes()),
    }]}))
    .expect("serialize keys")
}

/// Writes the hourly signed digests of one (account, region) as CloudTrail does: windows of
/// one hour not aligned on the hour, a starting digest first, empty digests for hours without
/// deliveries, each naming its predecessor's key, hash and signature.
pub(super) fn write_digests(
    cfg: &GenConfig,
    account: &str,
    region: &str,
    logs: &[LogMeta],
    tampers: &[Tamper],
    truth: &mut Truth,
    put: &mut dyn FnMut(Object) -> std::io::Result<()>,
) -> std::io::Result<()> {
    const OFFSET: i64 = 452; // windows end at HH:07:32
    let home = cfg.regions.first().map(String::as_str).unwrap_or(region);
    let tail = format!("{}_{home}", cfg.trail_name);
    let key_a = SigningKey::<Sha256>::new(test_key(TEST_KEY_A));
    let fingerprint = {
        use rsa::pkcs1::EncodeRsaPublicKey;
        let der = test_key(TEST_KEY_A)
            .to_public_key()
            .to_pkcs1_der()
            .expect("encode public key");
        crate::integrity::digest::fingerprint(der.as_bytes())
    };
    let sign = |key: &SigningKey<Sha256>, doc: &DigestFile, bytes: &[u8]| -> String {
        hex::encode(
            key.sign(string_to_sign(doc, &sha256_hex(bytes)).as_bytes())
                .to_bytes(),
        )
    };
    let end = cfg.start + cfg.hours as i64 * 3_600;
    // CloudTrail keeps delivering hourly: one more digest after the end, so that even an
    // offline copy (no metadata) has a successor vouching for the last digest of the hours.
    let cover_until = logs
        .iter()
        .map(|l| l.slot + 1)
        .max()
        .unwrap_or(end)
        .max(end + 3_600);
    let mid = cfg.start + (cfg.hours / 2) as i64 * 3_600;
    let digest_key = |at: i64| {
        object_key(
            cfg.prefix.as_deref(),
            cfg.org_id.as_deref(),
            account,
            ObjectKind::Digest,
            region,
            at,
            &tail,
        )
    };
    let entry = |l: &LogMeta| LogFileEntry {
        s3_bucket: cfg.bucket.clone(),
        s3_object: l.key.clone(),
        hash_value: l.sha256.clone(),
        hash_algorithm: Some(crate::integrity::digest::HASH_ALGORITHM.into()),
        newest_event_time: Some(rfc3339(l.newest)),
        oldest_event_time: Some(rfc3339(l.oldest)),
    };
    let backfilled = tampers
        .contains(&Tamper::Backfill)
        .then(|| logs.iter().find(|l| l.slot >= mid))
        .flatten();
    // While logging is stopped CloudTrail delivers no digest, and the first one after
    // StartLogging names no predecessor.
    let stopped: Vec<(i64, i64)> = cfg
        .faults
        .iter()
        .filter_map(|f| match f {
            super::Fault::StopLogging {
                region: r,
                from_hour,
                hours,
            } if r == region => {
                let off = cfg.start + *from_hour as i64 * 3_600;
                Some((off - 60, off + *hours as i64 * 3_600 + 30))
            }
            _ => None,
        })
        .collect();
    let mut prev: Option<(String, String, String)> = None; // key, sha256, signature
    let mut start = cfg.start - 3_600 + OFFSET;
    let mut tampered = false;
    while start < cover_until {
        let stop = start + 3_600;
        if stopped.iter().any(|(a, b)| start >= *a && stop <= *b) {
            prev = None;
            start = stop;
            continue;
        }
        let listed: Vec<&LogMeta> = logs
            .iter()
            .filter(|l| l.slot >= start && l.slot < stop)
            .filter(|l| backfilled.is_none_or(|b| b.key != l.key))
            .collect();
        let key = digest_key(stop);
        let times = |f: fn(&LogMeta) -> i64| listed.iter().map(move |l| f(l));
        let doc = DigestFile {
            aws_account_id: account.to_owned(),
            digest_start_time: rfc3339(start),
            digest_end_time: rfc3339(stop),
            digest_s3_bucket: cfg.bucket.clone(),
            digest_s3_object: key.clone(),
            digest_public_key_fingerprint: fingerprint.clone(),
            digest_signature_algorithm: Some(crate::integrity::digest::SIGNATURE_ALGORITHM.into()),
            newest_event_time: times(|l| l.newest).max().map(rfc3339),
            oldest_event_time: times(|l| l.oldest).min().map(rfc3339),
            previous_digest_s3_bucket: prev.as_ref().map(|_| cfg.bucket.clone()),
            previous_digest_s3_object: prev.as_ref().map(|p| p.0.clone()),
            previous_digest_hash_value: prev.as_ref().map(|p| p.1.clone()),
            previous_digest_hash_algorithm: prev
                .as_ref()
                .map(|_| crate::integrity::digest::HASH_ALGORITHM.into()),
            previous_digest_signature: prev.as_ref().map(|p| p.2.clone()),
            log_files: listed.iter().map(|l| entry(l)).collect(),
        };
        let bytes = serde_json::to_vec(&doc).expect("serialize digest");
        let signature = sign(&key_a, &doc, &bytes);
        prev = Some((key.clone(), sha256_hex(&bytes), signature.clone()));
        let target = !tampered && stop > mid;
        let (mut out_key, mut out_bytes, mut out_sig) = (key.clone(), bytes, signature);
        let mut skip = false;
        if target {
            tampered = true;
            for t in tampers {
                match t {
                    Tamper::DeleteDigest => skip = true,
                    Tamper::Restart => {
                        // Never written, and forgotten: the next digest is a starting digest.
                        skip = true;
                        prev = None;
                    }
                    Tamper::MoveDigest => out_key = digest_key(stop + 1),
                    Tamper::WrongKey => {
                        let key_b = SigningKey::<Sha256>::new(test_key(TEST_KEY_B));
                        out_sig = sign(&key_b, &doc, &out_bytes);
                    }
                    Tamper::ResignDigest => {
                        out_bytes = serde_json::to_vec_pretty(&doc).expect("serialize digest");
                        out_sig = sign(&key_a, &doc, &out_bytes);
                    }
                    _ => continue,
                }
                truth.tampered.push((*t, key.clone()));
            }
        }
        if !skip {
            put_digest(truth, put, out_key, &out_bytes, out_sig, None)?;
        }
        start = stop;
    }
    if let Some(b) = backfilled {
        // A backfill chain of one: a starting digest listing the late file.
        let stamp = b.slot.div_euclid(3_600) * 3_600 + 3_600 + OFFSET + 600;
        let key = digest_key(stamp).replace(".json.gz", "_backfill.json.gz");
        let doc = DigestFile {
            aws_account_id: account.to_owned(),
            digest_start_time: rfc3339(stamp - 3_600),
            digest_end_time: rfc3339(stamp),
            digest_s3_bucket: cfg.bucket.clone(),
            digest_s3_object: key.clone(),
            digest_public_key_fingerprint: fingerprint.clone(),
            digest_signature_algorithm: Some(crate::integrity::digest::SIGNATURE_ALGORITHM.into()),
            newest_event_time: Some(rfc3339(b.newest)),
            oldest_event_time: Some(rfc3339(b.oldest)),
            previous_digest_s3_bucket: None,
            previous_digest_s3_object: None,
            previous_digest_hash_value: None,
            previous_digest_hash_algorithm: None,
            previous_digest_signature: None,
            log_files: vec![entry(b)],
        };
        let bytes = serde_json::to_vec(&doc).expect("serialize digest");
        let signature = sign(&key_a, &doc, &bytes);
        truth.tampered.push((Tamper::Backfill, key.clone()));
        put_digest(truth, put, key, &bytes, signature, Some(rfc3339(stamp)))?;
    }
    Ok(())
}

pub(super) fn put_digest(
    truth: &mut Truth,
    put: &mut dyn FnMut(Object) -> std::io::Result<()>,
    key: String,
    json: &[u8],
    signature: String,
    backfill_generated: Option<String>,
) -> std::io::Result<()> {
    let body = gzip(json);
    truth.objects += 1;
    truth.digests += 1;
    truth.bytes += body.len() as u64;
    let mut metadata = vec![
        ("signature", signature),
        (
            "signature-algorithm",
            crate::integrity::digest::SIGNATURE_ALGORITHM.to_owned(),
        ),
    ];
    if let Some(t) = backfill_generated {
        metadata.push(("backfill-generation-timestamp", t));
    }
    put(Object {
        key,
        body,
        metadata,
    })
}
