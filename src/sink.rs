//! Parquet outputs: one fixed schema per table, typed builders flushed to `RecordBatch`es,
//! zstd level 3, an explicit row-group size, and always `close()`d.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
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

/// The writer properties every table uses, with its row-group size.
pub fn writer_properties(row_group_rows: usize) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("zstd level 3 is valid"),
        ))
        .set_max_row_group_row_count(Some(row_group_rows))
        // Page-level statistics let DuckDB/Athena skip pages on account/region/time filters.
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("trailproof {}", env!("CARGO_PKG_VERSION")))
        .build()
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
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self> {
        Self::with_properties(path, schema, writer_properties(ROW_GROUP_ROWS))
    }

    pub fn with_properties(
        path: &Path,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> Result<Self> {
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

    pub fn write(&mut self, columns: Vec<ArrayRef>) -> Result<()> {
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| {
            Error::with_source(
                ErrorKind::Output,
                "a batch does not match its table's schema",
                e,
            )
        })?;
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

/// Writes `coverage.parquet` from (account, region, hour, counters) rows.
pub fn write_coverage<'a>(
    path: &Path,
    rows: impl Iterator<Item = (&'a str, &'a str, i64, &'a Counters)>,
) -> Result<u64> {
    let mut w = TableWriter::create(path, coverage_schema())?;
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let mut account = StringBuilder::new();
        let mut region = StringBuilder::new();
        let mut hour = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut u: Vec<UInt64Builder> = (0..12).map(|_| UInt64Builder::new()).collect();
        let mut first = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut last = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut lag = Int64Builder::new();
        for (a, r, h, c) in rows.by_ref().take(ROW_GROUP_ROWS) {
            account.append_value(a);
            region.append_value(r);
            hour.append_value(micros(h));
            let values = [
                c.mgmt_read,
                c.mgmt_write,
                c.mgmt_unknown,
                c.global_read,
                c.global_write,
                c.data_events,
                c.other_events,
                c.log_files,
                c.bytes,
                c.late_events,
                c.mismatched_events,
                c.unreadable_files,
            ];
            for (b, v) in u.iter_mut().zip(values) {
                b.append_value(v);
            }
            first.append_option((c.first_event != i64::MAX).then(|| micros(c.first_event)));
            last.append_option((c.last_event != i64::MIN).then(|| micros(c.last_event)));
            lag.append_value(c.max_delivery_lag_s);
        }
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(account.finish()),
            Arc::new(region.finish()),
            Arc::new(hour.finish()),
        ];
        let mut u: Vec<ArrayRef> = u
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        let tail = u.split_off(9);
        cols.extend(u);
        cols.push(Arc::new(first.finish()));
        cols.push(Arc::new(last.finish()));
        cols.push(Arc::new(lag.finish()));
        cols.extend(tail);
        w.write(cols)?;
    }
    w.close()
}

/// Writes `gaps.parquet`.
pub fn write_gaps(path: &Path, gaps: &[Gap]) -> Result<u64> {
    let mut w = TableWriter::create(path, gaps_schema())?;
    for chunk in gaps.chunks(ROW_GROUP_ROWS) {
        let mut b: Vec<StringBuilder> = (0..5).map(|_| StringBuilder::new()).collect();
        let mut start = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut end = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        for g in chunk {
            b[0].append_value(&g.account_id);
            b[1].append_value(&g.region);
            b[2].append_value(g.category.as_str());
            b[3].append_value(g.kind.as_str());
            b[4].append_value(&g.detail);
            start.append_value(micros(g.start));
            end.append_value(micros(g.end));
        }
        let mut b: Vec<ArrayRef> = b
            .iter_mut()
            .map(|x| Arc::new(x.finish()) as ArrayRef)
            .collect();
        let detail = b.pop().expect("detail");
        b.push(Arc::new(start.finish()));
        b.push(Arc::new(end.finish()));
        b.push(detail);
        w.write(b)?;
    }
    if gaps.is_empty() {
        // An empty table still has its schema and footer.
    }
    w.close()
}

/// One row of `files.parquet`.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

/// `files.parquet`: small row groups, and no dictionary for the columns whose values are all
/// distinct (a dictionary there only costs memory and space).
pub fn files_properties() -> WriterProperties {
    let mut b = writer_properties(FILES_ROW_GROUP_ROWS).into_builder();
    for column in ["key", "sha256", "error"] {
        b = b
            .set_column_dictionary_enabled(parquet::schema::types::ColumnPath::from(column), false);
    }
    b.build()
}

/// Buffers `files.parquet` rows and flushes them a row group at a time.
pub struct FilesWriter {
    w: TableWriter,
    rows: Vec<FileRow>,
}

impl FilesWriter {
    pub fn create(path: &Path) -> Result<Self> {
        Ok(FilesWriter {
            w: TableWriter::create(path, files_schema())?,
            rows: Vec::with_capacity(1024),
        })
    }

    pub fn push(&mut self, row: FileRow) -> Result<()> {
        self.rows.push(row);
        if self.rows.len() >= BATCH_ROWS {
            self.flush()
        } else {
            Ok(())
        }
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut s: Vec<StringBuilder> = (0..8).map(|_| StringBuilder::new()).collect();
        let mut delivered = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut size = UInt64Builder::new();
        let mut events = UInt64Builder::new();
        for r in self.rows.drain(..) {
            s[0].append_value(&r.key);
            s[1].append_option(r.account_id);
            s[2].append_option(r.region);
            delivered.append_option(r.delivered_at.map(micros));
            size.append_value(r.size);
            s[3].append_option(r.sha256);
            events.append_option(r.events);
            s[4].append_value(&r.status);
            s[5].append_option(r.error);
            s[6].append_option(r.digest_status);
            s[7].append_option(r.digest_key);
        }
        let mut f = |i: usize| Arc::new(s[i].finish()) as ArrayRef;
        let cols: Vec<ArrayRef> = vec![
            f(0),
            f(1),
            f(2),
            Arc::new(delivered.finish()),
            Arc::new(size.finish()),
            f(3),
            Arc::new(events.finish()),
            f(4),
            f(5),
            f(6),
            f(7),
        ];
        self.w.write(cols)
    }

    pub fn close(mut self) -> Result<u64> {
        self.flush()?;
        self.w.close()
    }
}

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
                .and_then(crate::decode::parse_event_time)
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

    /// Takes the rows built so far as columns in schema order.
    pub fn finish(&mut self) -> Vec<ArrayRef> {
        self.len = 0;
        let mut f = |i: usize| Arc::new(self.s[i].finish()) as ArrayRef;
        let (a, r, ar, src, name, cat, ty, rec, uit, err, ua) = (
            f(0),
            f(1),
            f(2),
            f(3),
            f(4),
            f(5),
            f(6),
            f(7),
            f(8),
            f(9),
            f(10),
        );
        vec![
            a,
            r,
            Arc::new(self.time.finish()),
            ar,
            src,
            name,
            Arc::new(self.read_only.finish()),
            Arc::new(self.management.finish()),
            cat,
            ty,
            rec,
            uit,
            err,
            ua,
        ]
    }
}

#[cfg(test)]
mod tests {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;
    use crate::coverage::{Category, GapKind};

    #[test]
    fn properties_are_chosen_on_purpose() {
        let p = writer_properties(ROW_GROUP_ROWS);
        assert_eq!(p.max_row_group_row_count(), Some(ROW_GROUP_ROWS));
        assert!(p.created_by().starts_with("trailproof "));
        let f = files_properties();
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
        let gaps = vec![Gap {
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            category: Category::MgmtWrite,
            kind: GapKind::NoEvents,
            start: 0,
            end: 3_600,
            detail: "none".into(),
        }];
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
            ("111122223333", "us-east-1", 0i64, &c),
            ("111122223333", "us-east-1", 3_600, &empty),
        ];
        assert_eq!(
            write_coverage(&dir.path().join("coverage.parquet"), rows.into_iter()).unwrap(),
            2
        );
        let mut files = FilesWriter::create(&dir.path().join("files.parquet")).unwrap();
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
