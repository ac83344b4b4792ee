//! The database schema. Version 5; older files migrate forward from `user_version`.

pub(crate) const VERSION: i64 = 5;

/// Version 2: hashes of deleted messages, kept until the message would have expired, so that a
/// copy held by a node that missed the delete is neither taken back in nor kept.
pub(crate) const TOMBSTONES: &str = "
CREATE TABLE tombstones (
    hash TEXT PRIMARY KEY,
    expiry INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tombstones_expiry ON tombstones(expiry);
";

/// Version 3: the owner's signed request behind a tombstone (a delete, `delete_all` or
/// `delete_before`, as forwarded between nodes), so that a delete spreads to nodes that missed
/// it only as something they can verify. One request may stand behind many tombstones.
/// Tombstones made before version 3 have none and are kept, but never handed on.
pub(crate) const DELETE_PROOFS: &str = "
CREATE TABLE delete_proofs (
    id INTEGER PRIMARY KEY,
    proof BLOB NOT NULL UNIQUE
);
ALTER TABLE tombstones ADD COLUMN proof INTEGER;
";

/// Version 4: requests a node could not forward to a swarm peer, in the order they were made,
/// kept for that peer until it takes them (or until `expiry`), so a peer that missed a forward
/// gets it without waiting for its next catch-up. `body` is opaque to the store (the node's
/// forwarded request).
pub(crate) const FORWARD_QUEUE: &str = "
CREATE TABLE forward_queue (
    id INTEGER PRIMARY KEY,
    peer BLOB NOT NULL,
    body BLOB NOT NULL,
    expiry INTEGER NOT NULL
);
CREATE INDEX forward_queue_peer ON forward_queue(peer, id);
CREATE INDEX forward_queue_expiry ON forward_queue(expiry);
";

/// Version 5: the owner's signed revoke and unrevoke requests (as forwarded between nodes),
/// so that a node that missed one learns it in catch-up as something it can verify. Per
/// account and token, the newest request by its own timestamp is kept (`revoked` 1 for a
/// revoke, 0 for an unrevoke); an older one never replaces it. Keyed by the account's
/// 33-byte key rather than `owners.id`, so an unrevoke that empties an account's revocation
/// list is kept too. One request may stand behind many tokens.
pub(crate) const REVOCATION_LOG: &str = "
CREATE TABLE revocation_proofs (
    id INTEGER PRIMARY KEY,
    proof BLOB NOT NULL UNIQUE
);
CREATE TABLE revocation_log (
    owner BLOB NOT NULL,
    token BLOB NOT NULL,
    swarm_space INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    revoked INTEGER NOT NULL,
    proof INTEGER NOT NULL REFERENCES revocation_proofs(id),
    PRIMARY KEY (owner, token)
) WITHOUT ROWID;
CREATE INDEX revocation_log_proof ON revocation_log(proof);
CREATE INDEX revocation_log_space ON revocation_log(swarm_space);
";

pub(crate) const SCHEMA: &str = "
CREATE TABLE owners (
    id INTEGER PRIMARY KEY,
    pubkey BLOB NOT NULL UNIQUE,         -- 33 bytes: prefix byte and key
    swarm_space INTEGER NOT NULL          -- u64 position, stored order-preserving (see space_key)
);
CREATE INDEX owners_swarm_space ON owners(swarm_space);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    owner INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    namespace INTEGER NOT NULL DEFAULT 0,
    timestamp INTEGER NOT NULL,
    expiry INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX messages_expiry ON messages(expiry);
CREATE INDEX messages_owner_ns ON messages(owner, namespace, id);

CREATE TABLE revoked_subaccounts (
    owner INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    token BLOB NOT NULL,
    timestamp INTEGER NOT NULL,
    PRIMARY KEY (owner, token)
);

-- An owner row goes when nothing refers to it any more.
CREATE TRIGGER owner_cleanup_messages AFTER DELETE ON messages
WHEN NOT EXISTS (SELECT 1 FROM messages WHERE owner = OLD.owner)
 AND NOT EXISTS (SELECT 1 FROM revoked_subaccounts WHERE owner = OLD.owner)
BEGIN
    DELETE FROM owners WHERE id = OLD.owner;
END;
";
