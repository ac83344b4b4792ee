//! Quotes of attachment messages carry Android's `QuotedAttachment` descriptions (content
//! type, file name, voice flag), and received ones are read and kept with the message.

use sotto_crypto::{Ed25519PublicKey, OsRng};
use sotto_identity::Account;
use sotto_rpc::response::RetrievedMessage;

use crate::outgoing::{Context, Outgoing, prepare};
use crate::{Engine, MessageKey, QuoteRef, QuotedFile};

const T: u64 = 1_754_971_101_000;

#[test]
fn a_quote_of_an_attachment_message_describes_its_files_and_they_are_kept() {
    let alice = Account::from_ed25519_seed(&[1; 32]);
    let bob = Account::from_ed25519_seed(&[2; 32]);
    let files = vec![
        QuotedFile {
            content_type: Some("image/jpeg".into()),
            file_name: Some("cat.jpg".into()),
            voice: false,
        },
        QuotedFile {
            content_type: Some("audio/mpeg".into()),
            file_name: None,
            voice: true,
        },
    ];
    let quote = QuoteRef {
        key: MessageKey {
            author: bob.session_id(),
            sent_ms: T - 5_000,
        },
        text: Some("look".into()),
        attachments: files.clone(),
    };
    let outgoing = Outgoing::Text {
        body: "nice".into(),
        quote: Some(quote),
    };
    // On the wire: one QuotedAttachment per file, the voice flag as flag 1.
    let content = outgoing.content(&Context::default(), T);
    let wire = match &content.message {
        sotto_envelope::Message::Visible(v) => v.quote.clone().unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(wire.attachments.len(), 2);
    assert_eq!(wire.attachments[0].file_name.as_deref(), Some("cat.jpg"));
    assert_eq!(wire.attachments[0].flags, None);
    assert_eq!(
        wire.attachments[1].content_type.as_deref(),
        Some("audio/mpeg")
    );
    assert_eq!(wire.attachments[1].flags, Some(1));

    // Bob receives it: the quote's files are read and kept (encrypted at rest with the text).
    let prepared = prepare(
        &alice,
        &bob.session_id(),
        &outgoing,
        &Context::default(),
        T,
        &mut OsRng,
    )
    .unwrap();
    let job = prepared
        .jobs
        .iter()
        .find(|j| j.account == sotto_rpc::AccountId::from(bob.session_id()))
        .unwrap();
    let mut engine = Engine::open_in_memory(bob.clone()).unwrap();
    engine
        .receive(
            &Ed25519PublicKey([1; 32]),
            &[RetrievedMessage {
                hash: job.hash(),
                timestamp: T,
                expiration: job.expiry_ms,
                data: job.data.clone(),
            }],
            T + 1,
        )
        .unwrap();
    let history = engine.messages(&alice.session_id(), 10).unwrap();
    let reply = history
        .iter()
        .find(|m| m.body.as_deref() == Some("nice"))
        .unwrap();
    let kept = reply.quote.as_ref().unwrap();
    assert_eq!(kept.text.as_deref(), Some("look"));
    assert_eq!(kept.attachments, files);
}
