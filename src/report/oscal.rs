//! `oscal-assessment-results.json`: an OSCAL 1.1 assessment-results document for the run.
//! One result over the window; an observation per statement trailproof assessed, each citing
//! the evidence files (back-matter resources with relative links and SHA-256); a finding per
//! NIST SP 800-53 rev 5 control those statements evidence, satisfied only when every statement
//! behind it was observed to hold. Identifiers derive from the run's content, so the same
//! inputs give the same document.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::evidence::{self, Run};
use crate::error::{Error, ErrorKind, Result};

pub const OSCAL_VERSION: &str = "1.1.3";

/// The namespace of trailproof's own OSCAL properties.
const NS: &str = "https://trailproof.invalid/ns/oscal";

fn media_type(name: &str) -> &'static str {
    if name.ends_with(".parquet") {
        "application/vnd.apache.parquet"
    } else if name.ends_with(".json") {
        "application/json"
    } else {
        "application/octet-stream"
    }
}

/// Renders the document (pretty JSON, newline-terminated).
pub fn render(run: &Run) -> Result<Vec<u8>> {
    let files = evidence::hash_files(
        &run.dir,
        &[
            evidence::OSCAL,
            evidence::OCSF,
            evidence::REPORT,
            evidence::MANIFEST,
        ],
    )?;
    let resource = |name: &str| run.uuid(&format!("resource:{name}"));
    let scope = run.uuid("resource:scope");
    let mut resources = vec![json!({
        "uuid": scope,
        "title": "Scope of the run (no separate assessment plan)",
        "description": format!(
            "trailproof {} {} over {} for {} .. {}; accounts {}; regions {}.",
            env!("CARGO_PKG_VERSION"),
            run.command,
            run.source,
            crate::time::rfc3339(run.window.0),
            crate::time::rfc3339(run.window.1),
            list_or_none(&run.accounts),
            list_or_none(&run.regions),
        ),
    })];
    for (name, _, sha) in &files {
        resources.push(json!({
            "uuid": resource(name),
            "title": name,
            "rlinks": [{
                "href": name,
                "media-type": media_type(name),
                "hashes": [{"algorithm": "SHA-256", "value": sha}],
            }],
        }));
    }
    let evidence: Vec<Value> = files
        .iter()
        .map(|(name, ..)| {
            json!({
                "href": format!("#{}", resource(name)),
                "description": format!("{name} (evidence file of this run)"),
            })
        })
        .collect();
    let collected = rfc3339_or_epoch(&run.generated_at);
    let mut observations = Vec::new();
    // NIST rev 5 control (OSCAL id) -> the statements behind it.
    let mut by_control: BTreeMap<String, Vec<&evidence::Assessed>> = BTreeMap::new();
    for a in &run.controls {
        observations.push(json!({
            "uuid": run.uuid(&format!("observation:{}", a.statement)),
            "title": format!("{}: {}", a.statement, a.result),
            "description": format!("{} Result: {} ({}).", a.text, a.result, a.reason),
            "methods": ["TEST"],
            "types": ["control-objective"],
            "props": [
                {"name": "statement", "ns": NS, "value": a.statement},
                {"name": "result", "ns": NS, "value": a.result},
            ],
            "relevant-evidence": evidence,
            "collected": collected,
        }));
        for c in &a.controls {
            if let Some(id) = nist5_id(c) {
                by_control.entry(id).or_default().push(a);
            }
        }
    }
    let mut findings = Vec::new();
    for (id, statements) in &by_control {
        let satisfied = statements.iter().all(|a| a.result == "satisfied");
        let unknown = !satisfied && statements.iter().all(|a| a.result != "not_satisfied");
        let reference = format!("nist-800-53-r5:{}", id.to_ascii_uppercase());
        let title = run
            .control(&oscal_to_reference(id))
            .map(|c| format!("{} {}", c.id, c.title))
            .unwrap_or(reference);
        let mut props: Vec<Value> = Vec::new();
        for a in statements {
            for c in &a.controls {
                if nist5_id(c).is_none() {
                    let (fw, cid) = c.split_once(':').unwrap_or(("other", c));
                    let p = json!({"name": format!("{fw}-control"), "ns": NS, "value": cid});
                    if !props.contains(&p) {
                        props.push(p);
                    }
                }
            }
        }
        let mut finding = json!({
            "uuid": run.uuid(&format!("finding:{id}")),
            "title": title,
            "description": statements
                .iter()
                .map(|a| format!("{}: {} ({}).", a.text, a.result, a.reason))
                .collect::<Vec<_>>()
                .join(" "),
            "target": {
                "type": "statement-id",
                "target-id": format!("{id}_smt"),
                "status": {
                    "state": if satisfied { "satisfied" } else { "not-satisfied" },
                    "reason": if satisfied { "pass" } else if unknown { "other" } else { "fail" },
                },
            },
            "related-observations": statements
                .iter()
                .map(|a| json!({"observation-uuid": run.uuid(&format!("observation:{}", a.statement))}))
                .collect::<Vec<_>>(),
        });
        if unknown {
            finding["target"]["status"]["remarks"] = json!(
                "Not shown either way: some evidence could not be read or the check could not be completed. Never counted as satisfied."
            );
        }
        if !props.is_empty() {
            finding["props"] = json!(props);
        }
        findings.push(finding);
    }
    let mut result = json!({
        "uuid": run.uuid("result"),
        "title": format!("trailproof {}: {}", run.command, run.verdict),
        "description": format!(
            "CloudTrail coverage and integrity of {} over {} .. {}: {} (exit code {}).",
            run.source,
            crate::time::rfc3339(run.window.0),
            crate::time::rfc3339(run.window.1),
            run.verdict,
            run.exit_code
        ),
        "start": crate::time::rfc3339(run.window.0),
        "end": crate::time::rfc3339(run.window.1.max(run.window.0)),
        "reviewed-controls": {
            "control-selections": [{
                "description": "NIST SP 800-53 rev 5 controls evidenced by the statements trailproof assessed (see the control mapping in report.html).",
                "include-controls": by_control.keys().map(|id| json!({"control-id": id})).collect::<Vec<_>>(),
            }],
        },
    });
    if !observations.is_empty() {
        result["observations"] = json!(observations);
    }
    if !findings.is_empty() {
        result["findings"] = json!(findings);
    }
    if by_control.is_empty() {
        // Nothing was assessed (no statement): the selection must still name something.
        result["reviewed-controls"]["control-selections"][0] = json!({
            "description": "No statement could be assessed in this run.",
            "include-all": {},
        });
    }
    let doc = json!({
        "assessment-results": {
            "uuid": run.uuid("assessment-results"),
            "metadata": {
                "title": format!("trailproof evidence: {} for {}", run.verdict, run.source),
                "last-modified": collected,
                "version": format!("trailproof {}", env!("CARGO_PKG_VERSION")),
                "oscal-version": OSCAL_VERSION,
                "remarks": "Generated by trailproof; last-modified is the run's generated_at. Evidence files are linked relative to this document's directory, each with its SHA-256.",
            },
            "import-ap": {
                "href": format!("#{scope}"),
                "remarks": "No separate OSCAL assessment plan: the scope is the trailproof run described in the referenced back-matter resource.",
            },
            "results": [result],
            "back-matter": {"resources": resources},
        }
    });
    let mut body = serde_json::to_vec_pretty(&doc).map_err(|e| {
        Error::with_source(ErrorKind::Output, "cannot encode the OSCAL document", e)
    })?;
    body.push(b'\n');
    Ok(body)
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "as found in the source".into()
    } else {
        v.join(", ")
    }
}

/// `nist-800-53-r5:AU-6(3)` -> `au-6.3`.
fn nist5_id(reference: &str) -> Option<String> {
    let id = reference
        .strip_prefix("nist-800-53-r5:")?
        .to_ascii_lowercase();
    Some(match id.split_once('(') {
        Some((base, enh)) => format!("{base}.{}", enh.trim_end_matches(')')),
        None => id,
    })
}

/// `au-6.3` -> `nist-800-53-r5:AU-6(3)`.
fn oscal_to_reference(id: &str) -> String {
    let up = id.to_ascii_uppercase();
    match up.split_once('.') {
        Some((base, enh)) => format!("nist-800-53-r5:{base}({enh})"),
        None => format!("nist-800-53-r5:{up}"),
    }
}

/// OSCAL needs a timezone-qualified date-time; the run's own is already RFC 3339 UTC.
fn rfc3339_or_epoch(t: &str) -> String {
    if crate::time::parse_event_time(t).is_some() {
        t.to_owned()
    } else {
        crate::time::rfc3339(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_ids_round_trip() {
        assert_eq!(
            nist5_id("nist-800-53-r5:AU-6(3)").as_deref(),
            Some("au-6.3")
        );
        assert_eq!(nist5_id("nist-800-53-r4:AU-2"), None);
        assert_eq!(oscal_to_reference("au-6.3"), "nist-800-53-r5:AU-6(3)");
        assert_eq!(oscal_to_reference("au-12"), "nist-800-53-r5:AU-12");
    }
}
