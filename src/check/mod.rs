//! `trailproof check`: the configuration verdict of `config-check.md` §4.
//!
//! [`collect`] gathers [`Facts`] from AWS (I/O, failures kept as data); [`evaluate`] is the
//! pure decision procedure; [`render`] prints text or JSON.

pub mod collect;
pub mod model;
pub mod render;
pub mod selectors;
pub mod verdict;

use std::time::Duration;

pub use collect::collect;
pub use model::Facts;
pub use verdict::{Evaluation, Verdict, evaluate};

use crate::cli::Ruleset;

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
            max_delivery_age: Duration::from_secs(86_400),
            regions: None,
            exclude_regions: Vec::new(),
            concurrency: 16,
        }
    }
}

/// Gathers the facts and evaluates them.
pub async fn run(clients: &crate::aws::CheckClients, opts: &CheckOptions) -> (Facts, Evaluation) {
    let facts = collect(clients, opts).await;
    let eval = evaluate(&facts, opts);
    (facts, eval)
}
