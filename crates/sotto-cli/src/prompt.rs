//! Reading secrets and confirmations: from a file, the environment or the terminal.
//!
//! The terminal is only used when there is one (stdin or stderr is a TTY), so scripts never hang
//! waiting for input they cannot give; they get an error that names the non-interactive way.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::path::Path;

use anyhow::{Context as _, bail};
use zeroize::Zeroizing;

use crate::store::Passphrase;

/// Environment variable holding the passphrase, for scripts.
pub const PASSPHRASE_ENV: &str = "SOTTO_PASSPHRASE";
/// A recovery phrase is about a hundred characters; read no more than this from stdin.
const MAX_PHRASE_LEN: u64 = 4096;
/// Read no more than this from a passphrase file.
const MAX_PASSPHRASE_FILE_LEN: u64 = 64 * 1024;

fn can_prompt() -> bool {
    io::stdin().is_terminal() || io::stderr().is_terminal()
}

/// Asks on the terminal without echo.
fn ask_hidden(prompt: &str) -> anyhow::Result<Zeroizing<String>> {
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .context("cannot read from the terminal")
}

fn checked(text: Zeroizing<String>, source: &str) -> anyhow::Result<Passphrase> {
    Passphrase::new(text).with_context(|| format!("no passphrase in {source}"))
}

fn from_file(path: &Path) -> anyhow::Result<Passphrase> {
    let what = || format!("cannot read the passphrase file {}", path.display());
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PASSPHRASE_FILE_LEN).read_to_end(&mut bytes))
        .with_context(what)?;
    let text = std::str::from_utf8(&bytes)
        .ok()
        .with_context(|| format!("the passphrase file {} is not UTF-8 text", path.display()))?;
    // One trailing line break is not part of the passphrase (`echo pw > file`).
    let text = text
        .strip_suffix('\n')
        .map_or(text, |t| t.strip_suffix('\r').unwrap_or(t));
    checked(Zeroizing::new(text.to_owned()), &path.display().to_string())
}

fn from_env() -> anyhow::Result<Option<Passphrase>> {
    match std::env::var(PASSPHRASE_ENV) {
        Ok(text) if text.is_empty() => Ok(None),
        Ok(text) => checked(Zeroizing::new(text), PASSPHRASE_ENV).map(Some),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{PASSPHRASE_ENV} is not valid UTF-8"),
    }
}

/// The passphrase to encrypt a new or restored account with, if the user asked for one:
/// `--passphrase-file`, else `SOTTO_PASSPHRASE`, else (with `--passphrase`) asked twice on the
/// terminal.
pub fn new_passphrase(
    interactive: bool,
    file: Option<&Path>,
) -> anyhow::Result<Option<Passphrase>> {
    if let Some(file) = file {
        return from_file(file).map(Some);
    }
    if let Some(passphrase) = from_env()? {
        return Ok(Some(passphrase));
    }
    if !interactive {
        return Ok(None);
    }
    if !can_prompt() {
        bail!(
            "--passphrase asks on the terminal, and there is none: use --passphrase-file FILE or \
             set {PASSPHRASE_ENV}"
        );
    }
    let first = ask_hidden("New passphrase: ")?;
    if first.is_empty() {
        bail!("the passphrase is empty: leave out --passphrase to store the seed unencrypted");
    }
    let second = ask_hidden("Repeat the passphrase: ")?;
    if *first != *second {
        bail!("the two passphrases differ: run the command again");
    }
    checked(first, "the terminal input").map(Some)
}

/// The passphrase to unlock an encrypted account: `--passphrase-file`, else `SOTTO_PASSPHRASE`,
/// else asked once on the terminal.
pub fn unlock_passphrase(file: Option<&Path>, dir: &Path) -> anyhow::Result<Passphrase> {
    if let Some(file) = file {
        return from_file(file);
    }
    if let Some(passphrase) = from_env()? {
        return Ok(passphrase);
    }
    if !can_prompt() {
        bail!(
            "the account in {} is protected by a passphrase: pass --passphrase-file FILE or set \
             {PASSPHRASE_ENV} (or run in a terminal to be asked)",
            dir.display()
        );
    }
    let text = ask_hidden("Passphrase: ")?;
    checked(text, "the terminal input")
}

/// The recovery phrase: the argument, else standard input (asked without echo on a terminal).
/// Whitespace is normalised to single spaces and ASCII letters to lower case.
pub fn recovery_phrase(arg: Option<&str>) -> anyhow::Result<Zeroizing<String>> {
    let raw = match arg {
        Some(phrase) if phrase != "-" => Zeroizing::new(phrase.to_owned()),
        _ if io::stdin().is_terminal() => ask_hidden("Recovery phrase (typing is hidden): ")?,
        _ => {
            let mut text = Zeroizing::new(String::new());
            io::stdin()
                .lock()
                .take(MAX_PHRASE_LEN)
                .read_to_string(&mut text)
                .context("cannot read the recovery phrase from standard input")?;
            text
        }
    };
    let words: Vec<&str> = raw.split_whitespace().collect();
    if words.is_empty() {
        bail!(
            "no recovery phrase given: pass it as an argument or on standard input, e.g. \
             `sotto account restore < phrase.txt`"
        );
    }
    let mut phrase = Zeroizing::new(words.join(" "));
    phrase.make_ascii_lowercase();
    Ok(phrase)
}

/// Asks a yes/no question on the terminal. `None` if there is no terminal to ask on.
pub fn confirm(question: &str) -> anyhow::Result<Option<bool>> {
    if !io::stdin().is_terminal() {
        return Ok(None);
    }
    let mut err = io::stderr().lock();
    write!(err, "{question} [y/N] ")
        .and_then(|()| err.flush())
        .context("cannot ask")?;
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(Some(matches!(
        answer.trim().to_lowercase().as_str(),
        "y" | "yes"
    )))
}
