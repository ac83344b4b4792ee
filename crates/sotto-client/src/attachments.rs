//! Attachments: files, images and voice messages sent through a file server (files.md).
//!
//! Sending: a file is *staged* (read, its limits checked before anything else, images scaled
//! to the official clients' 2000 px bounds unless sent as a file, voice messages transcoded to
//! MP3 when needed, its pointer metadata filled in), then encrypted in the deterministic
//! format (the only one official clients send since 2026), uploaded through a 3-hop onion
//! path to the file server with retries, and its pointer (URL with bare `d` and `p=<server
//! Ed25519 key>`) goes into one message with the others (at most [`MAX_ATTACHMENTS`]) and an
//! optional text. Progress is reported as [`TransferEvent`]s on a channel.
//!
//! Receiving: pointers are stored with their message (keys sealed like message text);
//! [`Client::download_attachment`] fetches one through an onion path, decrypts it with the
//! format its URL names (deterministic or legacy), trims it to its size and saves it. A file
//! the server no longer has (404) is [`Downloaded::Expired`], not an error; a download that
//! does not decrypt is refused ([`TransferError::Refused`]).
//!
//! Profile pictures: [`Client::set_profile_picture`] uploads one (deterministic, profile-pic
//! domain); its URL and key then go with every profile this account sends, and
//! [`Client::refresh_profile_picture`] re-uploads it before the server forgets it.
//! Contacts' pictures are recorded from their profiles and fetched with
//! [`Client::fetch_profile_picture`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use sotto_attachment::{
    AttachmentMeta, AttachmentUrl, FileServer, MetaError, Scheme, UploadFormat, UploadLimitError,
    UrlError, check_upload, deterministic, legacy, profile_pic,
};
use sotto_crypto::{OsRng, SymmetricKey};
use sotto_envelope::AttachmentPointer;
use sotto_identity::SessionId;
use sotto_media::MediaError;
use sotto_onion::{V4Request, V4Response};
use thiserror::Error;
use tokio::sync::mpsc::UnboundedSender;

use crate::error::{ClientError, DbError, NetworkError};
use crate::model::MessageId;
use crate::net::{FileServerEntry, OnionServer, ServerUrlError};
use crate::{Client, Network, SendOutcome};

/// The most attachments one message carries (the mobile clients' limit).
pub const MAX_ATTACHMENTS: usize = 32;

/// The file server's cap on one upload, in bytes: the one constant every limit here comes
/// from ([`sotto_attachment::MAX_UPLOAD_LEN`], 10,000,000).
pub const MAX_UPLOAD_LEN: u64 = sotto_attachment::MAX_UPLOAD_LEN;

/// The largest image read to be scaled (a bigger one is refused before it is read).
pub const MAX_IMAGE_INPUT: u64 = 64 * 1024 * 1024;

/// How long a file lives on the server after its upload (files.md §2.4, the working
/// assumption for Session's server): profile pictures are re-uploaded well before.
pub const FILE_LIFETIME_MS: u64 = 14 * 24 * 3600 * 1000;

/// A profile picture older than this is re-uploaded by [`Client::refresh_profile_picture`]
/// (desktop's rule: 12 days).
pub const PICTURE_REUPLOAD_AFTER_MS: u64 = 12 * 24 * 3600 * 1000;

/// How a file is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendAs {
    /// As it is, with its sniffed content type (images keep their size and bytes).
    File,
    /// As an image: scaled to fit 2000×2000 when larger (files.md §6).
    Image,
    /// As a voice message: MP3 and M4A as they are, WAV, FLAC, Ogg Vorbis and Opus
    /// transcoded to MP3; the voice flag set.
    Voice,
}

/// A file ready to encrypt and upload: its final bytes and pointer metadata.
#[derive(Debug, Clone)]
pub struct Staged {
    /// The bytes to send (the original, a scaled image or an MP3 encoding).
    pub bytes: Vec<u8>,
    /// Content type, size, dimensions, voice flag, file name.
    pub meta: AttachmentMeta,
    /// A voice message's duration.
    pub duration: Option<Duration>,
    /// The file it came from, if any (kept as the sender's local copy).
    pub source: Option<PathBuf>,
}

/// Something that went wrong sending or fetching an attachment.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TransferError {
    /// Over the file server's cap (or empty): refused before any upload.
    #[error("{0}")]
    Limit(#[from] UploadLimitError),
    /// Too many attachments for one message.
    #[error("{count} attachments in one message; the limit is {max}")]
    TooMany {
        /// How many were given.
        count: usize,
        /// [`MAX_ATTACHMENTS`].
        max: usize,
    },
    /// A message with no attachment.
    #[error("no attachment to send")]
    NoAttachments,
    /// The input file is larger than the processing step reads.
    #[error("{path} is {len} bytes, over the {max} bytes this kind of file may have")]
    InputTooLarge {
        /// The file.
        path: String,
        /// Its size.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Image or audio processing refused the file.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The pointer metadata is invalid.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// Encryption failed.
    #[error("attachment encryption failed: {0}")]
    Encrypt(#[source] sotto_attachment::AttachmentError),
    /// No answer from the file server (the onion path failed every attempt).
    #[error("the file server could not be reached after {attempts} attempts: {source}")]
    Network {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: NetworkError,
    },
    /// The file server refused the request.
    #[error("the file server answered HTTP {code}")]
    Server {
        /// The status.
        code: u16,
    },
    /// The file server's disk quota is full (HTTP 507): try later or another server.
    #[error("the file server is full (HTTP 507: its disk quota is used up); try again later")]
    ServerFull,
    /// The file server's answer is not what the API promises.
    #[error("the file server's answer is malformed: {0}")]
    BadReply(&'static str),
    /// An attachment URL cannot be used.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// A server URL or key cannot be used.
    #[error(transparent)]
    ServerUrl(#[from] ServerUrlError),
    /// The download does not decrypt with its key or does not match its pointer: tampered
    /// or corrupt. Nothing was saved.
    #[error("the download was refused: {0} (tampered or corrupt)")]
    Refused(#[source] sotto_attachment::AttachmentError),
    /// No such attachment.
    #[error("message {message} has no attachment {index}")]
    UnknownAttachment {
        /// The message.
        message: MessageId,
        /// The attachment's number (0-based).
        index: usize,
    },
    /// A contact has no profile picture.
    #[error("{0} has no profile picture")]
    NoPicture(String),
    /// Saving the file failed.
    #[error("cannot save to {path}: {source}")]
    Save {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A client error (database, sending the message).
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl From<DbError> for TransferError {
    fn from(e: DbError) -> Self {
        Self::Client(ClientError::Database(e))
    }
}

/// What happened to an attachment, as it happens.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TransferEvent {
    /// Attachment `index` is encrypted: `upload_len` bytes will go up.
    Encrypted {
        /// Its number in the message.
        index: usize,
        /// Its plaintext size.
        size: u64,
        /// Its encrypted size.
        upload_len: u64,
    },
    /// An upload attempt started.
    Uploading {
        /// Its number.
        index: usize,
        /// Bytes to send.
        bytes: u64,
        /// Attempt number (1-based).
        attempt: u32,
    },
    /// Uploaded.
    Uploaded {
        /// Its number.
        index: usize,
        /// Bytes sent.
        bytes: u64,
        /// When the server drops it, seconds since the Unix epoch.
        expires_s: f64,
    },
    /// An attempt failed; another follows after `delay`.
    Retrying {
        /// Its number.
        index: usize,
        /// The failed attempt (1-based).
        attempt: u32,
        /// The wait before the next.
        delay: Duration,
        /// Why it failed.
        reason: String,
    },
    /// A download attempt started.
    Downloading {
        /// Its number.
        index: usize,
        /// Its plaintext size (per its pointer).
        size: u64,
        /// Attempt number (1-based).
        attempt: u32,
    },
    /// Downloaded `bytes` encrypted bytes.
    Downloaded {
        /// Its number.
        index: usize,
        /// Bytes received.
        bytes: u64,
    },
    /// Decrypted, verified and saved.
    Saved {
        /// Its number.
        index: usize,
        /// Where.
        path: PathBuf,
    },
    /// The server no longer has it.
    Expired {
        /// Its number.
        index: usize,
    },
}

/// Where progress goes (`None`: nowhere).
pub type Progress = Option<UnboundedSender<TransferEvent>>;

fn report(progress: &Progress, event: TransferEvent) {
    if let Some(tx) = progress {
        let _ = tx.send(event);
    }
}

/// How transfers are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferPolicy {
    /// Bound on one request through the onion network (its own path retries included).
    pub request_timeout: Duration,
    /// Attempts per transfer.
    pub attempts: u32,
    /// Wait after the first failed attempt; doubled after each further one.
    pub backoff: Duration,
}

impl Default for TransferPolicy {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(120),
            attempts: 3,
            backoff: Duration::from_secs(1),
        }
    }
}

/// Where an attachment is, as the user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentState {
    /// Sent from this device: uploaded, the original at `local_path`.
    Uploaded,
    /// Received, not downloaded yet.
    Pending,
    /// Downloaded, verified and saved at `local_path`.
    Downloaded,
    /// The server no longer has it (files expire after about 14 days).
    Expired,
    /// The last download failed (network or server); it can be tried again.
    Failed,
    /// The download did not decrypt or verify: tampered or corrupt. Not saved.
    Refused,
}

impl AttachmentState {
    pub(crate) fn to_column(self) -> i64 {
        match self {
            Self::Uploaded => 0,
            Self::Pending => 1,
            Self::Downloaded => 2,
            Self::Expired => 3,
            Self::Failed => 4,
            Self::Refused => 5,
        }
    }

    pub(crate) fn from_column(v: i64) -> Option<Self> {
        Some(match v {
            0 => Self::Uploaded,
            1 => Self::Pending,
            2 => Self::Downloaded,
            3 => Self::Expired,
            4 => Self::Failed,
            5 => Self::Refused,
            _ => return None,
        })
    }

    /// A short lower-case name (`uploaded`, `pending`, `downloaded`, `expired`, `failed`,
    /// `refused`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploaded => "uploaded",
            Self::Pending => "pending",
            Self::Downloaded => "downloaded",
            Self::Expired => "expired",
            Self::Failed => "failed",
            Self::Refused => "refused",
        }
    }
}

/// An attachment as stored with its message (without its key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    /// Its message.
    pub message: MessageId,
    /// Its number in the message (0-based).
    pub index: usize,
    /// Its URL.
    pub url: String,
    /// Its content type.
    pub content_type: String,
    /// Its plaintext size, bytes.
    pub size: u64,
    /// Its file name (reduced to a safe base name).
    pub file_name: Option<String>,
    /// A voice message.
    pub voice: bool,
    /// An image's width and height.
    pub dimensions: Option<(u32, u32)>,
    /// Where it is.
    pub state: AttachmentState,
    /// Failed download attempts.
    pub attempts: u32,
    /// The local file (the sent original, or the saved download).
    pub local_path: Option<PathBuf>,
    /// An audio file's duration, computed from the audio once downloaded (or sent), ms.
    pub duration_ms: Option<u64>,
}

/// An uploaded attachment's pointer, with the local file it came from.
#[derive(Debug, Clone)]
pub(crate) struct OutgoingAttachment {
    pub pointer: AttachmentPointer,
    pub local: Option<String>,
}

/// This account's profile picture.
#[derive(Clone, PartialEq, Eq)]
pub struct OwnPicture {
    /// Its URL (sent in the profile).
    pub url: String,
    /// Its key (the profile key, sent with every data message).
    pub key: Vec<u8>,
    /// The image it was made from, for re-uploads.
    pub local_path: Option<PathBuf>,
    /// When it was last uploaded, ms.
    pub uploaded_ms: u64,
}

impl core::fmt::Debug for OwnPicture {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OwnPicture")
            .field("url", &self.url)
            .field("uploaded_ms", &self.uploaded_ms)
            .finish_non_exhaustive()
    }
}

/// A contact's profile picture, as their profile named it.
#[derive(Clone, PartialEq, Eq)]
pub struct PictureRecord {
    /// Its URL.
    pub url: String,
    /// Its key.
    pub key: Vec<u8>,
    /// Where it was saved, once fetched.
    pub local_path: Option<PathBuf>,
}

impl core::fmt::Debug for PictureRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PictureRecord")
            .field("url", &self.url)
            .field("local_path", &self.local_path)
            .finish_non_exhaustive()
    }
}

/// What a download gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Downloaded {
    /// Saved at this path.
    Saved(PathBuf),
    /// The server no longer has the file (it expired): nothing to save.
    Expired,
}

fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// The largest input `kind` reads: a file sent as it is must fit the upload cap (checked from
/// its length before it is read); images and audio are processed first.
fn input_limit(kind: SendAs, len: u64) -> Result<u64, TransferError> {
    Ok(match kind {
        SendAs::File => {
            check_upload(len, UploadFormat::Deterministic)?;
            MAX_UPLOAD_LEN
        }
        SendAs::Image => MAX_IMAGE_INPUT,
        SendAs::Voice => sotto_media::audio::MAX_AUDIO_INPUT,
    })
}

/// Stages the file at `path` to be sent as `kind`. The file's length is checked against the
/// limits before it is read: a file sent as it is that would not fit the file server's cap
/// fails at once ([`TransferError::Limit`]), with the reason.
pub fn stage_path(path: &Path, kind: SendAs) -> Result<Staged, TransferError> {
    let shown = path.display().to_string();
    let read_err = |source| TransferError::Read {
        path: shown.clone(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read_err)?.len();
    let max = input_limit(kind, len)?;
    if len > max {
        return Err(TransferError::InputTooLarge {
            path: shown,
            len,
            max,
        });
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    let name = path.file_name().and_then(|n| n.to_str());
    let mut staged = stage_bytes(bytes, name, kind)?;
    staged.source = Some(path.to_path_buf());
    Ok(staged)
}

/// Stages bytes to be sent as `kind` (see [`stage_path`]); `name` is the file name to send
/// (reduced to a safe base name; voice messages get their own).
pub fn stage_bytes(
    bytes: Vec<u8>,
    name: Option<&str>,
    kind: SendAs,
) -> Result<Staged, TransferError> {
    let len = len_u64(bytes.len());
    let max = input_limit(kind, len)?;
    if len > max {
        return Err(TransferError::InputTooLarge {
            path: name.unwrap_or("attachment").to_owned(),
            len,
            max,
        });
    }
    let staged = match kind {
        SendAs::File => {
            let meta = sotto_media::describe_file(&bytes, name)?;
            let duration = meta
                .content_type()
                .is_audio()
                .then(|| sotto_media::audio::duration(&bytes).ok())
                .flatten();
            Staged {
                bytes,
                meta,
                duration,
                source: None,
            }
        }
        SendAs::Image => {
            let prepared = sotto_media::image::prepare(&bytes)?;
            let (out, mime, w, h) = (
                prepared.bytes.into_owned(),
                prepared.mime,
                prepared.width,
                prepared.height,
            );
            let mut meta = AttachmentMeta::new(
                sotto_attachment::ContentType::parse(mime)?,
                len_u64(out.len()),
            )?
            .with_dimensions(w, h)?;
            if let Some(name) = name.and_then(sotto_attachment::FileName::sanitize) {
                meta = meta.with_file_name(name);
            }
            Staged {
                bytes: out,
                meta,
                duration: None,
                source: None,
            }
        }
        SendAs::Voice => {
            let voice = sotto_media::voice::prepare(&bytes)?;
            let meta = sotto_media::describe_voice(&voice)?;
            let duration = Some(voice.duration);
            Staged {
                bytes: voice.bytes.into_owned(),
                meta,
                duration,
                source: None,
            }
        }
    };
    // The cap applies to what goes up, after processing.
    check_upload(len_u64(staged.bytes.len()), UploadFormat::Deterministic)?;
    Ok(staged)
}

/// The file server a network file names, as attachment URLs name it.
pub fn file_server_of(entry: &FileServerEntry) -> Result<FileServer, TransferError> {
    let onion = entry.onion_server()?;
    let scheme = match onion.protocol {
        sotto_onion::Protocol::Http => Scheme::Http,
        sotto_onion::Protocol::Https => Scheme::Https,
    };
    Ok(FileServer::new(
        scheme,
        &onion.host,
        onion.port,
        entry.pubkey.0,
    )?)
}

/// How onion requests reach `server`: its URL and the X25519 key derived from its Ed25519 key.
pub fn onion_server_of(server: &FileServer) -> Result<OnionServer, TransferError> {
    let host = if server.host().contains(':') {
        format!("[{}]", server.host())
    } else {
        server.host().to_owned()
    };
    let url = match server.port() {
        Some(p) => format!("{}://{host}:{p}", server.scheme().as_str()),
        None => format!("{}://{host}", server.scheme().as_str()),
    };
    Ok(OnionServer::with_hex_key(
        &url,
        &hex::encode(server.ed25519()),
        true,
    )?)
}

/// Whether a failed request may succeed if tried again.
fn retryable(e: &TransferError) -> bool {
    match e {
        TransferError::Network { .. } => true,
        TransferError::Server { code } => *code == 429 || *code >= 500,
        _ => false,
    }
}

/// Sends `request` to `server`, retrying per `policy`; `on_attempt` is told each attempt.
#[allow(clippy::too_many_arguments)]
async fn request_with_retries<N: Network>(
    network: &N,
    server: &OnionServer,
    request: &V4Request,
    policy: &TransferPolicy,
    progress: &Progress,
    index: usize,
    mut on_attempt: impl FnMut(u32),
    mut accept: impl FnMut(V4Response) -> Result<Option<V4Response>, TransferError>,
) -> Result<Option<V4Response>, TransferError> {
    let attempts = policy.attempts.max(1);
    let mut delay = policy.backoff;
    let mut attempt = 0;
    loop {
        attempt += 1;
        on_attempt(attempt);
        let result = match network
            .server_request(server, request, policy.request_timeout)
            .await
        {
            Ok(response) => accept(response),
            Err(source) => Err(TransferError::Network {
                attempts: attempt,
                source,
            }),
        };
        match result {
            Err(e) if retryable(&e) && attempt < attempts => {
                tracing::info!(attempt, error = %e, "file transfer failed; retrying");
                report(
                    progress,
                    TransferEvent::Retrying {
                        index,
                        attempt,
                        delay,
                        reason: e.to_string(),
                    },
                );
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
            other => return other,
        }
    }
}

/// Uploads an encrypted blob; its id and expiry (seconds since the Unix epoch).
async fn upload_blob<N: Network>(
    network: &N,
    server: &OnionServer,
    blob: Vec<u8>,
    policy: &TransferPolicy,
    progress: &Progress,
    index: usize,
) -> Result<(String, f64), TransferError> {
    let bytes = len_u64(blob.len());
    let request = V4Request {
        method: "POST".into(),
        endpoint: "/file".into(),
        // Bare `attachment`: no file name reaches the server (files.md §9.8).
        headers: vec![
            ("Content-Type".into(), "application/octet-stream".into()),
            ("Content-Disposition".into(), "attachment".into()),
        ],
        body: Some(blob),
    };
    let response = request_with_retries(
        network,
        server,
        &request,
        policy,
        progress,
        index,
        |attempt| {
            report(
                progress,
                TransferEvent::Uploading {
                    index,
                    bytes,
                    attempt,
                },
            );
        },
        |r| match r.code {
            200 => Ok(Some(r)),
            507 => Err(TransferError::ServerFull),
            code => Err(TransferError::Server { code }),
        },
    )
    .await?
    .ok_or(TransferError::BadReply("no upload answer"))?;
    let json: serde_json::Value =
        serde_json::from_slice(response.body.as_deref().unwrap_or(&[]))
            .map_err(|_| TransferError::BadReply("upload answer is not JSON"))?;
    let id = json
        .get("id")
        .and_then(|v| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .ok_or(TransferError::BadReply("upload answer has no id"))?;
    let expires = json
        .get("expires")
        .and_then(serde_json::Value::as_f64)
        .ok_or(TransferError::BadReply("upload answer has no expiry"))?;
    report(
        progress,
        TransferEvent::Uploaded {
            index,
            bytes,
            expires_s: expires,
        },
    );
    Ok((id, expires))
}

/// Downloads a file's encrypted bytes; `None` when the server no longer has it (404).
async fn download_blob<N: Network>(
    network: &N,
    url: &AttachmentUrl,
    policy: &TransferPolicy,
    progress: &Progress,
    index: usize,
    size: u64,
) -> Result<Option<Vec<u8>>, TransferError> {
    let server = onion_server_of(&url.file_server()?)?;
    let request = V4Request {
        method: "GET".into(),
        endpoint: url.path(),
        headers: vec![],
        body: None,
    };
    let response = request_with_retries(
        network,
        &server,
        &request,
        policy,
        progress,
        index,
        |attempt| {
            report(
                progress,
                TransferEvent::Downloading {
                    index,
                    size,
                    attempt,
                },
            );
        },
        |r| match r.code {
            200 => Ok(Some(r)),
            404 => Ok(None),
            code => Err(TransferError::Server { code }),
        },
    )
    .await?;
    let Some(response) = response else {
        return Ok(None);
    };
    let body = response.body.unwrap_or_default();
    report(
        progress,
        TransferEvent::Downloaded {
            index,
            bytes: len_u64(body.len()),
        },
    );
    Ok(Some(body))
}

/// Decrypts a downloaded attachment with the format its URL names, checks it against its
/// pointer and trims it to its size.
pub fn decrypt_attachment(
    url: &AttachmentUrl,
    key: &[u8],
    digest: Option<&[u8]>,
    size: u64,
    blob: &[u8],
) -> Result<Vec<u8>, TransferError> {
    let mut plain = if url.is_deterministic() {
        let key = SymmetricKey::from_slice(key).map_err(|_| {
            TransferError::Refused(sotto_attachment::AttachmentError::Length {
                what: "attachment key",
                expected: deterministic::KEY_LEN,
                found: key.len(),
            })
        })?;
        deterministic::decrypt(blob, &key).map_err(TransferError::Refused)?
    } else {
        let key = legacy::LegacyKey::from_slice(key).map_err(TransferError::Refused)?;
        let digest: [u8; legacy::DIGEST_LEN] =
            digest
                .and_then(|d| d.try_into().ok())
                .ok_or(TransferError::Refused(
                    sotto_attachment::AttachmentError::DigestMismatch,
                ))?;
        legacy::decrypt(blob, &key, &digest, size).map_err(TransferError::Refused)?
    };
    let found = len_u64(plain.len());
    if size > found {
        return Err(TransferError::Refused(
            sotto_attachment::AttachmentError::ShorterThanSize { size, found },
        ));
    }
    plain.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    Ok(plain)
}

/// Writes `bytes` into `dir` under `name`, adding ` (1)`, ` (2)`… when taken; the path.
fn save_new(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, TransferError> {
    use std::io::Write as _;
    let save_err = |path: &Path, source| TransferError::Save {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| save_err(dir, e))?;
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_owned(), format!(".{e}")),
        _ => (name.to_owned(), String::new()),
    };
    for n in 0u32..1000 {
        let candidate = if n == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{stem} ({n}){ext}"))
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(mut f) => {
                f.write_all(bytes)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| save_err(&candidate, e))?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(save_err(&candidate, e)),
        }
    }
    Err(save_err(
        dir,
        std::io::Error::new(std::io::ErrorKind::AlreadyExists, "no free file name"),
    ))
}

/// A safe default file name for a download without one.
fn default_name(record: &AttachmentRecord) -> String {
    let ext = match record.content_type.as_str() {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/mp4" | "audio/x-m4a" | "audio/aac" => "m4a",
        "video/mp4" => "mp4",
        "text/plain" => "txt",
        "application/pdf" => "pdf",
        _ => "bin",
    };
    format!("attachment-{}-{}.{ext}", record.message.0, record.index + 1)
}

impl crate::Engine {
    /// The attachments of `message`, in order.
    pub fn attachments(&self, message: MessageId) -> Result<Vec<AttachmentRecord>, DbError> {
        Ok(self
            .db()
            .read()
            .attachments(message)?
            .into_iter()
            .map(|a| a.record)
            .collect())
    }

    /// This account's profile picture, if one is set.
    pub fn profile_picture(&self) -> Result<Option<OwnPicture>, DbError> {
        self.db().read().own_picture()
    }

    /// A contact's picture as their profile named it (fetched or not).
    pub fn contact_picture(&self, peer: &SessionId) -> Result<Option<PictureRecord>, DbError> {
        self.db().read().contact_picture(peer)
    }
}

impl<N: Network> Client<N> {
    /// The attachments of `message`, in order.
    pub fn attachments(&self, message: MessageId) -> Result<Vec<AttachmentRecord>, ClientError> {
        Ok(self.with_engine(|e| e.attachments(message))?)
    }

    /// Sends `files` (staged with [`stage_path`] or [`stage_bytes`]) to `to` in one message,
    /// with `body` as its text (the caption) and optionally quoting `quote`: each is
    /// encrypted (deterministic format), uploaded to `server` through an onion path (retried
    /// per `policy`), and the message goes once every upload succeeded. Limits are checked
    /// before the first upload.
    ///
    /// # Errors
    /// [`TransferError::TooMany`], [`TransferError::Limit`] before any upload; a failed
    /// upload ([`TransferError::Network`], [`TransferError::Server`]) sends nothing.
    #[allow(clippy::too_many_arguments)]
    pub async fn send_attachments(
        &self,
        to: &SessionId,
        files: Vec<Staged>,
        body: Option<&str>,
        quote: Option<MessageId>,
        server: &FileServer,
        policy: &TransferPolicy,
        progress: &Progress,
    ) -> Result<SendOutcome, TransferError> {
        if files.is_empty() {
            return Err(TransferError::NoAttachments);
        }
        if files.len() > MAX_ATTACHMENTS {
            return Err(TransferError::TooMany {
                count: files.len(),
                max: MAX_ATTACHMENTS,
            });
        }
        if let Some(text) = body {
            crate::outgoing::check_text(text)?;
        }
        for f in &files {
            check_upload(len_u64(f.bytes.len()), UploadFormat::Deterministic)?;
        }
        let onion = onion_server_of(server)?;
        let seed = self.with_engine(|e| e.account().ed25519_seed());
        let mut outgoing = Vec::with_capacity(files.len());
        for (index, file) in files.into_iter().enumerate() {
            let seed = seed.clone();
            let bytes = file.bytes;
            let encrypted = tokio::task::spawn_blocking(move || {
                deterministic::encrypt(&seed, deterministic::Domain::Attachment, &bytes)
            })
            .await
            .map_err(|_| TransferError::BadReply("the encryption task stopped"))?
            .map_err(TransferError::Encrypt)?;
            let upload_len = len_u64(encrypted.ciphertext.len());
            report(
                progress,
                TransferEvent::Encrypted {
                    index,
                    size: u64::from(file.meta.size()),
                    upload_len,
                },
            );
            let (id, _expires) = upload_blob(
                self.network(),
                &onion,
                encrypted.ciphertext,
                policy,
                progress,
                index,
            )
            .await?;
            let url = server.file_url(&id, true)?;
            let pointer = file.meta.to_pointer(&url, encrypted.key.expose(), None)?;
            outgoing.push((
                OutgoingAttachment {
                    pointer,
                    local: file
                        .source
                        .as_ref()
                        .map(|p| p.to_string_lossy().into_owned()),
                },
                file.duration,
            ));
        }
        let pointers: Vec<OutgoingAttachment> = outgoing.iter().map(|(a, _)| a.clone()).collect();
        let now = self.now_ms();
        let sent =
            self.with_engine(|e| e.send_visible(to, body, &pointers, quote, now, &mut OsRng))?;
        if let Some(message) = sent.message {
            self.with_engine(|e| {
                e.db_mut().write(|tx| {
                    for (index, (_, duration)) in outgoing.iter().enumerate() {
                        if let Some(d) = duration {
                            let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
                            tx.set_attachment_state(
                                message,
                                index,
                                AttachmentState::Uploaded,
                                None,
                                Some(ms),
                            )?;
                        }
                    }
                    Ok::<_, DbError>(())
                })
            })?;
        }
        Ok(self.text_sent(sent).await?)
    }

    /// Downloads attachment `index` of `message` through an onion path (retried per
    /// `policy`), decrypts and verifies it, and saves it in `dir` under its (safe) file
    /// name. A file the server no longer has gives [`Downloaded::Expired`] and the
    /// attachment's state becomes [`AttachmentState::Expired`].
    ///
    /// # Errors
    /// [`TransferError::Refused`] for a download that does not decrypt (nothing is saved);
    /// [`TransferError::Network`] or [`TransferError::Server`] when every attempt failed.
    pub async fn download_attachment(
        &self,
        message: MessageId,
        index: usize,
        dir: &Path,
        policy: &TransferPolicy,
        progress: &Progress,
    ) -> Result<Downloaded, TransferError> {
        let stored = self
            .with_engine(|e| e.db().read().attachment(message, index))?
            .ok_or(TransferError::UnknownAttachment { message, index })?;
        let record = &stored.record;
        let set_state = |state, path: Option<&str>, duration: Option<u64>| {
            self.with_engine(|e| {
                e.db_mut()
                    .write(|tx| tx.set_attachment_state(message, index, state, path, duration))
            })
        };
        let url = AttachmentUrl::parse(&record.url)?;
        let blob =
            match download_blob(self.network(), &url, policy, progress, index, record.size).await {
                Ok(Some(blob)) => blob,
                Ok(None) => {
                    set_state(AttachmentState::Expired, None, None)?;
                    report(progress, TransferEvent::Expired { index });
                    return Ok(Downloaded::Expired);
                }
                Err(e) => {
                    set_state(AttachmentState::Failed, None, None)?;
                    return Err(e);
                }
            };
        let key = stored.key.clone();
        let digest = stored.digest.clone();
        let size = record.size;
        let plain = tokio::task::spawn_blocking(move || {
            decrypt_attachment(&url, &key, digest.as_deref(), size, &blob)
        })
        .await
        .map_err(|_| TransferError::BadReply("the decryption task stopped"))?;
        let plain = match plain {
            Ok(p) => p,
            Err(e) => {
                set_state(AttachmentState::Refused, None, None)?;
                return Err(e);
            }
        };
        let duration_ms = record
            .content_type
            .starts_with("audio/")
            .then(|| sotto_media::audio::duration(&plain).ok())
            .flatten()
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let name = record
            .file_name
            .clone()
            .unwrap_or_else(|| default_name(record));
        let path = save_new(dir, &name, &plain)?;
        set_state(
            AttachmentState::Downloaded,
            Some(&path.to_string_lossy()),
            duration_ms,
        )?;
        report(
            progress,
            TransferEvent::Saved {
                index,
                path: path.clone(),
            },
        );
        Ok(Downloaded::Saved(path))
    }

    /// The size (bytes) under which received attachments are downloaded by
    /// [`Client::download_pending`] without asking; `None`: never.
    pub fn auto_download_max(&self) -> Result<Option<u64>, ClientError> {
        Ok(self.with_engine(|e| e.db().read().auto_download_max())?)
    }

    /// Sets (or clears) the auto-download size.
    pub fn set_auto_download_max(&self, max: Option<u64>) -> Result<(), ClientError> {
        Ok(self.with_engine(|e| e.db_mut().write(|tx| tx.set_auto_download_max(max)))?)
    }

    /// Downloads every received attachment not downloaded yet whose size is at most the
    /// auto-download size (nothing when it is not set) into `dir`; one result each.
    pub async fn download_pending(
        &self,
        dir: &Path,
        policy: &TransferPolicy,
        progress: &Progress,
    ) -> Result<Vec<(MessageId, usize, Result<Downloaded, TransferError>)>, ClientError> {
        let Some(max) = self.auto_download_max()? else {
            return Ok(Vec::new());
        };
        let pending = self.with_engine(|e| e.db().read().pending_attachments(max))?;
        let mut out = Vec::with_capacity(pending.len());
        for a in pending {
            let (message, index) = (a.record.message, a.record.index);
            let result = self
                .download_attachment(message, index, dir, policy, progress)
                .await;
            out.push((message, index, result));
        }
        Ok(out)
    }

    /// This account's profile picture, if one is set.
    pub fn profile_picture(&self) -> Result<Option<OwnPicture>, ClientError> {
        Ok(self.with_engine(|e| e.db().read().own_picture())?)
    }

    /// Uploads `image` (an image file's bytes, scaled to fit
    /// [`sotto_media::image::MAX_PROFILE_PICTURE_SIDE`] px, at most [`MAX_UPLOAD_LEN`] once
    /// encrypted) as this account's profile picture (deterministic format, profile-picture domain);
    /// from now on every profile this account sends carries its URL and key. `source` is
    /// kept for re-uploads.
    pub async fn set_profile_picture(
        &self,
        image: Vec<u8>,
        source: Option<&Path>,
        server: &FileServer,
        policy: &TransferPolicy,
        progress: &Progress,
    ) -> Result<OwnPicture, TransferError> {
        let sniffed = sotto_media::sniff::sniff(&image);
        if !sniffed.is_image() {
            return Err(TransferError::Media(MediaError::UnknownFormat {
                what: "profile picture",
            }));
        }
        let onion = onion_server_of(server)?;
        let seed = self.with_engine(|e| e.account().ed25519_seed());
        // Scaled to fit the official clients' 600 px bound first, then encrypted.
        let encrypted = tokio::task::spawn_blocking(move || {
            let image = sotto_media::image::prepare_profile_picture(&image)
                .map_err(TransferError::Media)?
                .bytes
                .into_owned();
            check_upload(len_u64(image.len()), UploadFormat::Deterministic)?;
            profile_pic::encrypt(&seed, &image).map_err(TransferError::Encrypt)
        })
        .await
        .map_err(|_| TransferError::BadReply("the encryption task stopped"))??;
        let (id, _) = upload_blob(
            self.network(),
            &onion,
            encrypted.ciphertext,
            policy,
            progress,
            0,
        )
        .await?;
        let url = server.file_url(&id, true)?;
        let picture = OwnPicture {
            url: url.to_string(),
            key: encrypted.key.expose().to_vec(),
            local_path: source.map(Path::to_path_buf),
            uploaded_ms: self.now_ms(),
        };
        let now_s = self.now_ms() / 1000;
        self.with_engine(|e| {
            e.db_mut().write(|tx| {
                tx.set_own_picture(&picture)?;
                // The profile changed: its time goes with it.
                let mut settings = tx.settings()?;
                settings.profile_updated_s = Some(now_s);
                tx.set_settings(&settings)
            })
        })?;
        Ok(picture)
    }

    /// Re-uploads this account's picture when it is older than
    /// [`PICTURE_REUPLOAD_AFTER_MS`] (the server keeps files about 14 days; deterministic
    /// encryption gives the same URL, so contacts need nothing new). Whether it re-uploaded.
    pub async fn refresh_profile_picture(
        &self,
        server: &FileServer,
        policy: &TransferPolicy,
    ) -> Result<bool, TransferError> {
        let Some(picture) = self.profile_picture()? else {
            return Ok(false);
        };
        if self.now_ms().saturating_sub(picture.uploaded_ms) < PICTURE_REUPLOAD_AFTER_MS {
            return Ok(false);
        }
        let Some(path) = picture.local_path.clone() else {
            return Ok(false);
        };
        let image = std::fs::read(&path).map_err(|source| TransferError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.set_profile_picture(image, Some(&path), server, policy, &None)
            .await?;
        Ok(true)
    }

    /// A contact's picture as their profile named it (fetched or not).
    pub fn contact_picture(&self, peer: &SessionId) -> Result<Option<PictureRecord>, ClientError> {
        Ok(self.with_engine(|e| e.db().read().contact_picture(peer))?)
    }

    /// Fetches `peer`'s profile picture through an onion path, decrypts it with their
    /// profile key and saves it in `dir`.
    pub async fn fetch_profile_picture(
        &self,
        peer: &SessionId,
        dir: &Path,
        policy: &TransferPolicy,
    ) -> Result<Downloaded, TransferError> {
        let picture = self
            .contact_picture(peer)?
            .ok_or_else(|| TransferError::NoPicture(peer.short()))?;
        let url = AttachmentUrl::parse(&picture.url)?;
        let Some(blob) = download_blob(self.network(), &url, policy, &None, 0, 0).await? else {
            return Ok(Downloaded::Expired);
        };
        let key = SymmetricKey::from_slice(&picture.key).map_err(|_| {
            TransferError::Refused(sotto_attachment::AttachmentError::Length {
                what: "profile key",
                expected: 32,
                found: picture.key.len(),
            })
        })?;
        let image = if url.is_deterministic() {
            profile_pic::decrypt(&blob, &key)
        } else {
            profile_pic::decrypt_legacy(&key, &blob)
        }
        .map_err(TransferError::Refused)?;
        let ext = match sotto_media::sniff::sniff(&image).mime {
            "image/png" => "png",
            "image/gif" => "gif",
            "image/webp" => "webp",
            _ => "jpg",
        };
        let path = save_new(dir, &format!("{}.{ext}", peer.short()), &image)?;
        self.with_engine(|e| {
            e.db_mut()
                .write(|tx| tx.set_contact_picture_path(peer, &path.to_string_lossy()))
        })?;
        Ok(Downloaded::Saved(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_one_byte_over_the_cap_fails_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(10_000_001).unwrap();
        let err = stage_path(&path, SendAs::File).unwrap_err();
        let TransferError::Limit(UploadLimitError::TooLarge { plaintext_len, .. }) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(*plaintext_len, 10_000_001);
        assert!(err.to_string().contains("cap of 10000000 bytes"), "{err}");
        // The largest file that fits is accepted.
        let ok = dir.path().join("ok.bin");
        std::fs::write(&ok, vec![7u8; 9_956_278]).unwrap();
        let staged = stage_path(&ok, SendAs::File).unwrap();
        assert_eq!(staged.meta.size(), 9_956_278);
        std::fs::write(&ok, vec![7u8; 9_956_279]).unwrap();
        assert!(matches!(
            stage_path(&ok, SendAs::File),
            Err(TransferError::Limit(_))
        ));
    }

    #[test]
    fn staged_files_carry_their_metadata() {
        let s = stage_bytes(
            b"%PDF-1.4 hello".to_vec(),
            Some("../x/report.pdf"),
            SendAs::File,
        )
        .unwrap();
        assert_eq!(s.meta.content_type().as_str(), "application/pdf");
        assert_eq!(s.meta.file_name().unwrap().as_str(), "report.pdf");
        assert!(!s.meta.is_voice_message());
        assert!(matches!(
            stage_bytes(Vec::new(), None, SendAs::File),
            Err(TransferError::Limit(UploadLimitError::Empty))
        ));
    }

    #[test]
    fn downloads_decrypt_by_their_url_and_refuse_tampering() {
        let seed = sotto_crypto::SecretBytes::new([3u8; 32]);
        let plain = b"hello attachment".to_vec();
        let enc = deterministic::encrypt(&seed, deterministic::Domain::Attachment, &plain).unwrap();
        let server = FileServer::new(Scheme::Http, "127.0.0.1", Some(8080), [9; 32]).unwrap();
        let url = server.file_url(&"a".repeat(44), true).unwrap();
        let got = decrypt_attachment(
            &url,
            enc.key.expose(),
            None,
            plain.len() as u64,
            &enc.ciphertext,
        )
        .unwrap();
        assert_eq!(got, plain);
        let mut bad = enc.ciphertext.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(
            decrypt_attachment(&url, enc.key.expose(), None, plain.len() as u64, &bad),
            Err(TransferError::Refused(_))
        ));
        // A size larger than the plaintext is refused too.
        assert!(matches!(
            decrypt_attachment(&url, enc.key.expose(), None, 10_000, &enc.ciphertext),
            Err(TransferError::Refused(_))
        ));
        // Legacy: read by the URL's missing `d`.
        let mut rng =
            <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(5);
        let legacy_enc = legacy::encrypt(&plain, legacy::Padding::Padded, &mut rng).unwrap();
        let legacy_url = server.file_url(&"b".repeat(44), false).unwrap();
        let key = legacy_enc.key.to_bytes();
        let got = decrypt_attachment(
            &legacy_url,
            key.expose(),
            Some(&legacy_enc.digest),
            plain.len() as u64,
            &legacy_enc.blob,
        )
        .unwrap();
        assert_eq!(got, plain);
    }

    #[test]
    fn saving_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let a = save_new(dir.path(), "a.txt", b"1").unwrap();
        let b = save_new(dir.path(), "a.txt", b"2").unwrap();
        assert_ne!(a, b);
        assert_eq!(b.file_name().unwrap(), "a (1).txt");
        assert_eq!(std::fs::read(&a).unwrap(), b"1");
    }

    #[test]
    fn states_round_trip_through_their_column() {
        for s in [
            AttachmentState::Uploaded,
            AttachmentState::Pending,
            AttachmentState::Downloaded,
            AttachmentState::Expired,
            AttachmentState::Failed,
            AttachmentState::Refused,
        ] {
            assert_eq!(AttachmentState::from_column(s.to_column()), Some(s));
        }
        assert_eq!(AttachmentState::from_column(9), None);
    }
}
