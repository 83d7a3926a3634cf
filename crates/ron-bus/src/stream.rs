//! [`BusStream`]: any subscriber as a [`futures_core::Stream`] (feature
//! `stream`), the way `tokio-stream`'s `BroadcastStream` wraps a tokio
//! broadcast receiver.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use crate::{BusReceiver, RecvError, TryRecvError};

/// A subscriber lost this many of its oldest messages: the item a
/// [`BusStream`] yields where [`recv`](BusReceiver::recv) returns
/// [`RecvError::Lagged`]. The stream goes on with the oldest message still
/// retained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("receiver lagged and lost {0} messages")]
pub struct Lagged(pub u64);

impl From<Lagged> for RecvError {
    fn from(Lagged(lost): Lagged) -> Self {
        RecvError::Lagged(lost)
    }
}

/// The receive a parked stream is waiting on. It owns the receiver (a
/// `recv` future borrows it, and a stream must keep that future across
/// polls so that its registration, and any message, is not lost) and hands
/// it back with the outcome.
type Parked<T, R> = Pin<Box<dyn Future<Output = (Result<T, RecvError>, R)> + Send>>;

enum State<T, R> {
    /// Holding the receiver: the next poll tries it without waiting.
    Ready(R),
    /// Waiting in the receiver's `recv`.
    Parked(Parked<T, R>),
    /// The bus closed and was drained (the receiver is dropped with its
    /// waker), or a message's `clone` panicked in a poll: the panic
    /// unwound through the receiver, and the stream ends rather than guess.
    Done,
}

/// A subscriber as a [`Stream`] of `Result<T, Lagged>`: each message in
/// order, [`Lagged(n)`](Lagged) where the subscriber lost `n` messages
/// (exactly where [`recv`](BusReceiver::recv) reports it, and counted in the
/// bus's `receiver_lag` stat the same way), and the end of the stream once
/// the bus is closed and drained.
///
/// A message that is already waiting is taken with
/// [`try_recv`](BusReceiver::try_recv); only a stream that has to wait
/// parks in [`recv`](BusReceiver::recv), in a boxed future kept across
/// polls (one allocation per park, none per message taken while busy).
/// Dropping the stream, parked or not, loses no message for other
/// subscribers and drops the receiver with its waker.
///
/// The stream is `Send` (for a `Send` receiver, as every backend's is), so
/// a task that owns it may move between threads, but not `Sync`: the
/// parked receive is kept as a `Pin<Box<dyn Future + Send>>`, which is not
/// `Sync` (asking every backend's receive future to be `Sync` would buy
/// nothing: a stream is only polled through `&mut`). To reach one stream
/// from several tasks, put it behind a mutex (which needs only `Send`), or
/// give each task its own subscriber.
///
/// ```compile_fail,E0277
/// fn shared<S: Sync>() {}
/// shared::<ron_bus::BusStream<u64, ron_bus::reference::ReferenceReceiver<u64>>>();
/// ```
///
/// ```
/// use futures_util::StreamExt;
/// use ron_bus::reference::ReferenceBus;
/// use ron_bus::{BusBackend, BusReceiver, Lagged};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ron_bus::BusError> {
/// let bus = ReferenceBus::with_capacity(2)?;
/// let stream = bus.subscribe().into_stream();
/// bus.publish_many([1, 2, 3]);
/// drop(bus);
/// let items: Vec<Result<u64, Lagged>> = stream.collect().await;
/// assert_eq!(items, [Err(Lagged(1)), Ok(2), Ok(3)]);
/// # Ok(())
/// # }
/// ```
pub struct BusStream<T, R> {
    state: State<T, R>,
    /// `T` is only ever produced; `fn() -> T` keeps the stream `Send`
    /// whatever `T`'s auto traits.
    _item: PhantomData<fn() -> T>,
}

// The receiver is never pinned (it moves between the states by value and
// the parked future is boxed), so the stream is `Unpin` whatever `R` is.
impl<T, R> Unpin for BusStream<T, R> {}

impl<T, R> BusStream<T, R>
where
    T: Clone + Send + Sync + 'static,
    R: BusReceiver<T>,
{
    /// Wraps a subscriber; [`BusReceiver::into_stream`] says the same.
    pub fn new(receiver: R) -> Self {
        Self {
            state: State::Ready(receiver),
            _item: PhantomData,
        }
    }

    /// The receiver, unless the stream is parked in a receive or ended: a
    /// parked receive owns it until a message, a lag or the close ends it.
    pub fn get_mut(&mut self) -> Option<&mut R> {
        match &mut self.state {
            State::Ready(receiver) => Some(receiver),
            State::Parked(_) | State::Done => None,
        }
    }
}

impl<T, R> Stream for BusStream<T, R>
where
    T: Clone + Send + Sync + 'static,
    R: BusReceiver<T>,
{
    type Item = Result<T, Lagged>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // `Unpin` (above): the state can be moved out and back.
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, State::Done) {
                State::Ready(mut receiver) => match receiver.try_recv() {
                    Ok(msg) => {
                        this.state = State::Ready(receiver);
                        return Poll::Ready(Some(Ok(msg)));
                    }
                    Err(TryRecvError::Lagged(lost)) => {
                        this.state = State::Ready(receiver);
                        return Poll::Ready(Some(Err(Lagged(lost))));
                    }
                    Err(TryRecvError::Closed) => return Poll::Ready(None),
                    Err(TryRecvError::Empty) => {
                        this.state = State::Parked(Box::pin(async move {
                            let outcome = receiver.recv().await;
                            (outcome, receiver)
                        }));
                    }
                },
                State::Parked(mut parked) => {
                    let Poll::Ready((outcome, receiver)) = parked.as_mut().poll(cx) else {
                        this.state = State::Parked(parked);
                        return Poll::Pending;
                    };
                    match outcome {
                        Ok(msg) => {
                            this.state = State::Ready(receiver);
                            return Poll::Ready(Some(Ok(msg)));
                        }
                        Err(RecvError::Lagged(lost)) => {
                            this.state = State::Ready(receiver);
                            return Poll::Ready(Some(Err(Lagged(lost))));
                        }
                        Err(RecvError::Closed) => return Poll::Ready(None),
                    }
                }
                State::Done => return Poll::Ready(None),
            }
        }
    }
}

impl<T, R> FusedStream for BusStream<T, R>
where
    T: Clone + Send + Sync + 'static,
    R: BusReceiver<T>,
{
    fn is_terminated(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

impl<T, R: fmt::Debug> fmt::Debug for BusStream<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("BusStream");
        match &self.state {
            State::Ready(receiver) => s.field("receiver", receiver),
            State::Parked(_) => s.field("state", &"parked"),
            State::Done => s.field("state", &"done"),
        };
        s.finish()
    }
}
