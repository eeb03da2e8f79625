//! A fast local S3 endpoint for benchmarks: serves a directory (`ROOT/BUCKET/KEY`) over the
//! part of the S3 API a `scan` uses (`HeadBucket`, `ListObjectsV2` with prefix, delimiter,
//! continuation and `max-keys`, `GetObject`), from an in-memory sorted index built at start,
//! so a prefix listing costs a range lookup (moto, and s3s-fs 0.14, walk the whole bucket per
//! request). Path-style requests only; signatures are not checked. The requests served, by
//! kind, are kept in `ROOT/.s3_dir_counts` (JSON, rewritten every 200 ms).
//!
//! `cargo run --release --example s3_dir -- ROOT PORT` (std only; one thread per connection).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

struct Index {
    root: PathBuf,
    /// Per bucket: key -> size.
    buckets: BTreeMap<String, BTreeMap<String, u64>>,
    lists: AtomicU64,
    gets: AtomicU64,
}

fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, u64>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            walk(&path, base, out);
        } else if t.is_file() {
            let key = path
                .strip_prefix(base)
                .expect("under the bucket")
                .to_string_lossy()
                .into_owned();
            out.insert(key, e.metadata().map(|m| m.len()).unwrap_or(0));
        }
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    // One write (with TCP_NODELAY): no Nagle wait between the head and the body.
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    stream.write_all(&out)
}

fn list(index: &Index, bucket: &str, q: &BTreeMap<String, String>) -> Vec<u8> {
    index.lists.fetch_add(1, Ordering::Relaxed);
    let empty = BTreeMap::new();
    let keys = index.buckets.get(bucket).unwrap_or(&empty);
    let prefix = q.get("prefix").cloned().unwrap_or_default();
    let delimiter = q.get("delimiter").cloned().filter(|d| !d.is_empty());
    let max: usize = q
        .get("max-keys")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000)
        .min(1000);
    let after = q
        .get("continuation-token")
        .or_else(|| q.get("start-after"))
        .cloned()
        .unwrap_or_default();
    // Resume after the token; a token that is a common prefix skips everything under it.
    let start = if after.is_empty() || after < prefix {
        std::ops::Bound::Included(prefix.clone())
    } else if delimiter.as_deref().is_some_and(|d| after.ends_with(d)) {
        std::ops::Bound::Excluded(format!("{after}{}", char::MAX))
    } else {
        std::ops::Bound::Excluded(after.clone())
    };
    let mut contents = String::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut count = 0;
    let mut last = String::new();
    let mut truncated = false;
    let mut range = keys.range::<String, _>((start, std::ops::Bound::Unbounded));
    while let Some((k, size)) = range.next() {
        if !k.starts_with(&prefix) {
            break;
        }
        if count == max {
            truncated = true;
            break;
        }
        if let Some(d) = &delimiter
            && let Some(pos) = k[prefix.len()..].find(d.as_str())
        {
            let cp = k[..prefix.len() + pos + d.len()].to_owned();
            if prefixes.last() != Some(&cp) {
                prefixes.push(cp.clone());
                count += 1;
                last = cp.clone();
            }
            // Skip the rest of this common prefix.
            let mut next = cp.clone();
            next.push(char::MAX);
            range = keys
                .range::<String, _>((std::ops::Bound::Excluded(next), std::ops::Bound::Unbounded));
            continue;
        }
        contents.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>\"{size:x}\"</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            escape(k)
        ));
        count += 1;
        last = k.clone();
    }
    let cps: String = prefixes
        .iter()
        .map(|p| {
            format!(
                "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
                escape(p)
            )
        })
        .collect();
    let token = if truncated {
        format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            escape(&last)
        )
    } else {
        String::new()
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{count}</KeyCount><MaxKeys>{max}</MaxKeys><IsTruncated>{truncated}</IsTruncated>{token}{contents}{cps}</ListBucketResult>",
        escape(bucket),
        escape(&prefix)
    )
    .into_bytes()
}

fn serve(mut stream: TcpStream, index: Arc<Index>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let q: BTreeMap<String, String> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        let path = decode(path.trim_start_matches('/'));
        let (bucket, key) = path.split_once('/').unwrap_or((&path, ""));
        let region = [("x-amz-bucket-region", "us-east-1".to_owned())];
        if !index.buckets.contains_key(bucket) {
            let body = b"<Error><Code>NoSuchBucket</Code><Message>no such bucket</Message></Error>";
            respond(&mut stream, "404 Not Found", &[], body)?;
            continue;
        }
        match (method, key.is_empty()) {
            ("HEAD", true) => respond(&mut stream, "200 OK", &region, b"")?,
            ("GET", true) => {
                let xml = list(&index, bucket, &q);
                respond(
                    &mut stream,
                    "200 OK",
                    &[("Content-Type", "application/xml".into())],
                    &xml,
                )?
            }
            ("GET", false) | ("HEAD", false) => {
                index.gets.fetch_add(1, Ordering::Relaxed);
                match std::fs::read(index.root.join(bucket).join(key)) {
                    Ok(bytes) => {
                        let headers = [
                            ("ETag", format!("\"{:x}\"", bytes.len())),
                            ("Last-Modified", "Thu, 01 Jan 2026 00:00:00 GMT".into()),
                        ];
                        let body: &[u8] = if method == "HEAD" { b"" } else { &bytes };
                        respond(&mut stream, "200 OK", &headers, body)?
                    }
                    Err(_) => respond(
                        &mut stream,
                        "404 Not Found",
                        &[],
                        b"<Error><Code>NoSuchKey</Code><Message>no such key</Message></Error>",
                    )?,
                }
            }
            _ => respond(&mut stream, "501 Not Implemented", &[], b"")?,
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (root, port) = match (args.get(1), args.get(2)) {
        (Some(r), Some(p)) => (PathBuf::from(r), p.clone()),
        _ => {
            eprintln!("usage: s3_dir ROOT PORT");
            std::process::exit(2);
        }
    };
    let mut buckets = BTreeMap::new();
    for e in std::fs::read_dir(&root).expect("ROOT").flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let mut keys = BTreeMap::new();
            walk(&e.path(), &e.path(), &mut keys);
            buckets.insert(e.file_name().to_string_lossy().into_owned(), keys);
        }
    }
    let objects: usize = buckets.values().map(BTreeMap::len).sum();
    let index = Arc::new(Index {
        root,
        buckets,
        lists: AtomicU64::new(0),
        gets: AtomicU64::new(0),
    });
    let counts = index.clone();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(200));
            std::fs::write(
                counts.root.join(".s3_dir_counts"),
                format!(
                    "{{\"list\":{},\"get\":{}}}\n",
                    counts.lists.load(Ordering::Relaxed),
                    counts.gets.load(Ordering::Relaxed)
                ),
            )
            .ok();
        }
    });
    let listener = TcpListener::bind(format!("127.0.0.1:{port}")).expect("bind");
    eprintln!("s3_dir: {objects} objects, listening on 127.0.0.1:{port}");
    for stream in listener.incoming().flatten() {
        stream.set_nodelay(true).ok();
        let index = index.clone();
        std::thread::spawn(move || serve(stream, index).ok());
    }
}
