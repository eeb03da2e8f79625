//! The evidence pack: what an evidence directory holds beyond the tables and `summary.json`
//! (or `validate.json`), made from the directory alone ([`super::evidence`]) so that
//! `trailproof report DIR` renders the same bytes: the OSCAL assessment results
//! ([`super::oscal`]), the OCSF findings ([`super::ocsf`]), `report.html` ([`super::html`])
//! and last `manifest.json` ([`super::manifest`]), which hashes every other file and every
//! input object read. See `docs/evidence-pack.md`.

use std::path::Path;

use super::evidence::{self, OCSF, OSCAL, REPORT, Run};
use crate::error::Result;

/// Writes the pack into `dir` (a run's staging directory, the tables and the run's document
/// already there): OSCAL, OCSF, `report.html`, then `manifest.json`.
pub fn write(dir: &Path) -> Result<()> {
    let run = Run::read(dir)?;
    evidence::write_file(dir, OSCAL, &super::oscal::render(&run)?)?;
    evidence::write_file(dir, OCSF, &super::ocsf::render(&run)?)?;
    evidence::write_file(dir, REPORT, super::html::render(&run)?.as_bytes())?;
    super::manifest::write(dir)
}
