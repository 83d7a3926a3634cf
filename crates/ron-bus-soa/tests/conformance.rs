//! The whole bus contract, from ron-bus's conformance kit.

ron_bus::conformance_tests!(ron_bus_soa::SoaBus<u64>);
