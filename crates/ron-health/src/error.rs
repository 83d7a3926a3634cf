//! Errors returned when a gate is named badly.

/// An error from [`HealthSnapshot::set_service`](crate::HealthSnapshot::set_service).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HealthError {
    /// The service name cannot be used as a gate name.
    #[error("invalid service name {name:?}: {reason}")]
    InvalidServiceName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: NameProblem,
    },
}

/// Why a service name was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameProblem {
    /// The name is empty.
    #[error("the name is empty")]
    Empty,
    /// The name is longer than [`MAX_SERVICE_NAME_LEN`](crate::MAX_SERVICE_NAME_LEN) bytes.
    #[error("the name is longer than {} bytes", crate::MAX_SERVICE_NAME_LEN)]
    TooLong,
    /// The name contains a character other than ASCII letters, digits, `_`, `-`, `.`, `:` or `/`.
    #[error("only ASCII letters, digits and `_-.:/` are allowed")]
    BadCharacter,
    /// The name is one of the kernel's own gates (`config_loaded`, `services`).
    #[error("the name is reserved for a kernel gate")]
    Reserved,
}
