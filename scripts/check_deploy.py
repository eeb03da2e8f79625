#!/usr/bin/env python3
"""Checks deploy/ and the Dockerfile with what runs here (no container engine does):

- deploy/ecs/task-definition.json against botocore's ECS RegisterTaskDefinition input shape,
  deploy/ecs/schedule.json against EventBridge Scheduler's CreateSchedule (the real AWS service
  models, offline);
- deploy/iam/*.json: created on the emulator's IAM (moto validates the policy grammar) when
  ENDPOINT is given;
- deploy/kubernetes/cronjob.yaml: the structure a CronJob needs, non-root, read-only root;
- deploy/batch/*.json against AWS Batch's RegisterJobDefinition and SubmitJob shapes (an array
  job of N shards, then the merge depending on it); deploy/kubernetes/indexed-job.yaml: an
  Indexed Job of N shards (completions = --shards N, one explicit window) and the merge Job;
- the Dockerfile: multi-stage, `cargo install --locked`, a non-root final user, trailproof as
  the entrypoint;
- prints each deployment's trailproof command line as one JSON object per line
  ({"name", "role": daily|shard|merge, "args"}), for the caller to hand to trailproof's own
  parser.

usage: check_deploy.py ROOT [ENDPOINT]   (exit 1 with the reasons on stderr)"""
import json, pathlib, re, sys

import botocore.session
import yaml
from botocore.validate import ParamValidator

root = pathlib.Path(sys.argv[1])
endpoint = sys.argv[2] if len(sys.argv) > 2 else None
errors = []
session = botocore.session.get_session()


def check_shape(service, operation, doc, what):
    shape = session.get_service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(doc, shape)
    if report.has_errors():
        errors.append(f"{what}: {report.generate_report()}")


task = json.loads((root / "deploy/ecs/task-definition.json").read_text())
check_shape("ecs", "RegisterTaskDefinition", task, "ecs/task-definition.json")
schedule = json.loads((root / "deploy/ecs/schedule.json").read_text())
check_shape("scheduler", "CreateSchedule", schedule, "ecs/schedule.json")
if not schedule["Target"]["EcsParameters"]["TaskDefinitionArn"].endswith("/" + task["family"]):
    errors.append("ecs/schedule.json does not run the task definition's family")

policies = {
    name: (root / f"deploy/iam/{name}.json").read_text()
    for name in ("trailproof-policy", "scheduler-policy")
}
for text in policies.values():
    json.loads(text)
if endpoint:
    import boto3

    iam = boto3.client(
        "iam", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    for name, text in policies.items():
        try:
            iam.create_policy(PolicyName=f"{name}-deploy-check", PolicyDocument=text)
        except Exception as e:  # moto answers MalformedPolicyDocument for a bad grammar
            if "EntityAlreadyExists" not in str(e):
                errors.append(f"iam/{name}.json: {e}")

docs = list(yaml.safe_load_all((root / "deploy/kubernetes/cronjob.yaml").read_text()))
cron = next((d for d in docs if d and d.get("kind") == "CronJob"), None)
if cron is None:
    errors.append("kubernetes/cronjob.yaml: no CronJob")
    k8s_args = []
else:
    spec = cron["spec"]
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    k8s_args = container["args"]
    if cron.get("apiVersion") != "batch/v1":
        errors.append("kubernetes/cronjob.yaml: apiVersion is not batch/v1")
    if len(spec["schedule"].split()) != 5:
        errors.append("kubernetes/cronjob.yaml: schedule is not five cron fields")
    if spec.get("concurrencyPolicy") != "Forbid":
        errors.append("kubernetes/cronjob.yaml: two runs could overlap")
    if not pod["securityContext"].get("runAsNonRoot"):
        errors.append("kubernetes/cronjob.yaml: not runAsNonRoot")
    if not container["securityContext"].get("readOnlyRootFilesystem"):
        errors.append("kubernetes/cronjob.yaml: root file system not read-only")
    if pod.get("restartPolicy") not in ("Never", "OnFailure"):
        errors.append("kubernetes/cronjob.yaml: restartPolicy must be Never or OnFailure")
    sa = pod.get("serviceAccountName")
    if not any(d and d.get("kind") == "ServiceAccount" and d["metadata"]["name"] == sa for d in docs):
        errors.append(f"kubernetes/cronjob.yaml: no ServiceAccount {sa}")

lines = []
lines.append({"name": "kubernetes/cronjob.yaml", "role": "daily", "args": k8s_args})
lines.append({"name": "ecs/task-definition.json", "role": "daily",
              "args": task["containerDefinitions"][0]["command"]})

# AWS Batch: the array job of shards, then the merge.
jobdef = json.loads((root / "deploy/batch/job-definition.json").read_text())
check_shape("batch", "RegisterJobDefinition", jobdef, "batch/job-definition.json")
shards_job = json.loads((root / "deploy/batch/submit-shards.json").read_text())
check_shape("batch", "SubmitJob", shards_job, "batch/submit-shards.json")
merge_job = json.loads((root / "deploy/batch/submit-merge.json").read_text())
check_shape("batch", "SubmitJob", merge_job, "batch/submit-merge.json")
command = [
    shards_job["parameters"].get(a[len("Ref::"):], a) if a.startswith("Ref::") else a
    for a in jobdef["containerProperties"]["command"]
]
if "--shards" in command and str(shards_job["arrayProperties"]["size"]) != command[command.index("--shards") + 1]:
    errors.append("batch: the array size is not --shards N")
if not merge_job.get("dependsOn"):
    errors.append("batch/submit-merge.json: the merge does not wait for the shards")
lines.append({"name": "batch/job-definition.json", "role": "shard", "args": command})
lines.append({"name": "batch/submit-merge.json", "role": "merge",
              "args": merge_job["containerOverrides"]["command"]})

# Kubernetes: an Indexed Job of shards, then the merge Job (suspended until they complete).
jobs = [d for d in yaml.safe_load_all((root / "deploy/kubernetes/indexed-job.yaml").read_text()) if d]
by_step = {d["metadata"]["labels"]["step"]: d for d in jobs if d.get("kind") == "Job"}
for step in ("shards", "merge"):
    if step not in by_step:
        errors.append(f"kubernetes/indexed-job.yaml: no {step} Job")
        continue
    job = by_step[step]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    if job.get("apiVersion") != "batch/v1":
        errors.append(f"kubernetes/indexed-job.yaml ({step}): apiVersion is not batch/v1")
    if not pod["securityContext"].get("runAsNonRoot"):
        errors.append(f"kubernetes/indexed-job.yaml ({step}): not runAsNonRoot")
    if not container["securityContext"].get("readOnlyRootFilesystem"):
        errors.append(f"kubernetes/indexed-job.yaml ({step}): root file system not read-only")
    args = [str(a) for a in container["args"]]
    if step == "shards":
        spec = job["spec"]
        if spec.get("completionMode") != "Indexed":
            errors.append("kubernetes/indexed-job.yaml: the shards Job is not Indexed")
        if "--shards" not in args or str(spec.get("completions")) != args[args.index("--shards") + 1]:
            errors.append("kubernetes/indexed-job.yaml: completions is not --shards N")
    elif not job["spec"].get("suspend"):
        errors.append("kubernetes/indexed-job.yaml: the merge Job would start before the shards end")
    lines.append({"name": f"kubernetes/indexed-job.yaml ({step})",
                  "role": "shard" if step == "shards" else "merge", "args": args})
for line in lines:
    if line["role"] == "shard":
        args = line["args"]
        for flag in ("--since", "--until"):
            value = args[args.index(flag) + 1] if flag in args else ""
            if not re.match(r"\d{4}-\d\d-\d\dT", value):
                errors.append(f"{line['name']}: {flag} must be one explicit time for every shard")

dockerfile = (root / "Dockerfile").read_text()
stages = re.findall(r"^FROM\s+\S+", dockerfile, re.M)
if len(stages) < 2:
    errors.append("Dockerfile: not multi-stage")
if "cargo install --locked" not in dockerfile:
    errors.append("Dockerfile: not `cargo install --locked`")
final = dockerfile[dockerfile.rfind("\nFROM"):]
user = re.findall(r"^USER\s+(\S+)", final, re.M)
if not user or user[-1].split(":")[0] in ("root", "0"):
    errors.append("Dockerfile: the final stage does not run as a non-root user")
if not re.search(r'^ENTRYPOINT \["/usr/local/bin/trailproof"\]', final, re.M):
    errors.append("Dockerfile: trailproof is not the entrypoint")

for e in errors:
    print(e, file=sys.stderr)
for line in lines:
    print(json.dumps(line))
sys.exit(1 if errors else 0)
