//! `temper profile check|schema`.

use std::path::PathBuf;

use clap::Subcommand;
use temper_core::profile::{self, Profile};

use crate::{exit, Failure, Globals};

/// Profile subcommands.
#[derive(Subcommand)]
pub enum Cmd {
    /// Validate profile files (all shipped ones when none is named).
    Check {
        /// Profile files.
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of profile files (for editors).
    Schema,
}

impl Cmd {
    /// Runs the subcommand.
    pub fn run(self, globals: &Globals) -> Result<u8, Failure> {
        match self {
            Cmd::Schema => {
                println!("{}", profile::json_schema());
                Ok(exit::HARDENED)
            }
            Cmd::Check { files } => {
                let profiles = if files.is_empty() {
                    super::load_profiles(globals, None)?
                } else {
                    files
                        .iter()
                        .map(|f| Profile::load(f).map_err(|e| Failure::new(exit::USAGE, e)))
                        .collect::<Result<Vec<_>, _>>()?
                };
                for p in &profiles {
                    println!("ok  {}  {}  ({})", p.id, p.name, p.source_path.display());
                }
                Ok(exit::HARDENED)
            }
        }
    }
}
