//! The bus contract as tests: every backend runs all of them with one line.
//!
//! ```text
//! // crates/my-backend/tests/conformance.rs
//! ron_bus::conformance_tests!(my_backend::MyBus<u64>);
//! ```
//!
//! Each test is a generic function here, instantiated as a `#[test]` by
//! [`conformance_tests!`](crate::conformance_tests). They cover the contract
//! (the [crate docs](crate), `docs/BUS.md`): publish results and the
//! no-receiver count, exact per-subscriber accounting under lag (fixed cases
//! and a property test against a `VecDeque` model), `Lagged(n)` then the
//! oldest retained message, late subscribers, closing with drain, receiver
//! drops, `publish_many`, interest masks (batches included), coalesced
//! wake-ups, wakers of dropped receivers, `blocking_recv`, batched receive
//! (`recv_many` and `try_recv_many`: the same items and lag accounting as
//! one-by-one receives, in the fixed cases, the model and the stress
//! test), a subscriber as a `Stream` (the same items and lag accounting as
//! `recv`, nothing lost while it waits) and a multi-thread stress test.
//! [`recv_many_takes_the_waiting_run`] is run by backends that batch (the
//! contract lets a backend take fewer).
//! [`conformance_payload_tests!`](crate::conformance_payload_tests) adds the
//! cases about payload types: a `clone` or `drop` that panics (the bus
//! stays usable, a receive whose `clone` panics consumes that message, a
//! run keeps what it took before it, and the stats count exactly what a
//! publish cut short stored), and payloads too large to keep many of on a
//! thread's stack.
//!
//! Enabled by the `conformance` feature (it brings proptest and tokio, and
//! turns on `stream`).

mod batch;
mod cases;
mod model;
mod payloads;
mod stream;
mod stress;
mod waker;

pub use batch::{
    a_parked_recv_many_is_woken_and_loses_nothing, recv_many_takes_the_waiting_run,
    recv_many_yields_what_recv_does,
};
pub use cases::*;
pub use model::matches_the_vecdeque_model;
pub use payloads::{
    Big, Payload, Traps, a_batch_cut_short_by_a_panic_counts_what_it_published,
    a_receive_whose_clone_panics_moves_past_the_message,
    a_run_whose_clone_panics_keeps_what_it_took, large_payloads_batch_on_a_small_stack,
    panicking_payloads_leave_the_bus_usable,
};
pub use stream::{
    a_narrow_subscribers_stream_yields_what_its_recv_does,
    a_waiting_stream_is_woken_and_loses_nothing, stream_yields_what_recv_does,
};
pub use stress::stress_exact_accounting;

/// Instantiates every conformance test for a backend type implementing
/// `BusBackend<u64>`.
#[macro_export]
macro_rules! conformance_tests {
    ($backend:ty) => {
        $crate::conformance_tests!(@each $backend;
            publish_returns_the_receiver_count,
            no_receivers_returns_zero_and_counts,
            capacity_is_validated_and_normalised,
            lagged_reports_exact_loss_then_oldest_retained,
            async_recv_reports_lag_like_try_recv,
            accounting_is_exact_under_lag,
            late_subscriber_sees_only_later_messages,
            close_drains_then_reports_closed,
            close_wakes_a_parked_receiver,
            dropping_a_receiver_leaves_others_alone,
            publish_many_equals_publishing_in_order,
            publish_many_topic_respects_interest_masks,
            interest_filters_delivery_and_lag,
            interest_does_not_wake_outside_the_mask,
            full_mask_is_plain_subscribe,
            wakes_are_coalesced_and_counted,
            a_dropped_receiver_drops_its_waker,
            blocking_recv_works_from_a_plain_thread,
            stream_yields_what_recv_does,
            a_waiting_stream_is_woken_and_loses_nothing,
            a_narrow_subscribers_stream_yields_what_its_recv_does,
            recv_many_yields_what_recv_does,
            a_parked_recv_many_is_woken_and_loses_nothing,
            matches_the_vecdeque_model,
            stress_exact_accounting,
        );
    };
    (@each $backend:ty; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::$case::<$backend>();
            }
        )+
    };
}

/// Instantiates the conformance tests about payload types for a generic
/// backend, named by its path without parameters: it runs them with the
/// kit's [`Payload`] (traps in `clone` and `drop`) and [`Big`] (64 KiB).
///
/// ```text
/// // crates/my-backend/tests/conformance.rs
/// ron_bus::conformance_payload_tests!(my_backend::MyBus);
/// ```
#[macro_export]
macro_rules! conformance_payload_tests {
    ($($bus:ident)::+) => {
        #[test]
        fn panicking_payloads_leave_the_bus_usable() {
            $crate::conformance::panicking_payloads_leave_the_bus_usable::<
                $($bus)::+<$crate::conformance::Payload>,
            >();
        }

        #[test]
        fn a_receive_whose_clone_panics_moves_past_the_message() {
            $crate::conformance::a_receive_whose_clone_panics_moves_past_the_message::<
                $($bus)::+<$crate::conformance::Payload>,
            >();
        }

        #[test]
        fn a_run_whose_clone_panics_keeps_what_it_took() {
            $crate::conformance::a_run_whose_clone_panics_keeps_what_it_took::<
                $($bus)::+<$crate::conformance::Payload>,
            >();
        }

        #[test]
        fn a_batch_cut_short_by_a_panic_counts_what_it_published() {
            $crate::conformance::a_batch_cut_short_by_a_panic_counts_what_it_published::<
                $($bus)::+<$crate::conformance::Payload>,
            >();
        }

        #[test]
        fn large_payloads_batch_on_a_small_stack() {
            $crate::conformance::large_payloads_batch_on_a_small_stack::<
                $($bus)::+<$crate::conformance::Big>,
            >();
        }
    };
}
