//! Round-trip property tests.
