//! The configuration verdict (`docs/decision-procedure.md` §4).
//!
//! [`collect`] gathers [`Facts`] from AWS (I/O, failures kept as data); [`evaluate`] is the
//! pure decision procedure. Rendering is `crate::report::check`'s.

pub mod collect;
pub mod model;
pub mod selectors;
pub mod verdict;

use std::time::Duration;

pub use collect::collect;
pub use model::Facts;
pub use verdict::{Evaluation, Verdict, evaluate};

/// A compliant trail whose last delivery is older than this warns (`STALE_DELIVERY`).
pub const DEFAULT_MAX_DELIVERY_AGE: &str = "24h";
/// AWS calls in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Which benchmark's reading of the rules decides the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ruleset {
    /// AWS Config `multi-region-cloudtrail-enabled` / Security Hub CloudTrail.1 parity:
    /// excluding KMS or RDS Data API events fails.
    Aws,
    /// The CIS text as written: excluded event sources only warn.
    CisLiteral,
}

/// Options of the decision procedure.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub ruleset: Ruleset,
    pub semantic: bool,
    pub max_delivery_age: Duration,
    /// `--regions`: the scope, instead of discovery.
    pub regions: Option<Vec<String>>,
    pub exclude_regions: Vec<String>,
    pub concurrency: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            ruleset: Ruleset::Aws,
            semantic: false,
            max_delivery_age: crate::time::parse_duration(DEFAULT_MAX_DELIVERY_AGE)
                .expect("a valid default"),
            regions: None,
            exclude_regions: Vec::new(),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// Gathers the facts and evaluates them.
pub async fn run(clients: &crate::aws::CheckClients, opts: &CheckOptions) -> (Facts, Evaluation) {
    let facts = collect(clients, opts).await;
    let eval = evaluate(&facts, opts);
    (facts, eval)
}
