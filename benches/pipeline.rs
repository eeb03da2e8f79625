//! Criterion benches, one group per stage of the log pipeline, on a generated corpus:
//! `decode/gunzip`, `decode/parse`, `decode/sha256`, `coverage/aggregate`, `sink/parquet`.
//! Run: `cargo bench --bench pipeline`. Throughput is decompressed bytes (or rows).

use std::hint::black_box;
use std::io::Read;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Digest, Sha256};
use trailproof::coverage::{Aggregate, FileContext, FileCounter};
use trailproof::decode::{Decoder, Parser};
use trailproof::generate::{GenConfig, generate};

/// About 50 MB of JSON in ~1,700 objects, like a busy account's hours.
fn corpus() -> Vec<Vec<u8>> {
    let cfg = GenConfig {
        regions: vec![
            "us-east-1".into(),
            "eu-west-1".into(),
            "ap-south-1".into(),
            "sa-east-1".into(),
        ],
        hours: 6,
        events_per_hour: 2_000,
        max_files_per_slot: 2,
        extras: false,
        digests: false,
        ..Default::default()
    };
    let mut objects = Vec::new();
    generate(&cfg, &mut |o| {
        objects.push(o.body);
        Ok(())
    })
    .expect("generate");
    objects
}

/// The file every aggregate bench counts into, and a counter with an unbounded window.
const CTX: FileContext<'static> = FileContext {
    account: "111122223333",
    region: "us-east-1",
    delivered_at: 1_767_225_900,
    compressed_bytes: 1,
};

fn counter() -> FileCounter {
    FileCounter::new((i64::MIN / 2, i64::MAX / 2), 3_600)
}

fn inflated(objects: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut d = Decoder::new(1 << 30);
    objects
        .iter()
        .map(|o| {
            d.inflate(o, true).expect("inflate");
            d.decompressed().to_vec()
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let objects = corpus();
    let plain = inflated(&objects);
    let json_bytes: u64 = plain.iter().map(|p| p.len() as u64).sum();

    let mut g = c.benchmark_group("decode/gunzip");
    g.throughput(Throughput::Bytes(json_bytes)).sample_size(10);
    g.bench_function("libdeflate whole buffer (trailproof)", |b| {
        let mut d = Decoder::new(1 << 30);
        b.iter(|| {
            for o in &objects {
                black_box(d.inflate(o, true).expect("inflate"));
            }
        })
    });
    g.bench_function(
        format!("flate2 MultiGzDecoder ({})", flate2_backend()),
        |b| {
            let mut buf = Vec::new();
            b.iter(|| {
                for o in &objects {
                    buf.clear();
                    #[allow(clippy::disallowed_types)] // the reference decoder being measured
                    flate2::read::MultiGzDecoder::new(o.as_slice())
                        .read_to_end(&mut buf)
                        .expect("inflate");
                    black_box(buf.len());
                }
            })
        },
    );
    g.finish();

    bench_parsers(c, "decode/parse", &plain, None);

    // The structural index alone (stage 1 and walking its tokens), on every path this CPU has.
    let mut g = c.benchmark_group("decode/index");
    g.throughput(Throughput::Bytes(json_bytes)).sample_size(10);
    for level in trailproof::decode::simd::Level::available() {
        g.bench_function(level.name(), |b| {
            b.iter(|| {
                let mut n = 0;
                for p in &plain {
                    trailproof::decode::tokens::each_token(p, level, |_| n += 1).expect("index");
                }
                black_box(n)
            })
        });
    }
    g.finish();
    // Real records (deeper, more fields) decide between parsers.
    let real =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/invictus/CloudTrail");
    if let Ok(dir) = std::fs::read_dir(&real) {
        let files: Vec<Vec<u8>> = dir
            .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
            .collect();
        bench_parsers(c, "decode/parse-real", &files, Some(2_900));
    }

    let mut g = c.benchmark_group("decode/sha256");
    g.throughput(Throughput::Bytes(json_bytes)).sample_size(10);
    g.bench_function("sha2", |b| {
        b.iter(|| {
            for p in &plain {
                black_box(Sha256::digest(p));
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("coverage/aggregate");
    g.throughput(Throughput::Bytes(json_bytes)).sample_size(10);
    g.bench_function("parse + aggregate (extract)", |b| {
        let mut d = Decoder::new(1 << 30);
        b.iter(|| {
            let (mut agg, mut fc) = (Aggregate::default(), counter());
            for p in &plain {
                d.inflate(p, false).expect("copy");
                d.parse(|r| fc.event(&CTX, &mut agg, r)).expect("parse");
                fc.finish(&CTX, &mut agg);
            }
            black_box(agg.cells.len())
        })
    });
    g.bench_function(
        "whole file without hashes: inflate + parse + aggregate",
        |b| {
            let mut d = Decoder::new(1 << 30);
            b.iter(|| {
                let (mut agg, mut fc) = (Aggregate::default(), counter());
                for o in &objects {
                    d.inflate(o, true).expect("inflate");
                    d.parse(|r| fc.event(&CTX, &mut agg, r)).expect("parse");
                    fc.finish(&CTX, &mut agg);
                }
                black_box(agg.cells.len())
            })
        },
    );
    g.bench_function("whole file: inflate + sha256 + parse + aggregate", |b| {
        let mut d = Decoder::new(1 << 30);
        b.iter(|| {
            let (mut agg, mut fc) = (Aggregate::default(), counter());
            for o in &objects {
                d.inflate(o, true).expect("inflate");
                black_box(Sha256::digest(d.decompressed()));
                d.parse(|r| fc.event(&CTX, &mut agg, r)).expect("parse");
                fc.finish(&CTX, &mut agg);
            }
            black_box(agg.cells.len())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sink/parquet");
    let counters = trailproof::coverage::Counters {
        mgmt_read: 10,
        mgmt_write: 3,
        first_event: 1,
        last_event: 2,
        ..Default::default()
    };
    let regions: Vec<String> = (0..17).map(|i| format!("region-{i}")).collect();
    let rows = 17 * 24 * 30;
    g.throughput(Throughput::Elements(rows as u64))
        .sample_size(10);
    g.bench_function("coverage rows (30 days x 17 regions)", |b| {
        b.iter(|| {
            let it = (0..rows).map(|i| {
                (
                    "111122223333",
                    regions[i % 17].as_str(),
                    (i / 17) as i64 * 3_600,
                    &counters,
                    false,
                )
            });
            trailproof::report::parquet::write_coverage(std::path::Path::new("/dev/null"), it)
                .expect("write")
        })
    });
    g.finish();
}

/// Every parser over the same decompressed documents (copied into the decoder first, the same
/// cost for each).
fn bench_parsers(c: &mut Criterion, group: &str, docs: &[Vec<u8>], expect_events: Option<usize>) {
    let bytes: u64 = docs.iter().map(|p| p.len() as u64).sum();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(bytes)).sample_size(10);
    for (name, parser) in [
        ("extract (trailproof)", Parser::Extract),
        ("simd-json serde", Parser::SimdJson),
        ("serde_json", Parser::SerdeJson),
    ] {
        g.bench_function(name, |b| {
            let mut d = Decoder::with_parser(1 << 30, parser);
            b.iter(|| {
                let mut events = 0usize;
                for doc in docs {
                    d.inflate(doc, false).expect("copy");
                    events += d
                        .parse(|r| {
                            black_box(r);
                        })
                        .expect("parse");
                }
                if let Some(n) = expect_events {
                    assert_eq!(events, n);
                }
                black_box(events)
            })
        });
    }
    g.finish();
}

fn flate2_backend() -> &'static str {
    "miniz_oxide"
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
