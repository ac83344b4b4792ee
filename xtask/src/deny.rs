//! `cargo xtask deny`: cargo-deny against the committed advisory database snapshot.
//!
//! This machine, CI included, reaches crates.io but not the advisory database's git host. So
//! `supply-chain/advisory-db/` carries a snapshot, and this command lays it out where cargo-deny
//! looks for its database (`target/advisory-db/advisory-db-<hash of the URL>`, a git repository
//! whose HEAD date is the snapshot's date), then runs cargo-deny with `--offline`.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{root, run};

/// The cargo-deny release this configuration is written for.
const CARGO_DENY_VERSION: &str = "0.20.2";

/// Where cargo-deny 0.20 keeps the database fetched from `db-urls` in `deny.toml`: the folder name
/// is the URL's last segment plus a hash of the whole URL.
const DB_DIR: &str = "target/advisory-db/advisory-db-3157b0e258782691";

pub(crate) fn deny() -> Result<bool> {
    ensure_cargo_deny()?;
    lay_out_snapshot(&root())?;
    // cargo-deny reads `cargo metadata` for every platform, so every platform's crates must be in
    // the local cache before it runs offline.
    if !run("cargo", &["fetch", "--locked"], &[])? {
        bail!("`cargo fetch` failed");
    }
    run("cargo", &["deny", "--offline", "--locked", "check"], &[])
}

fn ensure_cargo_deny() -> Result<()> {
    let version = Command::new("cargo")
        .args(["deny", "--version"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if version.as_deref() == Some(&format!("cargo-deny {CARGO_DENY_VERSION}")) {
        return Ok(());
    }
    let spec = format!("cargo-deny@{CARGO_DENY_VERSION}");
    if !run("cargo", &["install", "--locked", &spec], &[])? {
        bail!("could not install {spec}");
    }
    Ok(())
}

/// Copies the snapshot into a fresh one-commit git repository dated at the upstream commit, so
/// that cargo-deny's staleness check measures the snapshot's real age.
fn lay_out_snapshot(root: &Path) -> Result<()> {
    let source = root.join("supply-chain/advisory-db");
    let meta = root.join("supply-chain/advisory-db.snapshot");
    let meta = fs::read_to_string(&meta).with_context(|| format!("reading {}", meta.display()))?;
    let date = meta
        .lines()
        .find_map(|line| line.strip_prefix("date = "))
        .map(|d| d.trim_matches('"'))
        .context("supply-chain/advisory-db.snapshot has no `date = \"…\"` line")?;
    let db = root.join(DB_DIR);
    if db.exists() {
        fs::remove_dir_all(&db).with_context(|| format!("removing {}", db.display()))?;
    }
    copy_dir(&source, &db)?;
    let git = |args: &[&str]| -> Result<()> {
        let status = Command::new("git")
            .args(["-c", "user.name=advisory-db snapshot"])
            .args(["-c", "user.email=snapshot@localhost"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .current_dir(&db)
            .status()
            .context("cannot run git")?;
        if !status.success() {
            bail!("`git {}` failed in {}", args.join(" "), db.display());
        }
        Ok(())
    };
    git(&["init", "--quiet"])?;
    git(&["add", "--all"])?;
    git(&[
        "commit",
        "--quiet",
        "--message",
        "advisory database snapshot",
    ])?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}
