//! A file written whole or not at all: written beside its place, synced, renamed into place,
//! its directory synced. Used for the state (`--state`) and the canary file.

use std::io::Write;
use std::path::Path;

/// Writes `body` to `path` atomically; on failure the temporary file is removed and `path`
/// is left as it was.
pub fn write(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    result
}
