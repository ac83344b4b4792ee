//! Installing the distribution packages that the test suite needs (PostgreSQL for the
//! community server, Chromium for `sotto app`) on a fresh Debian or Ubuntu machine.

use std::path::Path;

use anyhow::{Result, bail};

use crate::run;

/// Installs `packages` with apt-get: directly as root, through `sudo -n` otherwise. A failed
/// install is retried once after `apt-get update`, since a fresh machine may have no package
/// lists yet.
pub(crate) fn apt_install(packages: &[&str]) -> Result<()> {
    if !Path::new("/usr/bin/apt-get").exists() {
        bail!(
            "no apt-get on this machine: install the packages `{}` yourself and run again",
            packages.join(" ")
        );
    }
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let (program, prefix): (&str, &[&str]) = if root {
        ("apt-get", &[])
    } else {
        ("sudo", &["-n", "apt-get"])
    };
    let apt = |args: &[&str]| -> Result<bool> {
        let all: Vec<&str> = prefix.iter().chain(args).copied().collect();
        run(program, &all, &[("DEBIAN_FRONTEND", "noninteractive")])
    };
    let install: Vec<&str> = ["install", "-y", "-qq"]
        .into_iter()
        .chain(packages.iter().copied())
        .collect();
    if apt(&install)? || (apt(&["update", "-qq"])? && apt(&install)?) {
        return Ok(());
    }
    bail!(
        "installing `{}` with apt-get failed: install them as root and run again",
        packages.join(" ")
    )
}
