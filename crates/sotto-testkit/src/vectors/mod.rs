//! The conformance-vector runner.

mod attachment;
mod blinding;
mod case;
mod config;
mod envelope;
mod groups_legacy;
mod groups_v2;
mod identity;
mod mnemonic;
mod onion;
mod session;
mod sogs;
mod storage_rpc;
mod swarm;

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use case::{Case, CaseResult};

/// What checks one case.
pub type Handler = fn(&Case<'_>) -> CaseResult;

/// The handler for a suite's group, if the runner knows it.
#[must_use]
pub fn handler(suite: &str, group: &str) -> Option<Handler> {
    match suite {
        "attachment" => attachment::handler(group),
        "config" => config::handler(group),
        "envelope" => envelope::handler(group),
        "groups_legacy" => groups_legacy::handler(group),
        "groups_v2" => groups_v2::handler(group),
        "identity" => identity::handler(group),
        "mnemonic" => mnemonic::handler(group),
        "blinding" => blinding::handler(group),
        "onion" => onion::handler(group),
        "session" => session::handler(group),
        "sogs" => sogs::handler(group),
        "storage_rpc" => storage_rpc::handler(group),
        "swarm" => swarm::handler(group),
        _ => None,
    }
}

/// One failed case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The case id (`suite/group/nn`), or the file when the file itself is unreadable.
    pub id: String,
    /// What went wrong.
    pub reason: String,
}

/// The outcome of a run.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed, in order.
    pub failures: Vec<Failure>,
    /// Per suite: (suite, passed, failed).
    pub suites: Vec<(String, usize, usize)>,
}

impl Report {
    /// The closing line: `vectors: N passed, M failed`.
    #[must_use]
    pub fn summary(&self) -> String {
        format!(
            "vectors: {} passed, {} failed",
            self.passed,
            self.failures.len()
        )
    }

    /// Whether every case passed (and at least one ran).
    #[must_use]
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && self.passed > 0
    }

    fn fail(&mut self, id: impl Into<String>, reason: impl Into<String>) {
        self.failures.push(Failure {
            id: id.into(),
            reason: reason.into(),
        });
    }
}

/// Runs every `*.json` file in each directory (not recursive), in name order.
#[must_use]
pub fn run_dirs(dirs: &[PathBuf]) -> Report {
    let mut report = Report::default();
    for dir in dirs {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect(),
            Err(e) => {
                report.fail(
                    dir.display().to_string(),
                    format!("cannot read directory: {e}"),
                );
                continue;
            }
        };
        files.sort();
        if files.is_empty() {
            report.fail(
                dir.display().to_string(),
                "no *.json vector files in this directory",
            );
        }
        for file in files {
            run_file(&file, &mut report);
        }
    }
    report
}

/// Runs one suite file.
pub fn run_file(path: &Path, report: &mut Report) {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return report.fail(name, format!("cannot read: {e}")),
    };
    let doc: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return report.fail(name, format!("not JSON: {e}")),
    };
    let Some(suite) = doc.get("suite").and_then(Value::as_str) else {
        return report.fail(name, "no \"suite\" name");
    };
    let Some(groups) = doc.get("groups").and_then(Value::as_object) else {
        return report.fail(name, "no \"groups\" object");
    };
    let (before_pass, before_fail) = (report.passed, report.failures.len());
    for (group, body) in groups {
        let cases = body
            .get("cases")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if cases.is_empty() {
            report.fail(format!("{suite}/{group}"), "group has no cases");
        }
        let run = handler(suite, group);
        for (index, value) in cases.iter().enumerate() {
            let case = match Case::new(value, || format!("{suite}/{group}/#{index}")) {
                Ok(case) => case,
                Err(failure) => {
                    report.failures.push(failure);
                    continue;
                }
            };
            let Some(run) = run else {
                report.fail(
                    case.id(),
                    format!("no handler for suite {suite:?} group {group:?}"),
                );
                continue;
            };
            match case.run(run) {
                Ok(()) => report.passed += 1,
                Err(reason) => report.fail(case.id(), reason),
            }
        }
    }
    report.suites.push((
        suite.to_owned(),
        report.passed - before_pass,
        report.failures.len() - before_fail,
    ));
}
