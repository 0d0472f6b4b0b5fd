//! `braid shrink DIR [--time T] [--no-search]`: minimize a failure directory's tape and config, keeping the
//! failure kind, and write the result to `DIR/shrunk/` (replayable with `braid replay`).
//!
//! While it works, a progress bar (on a terminal) fills with the time budget and shows the
//! candidates tried and kept and the size of the smallest failure so far. When the budget
//! runs out, the smallest failure found so far is written.

use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::artifacts::{FailureArtifact, FailureRecord, write_failure_dir};
use crate::campaign::parse_duration;
use crate::cli::{EXIT_FAILURE_FOUND, EXIT_INTERNAL, EXIT_USAGE};
use crate::shrink::{Progress, ShrinkError, ShrinkOptions, shrink_with};

/// Shrinking stops after this long unless `--time` says otherwise.
const DEFAULT_TIME: Duration = Duration::from_secs(300);

/// Name of the directory, inside the failure directory, that receives the shrunk failure.
pub const SHRUNK_DIR: &str = "shrunk";

/// Runs `braid shrink`; returns the exit code (1: shrunk failure written). `search`: also
/// look for a smaller failure of the same kind under fresh seeds and simpler configs.
pub fn run(dir: &Path, time: Option<&str>, search: bool, target: Option<&str>) -> i32 {
    let limit = match time.map(parse_duration).transpose() {
        Ok(limit) => limit.unwrap_or(DEFAULT_TIME),
        Err(message) => {
            eprintln!("braid shrink: --time {message}");
            return EXIT_USAGE;
        }
    };
    let artifact = match FailureArtifact::load(dir).map_err(|e| e.to_string()) {
        Ok(artifact) => artifact.on_target(target),
        Err(err) => Err(err),
    };
    let artifact = match artifact {
        Ok(artifact) => artifact,
        Err(err) => {
            eprintln!("braid shrink: {err}");
            return EXIT_USAGE;
        }
    };
    println!(
        "braid shrink: {} ({} at step {}, seed {}), for at most {}s",
        dir.display(),
        artifact.record.kind,
        artifact.record.step,
        artifact.record.seed,
        limit.as_secs()
    );
    let options = ShrinkOptions {
        time_limit: limit,
        search,
    };
    let bar = progress_bar(limit);
    let started = Instant::now();
    let mut on_progress = |p: &Progress<'_>| {
        // Every kept candidate, and every 64th tried, redraws (indicatif limits the rate).
        if p.last_kept || p.tried.is_multiple_of(64) {
            bar.set_position(started.elapsed().as_millis() as u64);
            bar.set_message(describe_progress(p));
        }
    };
    let result = shrink_with(&artifact, options, &mut on_progress);
    bar.finish_and_clear();
    let shrunk = match result {
        Ok(shrunk) => shrunk,
        Err(ShrinkError::Artifact(err)) => {
            eprintln!("braid shrink: {err}");
            return EXIT_USAGE;
        }
        Err(err) => {
            eprintln!("braid shrink: {err}");
            return EXIT_INTERNAL;
        }
    };
    let canary = artifact
        .record
        .canary()
        .expect("the canary was parsed to shrink");
    let record = match FailureRecord::new(&shrunk.config, canary, &shrunk.run.outcome) {
        Ok(record) => record,
        Err(err) => {
            eprintln!("braid shrink: the shrunk run no longer fails: {err}");
            return EXIT_INTERNAL;
        }
    };
    let out = dir.join(SHRUNK_DIR);
    if let Err(err) = write_failure_dir(&out, &record, &shrunk.run) {
        eprintln!("braid shrink: {err}");
        return EXIT_INTERNAL;
    }
    println!("before: {}", shrunk.before.describe());
    println!("after:  {}", shrunk.after.describe());
    println!(
        "{} candidates tried, {} kept, {:.1}s{}",
        shrunk.tried,
        shrunk.kept,
        shrunk.elapsed.as_secs_f64(),
        if shrunk.fixed_point {
            ", fixed point: no single pass shrinks it further"
        } else {
            ", stopped by the time limit"
        }
    );
    println!(
        "shrunk failure: {} at step {}, written to {} (braid replay {})",
        record.kind,
        record.step,
        out.display(),
        out.display()
    );
    EXIT_FAILURE_FOUND
}

/// A bar filling with the time budget (in milliseconds); hidden when stderr is not a terminal.
fn progress_bar(limit: Duration) -> ProgressBar {
    let bar = ProgressBar::new(limit.as_millis() as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:20}] {msg}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar
}

/// `tried 812  kept 40  now: decisions 93  operations 21  tape 160  (last: drop transaction 4)`.
fn describe_progress(p: &Progress<'_>) -> String {
    format!(
        "tried {}  kept {}  now: decisions {}  operations {}  tape {}  (last: {})",
        p.tried, p.kept, p.decisions, p.operations, p.tape_len, p.what
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_names_the_counts_and_the_current_size() {
        let p = Progress {
            tried: 812,
            kept: 40,
            decisions: 93,
            operations: 21,
            tape_len: 160,
            what: "drop transaction 4",
            last_kept: true,
        };
        assert_eq!(
            describe_progress(&p),
            "tried 812  kept 40  now: decisions 93  operations 21  tape 160  (last: drop \
             transaction 4)"
        );
    }
}
