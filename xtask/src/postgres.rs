//! `cargo xtask ci` needs PostgreSQL: the community server's integration tests run against a
//! real PostgreSQL server as well as SQLite. This installs the distribution's package when
//! `initdb`/`pg_ctl` are missing (idempotent: nothing happens when they are there).

use anyhow::{Result, bail};

use crate::system::apt_install;

/// Makes sure `initdb` and `pg_ctl` are installed, installing `postgresql` with apt-get if not.
pub(crate) fn ensure() -> Result<()> {
    if let Some(dir) = sotto_testkit::postgres::bin_dir() {
        println!("PostgreSQL: {}", dir.display());
        return Ok(());
    }
    apt_install(&["postgresql"])?;
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
