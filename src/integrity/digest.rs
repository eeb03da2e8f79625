//! CloudTrail digest files (`docs/digests.md` §4): the document, public keys bound to their
//! fingerprints, the exact string CloudTrail signs, and the chain checks over one region's
//! digests. Pure logic: reading objects is [`crate::integrity`]'s job.
//!
//! Beyond `aws cloudtrail validate-logs`, a chain here also checks (§4.6) that each digest's
//! `previousDigestSignature` and `previousDigestHashValue` match the predecessor actually
//! found, the algorithm fields, and that consecutive windows touch.

use std::collections::{BTreeMap, HashMap};

use md5::Md5;
use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::time::rfc3339;

/// `digestSignatureAlgorithm` and the `signature-algorithm` metadata value.
pub const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";
/// `hashAlgorithm` and `previousDigestHashAlgorithm`.
pub const HASH_ALGORITHM: &str = "SHA-256";
/// Tolerance when comparing the window of a digest with its predecessor's.
pub const CONTINUITY_SLACK_S: i64 = 1;

/// A digest file (§4.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestFile {
    pub aws_account_id: String,
    pub digest_start_time: String,
    pub digest_end_time: String,
    pub digest_s3_bucket: String,
    pub digest_s3_object: String,
    pub digest_public_key_fingerprint: String,
    #[serde(default)]
    pub digest_signature_algorithm: Option<String>,
    #[serde(default)]
    pub newest_event_time: Option<String>,
    #[serde(default)]
    pub oldest_event_time: Option<String>,
    #[serde(default)]
    pub previous_digest_s3_bucket: Option<String>,
    #[serde(default)]
    pub previous_digest_s3_object: Option<String>,
    #[serde(default)]
    pub previous_digest_hash_value: Option<String>,
    #[serde(default)]
    pub previous_digest_hash_algorithm: Option<String>,
    #[serde(default)]
    pub previous_digest_signature: Option<String>,
    #[serde(default)]
    pub log_files: Vec<LogFileEntry>,
}

/// One `logFiles[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogFileEntry {
    pub s3_bucket: String,
    pub s3_object: String,
    pub hash_value: String,
    #[serde(default)]
    pub hash_algorithm: Option<String>,
    #[serde(default)]
    pub newest_event_time: Option<String>,
    #[serde(default)]
    pub oldest_event_time: Option<String>,
}

/// The message CloudTrail signs (§4.4), byte for byte: the JSON values verbatim, the hex
/// SHA-256 of the gunzipped digest bytes, and `null` for a starting digest. No trailing newline.
pub fn string_to_sign(d: &DigestFile, inflated_sha256_hex: &str) -> String {
    format!(
        "{}\n{}/{}\n{}\n{}",
        d.digest_end_time,
        d.digest_s3_bucket,
        d.digest_s3_object,
        inflated_sha256_hex,
        d.previous_digest_signature.as_deref().unwrap_or("null")
    )
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Lowercase hex MD5 of the DER bytes: CloudTrail's key fingerprint (verified on the AWS
/// documentation's sample keys).
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Md5::digest(der))
}

/// How a public key's DER was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyEncoding {
    /// `RSAPublicKey` (what the API documentation promises).
    Pkcs1,
    /// X.509 `SubjectPublicKeyInfo` (what one documented sample actually is).
    SubjectPublicKeyInfo,
}

/// A public key, bound to its fingerprint by recomputing the MD5.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub fingerprint: String,
    pub encoding: KeyEncoding,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub key: RsaPublicKey,
}

/// Why a key or signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not an RSA public key in PKCS#1 or SubjectPublicKeyInfo DER")]
    BadDer,
    #[error("stated fingerprint {stated} does not match the key's MD5 {actual}")]
    FingerprintMismatch { stated: String, actual: String },
}

impl PublicKey {
    /// Parses DER (PKCS#1 or SPKI). A `stated` fingerprint must match the computed one.
    pub fn from_der(
        der: &[u8],
        stated: Option<&str>,
        valid_from: Option<i64>,
        valid_until: Option<i64>,
    ) -> Result<Self, KeyError> {
        let (key, encoding) = if let Ok(k) = RsaPublicKey::from_pkcs1_der(der) {
            (k, KeyEncoding::Pkcs1)
        } else if let Ok(k) = RsaPublicKey::from_public_key_der(der) {
            (k, KeyEncoding::SubjectPublicKeyInfo)
        } else {
            return Err(KeyError::BadDer);
        };
        let actual = fingerprint(der);
        if let Some(stated) = stated
            && !stated.eq_ignore_ascii_case(&actual)
        {
            return Err(KeyError::FingerprintMismatch {
                stated: stated.to_owned(),
                actual,
            });
        }
        Ok(PublicKey {
            fingerprint: actual,
            encoding,
            valid_from,
            valid_until,
            key,
        })
    }

    /// Verifies an RSA PKCS#1 v1.5 SHA-256 signature (hex) over `message`.
    pub fn verify(&self, message: &[u8], signature_hex: &str) -> bool {
        let Ok(sig) = hex::decode(signature_hex.trim()) else {
            return false;
        };
        let Ok(sig) = Signature::try_from(sig.as_slice()) else {
            return false;
        };
        VerifyingKey::<Sha256>::new(self.key.clone())
            .verify(message, &sig)
            .is_ok()
    }
}

/// The keys that may sign one region's digests, by fingerprint.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    pub keys: BTreeMap<String, PublicKey>,
}

impl KeyRing {
    pub fn insert(&mut self, key: PublicKey) {
        self.keys.insert(key.fingerprint.clone(), key);
    }

    pub fn get(&self, fingerprint: &str) -> Option<&PublicKey> {
        self.keys.get(&fingerprint.to_ascii_lowercase())
    }

    /// Reads `aws cloudtrail list-public-keys` output (`{"PublicKeyList":[{"Value": base64,
    /// "Fingerprint", "ValidityStartTime", "ValidityEndTime"}]}`; times as epoch seconds,
    /// quoted or not, or RFC 3339). The user guide's sample spells the list `publicKeyList`.
    pub fn from_list_json(text: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            value: String,
            fingerprint: Option<String>,
            validity_start_time: Option<serde_json::Value>,
            validity_end_time: Option<serde_json::Value>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct List {
            #[serde(alias = "publicKeyList")]
            public_key_list: Vec<Entry>,
        }
        let list: List = serde_json::from_str(text)
            .map_err(|e| format!("not a list-public-keys document: {e}"))?;
        let time = |v: &Option<serde_json::Value>| -> Option<i64> {
            match v.as_ref()? {
                serde_json::Value::Number(n) => n.as_f64().map(|f| f as i64),
                serde_json::Value::String(s) => s
                    .parse::<f64>()
                    .ok()
                    .map(|f| f as i64)
                    .or_else(|| crate::time::parse_event_time(s)),
                _ => None,
            }
        };
        let mut ring = KeyRing::default();
        for (i, e) in list.public_key_list.iter().enumerate() {
            let der = aws_smithy_types::base64::decode(e.value.trim())
                .map_err(|err| format!("key {i}: Value is not base64: {err}"))?;
            let key = PublicKey::from_der(
                &der,
                e.fingerprint.as_deref(),
                time(&e.validity_start_time),
                time(&e.validity_end_time),
            )
            .map_err(|err| format!("key {i}: {err}"))?;
            ring.insert(key);
        }
        Ok(ring)
    }
}

/// A digest object as read from the bucket.
#[derive(Debug, Clone)]
pub struct ReadDigest {
    /// Where it was read from.
    pub bucket: String,
    pub key: String,
    /// From the key: the end stamp and the backfill suffix.
    pub stamp: i64,
    pub backfill: bool,
    pub content: Result<DigestContent, ReadFailure>,
}

/// The bytes and metadata of a readable digest.
#[derive(Debug, Clone)]
pub struct DigestContent {
    /// Gunzipped bytes.
    pub inflated: Vec<u8>,
    /// `x-amz-meta-signature`, absent in offline copies.
    pub signature: Option<String>,
    pub signature_algorithm: Option<String>,
    pub backfill_generated: Option<String>,
    /// Whether object metadata was available at all (not in an offline copy).
    pub has_metadata: bool,
}

/// Why a digest could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFailure {
    /// `access_denied`, `not_found`, `fetch_failed`, `invalid_gzip`, `trailing_data`, `too_large`.
    pub status: String,
    pub error: String,
}

/// The status of one digest, and of one hour of one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Signed, linked and listing log files.
    Valid,
    /// Valid and listing no log file: the trail was logging and nothing was delivered.
    Empty,
    /// Could not be checked: no metadata signature and no successor to vouch for it, or no
    /// public key could be obtained.
    Unverified,
    /// Later than the last digest, whose successor is not due yet.
    Pending,
    /// The object could not be read (access denied, KMS, throttled).
    Unreadable,
    /// No digest for this time, and the next digest is a starting digest: logging or
    /// validation was off.
    Gap,
    /// No digest for this time although the chain says one existed, or none at all.
    Missing,
    /// Failed a check (signature, location, link, algorithm, format).
    Invalid,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Empty => "empty",
            Status::Unverified => "unverified",
            Status::Pending => "pending",
            Status::Unreadable => "unreadable",
            Status::Gap => "gap",
            Status::Missing => "missing",
            Status::Invalid => "invalid",
        }
    }

    /// Valid or empty: the digest vouches for its window.
    pub fn is_good(self) -> bool {
        matches!(self, Status::Valid | Status::Empty)
    }
}

/// One digest after the checks.
#[derive(Debug, Clone, Serialize)]
pub struct CheckedDigest {
    pub key: String,
    pub backfill: bool,
    /// The window (from the document, else the hour before the key's stamp), epoch seconds.
    pub start: i64,
    pub end: i64,
    pub status: Status,
    /// Why it is not valid (empty when valid).
    pub problems: Vec<String>,
    #[serde(skip)]
    pub doc: Option<DigestFile>,
    /// The signature the digest was checked against, and where it came from.
    #[serde(skip)]
    pub signature: Option<String>,
    pub signature_source: Option<&'static str>,
    #[serde(skip)]
    pub inflated_sha256: Option<String>,
}

/// An interval with no digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hole {
    pub start: i64,
    pub end: i64,
    /// [`Status::Missing`], [`Status::Gap`] or [`Status::Pending`].
    pub status: Status,
    pub detail: String,
}

/// One (account, region)'s digests, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Chain {
    pub account_id: String,
    pub region: String,
    pub digests: Vec<CheckedDigest>,
    pub holes: Vec<Hole>,
}

/// What a chain check needs besides the digests.
pub struct ChainContext<'a> {
    pub account: &'a str,
    pub region: &'a str,
    /// The window to account for, epoch seconds `[start, end)`.
    pub window: (i64, i64),
    /// Keys for this region, or why there are none.
    pub keys: Result<&'a KeyRing, &'a str>,
    /// Times after this are not due yet (the digest covering them may still come).
    pub due_until: i64,
}

fn parse_time(s: &str) -> Option<i64> {
    crate::time::parse_event_time(s)
}

/// The fields every digest CloudTrail writes holds (null where they do not apply). awscli
/// indexes six of them (the fingerprint, bucket, object, start and end times, and
/// `previousDigestSignature`) and fails without them; a document lacking any of these is not
/// one CloudTrail wrote either.
const REQUIRED_FIELDS: [&str; 13] = [
    "awsAccountId",
    "digestStartTime",
    "digestEndTime",
    "digestS3Bucket",
    "digestS3Object",
    "digestPublicKeyFingerprint",
    "digestSignatureAlgorithm",
    "previousDigestS3Bucket",
    "previousDigestS3Object",
    "previousDigestHashValue",
    "previousDigestHashAlgorithm",
    "previousDigestSignature",
    "logFiles",
];

/// The first required field a digest document lacks (absent, not null), if any.
fn missing_fields(inflated: &[u8]) -> Option<String> {
    let doc: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(inflated).ok()?;
    let missing: Vec<&str> = REQUIRED_FIELDS
        .iter()
        .copied()
        .filter(|f| !doc.contains_key(*f))
        .collect();
    (!missing.is_empty()).then(|| missing.join(", "))
}

/// Checks one region's digests (standard and backfill) and finds the holes in the window.
pub fn check_chain(ctx: &ChainContext<'_>, mut read: Vec<ReadDigest>) -> Chain {
    read.sort_by(|a, b| (a.backfill, a.stamp, &a.key).cmp(&(b.backfill, b.stamp, &b.key)));
    // Pass 1: each digest on its own.
    let mut digests: Vec<CheckedDigest> = read.iter().map(|r| check_one(ctx, r)).collect();
    // Offline copies carry no metadata signature: the successor's previousDigestSignature
    // vouches for it, then the signature is checked as usual.
    let by_key: HashMap<String, usize> = digests
        .iter()
        .enumerate()
        .map(|(i, d)| (d.key.clone(), i))
        .collect();
    let by_claim: HashMap<String, usize> = digests
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((d.doc.as_ref()?.digest_s3_object.clone(), i)))
        .collect();
    let pred = |i: usize, digests: &[CheckedDigest]| -> Option<Result<usize, String>> {
        let doc = digests[i].doc.as_ref()?;
        let p = doc.previous_digest_s3_object.as_ref()?;
        Some(match by_key.get(p).or_else(|| by_claim.get(p)) {
            Some(j) if *j != i => Ok(*j),
            _ => Err(p.clone()),
        })
    };
    for i in 0..digests.len() {
        if let Some(Ok(j)) = pred(i, &digests)
            && digests[j].signature.is_none()
            && read[j].content.as_ref().is_ok_and(|c| !c.has_metadata)
            && let Some(sig) = digests[i]
                .doc
                .as_ref()
                .and_then(|d| d.previous_digest_signature.clone())
        {
            digests[j].signature = Some(sig);
            digests[j].signature_source = Some("successor");
            let content = read[j].content.as_ref().ok();
            verify_signature(ctx, &mut digests[j], content);
        }
    }
    // Pass 2: links (§4.6 a, b, e) from each digest to the predecessor it names.
    let mut missing: Vec<(String, usize)> = Vec::new();
    for i in 0..digests.len() {
        match pred(i, &digests) {
            None => {}
            Some(Err(named)) => missing.push((named, i)),
            Some(Ok(j)) => {
                let doc = digests[i].doc.clone().expect("pred implies doc");
                let mut broken = Vec::new();
                if let (Some(want), Some(have)) =
                    (&doc.previous_digest_signature, &digests[j].signature)
                    && !want.eq_ignore_ascii_case(have)
                {
                    broken.push(format!(
                        "its signature differs from the previousDigestSignature recorded by {}",
                        digests[i].key
                    ));
                }
                if let (Some(want), Some(have)) =
                    (&doc.previous_digest_hash_value, &digests[j].inflated_sha256)
                    && !want.eq_ignore_ascii_case(have)
                {
                    broken.push(format!(
                        "its SHA-256 differs from the previousDigestHashValue recorded by {}",
                        digests[i].key
                    ));
                }
                if let Some(bucket) = &doc.previous_digest_s3_bucket
                    && !read[j].bucket.is_empty()
                    && *bucket != read[j].bucket
                {
                    broken.push(format!(
                        "{} names it in bucket {bucket}, it was read from {}",
                        digests[i].key, read[j].bucket
                    ));
                }
                if !broken.is_empty() {
                    invalidate(&mut digests[j], broken);
                }
                if !digests[i].backfill && !digests[j].backfill {
                    let (prev_end, start) = (digests[j].end, digests[i].start);
                    if (start - prev_end).abs() > CONTINUITY_SLACK_S {
                        let what = if start > prev_end {
                            "starts after"
                        } else {
                            "overlaps"
                        };
                        invalidate(
                            &mut digests[i],
                            vec![format!(
                                "its window {what} its predecessor's (previous ends {}, this starts {})",
                                rfc3339(prev_end),
                                rfc3339(start)
                            )],
                        );
                    }
                }
            }
        }
    }
    // Holes: parts of the window no standard digest accounts for.
    let mut spans: Vec<(i64, i64, usize)> = digests
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.backfill)
        .map(|(i, d)| (d.start, d.end, i))
        .collect();
    spans.sort();
    let (ws, we) = ctx.window;
    let mut holes = Vec::new();
    let mut cursor = ws;
    let mut push_hole = |from: i64, to: i64, next: Option<usize>, digests: &[CheckedDigest]| {
        if to - from <= CONTINUITY_SLACK_S {
            return;
        }
        // The part that is not due yet is pending, not missing.
        let due = ctx.due_until.clamp(from, to);
        if from < due {
            let (status, detail) = match next {
                Some(n) => match missing.iter().find(|(_, i)| *i == n) {
                    Some((named, _)) => (
                        Status::Missing,
                        format!("digest {named}, named by {}, is missing", digests[n].key),
                    ),
                    None if digests[n]
                        .doc
                        .as_ref()
                        .is_some_and(|d| d.previous_digest_s3_object.is_none()) =>
                    {
                        (
                            Status::Gap,
                            format!(
                                "no digest; {} starts a new chain (logging or validation was off)",
                                digests[n].key
                            ),
                        )
                    }
                    None => (Status::Missing, "no digest covers this time".to_owned()),
                },
                None => (Status::Missing, "no digest covers this time".to_owned()),
            };
            holes.push(Hole {
                start: from,
                end: due,
                status,
                detail,
            });
        }
        if due < to {
            holes.push(Hole {
                start: due,
                end: to,
                status: Status::Pending,
                detail: "the digest for this time is not due yet".into(),
            });
        }
    };
    for &(s, e, i) in &spans {
        if s > cursor && cursor < we {
            push_hole(cursor, s.min(we), Some(i), &digests);
        }
        cursor = cursor.max(e);
    }
    if cursor < we {
        push_hole(cursor, we, None, &digests);
    }
    Chain {
        account_id: ctx.account.to_owned(),
        region: ctx.region.to_owned(),
        digests,
        holes,
    }
}

/// The last valid digest of a chain as a run left it (`--state`): the next run's chain must
/// continue from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainTip {
    pub key: String,
    /// The end of the hour it covers (its stamp), epoch seconds.
    pub end: i64,
    /// Its signature (hex), as the run verified it.
    pub signature: String,
}

impl Chain {
    /// The last good standard digest (valid, or valid and listing no file: in a quiet region
    /// most are), with its verified signature.
    pub fn tip(&self) -> Option<ChainTip> {
        self.digests
            .iter()
            .filter(|d| !d.backfill && d.status.is_good())
            .max_by_key(|d| (d.end, &d.key))
            .and_then(|d| {
                Some(ChainTip {
                    key: d.key.clone(),
                    end: d.end,
                    signature: d.signature.clone()?,
                })
            })
    }

    /// Checks the link between a previous run's chain tip and this run's digests: the tip is
    /// still there with the signature that run verified, and every digest naming it as its
    /// predecessor records that signature. `listed`: the stamps this run listed (a tip outside
    /// them was not looked for). A tip that is gone is a hole over its hour, kept inside
    /// `window` (at its nearest end when the hour is outside it): the chains of the two runs
    /// no longer join. Returns that hole.
    pub fn link_to_tip(
        &mut self,
        tip: &ChainTip,
        listed: (i64, i64),
        window: (i64, i64),
    ) -> Option<Hole> {
        let since = rfc3339(tip.end);
        let mut found = false;
        for d in self.digests.iter_mut() {
            if d.key == tip.key {
                found = true;
                if d.signature
                    .as_deref()
                    .is_some_and(|s| !s.eq_ignore_ascii_case(&tip.signature))
                {
                    invalidate(
                        d,
                        vec![format!(
                            "its signature differs from the one the previous run verified (the chain's tip at {since}): replaced since"
                        )],
                    );
                }
            }
            let names_tip = d
                .doc
                .as_ref()
                .is_some_and(|doc| doc.previous_digest_s3_object.as_deref() == Some(&tip.key));
            if names_tip
                && let Some(want) = d
                    .doc
                    .as_ref()
                    .and_then(|doc| doc.previous_digest_signature.clone())
                && !want.eq_ignore_ascii_case(&tip.signature)
            {
                invalidate(
                    d,
                    vec![format!(
                        "its previousDigestSignature differs from the signature the previous run verified for {}",
                        tip.key
                    )],
                );
            }
        }
        if found || tip.end < listed.0 || tip.end > listed.1 {
            return None;
        }
        // Inside the window: at the tip's hour, else at the window's nearest end.
        let start = (tip.end - 3_600).clamp(window.0, window.1 - 3_600);
        let hole = Hole {
            start,
            end: start + 3_600,
            status: Status::Missing,
            detail: format!(
                "digest {}, the chain's tip the previous run verified (ending {since}), is gone",
                tip.key
            ),
        };
        self.holes.push(hole.clone());
        Some(hole)
    }
}

fn invalidate(d: &mut CheckedDigest, problems: Vec<String>) {
    d.status = Status::Invalid;
    for p in problems {
        if !d.problems.contains(&p) {
            d.problems.push(p);
        }
    }
}

/// The checks of one digest that need nothing but itself and the keys.
fn check_one(ctx: &ChainContext<'_>, r: &ReadDigest) -> CheckedDigest {
    let mut d = CheckedDigest {
        key: r.key.clone(),
        backfill: r.backfill,
        start: r.stamp - 3_600,
        end: r.stamp,
        status: Status::Valid,
        problems: Vec::new(),
        doc: None,
        signature: None,
        signature_source: None,
        inflated_sha256: None,
    };
    let content = match &r.content {
        Ok(c) => c,
        Err(f) => {
            d.status = if f.status == "invalid_gzip" || f.status == "trailing_data" {
                Status::Invalid
            } else {
                Status::Unreadable
            };
            d.problems.push(format!("{}: {}", f.status, f.error));
            return d;
        }
    };
    d.inflated_sha256 = Some(sha256_hex(&content.inflated));
    let doc: DigestFile = match serde_json::from_slice(&content.inflated) {
        Ok(doc) => doc,
        Err(e) => {
            invalidate(&mut d, vec![format!("invalid format: {e}")]);
            return d;
        }
    };
    let mut problems = Vec::new();
    // As awscli: every field is present; null is a starting digest's value, absence is
    // malformed.
    if let Some(missing) = missing_fields(&content.inflated) {
        problems.push(format!("invalid format: no {missing} field"));
    }
    // Read from S3, the signature and its algorithm are object metadata; a successor's copy
    // of the signature stands in only for an offline copy, which has no metadata at all.
    if content.has_metadata {
        if content.signature.is_none() {
            problems.push("no x-amz-meta-signature metadata on a digest read from S3".into());
        }
        if content.signature_algorithm.is_none() {
            problems
                .push("no x-amz-meta-signature-algorithm metadata on a digest read from S3".into());
        }
    }
    match (
        parse_time(&doc.digest_start_time),
        parse_time(&doc.digest_end_time),
    ) {
        (Some(s), Some(e)) if s < e => (d.start, d.end) = (s, e),
        _ => problems.push(format!(
            "invalid format: digestStartTime {:?} / digestEndTime {:?}",
            doc.digest_start_time, doc.digest_end_time
        )),
    }
    // A local copy has no bucket name (empty): only the key can be compared.
    if (!r.bucket.is_empty() && doc.digest_s3_bucket != r.bucket) || doc.digest_s3_object != r.key {
        problems.push(format!(
            "moved: it says s3://{}/{}, it was read from {}{}",
            doc.digest_s3_bucket,
            doc.digest_s3_object,
            if r.bucket.is_empty() {
                String::new()
            } else {
                format!("s3://{}/", r.bucket)
            },
            r.key
        ));
    }
    if doc.aws_account_id != ctx.account {
        problems.push(format!(
            "awsAccountId {} is not the account of its key ({})",
            doc.aws_account_id, ctx.account
        ));
    }
    let algorithms = [
        (
            "digestSignatureAlgorithm",
            doc.digest_signature_algorithm.as_deref(),
            SIGNATURE_ALGORITHM,
        ),
        (
            "signature-algorithm metadata",
            content.signature_algorithm.as_deref(),
            SIGNATURE_ALGORITHM,
        ),
        (
            "previousDigestHashAlgorithm",
            doc.previous_digest_hash_algorithm.as_deref(),
            HASH_ALGORITHM,
        ),
    ];
    for (field, value, want) in algorithms {
        if let Some(v) = value
            && v != want
        {
            problems.push(format!("{field} is {v:?}, not {want}"));
        }
    }
    if let Some(bad) = doc.log_files.iter().find(|l| {
        l.hash_algorithm
            .as_deref()
            .is_some_and(|a| a != HASH_ALGORITHM)
    }) {
        problems.push(format!(
            "logFiles hashAlgorithm of {} is {:?}, not {HASH_ALGORITHM}",
            bad.s3_object, bad.hash_algorithm
        ));
    }
    if r.backfill && content.has_metadata && content.backfill_generated.is_none() {
        problems.push("a backfill digest without backfill-generation-timestamp metadata".into());
    }
    if doc.previous_digest_s3_object.is_some()
        != (doc.previous_digest_signature.is_some() && doc.previous_digest_hash_value.is_some())
    {
        problems.push(
            "previousDigestS3Object, previousDigestSignature and previousDigestHashValue must be all set or all null"
                .into(),
        );
    }
    d.doc = Some(doc);
    if !problems.is_empty() {
        invalidate(&mut d, problems);
        return d;
    }
    if let Some(sig) = &content.signature {
        d.signature = Some(sig.clone());
        d.signature_source = Some("metadata");
        verify_signature(ctx, &mut d, Some(content));
    } else {
        d.status = Status::Unverified;
        d.problems
            .push("no signature: no x-amz-meta-signature metadata and no successor digest".into());
    }
    d
}

/// Verifies `d.signature` over the string-to-sign, updating the status.
fn verify_signature(
    ctx: &ChainContext<'_>,
    d: &mut CheckedDigest,
    content: Option<&DigestContent>,
) {
    let (Some(doc), Some(sig), Some(hash), Some(_)) =
        (&d.doc, &d.signature, &d.inflated_sha256, content)
    else {
        return;
    };
    if d.status == Status::Invalid {
        return;
    }
    let keys = match ctx.keys {
        Ok(k) => k,
        Err(why) => {
            d.status = Status::Unverified;
            d.problems = vec![format!("no public keys: {why}")];
            return;
        }
    };
    let Some(key) = keys.get(&doc.digest_public_key_fingerprint) else {
        d.problems.clear();
        invalidate(
            d,
            vec![format!(
                "public key not found in {} for fingerprint {}",
                ctx.region, doc.digest_public_key_fingerprint
            )],
        );
        return;
    };
    // A key signs only within its validity (what ListPublicKeys returns for a time range); a
    // digest is signed shortly after its end, so an hour either side is allowed at rotations.
    const SLACK_S: i64 = 3_600;
    let end = parse_time(&doc.digest_end_time);
    if let Some(end) = end
        && (key.valid_from.is_some_and(|f| end < f - SLACK_S)
            || key.valid_until.is_some_and(|u| end > u + SLACK_S))
    {
        d.problems.clear();
        invalidate(
            d,
            vec![format!(
                "public key {} is not valid at digestEndTime {} (valid {} .. {})",
                doc.digest_public_key_fingerprint,
                doc.digest_end_time,
                key.valid_from.map(rfc3339).unwrap_or_else(|| "?".into()),
                key.valid_until.map(rfc3339).unwrap_or_else(|| "?".into())
            )],
        );
        return;
    }
    if key.verify(string_to_sign(doc, hash).as_bytes(), sig) {
        d.problems.clear();
        d.status = if doc.log_files.is_empty() {
            Status::Empty
        } else {
            Status::Valid
        };
    } else {
        d.problems.clear();
        invalidate(d, vec!["signature verification failed".into()]);
    }
}

/// Where each log file stands with respect to the digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogStatus {
    /// Listed in a valid digest and the hash matches.
    Valid,
    /// Listed in a valid digest, and the object differs from what was listed.
    HashMismatch,
    /// Listed in a valid digest, absent from the bucket.
    Missing,
    /// Delivered in a window a valid digest covers, listed by none.
    Unlisted,
    /// Listed only by digests that failed their checks, or delivered in their window.
    DigestInvalid,
    /// Delivered in a window no digest covers.
    NoDigest,
    /// Listed only by digests that could not be verified or read.
    Unverified,
    /// Delivered after the last digest; its digest is not due yet.
    Pending,
}

impl LogStatus {
    pub const ALL: [LogStatus; 8] = [
        LogStatus::Valid,
        LogStatus::HashMismatch,
        LogStatus::Missing,
        LogStatus::Unlisted,
        LogStatus::DigestInvalid,
        LogStatus::NoDigest,
        LogStatus::Unverified,
        LogStatus::Pending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LogStatus::Valid => "valid",
            LogStatus::HashMismatch => "hash_mismatch",
            LogStatus::Missing => "log_missing",
            LogStatus::Unlisted => "log_unlisted",
            LogStatus::DigestInvalid => "digest_invalid",
            LogStatus::NoDigest => "no_digest",
            LogStatus::Unverified => "unverified",
            LogStatus::Pending => "pending",
        }
    }
}

/// What the digests say about one listed log file.
#[derive(Debug)]
pub struct Listed {
    pub hash: String,
    pub digest_key: String,
    pub digest_status: Status,
    pub seen: std::sync::atomic::AtomicBool,
}

/// `(start, end, status)` of a digest window or a hole.
pub type Span = (i64, i64, Status);

/// Every log file the digests list, plus each region's digest spans, for the scan workers.
#[derive(Debug, Default)]
pub struct DigestIndex {
    /// By log object key. A log listed twice (a backfill re-listing) keeps the best listing.
    pub logs: HashMap<String, Listed>,
    /// (account, region) → sorted spans `(start, end, status)` of standard digests and holes.
    pub spans: HashMap<(String, String), Vec<Span>>,
    /// The bucket the logs should be in.
    pub bucket: String,
}

impl DigestIndex {
    pub fn build(bucket: &str, chains: &[Chain]) -> Self {
        let mut index = DigestIndex {
            bucket: bucket.to_owned(),
            ..Default::default()
        };
        for chain in chains {
            let mut spans = Vec::new();
            for d in &chain.digests {
                if !d.backfill {
                    spans.push((d.start, d.end, d.status));
                }
                let Some(doc) = &d.doc else { continue };
                for l in &doc.log_files {
                    let better = index
                        .logs
                        .get(&l.s3_object)
                        .is_none_or(|old| rank(d.status) < rank(old.digest_status));
                    if better {
                        index.logs.insert(
                            l.s3_object.clone(),
                            Listed {
                                hash: l.hash_value.to_ascii_lowercase(),
                                digest_key: d.key.clone(),
                                digest_status: d.status,
                                seen: Default::default(),
                            },
                        );
                    }
                }
            }
            spans.extend(chain.holes.iter().map(|h| (h.start, h.end, h.status)));
            spans.sort();
            index
                .spans
                .insert((chain.account_id.clone(), chain.region.clone()), spans);
        }
        index
    }

    /// The status of a log file from its key alone and the SHA-256 of its content (`None`
    /// when it could not be read), marking it seen.
    pub fn classify(
        &self,
        key: &str,
        account: &str,
        region: &str,
        delivered_at: i64,
        sha256: Option<&str>,
    ) -> (LogStatus, Option<&Listed>) {
        if let Some(l) = self.logs.get(key) {
            l.seen.store(true, std::sync::atomic::Ordering::Relaxed);
            let status = match l.digest_status {
                s if s.is_good() => match sha256 {
                    Some(h) if h.eq_ignore_ascii_case(&l.hash) => LogStatus::Valid,
                    _ => LogStatus::HashMismatch,
                },
                Status::Invalid => LogStatus::DigestInvalid,
                _ => LogStatus::Unverified,
            };
            return (status, Some(l));
        }
        (self.window_status(account, region, delivered_at), None)
    }

    /// The status of an unlisted log delivered at `t`, from the digest spans.
    fn window_status(&self, account: &str, region: &str, t: i64) -> LogStatus {
        let Some(spans) = self.spans.get(&(account.to_owned(), region.to_owned())) else {
            return LogStatus::NoDigest;
        };
        // A log stamped HH:MM was delivered within that minute: any span touching it counts.
        let touching = spans
            .iter()
            .filter(|(s, e, _)| *s <= t + 59 && t <= *e)
            .map(|(_, _, st)| *st);
        let mut worst = None;
        for st in touching {
            worst = Some(match worst {
                None => st,
                Some(w) => std::cmp::max(w, st),
            });
        }
        match worst {
            Some(s) if s.is_good() => LogStatus::Unlisted,
            Some(Status::Invalid) => LogStatus::DigestInvalid,
            Some(Status::Pending) => LogStatus::Pending,
            Some(Status::Unverified | Status::Unreadable) => LogStatus::Unverified,
            Some(Status::Gap | Status::Missing) | None => {
                if spans.iter().all(|(_, e, _)| *e < t) {
                    LogStatus::Pending
                } else {
                    LogStatus::NoDigest
                }
            }
            Some(Status::Valid | Status::Empty) => unreachable!("good handled above"),
        }
    }
}

/// Lower is a better listing.
fn rank(s: Status) -> u8 {
    match s {
        Status::Valid | Status::Empty => 0,
        Status::Unverified | Status::Pending | Status::Unreadable => 1,
        Status::Gap | Status::Missing | Status::Invalid => 2,
    }
}

/// The status of each hour `[h, h+1h)` of the window: the worst of the digests and holes that
/// overlap it, with "valid" over "empty" when any overlapping digest lists logs.
pub fn hour_statuses(chain: &Chain, window: (i64, i64)) -> Vec<(i64, Status)> {
    let mut out = Vec::new();
    let mut h = window.0;
    while h < window.1 {
        let end = (h + 3_600).min(window.1);
        let overlapping = chain
            .digests
            .iter()
            .filter(|d| !d.backfill && d.start < end && d.end > h)
            .map(|d| d.status)
            .chain(
                chain
                    .holes
                    .iter()
                    .filter(|x| x.start < end && x.end > h)
                    .map(|x| x.status),
            );
        let mut worst: Option<Status> = None;
        for s in overlapping {
            worst = Some(match worst {
                None => s,
                Some(Status::Empty) if s == Status::Valid => Status::Valid,
                Some(Status::Valid) if s == Status::Empty => Status::Valid,
                Some(w) => w.max(s),
            });
        }
        out.push((h, worst.unwrap_or(Status::Missing)));
        h += 3_600;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample response of `aws cloudtrail list-public-keys` in the CloudTrail user guide
    /// (awsdocs/aws-cloudtrail-user-guide, doc_source/cloudtrail-log-file-custom-validation.md),
    /// verbatim: lowercase `publicKeyList`, times as quoted numbers.
    const USER_GUIDE_SAMPLE: &str = r#"{
        "publicKeyList": [
            {
                "ValidityStartTime": "1436317441.0",
                "ValidityEndTime": "1438909441.0",
                "Value": "MIIBCgKCAQEAn11L2YZ9h7onug2ILi1MWyHiMRsTQjfWE+pHVRLk1QjfWhirG+lpOa8NrwQ/r7Ah5bNL6HepznOU9XTDSfmmnP97mqyc7z/upfZdS/AHhYcGaz7n6Wc/RRBU6VmiPCrAUojuSk6/GjvA8iOPFsYDuBtviXarvuLPlrT9kAd4Lb+rFfR5peEgBEkhlzc5HuWO7S0y+KunqxX6jQBnXGMtxmPBPP0FylgWGNdFtks/4YSKcgqwH0YDcawP9GGGDAeCIqPWIXDLG1jOjRRzWfCmD0iJUkz8vTsn4hq/5ZxRFE7UBAUiVcGbdnDdvVfhF9C3dQiDq3k7adQIziLT0cShgQIDAQAB",
                "Fingerprint": "8eba5db5bea9b640d1c96a77256fe7f2"
            },
            {
                "ValidityStartTime": "1434589460.0",
                "ValidityEndTime": "1437181460.0",
                "Value": "MIIBCgKCAQEApfYL2FiZhpN74LNWVUzhR+VheYhwhYm8w0n5Gf6i95ylW5kBAWKVEmnAQG7BvS5g9SMqFDQx52fW7NWV44IvfJ2xGXT+wT+DgR6ZQ+6yxskQNqV5YcXj4Aa5Zz4jJfsYjDuO2MDTZNIzNvBNzaBJ+r2WIWAJ/Xq54kyF63B6WE38vKuDE7nSd1FqQuEoNBFLPInvgggYe2Ym1Refe2z71wNcJ2kY+q0h1BSHrSM8RWuJIw7MXwF9iQncg9jYzUlNJomozQzAG5wSRfbplcCYNY40xvGd/aAmO0m+Y+XFMrKwtLCwseHPvj843qVno6x4BJN9bpWnoPo9sdsbGoiK3QIDAQAB",
                "Fingerprint": "8933b39ddc64d26d8e14ffbf6566fee4"
            },
            {
                "ValidityStartTime": "1434589370.0",
                "ValidityEndTime": "1437181370.0",
                "Value": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqlzPJbvZJ42UdcmLfPUqXYNfOs6I8lCfao/tOs8CmzPOEdtLWugB9xoIUz78qVHdKIqxbaG4jWHfJBiOSSFBM0lt8cdVo4TnRa7oG9io5pysS6DJhBBAeXsicufsiFJR+wrUNh8RSLxL4k6G1+BhLX20tJkZ/erT97tDGBujAelqseGg3vPZbTx9SMfOLN65PdLFudLP7Gat0Z9p5jw/rjpclKfo9Bfc3heeBxWGKwBBOKnFAaN9V57pOaosCvPKmHd9bg7jsQkI9Xp22IzGLsTFJZYVA3KiTAElDMu80iFXPHEq9hKNbt9e4URFam+1utKVEiLkR2disdCmPTK0VQIDAQAB",
                "Fingerprint": "31e8b5433410dfb61a9dc45cc65b22ff"
            }
        ]
    }"#;

    /// aws/aws-cli awscli/examples/cloudtrail/list-public-keys.rst (times as numbers).
    const AWSCLI_EXAMPLE: &str = r#"{"PublicKeyList": [{
        "ValidityStartTime": 1453076702.0,
        "ValidityEndTime": 1455668702.0,
        "Value": "MIIBCgKCAQEAlSS3cl92HDycr/MTj0moOhas8habjrraXw+KzlWF0axSI2tcF+3iJ9BKQAVSKxGwxwu3m0wG3J+kUl1xboEcEPHYoIYMbgfSw7KGnuDKwkLzsQWhUJ0cIbOHASox1vv/5fNXkrHhGbDCHeVXm804c83nvHUEFYThr1PfyP/8HwrCtR3FX5OANtQCP61C1nJtSSkC8JSQUOrIP4CuwJjc+4WGDk+BGH5m9iuiAKkipEHWmUl8/P7XpfpWQuk4h8g3pXZOrNXr08lbh4d39svj7UqdhvOXoBISp9t/EXYuePGEtBdrKD9Dz+VHwyUPtBQvYr9BnkF88qBnaPNhS44rzwIDAQAB",
        "Fingerprint": "7f3f401420072e50a65a141430817ab3"}]}"#;

    #[test]
    fn the_documented_keys_parse_and_yield_their_fingerprints() {
        let ring = KeyRing::from_list_json(USER_GUIDE_SAMPLE).unwrap();
        let got: Vec<(&str, KeyEncoding, Option<i64>)> = ring
            .keys
            .values()
            .map(|k| (k.fingerprint.as_str(), k.encoding, k.valid_from))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "31e8b5433410dfb61a9dc45cc65b22ff",
                    KeyEncoding::SubjectPublicKeyInfo,
                    Some(1_434_589_370)
                ),
                (
                    "8933b39ddc64d26d8e14ffbf6566fee4",
                    KeyEncoding::Pkcs1,
                    Some(1_434_589_460)
                ),
                (
                    "8eba5db5bea9b640d1c96a77256fe7f2",
                    KeyEncoding::Pkcs1,
                    Some(1_436_317_441)
                ),
            ]
        );
        for k in ring.keys.values() {
            assert_eq!(rsa::traits::PublicKeyParts::size(&k.key), 256, "2048-bit");
        }
        let cli = KeyRing::from_list_json(AWSCLI_EXAMPLE).unwrap();
        let k = cli
            .get("7F3F401420072E50A65A141430817AB3")
            .expect("case-insensitive");
        assert_eq!(k.valid_until, Some(1_455_668_702));
    }

    #[test]
    fn a_key_that_does_not_match_its_fingerprint_is_rejected() {
        let forged = USER_GUIDE_SAMPLE.replace(
            "8eba5db5bea9b640d1c96a77256fe7f2",
            "8eba5db5bea9b640d1c96a77256fe7f3",
        );
        let err = KeyRing::from_list_json(&forged).unwrap_err();
        assert!(
            err.contains("does not match the key's MD5 8eba5db5"),
            "{err}"
        );
        assert!(KeyRing::from_list_json("{\"PublicKeyList\":[{\"Value\":\"AAAA\"}]}").is_err());
    }

    #[test]
    fn the_string_to_sign_is_exact() {
        let mut d = DigestFile {
            aws_account_id: "111122223333".into(),
            digest_start_time: "2026-01-01T00:07:32Z".into(),
            digest_end_time: "2026-01-01T01:07:32Z".into(),
            digest_s3_bucket: "b".into(),
            digest_s3_object: "p/AWSLogs/111122223333/CloudTrail-Digest/x.json.gz".into(),
            digest_public_key_fingerprint: "f".into(),
            digest_signature_algorithm: None,
            newest_event_time: None,
            oldest_event_time: None,
            previous_digest_s3_bucket: None,
            previous_digest_s3_object: None,
            previous_digest_hash_value: None,
            previous_digest_hash_algorithm: None,
            previous_digest_signature: None,
            log_files: vec![],
        };
        assert_eq!(
            string_to_sign(&d, "ab12"),
            "2026-01-01T01:07:32Z\nb/p/AWSLogs/111122223333/CloudTrail-Digest/x.json.gz\nab12\nnull"
        );
        d.previous_digest_signature = Some("00ff".into());
        assert!(string_to_sign(&d, "ab12").ends_with("\nab12\n00ff"));
    }

    /// Digests of one region from the generator, read as from S3 (with metadata) or offline.
    fn region_digests(tamper: Option<&str>, metadata: bool) -> (Vec<ReadDigest>, KeyRing) {
        let mut cfg = crate::generate::GenConfig {
            regions: vec!["eu-west-1".into()],
            hours: 4,
            events_per_hour: 4,
            extras: false,
            ..Default::default()
        };
        if let Some(t) = tamper {
            cfg.faults = vec![format!("tamper:{t}:eu-west-1").parse().unwrap()];
        }
        let mut out = Vec::new();
        crate::generate::generate(&cfg, &mut |o| {
            let Ok(k) = crate::source::layout::parse_key(&o.key) else {
                return Ok(());
            };
            if k.kind != crate::source::layout::ObjectKind::Digest {
                return Ok(());
            }
            let mut d = crate::decode::Decoder::new(1 << 20);
            d.inflate(&o.body, true).unwrap();
            let meta = |name: &str| {
                metadata
                    .then(|| {
                        o.metadata
                            .iter()
                            .find(|(k, _)| *k == name)
                            .map(|(_, v)| v.clone())
                    })
                    .flatten()
            };
            out.push(ReadDigest {
                bucket: if metadata {
                    cfg.bucket.clone()
                } else {
                    String::new()
                },
                key: o.key.clone(),
                stamp: k.delivered_at,
                backfill: k.backfill,
                content: Ok(DigestContent {
                    inflated: d.decompressed().to_vec(),
                    signature: meta("signature"),
                    signature_algorithm: meta("signature-algorithm"),
                    backfill_generated: meta("backfill-generation-timestamp"),
                    has_metadata: metadata,
                }),
            });
            Ok(())
        })
        .unwrap();
        let keys =
            KeyRing::from_list_json(&crate::generate::test_public_keys_json(cfg.start, 4)).unwrap();
        (out, keys)
    }

    fn check(read: Vec<ReadDigest>, keys: &KeyRing) -> Chain {
        let start = crate::generate::GenConfig::default().start;
        check_chain(
            &ChainContext {
                account: "111122223333",
                region: "eu-west-1",
                window: (start, start + 4 * 3_600),
                keys: Ok(keys),
                due_until: i64::MAX,
            },
            read,
        )
    }

    fn statuses(c: &Chain) -> Vec<Status> {
        c.digests.iter().map(|d| d.status).collect()
    }

    #[test]
    fn a_clean_chain_is_valid_online_and_offline_but_for_the_newest() {
        let (read, keys) = region_digests(None, true);
        let c = check(read, &keys);
        assert!(c.digests.len() >= 5, "{}", c.digests.len());
        assert!(
            statuses(&c).iter().all(|s| s.is_good()),
            "{:?}",
            statuses(&c)
        );
        assert!(c.holes.is_empty(), "{:?}", c.holes);
        // Offline: each digest's signature comes from its successor; the newest has none.
        let (read, keys) = region_digests(None, false);
        let c = check(read, &keys);
        let s = statuses(&c);
        assert!(s[..s.len() - 1].iter().all(|s| s.is_good()), "{s:?}");
        assert_eq!(s.last(), Some(&Status::Unverified));
        assert_eq!(c.digests[0].signature_source, Some("successor"));
    }

    /// Problems of every digest that is not good.
    fn problems(c: &Chain) -> Vec<String> {
        c.digests
            .iter()
            .filter(|d| !d.status.is_good())
            .flat_map(|d| d.problems.clone())
            .collect()
    }

    #[test]
    fn a_digest_from_s3_without_its_signature_metadata_is_invalid_not_vouched_for() {
        for (field, want) in [
            ("signature", "no x-amz-meta-signature metadata"),
            ("algorithm", "no x-amz-meta-signature-algorithm metadata"),
        ] {
            let (mut read, keys) = region_digests(None, true);
            let Ok(c) = &mut read[1].content else {
                panic!()
            };
            match field {
                "signature" => c.signature = None,
                _ => c.signature_algorithm = None,
            }
            let chain = check(read, &keys);
            assert_eq!(chain.digests[1].status, Status::Invalid, "{field}");
            assert_ne!(chain.digests[1].signature_source, Some("successor"));
            assert!(
                problems(&chain).iter().any(|p| p.contains(want)),
                "{field}: {:?}",
                problems(&chain)
            );
        }
    }

    #[test]
    fn an_absent_field_is_malformed_where_null_is_not() {
        let (mut read, keys) = region_digests(None, true);
        let Ok(c) = &mut read[2].content else {
            panic!()
        };
        let mut doc: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&c.inflated).unwrap();
        assert!(doc.remove("previousDigestSignature").is_some());
        c.inflated = serde_json::to_vec(&doc).unwrap();
        let chain = check(read, &keys);
        assert_eq!(chain.digests[2].status, Status::Invalid);
        assert!(
            chain.digests[2]
                .problems
                .contains(&"invalid format: no previousDigestSignature field".to_owned()),
            "{:?}",
            chain.digests[2].problems
        );
        // The starting digest's null previous fields are its valid form.
        assert!(chain.digests[0].status.is_good(), "{:?}", chain.digests[0]);
    }

    #[test]
    fn a_key_outside_its_validity_verifies_nothing() {
        let (read, _) = region_digests(None, true);
        let start = crate::generate::GenConfig::default().start;
        // Valid from 70 days after the digests were signed.
        let later = KeyRing::from_list_json(&crate::generate::test_public_keys_json(
            start + 100 * 86_400,
            4,
        ))
        .unwrap();
        let chain = check(read, &later);
        assert!(
            chain.digests.iter().all(|d| d.status == Status::Invalid),
            "{:?}",
            statuses(&chain)
        );
        assert!(
            problems(&chain)
                .iter()
                .all(|p| p.contains("is not valid at digestEndTime")),
            "{:?}",
            problems(&chain)
        );
    }

    #[test]
    fn without_keys_nothing_is_verified() {
        let (read, _) = region_digests(None, true);
        let start = crate::generate::GenConfig::default().start;
        let c = check_chain(
            &ChainContext {
                account: "111122223333",
                region: "eu-west-1",
                window: (start, start + 4 * 3_600),
                keys: Err("denied"),
                due_until: i64::MAX,
            },
            read,
        );
        assert!(statuses(&c).iter().all(|s| *s == Status::Unverified));
        assert!(c.digests[0].problems[0].contains("denied"));
        assert!(
            hour_statuses(&c, (start, start + 4 * 3_600))
                .iter()
                .all(|(_, s)| *s == Status::Unverified)
        );
    }

    #[test]
    fn each_digest_tamper_hits_exactly_one_digest() {
        for (tamper, want) in [
            ("wrong-key", "signature verification failed"),
            ("resign-digest", "previousDigestSignature"),
            ("move-digest", "moved"),
        ] {
            let (read, keys) = region_digests(Some(tamper), true);
            let c = check(read, &keys);
            let bad: Vec<&CheckedDigest> =
                c.digests.iter().filter(|d| !d.status.is_good()).collect();
            assert_eq!(bad.len(), 1, "{tamper}: {:?}", statuses(&c));
            assert_eq!(bad[0].status, Status::Invalid);
            assert!(
                bad[0].problems.join(" ").contains(want),
                "{tamper}: {:?}",
                bad[0].problems
            );
            assert!(c.holes.is_empty(), "{tamper}: {:?}", c.holes);
        }
        let (read, keys) = region_digests(Some("delete-digest"), true);
        let c = check(read, &keys);
        assert!(statuses(&c).iter().all(|s| s.is_good()));
        assert_eq!(c.holes.len(), 1, "{:?}", c.holes);
        assert_eq!(c.holes[0].status, Status::Missing);
        assert!(c.holes[0].detail.contains("is missing"));
    }

    #[test]
    fn a_window_not_covered_is_missing_and_one_not_due_is_pending() {
        let (mut read, keys) = region_digests(None, true);
        // Drop the first two digests: the start of the window has no digest at all.
        read.sort_by_key(|r| r.stamp);
        read.drain(..2);
        let c = check(read, &keys);
        assert_eq!(c.holes.len(), 1);
        assert_eq!(c.holes[0].status, Status::Missing);
        let start = crate::generate::GenConfig::default().start;
        let hours = hour_statuses(&c, (start, start + 4 * 3_600));
        assert_eq!(hours[0].1, Status::Missing);
        assert!(hours[2..].iter().all(|(_, s)| s.is_good()), "{hours:?}");
        // Not due yet: pending, not missing.
        let (mut read, keys) = region_digests(None, true);
        read.sort_by_key(|r| r.stamp);
        read.truncate(2);
        let c = check_chain(
            &ChainContext {
                account: "111122223333",
                region: "eu-west-1",
                window: (start, start + 4 * 3_600),
                keys: Ok(&keys),
                due_until: start + 3 * 3_600,
            },
            read,
        );
        let kinds: Vec<Status> = c.holes.iter().map(|h| h.status).collect();
        assert_eq!(kinds, [Status::Missing, Status::Pending]);
    }

    fn checked(
        key: &str,
        end: i64,
        signature: &str,
        previous: Option<(&str, &str)>,
    ) -> CheckedDigest {
        CheckedDigest {
            key: key.into(),
            backfill: false,
            start: end - 3_600,
            end,
            status: Status::Valid,
            problems: Vec::new(),
            doc: Some(DigestFile {
                aws_account_id: "111122223333".into(),
                digest_start_time: rfc3339(end - 3_600),
                digest_end_time: rfc3339(end),
                digest_s3_bucket: "b".into(),
                digest_s3_object: key.into(),
                digest_public_key_fingerprint: "f".into(),
                digest_signature_algorithm: None,
                newest_event_time: None,
                oldest_event_time: None,
                previous_digest_s3_bucket: None,
                previous_digest_s3_object: previous.map(|p| p.0.to_owned()),
                previous_digest_hash_value: None,
                previous_digest_hash_algorithm: None,
                previous_digest_signature: previous.map(|p| p.1.to_owned()),
                log_files: Vec::new(),
            }),
            signature: Some(signature.into()),
            signature_source: None,
            inflated_sha256: None,
        }
    }

    #[test]
    fn the_link_to_the_previous_runs_tip_is_checked() {
        const T: i64 = 1_767_225_600;
        let chain = || Chain {
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            digests: vec![
                checked("d1", T, "aa", None),
                checked("d2", T + 3_600, "bb", Some(("d1", "aa"))),
            ],
            holes: Vec::new(),
        };
        let window = (T - 3_600, T + 3_600);
        let listed = (T - 7_200, T + 7_200);
        let tip = ChainTip {
            key: "d1".into(),
            end: T,
            signature: "AA".into(),
        };
        // Continued: nothing to say.
        let mut c = chain();
        c.link_to_tip(&tip, listed, window);
        assert!(c.digests.iter().all(|d| d.status == Status::Valid));
        assert!(c.holes.is_empty());
        assert_eq!(c.tip().unwrap().key, "d2");
        // The tip replaced since (another signature): it and its successor are invalid.
        let replaced = ChainTip {
            signature: "cc".into(),
            ..tip.clone()
        };
        let mut c = chain();
        c.link_to_tip(&replaced, listed, window);
        assert_eq!(c.digests[0].status, Status::Invalid);
        assert_eq!(c.digests[1].status, Status::Invalid);
        // The tip gone: a hole over its hour, saying so.
        let mut c = chain();
        c.digests.remove(0);
        c.link_to_tip(&tip, listed, window);
        assert_eq!(c.holes.len(), 1);
        assert_eq!((c.holes[0].start, c.holes[0].end), (T - 3_600, T));
        assert!(c.holes[0].detail.contains("is gone"), "{:?}", c.holes);
        // A signed digest listing no file (a quiet hour) is a tip too.
        let mut c = chain();
        c.digests[1].status = Status::Empty;
        assert_eq!(c.tip().unwrap().key, "d2");
        // A tip after the window (a re-run within the hour): the hole stays inside it.
        let mut c = chain();
        c.digests.remove(0);
        let late = ChainTip {
            end: T + 3 * 3_600,
            key: "d0".into(),
            ..tip.clone()
        };
        let hole = c
            .link_to_tip(&late, (T - 7_200, T + 4 * 3_600), window)
            .unwrap();
        assert_eq!((hole.start, hole.end), (T, T + 3_600));
        // A tip outside what was listed was not looked for.
        let mut c = chain();
        c.digests.remove(0);
        c.link_to_tip(&tip, (T + 1, T + 7_200), window);
        assert!(c.holes.is_empty());
    }
}
