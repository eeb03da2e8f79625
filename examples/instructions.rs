//! Instructions per byte of JSON for each parser, counted by valgrind (this machine's virtual
//! CPU exposes no hardware counters to `perf stat`): a figure that does not move with the
//! machine's load, unlike a time. Used by `scripts/bench.sh`:
//!
//! ```sh
//! valgrind --tool=callgrind --toggle-collect='*parse_all*' --callgrind-out-file=OUT \
//!     target/release/examples/instructions extract FILE.json.gz...
//! ```
//!
//! Reads and inflates the given log files first (not counted), then parses them all once with
//! the named parser (`extract`, `simd-json` or `serde_json`) inside `parse_all`, the only
//! function counted; prints the JSON bytes, the records read and the structural index's path.
use trailproof::decode::{Decoder, Parser};

#[inline(never)]
fn parse_all(decoder: &mut Decoder, docs: &[Vec<u8>]) -> usize {
    let mut records = 0;
    for doc in docs {
        decoder.inflate(doc, false).expect("copy");
        records += decoder
            .parse(|r| {
                std::hint::black_box(r);
            })
            .expect("parse");
    }
    records
}

fn main() {
    let mut args = std::env::args().skip(1);
    let parser = match args.next().as_deref() {
        Some("extract") => Parser::Extract,
        Some("simd-json") => Parser::SimdJson,
        Some("serde_json") => Parser::SerdeJson,
        _ => {
            eprintln!("usage: instructions extract|simd-json|serde_json FILE.json.gz...");
            std::process::exit(2);
        }
    };
    let mut inflater = Decoder::new(1 << 30);
    let docs: Vec<Vec<u8>> = args
        .map(|path| {
            let raw = std::fs::read(&path).expect("read a log file");
            inflater.inflate(&raw, true).expect("inflate");
            inflater.decompressed().to_vec()
        })
        .collect();
    let bytes: usize = docs.iter().map(Vec::len).sum();
    let mut decoder = Decoder::with_parser(1 << 30, parser);
    let records = parse_all(&mut decoder, &docs);
    // The structural index's path on this CPU (under valgrind: the CPU valgrind emulates).
    println!(
        "{bytes} {records} {}",
        trailproof::decode::simd::Level::detect().name()
    );
}
