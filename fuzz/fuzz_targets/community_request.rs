//! The community server's request handling: path routing, X-SOGS auth headers, query strings
//! and JSON bodies (including batch subrequests), against an in-memory database with one room.
//! Input: `METHOD\nPATH\nNAME:VALUE\tNAME:VALUE…\nBODY`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_community::{ApiRequest, Community, CommunityOptions};

thread_local! {
    static COMMUNITY: Community = {
        let c = Community::in_memory(&[7; 32], CommunityOptions::default()).unwrap();
        c.add_room("lobby", "Lobby", None).unwrap();
        c
    };
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let method = parts.next().unwrap_or("GET").to_owned();
    let path = parts.next().unwrap_or("/").to_owned();
    let headers: Vec<(String, String)> = parts
        .next()
        .unwrap_or("")
        .split('\t')
        .filter_map(|h| h.split_once(':'))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    let body = parts.next().unwrap_or("").as_bytes().to_vec();
    let _ = sotto_community::auth::parse_headers(&headers, false);
    let _ = sotto_community::auth::signed_path(&path);
    let req = ApiRequest::new(method, path, headers, body);
    let resp = COMMUNITY.with(|c| c.handle_blocking(&req));
    assert!((100..600).contains(&resp.status));
    assert!(resp.status != 500, "internal error on fuzz input");
});
