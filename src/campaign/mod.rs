//! Campaigns (README: "Campaigns, replay and shrinking"): many seeds of one config on `jobs` threads. Each simulation
//! stays single-threaded and deterministic; threads only take the next seed. Results are
//! kept by seed, so the summary does not depend on which thread finished first.
//!
//! A campaign stops taking seeds when its range ends, its time limit passes, or `stop` is
//! set (Ctrl-C); seeds already running finish and are recorded. Every finished seed is
//! appended to the progress file (after its artifacts are written), which `resume` reads to
//! skip finished seeds.

mod histogram;
mod junit;
mod progress;
mod runner;
mod seeds;
mod summary;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use braid_core::Canary;

pub use histogram::Distribution;
pub use junit::to_junit;
pub use progress::{PROGRESS_FILE, ProgressFile, load_finished};
pub use runner::{SeedResult, run_seed, seed_dir};
pub use seeds::{SeedRange, Shard, parse_duration, shard_seeds};
pub use summary::{FailureLine, Histograms, SeedRecord, Summary, SummaryHeader, Totals};

use crate::config::Config;

/// What to run.
#[derive(Debug, Clone)]
pub struct CampaignSpec {
    /// The config before swarm resolution (`swarm.enabled` turns swarm on per seed).
    pub config: Config,
    /// The config's name for reports (its path, or `<default>`).
    pub config_name: String,
    pub seeds: SeedRange,
    pub shard: Shard,
    /// Threads running seeds (at least 1).
    pub jobs: usize,
    /// Stop taking new seeds after this long.
    pub time_limit: Option<Duration>,
    /// Where failure directories and the progress file go.
    pub out: PathBuf,
    /// Skip the seeds the progress file in `out` lists as finished.
    pub resume: bool,
    pub canary: Option<Canary>,
}

/// What a campaign did.
#[derive(Debug, Clone)]
pub struct CampaignResult {
    pub summary: Summary,
    /// Seeds skipped because the progress file listed them (with `resume`).
    pub resumed: u64,
    /// Problems that did not stop the campaign (see `SeedResult::warning`).
    pub warnings: Vec<String>,
}

/// Why a campaign could not run or record its progress.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("progress file {path}: {source}")]
    Progress {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Runs the campaign. `on_seed` is called on the calling thread as each seed finishes (in
/// completion order, for progress display); `stop` ends it early (Ctrl-C).
pub fn run_campaign(
    spec: &CampaignSpec,
    stop: &AtomicBool,
    mut on_seed: impl FnMut(&SeedResult),
) -> Result<CampaignResult, CampaignError> {
    let started = Instant::now();
    let progress_error = |source| CampaignError::Progress {
        path: spec.out.join(PROGRESS_FILE),
        source,
    };
    let mut records = if spec.resume {
        load_finished(&spec.out).map_err(progress_error)?
    } else {
        BTreeMap::new()
    };
    // Keep only what this campaign would run (a resumed file may hold other shards' seeds).
    records.retain(|&seed, _| {
        seed >= spec.seeds.start
            && spec.seeds.end.is_none_or(|end| seed < end)
            && spec.shard.takes(seed)
    });
    let resumed = records.len() as u64;
    let mut progress = ProgressFile::open(&spec.out, spec.resume).map_err(progress_error)?;

    let finished: Vec<u64> = records.keys().copied().collect();
    let pending = shard_seeds(spec.seeds, spec.shard, move |seed| {
        finished.binary_search(&seed).is_ok()
    });
    let pending = Mutex::new(pending);
    let deadline = spec.time_limit.map(|limit| started + limit);
    let out_of_time = || deadline.is_some_and(|d| Instant::now() >= d);
    let mut warnings = Vec::new();
    let mut write_error = None;

    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel::<SeedResult>();
        for _ in 0..spec.jobs.max(1) {
            let sender = sender.clone();
            let pending = &pending;
            scope.spawn(move || {
                loop {
                    if stop.load(Ordering::SeqCst) || out_of_time() {
                        return;
                    }
                    let next = pending.lock().expect("no thread panics holding it").next();
                    let Some(seed) = next else { return };
                    // The simulation catches engine panics itself; this catches braid's own
                    // (writing artifacts, replaying) so one seed cannot end the campaign.
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run_seed(&spec.config, seed, spec.canary, &spec.out)
                    }))
                    .unwrap_or_else(|panic| runner::internal_panic(seed, panic.as_ref()));
                    if sender.send(result).is_err() {
                        return;
                    }
                }
            });
        }
        drop(sender);
        for result in receiver {
            if write_error.is_none()
                && let Err(err) = progress.append(&result.record)
            {
                write_error = Some(err);
                // The campaign cannot be resumed reliably any more: stop it.
                stop.store(true, Ordering::SeqCst);
            }
            on_seed(&result);
            if let Some(warning) = &result.warning {
                warnings.push(warning.clone());
            }
            records.insert(result.record.seed, result.record);
        }
    });
    if let Some(source) = write_error {
        return Err(CampaignError::Progress {
            path: progress.path().to_path_buf(),
            source,
        });
    }

    let ran_everything = {
        let mut rest = pending.lock().expect("the workers are done");
        rest.next().is_none()
    };
    let header = SummaryHeader {
        config: spec.config_name.clone(),
        canary: spec.canary.map(|c| c.name().to_string()),
        swarm: spec.config.swarm.enabled,
        shard: format!(
            "{} shard {}/{}",
            spec.seeds.describe(),
            spec.shard.index,
            spec.shard.count
        ),
        elapsed_seconds: started.elapsed().as_secs_f64(),
        interrupted: !ran_everything,
    };
    Ok(CampaignResult {
        summary: Summary::build(header, &records),
        resumed,
        warnings,
    })
}
