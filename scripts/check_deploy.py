#!/usr/bin/env python3
"""Checks deploy/ and the Dockerfile with what runs here (no container engine does):

- deploy/ecs/task-definition.json against botocore's ECS RegisterTaskDefinition input shape,
  deploy/ecs/schedule.json against EventBridge Scheduler's CreateSchedule (the real AWS service
  models, offline);
- deploy/iam/*.json: created on the emulator's IAM (moto validates the policy grammar) when
  ENDPOINT is given;
- deploy/kubernetes/cronjob.yaml: the structure a CronJob needs, non-root, read-only root;
- the Dockerfile: multi-stage, `cargo install --locked`, a non-root final user, trailproof as
  the entrypoint;
- prints the trailproof argument list of each (one JSON array per line, k8s first), for the
  caller to hand to trailproof's own parser.

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
print(json.dumps(k8s_args))
print(json.dumps(task["containerDefinitions"][0]["command"]))
sys.exit(1 if errors else 0)
