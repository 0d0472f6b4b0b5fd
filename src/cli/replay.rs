//! `braid replay DIR`: rerun a failure directory exactly (same config, canary, seed and
//! tape) and say whether the recorded failure came back; `--trace` prints the rerun's
//! timeline, `--html FILE` draws it (as `timeline.html`). Exit 1 when it reproduces (the
//! failure is real), 3 when it does not (braid lost determinism), 2 for a bad directory.

use std::path::Path;

use crate::artifacts::{FailureArtifact, write_file_atomic};
use crate::cli::run::print_summary;
use crate::cli::{EXIT_FAILURE_FOUND, EXIT_INTERNAL, EXIT_USAGE};
use crate::timeline;

/// Runs `braid replay`; with `html`, also writes the rerun's `timeline.html` there.
/// Returns the exit code.
pub fn run(dir: &Path, trace: bool, html: Option<&Path>, target: Option<&str>) -> i32 {
    let artifact = match FailureArtifact::load(dir) {
        Ok(artifact) => artifact,
        Err(err) => {
            eprintln!("braid replay: {err}");
            return EXIT_USAGE;
        }
    };
    let artifact = match artifact.on_target(target) {
        Ok(artifact) => artifact,
        Err(err) => {
            eprintln!("braid replay: {err}");
            return EXIT_USAGE;
        }
    };
    let record = &artifact.record;
    println!(
        "braid replay: {} (seed {}, strategy {}{}), recorded {} at step {}, trace-hash={}",
        dir.display(),
        record.seed,
        record.strategy,
        record
            .canary
            .as_ref()
            .map_or(String::new(), |c| format!(", canary {c}")),
        record.kind,
        record.step,
        record.trace_hash
    );
    let run = match artifact.replay(trace || html.is_some()) {
        Ok(run) => run,
        Err(err) => {
            eprintln!("braid replay: {err}");
            return EXIT_USAGE;
        }
    };
    if trace {
        for line in run.timeline.lines() {
            println!("{line}");
        }
    }
    if let Some(path) = html {
        let page = timeline::html::render(&run.timeline, &record.page_facts());
        if let Err(err) = write_file_atomic(path, &page) {
            eprintln!("braid replay: {err}");
            return EXIT_INTERNAL;
        }
        println!("timeline drawn in {}", path.display());
    }
    print_summary(&run.outcome);
    let found = run.outcome.failure.as_ref();
    let kind_matches = found.is_some_and(|f| f.kind == record.kind);
    let step_matches = found.is_some_and(|f| f.step == record.step);
    let hash_matches = run.outcome.trace_hash == record.trace_hash;
    println!(
        "kind {}  step {}  trace hash {}",
        verdict(kind_matches),
        verdict(step_matches),
        verdict(hash_matches)
    );
    println!("trace-hash={}", run.outcome.trace_hash);
    if kind_matches && step_matches && hash_matches {
        println!("REPRODUCED: {} at step {}", record.kind, record.step);
        EXIT_FAILURE_FOUND
    } else {
        println!(
            "NOT REPRODUCED: recorded {} at step {} (trace hash {}), replay found {} \
             (trace hash {})",
            record.kind,
            record.step,
            record.trace_hash,
            found.map_or("a pass".to_string(), |f| format!(
                "{} at step {}",
                f.kind, f.step
            )),
            run.outcome.trace_hash
        );
        EXIT_INTERNAL
    }
}

fn verdict(matches: bool) -> &'static str {
    if matches { "matches" } else { "DIFFERS" }
}
