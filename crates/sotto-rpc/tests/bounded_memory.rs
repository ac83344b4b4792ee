//! Parsing untrusted bodies allocates memory linear in the bytes present, never in a length
//! or count the input merely claims. A capped allocator holds each parse of an adversarial
//! input of about 1 MiB (and of bodies that claim far more than they carry) to a budget of
//! [`MAX_FACTOR`] bytes per input byte; going over aborts the test. Kept in its own test binary
//! (one test) so that the allocator sees nothing else.

use cap::Cap;
use sotto_rpc::replication::parse_blob;
use sotto_rpc::request::Encoding;
use sotto_rpc::response::RetrieveResponse;
use sotto_rpc::{Method, Request};

#[global_allocator]
static ALLOCATOR: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

/// Runs `f` with at most `budget` more bytes allocatable: going over aborts the test binary
/// (the allocator refuses, and the allocation error handler aborts). Returns the growth of the
/// all-time peak, a lower bound of `f`'s own peak (exact for the first and the largest case).
fn within(budget: usize, f: impl FnOnce()) -> usize {
    let before = ALLOCATOR.max_allocated();
    let base = ALLOCATOR.allocated();
    assert!(
        ALLOCATOR.set_limit(base + budget).is_ok(),
        "cannot set the limit"
    );
    f();
    assert!(
        ALLOCATOR.set_limit(usize::MAX).is_ok(),
        "cannot lift the limit"
    );
    ALLOCATOR.max_allocated().saturating_sub(before.max(base))
}

/// The most parse memory per input byte any input may cost. Pathological JSON such as
/// `[0,0,0,…]` holds one 32-byte tree node per two input bytes, bencode `lelele…` one per two
/// bytes too; measured alone at 1 MiB these peak at about 14× and 10×. The bound leaves room
/// for vector growth at unlucky sizes.
const MAX_FACTOR: usize = 32;
const SLACK: usize = 64 * 1024;

fn repeat(prefix: &str, item: &str, sep: &str, suffix: &str, len: usize) -> Vec<u8> {
    let mut out = prefix.as_bytes().to_vec();
    while out.len() + item.len() + sep.len() + suffix.len() < len {
        out.extend_from_slice(item.as_bytes());
        out.extend_from_slice(sep.as_bytes());
    }
    out.extend_from_slice(item.as_bytes());
    out.extend_from_slice(suffix.as_bytes());
    out
}

/// What is parsed, the input, and the parse (which asserts its outcome).
type Case = (&'static str, Vec<u8>, Box<dyn Fn(&[u8])>);

#[test]
fn parsing_memory_is_linear_in_the_input() {
    const MIB: usize = 1 << 20;
    let hash = "\"4sMyAuaZlMwww3oFvfhazfw7ASx/7TDtO+TVc8aAjHs\"";
    let cases: Vec<Case> = vec![
        (
            "json: tiny values in an unknown field",
            repeat(r#"{"method":"info","params":{"x":["#, "0", ",", "]}}", MIB),
            Box::new(|b| assert!(Request::from_http_body(b).is_ok())),
        ),
        (
            "json: nested empty lists",
            repeat(r#"{"method":"info","params":{"x":["#, "[]", ",", "]}}", MIB),
            Box::new(|b| assert!(Request::from_http_body(b).is_ok())),
        ),
        (
            "json: many hashes to delete",
            repeat(
                r#"{"method":"delete","params":{"pubkey":"0599a7ba6e8f0a3ec82d4ee16b0f1a43aca1a9d3bc2e6ffc23f2b72d7bb34e2a2f","signature":"B5p6kXlGcqh6x6H5yGt3wN8bP9l0b2dAXdmA1N5GU6pyz7V/4A7XKbGx4ZrY0xXj8Zs6nRRvXH4oE6v7v1+dAg","messages":["#,
                hash,
                ",",
                "]}}",
                MIB,
            ),
            Box::new(|b| assert!(Request::from_http_body(b).is_ok())),
        ),
        (
            "bencode: tiny values in an unknown field",
            repeat("d1:xl", "i0e", "", "ee", MIB),
            Box::new(|b| assert!(Request::from_command("info", b).is_ok())),
        ),
        (
            "bencode: nested empty lists",
            repeat("d1:xl", "le", "", "ee", MIB),
            Box::new(|b| assert!(Request::from_command("info", b).is_ok())),
        ),
        (
            "bencode: a byte string claiming 2^40 bytes",
            b"d4:data1099511627776:abce".to_vec(),
            Box::new(|b| assert!(Request::from_command("store", b).is_err())),
        ),
        (
            "replication blob: many empty messages",
            [vec![1u8], repeat("l", "l0:0:i0ei0e0:e", "", "e", MIB)].concat(),
            Box::new(|b| assert!(parse_blob(b).is_err())),
        ),
        (
            "retrieve response: many small messages",
            repeat(
                r#"{"more":false,"messages":["#,
                r#"{"hash":"4sMyAuaZlMwww3oFvfhazfw7ASx/7TDtO+TVc8aAjHs","timestamp":1,"expiration":2,"data":""}"#,
                ",",
                "]}",
                MIB,
            ),
            Box::new(|b| assert!(RetrieveResponse::parse(b, Encoding::Json).is_ok())),
        ),
        (
            "every method on 1 MiB of commas",
            vec![b','; MIB],
            Box::new(|b| {
                for m in Method::ALL {
                    assert!(Request::from_command(m.name(), b).is_err());
                }
            }),
        ),
    ];
    for (what, input, parse) in cases {
        let budget = MAX_FACTOR * input.len() + SLACK;
        let grew = within(budget, || parse(&input));
        println!("{what}: {} input bytes, peak ≥ {grew} bytes", input.len());
    }
}
