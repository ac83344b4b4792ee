//! Communities (open groups on a SOGS-compatible server, spec `shared/spec/groups.md` §4):
//! join by link and leave, poll rooms with batch requests (pollInfo and the messages since the
//! last seqno, with reactions), post text and replies signed with the 15-blinded key, react,
//! edit, delete one's own posts (or any post, as a moderator), ban, and blinded DMs through
//! the server's inbox (§4.6), both directions.
//!
//! Every request is a v4 onion request through a [`ServerTransport`] ([`OnionNetwork`]
//! implements it): the client never talks to a community server directly. Joined rooms, their
//! poll positions, messages and DMs live in the client database (tables of schema version
//! [`store::V7_COMMUNITY`]); [`Communities::joined`] and [`Communities::remember`] are what a
//! user config (UserGroups) sync mirrors.
//!
//! Posts are verified when read: a post whose signature does not verify under its sender's
//! blinded key, or whose Content is not a visible message, is skipped (its seqno still
//! counts).

pub(crate) mod store;
mod wire;

use core::future::Future;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sotto_crypto::{CryptoRngCore as _, OsRng};
use sotto_envelope::{
    Content, DataFields, EncryptError, Message, Profile, Quote, VisibleMessage,
    decrypt_from_blinded, encrypt_for_blinded_recipient,
};
use sotto_identity::blinding::blind15_ids;
use sotto_identity::{Account, IdPrefix, PrefixedId, SessionId};
use thiserror::Error;

use crate::client::Clock;
use crate::db::Database;
use crate::error::{DbError, NetworkError};
use crate::net::{OnionNetwork, OnionServer};

pub use sotto_onion::{V4Request, V4Response};
pub(crate) use store::V7_COMMUNITY;
pub use wire::{JoinLink, ReactionCount, Reactions, valid_token};

use store::{NewDm, NewMessage, RoomState};
use wire::{Call, Update};

/// The most rounds of `messages/since` one poll makes (256 updates each).
pub const MAX_POLL_ROUNDS: usize = 20;
/// The page size of `messages/since` (the server's maximum).
pub const PAGE: usize = 256;
/// How long one community request may take, retries over other paths included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a community operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CommunityError {
    /// The join link does not read (what is wrong).
    #[error("invalid community link: {0}")]
    InvalidLink(&'static str),
    /// The room is not joined (the reference given).
    #[error("community room {0} is not joined: `sotto community join LINK` first")]
    NotJoined(String),
    /// No stored message of the room has this id.
    #[error("no message #{0} in this room")]
    UnknownMessage(i64),
    /// The DM recipient is not a 15- or 25-blinded id, nor a Session ID.
    #[error("a DM goes to a community member's blinded id (15…) or Session ID (05…)")]
    InvalidRecipient,
    /// The server answered with an error status (its code and text), e.g. 403 "Banned from
    /// this room" or 429 when posting too fast.
    #[error("the community server refused the request: {status} {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's text, shortened.
        message: String,
    },
    /// An answer of the server did not parse (what was expected).
    #[error("the community server sent a malformed answer: expected {0}")]
    Malformed(&'static str),
    /// The onion request failed.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// The local database failed.
    #[error(transparent)]
    Database(#[from] DbError),
    /// A DM could not be encrypted.
    #[error("cannot encrypt the DM: {0}")]
    Encrypt(#[from] EncryptError),
}

impl From<rusqlite::Error> for CommunityError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(DbError::Sqlite(e))
    }
}

impl CommunityError {
    /// Whether the server refused with this status.
    #[must_use]
    pub fn is_status(&self, code: u16) -> bool {
        matches!(self, Self::Refused { status, .. } if *status == code)
    }
}

/// Sends v4 requests to servers; [`OnionNetwork`] does it through onion paths.
pub trait ServerTransport: Send + Sync {
    /// Sends `request` to `server` and returns its answer.
    fn request(
        &self,
        server: &OnionServer,
        request: &V4Request,
        timeout: Duration,
    ) -> impl Future<Output = Result<V4Response, NetworkError>> + Send;
}

impl ServerTransport for OnionNetwork {
    fn request(
        &self,
        server: &OnionServer,
        request: &V4Request,
        timeout: Duration,
    ) -> impl Future<Output = Result<V4Response, NetworkError>> + Send {
        self.server_request(server, request, timeout)
    }
}

/// A transport that sends nothing: for reading and changing the local state only (every
/// request fails with [`NetworkError::Unavailable`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

impl ServerTransport for Offline {
    async fn request(
        &self,
        _server: &OnionServer,
        _request: &V4Request,
        _timeout: Duration,
    ) -> Result<V4Response, NetworkError> {
        Err(NetworkError::Unavailable("offline"))
    }
}

impl<T: ServerTransport> ServerTransport for &T {
    fn request(
        &self,
        server: &OnionServer,
        request: &V4Request,
        timeout: Duration,
    ) -> impl Future<Output = Result<V4Response, NetworkError>> + Send {
        (**self).request(server, request, timeout)
    }
}

/// A joined room, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JoinedRoom {
    /// Its local number.
    #[serde(skip)]
    pub local_id: i64,
    /// Its server, token and key.
    #[serde(serialize_with = "link_text")]
    pub link: JoinLink,
    /// Its display name, once known.
    pub name: Option<String>,
    /// The room's info counter last seen (`-1` before the first poll).
    pub info_updates: i64,
    /// The room's change counter last seen.
    pub last_seqno: i64,
    /// Whether this account may read.
    pub can_read: bool,
    /// Whether this account may post.
    pub can_write: bool,
    /// Whether this account is a moderator of the room.
    pub moderator: bool,
    /// Whether this account is an admin of the room.
    pub admin: bool,
    /// Active users in the last week, as last polled.
    pub active_users: Option<i64>,
    /// When it was last polled (ms).
    pub polled_ms: Option<i64>,
}

fn link_text<S: serde::Serializer>(link: &JoinLink, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&link.to_string())
}

impl JoinedRoom {
    /// `HOST[:PORT]/ROOM`: how the CLI names it.
    #[must_use]
    pub fn reference(&self) -> String {
        let host = self
            .link
            .base_url
            .split_once("://")
            .map_or(self.link.base_url.as_str(), |(_, h)| h);
        format!("{host}/{}", self.link.room)
    }
}

/// A room message as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoomMessage {
    /// The server's message id.
    pub id: i64,
    /// The sender's blinded id.
    pub sender: String,
    /// The sender's display name, as the post gave it.
    pub display_name: Option<String>,
    /// When the server received it (ms).
    pub posted_ms: i64,
    /// When it was last edited (ms).
    pub edited_ms: Option<i64>,
    /// The room's change counter at its last change.
    pub seqno: i64,
    /// The sender's own timestamp of the post (ms): what replies quote.
    pub sent_ms: Option<i64>,
    /// Its text (`None` when deleted or without text).
    pub text: Option<String>,
    /// The message it replies to: its sent timestamp (ms) and author.
    pub quote: Option<(i64, String)>,
    /// Whether it was deleted.
    pub deleted: bool,
    /// Its reactions.
    pub reactions: Reactions,
}

/// A blinded DM as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommunityDm {
    /// Sent by this account.
    pub outgoing: bool,
    /// The server's id (per direction).
    pub id: i64,
    /// The other side's blinded id.
    pub peer: String,
    /// The sender's Session ID, for received DMs (the DM carries the sender's real key).
    pub peer_session_id: Option<String>,
    /// When the server received it (ms).
    pub posted_ms: i64,
    /// Its text.
    pub text: Option<String>,
}

/// What a poll of a room brought.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PollOutcome {
    /// New messages (verified), oldest first.
    pub new: Vec<RoomMessage>,
    /// Messages edited, deleted or whose reactions changed.
    pub changed: usize,
    /// Posts skipped (bad signature or not a visible message).
    pub skipped: usize,
    /// New DMs received on this server.
    pub dms: Vec<CommunityDm>,
}

/// The community side of one account: its rooms and DMs over `T`.
pub struct Communities<T> {
    db: Mutex<Database>,
    account: Account,
    transport: T,
    clock: Clock,
    timeout: Duration,
}

impl<T> core::fmt::Debug for Communities<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Communities").finish_non_exhaustive()
    }
}

impl<T: ServerTransport> Communities<T> {
    /// Opens the account's client database at `database` (migrating it) for communities.
    ///
    /// # Errors
    /// [`CommunityError::Database`] when the file cannot be opened.
    pub fn open(database: &Path, account: Account, transport: T) -> Result<Self, CommunityError> {
        let db = Database::open(database, &account)?;
        Ok(Self::with_database(db, account, transport))
    }

    /// The same on a database in memory (tests, tools).
    ///
    /// # Errors
    /// [`CommunityError::Database`] when SQLite fails.
    pub fn in_memory(account: Account, transport: T) -> Result<Self, CommunityError> {
        let db = Database::open_in_memory(&account)?;
        Ok(Self::with_database(db, account, transport))
    }

    fn with_database(db: Database, account: Account, transport: T) -> Self {
        Self {
            db: Mutex::new(db),
            account,
            transport,
            clock: Clock::system(),
            timeout: REQUEST_TIMEOUT,
        }
    }

    /// Uses `clock` for times (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn db(&self) -> MutexGuard<'_, Database> {
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now_ms(&self) -> i64 {
        i64::try_from(self.clock.now_ms()).unwrap_or(i64::MAX)
    }

    /// This account's 15-blinded id on `room`'s server: how the room knows it.
    #[must_use]
    pub fn blinded_id(&self, room: &JoinedRoom) -> PrefixedId {
        self.account.blind15(&room.link.server_pk).id()
    }

    /// Every joined room (what the UserGroups config mirrors).
    ///
    /// # Errors
    /// [`CommunityError::Database`].
    pub fn joined(&self) -> Result<Vec<JoinedRoom>, CommunityError> {
        Ok(store::rooms(self.db().parts().0)?)
    }

    /// Records a room as joined without asking the server (a joined room learned from
    /// another device's config); returns whether it is new. Its first poll fills it in.
    ///
    /// # Errors
    /// [`CommunityError::Database`].
    pub fn remember(&self, link: &JoinLink) -> Result<bool, CommunityError> {
        let now = self.now_ms();
        Ok(store::join(self.db().parts().0, link, None, now)?)
    }

    /// Forgets a room, its messages and its poll position, and takes it out of the UserGroups
    /// config (so the user's other devices leave it too); returns whether it was joined.
    /// Nothing is sent to the server: leaving a community is to stop polling it.
    ///
    /// # Errors
    /// [`CommunityError::Database`].
    pub fn leave(&self, link: &JoinLink) -> Result<bool, CommunityError> {
        Ok(self.db().write(|tx| {
            let left = store::leave(tx.conn(), link)?;
            crate::configs::edit_in(tx, sotto_config::ConfigKind::UserGroups, |data| {
                sotto_config::UserGroups::remove_community(data, &link.base_url, &link.room);
            })?;
            Ok::<_, DbError>(left)
        })?)
    }

    /// The joined room of `link`.
    ///
    /// # Errors
    /// [`CommunityError::NotJoined`].
    pub fn room(&self, link: &JoinLink) -> Result<JoinedRoom, CommunityError> {
        store::room(self.db().parts().0, link)?
            .ok_or_else(|| CommunityError::NotJoined(link.to_string()))
    }

    /// The last `limit` stored messages of a room, oldest first.
    ///
    /// # Errors
    /// [`CommunityError::Database`].
    pub fn messages(
        &self,
        room: &JoinedRoom,
        limit: u32,
    ) -> Result<Vec<RoomMessage>, CommunityError> {
        let db = self.db();
        let (conn, key) = db.parts();
        Ok(store::messages(conn, key, room.local_id, limit)?)
    }

    /// One stored message.
    ///
    /// # Errors
    /// [`CommunityError::UnknownMessage`].
    pub fn message(&self, room: &JoinedRoom, id: i64) -> Result<RoomMessage, CommunityError> {
        let db = self.db();
        let (conn, key) = db.parts();
        store::message(conn, key, room.local_id, id)?.ok_or(CommunityError::UnknownMessage(id))
    }

    /// The stored DMs on `room`'s server, both directions, oldest first (the last `limit`).
    ///
    /// # Errors
    /// [`CommunityError::Database`].
    pub fn dms(&self, room: &JoinedRoom, limit: u32) -> Result<Vec<CommunityDm>, CommunityError> {
        let db = self.db();
        let (conn, key) = db.parts();
        Ok(store::dms(conn, key, &room.link.base_url, limit)?)
    }

    /// Sends one signed request.
    async fn call(&self, link: &JoinLink, call: &Call) -> Result<V4Response, CommunityError> {
        let server = link.server()?;
        let mut nonce = [0u8; 16];
        OsRng.as_rngcore().fill_bytes(&mut nonce);
        let now_s = u64::try_from(self.now_ms() / 1000).unwrap_or(0);
        let request = call.sign(&self.account, &link.server_pk, now_s, &nonce);
        Ok(self
            .transport
            .request(&server, &request, self.timeout)
            .await?)
    }

    /// Sends a signed request and reads its JSON answer (an error status is a refusal).
    async fn call_json(&self, link: &JoinLink, call: &Call) -> Result<Value, CommunityError> {
        wire::json_answer(&self.call(link, call).await?)
    }

    /// Sends `calls` as one signed `/batch`; the answers in order.
    async fn batch(
        &self,
        link: &JoinLink,
        calls: &[Call],
    ) -> Result<Vec<(u16, Value)>, CommunityError> {
        let list: Vec<Value> = calls.iter().map(Call::subrequest).collect();
        let outer = Call::new("POST", "/batch".into(), Some(Value::Array(list)));
        wire::batch_answers(&self.call(link, &outer).await?, calls.len())
    }

    /// Joins the room of `link`: asks the server for the room (so a wrong link or key
    /// fails here), records it, and polls it once.
    ///
    /// # Errors
    /// [`CommunityError::Refused`] (404 for an unknown room, 403 when banned), network and
    /// database errors.
    pub async fn join(&self, link: &JoinLink) -> Result<(JoinedRoom, PollOutcome), CommunityError> {
        let path = format!("/room/{}", link.room);
        let info = self.call_json(link, &Call::new("GET", path, None)).await?;
        let name = info.get("name").and_then(Value::as_str);
        let now = self.now_ms();
        store::join(self.db().parts().0, link, name, now)?;
        let room = self.room(link)?;
        let outcome = self.poll(&room).await?;
        Ok((self.room(link)?, outcome))
    }

    /// The rooms the server of `link` lists for this account: `(token, name, active users)`.
    ///
    /// # Errors
    /// Network errors and refusals.
    pub async fn server_rooms(
        &self,
        link: &JoinLink,
    ) -> Result<Vec<(String, String, i64)>, CommunityError> {
        let list = self
            .call_json(link, &Call::new("GET", "/rooms".into(), None))
            .await?;
        Ok(list
            .as_array()
            .map(|rooms| {
                rooms
                    .iter()
                    .filter_map(|r| {
                        Some((
                            r.get("token")?.as_str()?.to_owned(),
                            r.get("name")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned(),
                            r.get("active_users").and_then(Value::as_i64).unwrap_or(0),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The room object the server gives for `room` (name, description, moderators, …).
    ///
    /// # Errors
    /// Network errors and refusals.
    pub async fn room_info(&self, room: &JoinedRoom) -> Result<Value, CommunityError> {
        let path = format!("/room/{}", room.link.room);
        self.call_json(&room.link, &Call::new("GET", path, None))
            .await
    }

    /// Polls a room: one batch of pollInfo, the messages since the last seqno (with
    /// reactions) and this server's inbox and outbox since the last DM ids; more pages of
    /// messages follow while full. Applies new posts, edits, deletions and reactions.
    ///
    /// # Errors
    /// [`CommunityError::Refused`] when the server refuses the poll itself (403 when banned),
    /// network and database errors. A refused DM listing is ignored.
    pub async fn poll(&self, room: &JoinedRoom) -> Result<PollOutcome, CommunityError> {
        let token = &room.link.room;
        let base = &room.link.base_url;
        let mut outcome = PollOutcome::default();
        let (mut seqno, info_updates, last_in, last_out) = {
            let db = self.db();
            let conn = db.parts().0;
            let current = store::room(conn, &room.link)?
                .ok_or_else(|| CommunityError::NotJoined(room.reference()))?;
            (
                current.last_seqno,
                current.info_updates,
                store::last_dm(conn, base, false)?,
                store::last_dm(conn, base, true)?,
            )
        };
        let since = |seqno: i64| {
            Call::new(
                "GET",
                format!("/room/{token}/messages/since/{seqno}?t=r&limit={PAGE}"),
                None,
            )
        };
        let calls = [
            // The path takes no negative number: before the first poll, ask from 0.
            Call::new(
                "GET",
                format!("/room/{token}/pollInfo/{}", info_updates.max(0)),
                None,
            ),
            since(seqno),
            Call::new("GET", format!("/inbox/since/{last_in}"), None),
            Call::new("GET", format!("/outbox/since/{last_out}"), None),
        ];
        let mut answers = self.batch(&room.link, &calls).await?.into_iter();
        let mut next = || {
            answers
                .next()
                .ok_or(CommunityError::Malformed("a batch answer"))
        };
        let (code, info) = next()?;
        let info = wire::sub_answer(code, info)?;
        let (code, page) = next()?;
        let page = wire::sub_answer(code, page)?;
        let inbox = next()?;
        let outbox = next()?;
        self.apply_info(room, &info)?;
        let mut page = page;
        for _ in 0..MAX_POLL_ROUNDS {
            let list = page.as_array().cloned().unwrap_or_default();
            let full = list.len() >= PAGE;
            seqno = self.apply_updates(room, &list, seqno, &mut outcome)?;
            if !full {
                break;
            }
            page = self.call_json(&room.link, &since(seqno)).await?;
        }
        for (outgoing, (code, body)) in [(false, inbox), (true, outbox)] {
            if code == 200 {
                self.apply_dms(room, &body, outgoing, &mut outcome)?;
            }
        }
        Ok(outcome)
    }

    /// Applies a `messages/since` answer (a JSON list) fetched by other means, as a poll
    /// would: new posts (verified), edits, deletions and reactions, and the poll position.
    ///
    /// # Errors
    /// [`CommunityError::Malformed`] when `answer` is not a JSON list; database errors.
    pub fn apply_messages(
        &self,
        room: &JoinedRoom,
        answer: &[u8],
    ) -> Result<PollOutcome, CommunityError> {
        let list: Vec<Value> = serde_json::from_slice(answer)
            .map_err(|_| CommunityError::Malformed("a list of messages"))?;
        let mut outcome = PollOutcome::default();
        let seqno = self.room(&room.link)?.last_seqno;
        self.apply_updates(room, &list, seqno, &mut outcome)?;
        Ok(outcome)
    }

    /// Applies an `/inbox` (or with `outgoing`, `/outbox`) answer fetched by other means:
    /// the DMs that open are stored; the new ones are returned.
    ///
    /// # Errors
    /// [`CommunityError::Malformed`] when `answer` is not JSON; database errors.
    pub fn apply_dm_list(
        &self,
        room: &JoinedRoom,
        answer: &[u8],
        outgoing: bool,
    ) -> Result<Vec<CommunityDm>, CommunityError> {
        let list: Value =
            serde_json::from_slice(answer).map_err(|_| CommunityError::Malformed("a DM list"))?;
        let mut outcome = PollOutcome::default();
        self.apply_dms(room, &list, outgoing, &mut outcome)?;
        Ok(outcome.dms)
    }

    fn apply_info(&self, room: &JoinedRoom, info: &Value) -> Result<(), CommunityError> {
        let flag = |k: &str| info.get(k).and_then(Value::as_bool).unwrap_or(false);
        let details = info.get("details");
        let state = RoomState {
            name: details
                .and_then(|d| d.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            info_updates: details
                .and_then(|d| d.get("info_updates"))
                .and_then(Value::as_i64),
            can_read: flag("read"),
            can_write: flag("write"),
            moderator: flag("moderator") || flag("global_moderator"),
            admin: flag("admin") || flag("global_admin"),
            active_users: info.get("active_users").and_then(Value::as_i64),
        };
        let now = self.now_ms();
        store::set_state(self.db().parts().0, room.local_id, &state, now)?;
        Ok(())
    }

    /// Applies one page of updates in one transaction; returns the new poll position.
    fn apply_updates(
        &self,
        room: &JoinedRoom,
        list: &[Value],
        mut seqno: i64,
        outcome: &mut PollOutcome,
    ) -> Result<i64, CommunityError> {
        let db = self.db();
        let (conn, key) = db.parts();
        let tx = conn.unchecked_transaction()?;
        let mut new_ids = Vec::new();
        for item in list {
            let Some(update) = wire::parse_update(item) else {
                outcome.skipped += 1;
                continue;
            };
            match update {
                Update::Reactions {
                    id,
                    seqno: s,
                    reactions,
                } => {
                    store::set_reactions(conn, room.local_id, id, &reactions)?;
                    outcome.changed += 1;
                    seqno = seqno.max(s.unwrap_or(seqno));
                }
                Update::Message {
                    id,
                    sender,
                    posted_ms,
                    edited_ms,
                    seqno: s,
                    data,
                    signature,
                    reactions,
                } => {
                    seqno = seqno.max(s);
                    let Some(data) = data else {
                        store::delete_message(conn, room.local_id, id, &sender, posted_ms, s)?;
                        outcome.changed += 1;
                        continue;
                    };
                    let Some(post) = wire::open_post(&sender, &data, signature.as_deref()) else {
                        outcome.skipped += 1;
                        continue;
                    };
                    let quote = post.quote.as_ref().map(|(id, a, _)| (*id, a.as_str()));
                    let new = store::put_message(
                        conn,
                        key,
                        room.local_id,
                        &NewMessage {
                            id,
                            sender: &sender,
                            posted_ms,
                            edited_ms,
                            seqno: s,
                            sent_ms: post.sent_ms,
                            display_name: post.display_name.as_deref(),
                            body: post.text.as_deref(),
                            quote,
                            reactions: &reactions,
                        },
                    )?;
                    if new {
                        new_ids.push(id);
                    } else {
                        outcome.changed += 1;
                    }
                }
            }
        }
        store::set_seqno(conn, room.local_id, seqno)?;
        tx.commit()?;
        for id in new_ids {
            if let Some(m) = store::message(conn, key, room.local_id, id)? {
                outcome.new.push(m);
            }
        }
        Ok(seqno)
    }

    fn apply_dms(
        &self,
        room: &JoinedRoom,
        body: &Value,
        outgoing: bool,
        outcome: &mut PollOutcome,
    ) -> Result<(), CommunityError> {
        let server_pk = &room.link.server_pk;
        let db = self.db();
        let (conn, key) = db.parts();
        for dm in wire::parse_dms(body) {
            let Ok(opened) = decrypt_from_blinded(
                &self.account,
                server_pk,
                &dm.sender,
                &dm.recipient,
                &dm.message,
            ) else {
                continue;
            };
            let text = wire::visible(&opened.plaintext).and_then(|p| p.text);
            let peer = if outgoing { &dm.recipient } else { &dm.sender };
            let peer_session = (!outgoing).then(|| opened.sender.to_string());
            let record = NewDm {
                base_url: &room.link.base_url,
                outgoing,
                id: dm.id,
                peer: &peer.to_string(),
                peer_session_id: peer_session.as_deref(),
                posted_ms: dm.posted_ms,
                text: text.as_deref(),
            };
            if store::put_dm(conn, key, &record)? {
                outcome.dms.push(CommunityDm {
                    outgoing,
                    id: dm.id,
                    peer: peer.to_string(),
                    peer_session_id: peer_session,
                    posted_ms: dm.posted_ms,
                    text,
                });
            }
        }
        Ok(())
    }

    /// The padded Content of a text post or DM, with this account's display name.
    fn content(&self, text: &str, quote: Option<Quote>, display_name: Option<&str>) -> Vec<u8> {
        let message = VisibleMessage {
            body: Some(text.to_owned()),
            quote,
            data: DataFields {
                timestamp: u64::try_from(self.now_ms()).ok(),
                profile: display_name.map(|n| Profile {
                    display_name: Some(n.to_owned()),
                    picture_url: None,
                    last_update_seconds: None,
                    unknown: sotto_envelope::UnknownFields::default(),
                }),
                ..DataFields::default()
            },
            ..VisibleMessage::default()
        };
        Content::new(Message::Visible(message)).to_padded_bytes()
    }

    /// Posts `text` to a room, replying to the stored message `reply_to` if given, signed
    /// with the 15-blinded key; stores and returns the post as the server accepted it.
    ///
    /// # Errors
    /// [`CommunityError::Refused`]: 403 when banned or the room is read-only, 429 when
    /// posting too fast; [`CommunityError::UnknownMessage`] for a `reply_to` not stored.
    pub async fn post(
        &self,
        room: &JoinedRoom,
        text: &str,
        reply_to: Option<i64>,
        display_name: Option<&str>,
    ) -> Result<RoomMessage, CommunityError> {
        let quote = match reply_to {
            None => None,
            Some(id) => {
                let q = self.message(room, id)?;
                let author: PrefixedId = q
                    .sender
                    .parse()
                    .map_err(|_| CommunityError::UnknownMessage(id))?;
                Some(Quote {
                    id: q.sent_ms.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    author,
                    text: q.text,
                    attachments: Vec::new(),
                    unknown: sotto_envelope::UnknownFields::default(),
                })
            }
        };
        let data = self.content(text, quote, display_name);
        let signature = self.account.blind15(&room.link.server_pk).sign(&data);
        let body = json!({
            "data": STANDARD.encode(&data),
            "signature": STANDARD.encode(signature.0),
        });
        let path = format!("/room/{}/message", room.link.room);
        let posted = self
            .call_json(&room.link, &Call::new("POST", path, Some(body)))
            .await?;
        let mut outcome = PollOutcome::default();
        self.apply_post(room, &[posted], &mut outcome)?;
        outcome
            .new
            .into_iter()
            .next()
            .ok_or(CommunityError::Malformed("the posted message"))
    }

    /// Stores posts the server returned to their author without moving the poll position
    /// (others' posts may sit below the post's seqno).
    fn apply_post(
        &self,
        room: &JoinedRoom,
        list: &[Value],
        outcome: &mut PollOutcome,
    ) -> Result<(), CommunityError> {
        let before = self.room(&room.link)?.last_seqno;
        self.apply_updates(room, list, before, outcome)?;
        let db = self.db();
        db.parts().0.execute(
            "UPDATE community_rooms SET last_seqno = ?2 WHERE id = ?1",
            rusqlite::params![room.local_id, before],
        )?;
        Ok(())
    }

    /// Replaces the text of one's own post.
    ///
    /// # Errors
    /// [`CommunityError::Refused`] (403 for another's post), network errors.
    pub async fn edit(
        &self,
        room: &JoinedRoom,
        id: i64,
        text: &str,
        display_name: Option<&str>,
    ) -> Result<(), CommunityError> {
        let data = self.content(text, None, display_name);
        let signature = self.account.blind15(&room.link.server_pk).sign(&data);
        let body = json!({
            "data": STANDARD.encode(&data),
            "signature": STANDARD.encode(signature.0),
        });
        let path = format!("/room/{}/message/{id}", room.link.room);
        self.call_json(&room.link, &Call::new("PUT", path, Some(body)))
            .await?;
        Ok(())
    }

    /// Deletes a post: one's own (unsend), or anyone's as a moderator. The deletion reaches
    /// everyone's next poll.
    ///
    /// # Errors
    /// [`CommunityError::Refused`]: 403 for another's post without moderator rights, 404
    /// for a post that is not there.
    pub async fn delete(&self, room: &JoinedRoom, id: i64) -> Result<(), CommunityError> {
        let path = format!("/room/{}/message/{id}", room.link.room);
        self.call_json(&room.link, &Call::new("DELETE", path, None))
            .await?;
        let sender = self
            .message(room, id)
            .map(|m| (m.sender, m.posted_ms, m.seqno));
        if let Ok((sender, posted, seqno)) = sender {
            store::delete_message(
                self.db().parts().0,
                room.local_id,
                id,
                &sender,
                posted,
                seqno,
            )?;
        }
        Ok(())
    }

    /// Adds (or with `remove`, removes) this account's reaction `emoji` to a post.
    ///
    /// # Errors
    /// [`CommunityError::Refused`] (400 for an invalid emoji, 404 for a deleted post).
    pub async fn react(
        &self,
        room: &JoinedRoom,
        id: i64,
        emoji: &str,
        remove: bool,
    ) -> Result<(), CommunityError> {
        let token = &room.link.room;
        let call = Call {
            method: if remove { "DELETE" } else { "PUT" },
            endpoint: format!(
                "/room/{token}/reaction/{id}/{}",
                wire::encode_segment(emoji)
            ),
            signed_path: format!("/room/{token}/reaction/{id}/{emoji}"),
            body: (!remove).then(|| json!({})),
        };
        self.call_json(&room.link, &call).await?;
        Ok(())
    }

    /// The blinded ids a user may have on `room`'s server: a 15/25 id as given, a Session ID
    /// as its two possible 15-blinded ids.
    fn targets(&self, room: &JoinedRoom, user: &str) -> Result<Vec<PrefixedId>, CommunityError> {
        let id: PrefixedId = user.parse().map_err(|_| CommunityError::InvalidRecipient)?;
        match id.prefix() {
            IdPrefix::Blinded15 | IdPrefix::Blinded25 => Ok(vec![id]),
            IdPrefix::Standard => {
                let sid = SessionId::from_bytes(&id.to_bytes())
                    .map_err(|_| CommunityError::InvalidRecipient)?;
                Ok(blind15_ids(&sid, &room.link.server_pk)
                    .map_err(|_| CommunityError::InvalidRecipient)?
                    .to_vec())
            }
            _ => Err(CommunityError::InvalidRecipient),
        }
    }

    /// Bans (or with `unban`, lifts the ban of) `user` (a blinded id or Session ID) from
    /// `room`, optionally for `timeout` seconds. Needs moderator rights.
    ///
    /// # Errors
    /// [`CommunityError::Refused`] (403 without moderator rights or for a moderator).
    pub async fn ban(
        &self,
        room: &JoinedRoom,
        user: &str,
        unban: bool,
        timeout: Option<u64>,
    ) -> Result<(), CommunityError> {
        for target in self.targets(room, user)? {
            let mut body = json!({ "rooms": [room.link.room] });
            if let (Some(t), Some(obj)) = (timeout.filter(|_| !unban), body.as_object_mut()) {
                obj.insert("timeout".into(), json!(t));
            }
            let verb = if unban { "unban" } else { "ban" };
            let path = format!("/user/{target}/{verb}");
            self.call_json(&room.link, &Call::new("POST", path, Some(body)))
                .await?;
        }
        Ok(())
    }

    /// Sends a blinded DM through the inbox of `room`'s server to `to` (a 15/25-blinded id as
    /// the room shows it; a Session ID is blinded here, trying both 15 ids) and stores it.
    ///
    /// # Errors
    /// [`CommunityError::Refused`] (404 when the server does not know the recipient),
    /// [`CommunityError::InvalidRecipient`].
    pub async fn send_dm(
        &self,
        room: &JoinedRoom,
        to: &str,
        text: &str,
        display_name: Option<&str>,
    ) -> Result<CommunityDm, CommunityError> {
        let data = self.content(text, None, display_name);
        let mut last = CommunityError::InvalidRecipient;
        for target in self.targets(room, to)? {
            let sealed = encrypt_for_blinded_recipient(
                &self.account,
                &room.link.server_pk,
                &target,
                &data,
                &mut OsRng,
            )?;
            let body = json!({ "message": STANDARD.encode(&sealed) });
            let call = Call::new("POST", format!("/inbox/{target}"), Some(body));
            match self.call_json(&room.link, &call).await {
                Ok(answer) => {
                    let id = answer
                        .get("id")
                        .and_then(Value::as_i64)
                        .ok_or(CommunityError::Malformed("a DM id"))?;
                    let posted_ms = self.now_ms();
                    let dm = CommunityDm {
                        outgoing: true,
                        id,
                        peer: target.to_string(),
                        peer_session_id: None,
                        posted_ms,
                        text: Some(text.to_owned()),
                    };
                    let db = self.db();
                    let (conn, key) = db.parts();
                    store::put_dm(
                        conn,
                        key,
                        &NewDm {
                            base_url: &room.link.base_url,
                            outgoing: true,
                            id,
                            peer: &dm.peer,
                            peer_session_id: None,
                            posted_ms,
                            text: Some(text),
                        },
                    )?;
                    return Ok(dm);
                }
                Err(e) if e.is_status(404) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> JoinLink {
        JoinLink::parse(&format!(
            "http://127.0.0.9:9000/lobby?public_key={}",
            hex::encode([5u8; 32])
        ))
        .unwrap()
    }

    fn signed_post(account: &Account, id: i64, seqno: i64, text: &str) -> Value {
        let keys = account.blind15(&[5; 32]);
        let mut v = VisibleMessage::text(text);
        v.data.timestamp = Some(1_000 + u64::try_from(id).unwrap());
        let data = Content::new(Message::Visible(v)).to_padded_bytes();
        json!({"id": id, "session_id": keys.id().to_string(), "posted": 1.0, "seqno": seqno,
            "data": STANDARD.encode(&data), "signature": STANDARD.encode(keys.sign(&data).0),
            "reactions": {}})
    }

    #[test]
    fn joined_rooms_are_kept_and_forgotten() {
        let comm = Communities::in_memory(Account::generate(&mut OsRng), Offline).unwrap();
        assert!(comm.remember(&link()).unwrap());
        assert!(!comm.remember(&link()).unwrap());
        let rooms = comm.joined().unwrap();
        assert_eq!(rooms.len(), 1);
        assert_eq!(rooms[0].link, link());
        assert_eq!(rooms[0].reference(), "127.0.0.9:9000/lobby");
        assert!(comm.leave(&link()).unwrap());
        assert!(comm.joined().unwrap().is_empty());
        assert!(matches!(
            comm.room(&link()),
            Err(CommunityError::NotJoined(_))
        ));
    }

    #[test]
    fn updates_apply_posts_edits_deletions_and_reactions() {
        let me = Account::generate(&mut OsRng);
        let other = Account::generate(&mut OsRng);
        let comm = Communities::in_memory(me, Offline).unwrap();
        comm.remember(&link()).unwrap();
        let room = comm.room(&link()).unwrap();
        let mut forged = signed_post(&other, 3, 3, "forged");
        forged["data"] = json!(STANDARD.encode(b"not what was signed"));
        let page = [
            signed_post(&other, 1, 1, "first"),
            signed_post(&other, 2, 2, "second"),
            forged,
            json!({"bogus": true}),
        ];
        let mut out = PollOutcome::default();
        let seqno = comm.apply_updates(&room, &page, 0, &mut out).unwrap();
        assert_eq!(seqno, 3);
        assert_eq!(out.new.len(), 2);
        assert_eq!(out.skipped, 2);
        assert_eq!(out.new[0].text.as_deref(), Some("first"));
        assert_eq!(comm.room(&link()).unwrap().last_seqno, 3);
        // An edit, a deletion and a reaction update.
        let mut edit = signed_post(&other, 1, 4, "first, edited");
        edit["edited"] = json!(2.0);
        let page = [
            edit,
            json!({"id": 2, "session_id": "15aa", "posted": 1.0, "seqno": 5, "data": null,
                "deleted": true}),
            json!({"id": 1, "seqno": 6, "reactions": {"👍": {"index": 0, "count": 2, "you": true}}}),
        ];
        let mut out = PollOutcome::default();
        assert_eq!(comm.apply_updates(&room, &page, 3, &mut out).unwrap(), 6);
        assert!(out.new.is_empty());
        assert_eq!(out.changed, 3);
        let list = comm.messages(&room, 10).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].text.as_deref(), Some("first, edited"));
        assert_eq!(list[0].edited_ms, Some(2000));
        assert_eq!(list[0].reactions["👍"].count, 2);
        assert!(list[1].deleted && list[1].text.is_none());
        // The text is sealed at rest.
        let db = comm.db();
        let raw: Vec<u8> = db
            .parts()
            .0
            .query_row(
                "SELECT body FROM community_messages WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!raw.windows(5).any(|w| w == b"first"));
    }

    #[test]
    fn dms_open_in_both_directions() {
        let alice = Account::generate(&mut OsRng);
        let bob = Account::generate(&mut OsRng);
        let a_id = alice.blind15(&[5; 32]).id();
        let b_id = bob.blind15(&[5; 32]).id();
        let data = Content::new(Message::Visible(VisibleMessage::text("psst"))).to_padded_bytes();
        let sealed =
            encrypt_for_blinded_recipient(&alice, &[5; 32], &b_id, &data, &mut OsRng).unwrap();
        let list = json!([{"id": 7, "posted_at": 3.0, "expires_at": 9.0,
            "sender": a_id.to_string(), "recipient": b_id.to_string(),
            "message": STANDARD.encode(&sealed)},
            {"id": 8, "posted_at": 3.0, "sender": a_id.to_string(),
            "recipient": b_id.to_string(), "message": STANDARD.encode(b"garbage")}]);
        let alice_sid = alice.session_id().to_string();
        for (account, outgoing) in [(bob, false), (alice, true)] {
            let comm = Communities::in_memory(account, Offline).unwrap();
            comm.remember(&link()).unwrap();
            let room = comm.room(&link()).unwrap();
            let mut out = PollOutcome::default();
            comm.apply_dms(&room, &list, outgoing, &mut out).unwrap();
            assert_eq!(out.dms.len(), 1);
            let dms = comm.dms(&room, 10).unwrap();
            assert_eq!(dms.len(), 1);
            assert_eq!(dms[0].text.as_deref(), Some("psst"));
            assert_eq!(dms[0].outgoing, outgoing);
            if outgoing {
                assert_eq!(dms[0].peer, b_id.to_string());
            } else {
                assert_eq!(dms[0].peer, a_id.to_string());
                assert_eq!(dms[0].peer_session_id.as_deref(), Some(alice_sid.as_str()));
            }
            // Seen again: not new.
            let mut again = PollOutcome::default();
            comm.apply_dms(&room, &list, outgoing, &mut again).unwrap();
            assert!(again.dms.is_empty());
        }
    }
}
