//! Console login shell driver: log in, run commands, answer interactive prompts, over any [`crate::transport::Link`].

mod config;

pub use config::ConsoleConfig;
