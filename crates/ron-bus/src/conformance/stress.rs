//! Many publishers, many subscribers on threads and tasks, exact accounting.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::thread;
use std::time::Duration;

use crate::{BusBackend, BusReceiver, RecvError, TryRecvError};

const PUBLISHERS: u64 = 3;
const PER_PUBLISHER: u64 = 20_000;
const CAPACITY: usize = 64;

/// What one subscriber saw.
#[derive(Debug, Default)]
struct Tally {
    delivered: u64,
    lost: u64,
    /// Next sequence number expected from each publisher (FIFO per publisher).
    next: [u64; PUBLISHERS as usize],
}

impl Tally {
    fn take(&mut self, outcome: Result<u64, RecvError>, who: &str) -> bool {
        match outcome {
            Ok(msg) => {
                let (publisher, seq) = ((msg >> 32) as usize, msg & 0xffff_ffff);
                assert!(
                    seq >= self.next[publisher],
                    "{who}: publisher {publisher} went back from {} to {seq}",
                    self.next[publisher]
                );
                self.next[publisher] = seq + 1;
                self.delivered += 1;
                true
            }
            Err(RecvError::Lagged(n)) => {
                self.lost += n;
                true
            }
            Err(RecvError::Closed) => false,
        }
    }

    /// Takes what a run appended to `buf` (emptying it), then its error,
    /// if any; false at `Closed`.
    fn take_run(&mut self, outcome: Result<(), RecvError>, buf: &mut Vec<u64>, who: &str) -> bool {
        for msg in buf.drain(..) {
            self.take(Ok(msg), who);
        }
        match outcome {
            Ok(()) => true,
            Err(error) => self.take(Err(error), who),
        }
    }
}

/// 3 publisher threads x 20,000 messages; subscribers on plain threads
/// (`blocking_recv`, and runs of `try_recv_many` between them), on a
/// multi-thread runtime (`recv`, and runs of `recv_many`), and one slow
/// reader that sleeps now and then. Each checks per-publisher order and,
/// at `Closed`, delivered + lost == everything published: runs lose and
/// report exactly what one-by-one receives do.
pub fn stress_exact_accounting<B: BusBackend<u64>>() {
    let bus = B::with_capacity(CAPACITY).unwrap();
    let stats = std::sync::Arc::clone(bus.stats());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let thread_subs: Vec<_> = (0..2)
        .map(|i| {
            let mut rx = bus.subscribe();
            thread::spawn(move || {
                let mut tally = Tally::default();
                while tally.take(rx.blocking_recv(), &format!("thread subscriber {i}")) {}
                tally
            })
        })
        .collect();
    let slow = {
        let mut rx = bus.subscribe();
        thread::spawn(move || {
            let mut tally = Tally::default();
            let mut n = 0u64;
            while tally.take(rx.blocking_recv(), "slow subscriber") {
                n += 1;
                if n.is_multiple_of(1000) {
                    thread::sleep(Duration::from_millis(1));
                }
            }
            tally
        })
    };
    let run_thread = {
        let mut rx = bus.subscribe();
        thread::spawn(move || {
            let who = "thread subscriber in runs";
            let (mut tally, mut buf) = (Tally::default(), Vec::new());
            loop {
                let outcome = match rx.try_recv_many(&mut buf, 16) {
                    Ok(_) => Ok(()),
                    Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                    Err(TryRecvError::Closed) => Err(RecvError::Closed),
                    // Nothing waiting: wait for one message.
                    Err(TryRecvError::Empty) => rx.blocking_recv().map(|msg| buf.push(msg)),
                };
                if !tally.take_run(outcome, &mut buf, who) {
                    return tally;
                }
            }
        })
    };
    let mut task_subs: Vec<_> = (0..2)
        .map(|i| {
            let mut rx = bus.subscribe();
            runtime.spawn(async move {
                let mut tally = Tally::default();
                while tally.take(rx.recv().await, &format!("task subscriber {i}")) {}
                tally
            })
        })
        .collect();
    task_subs.push({
        let mut rx = bus.subscribe();
        runtime.spawn(async move {
            let (mut tally, mut buf) = (Tally::default(), Vec::new());
            loop {
                let outcome = rx.recv_many(&mut buf, 64).await.map(|_| ());
                if !tally.take_run(outcome, &mut buf, "task subscriber in runs") {
                    return tally;
                }
            }
        })
    });

    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let bus = bus.clone();
            thread::spawn(move || {
                for seq in 0..PER_PUBLISHER {
                    let msg = (p << 32) | seq;
                    if seq % 100 == 0 {
                        let batch = (0..4).map(|k| msg + k);
                        bus.publish_many(batch);
                    } else if seq % 100 < 4 {
                        // Sent by the batch above.
                    } else {
                        bus.publish(msg);
                    }
                }
            })
        })
        .collect();
    drop(bus);
    for p in publishers {
        p.join().unwrap();
    }

    let total = PUBLISHERS * PER_PUBLISHER;
    let mut tallies: Vec<Tally> = thread_subs.into_iter().map(|t| t.join().unwrap()).collect();
    tallies.push(slow.join().unwrap());
    tallies.push(run_thread.join().unwrap());
    for task in task_subs {
        tallies.push(runtime.block_on(task).unwrap());
    }
    for (i, tally) in tallies.iter().enumerate() {
        assert_eq!(
            tally.delivered + tally.lost,
            total,
            "subscriber {i}: {} delivered + {} lost",
            tally.delivered,
            tally.lost
        );
    }
    let snapshot = stats.snapshot();
    assert_eq!(snapshot.published, total);
    assert_eq!(
        snapshot.receiver_lag,
        tallies.iter().map(|t| t.lost).sum::<u64>()
    );
}
