//! The runner passes the project's vectors and fails whatever it cannot vouch for.
#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sotto_testkit::vectors::run_dirs;

fn project_vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-vectors")
}

fn write_suite(dir: &Path, suite: &str, groups: Value) {
    let doc = json!({ "suite": suite, "spec": "test", "groups": groups });
    std::fs::write(dir.join(format!("{suite}.json")), doc.to_string()).unwrap();
}

#[test]
fn project_vectors_all_pass() {
    let report = run_dirs(&[project_vectors()]);
    assert!(report.ok(), "{:#?}\n{}", report.failures, report.summary());
    // Every suite file in the directory ran, and passed at least one case.
    for entry in std::fs::read_dir(project_vectors()).unwrap() {
        let path = entry.unwrap().path();
        let suite = path.file_stem().unwrap().to_str().unwrap().to_owned();
        assert!(
            report.suites.iter().any(|(s, p, _)| *s == suite && *p > 0),
            "suite {suite} did not run"
        );
    }
}

#[test]
fn wrong_expectation_unknown_group_and_unread_field_fail() {
    let dir = tempfile::tempdir().unwrap();
    let sign = |sig: &str, extra: Option<(&str, &str)>| {
        let mut case = json!({
            "id": "identity/ed25519_sign/01", "origin": "constructed", "source": "test",
            "ed25519_seed_hex": "4cb76fdc6d32278e3f83dbf608360ecc6b65727934b85d2fb86862ff98c46ab7",
            "message_utf8": "hello",
            "expected_signature_hex": sig,
        });
        if let Some((k, v)) = extra {
            case[k] = json!(v);
        }
        case
    };
    let good = "e03b6e87a53d83f202f2501e9b52193dbe4a64c6503f88244948dee5327185011574589aa7b59bc9757f9b9c31b7be9c9212b92ac7c81e029ee21c338ee12405";
    let bad = good.replace("e03b", "e03c");
    write_suite(
        dir.path(),
        "identity",
        json!({
            "ed25519_sign": { "about": "", "cases": [
                sign(good, None),
                sign(&bad, None),
                sign(good, Some(("expected_new_field_hex", "00"))),
            ]},
            "no_such_group": { "about": "", "cases": [ { "id": "identity/no_such_group/01" } ] },
        }),
    );
    write_suite(
        dir.path(),
        "no_such_suite",
        json!({ "g": { "about": "", "cases": [ { "id": "x/g/01" } ] } }),
    );
    let report = run_dirs(&[dir.path().to_path_buf()]);
    assert_eq!(report.passed, 1, "{:#?}", report.failures);
    let reasons: Vec<String> = report.failures.iter().map(|f| f.reason.clone()).collect();
    assert_eq!(report.failures.len(), 4, "{reasons:#?}");
    assert!(reasons.iter().any(|r| r.starts_with("signature: got")));
    assert!(reasons.iter().any(|r| r.contains("expected_new_field_hex")));
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("group \"no_such_group\""))
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("suite \"no_such_suite\""))
    );
    assert_eq!(report.summary(), "vectors: 1 passed, 4 failed");
}

#[test]
fn an_empty_or_missing_directory_is_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    assert!(!run_dirs(&[dir.path().to_path_buf()]).ok());
    assert!(!run_dirs(&[dir.path().join("missing")]).ok());
}
