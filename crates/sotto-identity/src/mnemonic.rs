//! The 13-word recovery phrase (Electrum v1 / Monero English word list, 1626 words).
//!
//! Every 4 bytes become three words; a 13th word is a checksum over the first three letters of the
//! others. Only the first three letters of a word count, so typos after them still decode.

use std::collections::HashMap;
use std::sync::OnceLock;

use thiserror::Error;
use zeroize::Zeroizing;

/// Number of words in the list.
pub const WORD_COUNT: usize = 1626;
/// How many leading characters identify a word.
pub const PREFIX_LEN: usize = 3;

const N: u64 = WORD_COUNT as u64;
const ENGLISH: &str = include_str!("../data/english.txt");

/// Why a phrase could not be encoded or decoded. Positions are 1-based, as a person counts words.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MnemonicError {
    /// Only data whose length is a multiple of 4 bytes can be encoded.
    #[error("cannot encode {len} bytes: the length must be a multiple of 4")]
    DataLength {
        /// The length given.
        len: usize,
    },
    /// A phrase has 3k words (no checksum) or 3k + 1 (with checksum), and at least 3.
    #[error("a recovery phrase has 13 words (or 12 without the checksum word), got {found}")]
    WordCount {
        /// The number of words found.
        found: usize,
    },
    /// A word whose first three letters match no word in the list.
    #[error("word {position} ({word:?}) is not in the word list")]
    UnknownWord {
        /// The word's position.
        position: usize,
        /// The word as typed.
        word: String,
    },
    /// The last word does not match the checksum of the others.
    #[error(
        "the checksum word (word {position}, {word:?}) does not match the other words: one of them \
         is mistyped or out of order"
    )]
    Checksum {
        /// The checksum word's position.
        position: usize,
        /// The checksum word as typed.
        word: String,
    },
    /// Three words that encode a value that does not fit in 4 bytes.
    #[error("words {first} to {last} do not form a valid group: one of them is mistyped")]
    InvalidGroup {
        /// Position of the first word of the group.
        first: usize,
        /// Position of the last word of the group.
        last: usize,
    },
    /// The phrase decoded, but not to a key of a usable length.
    #[error("the phrase encodes {len} bytes; an account needs 16 (13 words) or 32 (25 words)")]
    SeedLength {
        /// The decoded length.
        len: usize,
    },
}

struct WordList {
    words: Vec<&'static str>,
    by_prefix: HashMap<&'static str, u64>,
}

fn word_list() -> &'static WordList {
    static LIST: OnceLock<WordList> = OnceLock::new();
    LIST.get_or_init(|| {
        let words: Vec<&'static str> = ENGLISH.lines().filter(|w| !w.is_empty()).collect();
        let by_prefix = words
            .iter()
            .zip(0u64..)
            .map(|(w, i)| (prefix(w), i))
            .collect();
        WordList { words, by_prefix }
    })
}

/// The first [`PREFIX_LEN`] characters of a word (the whole word if it is shorter).
fn prefix(word: &str) -> &str {
    word.char_indices()
        .nth(PREFIX_LEN)
        .map_or(word, |(end, _)| word.get(..end).unwrap_or(word))
}

/// The embedded English word list, in order.
#[must_use]
pub fn words() -> &'static [&'static str] {
    &word_list().words
}

fn word(index: u64) -> &'static str {
    usize::try_from(index)
        .ok()
        .and_then(|i| words().get(i))
        .copied()
        .unwrap_or_default()
}

/// Index of the checksum word among `data_words` (CRC-32 of the concatenated prefixes, mod count).
fn checksum_index<'a>(data_words: impl ExactSizeIterator<Item = &'a str>) -> usize {
    let count = data_words.len();
    let mut crc = crc32fast::Hasher::new();
    for w in data_words {
        crc.update(prefix(w).as_bytes());
    }
    usize::try_from(crc.finalize()).unwrap_or(0) % count.max(1)
}

/// Encodes bytes (a multiple of 4 long) as words, appending the checksum word if asked.
pub fn encode(data: &[u8], with_checksum: bool) -> Result<Zeroizing<String>, MnemonicError> {
    if !data.len().is_multiple_of(4) || data.is_empty() {
        return Err(MnemonicError::DataLength { len: data.len() });
    }
    let mut out: Vec<&'static str> = Vec::with_capacity(data.len() / 4 * 3 + 1);
    for chunk in data.chunks_exact(4) {
        let mut group = [0u8; 4];
        group.copy_from_slice(chunk);
        let x = u64::from(u32::from_le_bytes(group));
        let w1 = x % N;
        let w2 = (x / N + w1) % N;
        let w3 = (x / N / N + w2) % N;
        out.extend([word(w1), word(w2), word(w3)]);
    }
    if with_checksum {
        let idx = checksum_index(out.iter().copied());
        if let Some(&w) = out.get(idx) {
            out.push(w);
        }
    }
    Ok(Zeroizing::new(out.join(" ")))
}

/// Decodes a phrase: 3k words, or 3k + 1 with a checksum word. Words are matched by their first
/// three letters, ignoring ASCII case.
pub fn decode(phrase: &str) -> Result<Zeroizing<Vec<u8>>, MnemonicError> {
    let typed: Zeroizing<Vec<String>> = Zeroizing::new(
        phrase
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect(),
    );
    let count = typed.len();
    let has_checksum = match count % 3 {
        _ if count < 3 => return Err(MnemonicError::WordCount { found: count }),
        0 => false,
        1 => true,
        _ => return Err(MnemonicError::WordCount { found: count }),
    };
    let list = word_list();
    let mut indices = Zeroizing::new(Vec::with_capacity(count));
    for (position, w) in typed.iter().enumerate() {
        let index =
            list.by_prefix
                .get(prefix(w))
                .copied()
                .ok_or_else(|| MnemonicError::UnknownWord {
                    position: position + 1,
                    word: w.clone(),
                })?;
        indices.push(index);
    }
    let data_len = if has_checksum { count - 1 } else { count };
    let (data, check) = indices.split_at(data_len);
    if let Some(&check) = check.first() {
        let expected = checksum_index(data.iter().map(|&i| word(i)));
        if data.get(expected) != Some(&check) {
            let word = typed.last().cloned().unwrap_or_default();
            return Err(MnemonicError::Checksum {
                position: count,
                word,
            });
        }
    }
    let mut out = Zeroizing::new(Vec::with_capacity(data_len / 3 * 4));
    for (group, triple) in data.chunks_exact(3).enumerate() {
        let &[w1, w2, w3] = triple else { continue };
        let x = w1 + N * ((N + w2 - w1) % N) + N * N * ((N + w3 - w2) % N);
        let value = u32::try_from(x).map_err(|_| MnemonicError::InvalidGroup {
            first: group * 3 + 1,
            last: group * 3 + 3,
        })?;
        out.extend_from_slice(&value.to_le_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn word_list_is_the_published_one() {
        let joined = words().join("\n");
        assert_eq!(words().len(), WORD_COUNT);
        assert_eq!(
            hex::encode(Sha256::digest(joined.as_bytes())),
            "998df55cb16d2318130c5cf7e9d4408247c8c4674935ee6e07d53f2f00ccf19b"
        );
        assert_eq!(
            word_list().by_prefix.len(),
            WORD_COUNT,
            "prefixes must be unique"
        );
    }

    #[test]
    fn errors_name_the_word() {
        let phrase =
            "amaze buffet cake entrance symptoms tiger lamb maze nestle python dusted faxed";
        let bad = phrase.replace("tiger", "qqqq");
        assert_eq!(
            decode(&bad).unwrap_err(),
            MnemonicError::UnknownWord {
                position: 6,
                word: "qqqq".into()
            }
        );
        let wrong_check = format!("{phrase} amaze");
        assert!(matches!(
            decode(&wrong_check),
            Err(MnemonicError::Checksum { position: 13, .. })
        ));
        assert_eq!(
            decode("abbey abbey"),
            Err(MnemonicError::WordCount { found: 2 })
        );
        assert_eq!(
            decode("abbey abbey zoom"),
            Err(MnemonicError::InvalidGroup { first: 1, last: 3 })
        );
        assert_eq!(
            encode(&[1, 2, 3], true).unwrap_err(),
            MnemonicError::DataLength { len: 3 }
        );
    }

    proptest! {
        #[test]
        fn phrase_survives_encode_decode(seed in proptest::array::uniform16(any::<u8>()), checksum: bool) {
            let phrase = encode(&seed, checksum).unwrap();
            prop_assert_eq!(phrase.split(' ').count(), if checksum { 13 } else { 12 });
            prop_assert_eq!(decode(&phrase).unwrap().to_vec(), seed.to_vec());
            // Case and typos after the third letter do not matter.
            let sloppy: Vec<String> =
                phrase.split(' ').map(|w| format!("{}xyz", w.to_uppercase())).collect();
            prop_assert_eq!(decode(&sloppy.join("  ")).unwrap().to_vec(), seed.to_vec());
        }

        #[test]
        fn decode_never_panics(text in "\\PC{0,200}") {
            let _ = decode(&text);
        }
    }
}
