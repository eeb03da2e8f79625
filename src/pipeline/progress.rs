//! Progress of a run: a spinner with objects done and megabytes read, on stderr, drawn only
//! when stderr is a terminal and not turned off.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The bar and the task that refreshes its message.
pub(super) struct Progress {
    bar: indicatif::ProgressBar,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts drawing when `wanted` and stderr is a terminal; else a hidden bar.
    pub(super) fn start(wanted: bool, read_bytes: Arc<AtomicU64>) -> Self {
        if !(wanted && std::io::IsTerminal::is_terminal(&std::io::stderr())) {
            return Progress {
                bar: indicatif::ProgressBar::hidden(),
                ticker: None,
            };
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} objects, {msg} [{elapsed}]")
                .expect("template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        // The ticker holds only its counter, never the writers' senders.
        let b = bar.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                b.set_message(format!(
                    "{:.1} MB read",
                    read_bytes.load(Ordering::Relaxed) as f64 / 1e6
                ));
            }
        });
        Progress {
            bar,
            ticker: Some(ticker),
        }
    }

    /// The bar the workers advance.
    pub(super) fn bar(&self) -> indicatif::ProgressBar {
        self.bar.clone()
    }

    pub(super) fn finish(self) {
        if let Some(t) = self.ticker {
            t.abort();
        }
        self.bar.finish_and_clear();
    }
}
