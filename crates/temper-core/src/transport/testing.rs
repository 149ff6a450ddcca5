//! In-memory links for tests.
