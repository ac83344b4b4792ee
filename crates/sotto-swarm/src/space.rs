//! Account pubkey → position in the swarm space.

use crate::SwarmError;

/// An account pubkey: one prefix byte (`05`, `03`, or any other) and a 32-byte key.
pub const ACCOUNT_PUBKEY_LEN: usize = 33;

/// The swarm-space position of a 32-byte key: the XOR of its four 8-byte chunks, read as a
/// big-endian integer.
#[must_use]
pub fn swarm_space(key: &[u8; 32]) -> u64 {
    let mut folded = [0u8; 8];
    for chunk in key.chunks_exact(8) {
        for (acc, byte) in folded.iter_mut().zip(chunk) {
            *acc ^= byte;
        }
    }
    u64::from_be_bytes(folded)
}

/// The swarm-space position of a 33-byte account pubkey. The prefix byte is not part of the
/// mapping, and every prefix is accepted.
pub fn account_swarm_space(pubkey: &[u8]) -> Result<u64, SwarmError> {
    let [_prefix, key @ ..]: [u8; ACCOUNT_PUBKEY_LEN] =
        pubkey.try_into().map_err(|_| SwarmError::PubkeyLength {
            found: pubkey.len(),
        })?;
    Ok(swarm_space(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cancel_and_fold() {
        let mut key = [0u8; 32];
        assert_eq!(swarm_space(&key), 0);
        key[31] = 1;
        assert_eq!(swarm_space(&key), 1);
        key[7] = 1;
        assert_eq!(swarm_space(&key), 0);
        key[0] = 0x80;
        assert_eq!(swarm_space(&key), 1 << 63);
    }

    #[test]
    fn prefix_is_ignored_and_length_checked() {
        let mut a = [0x11u8; 33];
        let b = a;
        a[0] = 0x05;
        assert_eq!(account_swarm_space(&a), account_swarm_space(&b));
        assert_eq!(
            account_swarm_space(&a[..32]),
            Err(SwarmError::PubkeyLength { found: 32 })
        );
    }
}
