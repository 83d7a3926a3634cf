//! The bridge's errors.

/// Why a bridge, its topics or its metrics could not be set up.
///
/// Nothing the network does is an error here: a NATS server that is down,
/// goes away or sends garbage is retried, counted and logged, never returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// A topic name, the cluster or the node is not a NATS subject token
    /// (one or more of `A-Z a-z 0-9 _ -`).
    #[error("{what} {value:?} is not a subject token (one or more of A-Z a-z 0-9 _ -)")]
    InvalidName {
        /// What was named: `"topic"`, `"cluster"` or `"node"`.
        what: &'static str,
        /// The name as given.
        value: String,
    },
    /// A topic's bit is zero or has more than one bit set.
    #[error("topic {name:?} has bit {bit:#x}: a topic is exactly one bit")]
    TopicBit {
        /// The topic's name.
        name: &'static str,
        /// Its bit as given.
        bit: u64,
    },
    /// Two topics share a bit or a name.
    #[error("topic {name:?} reuses a bit or a name of another topic")]
    DuplicateTopic {
        /// The second topic with that bit or name.
        name: &'static str,
    },
    /// [`Topics::mask`](crate::Topics::mask) was given a name the table does not hold.
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    /// The NATS URL does not parse.
    #[error("invalid NATS url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What the client said about it.
        reason: String,
    },
    /// [`Bridge::start`](crate::Bridge::start) was called outside a tokio runtime.
    #[error("the bridge must be started inside a tokio runtime")]
    NoRuntime,
    /// The bridge's metrics could not be registered (most often: already
    /// registered on that registry).
    #[error("cannot register the bridge metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// An event could not be encoded as JSON.
    #[error("cannot encode the event: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Why [`envelope::decode`](crate::envelope::decode) refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not an envelope of this crate (not JSON, a missing or mistyped
    /// field, `v` below 1, or an event that is not a `T`): counted as
    /// `bridge_dropped_total{reason="malformed"}`.
    #[error("malformed or foreign message: {0}")]
    Malformed(String),
    /// An envelope of a newer encoding version than this build reads:
    /// counted as `bridge_dropped_total{reason="version"}`.
    #[error("encoding version {0} is newer than {max}", max = crate::envelope::VERSION)]
    Version(u64),
}
