//! The node side: read an onion request, open one layer, decide what to do with it.

use std::borrow::Cow;

use sotto_bencode::Value;
use sotto_crypto::{Ed25519PublicKey, X25519PublicKey};

use crate::hop::{EncType, HopKey, X25519Keypair};
use crate::layer::{self, LayerJson, hex32, x25519_hex};
use crate::url::{is_target_allowed, parse_host};
use crate::{MAX_HOPS, OnionError};

/// One onion request as a node receives it: the encrypted blob for this node, the client's
/// ephemeral key for this layer, its encryption and the hop count so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnionRequest<'a> {
    /// The layer ciphertext.
    pub blob: Cow<'a, [u8]>,
    /// The client's ephemeral X25519 key for this layer.
    pub ephemeral_key: X25519PublicKey,
    /// How the layer is encrypted.
    pub enc_type: EncType,
    /// Hops crossed before this node (0 at the guard unless the client says otherwise).
    pub hop_no: u64,
}

impl<'a> OnionRequest<'a> {
    /// Reads a client's request to its guard (`POST /onion_req/v2` body):
    /// `u32le N ‖ blob ‖ {"ephemeral_key": hex, "enc_type": …, "hop_no"?: n}`. `enc_type`
    /// defaults to aes-gcm and `hop_no` to 0.
    pub fn from_client_body(body: &'a [u8]) -> Result<Self, OnionError> {
        const WHAT: &str = "onion request JSON";
        let (blob, json) = layer::split(body)?;
        let meta: LayerJson<'_> = layer::parse_json(WHAT, json)?;
        let key = meta.ephemeral_key.ok_or(OnionError::MissingField {
            what: WHAT,
            field: "ephemeral_key",
        })?;
        Ok(Self {
            blob: Cow::Borrowed(blob),
            ephemeral_key: x25519_hex("ephemeral_key", &key)?,
            enc_type: meta
                .enc_type
                .as_deref()
                .map_or(Ok(EncType::AesGcm), EncType::parse)?,
            hop_no: meta.hop_no.unwrap_or(0),
        })
    }

    /// Writes the client's request to its guard: `u32le N ‖ blob ‖
    /// {"ephemeral_key":hex,"enc_type":…}` (the hop count is left to its default).
    pub fn to_client_body(&self) -> Result<Vec<u8>, OnionError> {
        let json = format!(
            r#"{{"ephemeral_key":"{}","enc_type":"{}"}}"#,
            hex::encode(self.ephemeral_key.0),
            self.enc_type
        );
        layer::join(&self.blob, json.as_bytes())
    }

    /// Reads a node-to-node frame (`sn.onion_request` body): the canonical bencoded dict
    /// `{"data": blob, "enc_type": str, "ephemeral_key": 32 bytes, "hop_no": int}`. `enc_type`
    /// defaults to aes-gcm; a missing or non-positive `hop_no` counts as 1.
    pub fn from_node_frame(frame: &[u8]) -> Result<OnionRequest<'static>, OnionError> {
        const WHAT: &str = "inter-node onion frame";
        let bencode = |source| OnionError::Bencode { what: WHAT, source };
        let Value::Dict(mut dict) = sotto_bencode::decode(frame).map_err(bencode)? else {
            return Err(OnionError::Field {
                what: WHAT,
                reason: "must be a dictionary",
            });
        };
        let bytes = |value: Option<Value>, field: &'static str| match value {
            Some(Value::Bytes(b)) => Ok(Some(b)),
            None => Ok(None),
            Some(_) => Err(OnionError::Field {
                what: field,
                reason: "must be a byte string",
            }),
        };
        let missing = |field| OnionError::MissingField { what: WHAT, field };
        let blob = bytes(dict.remove(&b"data"[..]), "data")?.ok_or_else(|| missing("data"))?;
        let enc_type = match bytes(dict.remove(&b"enc_type"[..]), "enc_type")? {
            Some(name) => {
                EncType::parse(core::str::from_utf8(&name).map_err(|_| OnionError::Field {
                    what: "enc_type",
                    reason: "must be UTF-8",
                })?)?
            }
            None => EncType::AesGcm,
        };
        let key = bytes(dict.remove(&b"ephemeral_key"[..]), "ephemeral_key")?
            .ok_or_else(|| missing("ephemeral_key"))?;
        let ephemeral_key = X25519PublicKey::from_slice(&key).map_err(|_| OnionError::Field {
            what: "ephemeral_key",
            reason: "must be 32 bytes",
        })?;
        let hop_no = match dict.remove(&b"hop_no"[..]) {
            Some(Value::Int(n)) => u64::try_from(n).unwrap_or(0).max(1),
            None => 1,
            Some(_) => {
                return Err(OnionError::Field {
                    what: "hop_no",
                    reason: "must be an integer",
                });
            }
        };
        Ok(OnionRequest {
            blob: Cow::Owned(blob),
            ephemeral_key,
            enc_type,
            hop_no,
        })
    }

    /// Writes the node-to-node frame (canonical bencode, keys sorted), copying the blob once:
    /// straight into the frame, with no intermediate bencode value.
    #[must_use]
    pub fn to_node_frame(&self) -> Vec<u8> {
        fn bytes(out: &mut Vec<u8>, b: &[u8]) {
            out.extend_from_slice(b.len().to_string().as_bytes());
            out.push(b':');
            out.extend_from_slice(b);
        }
        let enc_type = self.enc_type.as_str().as_bytes();
        let hop_no = i64::try_from(self.hop_no).unwrap_or(i64::MAX).to_string();
        let mut out = Vec::with_capacity(self.blob.len() + enc_type.len() + hop_no.len() + 96);
        out.push(b'd');
        bytes(&mut out, b"data");
        bytes(&mut out, &self.blob);
        bytes(&mut out, b"enc_type");
        bytes(&mut out, enc_type);
        bytes(&mut out, b"ephemeral_key");
        bytes(&mut out, &self.ephemeral_key.0);
        bytes(&mut out, b"hop_no");
        out.push(b'i');
        out.extend_from_slice(hop_no.as_bytes());
        out.extend_from_slice(b"ee");
        out
    }
}

impl X25519Keypair {
    /// Opens one layer addressed to this key: refuses requests past the hop limit, then does
    /// the layer's single X25519 agreement and decrypts. A failure here is answered in
    /// plaintext (400 "Invalid ciphertext", or the hop-limit message).
    pub fn open(&self, request: &OnionRequest<'_>) -> Result<OpenedLayer, OnionError> {
        if request.hop_no > MAX_HOPS {
            return Err(OnionError::HopLimit {
                hop_no: request.hop_no,
            });
        }
        let reply_key = HopKey::for_server(request.enc_type, self, &request.ephemeral_key)?;
        let plaintext = reply_key.decrypt(&request.blob)?;
        Ok(OpenedLayer {
            plaintext,
            reply_key,
            hop_no: request.hop_no,
        })
    }
}

/// A decrypted layer, with the key that encrypts replies back to the client.
#[derive(Debug)]
pub struct OpenedLayer {
    plaintext: Vec<u8>,
    reply_key: HopKey,
    hop_no: u64,
}

impl OpenedLayer {
    /// The decrypted bytes.
    #[must_use]
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }

    /// The key for replies from this node to the client (final destination and encrypted
    /// errors).
    #[must_use]
    pub fn reply_key(&self) -> &HopKey {
        &self.reply_key
    }

    /// Decides what to do with the layer (see [`Decision::parse`]); a relay carries the hop
    /// count plus one. A relay to a server must name a host under the strict grammar of
    /// [`parse_host`] (a DNS name or IP literal, the port only in `port`, never 0) and an
    /// allowed target. An error here is answered encrypted with [`Self::reply_key`]:
    /// 400 "Invalid url" for [`OnionError::TargetNotAllowed`] and
    /// [`OnionError::HostNotAllowed`], 400 "Invalid json" otherwise.
    pub fn route(&self) -> Result<Decision<'_>, OnionError> {
        let decision = Decision::parse(&self.plaintext, self.hop_no.saturating_add(1))?;
        if let Decision::RelayToServer(relay) = &decision {
            parse_host(&relay.host)?;
            if relay.port == 0 {
                return Err(OnionError::HostNotAllowed(format!(
                    "{}:0",
                    relay.host.chars().take(256).collect::<String>()
                )));
            }
            if !is_target_allowed(&relay.target) {
                return Err(OnionError::TargetNotAllowed(
                    relay.target.chars().take(256).collect(),
                ));
            }
        }
        Ok(decision)
    }
}

/// What a node does with a decrypted layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Pass the inner layer on to the next node.
    RelayToNode {
        /// The next node's Ed25519 key (`destination`).
        next_node: Ed25519PublicKey,
        /// The request to send it.
        request: OnionRequest<'a>,
    },
    /// This node is the destination: handle the storage RPC.
    FinalDestination(FinalDestination<'a>),
    /// Proxy the whole plaintext to an HTTP(S) server and return its answer unchanged.
    RelayToServer(RelayToServer<'a>),
}

/// A storage RPC for this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalDestination<'a> {
    /// The RPC body: JSON `{"method": …, "params": …}`.
    pub body: &'a [u8],
    /// How to wrap the response.
    pub options: crate::ReplyOptions,
}

/// A request to proxy to a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayToServer<'a> {
    /// Host name or address.
    pub host: Cow<'a, str>,
    /// TCP port (443 unless given).
    pub port: u16,
    /// `http` or `https` (the default).
    pub protocol: Protocol,
    /// The request path ([`OpenedLayer::route`] only returns targets that pass
    /// [`is_target_allowed`]).
    pub target: Cow<'a, str>,
    /// What to POST: the entire decrypted layer, unchanged.
    pub payload: &'a [u8],
}

impl RelayToServer<'_> {
    /// `protocol://host[:port]target`, the port left out when it is the protocol's default
    /// and an IPv6 host in brackets. Only meaningful for a layer that [`OpenedLayer::route`]
    /// accepted (its host passed [`parse_host`]); the exit parses the result again as a URL
    /// before it connects.
    #[must_use]
    pub fn url(&self) -> String {
        let host = parse_host(&self.host).map_or_else(|_| self.host.to_string(), |h| h.to_string());
        if self.port == self.protocol.default_port() {
            format!("{}://{host}{}", self.protocol, self.target)
        } else {
            format!("{}://{host}:{}{}", self.protocol, self.port, self.target)
        }
    }
}

/// The scheme of a relayed server request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Plain HTTP (port 80 by default).
    Http,
    /// HTTPS (port 443 by default).
    #[default]
    Https,
}

impl Protocol {
    /// The name in the layer JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// 80 or 443.
    #[must_use]
    pub const fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }

    fn parse(name: &str) -> Result<Self, OnionError> {
        match name {
            "http" => Ok(Self::Http),
            "https" => Ok(Self::Https),
            _ => Err(OnionError::Field {
                what: "protocol",
                reason: "must be http or https",
            }),
        }
    }
}

impl core::fmt::Display for Protocol {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'a> Decision<'a> {
    /// The storage server's decision for a decrypted layer `u32le N ‖ blob ‖ JSON`:
    /// a `headers` key (any value) makes this node the final destination; else a `host` key
    /// means relay to a server (port 443 and https unless given; the target is not filtered
    /// here, see [`OpenedLayer::route`]); else relay to the node named by `destination`
    /// (`enc_type` aes-gcm unless given). `next_hop_no` is the hop count a relay carries on.
    pub fn parse(plaintext: &'a [u8], next_hop_no: u64) -> Result<Self, OnionError> {
        const WHAT: &str = "layer JSON";
        let (blob, json) = layer::split(plaintext)?;
        let j: LayerJson<'a> = layer::parse_json(WHAT, json)?;
        let missing = |field| OnionError::MissingField { what: WHAT, field };
        if j.headers {
            return Ok(Self::FinalDestination(FinalDestination {
                body: blob,
                options: crate::ReplyOptions {
                    json: j.json.unwrap_or(false),
                    base64: j.base64.unwrap_or(true),
                },
            }));
        }
        if let Some(host) = j.host {
            let target = j.target.ok_or_else(|| missing("target"))?;
            let protocol = j
                .protocol
                .as_deref()
                .map_or(Ok(Protocol::Https), Protocol::parse)?;
            return Ok(Self::RelayToServer(RelayToServer {
                host,
                port: j.port.unwrap_or(443),
                protocol,
                target,
                payload: plaintext,
            }));
        }
        let next = j.destination.ok_or_else(|| missing("destination"))?;
        let key = j.ephemeral_key.ok_or_else(|| missing("ephemeral_key"))?;
        Ok(Self::RelayToNode {
            next_node: Ed25519PublicKey(hex32("destination", &next)?),
            request: OnionRequest {
                blob: Cow::Borrowed(blob),
                ephemeral_key: x25519_hex("ephemeral_key", &key)?,
                enc_type: j
                    .enc_type
                    .as_deref()
                    .map_or(Ok(EncType::AesGcm), EncType::parse)?,
                hop_no: next_hop_no,
            },
        })
    }
}
