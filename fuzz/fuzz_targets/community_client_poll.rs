//! The client's community side on arbitrary input: the first part (up to a 0xff byte) as a
//! join link, which must print back to a link that reads the same; the second as a
//! `messages/since` answer and the third as an inbox answer, applied to a fresh in-memory
//! room. Nothing may panic, and the same answers applied again bring nothing new.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_client::Account;
use sotto_client::community::{Communities, JoinLink, Offline};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0xff);
    let link = parts.next().unwrap_or_default();
    let messages = parts.next().unwrap_or_default();
    let inbox = parts.next().unwrap_or_default();
    if let Ok(text) = std::str::from_utf8(link) {
        if let Ok(parsed) = JoinLink::parse(text) {
            let again = JoinLink::parse(&parsed.to_string()).expect("a printed link reads");
            assert_eq!(again, parsed);
        }
    }
    let comm = Communities::in_memory(Account::from_ed25519_seed(&[2; 32]), Offline)
        .expect("in-memory database");
    let room_link = JoinLink::parse(&format!(
        "http://127.0.0.1:8080/lobby?public_key={}",
        "ab".repeat(32)
    ))
    .expect("a fixed link");
    comm.remember(&room_link).expect("remember");
    let room = comm.room(&room_link).expect("joined");
    if comm.apply_messages(&room, messages).is_ok() {
        let again = comm.apply_messages(&room, messages).expect("applies again");
        assert!(again.new.is_empty());
    }
    if comm.apply_dm_list(&room, inbox, false).is_ok() {
        assert!(comm.apply_dm_list(&room, inbox, false).expect("again").is_empty());
    }
});
