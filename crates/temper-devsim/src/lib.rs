//! Device simulators.
