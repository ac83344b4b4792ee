//! The browser the `sotto app` tests drive: headless Chromium and chromedriver, installed from
//! the distribution's packages when missing (CI runs as root on Debian).

use std::path::Path;

use anyhow::{Result, bail};

/// Whether `program` is on the PATH.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Installs `chromium` and `chromium-driver` with apt-get unless chromedriver and a Chromium
/// are already there. Idempotent.
pub fn ensure() -> Result<()> {
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .any(|b| on_path(b));
    if browser && on_path("chromedriver") {
        return Ok(());
    }
    if !Path::new("/usr/bin/apt-get").exists() {
        bail!(
            "the `sotto app` browser tests need Chromium and chromedriver: install them (on \
             Debian or Ubuntu: `apt-get install chromium chromium-driver`)"
        );
    }
    let env = [("DEBIAN_FRONTEND", "noninteractive")];
    if !crate::run("apt-get", &["update", "-qq"], &env)?
        || !crate::run(
            "apt-get",
            &["install", "-y", "-qq", "chromium", "chromium-driver"],
            &env,
        )?
    {
        bail!(
            "installing chromium and chromium-driver failed (the `sotto app` browser tests \
             need them): run `apt-get install chromium chromium-driver` as root"
        );
    }
    Ok(())
}
