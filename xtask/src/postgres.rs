//! `cargo xtask ci` needs PostgreSQL: the community server's integration tests run against a
//! real PostgreSQL server as well as SQLite. This installs the distribution's package when
//! `initdb`/`pg_ctl` are missing (idempotent: nothing happens when they are there).

use anyhow::{Result, bail};

use crate::run;

/// Makes sure `initdb` and `pg_ctl` are installed, installing `postgresql` with apt-get if not.
pub(crate) fn ensure() -> Result<()> {
    if let Some(dir) = sotto_testkit::postgres::bin_dir() {
        println!("PostgreSQL: {}", dir.display());
        return Ok(());
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
    if !apt(&["install", "-y", "--no-install-recommends", "postgresql"])? {
        // A fresh machine may have no package lists yet.
        apt(&["update"])?;
        apt(&["install", "-y", "--no-install-recommends", "postgresql"])?;
    }
    match sotto_testkit::postgres::bin_dir() {
        Some(dir) => {
            println!("PostgreSQL: {}", dir.display());
            Ok(())
        }
        None => bail!(
            "PostgreSQL is needed by the community server's tests and could not be installed: \
             install the `postgresql` package (initdb and pg_ctl) and run again"
        ),
    }
}
