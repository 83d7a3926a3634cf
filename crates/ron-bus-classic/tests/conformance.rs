//! The whole bus contract, from ron-bus's conformance kit.

ron_bus::conformance_tests!(ron_bus_classic::ClassicBus<u64>);
ron_bus::conformance_payload_tests!(ron_bus_classic::ClassicBus);

/// This backend takes the whole run waiting (the contract lets a backend
/// take fewer; this one does not).
#[test]
fn recv_many_takes_the_waiting_run() {
    ron_bus::conformance::recv_many_takes_the_waiting_run::<ron_bus_classic::ClassicBus<u64>>();
}
