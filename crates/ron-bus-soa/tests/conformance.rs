//! The whole bus contract, from ron-bus's conformance kit.

#![cfg(not(loom))]

ron_bus::conformance_tests!(ron_bus_soa::SoaBus<u64>);
ron_bus::conformance_payload_tests!(ron_bus_soa::SoaBus);
