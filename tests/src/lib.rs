//! Helpers for guardian integration tests.
