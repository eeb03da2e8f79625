//! The crate's error type: a small, branchable [`ErrorKind`] plus context.

use std::fmt;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The command line or settings are invalid.
    Usage,
    /// An AWS call failed in a way that stops the command.
    Aws,
    /// Reading or writing a local file failed.
    Io,
    /// Rendering output failed.
    Output,
    /// Publishing a complete evidence directory failed (`--out s3://`); the local copy is kept.
    Publish,
    /// The state (`--state`) could not be read, is another source's or damaged, is in use by
    /// another run, or was advanced by another run before this one could.
    State,
}

/// The library's error.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error {
            kind,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The library's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
