//! Property test: a backend against the obvious model, one `VecDeque` per
//! subscriber, over random publish / receive / subscribe / drop sequences.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::pin::pin;
use std::task::Poll;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::waker::Probe;
use crate::{ALL_TOPICS, BusBackend, BusReceiver, RecvError, TryRecvError};

const CAPACITY: usize = 4;
const MASKS: [u64; 4] = [ALL_TOPICS, 0b01, 0b10, 0b11];
const TOPICS: [u64; 5] = [ALL_TOPICS, 0b01, 0b10, 0b11, 0];

#[derive(Debug, Clone)]
enum Op {
    Publish {
        topic: usize,
    },
    /// `publish_many` of this many messages, or, with topics,
    /// `publish_many_topic` of one message per topic.
    PublishMany {
        len: usize,
        topics: Option<Vec<usize>>,
    },
    Subscribe {
        mask: usize,
    },
    TryRecv {
        sub: usize,
    },
    /// Polls `recv` once; `Pending` must mean the model has nothing.
    PollRecv {
        sub: usize,
    },
    /// `try_recv_many` with this `max`.
    TryRecvMany {
        sub: usize,
        max: usize,
    },
    /// Polls `recv_many` with this `max` once.
    PollRecvMany {
        sub: usize,
        max: usize,
    },
    Drop {
        sub: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..TOPICS.len()).prop_map(|topic| Op::Publish { topic }),
        1 => (0..7usize).prop_map(|len| Op::PublishMany { len, topics: None }),
        1 => prop::collection::vec(0..TOPICS.len(), 0..7).prop_map(|topics| Op::PublishMany {
            len: topics.len(),
            topics: Some(topics),
        }),
        1 => (0..MASKS.len()).prop_map(|mask| Op::Subscribe { mask }),
        3 => any::<usize>().prop_map(|sub| Op::TryRecv { sub }),
        2 => any::<usize>().prop_map(|sub| Op::PollRecv { sub }),
        2 => (any::<usize>(), 0..6usize).prop_map(|(sub, max)| Op::TryRecvMany { sub, max }),
        1 => (any::<usize>(), 0..6usize).prop_map(|(sub, max)| Op::PollRecvMany { sub, max }),
        1 => any::<usize>().prop_map(|sub| Op::Drop { sub }),
    ]
}

/// What one subscriber should see: its retained messages and unreported loss.
#[derive(Debug)]
struct ModelSub {
    mask: u64,
    queue: VecDeque<u64>,
    lost: u64,
}

impl ModelSub {
    fn publish(&mut self, topic: u64, msg: u64) -> bool {
        if self.mask & topic == 0 {
            return false;
        }
        if self.queue.len() == CAPACITY {
            self.queue.pop_front();
            self.lost += 1;
        }
        self.queue.push_back(msg);
        true
    }

    /// Checks what a run of at most `max` returned (`got`, having appended
    /// `appended`) against the model and takes it: `max == 0` takes
    /// nothing; a lag comes alone; otherwise at least one and at most
    /// `max` of the messages waiting, in order (a backend may take fewer
    /// than are waiting).
    fn recv_many(
        &mut self,
        max: usize,
        got: Result<usize, TryRecvError>,
        appended: &[u64],
    ) -> Result<(), TestCaseError> {
        if max == 0 {
            prop_assert_eq!(got, Ok(0));
            prop_assert!(appended.is_empty());
            return Ok(());
        }
        let Ok(n) = got else {
            prop_assert_eq!(got.map(|_| 0), self.recv(false).map(|_| 0));
            prop_assert!(appended.is_empty(), "an error appended {:?}", appended);
            return Ok(());
        };
        prop_assert_eq!(self.lost, 0, "a run of {} hid a lag", n);
        prop_assert!(
            (1..=max.min(self.queue.len())).contains(&n),
            "Ok({}) from a run of at most {} with {} waiting",
            n,
            max,
            self.queue.len()
        );
        let want: Vec<u64> = self.queue.drain(..n).collect();
        prop_assert_eq!(appended, &want[..]);
        Ok(())
    }

    fn recv(&mut self, closed: bool) -> Result<u64, TryRecvError> {
        if self.lost > 0 {
            return Err(TryRecvError::Lagged(std::mem::take(&mut self.lost)));
        }
        self.queue.pop_front().ok_or(if closed {
            TryRecvError::Closed
        } else {
            TryRecvError::Empty
        })
    }
}

fn publish_to_model(model: &mut [ModelSub], topic: u64, msg: u64) -> usize {
    model
        .iter_mut()
        .map(|s| usize::from(s.publish(topic, msg)))
        .sum()
}

fn run<B: BusBackend<u64>>(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let bus = B::with_capacity(CAPACITY).unwrap();
    let mut subs: Vec<B::Receiver> = Vec::new();
    let mut model: Vec<ModelSub> = Vec::new();
    let mut next = 0u64;
    let probe = Probe::new();
    for op in ops {
        match op {
            Op::Publish { topic } => {
                let topic = TOPICS[topic];
                let expected = publish_to_model(&mut model, topic, next);
                prop_assert_eq!(bus.publish_topic(topic, next), expected);
                next += 1;
            }
            Op::PublishMany { len, topics } => {
                let batch: Vec<(u64, u64)> = (next..next + len as u64)
                    .enumerate()
                    .map(|(i, m)| (topics.as_ref().map_or(ALL_TOPICS, |t| TOPICS[t[i]]), m))
                    .collect();
                let expected: usize = batch
                    .iter()
                    .map(|&(topic, m)| publish_to_model(&mut model, topic, m))
                    .sum();
                let got = match topics {
                    None => bus.publish_many(batch.into_iter().map(|(_, m)| m)),
                    Some(_) => bus.publish_many_topic(batch),
                };
                prop_assert_eq!(got, expected);
                next += len as u64;
            }
            Op::Subscribe { mask } => {
                subs.push(bus.subscribe_with_interest(MASKS[mask]));
                model.push(ModelSub {
                    mask: MASKS[mask],
                    queue: VecDeque::new(),
                    lost: 0,
                });
            }
            Op::TryRecv { sub } if !subs.is_empty() => {
                let i = sub % subs.len();
                prop_assert_eq!(subs[i].try_recv(), model[i].recv(false), "subscriber {}", i);
            }
            Op::PollRecv { sub } if !subs.is_empty() => {
                let i = sub % subs.len();
                let got = probe.poll(pin!(subs[i].recv()));
                match model[i].recv(false) {
                    Ok(m) => prop_assert_eq!(got, Poll::Ready(Ok(m))),
                    Err(TryRecvError::Lagged(n)) => {
                        prop_assert_eq!(got, Poll::Ready(Err(RecvError::Lagged(n))))
                    }
                    Err(_) => prop_assert!(
                        got.is_pending(),
                        "subscriber {} got {:?} from nothing",
                        i,
                        got
                    ),
                }
            }
            Op::TryRecvMany { sub, max } if !subs.is_empty() => {
                let i = sub % subs.len();
                let mut buf = Vec::new();
                let got = subs[i].try_recv_many(&mut buf, max);
                model[i].recv_many(max, got, &buf)?;
            }
            Op::PollRecvMany { sub, max } if !subs.is_empty() => {
                let i = sub % subs.len();
                let mut buf = Vec::new();
                let got = match probe.poll(pin!(subs[i].recv_many(&mut buf, max))) {
                    Poll::Ready(Ok(n)) => Ok(n),
                    Poll::Ready(Err(RecvError::Lagged(n))) => Err(TryRecvError::Lagged(n)),
                    Poll::Ready(Err(RecvError::Closed)) => Err(TryRecvError::Closed),
                    // The model must have nothing either.
                    Poll::Pending => Err(TryRecvError::Empty),
                };
                model[i].recv_many(max, got, &buf)?;
            }
            Op::Drop { sub } if !subs.is_empty() => {
                let i = sub % subs.len();
                drop(subs.remove(i));
                model.remove(i);
            }
            Op::TryRecv { .. }
            | Op::PollRecv { .. }
            | Op::TryRecvMany { .. }
            | Op::PollRecvMany { .. }
            | Op::Drop { .. } => {}
        }
        prop_assert_eq!(bus.receiver_count(), subs.len());
    }
    // Close: everyone drains what the model retained, then sees `Closed`.
    drop(bus);
    for (i, (rx, want)) in subs.iter_mut().zip(&mut model).enumerate() {
        loop {
            let expected = want.recv(true);
            prop_assert_eq!(rx.try_recv(), expected, "subscriber {} after close", i);
            if expected == Err(TryRecvError::Closed) {
                break;
            }
        }
    }
    Ok(())
}

/// Random operation sequences give exactly the model's results: publish
/// return values, every receive (messages, `Lagged(n)`, `Empty`), every
/// run of `try_recv_many` and `recv_many` (the model's next messages, at
/// least one and at most `max`, never across a lag; `Ok(0)` for `max ==
/// 0`), receiver counts, and the drain-then-`Closed` ending.
pub fn matches_the_vecdeque_model<B: BusBackend<u64>>() {
    let mut runner = TestRunner::new(Config {
        cases: 256,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(op(), 1..80), run::<B>);
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
