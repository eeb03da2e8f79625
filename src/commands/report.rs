//! `trailproof report DIR` (re-render report.html from the directory alone) and
//! `trailproof verify-evidence DIR` (re-check the directory against its manifest).

use std::path::PathBuf;

use crate::error::Result;
use crate::report::evidence;

use super::Outcome;

/// Settings of `report`.
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    /// Default: DIR/report.html.
    pub output: Option<PathBuf>,
}

pub fn run(config: Config) -> Result<Outcome> {
    let run = evidence::Run::read(&config.dir)?;
    let html = crate::report::html::render(&run)?;
    let recorded = crate::report::manifest::recorded(&config.dir, evidence::REPORT);
    let sha = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(html.as_bytes()))
    };
    let same = recorded.as_deref() == Some(sha.as_str());
    let path = config
        .output
        .clone()
        .unwrap_or_else(|| config.dir.join(evidence::REPORT));
    let (dir, name) = (
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| PathBuf::from(".")),
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| crate::Error::usage("--output needs a file name"))?,
    );
    // The evidence directory is the run's, byte for byte: only the very report it recorded
    // may be written back into it.
    let inside = std::fs::canonicalize(&dir).ok() == std::fs::canonicalize(&config.dir).ok();
    if inside && !(name == evidence::REPORT && same) {
        return Err(crate::Error::usage(format!(
            "{}: the re-rendered report differs from the one {} records (or would replace another evidence file); write it elsewhere with --output FILE",
            path.display(),
            evidence::MANIFEST
        )));
    }
    evidence::write_file(&dir, &name, html.as_bytes())?;
    let note = match recorded {
        Some(_) if same => "identical to the report the run recorded in manifest.json",
        Some(_) => {
            "differs from the report recorded in manifest.json (rendered by another trailproof version?)"
        }
        None => "no manifest.json records a report to compare with",
    };
    println!("{} ({} bytes): {note}", path.display(), html.len());
    Ok(Outcome { exit_code: 0 })
}

/// Settings of `verify-evidence`.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    pub dir: PathBuf,
    pub manifest_sha256: Option<String>,
    pub format: crate::report::Format,
}

pub fn verify(config: VerifyConfig) -> Result<Outcome> {
    let v = crate::report::manifest::verify(&config.dir, config.manifest_sha256.as_deref())?;
    crate::report::print(config.format, &v)?;
    Ok(Outcome {
        exit_code: v.exit_code,
    })
}
