//! The group list in UserGroups (`g` entries, groups.md §3.8), so that every device of an
//! account has the same groups: the local groups are recorded into the config, and a config
//! from another device adds the groups this device does not know (as admin with the group's
//! secret key `K`, else as member with the auth data `s`) and forgets those left there.

use sotto_config::views::{GroupCommon, GroupV2, UserGroups};
use sotto_config::{Dict, edit};
use sotto_crypto::Ed25519PublicKey;
use sotto_groups::{GroupAdmin, GroupId, GroupKeys, SubaccountAuth};
use sotto_identity::Account;

use super::GroupStatus;
use super::store::{self, GroupRow};
use crate::db::Tx;
use crate::error::DbError;

/// `r` for a member who was removed, and for a destroyed group (as libsession marks them).
const REMOVED_KICKED: i64 = 1;
const REMOVED_DESTROYED: i64 = 2;

/// The group of a UserGroups `g` key (32 bytes, without the `03` prefix).
fn group_of(pubkey: &[u8]) -> Option<GroupId> {
    let pk = <[u8; 32]>::try_from(pubkey).ok()?;
    Some(GroupId::from_public_key(Ed25519PublicKey(pk)))
}

/// `K` as libsession writes it: the group's 32-byte seed (libsession reads no other length).
fn secret_key_of(admin: &GroupAdmin) -> Vec<u8> {
    admin.seed().expose().to_vec()
}

/// The admin of `group` from a `K` value, if it is that group's seed.
fn admin_of(secret_key: &[u8], group: &GroupId) -> Option<GroupAdmin> {
    let seed = <[u8; 32]>::try_from(secret_key).ok()?;
    let admin = GroupAdmin::from_seed(&seed).ok()?;
    (admin.group_id() == *group).then_some(admin)
}

/// Removes a group's entry (when this device leaves it).
pub(crate) fn forget(data: &mut Dict, group: &GroupId) {
    edit::erase(data, &[b"g", group.public_key().as_bytes()]);
}

/// Writes the local groups into UserGroups' data: joined groups enter it (with the admin key or
/// the auth data), removed and destroyed ones are marked so. Entries for groups this device no
/// longer has are left alone (leaving erases one: [`forget`]).
pub(crate) fn record(tx: &Tx<'_>, account: &Account, data: &mut Dict) -> Result<(), DbError> {
    let listed = UserGroups::groups(data);
    for row in store::list(tx, account)? {
        let pubkey = row.id.public_key().as_bytes().to_vec();
        let existing = listed.iter().find(|g| g.pubkey == pubkey);
        let mut entry = existing.cloned().unwrap_or_else(|| GroupV2 {
            pubkey,
            name: Some(row.name.clone()),
            common: GroupCommon {
                joined_at: i64::try_from(row.created_ms / 1000).unwrap_or(0),
                ..GroupCommon::default()
            },
            ..GroupV2::default()
        });
        match row.status {
            GroupStatus::Joined => {
                if let Some(admin) = row.keys.admin() {
                    entry.secret_key = Some(secret_key_of(admin));
                } else if entry.auth_data.is_none() {
                    entry.auth_data = row.auth.as_ref().map(|a| a.as_bytes().to_vec());
                }
                entry.common.invited = false;
            }
            GroupStatus::Kicked | GroupStatus::Destroyed if existing.is_none() => continue,
            GroupStatus::Kicked => entry.removed_status = REMOVED_KICKED,
            GroupStatus::Destroyed => entry.removed_status = REMOVED_DESTROYED,
        }
        if existing != Some(&entry) {
            UserGroups::set_group(data, &entry);
        }
    }
    Ok(())
}

/// Applies UserGroups' group list to the local groups: a group new here is added (it is
/// polled from then on), one marked removed or destroyed is marked so here, an admin key
/// learnt elsewhere is loaded, and a joined group missing from the list (left on another
/// device) is forgotten. Entries that do not check out are skipped.
pub(crate) fn apply(
    tx: &Tx<'_>,
    account: &Account,
    data: &Dict,
    now_ms: u64,
) -> Result<(), DbError> {
    let listed: Vec<(GroupId, GroupV2)> = UserGroups::groups(data)
        .into_iter()
        .filter_map(|g| Some((group_of(&g.pubkey)?, g)))
        .collect();
    for row in store::list(tx, account)? {
        if row.status == GroupStatus::Joined && !listed.iter().any(|(id, _)| *id == row.id) {
            store::delete(tx, &row.id)?;
        }
    }
    for (id, entry) in listed {
        if entry.common.invited {
            continue; // an invitation still pending on the other device
        }
        let admin = entry
            .secret_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .and_then(|k| admin_of(k, &id));
        if let Some(mut row) = store::load(tx, account, &id)? {
            let status = match entry.removed_status {
                REMOVED_KICKED => GroupStatus::Kicked,
                REMOVED_DESTROYED => GroupStatus::Destroyed,
                _ => row.status,
            };
            let mut changed = status != row.status && row.status == GroupStatus::Joined;
            if changed {
                row.status = status;
            }
            if let Some(admin) = &admin
                && !row.keys.is_admin()
                && row.keys.load_admin_key(admin.seed().expose()).is_ok()
            {
                changed = true;
            }
            if changed {
                store::save(tx, &row)?;
            }
            continue;
        }
        if entry.removed_status != 0 {
            continue;
        }
        let (keys, auth) = if let Some(admin) = admin {
            match GroupKeys::new_admin(account.ed25519_secret(), admin) {
                Ok(keys) => (keys, None),
                Err(e) => {
                    tracing::debug!(error = %e, "skipped a config group");
                    continue;
                }
            }
        } else {
            let Some(auth) = entry
                .auth_data
                .as_deref()
                .and_then(|a| SubaccountAuth::try_from(a).ok())
            else {
                tracing::debug!("skipped a config group with neither key nor auth data");
                continue;
            };
            match GroupKeys::new(account.ed25519_secret(), id) {
                Ok(keys) => (keys, Some(auth)),
                Err(e) => {
                    tracing::debug!(error = %e, "skipped a config group");
                    continue;
                }
            }
        };
        let joined_ms = u64::try_from(entry.common.joined_at)
            .ok()
            .filter(|s| *s > 0)
            .map_or(now_ms, |s| s.saturating_mul(1000));
        store::save(
            tx,
            &GroupRow {
                id,
                name: entry.name.unwrap_or_default(),
                status: GroupStatus::Joined,
                invited_by: None,
                auth,
                keys,
                info: None,
                members: None,
                created_ms: joined_ms,
            },
        )?;
        store::delete_invite(tx, &id)?;
    }
    Ok(())
}
