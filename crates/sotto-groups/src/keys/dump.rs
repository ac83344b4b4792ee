//! The persisted form of a [`GroupKeys`]: what a client saves between runs so that it need not
//! load every keys message again. Canonical bencode, versioned:
//!
//! ```text
//! d 1:a l d 1:g i<generation>e 1:h l <hash>… e e … e      active keys-message hashes
//!   1:g 33:<group id>
//!   1:k l d 1:g i<generation>e 1:k 32:<key> 1:t i<ms>e e … e   keys, oldest first
//!   1:p d 1:g i<generation>e 1:k 32:<key> 1:m <message> e     pending rekey (optional)
//!   1:s 32:<group seed>                                         admin only (optional)
//!   1:v i1e
//! e
//! ```
//!
//! The dump holds the group's keys (and an admin's seed): it is a secret. The user's own key is
//! not in it; [`GroupKeys::restore`] takes it again. A loader accepts only what [`GroupKeys::dump`]
//! makes: restoring then dumping gives the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use sotto_bencode::Value;
use sotto_crypto::{Ed25519SecretKey, SymmetricKey};
use zeroize::Zeroizing;

use super::{GroupKeys, KeyInfo, Pending};
use crate::{GroupAdmin, GroupId, KeysError};

/// The version [`GroupKeys::dump`] writes and [`GroupKeys::restore`] reads.
pub const DUMP_VERSION: i64 = 1;

fn int(v: i64) -> Value {
    Value::Int(v)
}

fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

fn key_value(key: &SymmetricKey) -> Value {
    bytes(key.expose())
}

impl GroupKeys {
    /// The persisted form of this state (see the module documentation). It contains secret
    /// keys: store it as carefully as the account's own key.
    #[must_use]
    pub fn dump(&self) -> Zeroizing<Vec<u8>> {
        let keys = self
            .keys
            .iter()
            .map(|k| {
                Value::dict([
                    ("g", int(k.generation)),
                    ("k", key_value(&k.key)),
                    ("t", int(k.timestamp_ms)),
                ])
            })
            .collect();
        let active = self
            .active
            .iter()
            .map(|(g, hashes)| {
                Value::dict([
                    ("g", int(*g)),
                    (
                        "h",
                        Value::List(hashes.iter().map(|h| bytes(h.as_bytes())).collect()),
                    ),
                ])
            })
            .collect();
        let mut top = vec![
            ("a", Value::List(active)),
            ("g", bytes(&self.group.to_bytes())),
            ("k", Value::List(keys)),
            ("v", int(DUMP_VERSION)),
        ];
        if let Some(p) = &self.pending {
            top.push((
                "p",
                Value::dict([
                    ("g", int(p.generation)),
                    ("k", key_value(&p.key)),
                    ("m", bytes(&p.message)),
                ]),
            ));
        }
        if let Some(admin) = &self.admin {
            top.push(("s", bytes(admin.seed().expose())));
        }
        let mut value = Value::dict(top);
        let out = Zeroizing::new(sotto_bencode::encode(&value));
        wipe(&mut value);
        out
    }

    /// Restores a state saved by [`GroupKeys::dump`] for the user with Ed25519 key `user`.
    /// Anything but a dump this version makes is an error ([`KeysError::Dump`],
    /// [`KeysError::DumpVersion`], [`KeysError::WrongAdminSeed`]), never a partial state.
    pub fn restore(user: &Ed25519SecretKey, dump: &[u8]) -> Result<Self, KeysError> {
        let mut value = sotto_bencode::decode(dump).map_err(|_| KeysError::Dump("not bencode"))?;
        let restored = read(user, &value);
        wipe(&mut value);
        let restored = restored?;
        // Only the canonical form, with no field this version does not know.
        if restored.dump().as_slice() != dump {
            return Err(KeysError::Dump("not the canonical form of a dump"));
        }
        Ok(restored)
    }
}

/// Overwrites the byte strings of a decoded or built dump (they hold keys).
fn wipe(value: &mut Value) {
    use zeroize::Zeroize;
    match value {
        Value::Bytes(b) => b.zeroize(),
        Value::List(items) => items.iter_mut().for_each(wipe),
        Value::Dict(map) => map.values_mut().for_each(wipe),
        Value::Int(_) => {}
    }
}

fn field<'a>(dict: &'a Value, key: &str, what: &'static str) -> Result<&'a Value, KeysError> {
    dict.get(key).ok_or(KeysError::Dump(what))
}

fn generation(v: &Value) -> Result<i64, KeysError> {
    let g = v
        .as_int()
        .ok_or(KeysError::Dump("generation is not an integer"))?;
    if g < 0 {
        return Err(KeysError::Generation(g));
    }
    Ok(g)
}

fn secret_key(v: &Value) -> Result<SymmetricKey, KeysError> {
    v.as_bytes()
        .and_then(|b| SymmetricKey::from_slice(b).ok())
        .ok_or(KeysError::Dump("key is not 32 bytes"))
}

fn read(user: &Ed25519SecretKey, value: &Value) -> Result<GroupKeys, KeysError> {
    if value.as_dict().is_none() {
        return Err(KeysError::Dump("not a dictionary"));
    }
    let version = field(value, "v", "version missing")?
        .as_int()
        .ok_or(KeysError::Dump("version is not an integer"))?;
    if version != DUMP_VERSION {
        return Err(KeysError::DumpVersion(version));
    }
    let group = field(value, "g", "group id missing")?
        .as_bytes()
        .and_then(|b| GroupId::from_bytes(b).ok())
        .ok_or(KeysError::Dump("group id is not a 33-byte 03 id"))?;
    let mut keys = GroupKeys::new(user, group)?;
    if let Some(seed) = value.get("s") {
        let seed: [u8; 32] = seed
            .as_bytes()
            .and_then(|b| b.try_into().ok())
            .ok_or(KeysError::Dump("group seed is not 32 bytes"))?;
        let admin = GroupAdmin::from_seed(&seed)?;
        if admin.group_id() != group {
            return Err(KeysError::WrongAdminSeed);
        }
        keys.admin = Some(admin);
    }

    let list = field(value, "k", "key list missing")?
        .as_list()
        .ok_or(KeysError::Dump("key list is not a list"))?;
    for entry in list {
        let info = KeyInfo {
            generation: generation(field(entry, "g", "key generation missing")?)?,
            key: secret_key(field(entry, "k", "key missing")?)?,
            timestamp_ms: field(entry, "t", "key timestamp missing")?
                .as_int()
                .ok_or(KeysError::Dump("key timestamp is not an integer"))?,
        };
        if let Some(last) = keys.keys.last()
            && last.order(&info) != core::cmp::Ordering::Less
        {
            return Err(KeysError::Dump("keys not in ascending order"));
        }
        keys.keys.push(info);
    }

    let active = field(value, "a", "active hashes missing")?
        .as_list()
        .ok_or(KeysError::Dump("active hashes are not a list"))?;
    let mut map: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for entry in active {
        let g = generation(field(entry, "g", "active generation missing")?)?;
        let hashes = field(entry, "h", "active hash list missing")?
            .as_list()
            .ok_or(KeysError::Dump("active hash list is not a list"))?
            .iter()
            .map(|h| {
                h.as_str()
                    .map(str::to_owned)
                    .ok_or(KeysError::Dump("hash is not UTF-8"))
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        if map.insert(g, hashes).is_some() {
            return Err(KeysError::Dump("active generation repeated"));
        }
    }
    keys.active = map;

    if let Some(p) = value.get("p") {
        keys.pending = Some(Pending {
            generation: generation(field(p, "g", "pending generation missing")?)?,
            key: secret_key(field(p, "k", "pending key missing")?)?,
            message: field(p, "m", "pending message missing")?
                .as_bytes()
                .ok_or(KeysError::Dump("pending message is not bytes"))?
                .to_vec(),
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_identity::Account;

    fn user(n: u8) -> Account {
        Account::from_ed25519_seed(&[n; 32])
    }

    #[test]
    fn admin_and_member_states_survive_a_dump() {
        let admin = GroupAdmin::from_seed(&[9; 32]).unwrap();
        let (a, b) = (user(1), user(2));
        let members = [a.session_id(), b.session_id()];
        let mut keys = GroupKeys::new_admin(a.ed25519_secret(), admin.clone()).unwrap();
        let first = keys.rekey(&members).unwrap().to_vec();
        keys.load_key_message("h1", &first, 1_000).unwrap();
        let second = keys.rekey(&members).unwrap().to_vec();

        // The admin's state with a pending rekey.
        let restored = GroupKeys::restore(a.ed25519_secret(), &keys.dump()).unwrap();
        assert!(restored.is_admin());
        assert_eq!(restored.pending_config(), Some(second.as_slice()));
        assert_eq!(restored.current_generation(), Some(1));
        assert_eq!(restored.active_hashes(), keys.active_hashes());
        assert_eq!(restored.dump(), keys.dump());

        // A member restored from its dump decrypts what the admin sends with the new key.
        let mut member = GroupKeys::new(b.ed25519_secret(), admin.group_id()).unwrap();
        member.load_key_message("h1", &first, 1_000).unwrap();
        member.load_key_message("h2", &second, 2_000).unwrap();
        let member = GroupKeys::restore(b.ed25519_secret(), &member.dump()).unwrap();
        assert!(!member.is_admin());
        let msg = keys
            .encrypt_message(a.ed25519_secret(), b"hello", false, &[7; 24])
            .unwrap();
        assert_eq!(member.decrypt_message(&msg).unwrap().plaintext, b"hello");
    }

    #[test]
    fn anything_but_a_dump_is_refused() {
        let admin = GroupAdmin::from_seed(&[9; 32]).unwrap();
        let a = user(1);
        let mut keys = GroupKeys::new_admin(a.ed25519_secret(), admin.clone()).unwrap();
        let first = keys.rekey(&[a.session_id()]).unwrap().to_vec();
        keys.load_key_message("h1", &first, 1_000).unwrap();
        let good = keys.dump().to_vec();
        let restore = |bytes: &[u8]| GroupKeys::restore(a.ed25519_secret(), bytes).err();

        assert_eq!(restore(b"garbage"), Some(KeysError::Dump("not bencode")));
        let at = good.windows(6).position(|w| w == b"1:vi1e").unwrap();
        let mut v2 = good.clone();
        v2[at + 4] = b'2';
        assert_eq!(restore(&v2), Some(KeysError::DumpVersion(2)));
        // A seed of another group.
        let other = GroupAdmin::from_seed(&[10; 32]).unwrap();
        let mut swapped = good.clone();
        let at = good.len() - admin.seed().expose().len() - "1:vi1ee".len();
        swapped[at..at + 32].copy_from_slice(other.seed().expose());
        assert_eq!(restore(&swapped), Some(KeysError::WrongAdminSeed));
        // An unknown field (canonically placed) is refused, not dropped.
        let extra = [b"d1:_i0e".as_slice(), &good[1..]].concat();
        assert!(matches!(restore(&extra), Some(KeysError::Dump(_))));
        // Every truncation is an error.
        for n in 0..good.len() {
            assert!(restore(&good[..n]).is_some(), "prefix of {n} bytes");
        }
    }
}
