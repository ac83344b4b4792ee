//! Text encodings of binary values as the storage server accepts them.

use base64::Engine as _;
use base64::alphabet::STANDARD as ALPHABET;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard alphabet, no padding on input (it is stripped first), trailing bits ignored.
const DECODER: GeneralPurpose = GeneralPurpose::new(
    &ALPHABET,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Whether `text` is base64 as the storage server accepts it: standard alphabet, padding
/// optional but, if present, one or two `=` completing a multiple of four; never a length of
/// 4n+1.
#[must_use]
pub(crate) fn is_base64(text: &[u8]) -> bool {
    unpadded(text).is_some()
}

/// The base64 digits without their padding, if `text` is acceptable base64.
fn unpadded(text: &[u8]) -> Option<&[u8]> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut digits = text;
    if text.len().is_multiple_of(4) {
        for _ in 0..2 {
            if let Some(rest) = digits.strip_suffix(b"=") {
                digits = rest;
            }
        }
    }
    digits
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
        .then_some(digits)
}

/// Decodes base64, padded or not (see [`is_base64`]).
pub(crate) fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    DECODER.decode(unpadded(text)?).ok()
}

/// Standard padded base64, as the storage server and clients write binary values in JSON.
#[must_use]
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Standard base64 without padding.
#[must_use]
pub(crate) fn encode_base64_unpadded(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// Decodes exactly `N` bytes of hex (either case).
pub(crate) fn decode_hex<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// Exactly `N` bytes of base64 (padded or not).
pub(crate) fn decode_base64_exact<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    decode_base64(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rules() {
        for ok in [
            &b""[..],
            b"ab",
            b"abc",
            b"abcd",
            b"ab==",
            b"abc=",
            b"AAAA",
            b"+/+/",
        ] {
            assert!(is_base64(ok), "{ok:?}");
            assert!(decode_base64(ok).is_some(), "{ok:?}");
        }
        for bad in [
            &b"a"[..],
            b"abcde",
            b"ab=",
            b"a===",
            b"====",
            b"ab=c",
            b"ab-_",
            b"abc==",
            b" abc",
        ] {
            assert!(!is_base64(bad), "{bad:?}");
            assert!(decode_base64(bad).is_none(), "{bad:?}");
        }
        assert_eq!(decode_base64(b"aGk").unwrap(), b"hi");
        assert_eq!(decode_base64(b"aGk=").unwrap(), b"hi");
        // Non-canonical trailing bits are ignored, as the storage server does.
        assert_eq!(decode_base64(b"aGl").unwrap(), b"hi");
        assert_eq!(encode_base64(b"hi"), "aGk=");
        assert_eq!(encode_base64_unpadded(b"hi"), "aGk");
    }

    #[test]
    fn fixed_sizes() {
        assert_eq!(decode_hex::<2>(b"aBcD"), Some([0xab, 0xcd]));
        assert_eq!(decode_hex::<2>(b"abc"), None);
        assert_eq!(decode_hex::<2>(b"abcdef"), None);
        assert_eq!(decode_base64_exact::<2>(b"aGk"), Some(*b"hi"));
        assert_eq!(decode_base64_exact::<3>(b"aGk"), None);
    }
}
