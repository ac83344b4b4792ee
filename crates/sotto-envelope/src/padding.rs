//! Message padding: serialized Content is padded before encryption so ciphertext lengths reveal
//! little. Both rules append `0x80` and then zero bytes; they differ in the total length.

/// The padding block of 1:1 and community messages.
pub const PADDING_BLOCK: usize = 160;

/// The byte that ends the message and starts the padding.
const TERMINATOR: u8 = 0x80;

/// The two padding length rules in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PaddingRule {
    /// libsession (2025+), used when sending: the message, the `0x80` byte and then zeros up to
    /// the next multiple of 160 (a whole extra block when message + `0x80` fill one exactly).
    #[default]
    Current,
    /// Session desktop before October 2025: one byte less than a multiple of 160, at least two
    /// bytes more than the message (10 bytes → 159).
    DesktopLegacy,
}

/// The padded length of a message of `len` bytes.
#[must_use]
pub fn padded_len(len: usize, rule: PaddingRule) -> usize {
    match rule {
        PaddingRule::Current => {
            (len.saturating_add(1) / PADDING_BLOCK + 1).saturating_mul(PADDING_BLOCK)
        }
        PaddingRule::DesktopLegacy => len
            .saturating_add(2)
            .div_ceil(PADDING_BLOCK)
            .saturating_mul(PADDING_BLOCK)
            .saturating_sub(1),
    }
}

/// Pads with the current rule.
#[must_use]
pub fn pad(message: &[u8]) -> Vec<u8> {
    pad_with(message, PaddingRule::Current)
}

/// Pads with a chosen rule.
#[must_use]
pub fn pad_with(message: &[u8], rule: PaddingRule) -> Vec<u8> {
    let mut out = Vec::with_capacity(padded_len(message.len(), rule));
    out.extend_from_slice(message);
    out.push(TERMINATOR);
    out.resize(padded_len(message.len(), rule).max(out.len()), 0);
    out
}

/// Removes padding of either rule. Data without padding (its last non-zero byte is not `0x80`,
/// or it is all zeros) is returned unchanged, as old desktop clients did: a protobuf can end in
/// zero bytes of its own.
#[must_use]
pub fn unpad(data: &[u8]) -> &[u8] {
    let content_end = data.iter().rposition(|&b| b != 0);
    match content_end {
        Some(i) if data.get(i) == Some(&TERMINATOR) => data.get(..i).unwrap_or(data),
        _ => data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lengths_of_both_rules() {
        for (len, legacy, current) in [
            (0, 159, 160),
            (10, 159, 160),
            (157, 159, 160),
            (158, 159, 160),
            (159, 319, 320),
            (160, 319, 320),
            (318, 319, 320),
            (319, 479, 480),
        ] {
            assert_eq!(padded_len(len, PaddingRule::DesktopLegacy), legacy, "{len}");
            assert_eq!(padded_len(len, PaddingRule::Current), current, "{len}");
        }
    }

    #[test]
    fn unpadded_data_is_left_alone() {
        // A typing message ends in a zero byte (action STARTED = 0).
        let typing = [0x32, 0x04, 0x08, 0x01, 0x10, 0x00];
        assert_eq!(unpad(&typing), typing);
        assert_eq!(unpad(&[]), &[] as &[u8]);
        assert_eq!(unpad(&[0, 0, 0]), &[0, 0, 0]);
        assert_eq!(unpad(&[1, 2, 0x80]), &[1, 2]);
        assert_eq!(unpad(&[0x80, 0, 0]), &[] as &[u8]);
    }

    proptest! {
        #[test]
        fn pad_then_unpad_round_trips(message in proptest::collection::vec(any::<u8>(), 0..700)) {
            for rule in [PaddingRule::Current, PaddingRule::DesktopLegacy] {
                let padded = pad_with(&message, rule);
                prop_assert_eq!(padded.len(), padded_len(message.len(), rule));
                prop_assert!(padded.len() > message.len());
                match rule {
                    PaddingRule::Current => prop_assert_eq!(padded.len() % PADDING_BLOCK, 0),
                    _ => prop_assert_eq!(padded.len() % PADDING_BLOCK, PADDING_BLOCK - 1),
                }
                prop_assert_eq!(unpad(&padded), &message[..]);
            }
        }
    }
}
