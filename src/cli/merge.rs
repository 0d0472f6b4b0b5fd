//! `braid merge REPORT... [--json FILE]`: join the JSON summaries of a campaign's shards
//! into one (sums, the union of failures, merged histograms). Exit 1 when the merged
//! campaign has failures, 0 when it passed, 2 for unreadable or mismatched reports.

use std::path::{Path, PathBuf};

use crate::artifacts::write_file_atomic;
use crate::campaign::Summary;
use crate::cli::{EXIT_FAILURE_FOUND, EXIT_INTERNAL, EXIT_PASS, EXIT_USAGE};

/// Reads and merges shard summaries.
pub fn merge_files(reports: &[PathBuf]) -> Result<Summary, String> {
    let mut parts = Vec::with_capacity(reports.len());
    for path in reports {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let summary: Summary = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a braid fuzz summary: {e}", path.display()))?;
        parts.push(summary);
    }
    Summary::merge(&parts)
}

/// Runs `braid merge`; the merged summary goes to `json` (or stdout as JSON when absent).
pub fn run(reports: &[PathBuf], json: Option<&Path>) -> i32 {
    let merged = match merge_files(reports) {
        Ok(merged) => merged,
        Err(message) => {
            eprintln!("braid merge: {message}");
            return EXIT_USAGE;
        }
    };
    match json {
        Some(path) => {
            if let Err(err) = write_file_atomic(path, &merged.to_json()) {
                eprintln!("braid merge: {err}");
                return EXIT_INTERNAL;
            }
            println!("braid merge: {} reports", reports.len());
            for line in merged.describe() {
                println!("{line}");
            }
        }
        None => print!("{}", merged.to_json()),
    }
    if merged.failed > 0 {
        EXIT_FAILURE_FOUND
    } else {
        EXIT_PASS
    }
}
