//! `findings.ocsf.json`: OCSF 1.5 Compliance Finding records (class 2003), one per control
//! result, in the shape Prowler's compliance output emits (Security Hub and Security Lake
//! import OCSF). Pass and fail are in `compliance.status_id` (1 pass, 3 fail, 0 unknown);
//! times are epoch milliseconds of the run's `generated_at`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::evidence::{Assessed, Run};
use crate::error::{Error, ErrorKind, Result};

pub const OCSF_VERSION: &str = "1.5.0";

/// Accounts named as resources in each record.
const MAX_ACCOUNTS: usize = 100;

/// Renders the records (a pretty JSON array, newline-terminated).
pub fn render(run: &Run) -> Result<Vec<u8>> {
    let millis = run.generated_secs() * 1_000;
    let time_dt = crate::time::rfc3339(run.generated_secs());
    // Control reference -> the statements behind it, in table order.
    let mut by_control: BTreeMap<String, Vec<&Assessed>> = BTreeMap::new();
    for a in &run.controls {
        for c in &a.controls {
            by_control.entry(c.clone()).or_default().push(a);
        }
    }
    let seed = hex::encode(&run.content_seed()[..8]);
    let partition = crate::regions::partition_of_region(if run.global_region.is_empty() {
        "us-east-1"
    } else {
        &run.global_region
    });
    // Every record names the accounts; past a hundred the rest are counted, not repeated in
    // each of the ~50 records (the full list is in the run's document).
    let mut resources: Vec<Value> = run
        .accounts
        .iter()
        .take(MAX_ACCOUNTS)
        .map(|a| json!({"uid": a, "name": a, "type": "AwsAccount", "cloud_partition": partition}))
        .collect();
    let source_type = if run.source.starts_with("s3://") {
        "AwsS3Bucket"
    } else {
        "LocalCopy"
    };
    resources.push(json!({"uid": run.source, "name": run.source, "type": source_type, "cloud_partition": partition}));
    let mut records = Vec::new();
    for (reference, statements) in &by_control {
        let (framework, id) = reference.split_once(':').unwrap_or(("other", reference));
        let title = run
            .control(reference)
            .map(|c| c.title.clone())
            .unwrap_or_default();
        let failed = statements.iter().any(|a| a.result == "not_satisfied");
        let passed = statements.iter().all(|a| a.result == "satisfied");
        let (status_id, code, severity_id, severity) = if passed {
            (1, "PASS", 1, "Informational")
        } else if failed {
            (3, "FAIL", 4, "High")
        } else {
            (0, "UNKNOWN", 3, "Medium")
        };
        let detail = statements
            .iter()
            .map(|a| format!("{}: {} ({})", a.statement, a.result, a.reason))
            .collect::<Vec<_>>()
            .join("; ");
        let mut record = json!({
            "activity_id": 1,
            "activity_name": "Create",
            "category_name": "Findings",
            "category_uid": 2,
            "class_name": "Compliance Finding",
            "class_uid": 2003,
            "type_uid": 200301,
            "type_name": "Compliance Finding: Create",
            "time": millis,
            "time_dt": time_dt,
            "severity_id": severity_id,
            "severity": severity,
            "status_id": 1,
            "status": "New",
            "status_code": code,
            "status_detail": detail,
            "message": format!("{framework} {id} {title}: {code}"),
            "metadata": {
                "version": OCSF_VERSION,
                "event_code": reference,
                "product": {
                    "name": "trailproof",
                    "uid": "trailproof",
                    "vendor_name": "trailproof",
                    "version": env!("CARGO_PKG_VERSION"),
                },
                "profiles": ["cloud", "datetime"],
            },
            "finding_info": {
                "uid": format!("trailproof-{seed}-{reference}"),
                "title": format!("{framework} {id}: {title}"),
                "desc": statements.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(" "),
                "created_time": millis,
                "created_time_dt": time_dt,
                "types": ["CloudTrail coverage"],
            },
            "compliance": {
                "standards": [standard(framework)],
                "requirements": [id],
                "control": title,
                "status_id": status_id,
                "checks": statements.iter().map(|a| json!({
                    "uid": format!("trailproof.{}", a.statement),
                    "name": a.text,
                    "status": match a.result.as_str() {
                        "satisfied" => "PASS",
                        "not_satisfied" => "FAIL",
                        _ => "UNKNOWN",
                    },
                    "status_id": match a.result.as_str() {
                        "satisfied" => 1,
                        "not_satisfied" => 3,
                        _ => 0,
                    },
                })).collect::<Vec<_>>(),
            },
            "cloud": {
                "provider": "aws",
                "region": if run.global_region.is_empty() { "us-east-1" } else { &run.global_region },
            },
            "resources": resources,
            "unmapped": {
                "trailproof": {
                    "verdict": run.verdict,
                    "window_start": crate::time::rfc3339(run.window.0),
                    "window_end": crate::time::rfc3339(run.window.1),
                    "evidence": run.document,
                    "accounts": run.accounts.len(),
                },
            },
        });
        if let Some(account) = run.accounts.first() {
            record["cloud"]["account"] =
                json!({"uid": account, "name": account, "type_id": 10, "type": "AWS Account"});
        }
        records.push(record);
    }
    let mut body = serde_json::to_vec_pretty(&records)
        .map_err(|e| Error::with_source(ErrorKind::Output, "cannot encode the OCSF findings", e))?;
    body.push(b'\n');
    Ok(body)
}

fn standard(framework: &str) -> &'static str {
    match framework {
        "cis-aws" => "CIS-AWS-Foundations-Benchmark-3.0.0",
        "aws-securityhub" => "AWS-Foundational-Security-Best-Practices",
        "nist-800-53-r4" => "NIST-800-53-Revision-4",
        "nist-800-53-r5" => "NIST-800-53-Revision-5",
        _ => "trailproof",
    }
}
