//! `trailproof merge SHARD_DIR... --out DIR`: the evidence of N shards (`scan --shard K/N`
//! or `verify --shard K/N`) combined into the evidence of one run, equal to what one
//! unsharded run writes.
//!
//! Each shard directory must pass its own manifest, name a distinct shard of the same N, and
//! have the same command, source, window, parameters and expected accounts and regions;
//! anything else is refused (exit 2), naming the shard. `verify` shards carry the
//! configuration check in shard 0 alone; the merged result is `verify`'s with it. Shards own disjoint (account, region) cells, so the tables combine
//! without judging anything again: coverage rows (the aggregate rebuilt from them, as the run
//! held it), gaps, files (merged in key order), trail changes (merged in time order, the
//! earliest kept), silent stretches; per-cell results and the verdict follow from the rows and
//! gaps exactly as a run derives them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::coverage::{Aggregate, Counters, Evidence, Gap, GapKind, RegionResult, RegionStatus};
use crate::error::{Error, ErrorKind, Result};
use crate::report::evidence::{self, Run};
use crate::report::parquet::Table;
use crate::report::summary::{ScanView, Summary};
use crate::report::{OutputFile, RunOutcome};
use crate::shard::Shard;

use super::Outcome;

/// Validated settings of `merge`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Local directories, or `s3://bucket/prefix`: a published shard folder, or a run folder
    /// whose `shard=K/` folders are the shards.
    pub shards: Vec<String>,
    pub out_dir: PathBuf,
    pub publish: Option<crate::pipeline::Publish>,
    pub summary_line: bool,
    pub format: crate::report::Format,
    pub aws: crate::aws::AwsSettings,
    /// `--check`: the configuration check, run once here.
    pub check: Option<super::check::Config>,
    /// `--dataset`: the shards' tables also as a Hive-partitioned dataset under this root.
    pub dataset: Option<String>,
}

/// One shard's evidence, read and checked.
struct ShardDir {
    dir: PathBuf,
    /// As given (a local directory, or the published folder it was downloaded from).
    name: String,
    run: Run,
    shard: Shard,
}

fn refuse(message: String) -> Error {
    Error::new(ErrorKind::Usage, message)
}

/// What must be equal across the shards: the command, the outcome's frame and the parameters
/// (but the shard).
fn frame(run: &Run) -> serde_json::Value {
    let mut parameters = run.doc["parameters"].clone();
    if let Some(p) = parameters.as_object_mut() {
        // Each shard has its own shard and its own state.
        p.remove("shard");
        p.remove("state");
    }
    let o = &run.doc["outcome"];
    serde_json::json!({
        "command": run.command,
        "source": o["source"],
        "window_start": o["window_start"],
        "window_end": o["window_end"],
        "global_region": o["global_region"],
        "dense": o["dense"],
        // A cell its owner did not expect would be judged by no shard: the lists must agree
        // (found in the layout, they differ only if it changed between the shards' runs).
        "expected_accounts": o["expected_accounts"],
        "expected_regions": o["expected_regions"],
        // Whether digests took part is decided per run from what it found: shards that
        // decided differently judged their cells differently than one run would.
        "digests_in_use": o["digests"]["in_use"],
        "parameters": parameters,
    })
}

/// Reads every shard directory and checks that together they are exactly shards 0..N of one
/// run.
fn read_shards(dirs: &[(PathBuf, String)]) -> Result<Vec<ShardDir>> {
    let mut shards: Vec<ShardDir> = Vec::new();
    for (dir, name) in dirs {
        let check = crate::report::manifest::verify(dir, None)?;
        if check.exit_code != 0 {
            return Err(refuse(format!(
                "{}: does not match its manifest.json ({}): run `trailproof verify-evidence` on it",
                name,
                check.problems.join("; ")
            )));
        }
        let run = Run::read(dir)?;
        if run.command != "scan" && run.command != "verify" {
            return Err(refuse(format!(
                "{}: a `{}` run; merge combines `scan --shard K/N` and `verify --shard K/N` runs",
                name, run.command
            )));
        }
        let Some(shard) = run.doc["parameters"]["shard"].as_str() else {
            return Err(refuse(format!(
                "{}: not a shard (its run had no --shard)",
                name
            )));
        };
        let shard = Shard::parse(shard)?;
        if dir.join(Table::Events.file_name()).exists() {
            return Err(refuse(format!(
                "{}: has events.parquet; merge does not combine events (run shards without --events)",
                name
            )));
        }
        if shard.count as usize > crate::report::parquet::MERGE_FAN_IN {
            return Err(refuse(format!(
                "{name}: shard {shard}: merge combines at most {} shards",
                crate::report::parquet::MERGE_FAN_IN
            )));
        }
        if let Some(first) = shards.first() {
            if shard.count != first.shard.count {
                return Err(refuse(format!(
                    "{} is shard {shard}, {} is shard {}: not the same number of shards",
                    name, first.name, first.shard
                )));
            }
            let (mine, theirs) = (frame(&run), frame(&first.run));
            if mine != theirs {
                let differ: Vec<String> = [
                    "command",
                    "source",
                    "window_start",
                    "window_end",
                    "global_region",
                    "dense",
                    "expected_accounts",
                    "expected_regions",
                    "digests_in_use",
                ]
                .iter()
                .filter(|k| mine[**k] != theirs[**k])
                .map(|k| k.to_string())
                .chain(
                    mine["parameters"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter(|(k, v)| theirs["parameters"][k.as_str()] != **v)
                        .map(|(k, _)| format!("--{}", k.replace('_', "-"))),
                )
                .collect();
                return Err(refuse(format!(
                    "{} ran with other parameters, another source or another window than {} ({} differ)",
                    name,
                    first.name,
                    differ.join(", ")
                )));
            }
        }
        if let Some(twin) = shards.iter().find(|s| s.shard == shard) {
            return Err(refuse(format!(
                "shard {shard} twice: {} and {}",
                twin.name, name
            )));
        }
        shards.push(ShardDir {
            dir: dir.clone(),
            name: name.clone(),
            run,
            shard,
        });
    }
    let Some(first) = shards.first() else {
        return Err(refuse(
            "merge needs the shards' evidence directories".into(),
        ));
    };
    let present: BTreeSet<u32> = shards.iter().map(|s| s.shard.index).collect();
    let missing: Vec<String> = (0..first.shard.count)
        .filter(|k| !present.contains(k))
        .map(|k| format!("{k}/{}", first.shard.count))
        .collect();
    if !missing.is_empty() {
        let hint = if first.run.command == "verify" && !present.contains(&0) {
            " (shard 0 of `verify` writes no evidence when its configuration check could not run at all: see its exit code and stderr)"
        } else {
            ""
        };
        return Err(refuse(format!(
            "shard {} missing{hint}",
            missing.join(", ")
        )));
    }
    shards.sort_by_key(|s| s.shard.index);
    Ok(shards)
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Sums the numbers of JSON objects key by key (nested objects too).
fn add_json(into: &mut serde_json::Value, from: &serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(mine) => add_json(mine, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (a @ serde_json::Value::Number(_), serde_json::Value::Number(b)) => {
            *a = (a.as_u64().unwrap_or(0) + b.as_u64().unwrap_or(0)).into();
        }
        _ => {}
    }
}

/// The shards' digest summaries as one: counts summed, keys, notes and regions combined.
fn merged_digests(shards: &[ShardDir]) -> Option<serde_json::Value> {
    let all: Vec<&serde_json::Value> = shards
        .iter()
        .map(|s| &s.run.doc["outcome"]["digests"])
        .filter(|d| d.is_object())
        .collect();
    let first = (*all.first()?).clone();
    let mut merged = first.clone();
    for key in ["keys", "notes", "regions"] {
        let mut seen = BTreeSet::new();
        let mut items: Vec<serde_json::Value> = all
            .iter()
            .flat_map(|d| d[key].as_array().cloned().unwrap_or_default())
            .filter(|v| seen.insert(v.to_string()))
            .collect();
        if key == "regions" {
            items.sort_by(|a, b| {
                (a["account_id"].as_str(), a["region"].as_str())
                    .cmp(&(b["account_id"].as_str(), b["region"].as_str()))
            });
        }
        merged[key] = items.into();
    }
    for d in &all[1..] {
        for key in [
            "digests_found",
            "backfill_digests",
            "verified_via_successor",
            "digests_by_status",
            "hours_by_status",
        ] {
            add_json(&mut merged[key], &d[key]);
        }
        merged["in_use"] = (merged["in_use"].as_bool().unwrap_or(false)
            || d["in_use"].as_bool().unwrap_or(false))
        .into();
    }
    Some(merged)
}

/// The typed part of the merged digest summary that the verdict and the text need.
fn digest_summary(v: &serde_json::Value) -> Option<crate::integrity::DigestSummary> {
    use crate::integrity::digest::Status;
    const STATUSES: [Status; 8] = [
        Status::Valid,
        Status::Empty,
        Status::Unverified,
        Status::Pending,
        Status::Unreadable,
        Status::Gap,
        Status::Missing,
        Status::Invalid,
    ];
    let by = |m: &serde_json::Value| -> BTreeMap<&'static str, usize> {
        STATUSES
            .iter()
            .filter_map(|s| Some((s.as_str(), m[s.as_str()].as_u64()? as usize)))
            .collect()
    };
    let n = |k: &str| v[k].as_u64().unwrap_or(0) as usize;
    Some(crate::integrity::DigestSummary {
        mode: match v["mode"].as_str()? {
            "off" => crate::integrity::DigestMode::Off,
            "require" => crate::integrity::DigestMode::Require,
            _ => crate::integrity::DigestMode::On,
        },
        in_use: v["in_use"].as_bool().unwrap_or(false),
        digests_found: n("digests_found"),
        backfill_digests: n("backfill_digests"),
        digests_by_status: by(&v["digests_by_status"]),
        verified_via_successor: n("verified_via_successor"),
        hours_by_status: by(&v["hours_by_status"]),
        keys: Vec::new(),
        notes: strings(&v["notes"]),
        regions: Vec::new(),
    })
}

/// The shards' run statistics, summed.
fn stats(shards: &[ShardDir]) -> crate::report::Stats {
    let mut sum = serde_json::json!({});
    for s in shards {
        add_json(&mut sum, &s.run.doc["outcome"]["stats"]);
    }
    let n = |k: &str| sum[k].as_u64().unwrap_or(0);
    crate::report::Stats {
        objects_listed: n("objects_listed"),
        list_requests: n("list_requests"),
        log_files_read: n("log_files_read"),
        log_files_unreadable: n("log_files_unreadable"),
        objects_skipped: n("objects_skipped"),
        compressed_bytes: n("compressed_bytes"),
        decompressed_bytes: n("decompressed_bytes"),
        events: n("events"),
        events_outside_window: n("events_outside_window"),
        events_bad_time: n("events_bad_time"),
        events_after_delivery: n("events_after_delivery"),
        log_files_by_digest_status: crate::integrity::digest::LogStatus::ALL
            .iter()
            .filter_map(|s| {
                Some((
                    s.as_str(),
                    sum["log_files_by_digest_status"][s.as_str()].as_u64()?,
                ))
            })
            .collect(),
    }
}

/// `--dataset ROOT` (a directory or `s3://bucket/prefix`): each shard's coverage, gaps and
/// files tables as `ROOT/TABLE/run=START_END/account_id=A/part-K.parquet`, one dataset that
/// DuckDB (`hive_partitioning = true`) and Athena (`deploy/athena/`) read as one table per
/// kind. Written aside and moved into place (a directory), or uploaded with conditional PUTs
/// (S3); a run already in the dataset is refused.
async fn write_dataset(
    shards: &[ShardDir],
    root: &str,
    window: (i64, i64),
    aws: &crate::aws::AwsSettings,
) -> Result<()> {
    let run = super::run_name(window);
    let s3_root = root.starts_with("s3://");
    // Beside the root when it is a directory (so the move is a rename), else in TMPDIR.
    let area_parent = if s3_root {
        std::env::temp_dir()
    } else {
        std::fs::create_dir_all(root)
            .map_err(|e| Error::with_source(ErrorKind::Io, format!("cannot create {root}"), e))?;
        PathBuf::from(root)
    };
    let area = super::scratch(&area_parent, ".dataset");
    let _guard = super::AreaGuard(Some(area.clone()));
    super::new_private_dir(&area, "the dataset area")?;
    let tables: Vec<&str> = crate::report::parquet::DATASET_TABLES
        .iter()
        .map(|t| t.file_name().trim_end_matches(".parquet"))
        .collect();
    let mut files: Vec<String> = Vec::new();
    for (table, name) in crate::report::parquet::DATASET_TABLES.iter().zip(&tables) {
        let under = area.join(name).join(&run);
        std::fs::create_dir_all(&under)
            .map_err(|e| Error::with_source(ErrorKind::Io, "cannot create the dataset area", e))?;
        for s in shards {
            let part = format!("part-{}", s.shard.index);
            for rel in crate::report::parquet::write_partitioned(&s.dir, *table, &under, &part)? {
                files.push(format!("{name}/{run}/{rel}"));
            }
        }
    }
    if !s3_root {
        let root = PathBuf::from(root);
        for name in &tables {
            if root.join(name).join(&run).exists() {
                return Err(refuse(format!(
                    "{}: the dataset already holds {run}",
                    root.join(name).display()
                )));
            }
        }
        for name in &tables {
            std::fs::create_dir_all(root.join(name))
                .and_then(|()| {
                    std::fs::rename(area.join(name).join(&run), root.join(name).join(&run))
                })
                .map_err(|e| {
                    Error::with_source(
                        ErrorKind::Io,
                        format!("cannot move {run} into {}", root.display()),
                        e,
                    )
                })?;
        }
        return Ok(());
    }
    let parsed: crate::source::Source = root.parse().map_err(Error::usage)?;
    let crate::source::Source::S3 { bucket, prefix } = parsed else {
        unreachable!("an s3:// root");
    };
    let sdk = crate::aws::sdk_config(aws).await;
    let s3 = crate::aws::s3_client_for_bucket(&sdk, &bucket).await;
    for rel in &files {
        let key = match &prefix {
            Some(p) => format!("{}/{rel}", p.trim_end_matches('/')),
            None => rel.clone(),
        };
        let path = area.join(rel);
        let size = std::fs::metadata(&path)
            .map_err(|e| Error::with_source(ErrorKind::Io, format!("cannot read {rel}"), e))?
            .len();
        crate::source::s3::put_new(&s3, &bucket, &key, &path, size)
            .await
            .map_err(|(taken, e)| {
                let why = if taken {
                    "it is there already (the dataset holds this run)".to_owned()
                } else {
                    e
                };
                Error::new(
                    ErrorKind::Publish,
                    format!("cannot write s3://{bucket}/{key}: {why}"),
                )
            })?;
    }
    Ok(())
}

/// The shards' directories: local ones as given; published ones (`s3://…`) downloaded into
/// `area`, one folder each.
async fn fetch_shards(
    sources: &[String],
    area: &std::path::Path,
    aws: &crate::aws::AwsSettings,
) -> Result<Vec<(PathBuf, String)>> {
    let mut dirs = Vec::new();
    for source in sources {
        if !source.starts_with("s3://") {
            dirs.push((PathBuf::from(source), source.clone()));
            continue;
        }
        let parsed: crate::source::Source = source.parse().map_err(Error::usage)?;
        let crate::source::Source::S3 { bucket, prefix } = parsed else {
            unreachable!("an s3:// source");
        };
        let sdk = crate::aws::sdk_config(aws).await;
        let s3 = crate::aws::s3_client_for_bucket(&sdk, &bucket).await;
        let store = crate::source::Store::open(
            &crate::source::Source::S3 {
                bucket: bucket.clone(),
                prefix: None,
            },
            Some(s3.clone()),
        )?;
        let base = prefix
            .as_deref()
            .map(|p| format!("{}/", p.trim_end_matches('/')))
            .unwrap_or_default();
        let keys = store
            .list_keys(&base)
            .await
            .map_err(|e| Error::new(ErrorKind::Aws, format!("cannot list {source}: {e}")))?;
        let manifest = evidence::MANIFEST;
        // The folders holding a manifest: this one, or its `shard=K/` folders.
        let mut folders: Vec<String> = keys
            .iter()
            .filter_map(|k| k.strip_suffix(manifest))
            .filter(|f| f.len() >= base.len() && (f.is_empty() || f.ends_with('/')))
            .filter(|f| {
                let rest = &f[base.len().min(f.len())..];
                rest.is_empty()
                    || (rest.starts_with("shard=")
                        && (rest.matches('/').count() == 1
                            || (rest.matches('/').count() == 2 && rest.contains("/rerun="))))
            })
            .map(str::to_owned)
            .collect();
        folders.sort();
        // A shard published again (a retried task: `shard=K/rerun=TIME/`): its latest complete
        // folder stands for it (names sort in time order, the first publication first).
        let shard_of = |f: &str| f[base.len()..].split('/').next().unwrap_or("").to_owned();
        let mut latest: BTreeMap<String, String> = BTreeMap::new();
        for f in folders {
            latest.insert(shard_of(&f), f);
        }
        let folders: Vec<String> = latest.into_values().collect();
        if folders.is_empty() {
            return Err(refuse(format!(
                "{source}: no published evidence (no manifest.json in it or in its shard=K/ folders)"
            )));
        }
        for folder in folders {
            if !area.exists() {
                super::new_private_dir(area, "the download area")?;
            }
            let dir = area.join(format!("shard-{}", dirs.len()));
            super::new_private_dir(&dir, "the download area")?;
            for key in keys.iter().filter(|k| {
                k.strip_prefix(folder.as_str())
                    .is_some_and(|name| !name.is_empty() && !name.contains('/'))
            }) {
                let name = &key[folder.len()..];
                let got = s3
                    .get_object()
                    .bucket(&bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::Aws,
                            format!(
                                "cannot read s3://{bucket}/{key}: {}",
                                crate::aws::ApiFailure::from_sdk("s3:GetObject", None, &e)
                                    .summary()
                            ),
                        )
                    })?;
                let mut body = got.body.into_async_read();
                let path = dir.join(name);
                let mut file = tokio::fs::File::create(&path).await.map_err(|e| {
                    Error::with_source(ErrorKind::Io, format!("cannot write {}", path.display()), e)
                })?;
                tokio::io::copy(&mut body, &mut file).await.map_err(|e| {
                    Error::with_source(
                        ErrorKind::Aws,
                        format!("cannot read s3://{bucket}/{key}"),
                        e,
                    )
                })?;
            }
            dirs.push((
                dir,
                format!("s3://{bucket}/{}", folder.trim_end_matches('/')),
            ));
        }
    }
    Ok(dirs)
}

pub async fn run(config: Config) -> Result<Outcome> {
    let area = super::scratch(&std::env::temp_dir(), "trailproof-merge");
    let _guard = super::AreaGuard(Some(area.clone()));
    let dirs = fetch_shards(&config.shards, &area, &config.aws).await?;
    let shards = read_shards(&dirs)?;
    // `verify` shards: shard 0 ran the configuration check, once for all.
    let configured = if shards[0].run.command == "verify" {
        if config.check.is_some() {
            return Err(refuse(
                "--check is for `scan` shards: these ran `verify`, and shard 0's configuration check stands for all".into(),
            ));
        }
        let report = &shards[0].run.doc["config"];
        let verdict = report["verdict"]
            .as_str()
            .and_then(crate::check::Verdict::parse)
            .ok_or_else(|| {
                refuse(format!(
                    "{}: shard 0 of a `verify` run holds no configuration check",
                    shards[0].name
                ))
            })?;
        Some((report.clone(), verdict))
    } else {
        None
    };
    let staging = crate::report::staging::Staging::begin(&config.out_dir)?;
    let out = staging.path().to_owned();
    crate::report::create_dir(&out)?;
    let first = &shards[0].run;
    let o = &first.doc["outcome"];
    let window = first.window;
    let dense = o["dense"].as_bool().unwrap_or(true);

    // The aggregate as the unsharded run held it, and the hours valid digests vouched for.
    let mut agg = Aggregate::default();
    let mut attested: BTreeMap<(String, String), BTreeSet<i64>> = BTreeMap::new();
    for s in &shards {
        evidence::for_each_coverage(&s.dir, |a, r, h, c: Counters, at| {
            if at {
                attested
                    .entry((a.to_owned(), r.to_owned()))
                    .or_default()
                    .insert(h);
            }
            // A dense table's zero rows are made again by the writer, not held.
            if c == Counters::default() {
                return;
            }
            agg.cells
                .entry(a.to_owned())
                .or_default()
                .entry(r.to_owned())
                .or_default()
                .insert(h, c);
        })?;
    }
    // Equal in every shard (the frame).
    let accounts = strings(&o["expected_accounts"]);
    let regions = strings(&o["expected_regions"]);

    let mut gaps: Vec<Gap> = Vec::new();
    for s in &shards {
        let mut bad = None;
        evidence::for_each_gap(&s.dir, |g| {
            match GapKind::from_names(&g.category, &g.kind) {
                Some(kind) => gaps.push(Gap::new(
                    g.account_id,
                    g.region,
                    kind,
                    (g.start, g.end),
                    g.detail,
                )),
                None => bad = Some(format!("{}/{}", g.category, g.kind)),
            }
        })?;
        if let Some(kind) = bad {
            return Err(refuse(format!(
                "{}: gaps.parquet holds a kind this trailproof does not know: {kind}",
                s.name
            )));
        }
    }
    crate::coverage::gaps::sort(&mut gaps);

    // Per cell, as a run derives it: a definite gap is a gap; else anything unknown (a gap row
    // of an unknown kind, an unreadable file) is unknown; else proven.
    let mut by_cell: BTreeMap<(&str, &str), (usize, bool)> = BTreeMap::new();
    for g in &gaps {
        let e = by_cell.entry((&g.account_id, &g.region)).or_default();
        e.0 += 1;
        e.1 |= !g.kind.is_unknown();
    }
    let empty = crate::coverage::aggregate::Hours::new();
    let mut results = Vec::new();
    for a in &accounts {
        for r in &regions {
            let hours = agg.cells.get(a).and_then(|m| m.get(r)).unwrap_or(&empty);
            let mut totals = Counters::default();
            for c in hours.values() {
                totals.merge(c);
            }
            let (count, definite) = by_cell
                .get(&(a.as_str(), r.as_str()))
                .copied()
                .unwrap_or_default();
            let status = if definite {
                RegionStatus::Gap
            } else if count > 0 || totals.unreadable_files > 0 {
                RegionStatus::Unknown
            } else {
                RegionStatus::Proven
            };
            results.push(RegionResult {
                account_id: a.clone(),
                region: r.clone(),
                status,
                totals,
                gaps: count,
                silent_since: None,
            });
        }
    }
    let verdict = Evidence::of(&results, &gaps);

    // The tables.
    let coverage_rows = crate::report::parquet::write_coverage(
        &out.join(Table::Coverage.file_name()),
        crate::coverage::coverage_rows(&agg, &accounts, &regions, window, dense, None).map(
            |(a, r, h, c)| {
                let at = attested
                    .get(&(a.to_owned(), r.to_owned()))
                    .is_some_and(|hours| hours.contains(&h));
                (a, r, h, c, at)
            },
        ),
    )?;
    let gaps_rows = crate::report::parquet::write_gaps(&out.join(Table::Gaps.file_name()), &gaps)?;
    let files: Vec<PathBuf> = shards.iter().map(|s| s.dir.join("files.parquet")).collect();
    let files_rows =
        crate::report::parquet::merge_files(&files, &out.join(Table::Files.file_name()))?;
    let mut changes = crate::coverage::TrailChanges::default();
    for s in &shards {
        let rows = evidence::read_trail_changes(&s.dir)?;
        let total = s.run.doc["trail_changes_total"].as_u64().unwrap_or(0);
        changes.dropped += total.saturating_sub(rows.len() as u64);
        for r in rows {
            changes.push(r);
        }
    }
    changes.settle();
    let changes_rows = crate::report::parquet::write_trail_changes(
        &out.join(Table::TrailChanges.file_name()),
        &changes.rows,
    )?;
    let silence_rows = if dense {
        None
    } else {
        let rows =
            crate::coverage::evaluate::silent_stretches_of(&agg, &accounts, &regions, window, None);
        Some(crate::report::parquet::write_silences(
            &out.join(Table::Silences.file_name()),
            rows,
        )?)
    };
    let mut outputs = vec![
        OutputFile::hashed(&out, "coverage.parquet", Some(coverage_rows))?,
        OutputFile::hashed(&out, "gaps.parquet", Some(gaps_rows))?,
        OutputFile::hashed(&out, "files.parquet", Some(files_rows))?,
    ];
    if let Some(n) = silence_rows {
        outputs.push(OutputFile::hashed(&out, "silences.parquet", Some(n))?);
    }
    outputs.push(OutputFile::hashed(
        &out,
        "trail_changes.parquet",
        Some(changes_rows),
    )?);

    let digests_json = merged_digests(&shards);
    let mismatches: Vec<crate::report::AccountMismatch> = shards
        .iter()
        .flat_map(|s| {
            s.run.doc["outcome"]["account_mismatches"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|m| crate::report::AccountMismatch {
            account_id: m["account_id"].as_str().unwrap_or_default().to_owned(),
            region: m["region"].as_str().unwrap_or_default().to_owned(),
            events: m["events"].as_u64().unwrap_or(0),
            recipient_accounts: strings(&m["recipient_accounts"]),
        })
        .collect();
    let mut mismatches = mismatches;
    mismatches.sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
    let outcome = RunOutcome {
        evidence: verdict,
        source: first.source.clone(),
        window_start: o["window_start"].as_str().unwrap_or_default().to_owned(),
        window_end: o["window_end"].as_str().unwrap_or_default().to_owned(),
        expected_accounts: accounts.clone(),
        expected_regions: regions.clone(),
        global_region: first.global_region.clone(),
        stats: stats(&shards),
        totals: crate::report::Totals::of(&agg),
        dense,
        regions: results,
        gaps,
        outputs,
        digests: digests_json.as_ref().and_then(digest_summary),
        account_mismatches: mismatches,
        trail_changes: changes.rows,
        trail_changes_dropped: changes.dropped,
        // `verify` always gives the log phase its regions (the check's).
        regions_given: first.command == "verify" || first.doc["parameters"]["regions"].is_array(),
        silence_checked: first.doc["parameters"]["max_silence_s"].is_number(),
        // Each probe as the shard owning its cell judged it (its gap rows are merged above).
        canary: {
            let reports: Vec<crate::canary::CanaryReport> = shards
                .iter()
                .filter_map(|s| serde_json::from_value(s.run.doc["canary"].clone()).ok())
                .collect();
            if reports.len() == shards.len() {
                crate::canary::CanaryReport::merge(reports)
            } else {
                None
            }
        },
    };
    // `--check`: the configuration verdict, once for all shards.
    let checked = match &config.check {
        Some(c) => {
            let sdk = crate::aws::sdk_config(&c.aws).await;
            let clients = crate::aws::CheckClients::from_sdk_config(&sdk);
            Some(crate::check::run(&clients, &c.options).await)
        }
        None => None,
    };
    let (command, verdict_name, code, report) = match (&checked, &config.check) {
        (Some((facts, eval)), Some(c)) => {
            let view = crate::report::check::CheckView {
                facts,
                eval,
                opts: &c.options,
            };
            let report = serde_json::to_value(view.report()).map_err(|e| {
                Error::with_source(ErrorKind::Output, "cannot encode the check report", e)
            })?;
            let (v, code) = super::verify::combine(eval.verdict, Some(&outcome));
            ("verify", v, code, Some(report))
        }
        _ => match &configured {
            Some((report, config_verdict)) => {
                let (v, code) = super::verify::combine(*config_verdict, Some(&outcome));
                ("verify", v, code, Some(report.clone()))
            }
            None => (
                "scan",
                verdict.as_str().to_owned(),
                verdict.exit_code(),
                None,
            ),
        },
    };
    let mut parameters = first.doc["parameters"].clone();
    parameters["shard"] = serde_json::Value::Null;
    parameters["merged_from"] = shards
        .iter()
        .map(|s| {
            serde_json::json!({
                "shard": s.shard.to_string(),
                "source": s.name,
                "manifest_sha256": evidence::hash_file(&s.dir.join(evidence::MANIFEST)).ok().map(|(_, h)| h),
            })
        })
        .collect::<Vec<_>>()
        .into();
    let summary = Summary::new(
        command,
        Some(&outcome),
        verdict_name,
        code,
        parameters,
        report,
    );
    summary.write(&out)?;
    if let Some(d) = digests_json {
        // The whole digest summary (keys and per-region chains too), as the shards wrote it.
        let path = out.join("summary.json");
        let mut doc: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&path)
                .map_err(|e| Error::with_source(ErrorKind::Io, "cannot read summary.json", e))?,
        )
        .map_err(|e| Error::with_source(ErrorKind::Output, "cannot read summary.json", e))?;
        doc["outcome"]["digests"] = d;
        crate::report::write_json(&out, "summary.json", &doc)?;
    }
    crate::report::pack::write(&out)?;
    staging.commit()?;
    // The dataset after the merged evidence is complete.
    if let Some(root) = &config.dataset {
        write_dataset(&shards, root, window, &config.aws).await?;
    }
    let (dir, line) = super::finish(
        &config.out_dir,
        config.publish.as_ref(),
        &config.aws,
        config.summary_line,
        "merge",
        window,
    )
    .await?;
    match (&checked, &config.check) {
        (Some((facts, eval)), Some(c)) => {
            let view = crate::report::summary::VerifyView {
                check: crate::report::check::CheckView {
                    facts,
                    eval,
                    opts: &c.options,
                },
                outcome: Some(&outcome),
                summary: &summary,
                dir: &dir,
            };
            super::print(config.format, &view, line)?;
        }
        _ => {
            let view = ScanView {
                outcome: &outcome,
                summary: &summary,
                dir: &dir,
            };
            match &configured {
                Some((report, _)) => {
                    let view = CheckedByShard {
                        report,
                        shard: &shards[0].name,
                        evidence: view,
                    };
                    super::print(config.format, &view, line)?;
                }
                None => super::print(config.format, &view, line)?,
            }
        }
    }
    Ok(Outcome { exit_code: code })
}

/// The result of merging `verify` shards: shard 0's configuration verdict and findings, then
/// the merged evidence (`summary.json` in JSON).
struct CheckedByShard<'a> {
    report: &'a serde_json::Value,
    shard: &'a str,
    evidence: ScanView<'a>,
}

impl crate::report::Render for CheckedByShard<'_> {
    fn text(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let r = self.report;
        let reasons = strings(&r["reasons"]);
        let reasons = if reasons.is_empty() {
            String::new()
        } else {
            format!("  [{}]", reasons.join(", "))
        };
        writeln!(
            out,
            "CloudTrail configuration: {}{reasons}",
            r["verdict"].as_str().unwrap_or("ERROR")
        )?;
        writeln!(
            out,
            "            checked once, by shard 0 ({}), at {}",
            self.shard,
            r["observed_at"].as_str().unwrap_or("?")
        )?;
        for f in r["findings"].as_array().into_iter().flatten() {
            writeln!(
                out,
                "  {:<5} {}: {}",
                f["severity"].as_str().unwrap_or(""),
                f["reason"].as_str().unwrap_or(""),
                f["message"].as_str().unwrap_or("")
            )?;
        }
        writeln!(
            out,
            "\n----------------------------------------------------------------\n"
        )?;
        self.evidence.text(out)
    }

    fn json(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.evidence.json(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_summed_key_by_key() {
        let mut a = serde_json::json!({"x": 1, "m": {"valid": 2}});
        add_json(
            &mut a,
            &serde_json::json!({"x": 2, "m": {"valid": 1, "gap": 4}, "y": 7}),
        );
        assert_eq!(
            a,
            serde_json::json!({"x": 3, "m": {"valid": 3, "gap": 4}, "y": 7})
        );
    }
}
