//! Parquet outputs: one fixed schema per table, typed builders flushed to `RecordBatch`es,
//! zstd level 3, an explicit row-group size, and always `close()`d.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use arrow_array::{
    Array, ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::coverage::{Counters, Gap};
use crate::error::{Error, ErrorKind, Result};

/// Rows per row group.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Rows per row group of `files.parquet`: one row per object, so an open 64k-row group would
/// grow with the number of objects read; 8k keeps peak memory flat from 1 GB to 4 GB corpora.
pub const FILES_ROW_GROUP_ROWS: usize = 8 * 1024;

/// Rows buffered as Rust values before they are encoded into the open row group; small, so
/// memory stays flat however many objects a run reads.
pub const BATCH_ROWS: usize = 8 * 1024;

/// The tables of the evidence directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Coverage,
    Gaps,
    Files,
    Events,
    Silences,
    TrailChanges,
}

impl Table {
    /// The file name in the evidence directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Table::Coverage => "coverage.parquet",
            Table::Gaps => "gaps.parquet",
            Table::Files => "files.parquet",
            Table::Events => "events.parquet",
            Table::Silences => "silences.parquet",
            Table::TrailChanges => "trail_changes.parquet",
        }
    }

    pub fn schema(self) -> SchemaRef {
        match self {
            Table::Coverage => coverage_schema(),
            Table::Gaps => gaps_schema(),
            Table::Files => files_schema(),
            Table::Events => events_schema(),
            Table::Silences => silences_schema(),
            Table::TrailChanges => trail_changes_schema(),
        }
    }
}

/// The one writer-properties function: zstd level 3, page statistics, `created_by`, and per
/// table its row-group size; `files.parquet` (a row per object) gets small row groups and no
/// dictionary for its all-distinct columns (a dictionary there only costs memory and space).
pub fn writer_properties(table: Table) -> WriterProperties {
    let rows = match table {
        Table::Files => FILES_ROW_GROUP_ROWS,
        _ => ROW_GROUP_ROWS,
    };
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("zstd level 3 is valid"),
        ))
        .set_max_row_group_row_count(Some(rows))
        // Page-level statistics let DuckDB/Athena skip pages on account/region/time filters.
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("trailproof {}", env!("CARGO_PKG_VERSION")));
    if table == Table::Files {
        for column in ["key", "sha256", "error", "etag", "stored_sha256"] {
            b = b.set_column_dictionary_enabled(
                parquet::schema::types::ColumnPath::from(column),
                false,
            );
        }
    }
    b.build()
}

/// Columns by name, put into the schema's order; a missing or unknown name is an error.
fn batch(schema: &SchemaRef, mut named: Vec<(&'static str, ArrayRef)>) -> Result<RecordBatch> {
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let i = named
            .iter()
            .position(|(n, _)| *n == field.name())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Output,
                    format!("no column '{}' for its table", field.name()),
                )
            })?;
        columns.push(named.swap_remove(i).1);
    }
    if let Some((n, _)) = named.first() {
        return Err(Error::new(
            ErrorKind::Output,
            format!("column '{n}' is not in its table's schema"),
        ));
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| {
        Error::with_source(
            ErrorKind::Output,
            "a batch does not match its table's schema",
            e,
        )
    })
}

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

pub fn coverage_schema() -> SchemaRef {
    let mut fields = vec![
        Field::new("account_id", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("hour", ts(), false),
    ];
    for name in [
        "mgmt_read",
        "mgmt_write",
        "mgmt_unknown",
        "global_read",
        "global_write",
        "data_events",
        "other_events",
        "log_files",
        "bytes",
    ] {
        fields.push(Field::new(name, DataType::UInt64, false));
    }
    fields.push(Field::new("first_event", ts(), true));
    fields.push(Field::new("last_event", ts(), true));
    fields.push(Field::new("max_delivery_lag_s", DataType::Int64, false));
    for name in ["late_events", "mismatched_events", "unreadable_files"] {
        fields.push(Field::new(name, DataType::UInt64, false));
    }
    // A valid digest vouches for the hour: CloudTrail was logging, even if nothing happened.
    fields.push(Field::new("digest_attested", DataType::Boolean, false));
    Arc::new(Schema::new(fields))
}

pub fn gaps_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("account_id", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("start", ts(), false),
        Field::new("end", ts(), false),
        Field::new("detail", DataType::Utf8, false),
    ]))
}

pub fn silences_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("account_id", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("start", ts(), false),
        Field::new("end", ts(), false),
        Field::new("hours", DataType::UInt64, false),
    ]))
}

pub fn trail_changes_schema() -> SchemaRef {
    let mut fields = vec![
        Field::new("event_time", ts(), false),
        Field::new("account_id", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, false),
    ];
    for (name, nullable) in TRAIL_CHANGE_STRINGS {
        fields.push(Field::new(name, DataType::Utf8, nullable));
    }
    Arc::new(Schema::new(fields))
}

/// The string columns of `trail_changes.parquet` after its first three, and whether each may
/// be null.
const TRAIL_CHANGE_STRINGS: [(&str, bool); 13] = [
    ("event_id", true),
    ("event_source", false),
    ("event_name", false),
    ("aws_region", true),
    ("actor", true),
    ("actor_type", true),
    ("source_ip", true),
    ("user_agent", true),
    ("result", false),
    ("error_message", true),
    ("target", true),
    ("request_parameters", true),
    ("log_file", false),
];

/// Writes `trail_changes.parquet` at `path` (rows in time order).
pub fn write_trail_changes(path: &Path, rows: &[crate::coverage::TrailChange]) -> Result<u64> {
    let mut w = TableWriter::create_at(path, Table::TrailChanges)?;
    for chunk in rows.chunks(ROW_GROUP_ROWS) {
        let field = |c: &crate::coverage::TrailChange, name: &str| -> Option<String> {
            match name {
                "event_id" => c.event_id.clone(),
                "event_source" => Some(c.event_source.clone()),
                "event_name" => Some(c.event_name.clone()),
                "aws_region" => c.aws_region.clone(),
                "actor" => c.actor.clone(),
                "actor_type" => c.actor_type.clone(),
                "source_ip" => c.source_ip.clone(),
                "user_agent" => c.user_agent.clone(),
                "result" => Some(c.result.clone()),
                "error_message" => c.error_message.clone(),
                "target" => c.target.clone(),
                "request_parameters" => c.request_parameters.clone(),
                "log_file" => Some(c.log_file.clone()),
                _ => unreachable!("not a trail-change column: {name}"),
            }
        };
        let mut cols: Vec<(&'static str, ArrayRef)> = vec![
            (
                "event_time",
                Arc::new(
                    chunk
                        .iter()
                        .map(|c| Some(micros(c.event_time)))
                        .collect::<TimestampMicrosecondArray>()
                        .with_timezone("UTC"),
                ),
            ),
            (
                "account_id",
                Arc::new(
                    chunk
                        .iter()
                        .map(|c| Some(c.account_id.as_str()))
                        .collect::<StringArray>(),
                ),
            ),
            (
                "region",
                Arc::new(
                    chunk
                        .iter()
                        .map(|c| Some(c.region.as_str()))
                        .collect::<StringArray>(),
                ),
            ),
        ];
        for (name, _) in TRAIL_CHANGE_STRINGS {
            cols.push((
                name,
                Arc::new(
                    chunk
                        .iter()
                        .map(|c| field(c, name))
                        .collect::<StringArray>(),
                ),
            ));
        }
        w.write(cols)?;
    }
    w.close()
}

pub fn files_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("account_id", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("delivered_at", ts(), true),
        Field::new("size", DataType::UInt64, false),
        Field::new("sha256", DataType::Utf8, true),
        Field::new("events", DataType::UInt64, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, true),
        Field::new("digest_status", DataType::Utf8, true),
        Field::new("digest_key", DataType::Utf8, true),
        Field::new("etag", DataType::Utf8, true),
        Field::new("stored_sha256", DataType::Utf8, true),
    ]))
}

pub fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("account_id", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("event_time", ts(), true),
        Field::new("aws_region", DataType::Utf8, true),
        Field::new("event_source", DataType::Utf8, true),
        Field::new("event_name", DataType::Utf8, true),
        Field::new("read_only", DataType::Boolean, true),
        Field::new("management_event", DataType::Boolean, true),
        Field::new("event_category", DataType::Utf8, true),
        Field::new("event_type", DataType::Utf8, true),
        Field::new("recipient_account_id", DataType::Utf8, true),
        Field::new("user_identity_type", DataType::Utf8, true),
        Field::new("error_code", DataType::Utf8, true),
        Field::new("user_agent", DataType::Utf8, true),
    ]))
}

/// A Parquet file being written with one schema.
pub struct TableWriter {
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    rows: u64,
}

impl TableWriter {
    /// Starts `table`'s file in `dir`.
    pub fn create(dir: &Path, table: Table) -> Result<Self> {
        let path = dir.join(table.file_name());
        Self::create_at(&path, table)
    }

    /// Starts `table` at `path`.
    pub fn create_at(path: &Path, table: Table) -> Result<Self> {
        let (schema, props) = (table.schema(), writer_properties(table));
        let file = File::create(path).map_err(|e| {
            Error::with_source(
                ErrorKind::Io,
                format!("cannot create {}", path.display()),
                e,
            )
        })?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| {
            Error::with_source(
                ErrorKind::Output,
                format!("cannot start {}", path.display()),
                e,
            )
        })?;
        Ok(TableWriter {
            writer,
            schema,
            rows: 0,
        })
    }

    /// Writes one batch of named columns (any order).
    pub fn write(&mut self, columns: Vec<(&'static str, ArrayRef)>) -> Result<()> {
        let batch = batch(&self.schema, columns)?;
        self.rows += batch.num_rows() as u64;
        self.writer
            .write(&batch)
            .map_err(|e| Error::with_source(ErrorKind::Output, "cannot write a Parquet batch", e))
    }

    /// Finishes the file (writes the footer). Returns the row count.
    pub fn close(self) -> Result<u64> {
        self.writer.close().map_err(|e| {
            Error::with_source(ErrorKind::Output, "cannot finish a Parquet file", e)
        })?;
        Ok(self.rows)
    }
}

fn micros(secs: i64) -> i64 {
    secs.saturating_mul(1_000_000)
}

/// Writes `coverage.parquet` at `path` from (account, region, hour, counters, attested) rows.
pub fn write_coverage<'a>(
    path: &Path,
    rows: impl Iterator<Item = (&'a str, &'a str, i64, &'a Counters, bool)>,
) -> Result<u64> {
    let mut w = TableWriter::create_at(path, Table::Coverage)?;
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let mut account = StringBuilder::new();
        let mut region = StringBuilder::new();
        let mut hour = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut counts: Vec<(&'static str, UInt64Builder)> = COUNTER_COLUMNS
            .iter()
            .map(|n| (*n, UInt64Builder::new()))
            .collect();
        let mut first = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut last = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut lag = Int64Builder::new();
        let mut attested = BooleanBuilder::new();
        for (a, r, h, c, at) in rows.by_ref().take(ROW_GROUP_ROWS) {
            attested.append_value(at);
            account.append_value(a);
            region.append_value(r);
            hour.append_value(micros(h));
            for (name, b) in counts.iter_mut() {
                b.append_value(counter(c, name));
            }
            first.append_option((c.first_event != i64::MAX).then(|| micros(c.first_event)));
            last.append_option((c.last_event != i64::MIN).then(|| micros(c.last_event)));
            lag.append_value(c.max_delivery_lag_s);
        }
        let mut cols: Vec<(&'static str, ArrayRef)> = vec![
            ("account_id", Arc::new(account.finish())),
            ("region", Arc::new(region.finish())),
            ("hour", Arc::new(hour.finish())),
            ("first_event", Arc::new(first.finish())),
            ("last_event", Arc::new(last.finish())),
            ("max_delivery_lag_s", Arc::new(lag.finish())),
            ("digest_attested", Arc::new(attested.finish())),
        ];
        cols.extend(
            counts
                .iter_mut()
                .map(|(n, b)| (*n, Arc::new(b.finish()) as ArrayRef)),
        );
        w.write(cols)?;
    }
    w.close()
}

/// The unsigned counter columns of `coverage.parquet`.
const COUNTER_COLUMNS: [&str; 12] = [
    "mgmt_read",
    "mgmt_write",
    "mgmt_unknown",
    "global_read",
    "global_write",
    "data_events",
    "other_events",
    "log_files",
    "bytes",
    "late_events",
    "mismatched_events",
    "unreadable_files",
];

/// A counter by its column name.
fn counter(c: &Counters, name: &str) -> u64 {
    match name {
        "mgmt_read" => c.mgmt_read,
        "mgmt_write" => c.mgmt_write,
        "mgmt_unknown" => c.mgmt_unknown,
        "global_read" => c.global_read,
        "global_write" => c.global_write,
        "data_events" => c.data_events,
        "other_events" => c.other_events,
        "log_files" => c.log_files,
        "bytes" => c.bytes,
        "late_events" => c.late_events,
        "mismatched_events" => c.mismatched_events,
        "unreadable_files" => c.unreadable_files,
        _ => unreachable!("not a counter column: {name}"),
    }
}

/// Writes `gaps.parquet` at `path`.
pub fn write_gaps(path: &Path, gaps: &[Gap]) -> Result<u64> {
    let mut w = TableWriter::create_at(path, Table::Gaps)?;
    for chunk in gaps.chunks(ROW_GROUP_ROWS) {
        let strings = |f: &dyn Fn(&Gap) -> &str| -> ArrayRef {
            Arc::new(chunk.iter().map(|g| Some(f(g))).collect::<StringArray>())
        };
        let times = |f: &dyn Fn(&Gap) -> i64| -> ArrayRef {
            Arc::new(
                chunk
                    .iter()
                    .map(|g| Some(micros(f(g))))
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone("UTC"),
            )
        };
        w.write(vec![
            ("account_id", strings(&|g| &g.account_id)),
            ("region", strings(&|g| &g.region)),
            ("category", strings(&|g| g.category.as_str())),
            ("kind", strings(&|g| g.kind.as_str())),
            ("start", times(&|g| g.start)),
            ("end", times(&|g| g.end)),
            ("detail", strings(&|g| &g.detail)),
        ])?;
    }
    w.close()
}

/// Writes `silences.parquet` at `path`: one row per silent stretch, streamed.
pub fn write_silences<'a>(
    path: &Path,
    rows: impl Iterator<Item = crate::coverage::evaluate::Silence<'a>>,
) -> Result<u64> {
    let mut w = TableWriter::create_at(path, Table::Silences)?;
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(ROW_GROUP_ROWS).collect();
        let times = |f: &dyn Fn(&crate::coverage::evaluate::Silence<'_>) -> i64| -> ArrayRef {
            Arc::new(
                chunk
                    .iter()
                    .map(|s| Some(micros(f(s))))
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone("UTC"),
            )
        };
        w.write(vec![
            (
                "account_id",
                Arc::new(
                    chunk
                        .iter()
                        .map(|s| Some(s.account_id))
                        .collect::<StringArray>(),
                ),
            ),
            (
                "region",
                Arc::new(
                    chunk
                        .iter()
                        .map(|s| Some(s.region))
                        .collect::<StringArray>(),
                ),
            ),
            ("start", times(&|s| s.start)),
            ("end", times(&|s| s.end)),
            (
                "hours",
                Arc::new(
                    chunk
                        .iter()
                        .map(|s| Some(((s.end - s.start) / crate::time::HOUR) as u64))
                        .collect::<UInt64Array>(),
                ),
            ),
        ])?;
    }
    w.close()
}

/// One row of `files.parquet`. Ordered by key first, then every other field: the order of
/// the table, whatever order the rows came in (a key listed twice included).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileRow {
    pub key: String,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub delivered_at: Option<i64>,
    pub size: u64,
    pub sha256: Option<String>,
    pub events: Option<u64>,
    /// `ok`, `skipped`, or an error code (`invalid_gzip`, `invalid_json`, `too_large`,
    /// `access_denied`, `not_found`, `fetch_failed`).
    pub status: String,
    pub error: Option<String>,
    /// Where the file stands with the digests (`valid`, `hash_mismatch`, `log_unlisted`,
    /// `no_digest`, `digest_invalid`, `unverified`, `pending`); `None` with digests off.
    pub digest_status: Option<&'static str>,
    /// The digest that lists it.
    pub digest_key: Option<String>,
    /// The S3 ETag of the object read (none for a local copy).
    pub etag: Option<String>,
    /// SHA-256 of the stored (compressed) bytes read.
    pub stored_sha256: Option<String>,
}

/// Rows of `files.parquet` held in memory before they are sorted and spilled as a run.
pub const FILES_RUN_ROWS: usize = 32 * 1024;

/// Writes `files.parquet` in key order whatever order the objects were read in: rows are
/// held up to [`FILES_RUN_ROWS`], sorted and spilled as runs beside the table, and the runs
/// merged into it at the end; memory stays flat and two runs over the same objects write the
/// same bytes.
pub struct FilesWriter {
    dir: std::path::PathBuf,
    rows: Vec<FileRow>,
    runs: Vec<std::path::PathBuf>,
    /// [`FILES_RUN_ROWS`] and [`MERGE_FAN_IN`] (smaller in tests).
    run_rows: usize,
    fan_in: usize,
}

impl FilesWriter {
    pub fn create(dir: &Path) -> Result<Self> {
        Ok(FilesWriter {
            dir: dir.to_owned(),
            rows: Vec::with_capacity(1024),
            runs: Vec::new(),
            run_rows: FILES_RUN_ROWS,
            fan_in: MERGE_FAN_IN,
        })
    }

    pub fn push(&mut self, row: FileRow) -> Result<()> {
        self.rows.push(row);
        if self.rows.len() >= self.run_rows {
            self.spill()?;
        }
        Ok(())
    }

    /// Sorts the held rows and writes them as one run.
    fn spill(&mut self) -> Result<()> {
        let path = self
            .dir
            .join(format!(".files-run-{}.parquet", self.runs.len()));
        let mut rows = std::mem::take(&mut self.rows);
        rows.sort();
        let mut w = TableWriter::create_at(&path, Table::Files)?;
        for chunk in rows.chunks(BATCH_ROWS) {
            w.write(file_columns(chunk))?;
        }
        w.close()?;
        self.runs.push(path);
        Ok(())
    }

    /// Writes `files.parquet`; returns its row count.
    pub fn close(mut self) -> Result<u64> {
        if self.runs.is_empty() {
            let mut w = TableWriter::create(&self.dir, Table::Files)?;
            self.rows.sort();
            for chunk in self.rows.chunks(BATCH_ROWS) {
                w.write(file_columns(chunk))?;
            }
            return w.close();
        }
        if !self.rows.is_empty() {
            self.spill()?;
        }
        // At most MERGE_FAN_IN runs open at once: groups are merged into longer runs first.
        let mut runs = std::mem::take(&mut self.runs);
        let mut level = 0;
        while runs.len() > self.fan_in {
            let mut next = Vec::new();
            for (i, group) in runs.chunks(self.fan_in).enumerate() {
                let path = self.dir.join(format!(".files-run-{level}-{i}.parquet"));
                let mut w = TableWriter::create_at(&path, Table::Files)?;
                merge(group, &mut w, true)?;
                w.close()?;
                next.push(path);
            }
            runs = next;
            level += 1;
        }
        let mut w = TableWriter::create(&self.dir, Table::Files)?;
        merge(&runs, &mut w, true)?;
        w.close()
    }
}

/// Spilled runs merged into `w` in order, in batches of [`BATCH_ROWS`]; the runs are removed.
/// The tables a Hive-partitioned dataset holds, partitioned by `account_id`.
pub const DATASET_TABLES: [Table; 3] = [Table::Coverage, Table::Gaps, Table::Files];

/// The partition of rows without an account (objects that are not CloudTrail's), as Hive
/// names a null partition value.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Writes `table` of the evidence directory `src` into `dest/account_id=A/PART.parquet` (Hive
/// partitioning: the `account_id` column lives in the folder name, not in the file), one file
/// per account run in the table's order (`PART`, then `PART-2`… should an account's rows come
/// back later, as a local copy's stray objects can make them). Streams: a batch at a time, one
/// file open at a time. Returns the files written (relative to `dest`).
pub fn write_partitioned(src: &Path, table: Table, dest: &Path, part: &str) -> Result<Vec<String>> {
    let io = |what: String, e: std::io::Error| Error::with_source(ErrorKind::Io, what, e);
    let full = table.schema();
    let index = full.index_of("account_id").map_err(|e| {
        Error::with_source(
            ErrorKind::Output,
            format!("{}: no account_id", table.file_name()),
            e,
        )
    })?;
    let fields: Vec<_> = full
        .fields()
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .map(|(_, f)| f.clone())
        .collect();
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let mut written: Vec<String> = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut open: Option<(String, ArrowWriter<File>)> = None;
    let close = |w: ArrowWriter<File>| {
        w.close()
            .map(|_| ())
            .map_err(|e| Error::with_source(ErrorKind::Output, "cannot finish a partition file", e))
    };
    super::evidence::read_table(src, table.file_name(), |batch| {
        let accounts = batch
            .column(index)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| Error::new(ErrorKind::Output, "account_id is not a string column"))?
            .clone();
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, c)| c.clone())
            .collect();
        let rest = RecordBatch::try_new(schema.clone(), columns).map_err(|e| {
            Error::with_source(ErrorKind::Output, "cannot project a partition batch", e)
        })?;
        let mut start = 0;
        while start < batch.num_rows() {
            let account = |i: usize| {
                if accounts.is_null(i) {
                    NULL_PARTITION
                } else {
                    accounts.value(i)
                }
            };
            let a = account(start);
            let mut end = start + 1;
            while end < batch.num_rows() && account(end) == a {
                end += 1;
            }
            if open.as_ref().is_none_or(|(current, _)| *current != a) {
                if let Some((_, w)) = open.take() {
                    close(w)?;
                }
                let n = seen.entry(a.to_owned()).or_default();
                *n += 1;
                let file_name = if *n == 1 {
                    format!("{part}.parquet")
                } else {
                    format!("{part}-{n}.parquet")
                };
                let rel = format!("account_id={a}/{file_name}");
                let target = dest.join(&rel);
                std::fs::create_dir_all(target.parent().expect("a folder"))
                    .map_err(|e| io(format!("cannot create {}", target.display()), e))?;
                let f = File::create(&target)
                    .map_err(|e| io(format!("cannot create {}", target.display()), e))?;
                let w = ArrowWriter::try_new(f, schema.clone(), Some(writer_properties(table)))
                    .map_err(|e| {
                        Error::with_source(ErrorKind::Output, "cannot start a partition file", e)
                    })?;
                written.push(rel);
                open = Some((a.to_owned(), w));
            }
            let (_, w) = open.as_mut().expect("opened above");
            w.write(&rest.slice(start, end - start)).map_err(|e| {
                Error::with_source(ErrorKind::Output, "cannot write a partition file", e)
            })?;
            start = end;
        }
        Ok(())
    })?;
    if let Some((_, w)) = open.take() {
        close(w)?;
    }
    Ok(written)
}

/// Merges tables of `files.parquet` rows, each in key order (shards' tables), into one
/// `files.parquet` in key order at `path`, reading a batch of each at a time.
pub fn merge_files(inputs: &[std::path::PathBuf], path: &Path) -> Result<u64> {
    if inputs.len() > MERGE_FAN_IN {
        return Err(Error::new(
            ErrorKind::Usage,
            format!("more than {MERGE_FAN_IN} tables to merge at once"),
        ));
    }
    let mut w = TableWriter::create_at(path, Table::Files)?;
    merge(inputs, &mut w, false)?;
    w.close()
}

/// Merges sorted runs into `w`; `spilled`: they are this writer's own runs, removed after.
fn merge(runs: &[std::path::PathBuf], w: &mut TableWriter, spilled: bool) -> Result<()> {
    let mut readers = runs
        .iter()
        .map(|p| RunReader::open(p))
        .collect::<Result<Vec<_>>>()?;
    let mut heap = std::collections::BinaryHeap::new();
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some(row) = r.next()? {
            heap.push(std::cmp::Reverse((row, i)));
        }
    }
    let mut out: Vec<FileRow> = Vec::with_capacity(BATCH_ROWS);
    while let Some(std::cmp::Reverse((row, i))) = heap.pop() {
        out.push(row);
        if out.len() == BATCH_ROWS {
            w.write(file_columns(&out))?;
            out.clear();
        }
        if let Some(next) = readers[i].next()? {
            heap.push(std::cmp::Reverse((next, i)));
        }
    }
    if !out.is_empty() {
        w.write(file_columns(&out))?;
    }
    if spilled {
        for p in runs {
            std::fs::remove_file(p).ok();
        }
    }
    Ok(())
}

/// Spilled runs read at once when merging (memory and file descriptors stay bounded).
pub const MERGE_FAN_IN: usize = 64;

/// Reads a spilled run back, a batch at a time.
struct RunReader {
    batches: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    rows: std::vec::IntoIter<FileRow>,
}

impl RunReader {
    fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| {
            Error::with_source(ErrorKind::Io, format!("cannot open {}", path.display()), e)
        })?;
        let batches = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(1024).build())
            .map_err(|e| {
                Error::with_source(
                    ErrorKind::Output,
                    format!("cannot read {}", path.display()),
                    e,
                )
            })?;
        Ok(RunReader {
            batches,
            rows: Vec::new().into_iter(),
        })
    }

    fn next(&mut self) -> Result<Option<FileRow>> {
        loop {
            if let Some(r) = self.rows.next() {
                return Ok(Some(r));
            }
            match self.batches.next() {
                None => return Ok(None),
                Some(b) => {
                    let b = b.map_err(|e| {
                        Error::with_source(ErrorKind::Output, "cannot read a spilled run", e)
                    })?;
                    self.rows = file_rows(&b)?.into_iter();
                }
            }
        }
    }
}

/// `files.parquet` columns of `rows`.
fn file_columns(rows: &[FileRow]) -> Vec<(&'static str, ArrayRef)> {
    let strings = |f: &dyn Fn(&FileRow) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    };
    vec![
        ("key", strings(&|r| Some(&r.key))),
        ("account_id", strings(&|r| r.account_id.as_deref())),
        ("region", strings(&|r| r.region.as_deref())),
        (
            "delivered_at",
            Arc::new(
                rows.iter()
                    .map(|r| r.delivered_at.map(micros))
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone("UTC"),
            ),
        ),
        (
            "size",
            Arc::new(rows.iter().map(|r| Some(r.size)).collect::<UInt64Array>()),
        ),
        ("sha256", strings(&|r| r.sha256.as_deref())),
        (
            "events",
            Arc::new(rows.iter().map(|r| r.events).collect::<UInt64Array>()),
        ),
        ("status", strings(&|r| Some(&r.status))),
        ("error", strings(&|r| r.error.as_deref())),
        ("digest_status", strings(&|r| r.digest_status)),
        ("digest_key", strings(&|r| r.digest_key.as_deref())),
        ("etag", strings(&|r| r.etag.as_deref())),
        ("stored_sha256", strings(&|r| r.stored_sha256.as_deref())),
    ]
}

/// The rows of a `files.parquet` batch.
fn file_rows(b: &RecordBatch) -> Result<Vec<FileRow>> {
    let col = |name: &str| {
        b.column_by_name(name)
            .ok_or_else(|| Error::new(ErrorKind::Output, format!("a spilled run lacks '{name}'")))
    };
    let s = |name: &str| -> Result<StringArray> {
        col(name)?
            .as_any()
            .downcast_ref::<StringArray>()
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Output,
                    format!("'{name}' is not a string column"),
                )
            })
    };
    let u = |name: &str| -> Result<UInt64Array> {
        col(name)?
            .as_any()
            .downcast_ref::<UInt64Array>()
            .cloned()
            .ok_or_else(|| Error::new(ErrorKind::Output, format!("'{name}' is not a u64 column")))
    };
    let delivered = col("delivered_at")?
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .cloned()
        .ok_or_else(|| Error::new(ErrorKind::Output, "'delivered_at' is not a timestamp"))?;
    let (key, account, region, sha, status, error, dstatus, dkey, etag, stored) = (
        s("key")?,
        s("account_id")?,
        s("region")?,
        s("sha256")?,
        s("status")?,
        s("error")?,
        s("digest_status")?,
        s("digest_key")?,
        s("etag")?,
        s("stored_sha256")?,
    );
    let (size, events) = (u("size")?, u("events")?);
    let opt = |a: &StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_owned());
    Ok((0..b.num_rows())
        .map(|i| FileRow {
            key: key.value(i).to_owned(),
            account_id: opt(&account, i),
            region: opt(&region, i),
            delivered_at: (!delivered.is_null(i)).then(|| delivered.value(i) / 1_000_000),
            size: size.value(i),
            sha256: opt(&sha, i),
            events: (!events.is_null(i)).then(|| events.value(i)),
            status: status.value(i).to_owned(),
            error: opt(&error, i),
            digest_status: (!dstatus.is_null(i)).then(|| {
                let name = dstatus.value(i);
                crate::integrity::digest::LogStatus::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .find(|s| *s == name)
                    .unwrap_or("unknown")
            }),
            digest_key: opt(&dkey, i),
            etag: opt(&etag, i),
            stored_sha256: opt(&stored, i),
        })
        .collect())
}

/// One batch of `events.parquet`, as named columns.
pub type EventColumns = Vec<(&'static str, ArrayRef)>;

/// Builds `events.parquet` batches in a worker; the batches go to one writer.
pub struct EventsBuilder {
    s: Vec<StringBuilder>,
    time: TimestampMicrosecondBuilder,
    read_only: BooleanBuilder,
    management: BooleanBuilder,
    pub len: usize,
}

impl Default for EventsBuilder {
    fn default() -> Self {
        EventsBuilder {
            s: (0..11).map(|_| StringBuilder::new()).collect(),
            time: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            read_only: BooleanBuilder::new(),
            management: BooleanBuilder::new(),
            len: 0,
        }
    }
}

impl EventsBuilder {
    pub fn push(&mut self, account: &str, region: &str, r: &crate::decode::Record<'_>) {
        self.s[0].append_value(account);
        self.s[1].append_value(region);
        self.time.append_option(
            r.event_time
                .as_deref()
                .and_then(crate::time::parse_event_time)
                .map(micros),
        );
        self.s[2].append_option(r.aws_region.as_deref());
        self.s[3].append_option(r.event_source.as_deref());
        self.s[4].append_option(r.event_name.as_deref());
        self.read_only.append_option(r.read_only);
        self.management.append_option(r.management_event);
        self.s[5].append_option(r.event_category.as_deref());
        self.s[6].append_option(r.event_type.as_deref());
        self.s[7].append_option(r.recipient_account_id.as_deref());
        self.s[8].append_option(r.user_identity.as_ref().and_then(|u| u.kind.as_deref()));
        self.s[9].append_option(r.error_code.as_deref());
        self.s[10].append_option(r.user_agent.as_deref());
        self.len += 1;
    }

    /// Drops the rows pushed after the first `len`: the builder is emptied, and the rows kept
    /// are returned as a batch to write (none when there are none).
    pub fn rollback_to(&mut self, len: usize) -> Option<EventColumns> {
        if self.len <= len {
            return None;
        }
        let cols = self.finish();
        (len > 0).then(|| {
            cols.into_iter()
                .map(|(n, a)| (n, a.slice(0, len)))
                .collect()
        })
    }

    /// Takes the rows built so far as columns in schema order.
    pub fn finish(&mut self) -> EventColumns {
        self.len = 0;
        let mut s = self.s.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef);
        let mut cols: Vec<(&'static str, ArrayRef)> = EVENT_STRING_COLUMNS
            .iter()
            .map(|n| (*n, s.next().expect("one builder per string column")))
            .collect();
        cols.push(("event_time", Arc::new(self.time.finish())));
        cols.push(("read_only", Arc::new(self.read_only.finish())));
        cols.push(("management_event", Arc::new(self.management.finish())));
        cols
    }
}

/// The string columns of `events.parquet`, in the order [`EventsBuilder::push`] fills them.
const EVENT_STRING_COLUMNS: [&str; 11] = [
    "account_id",
    "region",
    "aws_region",
    "event_source",
    "event_name",
    "event_category",
    "event_type",
    "recipient_account_id",
    "user_identity_type",
    "error_code",
    "user_agent",
];

#[cfg(test)]
mod tests {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;
    use crate::coverage::GapKind;

    fn row(key: String) -> FileRow {
        FileRow {
            key,
            account_id: Some("111122223333".into()),
            region: None,
            delivered_at: Some(1_767_225_600),
            size: 3,
            sha256: None,
            events: Some(1),
            status: "ok".into(),
            error: None,
            digest_status: Some("valid"),
            digest_key: None,
            etag: Some("\"e\"".into()),
            stored_sha256: None,
        }
    }

    #[test]
    fn files_are_written_in_key_order_whatever_the_arrival_order() {
        let n = FILES_RUN_ROWS * 2 + 123;
        let keys: Vec<String> = (0..n).map(|i| format!("k{:08}", (i * 7919) % n)).collect();
        check_order(&keys, None);
        // Past the merge fan-in: groups merged first (30 runs of 100 rows, 4 at a time).
        let keys: Vec<String> = (0..3_000)
            .map(|i| format!("k{:05}", (i * 7919) % 3_000))
            .collect();
        check_order(&keys, Some((100, 4)));
    }

    fn check_order(keys: &[String], limits: Option<(usize, usize)>) {
        let n = keys.len();
        let write = |order: &mut dyn Iterator<Item = &String>| {
            let dir = tempfile::tempdir().unwrap();
            let mut w = FilesWriter::create(dir.path()).unwrap();
            if let Some((rows, fan_in)) = limits {
                w.run_rows = rows;
                w.fan_in = fan_in;
            }
            for k in order {
                w.push(row(k.clone())).unwrap();
            }
            assert_eq!(w.close().unwrap(), n as u64);
            // The spilled runs are gone.
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
            std::fs::read(dir.path().join("files.parquet")).unwrap()
        };
        let a = write(&mut keys.iter());
        let b = write(&mut keys.iter().rev());
        assert!(a == b, "the bytes depend on the arrival order");
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(a))
            .unwrap()
            .build()
            .unwrap();
        let mut all = Vec::new();
        for b in reader {
            all.extend(file_rows(&b.unwrap()).unwrap());
        }
        assert_eq!(all.len(), n);
        assert!(all.windows(2).all(|w| w[0].key < w[1].key));
        assert_eq!(all[0], row(all[0].key.clone()));
    }

    #[test]
    fn properties_are_chosen_on_purpose() {
        let p = writer_properties(Table::Coverage);
        assert_eq!(p.max_row_group_row_count(), Some(ROW_GROUP_ROWS));
        assert!(p.created_by().starts_with("trailproof "));
        let f = writer_properties(Table::Files);
        assert_eq!(f.max_row_group_row_count(), Some(FILES_ROW_GROUP_ROWS));
        assert!(!f.dictionary_enabled(&parquet::schema::types::ColumnPath::from("key")));
        assert!(f.dictionary_enabled(&parquet::schema::types::ColumnPath::from("status")));
        assert_eq!(
            p.compression(&parquet::schema::types::ColumnPath::from("x")),
            Compression::ZSTD(ZstdLevel::try_new(3).unwrap())
        );
    }

    #[test]
    fn tables_round_trip_with_their_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let gaps = vec![Gap::new(
            "111122223333",
            "eu-west-1",
            GapKind::NoWriteEvents,
            (0, 3_600),
            "none",
        )];
        assert_eq!(
            write_gaps(&dir.path().join("gaps.parquet"), &gaps).unwrap(),
            1
        );
        let c = Counters {
            mgmt_read: 5,
            first_event: 10,
            last_event: 20,
            ..Default::default()
        };
        let empty = Counters::default();
        let rows = vec![
            ("111122223333", "us-east-1", 0i64, &c, false),
            ("111122223333", "us-east-1", 3_600, &empty, true),
        ];
        assert_eq!(
            write_coverage(&dir.path().join("coverage.parquet"), rows.into_iter()).unwrap(),
            2
        );
        let mut files = FilesWriter::create(dir.path()).unwrap();
        files
            .push(FileRow {
                key: "k".into(),
                account_id: None,
                region: None,
                delivered_at: None,
                size: 3,
                sha256: None,
                events: None,
                status: "invalid_gzip".into(),
                error: Some("bad".into()),
                digest_status: None,
                digest_key: None,
                etag: None,
                stored_sha256: None,
            })
            .unwrap();
        assert_eq!(files.close().unwrap(), 1);
        for (name, schema, rows) in [
            ("gaps", gaps_schema(), 1),
            ("coverage", coverage_schema(), 2),
            ("files", files_schema(), 1),
        ] {
            let f = File::open(dir.path().join(format!("{name}.parquet"))).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(f)
                .unwrap()
                .build()
                .unwrap();
            let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
            assert_eq!(
                batches.iter().map(|b| b.num_rows()).sum::<usize>(),
                rows,
                "{name}"
            );
            assert_eq!(batches[0].schema().fields(), schema.fields(), "{name}");
        }
    }
}
