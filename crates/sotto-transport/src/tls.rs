//! TLS 1.3 identities that carry an Ed25519 node key, and a client verifier that pins it.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sotto_crypto::{Ed25519PublicKey, Ed25519SecretKey, Signature};

use crate::TransportError;

/// The name every certificate is issued for and every client asks for; identity comes from the
/// pinned key, not from names.
pub(crate) const SERVER_NAME: &str = "sotto.node";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// PKCS#8 v2 (RFC 8410 / RFC 5958) encoding of an Ed25519 key pair.
fn pkcs8_v2(key: &Ed25519SecretKey) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x53, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(key.seed().expose());
    der.extend_from_slice(&[0xa1, 0x23, 0x03, 0x21, 0x00]);
    der.extend_from_slice(key.public_key().as_bytes());
    der
}

/// A server's TLS identity: a self-signed certificate for its Ed25519 key, TLS 1.3 only.
#[derive(Clone)]
pub struct TlsIdentity {
    pub(crate) config: Arc<rustls::ServerConfig>,
    public_key: Ed25519PublicKey,
}

impl core::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "TlsIdentity({:?})", self.public_key)
    }
}

impl TlsIdentity {
    /// Builds the identity of `key`.
    pub fn new(key: &Ed25519SecretKey) -> Result<Self, TransportError> {
        let err = |e: &dyn core::fmt::Display| TransportError::Identity(e.to_string());
        let pkcs8 = PrivatePkcs8KeyDer::from(pkcs8_v2(key));
        let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519)
            .map_err(|e| err(&e))?;
        let cert = rcgen::CertificateParams::new(vec![SERVER_NAME.to_owned()])
            .and_then(|p| p.self_signed(&key_pair))
            .map_err(|e| err(&e))?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| err(&e))?
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], PrivateKeyDer::Pkcs8(pkcs8))
            .map_err(|e| err(&e))?;
        Ok(Self {
            config: Arc::new(config),
            public_key: key.public_key(),
        })
    }

    /// The Ed25519 key clients must pin.
    #[must_use]
    pub fn public_key(&self) -> Ed25519PublicKey {
        self.public_key
    }
}

/// Accepts a server only if its TLS 1.3 handshake signature verifies under the pinned Ed25519
/// key. The certificate's contents are not trusted at all: possession of the key is what counts.
#[derive(Debug)]
struct PinnedKey(Ed25519PublicKey);

impl ServerCertVerifier for PinnedKey {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        _cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let bad = || rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature);
        if dss.scheme != SignatureScheme::ED25519 {
            return Err(bad());
        }
        let sig = Signature::from_slice(dss.signature()).map_err(|_| bad())?;
        self.0.verify(message, &sig).map_err(|_| bad())?;
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// A client configuration that only talks to the holder of `pinned`.
pub(crate) fn pinned_client_config(
    pinned: Ed25519PublicKey,
) -> Result<Arc<rustls::ClientConfig>, TransportError> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TransportError::Identity(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedKey(pinned)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A client configuration for ordinary web servers (onion requests proxied to `https://`
/// targets): certificates must chain to the Mozilla roots bundled by `webpki-roots`, or to one
/// of the PEM certificates in `extra_roots` (a private deployment's own CA).
pub(crate) fn web_client_config(
    extra_roots: &[u8],
) -> Result<Arc<rustls::ClientConfig>, TransportError> {
    use rustls::pki_types::pem::PemObject as _;
    let err = |e: &dyn core::fmt::Display| TransportError::Identity(e.to_string());
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in CertificateDer::pem_slice_iter(extra_roots) {
        let cert = cert.map_err(|e| err(&format!("extra root certificates: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| err(&format!("extra root certificate refused: {e}")))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
