//! Deleting and shortening messages on the account's own swarm: the batches the client
//! sends (`delete`, `expire` with `shorten`) and what each member of the swarm answered.
//!
//! Only copies on one's own swarm can be touched: the signature must be the account
//! owner's. The sync copy of a sent message and the stored copy of a received one are such
//! copies; the recipient's copy of a sent message is on the recipient's swarm, and only the
//! recipient (applying an unsend request) deletes it.

use std::collections::BTreeMap;

use sotto_crypto::Ed25519PublicKey;
use sotto_rpc::MessageHash;
use sotto_rpc::request::{Delete, Expire};
use sotto_rpc::response::{NodeOutcome, NodeResult, SwarmNode, SwarmResponse};

use crate::outgoing::MIN_CONFIRMATIONS;

/// The most hashes one `delete` or `expire` request carries.
pub const MAX_HASHES_PER_REQUEST: usize = 100;

/// How many polls a queued delete or expiry update is tried before it is given up (the
/// swarm's own TTL then removes the copy).
pub const MAX_UPDATE_ATTEMPTS: u32 = 10;

/// One request's worth of queued changes: delete these hashes (`expiry_ms` `None`) or
/// shorten their expiry to `expiry_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmUpdate {
    /// The messages (at most [`MAX_HASHES_PER_REQUEST`]).
    pub hashes: Vec<MessageHash>,
    /// The new expiry, ms; `None` deletes.
    pub expiry_ms: Option<u64>,
}

/// Groups queued changes into requests: one per distinct expiry (and one for the deletes),
/// each of at most [`MAX_HASHES_PER_REQUEST`] hashes.
#[must_use]
pub fn batch(updates: Vec<(MessageHash, Option<u64>)>) -> Vec<SwarmUpdate> {
    let mut groups: BTreeMap<Option<u64>, Vec<MessageHash>> = BTreeMap::new();
    for (hash, expiry) in updates {
        groups.entry(expiry).or_default().push(hash);
    }
    groups
        .into_iter()
        .flat_map(|(expiry_ms, hashes)| {
            hashes
                .chunks(MAX_HASHES_PER_REQUEST)
                .map(|chunk| SwarmUpdate {
                    hashes: chunk.to_vec(),
                    expiry_ms,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// What one member of the swarm answered to a `delete` or `expire`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemberResult {
    /// A result with the member's valid signature: the hashes it deleted (`delete`) or whose
    /// expiry it shortened (`expire`). The others it did not hold, or (`expire`) they already
    /// expired sooner: either way none of the requested messages outlives the request there.
    Confirmed {
        /// The hashes it deleted or updated.
        changed: Vec<MessageHash>,
    },
    /// The member failed (the answer's failure entry for it), with its status if it gave one.
    Failed {
        /// The HTTP status it answered.
        code: Option<u16>,
    },
    /// The answer lists nothing for this member.
    Missing,
    /// The answer's result for this member is not validly signed by it (the entry node could
    /// have made it up).
    Invalid,
}

/// How a swarm answered one `delete` or `expire`: each member of the swarm (as the signed
/// node list gives it, never the answering node's word) and its result. Results listed under
/// other keys count for nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmOutcome {
    /// Per member, by Ed25519 key.
    pub members: BTreeMap<Ed25519PublicKey, MemberResult>,
}

impl SwarmOutcome {
    /// How many members confirmed.
    #[must_use]
    pub fn confirmed(&self) -> usize {
        self.members
            .values()
            .filter(|r| matches!(r, MemberResult::Confirmed { .. }))
            .count()
    }

    /// Whether every member confirmed: the messages are gone from (or, for `expire`, expire
    /// by the new time on) every member of the swarm.
    #[must_use]
    pub fn everywhere(&self) -> bool {
        !self.members.is_empty() && self.confirmed() == self.members.len()
    }

    /// Whether enough members confirmed for the client to stop retrying: at least
    /// [`MIN_CONFIRMATIONS`] (or every member of a smaller swarm). The members replicate
    /// the change among themselves.
    #[must_use]
    pub fn is_done(&self) -> bool {
        let needed = usize::try_from(MIN_CONFIRMATIONS)
            .unwrap_or(usize::MAX)
            .min(self.members.len());
        needed > 0 && self.confirmed() >= needed
    }
}

fn tally(
    response: &SwarmResponse,
    swarm: &[SwarmNode],
    verify: impl Fn(&Ed25519PublicKey, &NodeResult) -> Option<Vec<MessageHash>>,
) -> SwarmOutcome {
    let members = swarm
        .iter()
        .map(|node| {
            let key = node.pubkey_ed25519;
            let result = match response.swarm.get(&key) {
                None => MemberResult::Missing,
                Some(NodeOutcome::Failed(f)) => MemberResult::Failed { code: f.code },
                Some(NodeOutcome::Ok(r)) => match verify(&key, r) {
                    Some(changed) => MemberResult::Confirmed { changed },
                    None => MemberResult::Invalid,
                },
            };
            (key, result)
        })
        .collect();
    SwarmOutcome { members }
}

/// Each member's result for `request`, checked against its signature.
#[must_use]
pub fn tally_delete(
    request: &Delete,
    response: &SwarmResponse,
    swarm: &[SwarmNode],
) -> SwarmOutcome {
    tally(response, swarm, |key, result| match result {
        NodeResult::Delete(r) if r.verify(key, request).is_ok() => Some(r.deleted.clone()),
        _ => None,
    })
}

/// Each member's result for `request`, checked against its signature.
#[must_use]
pub fn tally_expire(
    request: &Expire,
    response: &SwarmResponse,
    swarm: &[SwarmNode],
) -> SwarmOutcome {
    tally(response, swarm, |key, result| match result {
        NodeResult::Expire(r) if r.verify(key, request).is_ok() => Some(r.updated.clone()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use sotto_crypto::Ed25519SecretKey;
    use sotto_identity::Account;
    use sotto_rpc::response::{DeleteResult, Failure, Meta};
    use sotto_rpc::{AccountId, Method, Namespace, Signer};

    use super::*;

    fn hash(i: u8) -> MessageHash {
        let account = AccountId::from(Account::from_ed25519_seed(&[1; 32]).session_id());
        MessageHash::compute(&account, Namespace::DEFAULT, &[i])
    }

    #[test]
    fn batches_one_request_per_expiry_and_per_hundred_hashes() {
        let mut updates: Vec<(MessageHash, Option<u64>)> =
            (0..150).map(|i| (hash(i), None)).collect();
        updates.extend((150..153).map(|i| (hash(i), Some(5_000))));
        updates.push((hash(153), Some(7_000)));
        let batches = batch(updates);
        let shape: Vec<(Option<u64>, usize)> = batches
            .iter()
            .map(|b| (b.expiry_ms, b.hashes.len()))
            .collect();
        assert_eq!(
            shape,
            [(None, 100), (None, 50), (Some(5_000), 3), (Some(7_000), 1)]
        );
        assert!(batch(Vec::new()).is_empty());
    }

    #[test]
    fn only_members_with_valid_signatures_confirm() {
        let owner = Account::from_ed25519_seed(&[1; 32]);
        let request = Delete::new(
            AccountId::from(owner.session_id()),
            vec![hash(1)],
            &Signer::session(owner.ed25519_secret()),
        );
        let keys: Vec<Ed25519SecretKey> = (10..14)
            .map(|i| Ed25519SecretKey::from_seed(&[i; 32]))
            .collect();
        let members: Vec<SwarmNode> = keys
            .iter()
            .map(|k| SwarmNode {
                pubkey_ed25519: k.public_key(),
                pubkey_x25519: [0; 32],
                ip: Ipv4Addr::LOCALHOST,
                port_https: 1,
                port_omq: 1,
            })
            .collect();
        let outsider = Ed25519SecretKey::from_seed(&[99; 32]);
        let mut swarm = BTreeMap::new();
        // Member 0 confirms; member 1's result is signed by another key; member 2 failed;
        // member 3 is missing; an outsider's result counts for nothing.
        let ok = |k: &Ed25519SecretKey| {
            NodeOutcome::Ok(NodeResult::Delete(DeleteResult::sign(
                k,
                &request,
                vec![hash(1)],
            )))
        };
        swarm.insert(keys[0].public_key(), ok(&keys[0]));
        swarm.insert(keys[1].public_key(), ok(&outsider));
        swarm.insert(
            keys[2].public_key(),
            NodeOutcome::Failed(Failure {
                code: Some(500),
                ..Failure::default()
            }),
        );
        swarm.insert(outsider.public_key(), ok(&outsider));
        let response = SwarmResponse {
            method: Method::Delete,
            swarm,
            hash: None,
            meta: Meta::new(1, [19, 4]),
        };
        let outcome = tally_delete(&request, &response, &members);
        assert_eq!(outcome.members.len(), 4);
        assert_eq!(
            outcome.members[&keys[0].public_key()],
            MemberResult::Confirmed {
                changed: vec![hash(1)]
            }
        );
        assert_eq!(
            outcome.members[&keys[1].public_key()],
            MemberResult::Invalid
        );
        assert_eq!(
            outcome.members[&keys[2].public_key()],
            MemberResult::Failed { code: Some(500) }
        );
        assert_eq!(
            outcome.members[&keys[3].public_key()],
            MemberResult::Missing
        );
        assert_eq!(outcome.confirmed(), 1);
        assert!(!outcome.is_done() && !outcome.everywhere());
    }
}
