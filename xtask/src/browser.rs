//! The browser the `sotto app` tests drive: headless Chromium and chromedriver, installed from
//! the distribution's packages when missing (CI runs as root on Debian).

use anyhow::Result;

use crate::system::apt_install;

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
    apt_install(&["chromium", "chromium-driver"])
}
