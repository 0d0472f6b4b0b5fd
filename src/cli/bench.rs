//! `braid bench NAME`: runs one benchmark (see `crate::bench`) and prints its figures, after
//! a line describing the machine. `braid bench list` names them.

use std::path::PathBuf;

use crate::bench::{self, engine::Sizes};
use crate::cli::{EXIT_INTERNAL, EXIT_PASS, EXIT_USAGE};

/// The benchmarks `braid bench` knows, with what each measures.
pub const BENCHMARKS: [(&str, &str); 8] = [
    (
        "decisions",
        "decisions per second of the default config, one core, several seeds",
    ),
    (
        "targets",
        "each simulated engine side by side: commits checked and decisions per CPU second",
    ),
    (
        "overhead",
        "simulator time against the same ops run directly on MemoryIO",
    ),
    (
        "memory",
        "peak RSS of a 10,000,000-decision run of the default config",
    ),
    (
        "engine",
        "the engine on real files (against SQLite with --features sqlite-bench)",
    ),
    (
        "canaries",
        "time to first failure per canary and strategy (--features canaries)",
    ),
    (
        "fuzz-scaling",
        "braid fuzz --jobs 1 against --jobs 2, seeds per second",
    ),
    (
        "shrink",
        "shrink each canary's first failures (60 s each): operations, decisions, time",
    ),
];

/// What `braid bench` was asked for.
#[derive(Debug, Clone, Default)]
pub struct BenchArgs {
    pub name: String,
    /// Seeds (or repetitions) to run; each benchmark has its own default.
    pub seeds: Option<u64>,
    /// Decisions per run, overriding the benchmark's default.
    pub steps: Option<u64>,
    /// Directory for real files (engine, fuzz, shrink); the system's temp dir by default.
    pub dir: Option<PathBuf>,
}

/// Runs `braid bench`; returns the exit code.
pub fn run(args: &BenchArgs) -> i32 {
    if args.name == "list" {
        for (name, what) in BENCHMARKS {
            println!("{name:<13} {what}");
        }
        return EXIT_PASS;
    }
    if !BENCHMARKS.iter().any(|(name, _)| *name == args.name) {
        let names: Vec<&str> = BENCHMARKS.iter().map(|(name, _)| *name).collect();
        eprintln!(
            "braid bench: unknown benchmark {}; expected one of {} (or list)",
            args.name,
            names.join(", ")
        );
        return EXIT_USAGE;
    }
    println!("machine: {}", bench::machine::describe());
    let seeds = |default: u64| -> Vec<u64> { (0..args.seeds.unwrap_or(default)).collect() };
    let dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let result = match args.name.as_str() {
        "decisions" => {
            bench::decisions::run(&seeds(5), args.steps);
            Ok(())
        }
        "targets" => {
            bench::targets::run(&seeds(3), args.steps);
            Ok(())
        }
        "overhead" => {
            bench::overhead::run(&seeds(3), args.steps);
            Ok(())
        }
        "memory" => {
            bench::memory::run(args.seeds.unwrap_or(0), args.steps);
            Ok(())
        }
        "engine" => {
            let rounds = args.seeds.unwrap_or(3) as usize;
            bench::compare::run(&dir, Sizes::default(), rounds)
        }
        "canaries" => {
            bench::canaries::run(&seeds(5), args.steps.unwrap_or(200_000));
            Ok(())
        }
        "fuzz-scaling" => {
            bench::commands::fuzz_scaling(&dir, args.seeds.unwrap_or(16), args.steps).map(drop)
        }
        "shrink" => {
            let count = args.seeds.unwrap_or(3) as usize;
            let time = std::time::Duration::from_secs(60);
            bench::shrink::run(&dir, count, time, args.steps)
        }
        _ => unreachable!("checked against BENCHMARKS above"),
    };
    match result {
        Ok(()) => EXIT_PASS,
        Err(message) => {
            eprintln!("braid bench {}: {message}", args.name);
            EXIT_INTERNAL
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_benchmark_is_a_usage_error() {
        let args = BenchArgs {
            name: "nonsense".into(),
            ..BenchArgs::default()
        };
        assert_eq!(run(&args), EXIT_USAGE);
        let list = BenchArgs {
            name: "list".into(),
            ..BenchArgs::default()
        };
        assert_eq!(run(&list), EXIT_PASS);
    }
}
