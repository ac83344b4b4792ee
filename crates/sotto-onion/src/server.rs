//! The server side of v4 onion requests: what a file or community server does with the body
//! an exit node POSTs to [`crate::V4_TARGET`].
//!
//! The exit node forwards its whole decrypted layer, `u32le N ‖ blob ‖ JSON`: the JSON carries
//! the client's `ephemeral_key` and `enc_type` for the server's layer (next to the routing
//! fields meant for the exit, which are ignored here), and `blob` is the v4 request encrypted
//! to the server's X25519 key. The server decrypts it with its own key, handles the request,
//! and answers with the v4 response encrypted under the same layer key (raw bytes, HTTP 200).

use sotto_crypto::CryptoRngCore;

use crate::OnionError;
use crate::hop::{HopKey, X25519Keypair};
use crate::peel::OnionRequest;
use crate::v4::{V4Request, V4Response};

/// The body of the encrypted 400 a server sends when the layer decrypts but is not a v4
/// request.
pub const INVALID_V4_REQUEST: &str = "Invalid v4 onion request";

/// A v4 request layer opened with the server's key.
#[derive(Debug)]
pub struct OpenedV4 {
    /// The request, or why the decrypted bytes are not one: answer that with
    /// [`V4ReplyKey::seal_invalid`] (an encrypted 400 the client can read).
    pub request: Result<V4Request, OnionError>,
    /// Encrypts the reply.
    pub reply_key: V4ReplyKey,
}

/// The key a server encrypts its v4 reply with (the layer's key). Never printed.
#[derive(Clone)]
pub struct V4ReplyKey(HopKey);

impl core::fmt::Debug for V4ReplyKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("V4ReplyKey(..)")
    }
}

impl V4ReplyKey {
    /// The reply: `response` encoded and encrypted with the layer's key (the HTTP 200 body).
    pub fn seal(
        &self,
        response: &V4Response,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, OnionError> {
        self.0.encrypt(&response.encode(), rng)
    }

    /// The encrypted 400 [`INVALID_V4_REQUEST`] for a layer that decrypted but did not parse.
    pub fn seal_invalid(&self, rng: &mut impl CryptoRngCore) -> Result<Vec<u8>, OnionError> {
        self.seal(
            &V4Response {
                code: 400,
                headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
                body: Some(INVALID_V4_REQUEST.as_bytes().to_vec()),
            },
            rng,
        )
    }
}

/// Opens the body an exit node POSTed to [`crate::V4_TARGET`] with the server's `keypair`.
///
/// `Err` means the body is not a layer for this key (bad framing or JSON, no ephemeral key, an
/// unknown `enc_type`, or a ciphertext that does not decrypt): answer it with a plain-text
/// HTTP 400, since there is no key to encrypt with. `Ok` carries the reply key and the
/// request, which may itself be malformed (see [`OpenedV4::request`]).
pub fn open_v4(body: &[u8], keypair: &X25519Keypair) -> Result<OpenedV4, OnionError> {
    let layer = OnionRequest::from_client_body(body)?;
    let opened = keypair.open(&OnionRequest {
        // The hop count is the nodes' business; a server does not refuse on it.
        hop_no: 0,
        ..layer
    })?;
    Ok(OpenedV4 {
        request: V4Request::decode(opened.plaintext()),
        reply_key: V4ReplyKey(opened.reply_key().clone()),
    })
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;
    use sotto_crypto::X25519SecretKey;

    use super::*;
    use crate::peel::{Decision, Protocol};
    use crate::{Destination, EncType, NodeKeys, ServerDestination, V4_TARGET, build};

    struct Hop {
        keys: NodeKeys,
        onion: X25519Keypair,
    }

    fn hop(rng: &mut ChaCha20Rng) -> Hop {
        let id = sotto_crypto::Ed25519SecretKey::generate(rng);
        let keys = NodeKeys::from_ed25519(id.public_key()).unwrap();
        Hop {
            keys,
            onion: X25519Keypair::from_ed25519(&id),
        }
    }

    fn owned(r: OnionRequest<'_>) -> OnionRequest<'static> {
        OnionRequest {
            blob: std::borrow::Cow::Owned(r.blob.into_owned()),
            ..r
        }
    }

    /// Runs a built request through the path's nodes and returns what the exit POSTs.
    fn through_path(path: &[Hop], body: &[u8]) -> Vec<u8> {
        let mut request = owned(OnionRequest::from_client_body(body).unwrap());
        for (i, node) in path.iter().enumerate() {
            let opened = node.onion.open(&request).unwrap();
            match opened.route().unwrap() {
                Decision::RelayToNode {
                    next_node,
                    request: next,
                } => {
                    assert_eq!(next_node, path[i + 1].keys.ed25519);
                    request = owned(next);
                }
                Decision::RelayToServer(relay) => {
                    assert_eq!(i, path.len() - 1);
                    assert_eq!(relay.target, V4_TARGET);
                    assert_eq!(relay.url(), "http://127.0.0.1:8080/oxen/v4/lsrpc");
                    return relay.payload.to_vec();
                }
                Decision::FinalDestination(_) => panic!("not a node destination"),
            }
        }
        panic!("the path never reached the server")
    }

    #[test]
    fn server_opens_a_client_request_and_the_client_reads_the_reply() {
        let mut rng = ChaCha20Rng::seed_from_u64(41);
        let path: Vec<Hop> = (0..3).map(|_| hop(&mut rng)).collect();
        let server = X25519Keypair::new(X25519SecretKey::generate(&mut rng));
        for enc in [EncType::AesGcm, EncType::XChaCha20] {
            let request = V4Request {
                method: "POST".into(),
                endpoint: "/file".into(),
                headers: vec![("X-FS-TTL".into(), "60".into())],
                body: Some(vec![7; 1000]),
            };
            let encoded = request.encode();
            let keys: Vec<NodeKeys> = path.iter().map(|h| h.keys).collect();
            let built = build(
                &keys,
                &Destination::Server(ServerDestination {
                    host: "127.0.0.1",
                    port: Some(8080),
                    protocol: Protocol::Http,
                    target: V4_TARGET,
                    x25519: *server.public_key(),
                    request: &encoded,
                }),
                enc,
                &mut rng,
            )
            .unwrap();
            let posted = through_path(&path, &built.body);
            let opened = open_v4(&posted, &server).unwrap();
            assert_eq!(opened.request.as_ref().unwrap(), &request);

            let response = V4Response {
                code: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: Some(br#"{"id":"abc","expires":1.5}"#.to_vec()),
            };
            let sealed = opened.reply_key.seal(&response, &mut rng).unwrap();
            assert_eq!(built.response_key.open_v4(&sealed).unwrap(), response);

            // Another server's key cannot open it.
            let other = X25519Keypair::new(X25519SecretKey::generate(&mut rng));
            assert!(matches!(open_v4(&posted, &other), Err(OnionError::Decrypt)));
            // Nor can a tampered layer be opened.
            let mut tampered = posted.clone();
            tampered[10] ^= 1;
            assert!(open_v4(&tampered, &server).is_err());
        }
    }

    #[test]
    fn a_layer_that_is_not_v4_gets_an_encrypted_400() {
        let mut rng = ChaCha20Rng::seed_from_u64(42);
        let server = X25519Keypair::new(X25519SecretKey::generate(&mut rng));
        let eph = X25519Keypair::generate(&mut rng);
        let key = HopKey::for_client(EncType::XChaCha20, &eph, server.public_key()).unwrap();
        let blob = key.encrypt(b"not bencode", &mut rng).unwrap();
        let body = OnionRequest {
            blob: blob.into(),
            ephemeral_key: *eph.public_key(),
            enc_type: EncType::XChaCha20,
            hop_no: 99,
        }
        .to_client_body()
        .unwrap();
        let opened = open_v4(&body, &server).unwrap();
        assert!(opened.request.is_err());
        let sealed = opened.reply_key.seal_invalid(&mut rng).unwrap();
        let reply = crate::ResponseKey::new(key).open_v4(&sealed).unwrap();
        assert_eq!(reply.code, 400);
        assert_eq!(reply.body.as_deref(), Some(INVALID_V4_REQUEST.as_bytes()));
    }

    #[test]
    fn malformed_bodies_are_refused_in_plain() {
        let mut rng = ChaCha20Rng::seed_from_u64(43);
        let server = X25519Keypair::new(X25519SecretKey::generate(&mut rng));
        for bad in [
            &b""[..],
            b"\x01\0\0",
            b"\x00\0\0\0{}",
            b"\x00\0\0\0{\"ephemeral_key\":\"zz\"}",
            b"\x00\0\0\0[]",
        ] {
            assert!(open_v4(bad, &server).is_err());
        }
    }
}
