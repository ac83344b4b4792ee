//! Hop ("channel") encryption: one X25519 agreement per layer, then AES-256-GCM or
//! XChaCha20-Poly1305 under a key derived from it.

use core::fmt;
use core::str::FromStr;

use sotto_crypto::{
    AEAD_TAG_LEN, AES_GCM_NONCE_LEN, CryptoRngCore, Ed25519SecretKey, SecretBytes, SymmetricKey,
    X25519PublicKey, X25519SecretKey, XCHACHA_NONCE_LEN, aes256gcm_decrypt, aes256gcm_encrypt,
    blake2b_32, hmac_sha256, xchacha20poly1305_decrypt, xchacha20poly1305_encrypt,
};

use crate::OnionError;

/// The HMAC key of the AES-GCM key derivation.
const GCM_KEY_SALT: &[u8] = b"LOKI";

/// How a layer is encrypted (the `enc_type` JSON string).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EncType {
    /// `aes-gcm` (alias `gcm`), the default when absent: key = HMAC-SHA256("LOKI", S),
    /// layout `12-byte IV ‖ ciphertext ‖ 16-byte tag`.
    #[default]
    AesGcm,
    /// `xchacha20` (alias `xchacha20-poly1305`): key = BLAKE2b-256(S ‖ client pk ‖ server pk),
    /// layout `24-byte nonce ‖ ciphertext ‖ 16-byte tag`.
    XChaCha20,
}

impl EncType {
    /// The canonical name written on the wire.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AesGcm => "aes-gcm",
            Self::XChaCha20 => "xchacha20",
        }
    }

    /// Reads an `enc_type` string, accepting the aliases the storage server accepts. The
    /// legacy `aes-cbc`/`cbc` is recognised and refused: it does not authenticate the layer.
    pub fn parse(name: &str) -> Result<Self, OnionError> {
        match name {
            "aes-gcm" | "gcm" => Ok(Self::AesGcm),
            "xchacha20" | "xchacha20-poly1305" => Ok(Self::XChaCha20),
            "aes-cbc" | "cbc" => Err(OnionError::UnauthenticatedEncType(name.to_owned())),
            _ => Err(OnionError::UnknownEncType(name.chars().take(32).collect())),
        }
    }

    /// Bytes a layer adds to its plaintext (nonce and tag).
    #[must_use]
    pub const fn overhead(self) -> usize {
        self.nonce_len() + AEAD_TAG_LEN
    }

    const fn nonce_len(self) -> usize {
        match self {
            Self::AesGcm => AES_GCM_NONCE_LEN,
            Self::XChaCha20 => XCHACHA_NONCE_LEN,
        }
    }
}

impl fmt::Display for EncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EncType {
    type Err = OnionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// An X25519 keypair whose public key is computed once: a node's (or server's) long-term
/// onion key, or a client's ephemeral key for one layer.
#[derive(Clone)]
pub struct X25519Keypair {
    secret: X25519SecretKey,
    public: X25519PublicKey,
}

impl X25519Keypair {
    /// Wraps a secret key, computing its public key.
    #[must_use]
    pub fn new(secret: X25519SecretKey) -> Self {
        let public = secret.public_key();
        Self { secret, public }
    }

    /// A node's onion key: the X25519 form of its Ed25519 identity key (what clients derive
    /// from the node list).
    #[must_use]
    pub fn from_ed25519(identity: &Ed25519SecretKey) -> Self {
        Self::new(identity.to_x25519())
    }

    /// A fresh random keypair.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Self::new(X25519SecretKey::generate(rng))
    }

    /// The public key.
    #[must_use]
    pub fn public_key(&self) -> &X25519PublicKey {
        &self.public
    }

    /// The secret key.
    #[must_use]
    pub fn secret_key(&self) -> &X25519SecretKey {
        &self.secret
    }
}

impl fmt::Debug for X25519Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "X25519Keypair(public {:?})", self.public)
    }
}

/// The symmetric key shared by a client and one hop (or the destination) for one layer, in
/// both directions. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct HopKey {
    enc_type: EncType,
    key: SymmetricKey,
}

impl HopKey {
    /// Derives the key from the X25519 shared secret `S`. `client` is the client's ephemeral
    /// public key and `server` the hop's key: the order matters for XChaCha20.
    #[must_use]
    pub fn derive(
        enc_type: EncType,
        shared: &SecretBytes<32>,
        client: &X25519PublicKey,
        server: &X25519PublicKey,
    ) -> Self {
        let key = match enc_type {
            EncType::AesGcm => hmac_sha256(GCM_KEY_SALT, &[shared.expose()]),
            EncType::XChaCha20 => blake2b_32(&[], &[shared.expose(), &client.0, &server.0]),
        };
        Self {
            enc_type,
            key: SymmetricKey::new(key),
        }
    }

    /// The client's side: its ephemeral keypair for this layer and the hop's public key.
    pub fn for_client(
        enc_type: EncType,
        ephemeral: &X25519Keypair,
        server: &X25519PublicKey,
    ) -> Result<Self, OnionError> {
        let shared = ephemeral
            .secret
            .diffie_hellman(server)
            .map_err(OnionError::KeyAgreement)?;
        Ok(Self::derive(enc_type, &shared, &ephemeral.public, server))
    }

    /// The hop's side: its own keypair and the client's ephemeral public key. One X25519.
    pub fn for_server(
        enc_type: EncType,
        own: &X25519Keypair,
        client: &X25519PublicKey,
    ) -> Result<Self, OnionError> {
        let shared = own
            .secret
            .diffie_hellman(client)
            .map_err(OnionError::KeyAgreement)?;
        Ok(Self::derive(enc_type, &shared, client, &own.public))
    }

    /// The encryption this key is for.
    #[must_use]
    pub fn enc_type(&self) -> EncType {
        self.enc_type
    }

    /// The derived 32-byte key.
    #[must_use]
    pub fn symmetric_key(&self) -> &SymmetricKey {
        &self.key
    }

    /// Encrypts with a fresh random nonce: `nonce ‖ ciphertext ‖ tag`.
    pub fn encrypt(
        &self,
        plaintext: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, OnionError> {
        let mut nonce = [0u8; XCHACHA_NONCE_LEN];
        let nonce = nonce
            .get_mut(..self.enc_type.nonce_len())
            .unwrap_or_default();
        rng.fill_bytes(nonce);
        self.encrypt_with_nonce(nonce, plaintext)
    }

    /// Encrypts with a caller-chosen nonce (for tests and reproducible examples; a nonce must
    /// never repeat under one key).
    pub fn encrypt_with_nonce(
        &self,
        nonce: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, OnionError> {
        let sealed = match self.enc_type {
            EncType::AesGcm => {
                let nonce: &[u8; AES_GCM_NONCE_LEN] =
                    nonce.try_into().map_err(|_| OnionError::Field {
                        what: "AES-GCM nonce",
                        reason: "must be 12 bytes",
                    })?;
                aes256gcm_encrypt(&self.key, nonce, &[], plaintext)
            }
            EncType::XChaCha20 => {
                let nonce: &[u8; XCHACHA_NONCE_LEN] =
                    nonce.try_into().map_err(|_| OnionError::Field {
                        what: "XChaCha20 nonce",
                        reason: "must be 24 bytes",
                    })?;
                xchacha20poly1305_encrypt(&self.key, nonce, &[], plaintext)
            }
        }
        .map_err(|_| OnionError::TooLarge {
            what: "layer plaintext",
            len: plaintext.len(),
        })?;
        let mut out = Vec::with_capacity(nonce.len() + sealed.len());
        out.extend_from_slice(nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts `nonce ‖ ciphertext ‖ tag`.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, OnionError> {
        let min = self.enc_type.overhead();
        let short = || OnionError::Truncated {
            what: "layer ciphertext",
            need: min,
            have: ciphertext.len(),
        };
        match self.enc_type {
            EncType::AesGcm => {
                let (nonce, sealed) = ciphertext
                    .split_first_chunk::<AES_GCM_NONCE_LEN>()
                    .ok_or_else(short)?;
                if sealed.len() < AEAD_TAG_LEN {
                    return Err(short());
                }
                aes256gcm_decrypt(&self.key, nonce, &[], sealed)
            }
            EncType::XChaCha20 => {
                let (nonce, sealed) = ciphertext
                    .split_first_chunk::<XCHACHA_NONCE_LEN>()
                    .ok_or_else(short)?;
                if sealed.len() < AEAD_TAG_LEN {
                    return Err(short());
                }
                xchacha20poly1305_decrypt(&self.key, nonce, &[], sealed)
            }
        }
        .map_err(|_| OnionError::Decrypt)
    }
}

impl fmt::Debug for HopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HopKey({}, redacted)", self.enc_type)
    }
}

/// The storage server's legacy `aes-cbc` channel encryption: key = the raw X25519 shared
/// secret, layout `16-byte IV ‖ AES-256-CBC/PKCS#7`. It authenticates nothing, so Sotto never
/// routes layers with it ([`EncType::parse`] refuses the name); it is here to check sizes
/// against the storage server's tests.
pub mod legacy_cbc {
    use sotto_crypto::{
        AES_CBC_IV_LEN, CryptoRngCore, SecretBytes, SymmetricKey, aes256cbc_decrypt,
        aes256cbc_encrypt,
    };

    use crate::OnionError;

    /// Encrypts under the shared secret with a random IV.
    #[must_use]
    pub fn encrypt(
        shared: &SecretBytes<32>,
        plaintext: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Vec<u8> {
        let mut iv = [0u8; AES_CBC_IV_LEN];
        rng.fill_bytes(&mut iv);
        let key = SymmetricKey::new(*shared.expose());
        let mut out = iv.to_vec();
        out.extend_from_slice(&aes256cbc_encrypt(&key, &iv, plaintext));
        out
    }

    /// Decrypts `IV ‖ ciphertext`; fails on bad lengths or padding.
    pub fn decrypt(shared: &SecretBytes<32>, ciphertext: &[u8]) -> Result<Vec<u8>, OnionError> {
        let (iv, body) =
            ciphertext
                .split_first_chunk::<AES_CBC_IV_LEN>()
                .ok_or(OnionError::Truncated {
                    what: "AES-CBC ciphertext",
                    need: AES_CBC_IV_LEN,
                    have: ciphertext.len(),
                })?;
        let key = SymmetricKey::new(*shared.expose());
        aes256cbc_decrypt(&key, iv, body).map_err(|_| OnionError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;

    use super::*;

    #[test]
    fn enc_type_names_and_aliases() {
        for (name, want) in [
            ("aes-gcm", EncType::AesGcm),
            ("gcm", EncType::AesGcm),
            ("xchacha20", EncType::XChaCha20),
            ("xchacha20-poly1305", EncType::XChaCha20),
        ] {
            assert_eq!(name.parse::<EncType>().unwrap(), want);
        }
        assert!(matches!(
            EncType::parse("aes-cbc"),
            Err(OnionError::UnauthenticatedEncType(_))
        ));
        assert!(matches!(
            EncType::parse("rot13"),
            Err(OnionError::UnknownEncType(_))
        ));
        assert_eq!(EncType::default(), EncType::AesGcm);
        assert_eq!(EncType::XChaCha20.to_string(), "xchacha20");
    }

    #[test]
    fn both_sides_derive_the_same_key_and_round_trip() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let node = X25519Keypair::generate(&mut rng);
        let eph = X25519Keypair::generate(&mut rng);
        for enc in [EncType::AesGcm, EncType::XChaCha20] {
            let client = HopKey::for_client(enc, &eph, node.public_key()).unwrap();
            let server = HopKey::for_server(enc, &node, eph.public_key()).unwrap();
            assert_eq!(client, server);
            let ct = client.encrypt(b"layer", &mut rng).unwrap();
            assert_eq!(ct.len(), 5 + enc.overhead());
            assert_eq!(server.decrypt(&ct).unwrap(), b"layer");
            assert!(server.decrypt(&ct[..enc.overhead() - 1]).is_err());
            assert!(matches!(
                server.decrypt(&ct[..ct.len() - 1]),
                Err(OnionError::Decrypt)
            ));
            assert!(format!("{client:?}").contains("redacted"));
        }
    }

    #[test]
    fn low_order_ephemeral_key_is_refused() {
        let node = X25519Keypair::new(X25519SecretKey::from_bytes(&[7; 32]));
        assert!(matches!(
            HopKey::for_server(EncType::AesGcm, &node, &X25519PublicKey([0; 32])),
            Err(OnionError::KeyAgreement(_))
        ));
    }

    #[test]
    fn legacy_cbc_round_trips() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let shared = SecretBytes::new([3; 32]);
        let ct = legacy_cbc::encrypt(&shared, b"Grumpy cat says no!", &mut rng);
        assert_eq!(ct.len(), 48);
        assert_eq!(
            legacy_cbc::decrypt(&shared, &ct).unwrap(),
            b"Grumpy cat says no!"
        );
        assert!(legacy_cbc::decrypt(&shared, &ct[..20]).is_err());
    }
}
