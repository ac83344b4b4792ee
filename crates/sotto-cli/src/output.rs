//! Writing results to stdout: human text or JSON with stable keys.
//!
//! Every value a command prints is one of the structs here, so the JSON keys are fixed in one
//! place. Optional values are `null` rather than missing. A closed stdout (`sotto id | head -c0`)
//! is not an error.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

/// `sotto account new`.
#[derive(Serialize)]
pub struct NewAccount<'a> {
    pub session_id: String,
    pub recovery_phrase: &'a str,
    pub data_dir: String,
    pub account_file: String,
    pub encrypted: bool,
    pub qr_png: Option<String>,
}

/// `sotto account restore`.
#[derive(Serialize)]
pub struct RestoredAccount {
    pub session_id: String,
    pub data_dir: String,
    pub account_file: String,
    pub encrypted: bool,
}

/// `sotto account show-phrase`.
#[derive(Serialize)]
pub struct Phrase<'a> {
    pub session_id: String,
    pub recovery_phrase: &'a str,
}

/// `sotto account info`.
#[derive(Serialize)]
pub struct Info {
    pub session_id: String,
    pub data_dir: String,
    pub account_file: String,
    pub encrypted: bool,
    pub kdf: Option<crate::store::KdfParams>,
}

/// `sotto id`.
#[derive(Serialize)]
pub struct Id {
    pub session_id: String,
    pub qr_png: Option<String>,
}

/// `sotto qr decode`.
#[derive(Serialize)]
pub struct Decoded {
    pub session_id: String,
    pub file: String,
}

/// A path for display and JSON (lossy for names that are not UTF-8).
pub fn path(path: &Path) -> String {
    path.display().to_string()
}

/// Prints `value` as pretty JSON followed by a newline.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut text = zeroize::Zeroizing::new(
        serde_json::to_string_pretty(value).context("cannot format the output as JSON")?,
    );
    text.push('\n');
    stdout(&text)
}

/// Prints text as is.
pub fn stdout(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")
        }
        _ => Ok(()),
    }
}
