//! The `braid` command line: argument parsing and dispatch to each command.
//! Exit codes (README: "The command line"): 0 all passed, 1 a failure was found, 2 usage or config
//! error, 3 internal error of braid itself.

mod bench;
mod diff;
mod fuzz;
mod merge;
mod replay;
mod run;
mod shrink;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use fuzz::{FuzzArgs, campaign_spec};
pub use merge::merge_files;
pub use run::{RunArgs, parse_canary, repro_command, resolve_config};
pub use shrink::SHRUNK_DIR;

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
        /// Write the list-append transactions in Elle's transaction form (EDN, one map
        /// per line) to this file, for `elle-cli --model list-append`.
        #[arg(long)]
        history: Option<PathBuf>,
        /// The engine to simulate: braid (default) or sqlite (overrides `[run] target`).
        #[arg(long)]
        target: Option<String>,
    },
    /// Check config files without running anything.
    Check {
        #[arg(required = true)]
        configs: Vec<PathBuf>,
    },
    /// Run a campaign: many seeds in parallel, failure directories under --out.
    Fuzz {
        /// Config file; the built-in default config when omitted.
        config: Option<PathBuf>,
        /// Seeds A..B (B excluded) or A..=B.
        #[arg(long, conflicts_with = "count")]
        seeds: Option<String>,
        /// Seeds 0..N.
        #[arg(long)]
        count: Option<u64>,
        /// Stop taking new seeds after this long (90s, 30m, 8h, 1h30m); with neither
        /// --seeds nor --count the campaign runs seeds from 0 until then.
        #[arg(long)]
        time: Option<String>,
        /// Threads running seeds (default: the number of cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only seeds with seed % N == I - 1 (I is 1-based).
        #[arg(long)]
        shard: Option<String>,
        /// Draw workloads, faults and scheduler settings per seed (swarm mode).
        #[arg(long)]
        swarm: bool,
        /// Scheduler decisions per seed (overrides the config).
        #[arg(long)]
        steps: Option<u64>,
        /// Directory for failure artifacts and the progress file.
        #[arg(long, default_value = "braid-out")]
        out: PathBuf,
        /// Skip the seeds the progress file in --out lists as finished.
        #[arg(long)]
        resume: bool,
        /// Write the campaign summary as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write JUnit XML (one testcase per failing seed and one for the campaign).
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Switch on a known-bad engine behaviour (builds with `--features canaries`).
        #[arg(long)]
        canary: Option<String>,
        /// The engine to simulate: braid (default) or sqlite (overrides `[run] target`).
        #[arg(long)]
        target: Option<String>,
        /// Run every seed as a diff against this reference engine (see `braid diff`).
        #[arg(long)]
        diff: Option<String>,
    },
    /// Run one schedule on the target and a reference engine side by side (op by op, no
    /// faults) and compare every result; stop at the first divergence.
    Diff {
        /// Config file; the built-in default config when omitted.
        config: Option<PathBuf>,
        /// The reference engine: sqlite (builds with `--features sqlite`) or braid.
        #[arg(long)]
        against: String,
        #[arg(long)]
        seed: Option<u64>,
        /// Decisions (each runs one op on both engines).
        #[arg(long)]
        steps: Option<u64>,
        #[arg(long)]
        connections: Option<u32>,
        /// The engine under test (overrides `[run] target`; default braid).
        #[arg(long)]
        target: Option<String>,
        /// Where the failure directory goes on a divergence.
        #[arg(long, default_value = "braid-out")]
        out: PathBuf,
        /// Switch a known-bad behaviour on in the engine under test only (a planted
        /// divergence; builds with `--features canaries`).
        #[arg(long)]
        canary: Option<String>,
    },
    /// Rerun a failure directory exactly and say whether the failure reproduces.
    Replay {
        dir: PathBuf,
        /// Print the readable timeline of the rerun.
        #[arg(long)]
        trace: bool,
        /// Also draw the rerun's timeline into this file (a self-contained page).
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Rerun the tape on this engine instead of the recorded one (braid, sqlite, turso).
        #[arg(long)]
        target: Option<String>,
    },
    /// Minimize a failure directory; writes DIR/shrunk/.
    Shrink {
        dir: PathBuf,
        /// Stop after this long (default 5m).
        #[arg(long)]
        time: Option<String>,
        /// Only edit the failure's own tape; do not search fresh seeds under simpler configs
        /// (a search may find the same failure kind through another bug).
        #[arg(long)]
        no_search: bool,
        /// Shrink on this engine instead of the recorded one (braid, sqlite, turso).
        #[arg(long)]
        target: Option<String>,
    },
    /// Run a benchmark and print its figures (`braid bench list` names them).
    Bench {
        /// decisions | overhead | memory | engine | canaries | fuzz-scaling | shrink | list
        name: String,
        /// Seeds (or rounds) to run; each benchmark has its own default.
        #[arg(long)]
        seeds: Option<u64>,
        /// Decisions per simulation, overriding the benchmark's default.
        #[arg(long)]
        steps: Option<u64>,
        /// Directory for real files (engine, fuzz-scaling, shrink); the temp dir by default.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Join the JSON summaries of a campaign's shards into one.
    Merge {
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Write the merged summary here (stdout when omitted).
        #[arg(long)]
        json: Option<PathBuf>,
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
            history,
            target,
        } => run::run(&RunArgs {
            config,
            seed,
            steps,
            connections,
            strategy,
            json,
            canary,
            check_determinism,
            history,
            target,
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
        Command::Fuzz {
            config,
            seeds,
            count,
            time,
            jobs,
            shard,
            swarm,
            steps,
            out,
            resume,
            json,
            junit,
            canary,
            target,
            diff,
        } => fuzz::run(&FuzzArgs {
            config,
            seeds,
            count,
            time,
            jobs,
            shard,
            swarm,
            out: Some(out),
            resume,
            json,
            junit,
            canary,
            steps,
            target,
            diff,
        }),
        Command::Diff {
            config,
            against,
            seed,
            steps,
            connections,
            target,
            out,
            canary,
        } => diff::run(&diff::DiffArgs {
            config,
            against,
            seed,
            steps,
            connections,
            target,
            out,
            canary,
        }),
        Command::Replay {
            dir,
            trace,
            html,
            target,
        } => replay::run(&dir, trace, html.as_deref(), target.as_deref()),
        Command::Shrink {
            dir,
            time,
            no_search,
            target,
        } => shrink::run(&dir, time.as_deref(), !no_search, target.as_deref()),
        Command::Bench {
            name,
            seeds,
            steps,
            dir,
        } => bench::run(&bench::BenchArgs {
            name,
            seeds,
            steps,
            dir,
        }),
        Command::Merge { reports, json } => merge::run(&reports, json.as_deref()),
    }
}
