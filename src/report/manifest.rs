//! `manifest.json`: the size and SHA-256 of every other file of the evidence directory, and
//! of every input object read (key, size, ETag, SHA-256 of the stored bytes, from
//! `files.parquet`); and `verify-evidence`, which re-checks a directory against it.
//!
//! The manifest carries its own SHA-256 (computed with that field set to 64 zeros), so a
//! changed byte anywhere in it is caught too. That guards against accident, not forgery:
//! anyone who can rewrite the directory can recompute every hash. Against forgery, keep the
//! manifest's SHA-256 that the run prints somewhere the writer cannot reach, and pass it to
//! `verify-evidence --manifest-sha256`.

use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::evidence::{self, Columns, MANIFEST};
use crate::error::{Error, ErrorKind, Result};

pub const MANIFEST_SCHEMA: &str = "trailproof.manifest/v1";

const PLACEHOLDER: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

fn io(what: String, e: std::io::Error) -> Error {
    Error::with_source(ErrorKind::Io, what, e)
}

/// Writes `manifest.json` into `dir`, streaming the inputs from `files.parquet`.
pub fn write(dir: &Path) -> Result<()> {
    let outputs = evidence::hash_files(dir, &[MANIFEST])?;
    let outputs: Vec<Entry> = outputs
        .into_iter()
        .map(|(name, size, sha256)| Entry { name, size, sha256 })
        .collect();
    let run = evidence::Run::read(dir)?;
    let path = dir.join(MANIFEST);
    let tmp = dir.join(format!(".{MANIFEST}.tmp"));
    let file = std::fs::File::create(&tmp)
        .map_err(|e| io(format!("cannot write {}", tmp.display()), e))?;
    let mut w = BufWriter::new(file);
    let head = format!(
        "{{\n  \"schema\": {},\n  \"manifest_sha256\": \"",
        js(MANIFEST_SCHEMA)
    );
    let offset = head.len() as u64;
    let mut out = String::new();
    out.push_str(&head);
    out.push_str(PLACEHOLDER);
    out.push_str("\",\n");
    out.push_str(&format!(
        "  \"tool\": {{\"name\": \"trailproof\", \"version\": {}}},\n  \"command\": {},\n  \"generated_at\": {},\n  \"document\": {},\n",
        js(env!("CARGO_PKG_VERSION")),
        js(run.command.as_str()),
        js(run.generated_at.as_str()),
        js(run.document),
    ));
    out.push_str("  \"outputs\": [\n");
    for (i, e) in outputs.iter().enumerate() {
        out.push_str(&format!(
            "    {{\"name\": {}, \"size\": {}, \"sha256\": {}}}{}\n",
            js(e.name.as_str()),
            e.size,
            js(e.sha256.as_str()),
            if i + 1 < outputs.len() { "," } else { "" }
        ));
    }
    out.push_str("  ],\n  \"inputs\": [\n");
    let wr = |w: &mut BufWriter<std::fs::File>, s: &str| {
        w.write_all(s.as_bytes())
            .map_err(|e| io(format!("cannot write {}", tmp.display()), e))
    };
    wr(&mut w, &out)?;
    let mut first = true;
    let (mut count, mut bytes) = (0u64, 0u64);
    evidence::read_table(dir, "files.parquet", |b| {
        let c = Columns { batch: b };
        let (key, stored, etag, size, status) = (
            c.strings("key")?,
            c.strings("stored_sha256")?,
            c.strings("etag")?,
            c.u64s("size")?,
            c.strings("status")?,
        );
        let mut chunk = String::new();
        for i in 0..b.num_rows() {
            // Read objects: hashed, or read whole without hashes (`--no-file-hashes`).
            let sha = evidence::opt(&stored, i);
            if sha.is_none() && status.value(i) != "ok" {
                continue;
            }
            count += 1;
            bytes += size.value(i);
            if !first {
                chunk.push_str(",\n");
            }
            first = false;
            chunk.push_str(&format!(
                "    {{\"key\": {}, \"size\": {}, \"etag\": {}, \"sha256\": {}}}",
                js(key.value(i)),
                size.value(i),
                match evidence::opt(&etag, i) {
                    Some(t) => js(t.as_str()),
                    None => "null".into(),
                },
                match sha {
                    Some(s) => js(s.as_str()),
                    None => "null".into(),
                }
            ));
        }
        wr(&mut w, &chunk)
    })?;
    wr(
        &mut w,
        &format!(
            "{}  ],\n  \"inputs_count\": {count},\n  \"inputs_bytes\": {bytes}\n}}\n",
            if first { "" } else { "\n" }
        ),
    )?;
    let mut file = w
        .into_inner()
        .map_err(|e| io(format!("cannot write {}", tmp.display()), e.into_error()))?;
    file.flush()
        .map_err(|e| io(format!("cannot write {}", tmp.display()), e))?;
    drop(file);
    let (_, sha) = evidence::hash_file(&tmp)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&tmp)
        .map_err(|e| io(format!("cannot write {}", tmp.display()), e))?;
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.write_all(sha.as_bytes()))
        .and_then(|_| file.sync_all())
        .map_err(|e| io(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io(format!("cannot write {}", path.display()), e))
}

/// A JSON string literal.
fn js(s: &str) -> String {
    serde_json::to_string(s).expect("a string encodes")
}

/// The manifest as `verify-evidence` reads it (inputs skipped without being held).
#[derive(Deserialize)]
struct Manifest {
    schema: String,
    manifest_sha256: String,
    outputs: Vec<Entry>,
    #[serde(default)]
    #[allow(dead_code)]
    inputs: serde::de::IgnoredAny,
}

/// What `verify-evidence` found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub dir: String,
    /// `INTACT` or `CHANGED`.
    pub result: &'static str,
    pub exit_code: u8,
    pub manifest_sha256: String,
    pub files_checked: usize,
    /// One line per problem, each naming the file.
    pub problems: Vec<String>,
}

/// The manifest's own hash and its whole-file hash, streamed: the recorded self-hash (the 64
/// characters after the field name near the start), the hash of the file with that field set
/// back to zeros, and the hash of the file as it is.
fn self_hashes(path: &Path) -> std::io::Result<(Option<String>, String, String)> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path)?;
    let mut head = vec![0u8; 4096];
    let mut n = 0;
    while n < head.len() {
        let got = f.read(&mut head[n..])?;
        if got == 0 {
            break;
        }
        n += got;
    }
    head.truncate(n);
    let mut whole = Sha256::new();
    whole.update(&head);
    let marker = b"\"manifest_sha256\": \"";
    let recorded = memchr::memmem::find(&head, marker).and_then(|i| {
        let at = i + marker.len();
        let v = String::from_utf8(head.get(at..at + 64)?.to_vec()).ok()?;
        head[at..at + 64].copy_from_slice(PLACEHOLDER.as_bytes());
        Some(v)
    });
    let mut zeroed = Sha256::new();
    zeroed.update(&head);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let got = f.read(&mut buf)?;
        if got == 0 {
            break;
        }
        whole.update(&buf[..got]);
        zeroed.update(&buf[..got]);
    }
    Ok((
        recorded,
        hex::encode(zeroed.finalize()),
        hex::encode(whole.finalize()),
    ))
}

/// Re-checks `dir` against its manifest; `expect`: the manifest SHA-256 kept elsewhere.
pub fn verify(dir: &Path, expect: Option<&str>) -> Result<Verification> {
    let path = dir.join(MANIFEST);
    let mut problems = Vec::new();
    if !path.exists() {
        if evidence::Run::read(dir).is_err() {
            return Err(Error::usage(format!(
                "{}: not an evidence directory (no manifest.json, summary.json or validate.json)",
                dir.display()
            )));
        }
        problems.push(format!("{MANIFEST}: missing"));
        return Ok(finish(dir, String::new(), 0, problems));
    }
    let (recorded, zeroed, full_sha) = self_hashes(&path).map_err(|e| {
        Error::with_source(ErrorKind::Io, format!("cannot read {}", path.display()), e)
    })?;
    match &recorded {
        Some(r) if *r != zeroed => problems.push(format!(
            "{MANIFEST}: changed (its content hashes to {zeroed}, it records {r})"
        )),
        Some(_) => {}
        None => problems.push(format!("{MANIFEST}: no manifest_sha256 field")),
    }
    if let Some(e) = expect
        && !e.eq_ignore_ascii_case(&full_sha)
    {
        problems.push(format!(
            "{MANIFEST}: its SHA-256 is {full_sha}, not the {e} expected"
        ));
    }
    // Streamed: the inputs list is skipped without being held.
    let manifest: Manifest = match std::fs::File::open(&path)
        .map_err(|e| e.to_string())
        .and_then(|f| {
            serde_json::from_reader(std::io::BufReader::new(f)).map_err(|e| e.to_string())
        }) {
        Ok(m) => m,
        Err(e) => {
            problems.push(format!("{MANIFEST}: not a manifest ({e})"));
            return Ok(finish(dir, full_sha, 0, problems));
        }
    };
    if manifest.schema != MANIFEST_SCHEMA {
        problems.push(format!(
            "{MANIFEST}: schema {} is not {MANIFEST_SCHEMA}",
            manifest.schema
        ));
    }
    if recorded.as_deref() != Some(manifest.manifest_sha256.as_str()) {
        problems.push(format!("{MANIFEST}: manifest_sha256 is malformed"));
    }
    // Every entry of the directory: anything but a regular file is a problem, never opened.
    let mut actual: Vec<(String, u64, String)> = Vec::new();
    for (name, regular) in evidence::entries(dir)? {
        if name == MANIFEST {
            continue;
        }
        if !regular {
            problems.push(format!(
                "{name}: not a regular file (a directory, link or device: no run writes one)"
            ));
            continue;
        }
        let (size, sha) = evidence::hash_file(&dir.join(&name))?;
        actual.push((name, size, sha));
    }
    for e in &manifest.outputs {
        match actual.iter().find(|(n, ..)| *n == e.name) {
            None if !problems.iter().any(|p| p.starts_with(&format!("{}:", e.name))) => {
                problems.push(format!("{}: missing", e.name))
            }
            None => {}
            Some((_, size, sha)) if *size != e.size || *sha != e.sha256 => problems.push(format!(
                "{}: changed (size {size}, SHA-256 {sha}; the manifest records size {}, SHA-256 {})",
                e.name, e.size, e.sha256
            )),
            Some(_) => {}
        }
    }
    for (name, ..) in &actual {
        if !manifest.outputs.iter().any(|e| e.name == *name) {
            problems.push(format!("{name}: not in the manifest (added after the run)"));
        }
    }
    // Each table against the hash the run's own document records for it, too.
    if let Ok(run) = evidence::Run::read(dir) {
        for (name, sha) in &run.tables {
            if let Some((_, _, actual)) = actual.iter().find(|(n, ..)| n == name)
                && actual != sha
                && !problems.iter().any(|p| p.starts_with(&format!("{name}:")))
            {
                problems.push(format!(
                    "{name}: SHA-256 {actual} is not the {sha} that {} records",
                    run.document
                ));
            }
        }
    }
    Ok(finish(dir, full_sha, manifest.outputs.len(), problems))
}

fn finish(dir: &Path, sha: String, files: usize, problems: Vec<String>) -> Verification {
    let ok = problems.is_empty();
    Verification {
        dir: dir.display().to_string(),
        result: if ok { "INTACT" } else { "CHANGED" },
        exit_code: if ok { 0 } else { 1 },
        manifest_sha256: sha,
        files_checked: files,
        problems,
    }
}

impl super::Render for Verification {
    fn text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "Evidence {}: {}  ({} files checked against manifest.json)",
            self.dir, self.result, self.files_checked
        )?;
        writeln!(out, "manifest.json SHA-256 {}", self.manifest_sha256)?;
        for p in &self.problems {
            writeln!(out, "  {p}")?;
        }
        Ok(())
    }

    fn json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        super::json(out, self)
    }
}

/// The SHA-256 `dir`'s manifest records for `name`, if any.
pub fn recorded(dir: &Path, name: &str) -> Option<String> {
    let text = std::fs::read(dir.join(MANIFEST)).ok()?;
    let m: Manifest = serde_json::from_slice(&text).ok()?;
    m.outputs
        .into_iter()
        .find(|e| e.name == name)
        .map(|e| e.sha256)
}
