//! A local copy of a bucket (what `aws s3 sync` leaves): keys are paths relative to the root,
//! joined with `/`. Symlinks are followed (a synced copy may be linked in); a depth bound
//! stops a link cycle with an error, never silently.

use std::io::Read;
use std::path::Path;

use tokio::sync::mpsc;

use super::{Entry, ReadError};

/// Deeper than this is taken for a symlink cycle.
const MAX_DEPTH: u32 = 64;

/// The directory names directly under `dir` (none when it does not exist).
pub(super) fn list_dirs(dir: &Path) -> Result<Vec<String>, String> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| format!("{}: {e}", dir.display()))?;
        if e.path().is_dir()
            && let Ok(name) = e.file_name().into_string()
        {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Walks `root/prefix` in key order, sending every file; a missing start is an empty listing
/// (as on S3). An entry that cannot be inspected is an error, never skipped.
pub(super) fn walk(root: &Path, prefix: &str, tx: &mpsc::Sender<Entry>) -> Result<u64, String> {
    let start = root.join(prefix);
    if !start.exists() {
        return Ok(0);
    }
    let io = |what: &str, path: &Path, e: std::io::Error| {
        format!("cannot read {what} {}: {e}", path.display())
    };
    enum Item {
        Dir(std::path::PathBuf, u32),
        File(String, u64, bool),
    }
    let mut sent = 0;
    // Popped in key order: a folder's entries are pushed in reverse.
    let mut stack = vec![Item::Dir(start, 0)];
    while let Some(item) = stack.pop() {
        let (dir, depth) = match item {
            Item::File(key, size, regular) => {
                sent += 1;
                if tx.blocking_send(Entry { key, size, regular }).is_err() {
                    return Ok(sent);
                }
                continue;
            }
            Item::Dir(dir, depth) => (dir, depth),
        };
        if depth > MAX_DEPTH {
            return Err(format!(
                "{} is nested more than {MAX_DEPTH} levels deep (a symlink cycle?)",
                dir.display()
            ));
        }
        let meta = std::fs::metadata(&dir).map_err(|e| io("file", &dir, e))?;
        if !meta.is_dir() {
            // `prefix` named a file.
            if let Some(key) = key_of(root, &dir) {
                stack.push(Item::File(key, meta.len(), meta.is_file()));
            }
            continue;
        }
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| io("directory", &dir, e))? {
            entries.push(entry.map_err(|e| io("directory", &dir, e))?);
        }
        entries.sort_by_key(|e| std::cmp::Reverse(e.file_name()));
        for entry in entries {
            let path = entry.path();
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                // A dangling link is an object that cannot be read, not the end of the walk.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if let Some(key) = key_of(root, &path) {
                        stack.push(Item::File(key, 0, false));
                    }
                    continue;
                }
                Err(e) => return Err(io("file", &path, e)),
            };
            if meta.is_dir() {
                stack.push(Item::Dir(path, depth + 1));
            } else if let Some(key) = key_of(root, &path) {
                stack.push(Item::File(key, meta.len(), meta.is_file()));
            }
        }
    }
    Ok(sent)
}

fn key_of(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    Some(
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
    )
}

/// Reads a regular file into `buf` (cleared first), at most `cap` bytes: more is
/// `too_large`. Anything else (a FIFO, a device, a socket) is refused before it is opened.
pub fn read_capped(path: &Path, cap: u64, buf: &mut Vec<u8>) -> Result<(), ReadError> {
    buf.clear();
    let meta = std::fs::metadata(path).map_err(|e| ReadError::from_io(path, &e))?;
    if !meta.is_file() {
        return Err(ReadError::not_a_file(path));
    }
    if meta.len() > cap {
        return Err(ReadError {
            status: "too_large",
            error: format!("larger than the {cap}-byte object cap"),
        });
    }
    // Exactly the file's size (plus one byte to see it grow): no geometric over-allocation.
    buf.reserve_exact(meta.len() as usize + 1);
    let n = std::fs::File::open(path)
        .and_then(|f| f.take(cap.saturating_add(1)).read_to_end(buf))
        .map_err(|e| ReadError::from_io(path, &e))?;
    if n as u64 > cap {
        return Err(ReadError {
            status: "too_large",
            error: format!("larger than the {cap}-byte object cap"),
        });
    }
    Ok(())
}
