//! The `braid` command line: argument parsing and dispatch to each command.
//! Exit codes (DESIGN.md §8): 0 all passed, 1 a failure was found, 2 usage or config
//! error, 3 internal error of braid itself.

mod run;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use run::{RunArgs, parse_canary, repro_command, resolve_config};

/// Exit code: every simulation passed.
pub const EXIT_PASS: i32 = 0;
/// Exit code: a simulation found a failure.
pub const EXIT_FAILURE_FOUND: i32 = 1;
/// Exit code: bad arguments or a bad config.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: braid itself broke (or the command is not built yet).
pub const EXIT_INTERNAL: i32 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "braid",
    version,
    about = "A deterministic simulator for concurrent database connections"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one simulation from a TOML config (the built-in default when none is given).
    Run {
        /// Config file; the built-in default config when omitted.
        config: Option<PathBuf>,
        #[arg(long)]
        seed: Option<u64>,
        /// Scheduler decisions to run.
        #[arg(long)]
        steps: Option<u64>,
        #[arg(long)]
        connections: Option<u32>,
        /// random | round-robin | pct
        #[arg(long)]
        strategy: Option<String>,
        /// Write the run's summary as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Switch on a known-bad engine behaviour (builds with `--features canaries`);
        /// `--canary list` prints their names.
        #[arg(long)]
        canary: Option<String>,
        /// Run twice and fail (exit 3) unless both runs give the same trace hash.
        #[arg(long)]
        check_determinism: bool,
    },
    /// Check config files without running anything.
    Check {
        #[arg(required = true)]
        configs: Vec<PathBuf>,
    },
}

/// Parses the arguments, runs the command and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_PASS
            };
            let _ = err.print();
            return code;
        }
    };
    match cli.command {
        Command::Run {
            config,
            seed,
            steps,
            connections,
            strategy,
            json,
            canary,
            check_determinism,
        } => run::run(&RunArgs {
            config,
            seed,
            steps,
            connections,
            strategy,
            json,
            canary,
            check_determinism,
        }),
        Command::Check { configs } => {
            let (code, messages) = crate::config::check_files(&configs);
            for message in messages {
                if code == EXIT_PASS {
                    println!("{message}")
                } else {
                    eprintln!("{message}")
                }
            }
            code
        }
    }
}
