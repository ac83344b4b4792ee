//! What an onion exit node POSTs to a server's `/oxen/v4/lsrpc`, built directly, so that tests of
//! the file and community servers can speak v4 without starting a network.

use sotto_crypto::{OsRng, X25519PublicKey};
use sotto_onion::{
    EncType, HopKey, OnionError, OnionRequest, ResponseKey, V4Request, X25519Keypair,
};

/// The body an exit node sends to the server with X25519 key `server` for `request`, and the key
/// that opens the server's reply (`ResponseKey::open_v4`).
pub fn exit_body(
    server: &X25519PublicKey,
    request: &V4Request,
) -> Result<(Vec<u8>, ResponseKey), OnionError> {
    let mut rng = OsRng;
    let ephemeral = X25519Keypair::generate(&mut rng);
    let key = HopKey::for_client(EncType::XChaCha20, &ephemeral, server)?;
    let blob = key.encrypt(&request.encode(), &mut rng)?;
    let mut body = OnionRequest {
        blob: blob.into(),
        ephemeral_key: *ephemeral.public_key(),
        enc_type: EncType::XChaCha20,
        hop_no: 0,
    }
    .to_client_body()?;
    // The routing fields the exit read, which the server ignores.
    body.pop();
    body.extend_from_slice(
        br#","host":"server","target":"/oxen/v4/lsrpc","method":"POST","protocol":"http","port":80}"#,
    );
    Ok((body, ResponseKey::new(key)))
}
