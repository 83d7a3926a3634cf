//! Loom models of the ring protocol. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p ron-bus-soa --test loom_ring --release`
//! (the `cargo xtask ci` loom lane does, with a preemption bound).
//!
//! Loom explores every interleaving (up to the bound) and fails on a data
//! race on a payload cell, a deadlock, or a failed assertion.

#![cfg(loom)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use loom::thread;
use ron_bus::{BusBackend, BusReceiver, RecvError, TryRecvError};
use ron_bus_soa::SoaBus;

/// A payload whose halves must always agree: a torn read shows.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pair(u64, u64);

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

/// Tries `attempts` receives while a publisher runs: whatever arrives is
/// delivered or counted lost; the bus must not close meanwhile.
fn receive_while_publishing<T: Clone + Send + Sync + 'static>(
    rx: &mut impl BusReceiver<T>,
    attempts: usize,
    delivered: &mut Vec<T>,
    lost: &mut u64,
) {
    for _ in 0..attempts {
        // A switch point: without one, loom runs these polls before the
        // publisher thread and explores that single schedule.
        thread::yield_now();
        match rx.try_recv() {
            Ok(msg) => delivered.push(msg),
            Err(TryRecvError::Lagged(n)) => *lost += n,
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Closed) => panic!("closed while a handle lives"),
        }
    }
}

/// Every delivered pair is whole, and every one of `published` messages was
/// delivered or counted lost.
fn assert_intact(delivered: &[Pair], lost: u64, published: u64) {
    for Pair(a, b) in delivered {
        assert_eq!(a, b, "torn payload");
    }
    assert_eq!(
        delivered.len() as u64 + lost,
        published,
        "{delivered:?} + {lost} lost"
    );
}

/// Drains `rx` (publishers done): every message delivered, or counted lost.
fn drain<T: Clone + Send + Sync + 'static>(
    rx: &mut impl BusReceiver<T>,
    delivered: &mut Vec<T>,
    lost: &mut u64,
) {
    loop {
        match rx.try_recv() {
            Ok(msg) => delivered.push(msg),
            Err(TryRecvError::Lagged(n)) => *lost += n,
            Err(TryRecvError::Empty | TryRecvError::Closed) => return,
        }
    }
}

#[test]
fn one_publisher_one_subscriber_across_the_wrap() {
    model(|| {
        let bus = SoaBus::<u64>::with_capacity(2).unwrap();
        let mut rx = bus.subscribe();
        let publisher = {
            let bus = bus.clone();
            thread::spawn(move || {
                for i in 0..3 {
                    assert_eq!(bus.publish(i), 1);
                }
            })
        };
        let (mut delivered, mut lost) = (Vec::new(), 0);
        receive_while_publishing(&mut rx, 2, &mut delivered, &mut lost);
        publisher.join().unwrap();
        drain(&mut rx, &mut delivered, &mut lost);
        assert_eq!(
            delivered.len() as u64 + lost,
            3,
            "{delivered:?} + {lost} lost"
        );
        assert!(delivered.windows(2).all(|w| w[0] < w[1]), "{delivered:?}");
        assert_eq!(delivered.last(), Some(&2), "the newest is always retained");
    });
}

#[test]
fn two_publishers_race_for_slots() {
    model(|| {
        let bus = SoaBus::<u64>::with_capacity(2).unwrap();
        let mut rx = bus.subscribe();
        let racers: Vec<_> = [10, 20]
            .into_iter()
            .map(|msg| {
                let bus = bus.clone();
                thread::spawn(move || assert_eq!(bus.publish(msg), 1))
            })
            .collect();
        for racer in racers {
            racer.join().unwrap();
        }
        let (mut delivered, mut lost) = (Vec::new(), 0);
        drain(&mut rx, &mut delivered, &mut lost);
        delivered.sort_unstable();
        assert_eq!((delivered, lost), (vec![10, 20], 0));
    });
}

#[test]
fn two_publishers_race_for_one_slot() {
    model(|| {
        let bus = SoaBus::<u64>::with_capacity(1).unwrap();
        let mut rx = bus.subscribe();
        let racers: Vec<_> = [10, 20]
            .into_iter()
            .map(|msg| {
                let bus = bus.clone();
                thread::spawn(move || bus.publish(msg))
            })
            .collect();
        for racer in racers {
            racer.join().unwrap();
        }
        let (mut delivered, mut lost) = (Vec::new(), 0);
        drain(&mut rx, &mut delivered, &mut lost);
        // The later claim wins the slot; the other is counted, never lost silently.
        assert_eq!((delivered.len(), lost), (1, 1), "{delivered:?}");
    });
}

#[test]
fn two_publishers_reuse_cells_while_a_reader_reads() {
    // Capacity 1, four messages from two publishers: the last two reuse the
    // first two's cells while the reader may be cloning them.
    model(|| {
        let bus = SoaBus::<Pair>::with_capacity(1).unwrap();
        let mut rx = bus.subscribe();
        let publishers: Vec<_> = [1, 3]
            .into_iter()
            .map(|first| {
                let bus = bus.clone();
                thread::spawn(move || {
                    for i in first..first + 2 {
                        bus.publish(Pair(i, i));
                    }
                })
            })
            .collect();
        let (mut delivered, mut lost) = (Vec::new(), 0);
        receive_while_publishing(&mut rx, 2, &mut delivered, &mut lost);
        for publisher in publishers {
            publisher.join().unwrap();
        }
        drain(&mut rx, &mut delivered, &mut lost);
        assert_intact(&delivered, lost, 4);
    });
}

#[test]
fn a_reader_lapped_while_reading_reports_lag_never_a_torn_payload() {
    // Capacity 1 has two payload cells: the third publish overwrites the
    // first one's cell, racing the reader for it (the floor and pins).
    model(|| {
        let bus = SoaBus::<Pair>::with_capacity(1).unwrap();
        let mut rx = bus.subscribe();
        let publisher = {
            let bus = bus.clone();
            thread::spawn(move || {
                for i in 1..=3 {
                    bus.publish(Pair(i, i));
                }
            })
        };
        let (mut delivered, mut lost) = (Vec::new(), 0);
        receive_while_publishing(&mut rx, 2, &mut delivered, &mut lost);
        publisher.join().unwrap();
        drain(&mut rx, &mut delivered, &mut lost);
        assert_intact(&delivered, lost, 3);
        assert!(
            delivered.windows(2).all(|w| w[0].0 < w[1].0),
            "stale or repeated: {delivered:?}"
        );
    });
}

/// One `try_recv_many` of at most `max`: whatever it takes is delivered,
/// a lag counted; the bus must not be closed.
fn receive_a_run<T: Clone + Send + Sync + 'static>(
    rx: &mut impl BusReceiver<T>,
    max: usize,
    delivered: &mut Vec<T>,
    lost: &mut u64,
) -> bool {
    match rx.try_recv_many(delivered, max) {
        Ok(n) => {
            assert!((1..=max).contains(&n), "Ok({n}) from a run of {max}");
            true
        }
        Err(TryRecvError::Lagged(n)) => {
            *lost += n;
            true
        }
        Err(TryRecvError::Empty) => false,
        Err(TryRecvError::Closed) => panic!("closed while a handle lives"),
    }
}

/// Reads runs of at most `max` while publishers run (`attempts` of them,
/// each after a switch point), then, once `publishers` are joined, drains
/// with runs; checks every payload whole, none twice, and delivered +
/// lost == `published`; with one publisher (`in_order`), in order.
fn read_runs_while_publishing(
    rx: &mut impl BusReceiver<Pair>,
    max: usize,
    attempts: usize,
    publishers: Vec<thread::JoinHandle<()>>,
    published: u64,
) {
    let in_order = publishers.len() == 1;
    let (mut delivered, mut lost) = (Vec::new(), 0);
    for _ in 0..attempts {
        // A switch point, as in `receive_while_publishing`.
        thread::yield_now();
        receive_a_run(rx, max, &mut delivered, &mut lost);
    }
    for publisher in publishers {
        publisher.join().unwrap();
    }
    while receive_a_run(rx, max, &mut delivered, &mut lost) {}
    assert_intact(&delivered, lost, published);
    let mut ids: Vec<u64> = delivered.iter().map(|p| p.0).collect();
    assert!(
        !in_order || ids.windows(2).all(|w| w[0] < w[1]),
        "stale or repeated: {delivered:?}"
    );
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), delivered.len(), "repeated: {delivered:?}");
}

#[test]
fn a_run_read_while_a_publisher_laps_it() {
    // Capacity 1, two cells: a run of up to 3 under one pin, its pin moving
    // from cell to cell, while the publisher laps its next slot and the
    // third publish overwrites the first one's cell.
    model(|| {
        let bus = SoaBus::<Pair>::with_capacity(1).unwrap();
        let mut rx = bus.subscribe();
        let publisher = {
            let bus = bus.clone();
            thread::spawn(move || {
                for i in 1..=3 {
                    bus.publish(Pair(i, i));
                }
            })
        };
        read_runs_while_publishing(&mut rx, 3, 2, vec![publisher], 3);
    });
}

#[test]
fn a_run_read_while_two_publishers_reuse_its_cells() {
    // Capacity 1, two cells: the run moves its pin from one cell to the
    // other while two publishers reuse both.
    model(|| {
        let bus = SoaBus::<Pair>::with_capacity(1).unwrap();
        let mut rx = bus.subscribe();
        let publishers = [1, 3]
            .into_iter()
            .map(|first| {
                let bus = bus.clone();
                thread::spawn(move || {
                    for i in first..first + 2 {
                        bus.publish(Pair(i, i));
                    }
                })
            })
            .collect();
        read_runs_while_publishing(&mut rx, 4, 2, publishers, 4);
    });
}

#[test]
fn close_while_parked_wakes_the_reader_after_it_drained() {
    model(|| {
        let bus = SoaBus::<u64>::with_capacity(2).unwrap();
        let mut rx = bus.subscribe();
        let reader = thread::spawn(move || {
            let mut got = Vec::new();
            loop {
                match loom::future::block_on(rx.recv()) {
                    Ok(msg) => got.push(msg),
                    Err(RecvError::Closed) => return got,
                    Err(RecvError::Lagged(n)) => panic!("lagged {n} with room to spare"),
                }
            }
        });
        bus.publish(7);
        drop(bus);
        assert_eq!(reader.join().unwrap(), [7]);
    });
}

#[test]
fn a_publish_wakes_a_parked_reader() {
    model(|| {
        let bus = SoaBus::<u64>::with_capacity(2).unwrap();
        let mut rx = bus.subscribe();
        let reader = thread::spawn(move || loom::future::block_on(rx.recv()));
        bus.publish(7);
        assert_eq!(reader.join().unwrap(), Ok(7));
    });
}

#[test]
fn close_wakes_a_reader_parked_on_an_empty_ring() {
    model(|| {
        let bus = SoaBus::<u64>::with_capacity(2).unwrap();
        let mut rx = bus.subscribe();
        let reader = thread::spawn(move || loom::future::block_on(rx.recv()));
        drop(bus);
        assert_eq!(reader.join().unwrap(), Err(RecvError::Closed));
    });
}

#[test]
fn a_receiver_leaving_the_parked_list_loses_no_other_wake_up() {
    model(|| {
        let bus = SoaBus::<u64>::with_capacity(2).unwrap();
        let mut stays = bus.subscribe();
        let mut leaves = bus.subscribe();
        let reader = thread::spawn(move || loom::future::block_on(stays.recv()));
        let leaver = thread::spawn(move || {
            // Parks (a waker in the list), then drops: its waker leaves the
            // list, its index is left vacant for the next to park.
            let mut recv = std::pin::pin!(leaves.recv());
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let _ = recv.as_mut().poll(&mut cx);
        });
        bus.publish(7);
        leaver.join().unwrap();
        // The reader parked in the same list still gets its wake-up: a
        // lost one would leave `block_on` waiting, which loom reports as a
        // deadlock.
        assert_eq!(reader.join().unwrap(), Ok(7));
    });
}
