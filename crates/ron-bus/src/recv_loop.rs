//! The receive loop behind [`BusReceiver::blocking_recv`]: yield once, spin
//! for a while, then park on [`block_on`](crate::block_on::block_on).
//!
//! The tuning lives here, not in the contract: the contract only promises
//! that `blocking_recv` spends a bounded amount of CPU before it parks. Why
//! these numbers, and what they buy on the machines we measure:
//! `docs/PERFORMANCE.md` ("`blocking_recv` yields once, then spins up to
//! 50 µs, then parks").

use std::time::{Duration, Instant};

use crate::{BusReceiver, RecvError, TryRecvError};

/// The loop reads the clock once every this many polls.
const CLOCK_EVERY: u32 = 64;

/// How long the loop keeps polling before it parks its thread. A park and
/// the publisher's unpark cost a futex round trip each, and waking a parked
/// thread takes several times a poll, so a message due within a few
/// wake-ups' time is cheaper to wait for awake.
const SPIN_BUDGET: Duration = Duration::from_micros(50);

/// Waits for `rx`'s next message by blocking the thread.
pub(crate) fn blocking_recv<T, R>(rx: &mut R) -> Result<T, RecvError>
where
    R: BusReceiver<T> + ?Sized,
{
    // The first empty poll yields: a subscriber that caught up hands the
    // core to any thread that wants it (say, a lagging subscriber, which
    // then reads a whole backlog in one go rather than everyone chasing
    // the publisher one message at a time). After that it spins: a poll
    // costs nanoseconds, and a yield in progress when the message lands
    // would delay it by the syscall's length.
    let mut deadline = None;
    for round in 0u32.. {
        match rx.try_recv() {
            Ok(msg) => return Ok(msg),
            Err(TryRecvError::Lagged(lost)) => return Err(RecvError::Lagged(lost)),
            Err(TryRecvError::Closed) => return Err(RecvError::Closed),
            Err(TryRecvError::Empty) if round == 0 => std::thread::yield_now(),
            Err(TryRecvError::Empty) if round % CLOCK_EVERY == 0 => {
                let now = Instant::now();
                if now >= *deadline.get_or_insert(now + SPIN_BUDGET) {
                    break;
                }
            }
            Err(TryRecvError::Empty) => std::hint::spin_loop(),
        }
    }
    crate::block_on::block_on(rx.recv())
}
