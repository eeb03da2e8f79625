"""Creates the demo's two emulator accounts through the AWS APIs (STS, S3, CloudTrail) and
prints shell variables with their credentials. Used by scripts/demo.sh."""
import random
import sys

import boto3

endpoint = sys.argv[1]


def client(service, creds=None, region="us-east-1"):
    creds = creds or {"AccessKeyId": "AKIADEMO", "SecretAccessKey": "demo", "SessionToken": None}
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def account(account_id):
    role = f"arn:aws:iam::{account_id}:role/audit"
    return client("sts").assume_role(RoleArn=role, RoleSessionName="trailproof-demo")["Credentials"]


def trail(creds, account_id, name, selectors):
    bucket = f"demo-{account_id}-{name}"
    client("s3", creds).create_bucket(Bucket=bucket)
    ct = client("cloudtrail", creds)
    ct.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=True, EnableLogFileValidation=True)
    ct.put_event_selectors(TrailName=name, EventSelectors=selectors)
    ct.start_logging(Name=name)


good_id = str(random.randint(100000000000, 999999999999))
bad_id = str(random.randint(100000000000, 999999999999))
good, bad = account(good_id), account(bad_id)
trail(good, good_id, "org-audit", [{"ReadWriteType": "All", "IncludeManagementEvents": True}])
trail(bad, bad_id, "writes-only", [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])
for label, acct, c in (("GOOD", good_id, good), ("BAD", bad_id, bad)):
    print(f"{label}_ACCOUNT={acct}")
    print(f"{label}_KEY={c['AccessKeyId']}")
    print(f"{label}_SECRET={c['SecretAccessKey']}")
    print(f"{label}_TOKEN={c['SessionToken']}")
