//! The bytes a directory-related signature covers: a context tag naming the use, then every
//! field, each prefixed by its length. No two uses, and no two field sets of one use, give the
//! same bytes (security review S-16: the old strings had no separators, so
//! `127.0.0.11` + `22021` signed the same string as `127.0.0.112` + `2021`).

/// Registration (`POST /register`).
pub const REGISTER_CONTEXT: &str = "sotto-directory-register-v2";
/// Uptime proof (`POST /proof`).
pub const PROOF_CONTEXT: &str = "sotto-directory-proof-v2";
/// The directory's node-list signature.
pub const NODE_LIST_CONTEXT: &str = "sotto-node-list-v2";

/// `len(context) ‖ context ‖ (len(field) ‖ field)…`, every length a 4-byte big-endian number.
#[must_use]
pub fn signed_bytes(context: &str, fields: &[&[u8]]) -> Vec<u8> {
    let total = 4 + context.len() + fields.iter().map(|f| 4 + f.len()).sum::<usize>();
    let mut out = Vec::with_capacity(total);
    for part in core::iter::once(context.as_bytes()).chain(fields.iter().copied()) {
        // Every part here is at most a few dozen bytes; saturate rather than wrap regardless.
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_delimited_and_contexts_differ() {
        assert_ne!(
            signed_bytes("c", &[b"127.0.0.11", b"22021"]),
            signed_bytes("c", &[b"127.0.0.112", b"2021"])
        );
        assert_ne!(signed_bytes("ab", &[b"c"]), signed_bytes("a", &[b"bc"]));
        assert_ne!(
            signed_bytes(REGISTER_CONTEXT, &[b"x"]),
            signed_bytes(PROOF_CONTEXT, &[b"x"])
        );
        assert_eq!(
            signed_bytes("ab", &[b"c", b""]),
            b"\0\0\0\x02ab\0\0\0\x01c\0\0\0\0".to_vec()
        );
    }
}
