//! trailproof: prove that CloudTrail really records every enabled region.
//!
//! The binary parses a [`cli::Cli`], validates it into a [`commands::Invocation`] and runs
//! it. The layers, top to bottom (each imports only those below it; see README, "Code map"):
//! [`cli`] → [`commands`] → [`state`] → [`pipeline`] → [`report`] → [`integrity`] → [`coverage`] →
//! [`decode`] → [`source`] → [`check`], [`regions`], [`shard`], [`permissions`], [`aws`], [`time`], [`error`];
//! [`generate`] is the development tool beside them.

pub mod atomic;
pub mod aws;
pub mod canary;
pub mod check;
pub mod cli;
pub mod commands;
pub mod coverage;
pub mod decode;
pub mod error;
pub mod generate;
pub mod integrity;
pub mod permissions;
pub mod pipeline;
pub mod regions;
pub mod report;
pub mod shard;
pub mod source;
pub mod state;
pub mod time;

pub use error::{Error, ErrorKind, Result};
