//! The conformance kit against the reference backend: the kit's own check.
//! A backend that breaks the contract fails here (see the crate README for a
//! fault injected on purpose and the test that caught it).

ron_bus::conformance_tests!(ron_bus::reference::ReferenceBus<u64>);
ron_bus::conformance_payload_tests!(ron_bus::reference::ReferenceBus);

/// This backend takes the whole run waiting (the contract lets a backend
/// take fewer; this one does not).
#[test]
fn recv_many_takes_the_waiting_run() {
    ron_bus::conformance::recv_many_takes_the_waiting_run::<ron_bus::reference::ReferenceBus<u64>>(
    );
}
