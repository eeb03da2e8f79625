//! An evidence directory read back: the run's document (`summary.json` or `validate.json`),
//! the tables row by row, the files' hashes; the names of the pack's files. What the evidence
//! pack ([`super::pack`]) is made from, so that it depends on the directory alone.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::{
    Array, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};

/// The files of the pack, in the order they are written.
pub const OSCAL: &str = "oscal-assessment-results.json";
pub const OCSF: &str = "findings.ocsf.json";
pub const REPORT: &str = "report.html";
pub const MANIFEST: &str = "manifest.json";

/// One statement's result as the JSON documents carry it.
#[derive(Debug, Clone, Deserialize)]
pub struct Assessed {
    pub statement: String,
    pub text: String,
    pub result: String,
    pub reason: String,
    pub findings: usize,
    pub controls: Vec<String>,
}

/// One control as the mapping table carries it.
#[derive(Debug, Clone, Deserialize)]
pub struct ControlRef {
    pub framework: String,
    pub id: String,
    pub title: String,
}

impl ControlRef {
    pub fn reference(&self) -> String {
        format!("{}:{}", self.framework, self.id)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct MappingRow {
    pub statement: String,
    pub text: String,
    pub controls: Vec<ControlRef>,
}

/// The run's document (`summary.json` or `validate.json`), read back.
#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    /// `summary.json` or `validate.json`.
    pub document: &'static str,
    pub doc: serde_json::Value,
    pub command: String,
    pub verdict: String,
    pub exit_code: u64,
    pub generated_at: String,
    pub source: String,
    pub window: (i64, i64),
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub global_region: String,
    pub controls: Vec<Assessed>,
    pub mapping: Vec<MappingRow>,
    pub command_line: Vec<String>,
    /// What the run's document says of each Parquet table it wrote: (name, SHA-256).
    pub tables: Vec<(String, String)>,
    /// See [`Run::content_seed`].
    seed: [u8; 32],
}

fn io(what: String, e: std::io::Error) -> Error {
    Error::with_source(ErrorKind::Io, what, e)
}

fn invalid(dir: &Path, what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Usage,
        format!(
            "{}: not a trailproof evidence directory: {what}",
            dir.display()
        ),
    )
}

impl Run {
    /// Reads `summary.json` (scan, verify) or `validate.json` from `dir`.
    pub fn read(dir: &Path) -> Result<Run> {
        let (document, path) = ["summary.json", "validate.json"]
            .iter()
            .map(|n| (*n, dir.join(n)))
            .find(|(_, p)| p.is_file())
            .ok_or_else(|| invalid(dir, "neither summary.json nor validate.json"))?;
        let text =
            std::fs::read(&path).map_err(|e| io(format!("cannot read {}", path.display()), e))?;
        let doc: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| invalid(dir, format!("{document}: {e}")))?;
        let s = |v: &serde_json::Value, p: &str| {
            v.pointer(p)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let list = |v: &serde_json::Value, p: &str| -> Vec<String> {
            v.pointer(p)
                .and_then(|x| x.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let outcome = if document == "summary.json" {
            doc.get("outcome").cloned().unwrap_or_default()
        } else {
            doc.clone()
        };
        let time = |p: &str| crate::time::parse_event_time(&s(&outcome, p)).unwrap_or(0);
        let mut regions = list(&outcome, "/expected_regions");
        let mut accounts = list(&outcome, "/expected_accounts");
        if document == "validate.json"
            && let Some(rs) = doc.pointer("/digests/regions").and_then(|r| r.as_array())
        {
            for r in rs {
                accounts.push(s(r, "/account_id"));
                regions.push(s(r, "/region"));
            }
            accounts.sort();
            accounts.dedup();
            regions.sort();
            regions.dedup();
        }
        let parse = |p: &str| -> Result<serde_json::Value> {
            Ok(doc
                .get(p)
                .cloned()
                .unwrap_or(serde_json::Value::Array(vec![])))
        };
        let controls: Vec<Assessed> = serde_json::from_value(parse("controls")?)
            .map_err(|e| invalid(dir, format!("{document} controls: {e}")))?;
        let mapping: Vec<MappingRow> = serde_json::from_value(parse("control_mapping")?)
            .map_err(|e| invalid(dir, format!("{document} control_mapping: {e}")))?;
        let tables = outcome
            .get("outputs")
            .and_then(|o| o.as_array())
            .map(|a| a.iter().map(|o| (s(o, "/name"), s(o, "/sha256"))).collect())
            .unwrap_or_default();
        Ok(Run {
            dir: dir.to_owned(),
            document,
            command: s(&doc, "/command"),
            verdict: if document == "summary.json" {
                s(&doc, "/verdict")
            } else {
                s(&doc, "/result")
            },
            exit_code: doc.get("exit_code").and_then(|c| c.as_u64()).unwrap_or(2),
            generated_at: s(&doc, "/generated_at"),
            source: s(&outcome, "/source"),
            window: (time("/window_start"), time("/window_end")),
            accounts,
            regions,
            global_region: s(&outcome, "/global_region"),
            controls,
            mapping,
            command_line: list(&doc, "/command_line"),
            tables,
            seed: Self::seed_of(&doc),
            doc,
        })
    }

    /// A digest of what the run found, without its `generated_at`: the seed of every
    /// identifier the pack derives, so the same inputs give the same identifiers.
    pub fn content_seed(&self) -> [u8; 32] {
        self.seed
    }

    fn seed_of(doc: &serde_json::Value) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut doc = doc.clone();
        if let Some(o) = doc.as_object_mut() {
            o.remove("generated_at");
            if let Some(c) = o.get_mut("config").and_then(|c| c.as_object_mut()) {
                c.remove("generated_at");
                c.remove("observed_at");
            }
        }
        Sha256::digest(doc.to_string().as_bytes()).into()
    }

    /// A deterministic UUID (version-5 layout) for `name` within this run.
    pub fn uuid(&self, name: &str) -> String {
        uuid_of(&self.content_seed(), name)
    }

    /// The `generated_at` time in epoch seconds.
    pub fn generated_secs(&self) -> i64 {
        crate::time::parse_event_time(&self.generated_at).unwrap_or(0)
    }

    /// The control mapping by reference (`framework:id`).
    pub fn control(&self, reference: &str) -> Option<&ControlRef> {
        self.mapping
            .iter()
            .flat_map(|m| m.controls.iter())
            .find(|c| c.reference() == reference)
    }
}

/// A UUID with version 5 and RFC 4122 variant bits from SHA-256(seed, name).
pub fn uuid_of(seed: &[u8; 32], name: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(seed);
    h.update(name.as_bytes());
    let d: [u8; 32] = h.finalize().into();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// The directory's entries, sorted by name, each with whether it is a regular file (links
/// are not followed).
pub fn entries(dir: &Path) -> Result<Vec<(String, bool)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| io(format!("cannot list {}", dir.display()), e))? {
        let e = e.map_err(|e| io(format!("cannot list {}", dir.display()), e))?;
        let regular = std::fs::symlink_metadata(e.path())
            .map(|m| m.file_type().is_file())
            .unwrap_or(false);
        out.push((e.file_name().to_string_lossy().into_owned(), regular));
    }
    out.sort();
    Ok(out)
}

/// Every regular file of the directory but those in `skip` and hidden ones, sorted, with size
/// and SHA-256; anything else in it is an error (a run's directory holds only files).
pub fn hash_files(dir: &Path, skip: &[&str]) -> Result<Vec<(String, u64, String)>> {
    let mut out = Vec::new();
    for (name, regular) in entries(dir)? {
        if skip.contains(&name.as_str()) || name.starts_with('.') {
            continue;
        }
        if !regular {
            return Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "{}: {name} is not a regular file; an evidence directory holds only files",
                    dir.display()
                ),
            ));
        }
        let (size, sha) = hash_file(&dir.join(&name))?;
        out.push((name, size, sha));
    }
    Ok(out)
}

/// Size and SHA-256 of a file, streamed.
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = File::open(path).map_err(|e| io(format!("cannot read {}", path.display()), e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| io(format!("cannot read {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((size, hex::encode(h.finalize())))
}

/// Reads a table of the directory batch by batch; `None` if the run did not write it.
pub fn read_table(
    dir: &Path,
    name: &str,
    mut each: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<bool> {
    let path = dir.join(name);
    if !path.is_file() {
        return Ok(false);
    }
    let file = File::open(&path).map_err(|e| io(format!("cannot read {}", path.display()), e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(8 * 1024).build())
        .map_err(|e| {
            Error::with_source(
                ErrorKind::Output,
                format!("cannot read {}", path.display()),
                e,
            )
        })?;
    for batch in reader {
        let batch = batch.map_err(|e| {
            Error::with_source(
                ErrorKind::Output,
                format!("cannot read {}", path.display()),
                e,
            )
        })?;
        each(&batch)?;
    }
    Ok(true)
}

/// Typed column access for [`read_table`] callers.
pub struct Columns<'a> {
    pub batch: &'a RecordBatch,
}

impl Columns<'_> {
    fn col<T: 'static + Clone>(&self, name: &str) -> Result<T> {
        self.batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<T>())
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Output,
                    format!("a table lacks the column '{name}' or it has another type"),
                )
            })
    }

    pub fn strings(&self, name: &str) -> Result<StringArray> {
        self.col(name)
    }

    pub fn u64s(&self, name: &str) -> Result<UInt64Array> {
        self.col(name)
    }

    pub fn bools(&self, name: &str) -> Result<BooleanArray> {
        self.col(name)
    }

    /// Epoch seconds of a timestamp column.
    pub fn times(&self, name: &str) -> Result<Vec<Option<i64>>> {
        let a: TimestampMicrosecondArray = self.col(name)?;
        Ok((0..a.len())
            .map(|i| (!a.is_null(i)).then(|| a.value(i).div_euclid(1_000_000)))
            .collect())
    }
}

/// An optional string cell.
pub fn opt(a: &StringArray, i: usize) -> Option<String> {
    (!a.is_null(i)).then(|| a.value(i).to_owned())
}

/// Calls `each` with every row of `coverage.parquet` as (account, region, hour, counters,
/// digest attested), in table order.
pub fn for_each_coverage(
    dir: &Path,
    mut each: impl FnMut(&str, &str, i64, crate::coverage::Counters, bool),
) -> Result<bool> {
    read_table(dir, "coverage.parquet", |b| {
        let c = Columns { batch: b };
        let (acc, reg, hour) = (
            c.strings("account_id")?,
            c.strings("region")?,
            c.times("hour")?,
        );
        let (first, last) = (c.times("first_event")?, c.times("last_event")?);
        let lag: arrow_array::Int64Array = c.col("max_delivery_lag_s")?;
        let attested = c.bools("digest_attested")?;
        let u = |n: &str| c.u64s(n);
        let (mr, mw, mu, gr, gw) = (
            u("mgmt_read")?,
            u("mgmt_write")?,
            u("mgmt_unknown")?,
            u("global_read")?,
            u("global_write")?,
        );
        let (de, oe, lf, by) = (
            u("data_events")?,
            u("other_events")?,
            u("log_files")?,
            u("bytes")?,
        );
        let (le, me, uf) = (
            u("late_events")?,
            u("mismatched_events")?,
            u("unreadable_files")?,
        );
        for i in 0..b.num_rows() {
            let counters = crate::coverage::Counters {
                mgmt_read: mr.value(i),
                mgmt_write: mw.value(i),
                mgmt_unknown: mu.value(i),
                global_read: gr.value(i),
                global_write: gw.value(i),
                data_events: de.value(i),
                other_events: oe.value(i),
                log_files: lf.value(i),
                bytes: by.value(i),
                first_event: first[i].unwrap_or(i64::MAX),
                last_event: last[i].unwrap_or(i64::MIN),
                max_delivery_lag_s: lag.value(i),
                late_events: le.value(i),
                mismatched_events: me.value(i),
                unreadable_files: uf.value(i),
            };
            each(
                acc.value(i),
                reg.value(i),
                hour[i].unwrap_or(0),
                counters,
                attested.value(i),
            );
        }
        Ok(())
    })
}

/// Every row of `trail_changes.parquet`, whole, in table order.
pub fn read_trail_changes(dir: &Path) -> Result<Vec<crate::coverage::TrailChange>> {
    let mut rows = Vec::new();
    read_table(dir, "trail_changes.parquet", |b| {
        let c = Columns { batch: b };
        let t = c.times("event_time")?;
        let s = |n: &str| c.strings(n);
        let (acc, reg, id, src, name, awsr) = (
            s("account_id")?,
            s("region")?,
            s("event_id")?,
            s("event_source")?,
            s("event_name")?,
            s("aws_region")?,
        );
        let (actor, atype, ip, ua, result, err) = (
            s("actor")?,
            s("actor_type")?,
            s("source_ip")?,
            s("user_agent")?,
            s("result")?,
            s("error_message")?,
        );
        let (target, params, file) = (s("target")?, s("request_parameters")?, s("log_file")?);
        for (i, t) in t.iter().enumerate() {
            rows.push(crate::coverage::TrailChange {
                event_time: t.unwrap_or(0),
                account_id: acc.value(i).to_owned(),
                region: reg.value(i).to_owned(),
                event_id: opt(&id, i),
                event_source: src.value(i).to_owned(),
                event_name: name.value(i).to_owned(),
                aws_region: opt(&awsr, i),
                actor: opt(&actor, i),
                actor_type: opt(&atype, i),
                source_ip: opt(&ip, i),
                user_agent: opt(&ua, i),
                result: result.value(i).to_owned(),
                error_message: opt(&err, i),
                target: opt(&target, i),
                request_parameters: opt(&params, i),
                log_file: file.value(i).to_owned(),
            });
        }
        Ok(())
    })?;
    Ok(rows)
}

/// One gap row read back.
#[derive(Debug, Clone)]
pub struct GapRow {
    pub account_id: String,
    pub region: String,
    pub category: String,
    pub kind: String,
    pub start: i64,
    pub end: i64,
    pub detail: String,
}

impl GapRow {
    /// Kinds that leave coverage unknown rather than a gap.
    pub fn is_unknown(&self) -> bool {
        crate::coverage::GapKind::name_is_unknown(&self.kind)
    }

    /// A finding about the whole window of a region (no reads, writes or global events),
    /// not about particular hours.
    pub fn is_region_wide(&self) -> bool {
        self.kind == "no_events"
    }

    /// The statement it breaks.
    pub fn statement(&self) -> super::controls::Statement {
        super::controls::Statement::of_names(&self.category, &self.kind)
    }
}

/// Calls `each` with every gap row, in table order, one at a time.
pub fn for_each_gap(dir: &Path, mut each: impl FnMut(GapRow)) -> Result<()> {
    read_table(dir, "gaps.parquet", |b| {
        let c = Columns { batch: b };
        let (acc, reg, cat, kind, detail) = (
            c.strings("account_id")?,
            c.strings("region")?,
            c.strings("category")?,
            c.strings("kind")?,
            c.strings("detail")?,
        );
        let (start, end) = (c.times("start")?, c.times("end")?);
        for i in 0..b.num_rows() {
            each(GapRow {
                account_id: acc.value(i).to_owned(),
                region: reg.value(i).to_owned(),
                category: cat.value(i).to_owned(),
                kind: kind.value(i).to_owned(),
                start: start[i].unwrap_or(0),
                end: end[i].unwrap_or(0),
                detail: detail.value(i).to_owned(),
            });
        }
        Ok(())
    })?;
    Ok(())
}

/// The first `limit` gap rows that `keep` accepts, in table order, and how many it accepts.
pub fn read_gaps(
    dir: &Path,
    limit: usize,
    keep: impl Fn(&GapRow) -> bool,
) -> Result<(Vec<GapRow>, u64)> {
    let mut rows = Vec::new();
    let mut total = 0u64;
    for_each_gap(dir, |g| {
        if keep(&g) {
            total += 1;
            if rows.len() < limit {
                rows.push(g);
            }
        }
    })?;
    Ok((rows, total))
}

/// One trail-change row read back.
#[derive(Debug, Clone)]
pub struct ChangeRow {
    pub event_time: i64,
    pub account_id: String,
    pub region: String,
    pub event_name: String,
    pub event_source: String,
    pub aws_region: Option<String>,
    pub actor: Option<String>,
    pub source_ip: Option<String>,
    pub result: String,
    pub target: Option<String>,
}

/// Trail changes in time order (at most `limit`), and the total.
pub fn read_changes(dir: &Path, limit: usize) -> Result<(Vec<ChangeRow>, u64)> {
    let mut rows = Vec::new();
    let mut total = 0u64;
    read_table(dir, "trail_changes.parquet", |b| {
        let c = Columns { batch: b };
        let t = c.times("event_time")?;
        let (acc, reg, name, src, awsr, actor, ip, result, target) = (
            c.strings("account_id")?,
            c.strings("region")?,
            c.strings("event_name")?,
            c.strings("event_source")?,
            c.strings("aws_region")?,
            c.strings("actor")?,
            c.strings("source_ip")?,
            c.strings("result")?,
            c.strings("target")?,
        );
        for (i, t) in t.iter().enumerate() {
            total += 1;
            if rows.len() < limit {
                rows.push(ChangeRow {
                    event_time: t.unwrap_or(0),
                    account_id: acc.value(i).to_owned(),
                    region: reg.value(i).to_owned(),
                    event_name: name.value(i).to_owned(),
                    event_source: src.value(i).to_owned(),
                    aws_region: opt(&awsr, i),
                    actor: opt(&actor, i),
                    source_ip: opt(&ip, i),
                    result: result.value(i).to_owned(),
                    target: opt(&target, i),
                });
            }
        }
        Ok(())
    })?;
    Ok((rows, total))
}

/// Writes a file of the pack atomically within the (staging) directory.
pub fn write_file(dir: &Path, name: &str, body: &[u8]) -> Result<()> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, body).map_err(|e| io(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io(format!("cannot write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_deterministic_and_well_formed() {
        let seed = [7u8; 32];
        let a = uuid_of(&seed, "finding:au-2");
        assert_eq!(a, uuid_of(&seed, "finding:au-2"));
        assert_ne!(a, uuid_of(&seed, "finding:au-3"));
        assert_ne!(a, uuid_of(&[8u8; 32], "finding:au-2"));
        let b = a.as_bytes();
        assert_eq!(a.len(), 36);
        assert_eq!(b[14], b'5');
        assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'));
    }
}
