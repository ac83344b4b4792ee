//! Community (SOGS v3) request signing: the four `X-SOGS-*` headers.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sotto_crypto::{Signature, blake2b_64};

use crate::blinding::Blind15Nonce;
use crate::{Account, IdPrefix, PrefixedId};

/// How to identify to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SogsAuth {
    /// As `00 ‖ Ed25519 pk` with a plain signature (servers that do not require blinding).
    Unblinded,
    /// As the 15-blinded ID, with the given nonce variant.
    Blinded15(Blind15Nonce),
}

/// One request to sign. `path` is the URL-decoded path including its query string.
#[derive(Debug, Clone, Copy)]
pub struct SogsRequest<'a> {
    /// The community server's public key (32 raw bytes from its join link).
    pub server_pk: &'a [u8; 32],
    /// 16 random bytes, fresh for every request.
    pub nonce: &'a [u8; 16],
    /// Unix time in seconds.
    pub timestamp: u64,
    /// The HTTP method, e.g. `GET`.
    pub method: &'a str,
    /// The path with its query, e.g. `/room/lobby/messages/recent?limit=25`.
    pub path: &'a str,
    /// The request body, if there is one.
    pub body: Option<&'a [u8]>,
}

impl SogsRequest<'_> {
    /// The signed bytes: `server_pk ‖ nonce ‖ timestamp ‖ method ‖ path ‖ [BLAKE2b-512(body)]`.
    #[must_use]
    pub fn signed_message(&self) -> Vec<u8> {
        let mut msg = Vec::with_capacity(32 + 16 + 20 + self.method.len() + self.path.len() + 64);
        msg.extend_from_slice(self.server_pk);
        msg.extend_from_slice(self.nonce);
        msg.extend_from_slice(self.timestamp.to_string().as_bytes());
        msg.extend_from_slice(self.method.as_bytes());
        msg.extend_from_slice(self.path.as_bytes());
        if let Some(body) = self.body {
            msg.extend_from_slice(&blake2b_64(&[], &[body]));
        }
        msg
    }

    /// Signs the request as `account`.
    #[must_use]
    pub fn sign(&self, account: &Account, auth: SogsAuth) -> SogsHeaders {
        let msg = self.signed_message();
        let (pubkey, signature) = match auth {
            SogsAuth::Unblinded => (
                account.ed25519_id(IdPrefix::Unblinded),
                account.ed25519_secret().sign(&msg),
            ),
            SogsAuth::Blinded15(nonce) => {
                let keys = account.blind15(self.server_pk);
                (keys.id(), keys.sign_with(&msg, nonce))
            }
        };
        SogsHeaders {
            pubkey,
            nonce: *self.nonce,
            timestamp: self.timestamp,
            signature,
        }
    }
}

/// The authentication headers of a signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SogsHeaders {
    /// `X-SOGS-Pubkey`.
    pub pubkey: PrefixedId,
    /// `X-SOGS-Nonce` (raw).
    pub nonce: [u8; 16],
    /// `X-SOGS-Timestamp`.
    pub timestamp: u64,
    /// `X-SOGS-Signature` (raw).
    pub signature: Signature,
}

impl SogsHeaders {
    /// The four headers as `(name, value)` pairs, values encoded as the server expects.
    #[must_use]
    pub fn to_pairs(&self) -> [(&'static str, String); 4] {
        [
            ("X-SOGS-Pubkey", self.pubkey.to_string()),
            ("X-SOGS-Nonce", STANDARD.encode(self.nonce)),
            ("X-SOGS-Timestamp", self.timestamp.to_string()),
            ("X-SOGS-Signature", STANDARD.encode(self.signature.0)),
        ]
    }
}
