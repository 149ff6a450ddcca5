//! Hardening plans.
