//! The whole bus contract, from ron-bus's conformance kit.

ron_bus::conformance_tests!(ron_bus_classic::ClassicBus<u64>);
ron_bus::conformance_payload_tests!(ron_bus_classic::ClassicBus);
