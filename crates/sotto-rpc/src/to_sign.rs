//! The exact byte strings that are signed (spec §2.3–§2.4, §2.7).
//!
//! Clients sign the request strings below with the account key (or a subaccount key); the
//! functions in [`node`] give the strings a node signs with its own Ed25519 key in its per-node
//! result of a recursive request. Integers are base-10 ASCII; a namespace is empty for 0, its
//! decimal otherwise, and `all` for every namespace.

use crate::request::ExpireMode;
use crate::subaccount::SubaccountToken;
use crate::{AccountId, MessageHash, Namespace, Namespaces};

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn hashes(list: &[MessageHash]) -> Vec<u8> {
    list.iter()
        .flat_map(|h| h.as_bytes().iter().copied())
        .collect()
}

fn tokens(list: &[SubaccountToken]) -> Vec<u8> {
    list.iter()
        .flat_map(|t| t.as_bytes().iter().copied())
        .collect()
}

fn expiries(list: &[u64]) -> Vec<u8> {
    list.iter()
        .map(u64::to_string)
        .collect::<String>()
        .into_bytes()
}

/// `"store" ‖ namespace ‖ sig_timestamp`.
#[must_use]
pub fn store(namespace: Namespace, sig_timestamp: u64) -> Vec<u8> {
    format!("store{}{sig_timestamp}", namespace.signature_part()).into_bytes()
}

/// `"retrieve" ‖ namespace ‖ timestamp`.
#[must_use]
pub fn retrieve(namespace: Namespace, timestamp: u64) -> Vec<u8> {
    format!("retrieve{}{timestamp}", namespace.signature_part()).into_bytes()
}

/// `"delete" ‖ hash…` (no timestamp).
#[must_use]
pub fn delete(messages: &[MessageHash]) -> Vec<u8> {
    concat(&[b"delete", &hashes(messages)])
}

/// `"delete_all" ‖ namespace ‖ timestamp`.
#[must_use]
pub fn delete_all(namespaces: Namespaces, timestamp: u64) -> Vec<u8> {
    format!("delete_all{}{timestamp}", namespaces.signature_part()).into_bytes()
}

/// `"delete_before" ‖ namespace ‖ before`.
#[must_use]
pub fn delete_before(namespaces: Namespaces, before: u64) -> Vec<u8> {
    format!("delete_before{}{before}", namespaces.signature_part()).into_bytes()
}

/// `"expire_all" ‖ namespace ‖ expiry`.
#[must_use]
pub fn expire_all(namespaces: Namespaces, expiry: u64) -> Vec<u8> {
    format!("expire_all{}{expiry}", namespaces.signature_part()).into_bytes()
}

/// `"expire" ‖ ("shorten" | "extend" | "") ‖ expiry (or the expiries concatenated) ‖ hash…`.
#[must_use]
pub fn expire(mode: ExpireMode, expiry: &[u64], messages: &[MessageHash]) -> Vec<u8> {
    concat(&[
        b"expire",
        mode.signature_part().as_bytes(),
        &expiries(expiry),
        &hashes(messages),
    ])
}

/// `"get_expiries" ‖ timestamp ‖ hash…`.
#[must_use]
pub fn get_expiries(timestamp: u64, messages: &[MessageHash]) -> Vec<u8> {
    concat(&[
        format!("get_expiries{timestamp}").as_bytes(),
        &hashes(messages),
    ])
}

/// `"revoke_subaccount" ‖ timestamp ‖ token bytes…`.
#[must_use]
pub fn revoke_subaccount(timestamp: u64, revoke: &[SubaccountToken]) -> Vec<u8> {
    concat(&[
        format!("revoke_subaccount{timestamp}").as_bytes(),
        &tokens(revoke),
    ])
}

/// `"unrevoke_subaccount" ‖ timestamp ‖ token bytes…`.
#[must_use]
pub fn unrevoke_subaccount(timestamp: u64, unrevoke: &[SubaccountToken]) -> Vec<u8> {
    concat(&[
        format!("unrevoke_subaccount{timestamp}").as_bytes(),
        &tokens(unrevoke),
    ])
}

/// A push-notification subscription (`monitor`, spec §2.7): `"MONITOR" ‖ account hex ‖ t
/// (seconds) ‖ "0"|"1" (include data) ‖ namespaces joined with ","`.
#[must_use]
pub fn monitor(
    account: &AccountId,
    t_seconds: u64,
    with_data: bool,
    namespaces: &[Namespace],
) -> Vec<u8> {
    let list: Vec<String> = namespaces.iter().map(ToString::to_string).collect();
    format!(
        "MONITOR{account}{t_seconds}{}{}",
        u8::from(with_data),
        list.join(",")
    )
    .into_bytes()
}

/// What a node signs in its own result of a recursive request (spec §2.4). `PUBKEY_HEX` is the
/// 66-character lowercase hex of the prefixed account.
pub mod node {
    use std::collections::BTreeMap;

    use super::{concat, expiries, hashes, tokens};
    use crate::subaccount::SubaccountToken;
    use crate::{AccountId, MessageHash};

    /// `store`: the hash text.
    #[must_use]
    pub fn store(hash: &MessageHash) -> Vec<u8> {
        hash.as_bytes().to_vec()
    }

    /// `delete`: `PUBKEY_HEX ‖ requested… ‖ deleted…` (deleted sorted).
    #[must_use]
    pub fn delete(
        account: &AccountId,
        requested: &[MessageHash],
        deleted: &[MessageHash],
    ) -> Vec<u8> {
        concat(&[
            account.to_string().as_bytes(),
            &hashes(requested),
            &hashes(deleted),
        ])
    }

    /// `delete_all`, `delete_before` and `expire_all`: `PUBKEY_HEX ‖ value ‖ hashes…` where the
    /// value is the timestamp, `before` or the expiry, and the hashes are sorted over all
    /// namespaces.
    #[must_use]
    pub fn bulk(account: &AccountId, value: u64, sorted: &[MessageHash]) -> Vec<u8> {
        concat(&[format!("{account}{value}").as_bytes(), &hashes(sorted)])
    }

    /// `expire`: `PUBKEY_HEX ‖ expiry (or the applied expiries) ‖ requested… ‖ updated… ‖
    /// (hash ‖ expiry for each unchanged message, by hash)`.
    #[must_use]
    pub fn expire(
        account: &AccountId,
        expiry: &[u64],
        requested: &[MessageHash],
        updated: &[MessageHash],
        unchanged: &BTreeMap<MessageHash, u64>,
    ) -> Vec<u8> {
        let unchanged: Vec<u8> = unchanged
            .iter()
            .flat_map(|(h, e)| [h.as_str().to_owned(), e.to_string()])
            .collect::<String>()
            .into_bytes();
        concat(&[
            account.to_string().as_bytes(),
            &expiries(expiry),
            &hashes(requested),
            &hashes(updated),
            &unchanged,
        ])
    }

    /// `revoke_subaccount` and `unrevoke_subaccount`: `PUBKEY_HEX ‖ timestamp ‖ token bytes…`.
    #[must_use]
    pub fn revocation(account: &AccountId, timestamp: u64, list: &[SubaccountToken]) -> Vec<u8> {
        concat(&[format!("{account}{timestamp}").as_bytes(), &tokens(list)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(c: char) -> MessageHash {
        MessageHash::parse(c.to_string().repeat(43).as_bytes()).unwrap()
    }

    #[test]
    fn node_strings() {
        let a = AccountId::new(5, [0xab; 32]);
        let hex = a.to_string();
        assert_eq!(node::store(&h('A')), "A".repeat(43).into_bytes());
        assert_eq!(
            node::delete(&a, &[h('A'), h('B')], &[h('B')]),
            format!(
                "{hex}{}{}{}",
                "A".repeat(43),
                "B".repeat(43),
                "B".repeat(43)
            )
            .into_bytes()
        );
        assert_eq!(
            node::bulk(&a, 17, &[h('C')]),
            format!("{hex}17{}", "C".repeat(43)).into_bytes()
        );
        let unchanged = [(h('D'), 5u64), (h('C'), 6)].into_iter().collect();
        assert_eq!(
            node::expire(&a, &[1, 2], &[h('C'), h('D')], &[], &unchanged),
            format!(
                "{hex}12{}{}{}6{}5",
                "C".repeat(43),
                "D".repeat(43),
                "C".repeat(43),
                "D".repeat(43)
            )
            .into_bytes()
        );
        let t = SubaccountToken::from_bytes([1; 36]);
        let mut want = format!("{hex}9").into_bytes();
        want.extend_from_slice(&[1; 36]);
        assert_eq!(node::revocation(&a, 9, &[t]), want);
    }
}
