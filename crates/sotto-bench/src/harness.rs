//! Timing and reporting shared by every benchmark.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Map, Value};

/// A client for `seed` over onion paths of the network in `file`, its database at `db`, with
/// no background tasks (the benchmark drives every poll).
pub async fn onion_client(
    file: &sotto_client::NetworkFile,
    db: PathBuf,
    seed: [u8; 32],
) -> anyhow::Result<sotto_client::Client<sotto_client::OnionNetwork>> {
    let network = sotto_client::OnionNetwork::connect(file, sotto_client::OnionConfig::default())
        .await
        .context("connecting to the testnet")?;
    let mut config = sotto_client::ClientConfig::new(db);
    config.background = false;
    sotto_client::Client::connect(
        network,
        sotto_client::Account::from_ed25519_seed(&seed),
        config,
    )
    .await
    .context("starting a client")
}

/// How long each figure is measured for (after a short warm-up).
const MEASURE: Duration = Duration::from_millis(1500);

/// Calls `op` repeatedly for about [`MEASURE`] and returns calls per second.
pub fn per_second<T>(mut op: impl FnMut() -> T) -> f64 {
    let warm = Instant::now();
    while warm.elapsed() < MEASURE / 10 {
        black_box(op());
    }
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < MEASURE {
        for _ in 0..16 {
            black_box(op());
        }
        calls += 16;
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

/// Calls `op` (which processes `bytes` bytes per call) and returns MB/s (10^6 bytes per second).
pub fn mb_per_second<T>(bytes: usize, op: impl FnMut() -> T) -> f64 {
    per_second(op) * bytes as f64 / 1e6
}

/// The figures of one benchmark run.
pub struct Report {
    name: String,
    figures: Map<String, Value>,
}

impl Report {
    /// An empty report for benchmark `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            figures: Map::new(),
        }
    }

    /// Records a figure and prints it.
    pub fn figure(&mut self, key: &str, value: f64, unit: &str) {
        println!("{key:<40} {value:>14.1} {unit}");
        self.figures.insert(key.to_owned(), Value::from(value));
    }

    /// Records `numerator / denominator` under `key` and prints it.
    pub fn ratio(&mut self, key: &str, numerator: f64, denominator: f64) {
        let ratio = if denominator > 0.0 {
            numerator / denominator
        } else {
            0.0
        };
        println!("{key:<40} {ratio:>14.3} ratio");
        self.figures.insert(key.to_owned(), Value::from(ratio));
    }

    /// Writes `target/bench/NAME.json` and returns its path.
    pub fn write(&self) -> anyhow::Result<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{}.json", self.name));
        let mut doc = self.figures.clone();
        doc.insert("bench".into(), Value::from(self.name.clone()));
        doc.insert("cores_used".into(), Value::from(1));
        let text = serde_json::to_string_pretty(&Value::Object(doc))?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}
