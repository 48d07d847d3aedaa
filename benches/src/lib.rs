//! Shared helpers for Kiln benchmarks.
