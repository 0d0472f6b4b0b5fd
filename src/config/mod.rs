//! Configs: the TOML schema (`schema`), its validation (`validate`), errors that name the
//! file and the key (`error`, `locate`), the integer form the simulator reads (`settings`)
//! and swarm mode (`swarm`). Entry points: `load`, `parse`, `default_config`, `to_toml`,
//! `check_files` (for `braid check`).

mod error;
mod locate;
mod schema;
mod settings;
mod swarm;
mod validate;

use std::path::{Path, PathBuf};

pub use error::ConfigError;
pub use schema::{
    Config, FAULT_KINDS, FaultsConfig, FsyncFailure, LivenessConfig, RunConfig, SchedulerConfig,
    StorageConfig, Strategy, SwarmConfig, Sync, TargetName, WorkloadConfig, default_workloads,
};
pub use settings::{FaultSettings, PPM, Settings, WorkloadSpec, to_ppm, workload_params};

/// The text of `configs/default.toml`, compiled in.
pub const DEFAULT_TOML: &str = include_str!("../../configs/default.toml");

/// The origin name of the compiled-in default config.
pub const DEFAULT_ORIGIN: &str = "<default>";

/// Parses and validates config `text`; `origin` names it in errors (usually the path).
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let config: Config =
        toml::from_str(text).map_err(|error| locate::toml_error(origin, text, &error))?;
    validate::validate(&config, origin)?;
    Ok(config)
}

/// Reads, parses and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|error| ConfigError::whole(&origin, format!("cannot read the file: {error}")))?;
    parse(&text, &origin)
}

/// The built-in default config (`configs/default.toml`).
pub fn default_config() -> Config {
    parse(DEFAULT_TOML, DEFAULT_ORIGIN).expect("configs/default.toml is valid (tested)")
}

/// `config` as TOML text that `parse` reads back to an equal config (for artifacts).
pub fn to_toml(config: &Config) -> String {
    toml::to_string(config).expect("a config always serializes")
}

impl Config {
    /// Checks the config (for configs built in code); `origin` names it in errors.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        validate::validate(self, origin)
    }

    /// The integer form the simulator reads. Fails if the config is invalid.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        self.validate("<config>")?;
        Ok(Settings::new(self))
    }
}

/// `braid check`: validates each file. Returns the exit code (0 when every file is valid,
/// 2 otherwise) and one message per file.
pub fn check_files(paths: &[PathBuf]) -> (i32, Vec<String>) {
    let mut code = 0;
    let mut messages = Vec::new();
    for path in paths {
        match load(path) {
            Ok(config) => {
                let kinds: Vec<_> = config.workloads.iter().map(|w| w.kind.as_str()).collect();
                let swarm = if config.swarm.enabled { ", swarm" } else { "" };
                messages.push(format!(
                    "{}: ok ({} steps, {} connections, workloads {}{swarm})",
                    path.display(),
                    config.run.steps,
                    config.run.connections,
                    kinds.join(", "),
                ));
            }
            Err(error) => {
                code = 2;
                messages.push(error.to_string());
            }
        }
    }
    if paths.is_empty() {
        code = 2;
        messages.push("braid check: expected at least one config file".to_string());
    }
    (code, messages)
}
