//! The benchmark's error type: what failed, and why, for the one line printed on exit.

use std::error::Error;

/// A failed step of the benchmark.
#[derive(Debug, thiserror::Error)]
#[error("{what}{}", cause.as_ref().map(|c| format!(": {c}")).unwrap_or_default())]
pub struct BenchError {
    what: String,
    cause: Option<Box<dyn Error + Send + Sync>>,
}

impl BenchError {
    pub fn msg(what: impl Into<String>) -> Self {
        BenchError {
            what: what.into(),
            cause: None,
        }
    }
}

pub type Result<T> = std::result::Result<T, BenchError>;

/// Names the step that failed.
pub trait Context<T> {
    fn context(self, what: &str) -> Result<T>;
}

impl<T, E: Into<Box<dyn Error + Send + Sync>>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: &str) -> Result<T> {
        self.map_err(|e| BenchError {
            what: what.to_owned(),
            cause: Some(e.into()),
        })
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: &str) -> Result<T> {
        self.ok_or_else(|| BenchError::msg(what))
    }
}
