//! Integration suites live in tests/tests.
