//! Every config shipped in configs/ parses, validates, builds its settings and workload mix,
//! and survives a round trip through `to_toml` (what artifacts store).

use std::path::PathBuf;

use braid::config::{self, Config, DEFAULT_ORIGIN, DEFAULT_TOML};

fn config_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("configs/ exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    // A config for a target this binary lacks (`--features sqlite`, `--features turso`) is
    // refused by design; it is checked by the build that has the target.
    files.retain(|path| {
        let text = std::fs::read_to_string(path).expect("readable");
        let table: toml::Table = text.parse().expect("TOML");
        let target = table
            .get("run")
            .and_then(|run| run.get("target"))
            .and_then(|t| t.as_str())
            .unwrap_or("braid");
        config::TargetName::from_name(target).is_some_and(|t| t.available())
    });
    files
}

#[test]
fn every_shipped_config_parses_validates_and_builds() {
    let files = config_files();
    let names: Vec<_> = files
        .iter()
        .filter_map(|p| p.file_stem()?.to_str())
        .collect();
    for expected in [
        "default",
        "bank",
        "list-append",
        "churn",
        "crash",
        "crash-normal",
        "chaos",
        "nightly",
    ] {
        assert!(
            names.contains(&expected),
            "configs/{expected}.toml is missing: {names:?}"
        );
    }
    for path in &files {
        let config = config::load(path).unwrap_or_else(|error| panic!("{error}"));
        let text = std::fs::read_to_string(path).expect("readable");
        assert!(
            text.starts_with('#'),
            "{} must open with a comment saying what it is for",
            path.display()
        );
        let settings = config
            .resolve(1)
            .settings()
            .unwrap_or_else(|error| panic!("{error}"));
        let mix = settings.workload_mix();
        assert_eq!(mix.kinds().len(), settings.workloads.len());
        settings
            .db_options()
            .validate()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn every_shipped_config_round_trips_through_toml() {
    for path in config_files() {
        let config = config::load(&path).expect("valid");
        let text = config::to_toml(&config);
        let again = config::parse(&text, "round-trip").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(again, config, "{} changed in a round trip", path.display());
    }
}

#[test]
fn the_compiled_in_default_is_configs_default_toml() {
    let on_disk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs/default.toml");
    assert_eq!(
        config::default_config(),
        config::load(&on_disk).expect("valid")
    );
    assert_eq!(
        config::parse(DEFAULT_TOML, DEFAULT_ORIGIN).expect("valid"),
        config::default_config()
    );
    assert_eq!(
        config::default_config(),
        Config::default(),
        "default.toml spells out the defaults"
    );
}

#[test]
fn the_default_config_has_what_the_design_asks_for() {
    let config = config::default_config();
    assert!(config.run.connections >= 4);
    assert_eq!(config.storage.page_size, 512);
    assert_eq!(config.storage.sync, config::Sync::Full);
    assert!(config.faults.crash > 0.0 && config.faults.read_error > 0.0);
    assert_eq!(config.faults.bit_flip, 0.0, "bit flips are off by default");
    let kinds: Vec<_> = config.workloads.iter().map(|w| w.kind.as_str()).collect();
    for kind in [
        "register",
        "bank",
        "list-append",
        "counter",
        "churn",
        "scan",
        "checkpoint",
    ] {
        assert!(kinds.contains(&kind), "default lacks {kind}");
    }
}

#[test]
fn settings_are_parts_per_million() {
    let text = "[faults]\ncrash = 0.25\nread_error = 0.000001\n[scheduler]\nyield_probability = 1\n\
                [[workload]]\nkind = \"register\"\nread_probability = 0.3\n";
    let settings = config::parse(text, "ppm.toml")
        .expect("valid")
        .settings()
        .expect("valid");
    assert_eq!(settings.faults.crash_ppm, 250_000);
    assert_eq!(settings.faults.read_error_ppm, 1);
    assert_eq!(settings.yield_ppm, 1_000_000);
    assert_eq!(settings.workloads[0].params.read_ppm, 300_000);
    // Unset value sizes respect the page: churn fills up to a quarter page.
    let text = "[storage]\npage_size = 4096\n[[workload]]\nkind = \"churn\"\n";
    let settings = config::parse(text, "churn.toml")
        .expect("valid")
        .settings()
        .expect("valid");
    assert_eq!(settings.workloads[0].params.value_bytes_max, 1024);
}

#[test]
fn settings_refuse_an_invalid_config_built_in_code() {
    let mut config = Config::default();
    config.storage.page_size = 3000;
    let error = config.settings().expect_err("invalid page size");
    assert_eq!(error.key.as_deref(), Some("storage.page_size"));
}

#[test]
fn check_files_reports_each_file_and_exits_2_on_any_bad_one() {
    let files = config_files();
    let (code, messages) = config::check_files(&files);
    assert_eq!(code, 0, "{messages:?}");
    assert_eq!(messages.len(), files.len());
    assert!(
        messages.iter().all(|m| m.contains(": ok (")),
        "{messages:?}"
    );

    let bad = std::env::temp_dir().join(format!("braid-check-{}.toml", std::process::id()));
    std::fs::write(&bad, "[storage]\npage_size = 1000\n").expect("temp file");
    let (code, messages) = config::check_files(&[files[0].clone(), bad.clone()]);
    std::fs::remove_file(&bad).expect("temp file");
    assert_eq!(code, 2);
    assert!(messages[0].contains(": ok ("));
    assert!(messages[1].contains("storage.page_size"), "{messages:?}");
    assert_eq!(config::check_files(&[]).0, 2, "no file is a usage error");
}
