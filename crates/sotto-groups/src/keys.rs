//! Keys messages (namespace 12): rekeys (§2.3), supplements (§2.4) and loading them with
//! generations, pending keys and expiry (§2.5).

use core::cmp::Ordering;
use core::fmt;
use std::collections::{BTreeMap, BTreeSet};

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use sotto_bencode::Value;
use sotto_crypto::{
    AEAD_TAG_LEN, Ed25519PublicKey, Ed25519SecretKey, SecretBytes, Signature, SymmetricKey,
    X25519PublicKey, X25519SecretKey, ct_eq, xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};
use sotto_identity::SessionId;

use crate::identity::keyed_hash;
use crate::multi::{Nonce, decrypt_for_multiple, encrypt_for_multiple};
use crate::{GroupAdmin, GroupId, KeysError, MEMBER_KEY_DOMAIN};

mod dump;
pub use dump::DUMP_VERSION;

/// Full keys messages carry member key entries in multiples of this (junk-padded).
pub const MESSAGE_KEY_MULTIPLE: usize = 75;
/// A generation is dropped once a newer one is this much older than the newest key (60 days).
pub const KEY_EXPIRY_MS: i64 = 60 * 24 * 60 * 60 * 1000;
/// Length of one encrypted key entry (32-byte key and tag).
pub const KEY_ENTRY_LEN: usize = 32 + AEAD_TAG_LEN;
/// Smallest valid supplement entry: an encrypted `{g, k, t}` dict.
pub const MIN_SUPPLEMENT_ENTRY_LEN: usize = 52 + AEAD_TAG_LEN;

const KEY_GEN_HASH_KEY: &[u8] = b"SessionGroupKeyGen";
const JUNK_HASH_KEY: &[u8] = b"SessionGroupJunkMembers";
/// `1:~64:` + signature + `e`.
const SIGNATURE_TAIL: usize = 6 + 64 + 1;

/// One group encryption key with its generation and the swarm time it arrived.
#[derive(Clone)]
pub struct KeyInfo {
    /// The generation (rekey counter).
    pub generation: i64,
    /// The key.
    pub key: SymmetricKey,
    /// Swarm storage time (ms) of the message that carried it.
    pub timestamp_ms: i64,
}

impl KeyInfo {
    fn order(&self, other: &Self) -> Ordering {
        (self.generation, self.timestamp_ms)
            .cmp(&(other.generation, other.timestamp_ms))
            .then_with(|| self.key.expose().cmp(other.key.expose()))
    }
}

impl fmt::Debug for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyInfo")
            .field("generation", &self.generation)
            .field("timestamp_ms", &self.timestamp_ms)
            .finish_non_exhaustive()
    }
}

/// A new keys message made by an admin.
#[derive(Clone)]
pub struct Rekey {
    /// Its generation.
    pub generation: i64,
    /// The new group key.
    pub key: SymmetricKey,
    /// The signed message to store in namespace 12.
    pub message: Vec<u8>,
}

impl fmt::Debug for Rekey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rekey")
            .field("generation", &self.generation)
            .field("message_len", &self.message.len())
            .finish_non_exhaustive()
    }
}

fn sorted_members(members: &[SessionId]) -> Vec<SessionId> {
    let mut sorted = members.to_vec();
    sorted.sort_by_key(SessionId::to_bytes);
    sorted.dedup();
    sorted
}

/// Encodes `dict` (without `~`), signs the bytes before its closing `e`, and appends the
/// signature as the last key.
fn sign_dict(dict: &Value, signer: &Ed25519SecretKey) -> Vec<u8> {
    let mut bytes = sotto_bencode::encode(dict);
    bytes.pop();
    let sig = signer.sign(&bytes);
    bytes.extend_from_slice(b"1:~64:");
    bytes.extend_from_slice(&sig.to_bytes());
    bytes.push(b'e');
    bytes
}

/// libsodium `randombytes_buf_deterministic`: the ChaCha20-IETF keystream under `seed` with
/// the nonce "LibsodiumDRG".
fn deterministic_bytes(seed: &[u8; 32], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut cipher = ChaCha20::new(seed.into(), b"LibsodiumDRG".into());
    cipher.apply_keystream(&mut out);
    out
}

impl GroupAdmin {
    /// Builds the full keys message of `generation` for `members` (all of them, admins
    /// included): the new key for the admins (`K`) and for each member (`k`), junk-padded to a
    /// multiple of 75, signed by the group. Deterministic: every admin makes the same bytes.
    pub fn build_rekey(&self, members: &[SessionId], generation: i64) -> Result<Rekey, KeysError> {
        if generation < 0 {
            return Err(KeysError::Generation(generation));
        }
        let members = sorted_members(members);
        let hex_ids: Vec<String> = members.iter().map(ToString::to_string).collect();
        let gen_text = generation.to_string();
        let mut parts: Vec<&[u8]> = hex_ids.iter().map(String::as_bytes).collect();
        parts.push(gen_text.as_bytes());
        parts.push(self.seed_hash().expose());
        let h1 = keyed_hash::<56>(KEY_GEN_HASH_KEY, &parts);
        let (key_bytes, nonce_bytes) = h1.split_at(32);
        let key = SymmetricKey::from_slice(key_bytes).map_err(|_| KeysError::NoKeys)?;
        let nonce: Nonce = nonce_bytes
            .try_into()
            .map_err(|_| KeysError::Malformed("nonce"))?;

        let admin_copy = xchacha20poly1305_encrypt(self.admin_key(), &nonce, &[], key.expose())
            .map_err(|_| KeysError::Malformed("admin key encryption"))?;
        let xpks: Vec<X25519PublicKey> = members.iter().map(|m| *m.x25519()).collect();
        let mut entries = encrypt_for_multiple(
            &[key.expose()],
            &xpks,
            &nonce,
            self.x25519_secret(),
            self.x25519_public(),
            MEMBER_KEY_DOMAIN,
            true,
        )?;
        let real = entries.len();
        if real % MESSAGE_KEY_MULTIPLE != 0 {
            let junk = MESSAGE_KEY_MULTIPLE - real % MESSAGE_KEY_MULTIPLE;
            let sk64 = self.signing_key().to_libsodium_bytes();
            let seed = keyed_hash::<32>(JUNK_HASH_KEY, &[&h1, sk64.expose()]);
            let bytes = deterministic_bytes(&seed, junk * KEY_ENTRY_LEN);
            entries.extend(bytes.chunks(KEY_ENTRY_LEN).map(<[u8]>::to_vec));
        }
        let dict = Value::dict([
            ("#", Value::Bytes(nonce.to_vec())),
            ("G", Value::Int(generation)),
            ("K", Value::Bytes(admin_copy)),
            (
                "k",
                Value::List(entries.into_iter().map(Value::Bytes).collect()),
            ),
        ]);
        Ok(Rekey {
            generation,
            key,
            message: sign_dict(&dict, self.signing_key()),
        })
    }

    /// Builds a supplemental keys message giving `keys` (in the order given) to `recipients`.
    pub fn build_supplement(
        &self,
        recipients: &[SessionId],
        keys: &[KeyInfo],
    ) -> Result<Vec<u8>, KeysError> {
        let max_gen = keys
            .iter()
            .map(|k| k.generation)
            .max()
            .ok_or(KeysError::NoKeys)?;
        let inner = sotto_bencode::encode(&Value::List(
            keys.iter()
                .map(|k| {
                    Value::dict([
                        ("g", Value::Int(k.generation)),
                        ("k", Value::Bytes(k.key.expose().to_vec())),
                        ("t", Value::Int(k.timestamp_ms)),
                    ])
                })
                .collect(),
        ));
        let hex_ids: Vec<String> = recipients.iter().map(ToString::to_string).collect();
        let mut parts: Vec<&[u8]> = hex_ids.iter().map(String::as_bytes).collect();
        parts.push(&inner);
        parts.push(self.seed_hash().expose());
        let nonce = keyed_hash::<24>(KEY_GEN_HASH_KEY, &parts);
        let xpks: Vec<X25519PublicKey> = recipients.iter().map(|m| *m.x25519()).collect();
        let copies = encrypt_for_multiple(
            &[&inner],
            &xpks,
            &nonce,
            self.x25519_secret(),
            self.x25519_public(),
            MEMBER_KEY_DOMAIN,
            false,
        )?;
        let dict = Value::dict([
            ("#", Value::Bytes(nonce.to_vec())),
            (
                "+",
                Value::List(copies.into_iter().map(Value::Bytes).collect()),
            ),
            ("G", Value::Int(max_gen)),
        ]);
        Ok(sign_dict(&dict, self.signing_key()))
    }
}

/// A keys message whose structure and group signature were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeysMessage {
    /// A rekey.
    Full {
        /// The shared nonce.
        nonce: Nonce,
        /// The generation.
        generation: i64,
        /// The key encrypted for admins.
        admin_copy: Vec<u8>,
        /// The member copies, junk included (a multiple of 75).
        member_copies: Vec<Vec<u8>>,
    },
    /// Existing keys for new members.
    Supplement {
        /// The shared nonce.
        nonce: Nonce,
        /// The highest generation included.
        max_generation: i64,
        /// One copy of the key list per recipient.
        copies: Vec<Vec<u8>>,
    },
}

fn byte_list(value: Option<&Value>, what: &'static str) -> Result<Vec<Vec<u8>>, KeysError> {
    value
        .and_then(Value::as_list)
        .ok_or(KeysError::Malformed(what))?
        .iter()
        .map(|v| {
            v.as_bytes()
                .map(<[u8]>::to_vec)
                .ok_or(KeysError::Malformed(what))
        })
        .collect()
}

impl KeysMessage {
    /// Parses `data` and verifies the group's signature with `group`.
    pub fn parse(data: &[u8], group: &Ed25519PublicKey) -> Result<Self, KeysError> {
        let value = sotto_bencode::decode(data)?;
        let dict = value
            .as_dict()
            .ok_or(KeysError::Malformed("not a dictionary"))?;
        // The signature must be the last key, 64 bytes, and cover everything before `1:~`.
        let (last_key, sig) = dict.iter().next_back().ok_or(KeysError::BadSignature)?;
        if last_key.as_slice() != b"~" {
            return Err(KeysError::BadSignature);
        }
        let sig = sig
            .as_bytes()
            .and_then(|s| Signature::from_slice(s).ok())
            .ok_or(KeysError::BadSignature)?;
        let signed_len = data
            .len()
            .checked_sub(SIGNATURE_TAIL)
            .ok_or(KeysError::BadSignature)?;
        let (signed, tail) = data.split_at(signed_len);
        if !tail.starts_with(b"1:~64:") {
            return Err(KeysError::BadSignature);
        }
        let get = |k: &[u8]| dict.get(k);
        let nonce: Nonce = get(b"#")
            .and_then(Value::as_bytes)
            .and_then(|n| n.try_into().ok())
            .ok_or(KeysError::Malformed("nonce `#` missing or not 24 bytes"))?;
        let generation = get(b"G")
            .and_then(Value::as_int)
            .ok_or(KeysError::Malformed(
                "generation `G` missing or not an integer",
            ))?;
        if generation < 0 {
            return Err(KeysError::Generation(generation));
        }
        let parsed = if get(b"+").is_some() {
            let copies = byte_list(get(b"+"), "supplement `+` is not a list of strings")?;
            if copies.iter().any(|c| c.len() < MIN_SUPPLEMENT_ENTRY_LEN) {
                return Err(KeysError::Malformed("supplement entry too short"));
            }
            Self::Supplement {
                nonce,
                max_generation: generation,
                copies,
            }
        } else {
            let admin_copy = get(b"K")
                .and_then(Value::as_bytes)
                .filter(|k| k.len() == KEY_ENTRY_LEN)
                .ok_or(KeysError::Malformed(
                    "admin key `K` missing or not 48 bytes",
                ))?
                .to_vec();
            let member_copies = byte_list(get(b"k"), "member keys `k` is not a list of strings")?;
            if member_copies.iter().any(|c| c.len() != KEY_ENTRY_LEN) {
                return Err(KeysError::Malformed("member key entry is not 48 bytes"));
            }
            if member_copies.len() % MESSAGE_KEY_MULTIPLE != 0 {
                return Err(KeysError::KeyListSize(member_copies.len()));
            }
            Self::Full {
                nonce,
                generation,
                admin_copy,
                member_copies,
            }
        };
        group
            .verify(signed, &sig)
            .map_err(|_| KeysError::BadSignature)?;
        Ok(parsed)
    }
}

/// Parses a decrypted supplement key list: a bt-list of `{g, k, t}`.
fn parse_key_list(plain: &[u8]) -> Result<Vec<KeyInfo>, KeysError> {
    let value = sotto_bencode::decode(plain)?;
    let list = value
        .as_list()
        .ok_or(KeysError::Malformed("supplement key list is not a list"))?;
    list.iter()
        .map(|item| {
            let g = item
                .get("g")
                .and_then(Value::as_int)
                .ok_or(KeysError::Malformed(
                    "supplement key without generation `g`",
                ))?;
            if g < 0 {
                return Err(KeysError::Generation(g));
            }
            let key = item
                .get("k")
                .and_then(Value::as_bytes)
                .and_then(|k| SymmetricKey::from_slice(k).ok())
                .ok_or(KeysError::Malformed(
                    "supplement key `k` missing or not 32 bytes",
                ))?;
            let t = item
                .get("t")
                .and_then(Value::as_int)
                .ok_or(KeysError::Malformed("supplement key without timestamp `t`"))?;
            Ok(KeyInfo {
                generation: g,
                key,
                timestamp_ms: t,
            })
        })
        .collect()
}

#[derive(Clone)]
struct Pending {
    generation: i64,
    key: SymmetricKey,
    message: Vec<u8>,
}

/// One client's view of a group's keys: what it has loaded from namespace 12 and, for an
/// admin, the rekey it has made but not yet seen stored.
#[derive(Clone)]
pub struct GroupKeys {
    group: GroupId,
    group_x: X25519PublicKey,
    admin: Option<GroupAdmin>,
    user_x_secret: X25519SecretKey,
    user_x_public: X25519PublicKey,
    keys: Vec<KeyInfo>,
    active: BTreeMap<i64, BTreeSet<String>>,
    pending: Option<Pending>,
}

impl fmt::Debug for GroupKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupKeys")
            .field("group", &self.group)
            .field("admin", &self.admin.is_some())
            .field("keys", &self.keys.len())
            .field("pending", &self.pending.as_ref().map(|p| p.generation))
            .finish()
    }
}

impl GroupKeys {
    /// A member's (non-admin) view of `group`, for the user with Ed25519 key `user`.
    pub fn new(user: &Ed25519SecretKey, group: GroupId) -> Result<Self, KeysError> {
        let user_x_secret = user.to_x25519();
        Ok(Self {
            group_x: group.x25519()?,
            group,
            admin: None,
            user_x_public: user_x_secret.public_key(),
            user_x_secret,
            keys: Vec::new(),
            active: BTreeMap::new(),
            pending: None,
        })
    }

    /// An admin's view.
    pub fn new_admin(user: &Ed25519SecretKey, admin: GroupAdmin) -> Result<Self, KeysError> {
        let mut keys = Self::new(user, admin.group_id())?;
        keys.admin = Some(admin);
        Ok(keys)
    }

    /// Becomes an admin with the group seed (after a promotion).
    pub fn load_admin_key(&mut self, seed: &[u8; 32]) -> Result<(), KeysError> {
        let admin = GroupAdmin::from_seed(seed)?;
        if admin.group_id() != self.group {
            return Err(KeysError::WrongAdminSeed);
        }
        self.admin = Some(admin);
        Ok(())
    }

    /// The group.
    #[must_use]
    pub fn group_id(&self) -> GroupId {
        self.group
    }

    /// Whether this client holds the group seed.
    #[must_use]
    pub fn is_admin(&self) -> bool {
        self.admin.is_some()
    }

    /// The admin keys, if held.
    #[must_use]
    pub fn admin(&self) -> Option<&GroupAdmin> {
        self.admin.as_ref()
    }

    /// Retained keys in ascending (generation, timestamp) order.
    #[must_use]
    pub fn key_infos(&self) -> &[KeyInfo] {
        &self.keys
    }

    /// Every key to try: the pending one first, then newest to oldest.
    #[must_use]
    pub fn keys(&self) -> Vec<&SymmetricKey> {
        self.pending
            .iter()
            .map(|p| &p.key)
            .chain(self.keys.iter().rev().map(|k| &k.key))
            .collect()
    }

    /// The key to encrypt with: the pending key, else the newest.
    pub fn encryption_key(&self) -> Result<&SymmetricKey, KeysError> {
        self.keys().into_iter().next().ok_or(KeysError::NoKeys)
    }

    /// The generation of [`Self::encryption_key`].
    #[must_use]
    pub fn current_generation(&self) -> Option<i64> {
        self.pending
            .as_ref()
            .map(|p| p.generation)
            .or_else(|| self.keys.last().map(|k| k.generation))
    }

    /// The rekey waiting to be confirmed by reading it back from the swarm.
    #[must_use]
    pub fn pending_config(&self) -> Option<&[u8]> {
        self.pending.as_ref().map(|p| p.message.as_slice())
    }

    /// Whether two keys share the newest generation (concurrent rekeys): an admin should rekey.
    #[must_use]
    pub fn needs_rekey(&self) -> bool {
        if !self.is_admin() {
            return false;
        }
        match self.keys.as_slice() {
            [.., a, b] => a.generation == b.generation,
            _ => false,
        }
    }

    /// Hashes of the keys messages of retained generations (renew their expiry).
    #[must_use]
    pub fn active_hashes(&self) -> BTreeSet<&str> {
        self.active
            .values()
            .flat_map(|s| s.iter().map(String::as_str))
            .collect()
    }

    /// Makes a rekey for `members` (the full list, admins included) at the next generation and
    /// keeps it pending. Returns the message to store.
    pub fn rekey(&mut self, members: &[SessionId]) -> Result<&[u8], KeysError> {
        let admin = self.admin.as_ref().ok_or(KeysError::NotAdmin)?;
        let generation = self
            .keys
            .last()
            .map_or(0, |k| k.generation.saturating_add(1));
        let rekey = admin.build_rekey(members, generation)?;
        let pending = self.pending.insert(Pending {
            generation,
            key: rekey.key,
            message: rekey.message,
        });
        Ok(&pending.message)
    }

    /// A supplement giving every retained key to `recipients`.
    pub fn key_supplement(&self, recipients: &[SessionId]) -> Result<Vec<u8>, KeysError> {
        let admin = self.admin.as_ref().ok_or(KeysError::NotAdmin)?;
        admin.build_supplement(recipients, &self.keys)
    }

    /// Loads a keys message stored with `hash` at swarm time `timestamp_ms`. Returns whether
    /// it gave this client a key. Malformed or badly signed messages are errors and change
    /// nothing.
    pub fn load_key_message(
        &mut self,
        hash: &str,
        data: &[u8],
        timestamp_ms: i64,
    ) -> Result<bool, KeysError> {
        let parsed = KeysMessage::parse(data, self.group.public_key())?;
        let mut new_keys = Vec::new();
        let associated_gen;
        match parsed {
            KeysMessage::Supplement {
                nonce,
                max_generation,
                copies,
            } => {
                associated_gen = max_generation;
                if self.admin.is_none()
                    && let Ok(plain) = decrypt_for_multiple(
                        copies.iter().map(Vec::as_slice),
                        &nonce,
                        &self.user_x_secret,
                        &self.user_x_public,
                        &self.group_x,
                        MEMBER_KEY_DOMAIN,
                    )
                {
                    new_keys = parse_key_list(&plain)?;
                }
            }
            KeysMessage::Full {
                nonce,
                generation,
                admin_copy,
                member_copies,
            } => {
                associated_gen = generation;
                let found = if let Some(admin) = &self.admin {
                    let key =
                        xchacha20poly1305_decrypt(admin.admin_key(), &nonce, &[], &admin_copy)
                            .map_err(|_| KeysError::AdminKeyMismatch)?;
                    Some(key)
                } else {
                    decrypt_for_multiple(
                        member_copies.iter().map(Vec::as_slice),
                        &nonce,
                        &self.user_x_secret,
                        &self.user_x_public,
                        &self.group_x,
                        MEMBER_KEY_DOMAIN,
                    )
                    .ok()
                };
                if let Some(key) = found {
                    let key = SymmetricKey::from_slice(&key)
                        .map_err(|_| KeysError::Malformed("decrypted key is not 32 bytes"))?;
                    new_keys.push(KeyInfo {
                        generation,
                        key,
                        timestamp_ms,
                    });
                }
            }
        }

        if let (Some(first), Some(pending)) = (new_keys.first(), &self.pending)
            && (first.generation > pending.generation
                || ct_eq(first.key.expose(), pending.key.expose()))
        {
            self.pending = None;
        }
        if new_keys.is_empty() {
            self.active
                .entry(associated_gen)
                .or_default()
                .insert(hash.to_owned());
            self.remove_expired();
            return Ok(false);
        }
        for key in new_keys {
            self.insert_key(hash, key);
        }
        Ok(true)
    }

    fn insert_key(&mut self, hash: &str, new_key: KeyInfo) {
        let same_gen_dup = self.keys.iter().any(|k| {
            k.generation == new_key.generation && ct_eq(k.key.expose(), new_key.key.expose())
        });
        if same_gen_dup {
            self.active
                .entry(new_key.generation)
                .or_default()
                .insert(hash.to_owned());
            return;
        }
        let pos = self
            .keys
            .partition_point(|k| k.order(&new_key) == Ordering::Less);
        if let (true, Some(front), Some(back)) = (
            self.keys.len() >= 2 && pos == 0,
            self.keys.first(),
            self.keys.last(),
        ) && new_key.generation < front.generation
            && front.timestamp_ms.saturating_add(KEY_EXPIRY_MS) < back.timestamp_ms
        {
            // Older than a generation that has already expired: stale.
            return;
        }
        self.active
            .entry(new_key.generation)
            .or_default()
            .insert(hash.to_owned());
        self.keys.insert(pos, new_key);
        self.remove_expired();
    }

    fn remove_expired(&mut self) {
        if self.keys.len() >= 2 {
            let newest = self.keys.last().map_or(0, |k| k.timestamp_ms);
            let mut keep_from = 0;
            let mut i = 0;
            while i < self.keys.len() {
                let Some(generation) = self.keys.get(i).map(|k| k.generation) else {
                    break;
                };
                // First key of the next generation.
                let mut j = i;
                while self.keys.get(j).is_some_and(|k| k.generation == generation) {
                    j += 1;
                }
                let Some(next) = self.keys.get(j) else {
                    break;
                };
                if next.timestamp_ms.saturating_add(KEY_EXPIRY_MS) < newest {
                    keep_from = j;
                } else {
                    break;
                }
                i = j;
            }
            if keep_from > 0 {
                self.keys.drain(..keep_from);
            }
        }
        match self.keys.first().map(|k| k.generation) {
            Some(oldest) => self.active.retain(|g, _| *g >= oldest),
            None => self.active.clear(),
        }
    }

    /// Encrypts a group message as `author` with the current key (see [`crate::message`]).
    pub fn encrypt_message(
        &self,
        author: &Ed25519SecretKey,
        plaintext: &[u8],
        compress: bool,
        nonce: &Nonce,
    ) -> Result<Vec<u8>, crate::MessageError> {
        let key = self
            .encryption_key()
            .map_err(|_| crate::MessageError::NoKey { tried: 0 })?;
        crate::message::encrypt_group_message(
            author,
            key,
            plaintext,
            compress,
            crate::message::DEFAULT_PADDING,
            nonce,
        )
    }

    /// Decrypts a group message with the pending key or any retained key.
    pub fn decrypt_message(
        &self,
        ciphertext: &[u8],
    ) -> Result<crate::message::DecryptedGroupMessage, crate::MessageError> {
        crate::message::decrypt_group_message(&self.keys(), ciphertext)
    }
}

/// A new random-free secret: helper for tests and callers that hold raw key bytes.
#[must_use]
pub fn key_from_bytes(bytes: [u8; 32]) -> SymmetricKey {
    SecretBytes::new(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_identity::Account;

    fn user(n: u8) -> Account {
        Account::from_ed25519_seed(&[n; 32])
    }

    fn setup() -> (GroupAdmin, GroupKeys, Vec<Account>) {
        let admin = GroupAdmin::from_seed(&[200; 32]).unwrap();
        let admin_user = user(1);
        let keys = GroupKeys::new_admin(admin_user.ed25519_secret(), admin.clone()).unwrap();
        (admin, keys, vec![admin_user, user(2), user(3)])
    }

    fn ids(users: &[Account]) -> Vec<SessionId> {
        users.iter().map(Account::session_id).collect()
    }

    #[test]
    fn pending_key_until_read_back_then_confirmed() {
        let (_, mut keys, users) = setup();
        assert_eq!(keys.encryption_key().err(), Some(KeysError::NoKeys));
        let msg = keys.rekey(&ids(&users)).unwrap().to_vec();
        assert_eq!(keys.pending_config(), Some(msg.as_slice()));
        assert_eq!(keys.current_generation(), Some(0));
        assert_eq!(keys.keys().len(), 1);
        assert!(keys.load_key_message("h0", &msg, 1000).unwrap());
        assert_eq!(keys.pending_config(), None);
        assert_eq!(keys.keys().len(), 1);
        // Loading it again only records the hash.
        assert!(keys.load_key_message("h0b", &msg, 2000).unwrap());
        assert_eq!(keys.key_infos().len(), 1);
        assert_eq!(keys.active_hashes().len(), 2);
        let next = keys.rekey(&ids(&users[..2])).unwrap().to_vec();
        assert_eq!(keys.current_generation(), Some(1));
        assert!(keys.load_key_message("h1", &next, 3000).unwrap());
        assert_eq!(keys.key_infos().len(), 2);
    }

    #[test]
    fn concurrent_rekeys_need_a_rekey() {
        let (admin, mut keys, users) = setup();
        let a = admin.build_rekey(&ids(&users), 0).unwrap();
        let b = admin.build_rekey(&ids(&users[..2]), 0).unwrap();
        keys.load_key_message("a", &a.message, 1000).unwrap();
        assert!(!keys.needs_rekey());
        keys.load_key_message("b", &b.message, 1001).unwrap();
        assert!(keys.needs_rekey());
        let fix = keys.rekey(&ids(&users)).unwrap().to_vec();
        keys.load_key_message("c", &fix, 1002).unwrap();
        assert!(!keys.needs_rekey());
        assert_eq!(keys.current_generation(), Some(1));
        // A member sees the same generations but never needs to act.
        let mut member = GroupKeys::new(users[1].ed25519_secret(), admin.group_id()).unwrap();
        member.load_key_message("a", &a.message, 1000).unwrap();
        member.load_key_message("b", &b.message, 1001).unwrap();
        assert!(!member.needs_rekey());
    }

    #[test]
    fn old_generations_expire_after_sixty_days() {
        let (admin, _, users) = setup();
        let mut member = GroupKeys::new(users[1].ed25519_secret(), admin.group_id()).unwrap();
        let day = 24 * 60 * 60 * 1000;
        for g in 0..3 {
            let r = admin.build_rekey(&ids(&users), g).unwrap();
            member
                .load_key_message(&format!("h{g}"), &r.message, g * 10 * day)
                .unwrap();
        }
        assert_eq!(member.key_infos().len(), 3);
        // Generation 3 arrives 61 days after generation 1: generation 0 goes, and 1 is kept
        // (generation 2 is not yet 60 days old).
        let r = admin.build_rekey(&ids(&users), 3).unwrap();
        member.load_key_message("h3", &r.message, 71 * day).unwrap();
        let gens: Vec<i64> = member.key_infos().iter().map(|k| k.generation).collect();
        assert_eq!(gens, [1, 2, 3]);
        assert!(!member.active_hashes().contains("h0"));
        // A stale generation-0 copy arriving late is not re-added.
        let r0 = admin.build_rekey(&ids(&users), 0).unwrap();
        member
            .load_key_message("late", &r0.message, 72 * day)
            .unwrap();
        let gens: Vec<i64> = member.key_infos().iter().map(|k| k.generation).collect();
        assert_eq!(gens, [1, 2, 3]);
    }

    #[test]
    fn malformed_and_forged_messages_change_nothing() {
        let (admin, _, users) = setup();
        let mut member = GroupKeys::new(users[1].ed25519_secret(), admin.group_id()).unwrap();
        let good = admin.build_rekey(&ids(&users), 0).unwrap().message;

        let mut flipped = good.clone();
        flipped[60] ^= 1;
        assert_eq!(
            member.load_key_message("x", &flipped, 1),
            Err(KeysError::BadSignature)
        );
        let other = GroupAdmin::from_seed(&[201; 32]).unwrap();
        let forged = other.build_rekey(&ids(&users), 0).unwrap().message;
        assert_eq!(
            member.load_key_message("x", &forged, 1),
            Err(KeysError::BadSignature)
        );
        assert!(
            member
                .load_key_message("x", &good[..good.len() - 1], 1)
                .is_err()
        );
        assert!(member.load_key_message("x", b"", 1).is_err());

        // A correctly signed list of 74 entries is refused (junk padding missing).
        let dict = Value::dict([
            ("#", Value::Bytes(vec![0; 24])),
            ("G", Value::Int(0)),
            ("K", Value::Bytes(vec![0; 48])),
            ("k", Value::List(vec![Value::Bytes(vec![0; 48]); 74])),
        ]);
        let short = sign_dict(&dict, admin.signing_key());
        assert_eq!(
            member.load_key_message("x", &short, 1),
            Err(KeysError::KeyListSize(74))
        );
        // Negative generation, and a key after the signature.
        let neg = sign_dict(
            &Value::dict([
                ("#", Value::Bytes(vec![0; 24])),
                ("G", Value::Int(-1)),
                ("K", Value::Bytes(vec![0; 48])),
                ("k", Value::List(vec![])),
            ]),
            admin.signing_key(),
        );
        assert_eq!(
            member.load_key_message("x", &neg, 1),
            Err(KeysError::Generation(-1))
        );
        let mut after = good.clone();
        after.pop();
        after.extend_from_slice(b"1:\x7f0:e");
        assert!(member.load_key_message("x", &after, 1).is_err());
        assert!(member.key_infos().is_empty());
        assert!(member.active_hashes().is_empty());
        // An empty member list is a valid (if useless) message.
        let empty = admin.build_rekey(&[], 0).unwrap().message;
        assert!(!member.load_key_message("e", &empty, 1).unwrap());
        // An admin with the wrong seed cannot be made.
        let mut m2 = GroupKeys::new(users[2].ed25519_secret(), admin.group_id()).unwrap();
        assert_eq!(
            m2.load_admin_key(&[201; 32]),
            Err(KeysError::WrongAdminSeed)
        );
        assert_eq!(m2.rekey(&ids(&users)).err(), Some(KeysError::NotAdmin));
        m2.load_admin_key(&[200; 32]).unwrap();
        assert!(m2.is_admin());
    }

    #[test]
    fn sizes_step_by_75_members() {
        let admin = GroupAdmin::from_seed(&[7; 32]).unwrap();
        let members: Vec<SessionId> = (0..=151u8)
            .map(|i| Account::from_ed25519_seed(&[i; 32]).session_id())
            .collect();
        let len = |n: usize| admin.build_rekey(&members[..n], 0).unwrap().message.len();
        assert_eq!(len(1), 3992);
        assert_eq!(len(75), 3992);
        assert_eq!(len(76), 3992 + 75 * 51);
        assert_eq!(len(150), 3992 + 75 * 51);
        assert_eq!(len(151), 3992 + 150 * 51);
    }
}
