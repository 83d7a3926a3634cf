//! A crash's reason, as the text [`SupervisorEvent::Crashed`] carries: the
//! whole error chain of an `Err`, or a panic's message.
//!
//! [`SupervisorEvent::Crashed`]: crate::SupervisorEvent::Crashed

use std::error::Error;

use tokio::task::JoinError;

/// The error followed by each of its sources, `outer: inner: root`, as
/// anyhow and eyre print `{:#}`: the outermost message alone would hide the
/// root cause ("cannot load the catalogue", but why?).
///
/// A source whose text the chain so far already ends with is skipped: an
/// error written `#[error("cannot connect: {0}")]` shows its source itself,
/// and printing it again would only repeat it.
pub(crate) fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !chain.ends_with(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        source = cause.source();
    }
    chain
}

/// The panic message of a panicked task (or why the task ended otherwise).
pub(crate) fn panic_reason(error: JoinError) -> String {
    if !error.is_panic() {
        return "task cancelled".to_owned();
    }
    let payload = error.into_panic();
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}
