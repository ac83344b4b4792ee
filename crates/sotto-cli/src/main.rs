#![doc = include_str!("../README.md")]

mod app;
mod chat;
mod commands;
mod commands_community;
mod commands_files;
mod commands_groups;
mod commands_sync;
mod listen;
mod net;
mod output;
mod prompt;
mod qr;
mod render;
mod resolve;
mod store;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use sotto_crypto::OsRng;
use sotto_identity::{Account, SessionId};

use crate::store::{Store, StoredAccount};

/// Sotto: a Session-compatible messenger for the terminal.
///
/// Each profile (an account, its contacts and messages) lives in ROOT/PROFILE, where ROOT is
/// --root (else $XDG_DATA_HOME/sotto, else ~/.local/share/sotto), or in the directory given with
/// --data-dir. Commands that talk to the network read the network file (--network, written by
/// `cargo xtask testnet`) and send every request through a three-hop onion path. Add --json to
/// any command for machine-readable output.
///
/// Examples:
///   sotto account new                 create an account, show its ID, phrase and QR code
///   sotto contacts add 05ab… --name bob
///   sotto send bob "hello"            send, wait until bob's swarm stores it, show the route
///   sotto inbox                       fetch new messages; conversations and message requests
///   sotto read bob                    the conversation with bob, with delivery states
///   sotto chat bob                    a live chat in the terminal
///   sotto listen | jq .text           incoming messages as JSON lines
#[derive(Parser)]
#[command(
    name = "sotto",
    version,
    verbatim_doc_comment,
    propagate_version = true
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Account profile: each profile is a separate account.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "SOTTO_PROFILE",
        default_value = "default",
        value_name = "NAME"
    )]
    profile: String,

    /// Use DIR for the account instead of the per-user data directory (ignores --profile).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "SOTTO_DATA_DIR",
        value_name = "DIR"
    )]
    data_dir: Option<PathBuf>,

    /// The directory holding the profiles (default: $XDG_DATA_HOME/sotto).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "SOTTO_ROOT",
        value_name = "DIR"
    )]
    root: Option<PathBuf>,

    /// The network file (written by `cargo xtask testnet`).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "SOTTO_NETWORK",
        default_value = "target/testnet/network.json",
        value_name = "FILE"
    )]
    network: PathBuf,

    /// Also print the onion routes of the requests made (sync, inbox, read, requests).
    #[arg(long, short, global = true, help_heading = "Global options")]
    verbose: bool,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true, help_heading = "Global options")]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Create, restore and inspect the account.
    #[command(subcommand)]
    Account(AccountCommand),

    /// Print your Session ID (never needs the passphrase)
    ///
    /// Examples:
    ///   sotto id
    ///   sotto id --qr
    ///   sotto id --qr-png my-id.png
    ///   sotto id --json | jq -r .session_id
    #[command(verbatim_doc_comment)]
    Id(IdArgs),

    /// QR codes of Session IDs.
    #[command(subcommand)]
    Qr(QrCommand),

    /// Add, list, block, remove, pin and hide contacts (no network needed; `sotto sync`
    /// takes the change to your other devices).
    #[command(subcommand)]
    Contacts(commands::ContactsCommand),

    /// Send a text; waits until the recipient's swarm stores it and shows the route
    ///
    /// Prints the message number, on how many nodes of the recipient's swarm it is stored, and
    /// the onion route it took (guard → middle → exit → swarm node). A message that could not
    /// be stored is retried by the next `sotto sync` (and while `listen` or `chat` runs).
    /// Writing to someone whose message request is pending accepts it.
    ///
    /// Examples:
    ///   sotto send bob "hello"
    ///   sotto send 05ab… "hi, it's alice"
    ///   sotto send bob "yes" --reply-to 12
    ///   sotto send bob "ok" --json | jq .state
    #[command(verbatim_doc_comment)]
    Send(commands::SendArgs),

    /// Save a received attachment (downloaded through an onion path, decrypted and verified)
    ///
    /// N is the attachment's number as `read` lists it: 12.1 is message 12's first
    /// attachment, 12 every attachment of message 12, `last` those of the newest message with
    /// attachments. A file the server no longer has (files live about 14 days) is reported as
    /// expired.
    ///
    /// Examples:
    ///   sotto save bob 12.1
    ///   sotto save bob last --out ~/Downloads
    #[command(verbatim_doc_comment)]
    Save(commands_files::SaveArgs),

    /// Play a voice message (needs the `audio` feature, not in this build: use `save`)
    ///
    /// Example:
    ///   sotto play bob 12.1
    #[command(verbatim_doc_comment)]
    Play(commands_files::PlayArgs),

    /// Fetch new messages once and retry unsent ones; prints what arrived
    ///
    /// Syncs your configs first (profile, contacts, conversations, groups): changes made on
    /// your other devices (restored from the same recovery phrase) are merged here, and
    /// changes made here are pushed for them.
    ///
    /// Examples:
    ///   sotto sync
    ///   sotto sync -v          also show the onion routes of the requests
    ///   sotto sync --json
    ///   sotto sync --status    each config's seqno and whether it is pushed
    #[command(verbatim_doc_comment)]
    Sync(commands_sync::SyncArgs),

    /// Conversations with unread counts; message requests are marked (syncs first)
    ///
    /// Examples:
    ///   sotto inbox
    ///   sotto inbox --offline
    ///   sotto inbox --json | jq '.conversations[] | select(.unread > 0)'
    #[command(verbatim_doc_comment)]
    Inbox(commands::InboxArgs),

    /// Show a conversation with delivery states, replies and reactions; marks it read
    ///
    /// Syncs first unless --offline. Marking read sends a read receipt when they are on
    /// (`sotto settings read-receipts on`). The numbers (#12) name messages in `send
    /// --reply-to`, `react` and `unsend`.
    ///
    /// Examples:
    ///   sotto read bob
    ///   sotto read bob --limit 10 --offline
    ///   sotto read 05ab… --json
    #[command(verbatim_doc_comment)]
    Read(commands::ReadArgs),

    /// Message requests: first messages from people who are not contacts (syncs first)
    ///
    /// Examples:
    ///   sotto requests
    ///   sotto requests accept carol       accept: carol becomes a contact and is told so
    ///   sotto requests decline 05cd…      delete the request (the sender is not told)
    #[command(verbatim_doc_comment)]
    Requests(commands::RequestsArgs),

    /// React to a message with an emoji (or remove your reaction)
    ///
    /// Examples:
    ///   sotto react bob 12 👍
    ///   sotto react bob last ❤
    ///   sotto react bob '#12' 👍 --remove
    #[command(verbatim_doc_comment)]
    React(commands::ReactArgs),

    /// Delete one of your messages here and for the recipient
    ///
    /// `last` is your newest message in the conversation.
    ///
    /// Examples:
    ///   sotto unsend bob 12
    ///   sotto unsend bob last
    #[command(verbatim_doc_comment)]
    Unsend(commands::UnsendArgs),

    /// Delete a message for you only ("delete for me"); the other side keeps theirs
    ///
    /// Deletes it here and, when you can (its copy on your own swarm: the copy of a message
    /// you received, the sync copy of one you sent), from the network too. To delete one of
    /// your messages for the recipient as well, use `sotto unsend`.
    ///
    /// Examples:
    ///   sotto delete bob 12
    ///   sotto delete bob last
    ///   sotto delete bob 12 --offline     the swarm copy goes with the next sync
    #[command(verbatim_doc_comment)]
    Delete(commands::DeleteArgs),

    /// Clear a conversation for you only: every message, here and on your own swarm
    ///
    /// The contact and the conversation stay; the other side keeps their messages.
    ///
    /// Examples:
    ///   sotto clear bob
    ///   sotto clear bob --json
    #[command(verbatim_doc_comment)]
    Clear(commands::ClearArgs),

    /// Your display name, sent with your messages (no network needed).
    #[command(subcommand)]
    Profile(commands::ProfileCommand),

    /// Read receipts, typing indicators and disappearing messages
    ///
    /// Examples:
    ///   sotto settings
    ///   sotto settings read-receipts on
    ///   sotto settings typing off
    ///   sotto settings disappearing bob after-send 1h
    ///   sotto settings disappearing bob off
    #[command(verbatim_doc_comment)]
    Settings(commands::SettingsArgs),

    /// Print incoming messages as JSON lines until Ctrl-C
    ///
    /// One object per incoming message: {"event":"message","id","from","display_name","text",
    /// "quote","timestamp","is_request",…}. With --events also reactions, read receipts,
    /// typing, unsends, request responses and delivery states (each with its "event" kind).
    ///
    /// Examples:
    ///   sotto listen
    ///   sotto listen --events | jq -c 'select(.event == "reaction")'
    #[command(verbatim_doc_comment)]
    Listen(listen::ListenArgs),

    /// Chat with a contact in the terminal
    ///
    /// Live history with delivery states; Enter sends, Esc or Ctrl-C quits. For a message
    /// request, Ctrl-A accepts and Ctrl-D declines (replying accepts too). `/attach PATH`
    /// sends a file and `/voice PATH` a voice message, with their progress on the status line.
    ///
    /// Examples:
    ///   sotto chat bob
    ///   sotto --profile alice chat 05ab…
    #[command(verbatim_doc_comment)]
    Chat(chat::ChatArgs),

    /// Communities (open groups): join by link, list, leave, DMs and moderation
    ///
    /// A joined room is a conversation for `send`, `read`, `react` and `unsend`, named
    /// COMMUNITY/ROOM: COMMUNITY is the server's HOST:PORT (or HOST) from the join link, and
    /// can be left out (/lobby) when one joined room has that name.
    ///
    /// Examples:
    ///   sotto community join 'http://127.0.0.3:22032/lobby?public_key=ab…'
    ///   sotto send /lobby "hello everyone"
    ///   sotto read /lobby
    ///   sotto react /lobby 12 👍
    ///   sotto unsend /lobby last
    ///   sotto community dm /lobby 15ab… "hi"
    ///   sotto community ban /lobby 15ab…          (moderators)
    #[command(subcommand, verbatim_doc_comment)]
    Community(commands_community::CommunityCommand),

    /// Closed groups: create, add, remove, promote, leave, rename, info, members, destroy
    ///
    /// A group is a conversation for `send`, `read`, `react` and `unsend`, named by its name
    /// or a prefix of its 03… ID. Invitations show in `sotto requests`.
    ///
    /// Examples:
    ///   sotto group create "Book club" bob carol     (prints the 03… ID)
    ///   sotto requests accept "Book club"            (as bob)
    ///   sotto send "Book club" "hello everyone"
    ///   sotto read "Book club"
    ///   sotto group add "Book club" dave --with-history
    ///   sotto group remove "Book club" carol --delete-messages
    #[command(subcommand, verbatim_doc_comment)]
    Group(commands_groups::GroupCommand),
    /// The app: a local web interface in your browser, served on 127.0.0.1 only
    ///
    /// Prints the address it opens; it carries a fresh secret token, so only this browser
    /// session gets in. Without an account in the profile it starts with creating or
    /// restoring one.
    ///
    /// Examples:
    ///   sotto app
    ///   sotto --profile work app --port 8080 --no-open
    #[command(verbatim_doc_comment)]
    App(app::AppArgs),
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create a new account: prints its Session ID, recovery phrase and QR code
    ///
    /// Write the recovery phrase down: it is the only way to get the account back. With a
    /// passphrase the seed is encrypted on disk (Argon2id + XChaCha20-Poly1305).
    ///
    /// Examples:
    ///   sotto account new
    ///   sotto account new --passphrase --qr-png my-id.png
    ///   sotto account new --json --passphrase-file pass.txt
    ///   sotto --profile work account new
    #[command(verbatim_doc_comment)]
    New(NewArgs),

    /// Restore an account from its recovery phrase (asked for, or read from standard input)
    ///
    /// The phrase is 13 words (12 without the checksum word is accepted too). On a terminal
    /// it is asked for without echo; otherwise it is read from standard input. A phrase given
    /// as an argument is visible to other users in `ps` and stays in your shell history, so
    /// avoid that (it works, with a warning).
    ///
    /// Examples:
    ///   sotto account restore
    ///   sotto account restore < phrase.txt
    ///   sotto account restore --passphrase
    #[command(verbatim_doc_comment)]
    Restore(RestoreArgs),

    /// Print the recovery phrase after confirmation (asks for the passphrase if one is set)
    ///
    /// Examples:
    ///   sotto account show-phrase
    ///   SOTTO_PASSPHRASE=… sotto account show-phrase --yes --json
    #[command(verbatim_doc_comment)]
    ShowPhrase(ShowPhraseArgs),

    /// Show where the account is stored and whether its seed is encrypted
    ///
    /// Example:
    ///   sotto account info --json
    #[command(verbatim_doc_comment)]
    Info,
}

#[derive(Subcommand)]
enum QrCommand {
    /// Read a Session ID from the QR code in an image (PNG or JPEG)
    ///
    /// Says whether the image holds no readable QR code at all, or a QR code that is not a
    /// Session ID.
    ///
    /// Examples:
    ///   sotto qr decode contact.png
    ///   sotto qr decode photo.jpg --json
    #[command(verbatim_doc_comment)]
    Decode(DecodeArgs),
}

#[derive(Args)]
struct PassphraseArgs {
    /// Encrypt the seed with a passphrase, asked twice on the terminal (or taken from
    /// --passphrase-file or $SOTTO_PASSPHRASE, either of which also turns encryption on).
    #[arg(long)]
    passphrase: bool,

    /// Read the passphrase from the first line of FILE (for scripts).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
}

#[derive(Args)]
struct NewArgs {
    #[command(flatten)]
    passphrase: PassphraseArgs,

    /// Replace an existing account in this profile (it is lost unless you kept its phrase).
    #[arg(long)]
    force: bool,

    /// Also write the QR code of the Session ID to FILE as a PNG.
    #[arg(long, value_name = "FILE")]
    qr_png: Option<PathBuf>,

    /// Do not draw the QR code in the terminal.
    #[arg(long)]
    no_qr: bool,

    /// Draw the QR code for dark text on a light background.
    #[arg(long)]
    light_terminal: bool,
}

#[derive(Args)]
struct RestoreArgs {
    /// The recovery phrase. Better left out (or given as `-`): then it is asked for or read
    /// from standard input. As an argument it is visible in `ps` and in your shell history.
    #[arg(value_name = "PHRASE")]
    phrase: Option<String>,

    #[command(flatten)]
    passphrase: PassphraseArgs,

    /// Replace an existing account in this profile (it is lost unless you kept its phrase).
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
struct ShowPhraseArgs {
    /// Do not ask for confirmation (needed when not on a terminal).
    #[arg(long, short)]
    yes: bool,

    /// Read the passphrase from the first line of FILE instead of asking.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
}

#[derive(Args)]
struct IdArgs {
    /// Draw the Session ID as a QR code in the terminal.
    #[arg(long, conflicts_with = "json")]
    qr: bool,

    /// Write the QR code of the Session ID to FILE as a PNG.
    #[arg(long, value_name = "FILE")]
    qr_png: Option<PathBuf>,

    /// Draw the QR code for dark text on a light background.
    #[arg(long, requires = "qr")]
    light_terminal: bool,
}

#[derive(Args)]
struct DecodeArgs {
    /// The image file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let global = &cli.global;
    match &cli.command {
        Command::Account(AccountCommand::New(args)) => account_new(global, args),
        Command::Account(AccountCommand::Restore(args)) => account_restore(global, args),
        Command::Account(AccountCommand::ShowPhrase(args)) => account_show_phrase(global, args),
        Command::Account(AccountCommand::Info) => account_info(global),
        Command::Id(args) => id(global, args),
        Command::Qr(QrCommand::Decode(args)) => qr_decode(global, args),
        Command::Contacts(command) => commands::contacts(&Ctx::new(global)?, command),
        Command::Profile(command) => commands::profile(&Ctx::new(global)?, command),
        Command::Settings(args) => commands::settings(&Ctx::new(global)?, args),
        Command::Send(args) => commands::send(&Ctx::new(global)?, args),
        Command::Sync(args) => commands_sync::run(&Ctx::new(global)?, args),
        Command::Save(args) => commands_files::save(&Ctx::new(global)?, args),
        Command::Play(args) => commands_files::play(&Ctx::new(global)?, args),
        Command::Inbox(args) => commands::inbox(&Ctx::new(global)?, args),
        Command::Read(args) => commands::read(&Ctx::new(global)?, args),
        Command::Requests(args) => commands::requests(&Ctx::new(global)?, args),
        Command::React(args) => commands::react(&Ctx::new(global)?, args),
        Command::Unsend(args) => commands::unsend(&Ctx::new(global)?, args),
        Command::Delete(args) => commands::delete(&Ctx::new(global)?, args),
        Command::Clear(args) => commands::clear(&Ctx::new(global)?, args),
        Command::Listen(args) => listen::run(&Ctx::new(global)?, args),
        Command::Chat(args) => chat::run(&Ctx::new(global)?, args),
        Command::Community(command) => commands_community::run(&Ctx::new(global)?, command),
        Command::Group(command) => commands_groups::run(&Ctx::new(global)?, command),
        Command::App(args) => app::run(&Ctx::new(global)?, args),
    }
}

/// What a messaging command works with: the options and the profile's directory.
pub struct Ctx<'a> {
    global: &'a Global,
    store: Store,
}

impl<'a> Ctx<'a> {
    fn new(global: &'a Global) -> anyhow::Result<Self> {
        Ok(Self {
            global,
            store: Store::new(data_dir(global)?),
        })
    }

    /// Whether to print JSON.
    pub fn json(&self) -> bool {
        self.global.json
    }

    /// Whether to print routes.
    pub fn verbose(&self) -> bool {
        self.global.verbose
    }

    /// The network file.
    pub fn network_file(&self) -> &Path {
        &self.global.network
    }

    /// The profile directory.
    pub fn dir(&self) -> &Path {
        self.store.dir()
    }

    /// The client database.
    pub fn database(&self) -> PathBuf {
        self.store.dir().join("client.db")
    }

    /// The account, unlocked (asks for the passphrase if needed).
    pub fn account(&self) -> anyhow::Result<Account> {
        let stored = self.store.load()?;
        unlock(&self.store, &stored, None)
    }

    /// The local state, without the network.
    pub fn engine(&self) -> anyhow::Result<sotto_client::Engine> {
        let account = self.account()?;
        let path = self.database();
        sotto_client::Engine::open(&path, account)
            .with_context(|| format!("cannot open the client database {}", path.display()))
    }

    /// A runtime for the network commands.
    pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
    }

    /// Connects to the network (see [`net::connect`]).
    pub async fn client(
        &self,
        background: bool,
    ) -> anyhow::Result<sotto_client::Client<net::CliNet>> {
        let account = self.account()?;
        net::connect(
            &self.global.network,
            self.dir(),
            account,
            &self.database(),
            background,
        )
        .await
    }
}

/// The account directory: `--data-dir`, else `<root>/<profile>` where the root is `--root`,
/// else `<data dir>/sotto`.
fn data_dir(global: &Global) -> anyhow::Result<PathBuf> {
    let dir = match (&global.data_dir, &global.root) {
        (Some(dir), _) => dir.clone(),
        (None, Some(root)) => {
            check_profile(&global.profile)?;
            root.join(&global.profile)
        }
        (None, None) => {
            check_profile(&global.profile)?;
            dirs::data_dir()
                .context(
                    "cannot find your data directory (neither XDG_DATA_HOME nor HOME is set): \
                     pass --root DIR or --data-dir DIR",
                )?
                .join("sotto")
                .join(&global.profile)
        }
    };
    std::path::absolute(&dir)
        .with_context(|| format!("cannot resolve the data directory {}", dir.display()))
}

/// A profile name becomes a directory name: keep it to one plain path component.
fn check_profile(profile: &str) -> anyhow::Result<()> {
    let ok = !profile.is_empty()
        && profile.len() <= 64
        && !profile.starts_with('.')
        && profile
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        bail!(
            "invalid profile name {profile:?}: use up to 64 letters, digits, '-', '_' or '.', not \
             starting with '.'"
        );
    }
    Ok(())
}

fn account_new(global: &Global, args: &NewArgs) -> anyhow::Result<()> {
    let store = Store::new(data_dir(global)?);
    if !args.force {
        store.ensure_absent()?;
    }
    let passphrase = prompt::new_passphrase(
        args.passphrase.passphrase,
        args.passphrase.passphrase_file.as_deref(),
    )?;

    let account = Account::generate(&mut OsRng);
    let session_id = account.session_id();
    // Write the PNG first: if that fails, no account has been created.
    if let Some(path) = &args.qr_png {
        qr::write_png(&session_id, path)?;
    }
    let stored = StoredAccount::seal(&account, passphrase.as_ref(), &mut OsRng)?;
    store.save(&stored, args.force)?;

    let phrase = account.recovery_phrase();
    if global.json {
        return output::json(&output::NewAccount {
            session_id: session_id.to_string(),
            recovery_phrase: &phrase,
            data_dir: output::path(store.dir()),
            account_file: output::path(&store.account_path()),
            encrypted: stored.is_encrypted(),
            qr_png: args.qr_png.as_deref().map(output::path),
        });
    }
    let mut text = zeroize::Zeroizing::new(format!(
        "Created a new account in {} ({}).\n\n\
         Session ID:\n  {session_id}\n\n\
         Recovery phrase (write it down and keep it secret; anyone who has it controls this \
         account):\n  {}\n",
        store.dir().display(),
        encryption_note(stored.is_encrypted()),
        phrase.as_str(),
    ));
    if let Some(path) = &args.qr_png {
        text.push_str(&format!("\nQR code written to {}.\n", path.display()));
    }
    if !args.no_qr {
        text.push('\n');
        text.push_str(&qr::render_terminal(&session_id, args.light_terminal)?);
        text.push('\n');
    }
    output::stdout(&text)
}

fn encryption_note(encrypted: bool) -> &'static str {
    if encrypted {
        "seed encrypted with your passphrase"
    } else {
        "seed not encrypted: use --passphrase to protect it"
    }
}

fn account_restore(global: &Global, args: &RestoreArgs) -> anyhow::Result<()> {
    let store = Store::new(data_dir(global)?);
    if !args.force {
        store.ensure_absent()?;
    }
    if args.phrase.as_deref().is_some_and(|p| p != "-") {
        eprintln!(
            "warning: a recovery phrase given on the command line is visible to other users \
             in `ps` and stays in your shell history; run `sotto account restore` and type it \
             (it is not shown), or pipe it in (`sotto account restore < phrase.txt`), and clear \
             it from your history"
        );
    }
    let phrase = prompt::recovery_phrase(args.phrase.as_deref())?;
    let account = Account::from_phrase(&phrase).map_err(|e| {
        anyhow::anyhow!(
            "invalid recovery phrase: {e}; check the words against what you wrote down and try again"
        )
    })?;
    let passphrase = prompt::new_passphrase(
        args.passphrase.passphrase,
        args.passphrase.passphrase_file.as_deref(),
    )?;
    let stored = StoredAccount::seal(&account, passphrase.as_ref(), &mut OsRng)?;
    store.save(&stored, args.force)?;

    let session_id = account.session_id();
    if global.json {
        return output::json(&output::RestoredAccount {
            session_id: session_id.to_string(),
            data_dir: output::path(store.dir()),
            account_file: output::path(&store.account_path()),
            encrypted: stored.is_encrypted(),
        });
    }
    output::stdout(&format!(
        "Restored account {session_id} into {} ({}).\n",
        store.dir().display(),
        encryption_note(stored.is_encrypted()),
    ))
}

fn account_show_phrase(global: &Global, args: &ShowPhraseArgs) -> anyhow::Result<()> {
    let store = Store::new(data_dir(global)?);
    let stored = store.load()?;
    if !args.yes {
        match prompt::confirm(
            "The recovery phrase gives full control of this account. Print it now?",
        )? {
            Some(true) => {}
            Some(false) => bail!("cancelled: the recovery phrase was not shown"),
            None => bail!(
                "refusing to print the recovery phrase without confirmation: pass --yes to confirm \
                 when not on a terminal"
            ),
        }
    }
    let account = unlock(&store, &stored, args.passphrase_file.as_deref())?;
    let phrase = account.recovery_phrase();
    if global.json {
        return output::json(&output::Phrase {
            session_id: stored.session_id().to_string(),
            recovery_phrase: &phrase,
        });
    }
    output::stdout(&zeroize::Zeroizing::new(format!("{}\n", phrase.as_str())))
}

/// Decrypts the account, asking for the passphrase if the seed is encrypted.
fn unlock(
    store: &Store,
    stored: &StoredAccount,
    passphrase_file: Option<&Path>,
) -> anyhow::Result<Account> {
    let passphrase = if stored.is_encrypted() {
        Some(prompt::unlock_passphrase(passphrase_file, store.dir())?)
    } else {
        None
    };
    Ok(stored.unlock(passphrase.as_ref())?)
}

fn account_info(global: &Global) -> anyhow::Result<()> {
    let store = Store::new(data_dir(global)?);
    let stored = store.load()?;
    let session_id = stored.session_id();
    if global.json {
        return output::json(&output::Info {
            session_id: session_id.to_string(),
            data_dir: output::path(store.dir()),
            account_file: output::path(&store.account_path()),
            encrypted: stored.is_encrypted(),
            kdf: stored.kdf_params(),
        });
    }
    let protection = match stored.kdf_params() {
        Some(p) => format!(
            "encrypted with a passphrase (Argon2id, {} MiB, {} passes, {} lane(s))",
            p.m_cost_kib / 1024,
            p.t_cost,
            p.p_cost
        ),
        None => "not encrypted".to_owned(),
    };
    output::stdout(&format!(
        "Session ID:   {session_id}\nData dir:     {}\nAccount file: {}\nSeed:         {protection}\n",
        store.dir().display(),
        store.account_path().display(),
    ))
}

fn id(global: &Global, args: &IdArgs) -> anyhow::Result<()> {
    let store = Store::new(data_dir(global)?);
    let session_id: SessionId = store.load()?.session_id();
    if let Some(path) = &args.qr_png {
        qr::write_png(&session_id, path)?;
    }
    if global.json {
        return output::json(&output::Id {
            session_id: session_id.to_string(),
            qr_png: args.qr_png.as_deref().map(output::path),
        });
    }
    let mut text = format!("{session_id}\n");
    if args.qr {
        text.push('\n');
        text.push_str(&qr::render_terminal(&session_id, args.light_terminal)?);
        text.push('\n');
    }
    output::stdout(&text)
}

fn qr_decode(global: &Global, args: &DecodeArgs) -> anyhow::Result<()> {
    let session_id = qr::decode_file(&args.file)?;
    if global.json {
        return output::json(&output::Decoded {
            session_id: session_id.to_string(),
            file: output::path(&args.file),
        });
    }
    output::stdout(&format!("{session_id}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn profile_names() {
        for good in ["default", "work", "a.b-c_d", "X1"] {
            assert!(check_profile(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_profile(bad).is_err(), "{bad}");
        }
    }
}
