//! A Content from Alice to Bob through the swarm framing and back, and what tampering does.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sotto_crypto::seal;
use sotto_envelope::{
    Content, DecodeError, DecryptError, EncryptError, Envelope, EnvelopeType, Message,
    ReceiveError, Typing, TypingAction, UnknownFields, VisibleMessage, WebSocketMessage, WireStyle,
    decrypt_from_swarm, decrypt_incoming, encrypt_for_recipient_deterministic, encrypt_for_swarm,
    encrypt_sync_copy, frame_for_swarm, pad_with, unframe_from_swarm,
};
use sotto_identity::{Account, PrefixedId};

const SENT_MS: u64 = 1_754_971_101_000;

fn rng() -> ChaCha20Rng {
    let seed = 0x5077_0e1e;
    println!("rng seed {seed:#x}");
    ChaCha20Rng::seed_from_u64(seed)
}

fn accounts() -> (Account, Account) {
    (
        Account::from_ed25519_seed(&[0xa1; 32]),
        Account::from_ed25519_seed(&[0xb0; 32]),
    )
}

fn hello() -> Content {
    Content::new(Message::Visible(VisibleMessage::text("hello Bob")))
}

#[test]
fn alice_to_bob_through_the_swarm() {
    let (alice, bob) = accounts();
    let data = encrypt_for_swarm(&alice, &bob.session_id(), &hello(), SENT_MS, &mut rng()).unwrap();

    let received = decrypt_from_swarm(&bob, &data).unwrap();
    assert_eq!(received.sender, alice.session_id());
    assert_eq!(received.sender_ed25519, alice.ed25519_public());
    assert_eq!(received.envelope.kind, EnvelopeType::SessionMessage);
    assert_eq!(received.envelope.timestamp, SENT_MS);
    assert_eq!(received.envelope.source_device, Some(1));
    // The sent timestamp is signed inside the Content.
    let want = Content {
        sig_timestamp: Some(SENT_MS),
        ..hello()
    };
    assert_eq!(received.content, want);
    assert!(!received.is_sync_copy(&bob.session_id()));

    // Only Bob can read it.
    let carol = Account::from_ed25519_seed(&[0xc0; 32]);
    assert!(matches!(
        decrypt_from_swarm(&carol, &data),
        Err(ReceiveError::Decrypt(DecryptError::NotAuthentic { .. }))
    ));
}

/// Where the session-protocol ciphertext sits inside the framed bytes.
fn ciphertext_range(framed: &[u8], ciphertext: &[u8]) -> std::ops::Range<usize> {
    let start = framed
        .windows(ciphertext.len())
        .position(|w| w == ciphertext)
        .unwrap();
    start..start + ciphertext.len()
}

#[test]
fn tampering_with_any_byte_is_caught_or_changes_nothing() {
    let (alice, bob) = accounts();
    let data = encrypt_for_swarm(&alice, &bob.session_id(), &hello(), SENT_MS, &mut rng()).unwrap();
    let framed = STANDARD.decode(&data).unwrap();
    let original = decrypt_from_swarm(&bob, &data).unwrap();
    let sealed = ciphertext_range(&framed, &original.envelope.content);

    let (mut rejected, mut ignored) = (0, Vec::new());
    for i in 0..framed.len() {
        for bit in 0..8 {
            let mut bad = framed.clone();
            bad[i] ^= 1 << bit;
            match decrypt_from_swarm(&bob, STANDARD.encode(&bad)) {
                Err(_) => rejected += 1,
                Ok(got) => {
                    // Every byte of the ciphertext (which holds the signature) is authenticated.
                    assert!(
                        !sealed.contains(&i),
                        "ciphertext byte {i} bit {bit} accepted"
                    );
                    // Elsewhere a change may only touch what receivers ignore: the message, its
                    // sender and its timestamp stay the same.
                    assert_eq!(got.content, original.content, "byte {i} bit {bit}");
                    assert_eq!(got.sender, original.sender);
                    assert_eq!(got.envelope.timestamp, original.envelope.timestamp);
                    assert_eq!(got.envelope.content, original.envelope.content);
                    ignored.push(i);
                }
            }
        }
    }
    ignored.dedup();
    println!(
        "{rejected} of {} single-bit flips rejected; accepted unchanged only at framing bytes {ignored:?} \
         (WebSocket type/verb/path/requestId, Envelope sourceDevice: unauthenticated and unread)",
        framed.len() * 8
    );
    // The flips that are accepted are confined to the few framing bytes receivers do not read.
    assert!(ignored.len() < 16, "{ignored:?}");

    // Truncations and junk are typed errors too.
    for len in 0..framed.len() {
        assert!(decrypt_from_swarm(&bob, STANDARD.encode(&framed[..len])).is_err());
    }
    assert_eq!(
        decrypt_from_swarm(&bob, "not base64!").unwrap_err(),
        ReceiveError::Decode(DecodeError::Base64)
    );
}

#[test]
fn a_bad_signature_or_sender_key_inside_the_box_is_rejected() {
    let (alice, bob) = accounts();
    let message = hello().to_padded_bytes();
    let a = alice.ed25519_public();
    let signed = [&message[..], a.as_bytes(), bob.x25519_public().as_bytes()].concat();
    let sig = alice.ed25519_secret().sign(&signed).0;
    let frame = |parts: &[&[u8]]| {
        let ct = seal(&bob.x25519_public(), &parts.concat(), &mut rng()).unwrap();
        frame_for_swarm(
            &Envelope::one_to_one(SENT_MS, ct, WireStyle::Libsession),
            WireStyle::Libsession,
        )
    };
    assert!(decrypt_from_swarm(&bob, frame(&[&message, a.as_bytes(), &sig])).is_ok());
    for i in 0..sig.len() {
        let mut bad = sig;
        bad[i] ^= 0x80;
        assert!(
            matches!(
                decrypt_from_swarm(&bob, frame(&[&message, a.as_bytes(), &bad])),
                Err(ReceiveError::Decrypt(
                    DecryptError::BadSignature | DecryptError::InvalidSenderKey
                ))
            ),
            "signature byte {i}"
        );
    }
    let mallory = Account::from_ed25519_seed(&[0x66; 32]).ed25519_public();
    assert_eq!(
        decrypt_from_swarm(&bob, frame(&[&message, mallory.as_bytes(), &sig])).unwrap_err(),
        ReceiveError::Decrypt(DecryptError::BadSignature)
    );
}

#[test]
fn the_envelope_timestamp_is_bound_to_the_signed_one() {
    let (alice, bob) = accounts();
    let data = encrypt_for_swarm(&alice, &bob.session_id(), &hello(), SENT_MS, &mut rng()).unwrap();
    let mut envelope = unframe_from_swarm(&data).unwrap();
    envelope.timestamp += 1;
    assert_eq!(
        decrypt_from_swarm(&bob, frame_for_swarm(&envelope, WireStyle::Libsession)).unwrap_err(),
        ReceiveError::TimestampMismatch {
            envelope: SENT_MS + 1,
            signed: SENT_MS
        }
    );
    envelope.timestamp -= 1;
    envelope.kind = EnvelopeType::ClosedGroupMessage;
    assert_eq!(
        decrypt_from_swarm(&bob, frame_for_swarm(&envelope, WireStyle::Libsession)).unwrap_err(),
        ReceiveError::NotOneToOne(EnvelopeType::ClosedGroupMessage)
    );
    // A sender cannot sign one time and send another.
    let signed_earlier = Content {
        sig_timestamp: Some(SENT_MS - 1),
        ..hello()
    };
    assert_eq!(
        encrypt_for_swarm(
            &alice,
            &bob.session_id(),
            &signed_earlier,
            SENT_MS,
            &mut rng()
        ),
        Err(EncryptError::TimestampMismatch {
            content: SENT_MS - 1,
            sent: SENT_MS
        })
    );
}

#[test]
fn sync_copies_go_to_the_sender_with_a_sync_target() {
    let (alice, bob) = accounts();
    let data = encrypt_sync_copy(&alice, &bob.session_id(), &hello(), SENT_MS, &mut rng()).unwrap();
    assert!(decrypt_from_swarm(&bob, &data).is_err());
    let copy = decrypt_from_swarm(&alice, &data).unwrap();
    assert_eq!(copy.sender, alice.session_id());
    assert_eq!(
        copy.content.sync_target(),
        Some(&PrefixedId::from(bob.session_id()))
    );
    assert!(copy.is_sync_copy(&alice.session_id()));
    let typing = Content::new(Message::Typing(Typing {
        timestamp: SENT_MS,
        action: TypingAction::Started,
        unknown: UnknownFields::default(),
    }));
    assert_eq!(
        encrypt_sync_copy(&alice, &bob.session_id(), &typing, SENT_MS, &mut rng()),
        Err(EncryptError::NotSyncable)
    );
}

#[test]
fn old_desktop_framing_is_read_too() {
    let (alice, bob) = accounts();
    let style = WireStyle::DesktopLegacy;
    let plaintext = pad_with(&hello().to_bytes(), style.padding());
    let ct = encrypt_for_recipient_deterministic(
        alice.ed25519_secret(),
        &bob.x25519_public(),
        &plaintext,
    )
    .unwrap();
    let data = frame_for_swarm(&Envelope::one_to_one(SENT_MS, ct, style), style);
    let received = decrypt_from_swarm(&bob, &data).unwrap();
    assert_eq!(received.content, hello());
    assert_eq!(received.envelope.source_device, None);
    let wrapper = WebSocketMessage::try_from(STANDARD.decode(&data).unwrap().as_slice()).unwrap();
    let request = wrapper.request.unwrap();
    assert_eq!(request.verb.as_deref(), Some("PUT"));
    assert_eq!(request.path.as_deref(), Some("/api/v1/message"));
}

#[test]
fn envelope_checks() {
    let (alice, bob) = accounts();
    let ct =
        encrypt_for_recipient_deterministic(alice.ed25519_secret(), &bob.x25519_public(), b"x")
            .unwrap();
    let envelope = Envelope::one_to_one(SENT_MS, ct, WireStyle::Libsession);
    let bytes = envelope.to_bytes();
    assert_eq!(Envelope::try_from(bytes.as_slice()).unwrap(), envelope);
    assert_eq!(
        decrypt_incoming(&bob, &envelope.content).unwrap().plaintext,
        b"x"
    );

    // type 1, timestamp 5 and content 8 are required.
    for (bytes, field) in [
        (&[0x28, 0x01, 0x42, 0x01, 0x00][..], "Envelope.type"),
        (&[0x08, 0x06, 0x42, 0x01, 0x00][..], "Envelope.timestamp"),
        (&[0x08, 0x06, 0x28, 0x01][..], "Envelope.content"),
    ] {
        assert_eq!(
            Envelope::try_from(bytes),
            Err(DecodeError::MissingField { field })
        );
    }
    // proSig must be 64 bytes; an empty source is kept as it came.
    let short_sig = [0x08, 0x06, 0x28, 0x01, 0x42, 1, 0, 0x5a, 2, 0, 0];
    assert_eq!(
        Envelope::try_from(&short_sig[..]),
        Err(DecodeError::Length {
            field: "Envelope.proSig",
            expected: 64,
            found: 2
        })
    );
    let empty_source = [0x08, 0x06, 0x12, 0x00, 0x28, 0x01, 0x42, 1, 0];
    let env = Envelope::try_from(&empty_source[..]).unwrap();
    assert_eq!(env.source, None);
    assert_eq!(env.to_bytes(), empty_source);
    // A WebSocketMessage without a request or body carries nothing.
    for (bytes, field) in [
        (vec![0x08, 0x01], "WebSocketMessage.request"),
        (vec![0x12, 0x02, 0x0a, 0x00], "WebSocketRequestMessage.body"),
    ] {
        assert_eq!(
            unframe_from_swarm(STANDARD.encode(bytes)),
            Err(DecodeError::MissingField { field })
        );
    }
}
