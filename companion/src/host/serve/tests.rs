//! Tests of the host loop.
