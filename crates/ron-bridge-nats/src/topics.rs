//! Topic names: how an event's topic bit becomes a subject token and back.

use std::fmt;

use crate::BridgeError;

/// How the bridge names an event's topic: its topic bit (`of`) and a table
/// bit -> name.
///
/// Names are NATS subject tokens (`[A-Za-z0-9_-]+`): the last token of the
/// subject `ron.<cluster>.<node>.<topic>` and the `topic` field of the
/// envelope. Bits are single and distinct, names distinct, so a name
/// identifies a bit on every node that shares the table.
///
/// ```
/// use ron_bridge_nats::Topics;
///
/// #[derive(Clone)]
/// enum Event { Up, Crashed }
/// const UP: u64 = 1 << 0;
/// const CRASH: u64 = 1 << 1;
///
/// let topics = Topics::new(
///     |e: &Event| match e { Event::Up => UP, Event::Crashed => CRASH },
///     &[(UP, "up"), (CRASH, "crash")],
/// )?;
/// assert_eq!(topics.mask(&["crash"])?, CRASH);
/// assert_eq!(topics.mask(&["*"])?, UP | CRASH);
/// assert_eq!(topics.name(CRASH), Some("crash"));
/// assert_eq!(topics.bit("up"), Some(UP));
/// assert_eq!(topics.topic_of(&Event::Crashed), CRASH);
/// assert!(topics.mask(&["nope"]).is_err());
/// # Ok::<(), ron_bridge_nats::BridgeError>(())
/// ```
pub struct Topics<T> {
    of: fn(&T) -> u64,
    /// Indexed by the bit's position: at most 64 entries, looked up per event.
    by_bit: [Option<&'static str>; 64],
    all: u64,
}

impl<T> Topics<T> {
    /// A table of `names`, with `of` giving an event's topic bit.
    ///
    /// # Errors
    ///
    /// [`BridgeError::InvalidName`] for a name that is not a subject token,
    /// [`BridgeError::TopicBit`] for a bit that is not exactly one bit,
    /// [`BridgeError::DuplicateTopic`] for a bit or name used twice.
    pub fn new(of: fn(&T) -> u64, names: &[(u64, &'static str)]) -> Result<Self, BridgeError> {
        let mut by_bit = [None; 64];
        let mut all = 0u64;
        for &(bit, name) in names {
            check_token("topic", name)?;
            if bit.count_ones() != 1 {
                return Err(BridgeError::TopicBit { name, bit });
            }
            let duplicate_name = by_bit.iter().flatten().any(|known| *known == name);
            if all & bit != 0 || duplicate_name {
                return Err(BridgeError::DuplicateTopic { name });
            }
            all |= bit;
            by_bit[bit.trailing_zeros() as usize] = Some(name);
        }
        Ok(Self { of, by_bit, all })
    }

    /// The mask of the named topics; `"*"` stands for every named topic.
    ///
    /// # Errors
    ///
    /// [`BridgeError::UnknownTopic`] for a name the table does not hold.
    pub fn mask<S: AsRef<str>>(&self, names: &[S]) -> Result<u64, BridgeError> {
        let mut mask = 0;
        for name in names {
            let name = name.as_ref();
            if name == "*" {
                mask |= self.all;
                continue;
            }
            mask |= self
                .bit(name)
                .ok_or_else(|| BridgeError::UnknownTopic(name.to_owned()))?;
        }
        Ok(mask)
    }

    /// Every named topic's bit.
    pub fn all(&self) -> u64 {
        self.all
    }

    /// The name of a single topic bit, if the table holds it.
    pub fn name(&self, bit: u64) -> Option<&'static str> {
        if bit.count_ones() != 1 {
            return None;
        }
        self.by_bit[bit.trailing_zeros() as usize]
    }

    /// The bit of a topic name, if the table holds it.
    pub fn bit(&self, name: &str) -> Option<u64> {
        self.by_bit
            .iter()
            .enumerate()
            .find(|(_, known)| **known == Some(name))
            .map(|(position, _)| 1u64 << position)
    }

    /// The topic bit of `event`, as the `of` function given to [`new`](Self::new) says.
    pub fn topic_of(&self, event: &T) -> u64 {
        (self.of)(event)
    }

    /// The named topics inside `mask`, as `(bit, name)`, lowest bit first.
    pub fn named_in(&self, mask: u64) -> impl Iterator<Item = (u64, &'static str)> + '_ {
        self.by_bit
            .iter()
            .enumerate()
            .filter_map(move |(position, name)| {
                let bit = 1u64 << position;
                (mask & bit != 0).then_some(())?;
                name.map(|name| (bit, name))
            })
    }
}

impl<T> Clone for Topics<T> {
    fn clone(&self) -> Self {
        Self {
            of: self.of,
            by_bit: self.by_bit,
            all: self.all,
        }
    }
}

impl<T> fmt::Debug for Topics<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.named_in(u64::MAX).map(|(bit, name)| (name, bit)))
            .finish()
    }
}

/// Whether `value` is one NATS subject token of the safe alphabet: no `.`,
/// no wildcard, no whitespace, so it can never change a subject's shape.
pub(crate) fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(crate) fn check_token(what: &'static str, value: &str) -> Result<(), BridgeError> {
    if is_token(value) {
        Ok(())
    } else {
        Err(BridgeError::InvalidName {
            what,
            value: value.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(e: &u64) -> u64 {
        *e
    }

    #[test]
    fn names_and_bits_round_trip() {
        let topics = Topics::new(of, &[(1, "a"), (4, "c-2"), (1 << 63, "top_bit")]).unwrap();
        assert_eq!(topics.all(), 1 | 4 | 1 << 63);
        assert_eq!(topics.name(4), Some("c-2"));
        assert_eq!(topics.name(1 << 63), Some("top_bit"));
        assert_eq!(topics.name(2), None);
        assert_eq!(topics.name(0), None);
        assert_eq!(topics.name(5), None, "two bits are not a topic");
        assert_eq!(topics.bit("a"), Some(1));
        assert_eq!(topics.bit("b"), None);
        assert_eq!(topics.mask(&["a", "top_bit"]).unwrap(), 1 | 1 << 63);
        assert_eq!(topics.mask(&["*"]).unwrap(), topics.all());
        assert_eq!(topics.mask::<&str>(&[]).unwrap(), 0);
        assert!(matches!(
            topics.mask(&["a", "zz"]),
            Err(BridgeError::UnknownTopic(name)) if name == "zz"
        ));
        let named: Vec<_> = topics.named_in(1 | 2 | 4).collect();
        assert_eq!(named, [(1, "a"), (4, "c-2")]);
        assert_eq!(topics.topic_of(&4), 4);
    }

    #[test]
    fn bad_tables_are_refused() {
        for bad in ["", "a.b", "a*", ">", "a b", "é"] {
            assert!(
                matches!(
                    Topics::new(of, &[(1, bad)]),
                    Err(BridgeError::InvalidName { what: "topic", .. })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Topics::new(of, &[(0, "zero")]),
            Err(BridgeError::TopicBit { bit: 0, .. })
        ));
        assert!(matches!(
            Topics::new(of, &[(3, "two")]),
            Err(BridgeError::TopicBit { bit: 3, .. })
        ));
        assert!(matches!(
            Topics::new(of, &[(1, "a"), (1, "b")]),
            Err(BridgeError::DuplicateTopic { name: "b" })
        ));
        assert!(matches!(
            Topics::new(of, &[(1, "a"), (2, "a")]),
            Err(BridgeError::DuplicateTopic { name: "a" })
        ));
    }
}
