//! Storage message hashes (spec §2.5).

use core::fmt;
use core::str::FromStr;

use sotto_crypto::blake2b_32;

use crate::encoding::{encode_base64_unpadded, is_base64};
use crate::{AccountId, Namespace};

/// Length of a message hash: unpadded base64 of 32 bytes.
pub const MESSAGE_HASH_LEN: usize = 43;

/// A message hash as the storage server writes it: 43 characters of unpadded standard base64.
/// Ordering is byte order of the text, which is the order the storage server sorts by.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageHash([u8; MESSAGE_HASH_LEN]);

impl MessageHash {
    /// `base64(BLAKE2b-256(prefix ‖ key ‖ NS ‖ data))` without padding, where NS is empty for
    /// namespace 0 and the decimal otherwise.
    #[must_use]
    pub fn compute(account: &AccountId, namespace: Namespace, data: &[u8]) -> Self {
        let digest = blake2b_32(
            &[],
            &[
                &[account.prefix()],
                account.key(),
                namespace.signature_part().as_bytes(),
                data,
            ],
        );
        let mut out = [0u8; MESSAGE_HASH_LEN];
        out.copy_from_slice(encode_base64_unpadded(&digest).as_bytes());
        Self(out)
    }

    /// Reads a hash: exactly 43 base64 characters.
    #[must_use]
    pub fn parse(text: &[u8]) -> Option<Self> {
        let bytes: [u8; MESSAGE_HASH_LEN] = text.try_into().ok()?;
        is_base64(&bytes).then_some(Self(bytes))
    }

    /// The hash text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only base64 characters are ever stored, so this is always valid UTF-8.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The hash text as bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; MESSAGE_HASH_LEN] {
        &self.0
    }
}

impl fmt::Display for MessageHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for MessageHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageHash({})", self.as_str())
    }
}

impl FromStr for MessageHash {
    type Err = crate::ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text.as_bytes()).ok_or(crate::ParseError::MessageHash("hash"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rules() {
        let h = "4sMyAuaZlMwww3oFvfhazfw7ASx/7TDtO+TVc8aAjHs";
        assert_eq!(MessageHash::parse(h.as_bytes()).unwrap().as_str(), h);
        assert!(MessageHash::parse(&h.as_bytes()[..42]).is_none());
        assert!(MessageHash::parse(format!("{h}=").as_bytes()).is_none());
        assert!(MessageHash::parse(format!("{}-", &h[..42]).as_bytes()).is_none());
        assert!(MessageHash::parse(format!("{}=", &h[..42]).as_bytes()).is_none());
    }

    #[test]
    fn namespace_enters_the_hash() {
        let a = AccountId::new(5, [1; 32]);
        let h0 = MessageHash::compute(&a, Namespace::DEFAULT, b"x");
        let h1 = MessageHash::compute(&a, Namespace::new(1), b"x");
        assert_ne!(h0, h1);
        // NS is the decimal text: namespace 1 with data "x" equals namespace 0 with data "1x".
        assert_eq!(h1, MessageHash::compute(&a, Namespace::DEFAULT, b"1x"));
        assert_ne!(
            h0,
            MessageHash::compute(&AccountId::new(3, [1; 32]), Namespace::DEFAULT, b"x")
        );
    }
}
