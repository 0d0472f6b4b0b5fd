//! The regression corpus: every `tests/regressions/*.toml` is one run that must end as it
//! says. A case holds
//!
//! ```toml
//! seed = 3
//! expect = "pass"            # or a failure kind ("lost-commit", "stuck", ...), or "fail"
//! canary = "leak-write-lock" # optional; such cases run only with `--features canaries`
//! config = '''
//! ...the resolved config (swarm off), as `braid::config::to_toml` writes it...
//! '''
//! ```
//!
//! A case whose config names a target this binary lacks (`[run] target = "turso"` without
//! `--features turso`) is skipped.
//!
//! To add a case from a failure directory, copy `seed`, `kind` (as `expect`), `canary` and
//! `config_toml` (as `config`) out of its `failure.json`.

use std::path::{Path, PathBuf};

use braid::config;
use braid::sim::SimOptions;
use braid::target::simulate_outcome;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    seed: u64,
    expect: String,
    canary: Option<String>,
    config: String,
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/regressions exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Runs one case; `Ok(None)` when it was skipped, `Err` with what went wrong.
fn run_case(path: &Path) -> Result<Option<String>, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let case: Case = toml::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
    if case.canary.is_some() && !cfg!(feature = "canaries") {
        return Ok(None);
    }
    let canary =
        braid::cli::parse_canary(case.canary.as_deref()).map_err(|e| format!("{name}: {e}"))?;
    let config = config::parse(&case.config, &name).map_err(|e| e.to_string())?;
    if !config.run.target.available() {
        // A case on another engine (`target = "turso"`) runs where that target is built.
        return Ok(None);
    }
    if config.swarm.enabled {
        return Err(format!(
            "{name}: a case holds a resolved config (swarm off)"
        ));
    }
    let settings = config.settings().map_err(|e| e.to_string())?;
    let options = SimOptions {
        canary,
        ..SimOptions::default()
    };
    let outcome = simulate_outcome(settings, case.seed, options);
    let found = outcome.failure.as_ref().map_or("pass", |f| f.kind.as_str());
    let matches = match case.expect.as_str() {
        "fail" => outcome.failure.is_some(),
        expected => found == expected,
    };
    if !matches {
        let detail = outcome
            .failure
            .as_ref()
            .map_or(String::new(), |f| format!(": {}", f.message));
        return Err(format!(
            "{name}: expected {}, found {found}{detail}",
            case.expect
        ));
    }
    Ok(Some(found.to_string()))
}

#[test]
fn every_case_ends_as_expected() {
    let cases = corpus();
    assert!(cases.len() >= 5, "the corpus is in tests/regressions");
    let mut errors = Vec::new();
    let mut ran = 0;
    for path in &cases {
        match run_case(path) {
            Ok(Some(_)) => ran += 1,
            Ok(None) => {}
            Err(error) => errors.push(error),
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(ran >= 5, "only {ran} cases ran");
}

#[test]
fn a_case_with_the_wrong_expectation_fails() {
    let dir = std::env::temp_dir().join(format!("braid-regression-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions/default-seed-1.toml"),
    )
    .expect("a passing case");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        good.replace("expect = \"pass\"", "expect = \"lost-commit\""),
    )
    .expect("write");
    let error = run_case(&bad).expect_err("a passing run does not meet a failure expectation");
    assert!(
        error.contains("expected lost-commit, found pass"),
        "{error}"
    );
    std::fs::write(&bad, good.replace("seed = 1\n", "seed = 1\nsurprise = 2\n")).expect("write");
    assert!(run_case(&bad).is_err(), "unknown keys are rejected");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
