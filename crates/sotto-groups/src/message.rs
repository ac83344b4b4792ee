//! Group messages (namespace 11, §2.7): a signed bt-dict, optionally zstd-compressed,
//! zero-padded and encrypted with the group key; and the Envelope layer inside it.

use core::fmt;

use sotto_bencode::Value;
use sotto_crypto::{
    AEAD_TAG_LEN, Ed25519PublicKey, Ed25519SecretKey, Signature, SymmetricKey, XCHACHA_NONCE_LEN,
    xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};
use sotto_envelope::{Content, Envelope, EnvelopeType};
use sotto_identity::{IdPrefix, PrefixedId, SessionId};

use crate::{GroupId, MessageError};

/// Largest plaintext (and largest decompressed size) accepted: 1,000,000 bytes.
pub const MAX_PLAINTEXT: usize = 1_000_000;
/// libsession's default padding: ciphertexts are multiples of 256 bytes.
pub const DEFAULT_PADDING: usize = 256;
/// Nonce and tag.
pub const ENCRYPT_OVERHEAD: usize = XCHACHA_NONCE_LEN + AEAD_TAG_LEN;
/// zstd level used for compression.
use sotto_config::ZSTD_LEVEL;

/// Encrypts `plaintext` as `author` under `key` with `nonce` (random in real use).
///
/// With `compress`, zstd level 1 is used when it is smaller. The output is zero-padded so that
/// its length is a multiple of `padding` (no padding when `padding` ≤ 1).
pub fn encrypt_group_message(
    author: &Ed25519SecretKey,
    key: &SymmetricKey,
    plaintext: &[u8],
    compress: bool,
    padding: usize,
    nonce: &[u8; XCHACHA_NONCE_LEN],
) -> Result<Vec<u8>, MessageError> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(MessageError::TooLong(plaintext.len()));
    }
    let compressed = if compress {
        zstd::bulk::compress(plaintext, ZSTD_LEVEL)
            .ok()
            .filter(|z| z.len() < plaintext.len())
    } else {
        None
    };
    let (data_key, stored) = match compressed {
        Some(z) => ("z", z),
        None => ("d", plaintext.to_vec()),
    };
    let sig = author.sign(&stored);
    let mut encoded = sotto_bencode::encode(&Value::dict([
        ("", Value::Int(1)),
        ("a", Value::Bytes(author.public_key().as_bytes().to_vec())),
        (data_key, Value::Bytes(stored)),
        ("s", Value::Bytes(sig.to_bytes().to_vec())),
    ]));
    if padding > 1 {
        let rem = (encoded.len() + ENCRYPT_OVERHEAD) % padding;
        if rem != 0 {
            encoded.resize(encoded.len() + padding - rem, 0);
        }
    }
    let ct = xchacha20poly1305_encrypt(key, nonce, &[], &encoded)
        .map_err(|_| MessageError::TooLong(plaintext.len()))?;
    let mut out = Vec::with_capacity(XCHACHA_NONCE_LEN + ct.len());
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// A decrypted group message.
#[derive(Clone, PartialEq, Eq)]
pub struct DecryptedGroupMessage {
    /// The author's Session ID.
    pub sender: SessionId,
    /// The author's Ed25519 key, as verified.
    pub sender_ed25519: Ed25519PublicKey,
    /// The plaintext (decompressed).
    pub plaintext: Vec<u8>,
    /// Whether it travelled compressed.
    pub compressed: bool,
}

impl fmt::Debug for DecryptedGroupMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptedGroupMessage")
            .field("sender", &self.sender)
            .field("plaintext", &format_args!("{} bytes", self.plaintext.len()))
            .field("compressed", &self.compressed)
            .finish()
    }
}

fn decompress(data: &[u8]) -> Result<Vec<u8>, MessageError> {
    sotto_config::decompress_limited(data, MAX_PLAINTEXT).map_err(|_| MessageError::Decompress)
}

/// Parses and checks a decrypted, still padded message dict.
fn open_plaintext(padded: &[u8]) -> Result<DecryptedGroupMessage, MessageError> {
    let end = padded.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let body = padded.get(..end).unwrap_or_default();
    if body.first() != Some(&b'd') || body.last() != Some(&b'e') {
        return Err(MessageError::Malformed("not a dictionary"));
    }
    let value = sotto_bencode::decode(body)
        .map_err(|_| MessageError::Malformed("not canonical bencode"))?;
    let version = value
        .get("")
        .and_then(Value::as_int)
        .ok_or(MessageError::Malformed("version missing"))?;
    if version != 1 {
        return Err(MessageError::Version(version));
    }
    let author = value
        .get("a")
        .and_then(Value::as_bytes)
        .and_then(|a| Ed25519PublicKey::from_slice(a).ok())
        .ok_or(MessageError::Malformed(
            "author `a` missing or not 32 bytes",
        ))?;
    let d = value
        .get("d")
        .and_then(Value::as_bytes)
        .filter(|d| !d.is_empty());
    let z = value
        .get("z")
        .and_then(Value::as_bytes)
        .filter(|z| !z.is_empty());
    let (stored, compressed) = match (d, z) {
        (Some(d), None) => (d, false),
        (None, Some(z)) => (z, true),
        _ => return Err(MessageError::Malformed("need exactly one of `d` and `z`")),
    };
    let sig = value
        .get("s")
        .and_then(Value::as_bytes)
        .and_then(|s| Signature::from_slice(s).ok())
        .ok_or(MessageError::Malformed(
            "signature `s` missing or not 64 bytes",
        ))?;
    author
        .verify(stored, &sig)
        .map_err(|_| MessageError::BadSignature)?;
    let plaintext = if compressed {
        decompress(stored)?
    } else {
        stored.to_vec()
    };
    let x = author.to_x25519().map_err(|_| MessageError::BadAuthor)?;
    Ok(DecryptedGroupMessage {
        sender: SessionId::from_x25519(x),
        sender_ed25519: author,
        plaintext,
        compressed,
    })
}

/// Decrypts a group message, trying each key in turn.
pub fn decrypt_group_message(
    keys: &[&SymmetricKey],
    ciphertext: &[u8],
) -> Result<DecryptedGroupMessage, MessageError> {
    if ciphertext.len() < ENCRYPT_OVERHEAD {
        return Err(MessageError::TooShort(ciphertext.len()));
    }
    let (nonce, ct) = ciphertext
        .split_first_chunk::<XCHACHA_NONCE_LEN>()
        .ok_or(MessageError::TooShort(ciphertext.len()))?;
    let padded = keys
        .iter()
        .find_map(|k| xchacha20poly1305_decrypt(k, nonce, &[], ct).ok())
        .ok_or(MessageError::NoKey { tried: keys.len() })?;
    open_plaintext(&padded)
}

/// Which Envelope layout a sender uses inside group messages (receivers accept both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GroupEnvelopeStyle {
    /// libsession `encode_for_group` (2025-10+): `sourceDevice = 1` and a `proSig`.
    #[default]
    Current,
    /// Desktop 2024-06 … 2025-10: `source` = the group ID, no `sourceDevice`, no `proSig`.
    Legacy,
}

/// The plaintext of a group message: an Envelope of type CLOSED_GROUP_MESSAGE whose
/// `content` is an unpadded Content. `pro_sig` is the 64-byte Session Pro signature over the
/// Content (libsession signs with a throw-away key when the sender has no Pro; pass one).
#[must_use]
pub fn wrap_content(
    group: &GroupId,
    content: &Content,
    sent_ms: u64,
    style: GroupEnvelopeStyle,
    pro_signer: &Ed25519SecretKey,
) -> Vec<u8> {
    let content_bytes = content.to_bytes();
    let mut envelope =
        Envelope::one_to_one(sent_ms, Vec::new(), sotto_envelope::WireStyle::Libsession);
    envelope.kind = EnvelopeType::ClosedGroupMessage;
    match style {
        GroupEnvelopeStyle::Current => {
            envelope.source_device = Some(1);
            envelope.pro_sig = Some(pro_signer.sign(&content_bytes));
        }
        GroupEnvelopeStyle::Legacy => {
            envelope.source_device = None;
            envelope.source = Some(PrefixedId::new(IdPrefix::Group, group.public_key().0));
        }
    }
    envelope.content = content_bytes;
    envelope.to_bytes()
}

/// A group message opened down to its Content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupContent {
    /// The author.
    pub sender: SessionId,
    /// The Envelope's sent timestamp (ms).
    pub sent_ms: u64,
    /// The Content.
    pub content: Content,
}

/// Reads the Envelope a decrypted group message carries (either layout), checks its type and,
/// where present, that its `source` is this group, and decodes the unpadded Content.
pub fn unwrap_content(
    group: &GroupId,
    message: &DecryptedGroupMessage,
) -> Result<GroupContent, MessageError> {
    let envelope = Envelope::try_from(message.plaintext.as_slice())?;
    if envelope.kind != EnvelopeType::ClosedGroupMessage {
        return Err(MessageError::EnvelopeType);
    }
    if let Some(source) = envelope.source
        && (source.prefix() != IdPrefix::Group || source.key() != &group.public_key().0)
    {
        return Err(MessageError::WrongSource);
    }
    let content = Content::try_from(envelope.content.as_slice())?;
    Ok(GroupContent {
        sender: message.sender,
        sent_ms: envelope.timestamp,
        content,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_envelope::{Message, VisibleMessage};
    use sotto_identity::Account;

    #[test]
    fn round_trip_compressed_and_not_with_padding() {
        let author = Account::from_ed25519_seed(&[5; 32]);
        let key = SymmetricKey::new([1; 32]);
        let text = b"hello hello hello hello hello hello hello hello hello hello".repeat(20);
        for compress in [true, false] {
            let ct = encrypt_group_message(
                author.ed25519_secret(),
                &key,
                &text,
                compress,
                256,
                &[2; 24],
            )
            .unwrap();
            assert_eq!(ct.len() % 256, 0);
            let got = decrypt_group_message(&[&SymmetricKey::new([9; 32]), &key], &ct).unwrap();
            assert_eq!(got.plaintext, text);
            assert_eq!(got.compressed, compress);
            assert_eq!(got.sender, author.session_id());
        }
        // Incompressible data is sent raw even when compression is allowed.
        let ct =
            encrypt_group_message(author.ed25519_secret(), &key, b"x", true, 0, &[2; 24]).unwrap();
        assert!(!decrypt_group_message(&[&key], &ct).unwrap().compressed);
        assert_eq!(
            encrypt_group_message(
                author.ed25519_secret(),
                &key,
                &vec![0; MAX_PLAINTEXT + 1],
                true,
                256,
                &[0; 24]
            ),
            Err(MessageError::TooLong(MAX_PLAINTEXT + 1))
        );
    }

    fn seal(key: &SymmetricKey, dict: &Value) -> Vec<u8> {
        let ct =
            xchacha20poly1305_encrypt(key, &[4; 24], &[], &sotto_bencode::encode(dict)).unwrap();
        [[4u8; 24].as_slice(), &ct].concat()
    }

    #[test]
    fn rejects_forgeries_and_malformed_dicts() {
        let author = Ed25519SecretKey::from_seed(&[5; 32]);
        let key = SymmetricKey::new([1; 32]);
        let pk = author.public_key().as_bytes().to_vec();
        let sig = author.sign(b"data").to_bytes().to_vec();
        let dict = |v: i64, d: &str, sig: &[u8]| {
            Value::dict([
                ("", Value::Int(v)),
                ("a", Value::Bytes(pk.clone())),
                (d, Value::Bytes(b"data".to_vec())),
                ("s", Value::Bytes(sig.to_vec())),
            ])
        };
        assert!(decrypt_group_message(&[&key], &seal(&key, &dict(1, "d", &sig))).is_ok());
        assert_eq!(
            decrypt_group_message(&[&key], &seal(&key, &dict(2, "d", &sig))),
            Err(MessageError::Version(2))
        );
        let mut bad = sig.clone();
        bad[0] ^= 1;
        assert_eq!(
            decrypt_group_message(&[&key], &seal(&key, &dict(1, "d", &bad))),
            Err(MessageError::BadSignature)
        );
        // `z` that is not zstd.
        assert_eq!(
            decrypt_group_message(&[&key], &seal(&key, &dict(1, "z", &sig))),
            Err(MessageError::Decompress)
        );
        assert_eq!(
            decrypt_group_message(&[&key], &[0; 39]),
            Err(MessageError::TooShort(39))
        );
        assert_eq!(
            decrypt_group_message(&[], &[0; 100]),
            Err(MessageError::NoKey { tried: 0 })
        );
        assert!(decrypt_group_message(&[&key], &seal(&key, &Value::List(vec![]))).is_err());
    }

    #[test]
    fn decompression_is_capped() {
        let author = Ed25519SecretKey::from_seed(&[5; 32]);
        let key = SymmetricKey::new([1; 32]);
        let bomb = zstd::bulk::compress(&vec![0u8; MAX_PLAINTEXT + 1], 1).unwrap();
        let dict = Value::dict([
            ("", Value::Int(1)),
            ("a", Value::Bytes(author.public_key().as_bytes().to_vec())),
            ("s", Value::Bytes(author.sign(&bomb).to_bytes().to_vec())),
            ("z", Value::Bytes(bomb)),
        ]);
        assert_eq!(
            decrypt_group_message(&[&key], &seal(&key, &dict)),
            Err(MessageError::Decompress)
        );
    }

    #[test]
    fn both_envelope_layouts_unwrap() {
        let group = crate::GroupAdmin::from_seed(&[3; 32]).unwrap().group_id();
        let other = crate::GroupAdmin::from_seed(&[4; 32]).unwrap().group_id();
        let author = Account::from_ed25519_seed(&[5; 32]);
        let key = SymmetricKey::new([1; 32]);
        let content = Content::new(Message::Visible(VisibleMessage::text("hi group")));
        let pro = Ed25519SecretKey::from_seed(&[6; 32]);
        for style in [GroupEnvelopeStyle::Current, GroupEnvelopeStyle::Legacy] {
            let plain = wrap_content(&group, &content, 1_700_000_000_123, style, &pro);
            let ct =
                encrypt_group_message(author.ed25519_secret(), &key, &plain, true, 256, &[1; 24])
                    .unwrap();
            let msg = decrypt_group_message(&[&key], &ct).unwrap();
            let got = unwrap_content(&group, &msg).unwrap();
            assert_eq!(got.content, content);
            assert_eq!(got.sent_ms, 1_700_000_000_123);
            assert_eq!(got.sender, author.session_id());
            let wrong = unwrap_content(&other, &msg);
            match style {
                GroupEnvelopeStyle::Legacy => assert_eq!(wrong, Err(MessageError::WrongSource)),
                _ => assert!(wrong.is_ok()),
            }
        }
    }
}
