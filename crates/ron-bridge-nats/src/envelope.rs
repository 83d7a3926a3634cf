//! The wire format: one JSON object per NATS message.
//!
//! ```text
//! subject: ron.<cluster>.<node>.<topic>
//! payload: {"v":1,"node":"<node>","topic":"<topic>","event":<the event as JSON>}
//! ```
//!
//! `v` is the encoding version. A reader skips (and counts) an envelope whose
//! `v` is newer than [`VERSION`], so a fleet can be upgraded node by node:
//! a new field in a later version is a new version only when old readers
//! would misread it; fields an old reader does not know are ignored.
//!
//! ```
//! use ron_bridge_nats::envelope::{self, Envelope};
//! use ron_bridge_nats::DecodeError;
//!
//! let bytes = envelope::encode("node-a", "crash", &vec!["svc", "boom"])?;
//! assert_eq!(
//!     std::str::from_utf8(&bytes).unwrap(),
//!     r#"{"v":1,"node":"node-a","topic":"crash","event":["svc","boom"]}"#
//! );
//! let back: Envelope<Vec<String>> = envelope::decode(&bytes)?;
//! assert_eq!(back.node, "node-a");
//! assert_eq!(back.topic, "crash");
//! assert_eq!(back.event, ["svc", "boom"]);
//!
//! let newer = br#"{"v":2,"node":"b","topic":"crash","payload":"?"}"#;
//! assert_eq!(envelope::decode::<u32>(newer).err(), Some(DecodeError::Version(2)));
//! assert!(matches!(envelope::decode::<u32>(b"hello"), Err(DecodeError::Malformed(_))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{BridgeError, DecodeError};

/// The encoding version this build writes, and the newest it reads.
pub const VERSION: u64 = 1;

/// A decoded envelope.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Envelope<T> {
    /// The node that published the event.
    pub node: String,
    /// The event's topic name.
    pub topic: String,
    /// The event.
    pub event: T,
}

/// The part of an envelope read first, whatever its version: only `v`, so a
/// newer envelope whose other fields changed shape is still recognised as
/// newer rather than as malformed.
#[derive(Deserialize)]
struct Version {
    v: u64,
}

#[derive(Serialize)]
struct Out<'a, T> {
    v: u64,
    node: &'a str,
    topic: &'a str,
    event: &'a T,
}

/// Encodes `event` of `node` on `topic` as a version-[`VERSION`] envelope.
///
/// # Errors
///
/// [`BridgeError::Encode`] when `event`'s `Serialize` fails.
pub fn encode<T: Serialize>(node: &str, topic: &str, event: &T) -> Result<Vec<u8>, BridgeError> {
    Ok(serde_json::to_vec(&Out {
        v: VERSION,
        node,
        topic,
        event,
    })?)
}

/// The bytes of an envelope before its event, for one node and topic: the
/// export path writes this prefix, the event and `}` (the same bytes as
/// [`encode`], without re-encoding the node and topic per event).
pub(crate) fn prefix(node: &str, topic: &str) -> Result<Vec<u8>, BridgeError> {
    let mut out = format!("{{\"v\":{VERSION},\"node\":").into_bytes();
    serde_json::to_writer(&mut out, node)?;
    out.extend_from_slice(b",\"topic\":");
    serde_json::to_writer(&mut out, topic)?;
    out.extend_from_slice(b",\"event\":");
    Ok(out)
}

/// Decodes an envelope, checking its version before its shape.
///
/// # Errors
///
/// [`DecodeError::Version`] when `v` is newer than [`VERSION`];
/// [`DecodeError::Malformed`] for anything else that is not a version-1
/// envelope of a `T` (anything that is not a JSON object among them).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<Envelope<T>, DecodeError> {
    // An envelope is a JSON object, in every version: serde would also read
    // a struct from an array (`[2]` as `v = 2`), which is not one of ours.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(DecodeError::Malformed("not a JSON object".to_owned()));
    }
    let Version { v } =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if v > VERSION {
        return Err(DecodeError::Version(v));
    }
    if v < VERSION {
        return Err(DecodeError::Malformed(format!("version {v}")));
    }
    serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Ev {
        Crashed { service: String, reason: String },
        Tick(u64),
    }

    #[test]
    fn round_trip_and_prefix_match_encode() {
        let ev = Ev::Crashed {
            service: "a\"b".into(),
            reason: "ü\n".into(),
        };
        let bytes = encode("n-1", "crash", &ev).unwrap();
        let mut manual = prefix("n-1", "crash").unwrap();
        serde_json::to_writer(&mut manual, &ev).unwrap();
        manual.push(b'}');
        assert_eq!(bytes, manual);
        let back: Envelope<Ev> = decode(&bytes).unwrap();
        assert_eq!(
            back,
            Envelope {
                node: "n-1".into(),
                topic: "crash".into(),
                event: ev
            }
        );
    }

    #[test]
    fn field_order_and_unknown_fields_do_not_matter() {
        let bytes = br#"{"event":{"Tick":7},"extra":[1],"topic":"t","node":"x","v":1}"#;
        let back: Envelope<Ev> = decode(bytes).unwrap();
        assert_eq!(back.event, Ev::Tick(7));
    }

    #[test]
    fn newer_versions_are_recognised_whatever_their_shape() {
        for bytes in [
            &br#"{"v":2,"node":"x","topic":"t","event":{"Tick":7}}"#[..],
            br#"{"v":2}"#,
            br#"{"v":99,"event":"new shape"}"#,
        ] {
            assert!(matches!(decode::<Ev>(bytes), Err(DecodeError::Version(v)) if v > 1));
        }
    }

    #[test]
    fn foreign_messages_are_malformed() {
        for bytes in [
            &b""[..],
            b"not json",
            b"\xff\xfe",
            b"[1,2,3]",
            br#"{"node":"x","topic":"t","event":{"Tick":7}}"#,
            br#"{"v":"1","node":"x","topic":"t","event":{"Tick":7}}"#,
            br#"{"v":0,"node":"x","topic":"t","event":{"Tick":7}}"#,
            br#"{"v":-1}"#,
            br#"{"v":1,"node":"x","topic":"t"}"#,
            br#"{"v":1,"node":"x","topic":"t","event":{"Nope":7}}"#,
            br#"{"v":1,"node":7,"topic":"t","event":{"Tick":7}}"#,
            br#"{"v":1,"node":"x","topic":"t","event":{"Tick":7}"#,
            // Arrays are not envelopes, whatever their first element.
            b"[2]",
            b" [7, 1]",
            b"[1]",
        ] {
            assert!(
                matches!(decode::<Ev>(bytes), Err(DecodeError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}
