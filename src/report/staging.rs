//! The evidence directory, all or nothing: a run writes into a fresh directory beside the
//! target, holding a lock on the target's name, and moves it into place only when every file
//! is complete. A failed or interrupted run leaves the previous evidence as it was (a
//! half-written directory is removed on failure, and by the next run after a kill); two runs
//! into one directory cannot interleave: the second is refused while the first holds the lock.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

/// A run's evidence directory being written.
#[derive(Debug)]
pub struct Staging {
    target: PathBuf,
    tmp: PathBuf,
    /// Held until the run ends; the OS releases it if the process dies.
    _lock: File,
    committed: bool,
}

fn io(what: String, e: std::io::Error) -> Error {
    Error::with_source(ErrorKind::Io, what, e)
}

impl Staging {
    /// Locks `target`'s name and creates the directory the run writes into.
    pub fn begin(target: &Path) -> Result<Staging> {
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
            .ok_or_else(|| {
                Error::usage(format!(
                    "{}: the evidence directory needs a name",
                    target.display()
                ))
            })?
            .to_owned();
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .map_err(|e| io(format!("cannot create {}", parent.display()), e))?;
        let lock_path = parent.join(format!(".{name}.lock"));
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(format!("cannot open {}", lock_path.display()), e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!(
                        "{} is being written by another run (lock {}); it was left as it was",
                        target.display(),
                        lock_path.display()
                    ),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io(format!("cannot lock {}", lock_path.display()), e));
            }
        }
        // Under the lock: what an earlier, killed run left behind.
        let old = parent.join(format!(".{name}.old"));
        if !target.exists() && old.is_dir() {
            // Killed between the two renames of a commit: the previous evidence comes back.
            std::fs::rename(&old, target)
                .map_err(|e| io(format!("cannot restore {}", target.display()), e))?;
        }
        if let Ok(entries) = std::fs::read_dir(&parent) {
            let stale = format!(".{name}.tmp-");
            for e in entries.flatten() {
                let file = e.file_name().to_string_lossy().into_owned();
                // Exactly `.NAME.tmp-PID-NANOS`: another target's staging never matches.
                let ours = file.strip_prefix(&stale).is_some_and(|rest| {
                    rest.split_once('-').is_some_and(|(a, b)| {
                        !a.is_empty()
                            && !b.is_empty()
                            && a.bytes().all(|c| c.is_ascii_digit())
                            && b.bytes().all(|c| c.is_ascii_digit())
                    })
                });
                if ours || e.path() == old {
                    std::fs::remove_dir_all(e.path()).ok();
                }
            }
        }
        if let Ok(meta) = std::fs::symlink_metadata(target) {
            use std::os::unix::fs::MetadataExt;
            if meta.file_type().is_symlink() {
                return Err(Error::usage(format!(
                    "{} is a symbolic link: a run replaces its --out whole, so give the directory it points to",
                    target.display()
                )));
            }
            let parent_dev = std::fs::metadata(&parent).map(|m| m.dev()).ok();
            if meta.is_dir() && parent_dev.is_some_and(|d| d != meta.dev()) {
                return Err(Error::usage(format!(
                    "{} is a mount point: a run replaces its --out whole, so give a directory inside it",
                    target.display()
                )));
            }
        }
        if let Some(foreign) = foreign_entry(target)? {
            return Err(Error::usage(format!(
                "{} holds {foreign}, which no trailproof run writes: it is not an evidence directory, and a run replaces its --out whole (choose an empty or new directory)",
                target.display()
            )));
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let tmp = parent.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&tmp).map_err(|e| io(format!("cannot create {}", tmp.display()), e))?;
        Ok(Staging {
            target: target.to_path_buf(),
            tmp,
            _lock: lock,
            committed: false,
        })
    }

    /// Where the run writes.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// The directory the evidence ends up in.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Moves the complete run into place, replacing the previous evidence.
    pub fn commit(mut self) -> Result<()> {
        let parent = self.tmp.parent().unwrap_or(Path::new(".")).to_path_buf();
        let name = self
            .target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("evidence")
            .to_owned();
        // Every file is flushed to disk before the directory is moved into place.
        for e in std::fs::read_dir(&self.tmp)
            .map_err(|e| io(format!("cannot read {}", self.tmp.display()), e))?
            .flatten()
        {
            if let Ok(f) = File::open(e.path()) {
                f.sync_all().ok();
            }
        }
        let old = parent.join(format!(".{name}.old"));
        if self.target.exists() {
            std::fs::rename(&self.target, &old)
                .map_err(|e| io(format!("cannot move {} aside", self.target.display()), e))?;
        }
        std::fs::rename(&self.tmp, &self.target).map_err(|e| {
            // Put the previous evidence back.
            std::fs::rename(&old, &self.target).ok();
            io(
                format!("cannot move the run into {}", self.target.display()),
                e,
            )
        })?;
        self.committed = true;
        if old.exists()
            && let Err(e) = std::fs::remove_dir_all(&old)
        {
            // The new evidence is in place; the next run removes what is left of the old.
            tracing::warn!(path = %old.display(), error = %e, "Cannot remove the previous evidence.");
        }
        Ok(())
    }
}

/// The files an evidence directory holds.
const EVIDENCE_FILES: [&str; 13] = [
    "coverage.parquet",
    "gaps.parquet",
    "files.parquet",
    "events.parquet",
    "silences.parquet",
    "trail_changes.parquet",
    "summary.json",
    "validate.json",
    // `verify --canary-send-and-wait`: the probes it sent.
    "canary.json",
    super::evidence::OSCAL,
    super::evidence::OCSF,
    super::evidence::REPORT,
    super::evidence::MANIFEST,
];

/// The first entry of an existing `dir` that is not evidence, if any.
fn foreign_entry(dir: &Path) -> Result<Option<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(format!("cannot read {}", dir.display()), e)),
    };
    for e in entries {
        let e = e.map_err(|e| io(format!("cannot read {}", dir.display()), e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !EVIDENCE_FILES.contains(&name.as_str()) || !e.path().is_file() {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            std::fs::remove_dir_all(&self.tmp).ok();
            eprintln!(
                "trailproof: the run did not complete; {} was left as it was",
                self.target.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_replaces_the_evidence_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let s = Staging::begin(&target).unwrap();
        std::fs::write(s.path().join("summary.json"), "one").unwrap();
        std::fs::write(s.path().join("events.parquet"), "one").unwrap();
        // A second run into the same directory is refused while the first holds the lock.
        let second = Staging::begin(&target).unwrap_err().to_string();
        assert!(second.contains("another run"), "{second}");
        s.commit().unwrap();
        assert_eq!(
            std::fs::read_to_string(target.join("summary.json")).unwrap(),
            "one"
        );
        // A failed run leaves the previous evidence, and nothing of its own.
        let s = Staging::begin(&target).unwrap();
        std::fs::write(s.path().join("summary.json"), "two, half").unwrap();
        drop(s);
        assert_eq!(
            std::fs::read_to_string(target.join("summary.json")).unwrap(),
            "one"
        );
        // A complete run replaces everything: no file of the previous run stays beside it.
        let s = Staging::begin(&target).unwrap();
        std::fs::write(s.path().join("summary.json"), "three").unwrap();
        s.commit().unwrap();
        assert_eq!(
            std::fs::read_to_string(target.join("summary.json")).unwrap(),
            "three"
        );
        assert!(!target.join("events.parquet").exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "out" && n != ".out.lock")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        // A directory that is not evidence is never replaced.
        std::fs::write(target.join("notes.txt"), "mine").unwrap();
        let e = Staging::begin(&target).unwrap_err().to_string();
        assert!(e.contains("notes.txt"), "{e}");
        assert!(target.join("notes.txt").exists());
    }

    #[test]
    fn a_symlinked_out_is_refused_and_other_targets_staging_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        let e = Staging::begin(&dir.path().join("link"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("symbolic link"), "{e}");
        // `.out.tmp-x.tmp-1-2` is the staging of a target named `out.tmp-x`, not of `out`.
        let other = dir.path().join(".out.tmp-x.tmp-1-2");
        std::fs::create_dir(&other).unwrap();
        let s = Staging::begin(&dir.path().join("out")).unwrap();
        assert!(other.exists());
        drop(s);
    }

    #[test]
    fn a_run_killed_mid_commit_or_mid_write_is_repaired_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        // As a kill would leave it: the previous evidence moved aside, a stale staging dir.
        std::fs::create_dir(dir.path().join(".out.old")).unwrap();
        std::fs::write(dir.path().join(".out.old/summary.json"), "previous").unwrap();
        std::fs::create_dir(dir.path().join(".out.tmp-1-2")).unwrap();
        let s = Staging::begin(&target).unwrap();
        assert_eq!(
            std::fs::read_to_string(target.join("summary.json")).unwrap(),
            "previous"
        );
        assert!(!dir.path().join(".out.tmp-1-2").exists());
        drop(s);
    }
}
