//! Errors of the bus contract.

/// Why [`BusReceiver::recv`](crate::BusReceiver::recv) or
/// [`blocking_recv`](crate::BusReceiver::blocking_recv) returned no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// The subscriber fell more than `capacity` messages behind and lost this
    /// many of the oldest ones; the next receive returns the oldest message
    /// still retained.
    #[error("receiver lagged and lost {0} messages")]
    Lagged(u64),
    /// Every publisher handle is gone and every retained message was received.
    #[error("bus closed")]
    Closed,
}

/// Why [`BusReceiver::try_recv`](crate::BusReceiver::try_recv) returned no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// No message is waiting; the bus is still open.
    #[error("no message waiting")]
    Empty,
    /// As [`RecvError::Lagged`].
    #[error("receiver lagged and lost {0} messages")]
    Lagged(u64),
    /// As [`RecvError::Closed`].
    #[error("bus closed")]
    Closed,
}

/// Why a bus could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// A bus needs room for at least one message.
    #[error("bus capacity must be at least 1")]
    ZeroCapacity,
    /// The capacity asked for exceeds [`MAX_CAPACITY`](crate::MAX_CAPACITY).
    #[error("bus capacity {requested} exceeds the maximum of {max}")]
    CapacityTooLarge {
        /// The capacity asked for.
        requested: usize,
        /// The largest accepted capacity.
        max: usize,
    },
}

/// Validates a requested capacity and rounds it up to a power of two, as
/// every backend's ring needs.
///
/// # Errors
///
/// [`BusError::ZeroCapacity`] for 0, [`BusError::CapacityTooLarge`] above
/// [`MAX_CAPACITY`](crate::MAX_CAPACITY).
pub fn normalize_capacity(requested: usize) -> Result<usize, BusError> {
    match requested {
        0 => Err(BusError::ZeroCapacity),
        n if n > crate::MAX_CAPACITY => Err(BusError::CapacityTooLarge {
            requested: n,
            max: crate::MAX_CAPACITY,
        }),
        n => Ok(n.next_power_of_two()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_validated_and_rounded_up() {
        assert_eq!(normalize_capacity(0), Err(BusError::ZeroCapacity));
        assert_eq!(normalize_capacity(1), Ok(1));
        assert_eq!(normalize_capacity(3), Ok(4));
        assert_eq!(normalize_capacity(64), Ok(64));
        assert_eq!(
            normalize_capacity(crate::MAX_CAPACITY),
            Ok(crate::MAX_CAPACITY)
        );
        assert_eq!(
            normalize_capacity(crate::MAX_CAPACITY + 1),
            Err(BusError::CapacityTooLarge {
                requested: crate::MAX_CAPACITY + 1,
                max: crate::MAX_CAPACITY
            })
        );
    }

    #[test]
    fn errors_are_send_sync_static() {
        fn check<E: std::error::Error + Send + Sync + 'static>() {}
        check::<RecvError>();
        check::<TryRecvError>();
        check::<BusError>();
    }
}
