//! The error that ends a command, and its exit code (SPEC §2):
//! 0 ok, 1 error, 2 plan has changes (`--detailed-exitcode`, not an error),
//! 3 a side is unavailable, 4 a safety guard refused.
//!
//! Each stage keeps its own error type; this one only sorts them into exit
//! codes, so the stages never depend on the command line.

use crate::Side;
use crate::apply::ApplyError;
use crate::apply::trash::TrashError;
use crate::config::ConfigError;
use crate::pipeline::PipelineError;
use crate::plan::PlanError;
use crate::roots::{InitError, RootError, Unavailable};
use crate::state::StateError;

/// A command failure and its exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A side is unavailable (exit 3): which one, when known, and why.
    #[error("{msg}")]
    Unavailable { side: Option<Side>, msg: String },
    /// A safety refusal (exit 4).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Other(String),
}

impl RunError {
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Unavailable { .. } => 3,
            Self::Refused(_) => 4,
            _ => 1,
        }
    }
}

impl From<Unavailable> for RunError {
    fn from(e: Unavailable) -> Self {
        Self::Unavailable {
            side: Some(e.side),
            msg: e.to_string(),
        }
    }
}

impl From<RootError> for RunError {
    fn from(e: RootError) -> Self {
        e.unpack()
    }
}

impl From<PipelineError> for RunError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Unavailable(u) => u.into(),
            PipelineError::State(s) => Self::State(s),
            PipelineError::Guard(r) => Self::Refused(format!("refused: {r}")),
        }
    }
}

impl From<ApplyError> for RunError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Refused(m) => Self::Refused(format!("refused: {m}")),
            ApplyError::Unavailable(u) => u.into(),
            ApplyError::State(s) => Self::State(s),
            ApplyError::Stopped(f) => Self::Other(format!("apply stopped: {f}")),
        }
    }
}

impl From<InitError> for RunError {
    fn from(e: InitError) -> Self {
        match e {
            InitError::Unavailable(m) => Self::Unavailable { side: None, msg: m },
            InitError::Write(m) => Self::Other(m),
            InitError::State(s) => Self::State(s),
        }
    }
}

impl From<TrashError> for RunError {
    fn from(e: TrashError) -> Self {
        match e {
            TrashError::Refused(m) => Self::Other(m),
            TrashError::State(s) => Self::State(s),
        }
    }
}
