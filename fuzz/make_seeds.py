#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/TARGET/seed-* (committed; rerun only to refresh them).

    python3 fuzz/make_seeds.py [PATH_TO_TRAILPROOF_BINARY]

Without an argument it runs `cargo run --bin trailproof` (a stable debug build in
$CARGO_TARGET_DIR). The seeds are tiny: a generated CloudTrail document (plain and gzip), a few
hand-written documents with the shapes the extractor must get right, signed digests produced by
`trailproof generate` in the `digest` target's input format, the generator's test public key,
and a few keys of each kind.
"""

import base64
import gzip
import json
import os
import pathlib
import subprocess
import sys
import tempfile

FUZZ = pathlib.Path(__file__).resolve().parent
REPO = FUZZ.parent
SEP = b"\xff"  # the digest target's section separator


def trailproof(args):
    if len(sys.argv) > 1:
        cmd = [sys.argv[1], *args]
    else:
        cmd = ["cargo", "run", "--quiet", "--bin", "trailproof", "--", *args]
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def write(target, name, data):
    d = FUZZ / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / f"seed-{name}").write_bytes(data)


# Hand-written documents: escapes, string flags, nulls, nesting, legacy records, an Insight.
DOCS = {
    "escapes.json": r'''{"Records":[{"eventVersion":"1.09","eventTime":"2023-07-10T12:15:57Z","awsRegion":"us-east-1","eventSource":"iam.amazonaws.com","eventName":"ListUsers","readOnly":true,"managementEvent":true,"eventCategory":"Management","eventType":"AwsApiCall","recipientAccountId":"123837392027","userIdentity":{"type":"IAMUser","arn":"x","sessionContext":{"type":"no"}},"requestParameters":{"a":[1,-2.5e3,{"b":"c \"q\" \u00e9 \\ \/"}],"n":null}},{"eventTime":"2023-07-10T12:16:00Z","awsRegion":"eu-west-1","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","readOnly":"FALSE","managementEvent":"true","eventCategory":"Management","errorCode":"Client.UnauthorizedOperation","userAgent":"aws-cli/2 \"quoted\""}]}''',
    "pretty.json": '{\n  "Records": [\n    {"eventTime": "2014-01-01T00:00:00Z", "eventSource": "s3.amazonaws.com",\n     "eventName": "GetObject", "eventType": "AwsApiCall", "readOnly": null,\n     "userIdentity": null, "awsRegion": "us-west-2"},\n    {}\n  ],\n  "extra": [true, false, 0, {"Records": 1}]\n}\n',
    "empty.json": '{"Records":[]}',
    "insight.json": '{"Records":[{"eventVersion":"1.07","eventTime":"2026-01-01T00:00:00Z","awsRegion":"eu-west-1","eventSource":"cloudtrail.amazonaws.com","eventCategory":"Insight","eventType":"AwsCloudTrailInsight","insightDetails":{"state":"Start"}}]}',
}

KEYS = {
    "log": "AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10/218007301253_CloudTrail_us-east-1_20230710T1220Z_WMiHxZgr5Hdd6UDc.json.gz",
    "org-prefix-log": "o-aa111bb222/AWSLogs/o-aa111bb222/111122223333/CloudTrail/ca-central-1/2020/09/23/111122223333_CloudTrail_ca-central-1_20200923T0515Z_KL5e9VCV2SS7IqzB.json",
    "digest": "AWSLogs/111122223333/CloudTrail-Digest/eu-west-3/2020/08/28/111122223333_CloudTrail-Digest_eu-west-3_XXXX_Infosec_Audit_us-west-2_20200828T220732Z.json.gz",
    "backfill": "a/b/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2020/08/28/111122223333_CloudTrail-Digest_us-east-1_main_us-east-1_20200828T220732Z_backfill.json.gz",
    "insight": "AWSLogs/111122223333/CloudTrail-Insight/eu-west-1/2026/01/01/111122223333_CloudTrail-Insight_eu-west-1_20260101T0100Z_JxmAHPmcIBLNStCR.json.gz",
    "other": "AWSLogs/111122223333/Config/ConfigWritabilityCheckFile",
}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        # A local directory's name is the bucket the digests state: the digest target's.
        out = pathlib.Path(tmp) / "trailproof-demo"
        keys_json = pathlib.Path(tmp) / "keys.json"
        trailproof(["generate", "--out", str(out), "--regions", "eu-west-1", "--hours", "2",
                    "--events-per-hour", "3", "--public-keys-out", str(keys_json)])
        files = sorted(p for p in out.rglob("*") if p.is_file())
        rel = lambda p: p.relative_to(out).as_posix()
        logs = [p for p in files if "/CloudTrail/" in rel(p)]
        digests = [p for p in files if "/CloudTrail-Digest/" in rel(p)]

        # extract_differential: documents as the decoder hands them over (inflated).
        write("extract_differential", "generated.json", gzip.decompress(logs[0].read_bytes()))
        for name, doc in DOCS.items():
            json.loads(doc)  # each one is valid JSON
            write("extract_differential", name, doc)

        # gzip: a delivered object as is; [level, suffix length] + plaintext; two members.
        gz = logs[0].read_bytes()
        write("gzip", "log.json.gz", gz)
        write("gzip", "plain-doc", bytes([6, 8]) + DOCS["empty.json"].encode())
        write("gzip", "two-members.gz", gzip.compress(b'{"Records":[') + gzip.compress(b"]}"))

        # digest: FLAGS 0xFF KEY 0xFF CONTENT 0xFF SIG [0xFF KEY 0xFF CONTENT 0xFF SIG].
        inflated = [gzip.decompress(p.read_bytes()) for p in digests]
        docs = [json.loads(b) for b in inflated]
        keys = [rel(p) for p in digests]
        # A digest's signature is its successor's previousDigestSignature.
        by_key = {d["digestS3Object"]: i for i, d in enumerate(docs)}
        sig = {}
        for d in docs:
            if d.get("previousDigestS3Object") in by_key:
                sig[by_key[d["previousDigestS3Object"]]] = d["previousDigestSignature"]
        signed = [i for i in sig if docs[i]["logFiles"]]
        empty = [i for i in sig if not docs[i]["logFiles"]]
        for name, i in (("signed", signed[0]), ("signed-empty", (empty or signed)[0])):
            write("digest", name, SEP.join([b"\x03", keys[i].encode(), inflated[i],
                                            sig[i].encode()]))
        # Offline (no metadata): the successor vouches for its predecessor, one listing logs.
        pairs = [(by_key[d["previousDigestS3Object"]], j) for j, d in enumerate(docs)
                 if d.get("previousDigestS3Object") in by_key]
        i, j = next((i, j) for i, j in pairs if docs[i]["logFiles"])
        write("digest", "offline-pair", SEP.join([b"\x00", keys[i].encode(), inflated[i], b"",
                                                  keys[j].encode(), inflated[j], b""]))
        write("digest", "keys.json", keys_json.read_bytes())
        der = base64.b64decode(json.loads(keys_json.read_text())["PublicKeyList"][0]["Value"])
        write("digest", "key.der", der)

        # key_grammar: the generated keys of each kind, plus real-world shapes.
        write("key_grammar", "generated-log", rel(logs[0]))
        write("key_grammar", "generated-digest", keys[0])
        for name, key in KEYS.items():
            write("key_grammar", name, key)

    total = sum(p.stat().st_size for p in (FUZZ / "corpus").rglob("seed-*"))
    print(f"seeds written under {FUZZ / 'corpus'}: {total} bytes")


if __name__ == "__main__":
    main()
