//! The conformance kit against the reference backend: the kit's own check.
//! A backend that breaks the contract fails here (see the crate README for a
//! fault injected on purpose and the test that caught it).

ron_bus::conformance_tests!(ron_bus::reference::ReferenceBus<u64>);
ron_bus::conformance_payload_tests!(ron_bus::reference::ReferenceBus);
