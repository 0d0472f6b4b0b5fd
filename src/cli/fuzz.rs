//! `braid fuzz`: a campaign over many seeds, with a progress bar, failure directories, a
//! JSON summary, JUnit XML, Ctrl-C handling and `--resume`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use crate::artifacts::write_file_atomic;
use crate::campaign::{CampaignSpec, SeedRange, Shard, parse_duration, run_campaign, to_junit};
use crate::cli::{EXIT_FAILURE_FOUND, EXIT_INTERNAL, EXIT_PASS, EXIT_USAGE, parse_canary};
use crate::config;

/// Seeds run when neither `--seeds`, `--count` nor `--time` is given.
const DEFAULT_COUNT: u64 = 100;

/// What `braid fuzz` was asked for.
#[derive(Debug, Clone, Default)]
pub struct FuzzArgs {
    pub config: Option<PathBuf>,
    pub seeds: Option<String>,
    pub count: Option<u64>,
    pub time: Option<String>,
    pub jobs: Option<usize>,
    pub shard: Option<String>,
    pub swarm: bool,
    pub out: Option<PathBuf>,
    pub resume: bool,
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub canary: Option<String>,
    pub steps: Option<u64>,
    /// `--target NAME`.
    pub target: Option<String>,
    /// `--diff NAME`: every seed is a diff against this reference.
    pub diff: Option<String>,
}

/// Turns the arguments into a campaign, or a usage message.
pub fn campaign_spec(args: &FuzzArgs) -> Result<CampaignSpec, String> {
    let canary = parse_canary(args.canary.as_deref())?;
    let mut config = match &args.config {
        Some(path) => config::load(path).map_err(|e| e.to_string())?,
        None => config::default_config(),
    };
    if args.swarm {
        config.swarm.enabled = true;
    }
    if let Some(steps) = args.steps {
        config.run.steps = steps;
    }
    super::run::apply_target(&mut config, args.target.as_deref())?;
    if let Some(name) = &args.diff {
        let reference = crate::config::TargetName::from_name(name)
            .ok_or_else(|| format!("--diff {name}: expected one of braid, sqlite"))?;
        config.run.diff_against = Some(reference);
    }
    let origin = args
        .config
        .as_ref()
        .map_or(config::DEFAULT_ORIGIN.to_string(), |p| {
            p.display().to_string()
        });
    config.validate(&origin).map_err(|e| e.to_string())?;
    let time_limit = args.time.as_deref().map(parse_duration).transpose()?;
    let seeds = match (&args.seeds, args.count) {
        (Some(_), Some(_)) => return Err("give --seeds or --count, not both".into()),
        (Some(range), None) => SeedRange::parse(range)?,
        (None, Some(count)) => SeedRange::count(count),
        (None, None) if time_limit.is_some() => SeedRange::open(0),
        (None, None) => SeedRange::count(DEFAULT_COUNT),
    };
    let shard = match &args.shard {
        Some(text) => Shard::parse(text)?,
        None => Shard::ALL,
    };
    let jobs = match args.jobs {
        Some(0) => return Err("--jobs must be at least 1".into()),
        Some(jobs) => jobs,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    Ok(CampaignSpec {
        config,
        config_name: origin,
        seeds,
        shard,
        jobs,
        time_limit,
        out: args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("braid-out")),
        resume: args.resume,
        canary,
    })
}

/// Runs `braid fuzz`; returns the exit code.
pub fn run(args: &FuzzArgs) -> i32 {
    if args.canary.as_deref() == Some("list") {
        for canary in braid_core::Canary::ALL {
            println!("{}", canary.name());
        }
        return EXIT_PASS;
    }
    let spec = match campaign_spec(args) {
        Ok(spec) => spec,
        Err(message) => {
            eprintln!("braid fuzz: {message}");
            return EXIT_USAGE;
        }
    };
    println!(
        "braid fuzz: {} seeds {} shard {}/{}, {} jobs{}{}, artifacts in {}",
        spec.config_name,
        spec.seeds.describe(),
        spec.shard.index,
        spec.shard.count,
        spec.jobs,
        if spec.config.swarm.enabled {
            ", swarm"
        } else {
            ""
        },
        spec.canary
            .map_or(String::new(), |c| format!(", canary {}", c.name())),
        spec.out.display()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = stop.clone();
    // A second handler cannot be installed in one process (tests call `run` repeatedly):
    // then Ctrl-C keeps its default behaviour.
    let _ = ctrlc::set_handler(move || handler_stop.store(true, Ordering::SeqCst));

    let bar = progress_bar(spec.seeds.len().map(|n| n / spec.shard.count));
    let mut failures = 0u64;
    let result = run_campaign(&spec, &stop, |seed| {
        bar.inc(1);
        if let Some(failure) = &seed.record.failure {
            failures += 1;
            say(
                &bar,
                format!(
                    "FAILED seed {}: {} at step {}",
                    failure.seed, failure.kind, failure.step
                ),
            );
        }
        if let Some(warning) = &seed.warning {
            say(&bar, format!("warning: {warning}"));
        }
        bar.set_message(format!("{failures} failed"));
    });
    bar.finish_and_clear();
    let result = match result {
        Ok(result) => result,
        Err(err) => {
            eprintln!("braid fuzz: {err}");
            return EXIT_INTERNAL;
        }
    };
    if stop.load(Ordering::SeqCst) {
        println!("interrupted: running seeds finished and were recorded; --resume continues");
    }
    if result.resumed > 0 {
        println!("resumed: {} seeds were already done", result.resumed);
    }
    for line in result.summary.describe() {
        println!("{line}");
    }
    let internal = result
        .summary
        .failures
        .iter()
        .any(|f| f.kind == crate::sim::FailureKind::BraidPanic);
    let mut code = if internal {
        EXIT_INTERNAL
    } else if result.summary.failed > 0 {
        EXIT_FAILURE_FOUND
    } else {
        EXIT_PASS
    };
    let reports = [
        (&args.json, result.summary.to_json()),
        (&args.junit, to_junit(&result.summary)),
    ];
    for (path, text) in reports {
        if let Some(path) = path
            && let Err(err) = write_file_atomic(path, &text)
        {
            eprintln!("braid fuzz: {err}");
            code = EXIT_INTERNAL;
        }
    }
    code
}

/// Prints a line above the bar, or to stderr when the bar is hidden (indicatif drops
/// `println` on a hidden bar).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// A bar counting seeds (a spinner for open-ended campaigns); hidden when stderr is not a
/// terminal.
fn progress_bar(total: Option<u64>) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::no_length(),
    };
    let template = if total.is_some() {
        "{elapsed_precise} [{bar:30}] {pos}/{len} seeds  {per_sec}  {msg}"
    } else {
        "{elapsed_precise} {spinner} {pos} seeds  {per_sec}  {msg}"
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.set_message("0 failed");
    bar
}
