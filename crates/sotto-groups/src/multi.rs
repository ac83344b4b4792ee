//! Multi-recipient encryption (§0.4, libsession `encrypt_for_multiple`): one nonce, one
//! XChaCha20-Poly1305 copy per recipient under `B2b(32, key=domain)(X25519(a, B) ‖ A ‖ B)`.
//! Recipients find their copy by trial decryption.

use sotto_bencode::Value;
use sotto_crypto::{
    AEAD_TAG_LEN, CryptoRngCore, SecretBytes, SymmetricKey, X25519PublicKey, X25519SecretKey,
    XCHACHA_NONCE_LEN, xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};

use crate::MultiError;
use crate::identity::keyed_hash;

/// The 24-byte nonce shared by every copy.
pub type Nonce = [u8; XCHACHA_NONCE_LEN];

fn check_domain(domain: &[u8]) -> Result<(), MultiError> {
    if domain.is_empty() || domain.len() > 64 {
        return Err(MultiError::Domain(domain.len()));
    }
    Ok(())
}

/// The key of the copy from `sender_pk` to `recipient_pk`, given either side's secret and the
/// other side's public key: `B2b(32, key=domain)(X25519 ‖ sender_pk ‖ recipient_pk)`.
fn copy_key(
    our_secret: &X25519SecretKey,
    their_public: &X25519PublicKey,
    sender_pk: &X25519PublicKey,
    recipient_pk: &X25519PublicKey,
    domain: &[u8],
) -> Option<SymmetricKey> {
    let shared = our_secret.diffie_hellman(their_public).ok()?;
    Some(SecretBytes::new(keyed_hash::<32>(
        domain,
        &[
            shared.expose(),
            sender_pk.as_bytes(),
            recipient_pk.as_bytes(),
        ],
    )))
}

/// The key a recipient uses to open its copy (for callers that trial-decrypt themselves).
pub fn recipient_key(
    recipient_secret: &X25519SecretKey,
    recipient_public: &X25519PublicKey,
    sender_public: &X25519PublicKey,
    domain: &[u8],
) -> Result<SymmetricKey, MultiError> {
    check_domain(domain)?;
    copy_key(
        recipient_secret,
        sender_public,
        sender_public,
        recipient_public,
        domain,
    )
    .ok_or(MultiError::InvalidSender)
}

/// Encrypts `messages` (one for all, or one per recipient) for `recipients`, in order.
///
/// With `skip_invalid`, recipients whose key gives a degenerate agreement get no copy (as
/// libsession does when it builds key lists); otherwise they are an error.
pub fn encrypt_for_multiple(
    messages: &[&[u8]],
    recipients: &[X25519PublicKey],
    nonce: &Nonce,
    sender_secret: &X25519SecretKey,
    sender_public: &X25519PublicKey,
    domain: &[u8],
    skip_invalid: bool,
) -> Result<Vec<Vec<u8>>, MultiError> {
    check_domain(domain)?;
    if messages.len() != 1 && messages.len() != recipients.len() {
        return Err(MultiError::MessageCount {
            messages: messages.len(),
            recipients: recipients.len(),
        });
    }
    let mut out = Vec::with_capacity(recipients.len());
    for (index, recipient) in recipients.iter().enumerate() {
        let message = messages
            .get(index)
            .or_else(|| messages.first())
            .copied()
            .unwrap_or_default();
        let Some(key) = copy_key(sender_secret, recipient, sender_public, recipient, domain) else {
            if skip_invalid {
                continue;
            }
            return Err(MultiError::InvalidRecipient { index });
        };
        let copy = xchacha20poly1305_encrypt(&key, nonce, &[], message)
            .map_err(|_| MultiError::Malformed("message too long to encrypt"))?;
        out.push(copy);
    }
    Ok(out)
}

/// Trial-decrypts `copies` with the recipient's key; the first copy that authenticates wins.
pub fn decrypt_for_multiple<'a>(
    copies: impl IntoIterator<Item = &'a [u8]>,
    nonce: &Nonce,
    recipient_secret: &X25519SecretKey,
    recipient_public: &X25519PublicKey,
    sender_public: &X25519PublicKey,
    domain: &[u8],
) -> Result<Vec<u8>, MultiError> {
    let key = recipient_key(recipient_secret, recipient_public, sender_public, domain)?;
    copies
        .into_iter()
        .filter(|c| c.len() >= AEAD_TAG_LEN)
        .find_map(|c| xchacha20poly1305_decrypt(&key, nonce, &[], c).ok())
        .ok_or(MultiError::NotARecipient)
}

/// The self-contained ("simple") encoding: bt-dict `{"#": nonce, "e": [copies…]}`.
#[must_use]
pub fn encode_simple(nonce: &Nonce, copies: &[Vec<u8>]) -> Vec<u8> {
    sotto_bencode::encode(&Value::dict([
        ("#", Value::Bytes(nonce.to_vec())),
        (
            "e",
            Value::List(copies.iter().map(|c| Value::Bytes(c.clone())).collect()),
        ),
    ]))
}

/// A parsed simple encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleMessage {
    /// The shared nonce.
    pub nonce: Nonce,
    /// The copies, in order.
    pub copies: Vec<Vec<u8>>,
}

impl TryFrom<&[u8]> for SimpleMessage {
    type Error = MultiError;

    fn try_from(bytes: &[u8]) -> Result<Self, MultiError> {
        let value = sotto_bencode::decode(bytes)
            .map_err(|_| MultiError::Malformed("not canonical bencode"))?;
        let dict = value
            .as_dict()
            .ok_or(MultiError::Malformed("not a dictionary"))?;
        let nonce: Nonce = dict
            .get(b"#".as_slice())
            .and_then(Value::as_bytes)
            .and_then(|n| n.try_into().ok())
            .ok_or(MultiError::Malformed("nonce `#` missing or not 24 bytes"))?;
        let list = dict
            .get(b"e".as_slice())
            .and_then(Value::as_list)
            .ok_or(MultiError::Malformed("copies `e` missing or not a list"))?;
        let copies = list
            .iter()
            .map(|v| v.as_bytes().map(<[u8]>::to_vec))
            .collect::<Option<Vec<_>>>()
            .ok_or(MultiError::Malformed("a copy is not a byte string"))?;
        Ok(Self { nonce, copies })
    }
}

/// Encrypts and encodes in the simple encoding with a given nonce; with `pad_to > 1`, random
/// junk copies (as long as the first real copy) are added up to a multiple of `pad_to`.
#[allow(clippy::too_many_arguments)]
pub fn encrypt_simple_with_nonce(
    messages: &[&[u8]],
    recipients: &[X25519PublicKey],
    nonce: &Nonce,
    sender_secret: &X25519SecretKey,
    sender_public: &X25519PublicKey,
    domain: &[u8],
    pad_to: usize,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, MultiError> {
    let mut copies = encrypt_for_multiple(
        messages,
        recipients,
        nonce,
        sender_secret,
        sender_public,
        domain,
        false,
    )?;
    if pad_to > 1 && copies.len() % pad_to != 0 {
        let junk_len = messages.first().map_or(0, |m| m.len()) + AEAD_TAG_LEN;
        while copies.len() % pad_to != 0 {
            let mut junk = vec![0u8; junk_len];
            rng.fill_bytes(&mut junk);
            copies.push(junk);
        }
    }
    Ok(encode_simple(nonce, &copies))
}

/// Encrypts and encodes in the simple encoding with a random nonce, no junk padding.
pub fn encrypt_simple(
    messages: &[&[u8]],
    recipients: &[X25519PublicKey],
    sender_secret: &X25519SecretKey,
    sender_public: &X25519PublicKey,
    domain: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, MultiError> {
    let mut nonce = [0u8; XCHACHA_NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    encrypt_simple_with_nonce(
        messages,
        recipients,
        &nonce,
        sender_secret,
        sender_public,
        domain,
        0,
        rng,
    )
}

/// Decodes a simple encoding and finds this recipient's copy.
pub fn decrypt_simple(
    encoded: &[u8],
    recipient_secret: &X25519SecretKey,
    recipient_public: &X25519PublicKey,
    sender_public: &X25519PublicKey,
    domain: &[u8],
) -> Result<Vec<u8>, MultiError> {
    let msg = SimpleMessage::try_from(encoded)?;
    decrypt_for_multiple(
        msg.copies.iter().map(Vec::as_slice),
        &msg.nonce,
        recipient_secret,
        recipient_public,
        sender_public,
        domain,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;
    use sotto_crypto::Ed25519SecretKey;

    fn keys(seed: u8) -> (X25519SecretKey, X25519PublicKey) {
        let ed = Ed25519SecretKey::from_seed(&[seed; 32]);
        let x = ed.to_x25519();
        let p = x.public_key();
        (x, p)
    }

    #[test]
    fn round_trip_each_recipient_reads_its_own_copy() {
        let (a, pa) = keys(1);
        let rs: Vec<_> = (2..6).map(keys).collect();
        let pks: Vec<_> = rs.iter().map(|r| r.1).collect();
        let msgs: Vec<Vec<u8>> = (0..4).map(|i| vec![i; 10]).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let copies = encrypt_for_multiple(&refs, &pks, &[7; 24], &a, &pa, b"d", false).unwrap();
        for (i, (s, p)) in rs.iter().enumerate() {
            let got =
                decrypt_for_multiple(copies.iter().map(Vec::as_slice), &[7; 24], s, p, &pa, b"d");
            assert_eq!(got.unwrap(), msgs[i]);
            let wrong =
                decrypt_for_multiple(copies.iter().map(Vec::as_slice), &[7; 24], s, p, &pa, b"e");
            assert_eq!(wrong, Err(MultiError::NotARecipient));
        }
        let (o, po) = keys(9);
        assert_eq!(
            decrypt_for_multiple(
                copies.iter().map(Vec::as_slice),
                &[7; 24],
                &o,
                &po,
                &pa,
                b"d"
            ),
            Err(MultiError::NotARecipient)
        );
    }

    #[test]
    fn invalid_inputs_are_typed_errors() {
        let (a, pa) = keys(1);
        let (_, pb) = keys(2);
        let bad = X25519PublicKey([0; 32]);
        assert_eq!(
            encrypt_for_multiple(&[b"x"], &[pb, bad], &[0; 24], &a, &pa, b"d", false),
            Err(MultiError::InvalidRecipient { index: 1 })
        );
        assert_eq!(
            encrypt_for_multiple(&[b"x"], &[pb, bad], &[0; 24], &a, &pa, b"d", true)
                .unwrap()
                .len(),
            1
        );
        assert!(matches!(
            encrypt_for_multiple(&[b"x", b"y"], &[pb; 3], &[0; 24], &a, &pa, b"d", true),
            Err(MultiError::MessageCount { .. })
        ));
        assert_eq!(
            encrypt_for_multiple(&[b"x"], &[pb], &[0; 24], &a, &pa, b"", true),
            Err(MultiError::Domain(0))
        );
        assert!(SimpleMessage::try_from(&b"d1:#3:abce"[..]).is_err());
        assert!(SimpleMessage::try_from(&b"garbage"[..]).is_err());
    }

    #[test]
    fn simple_encoding_pads_with_junk() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let (a, pa) = keys(1);
        let (b, pb) = keys(2);
        let enc = encrypt_simple_with_nonce(&[b"hi"], &[pb], &[3; 24], &a, &pa, b"d", 4, &mut rng)
            .unwrap();
        let parsed = SimpleMessage::try_from(enc.as_slice()).unwrap();
        assert_eq!(parsed.copies.len(), 4);
        assert!(parsed.copies.iter().all(|c| c.len() == 18));
        assert_eq!(decrypt_simple(&enc, &b, &pb, &pa, b"d").unwrap(), b"hi");
    }
}
