//! The account file: where it lives, its JSON format, and passphrase encryption of the seed.
//!
//! One account is one directory holding `account.json`:
//!
//! ```json
//! { "version": 1, "session_id": "05…", "seed": "<hex>" }
//! ```
//!
//! `seed` is the 16-byte recovery seed in hex when the account has one, else the full 32-byte
//! Ed25519 seed. With a passphrase it is instead an object
//!
//! ```json
//! { "kdf": "argon2id", "params": { "m_cost_kib": 65536, "t_cost": 3, "p_cost": 1 },
//!   "salt": "<hex>", "nonce": "<hex, 24 bytes>", "ciphertext": "<hex>" }
//! ```
//!
//! where the key is Argon2id (version 0x13, 32-byte output) of the passphrase and salt, and
//! `ciphertext` is XChaCha20-Poly1305 of the raw seed bytes with the Session ID (its 66 ASCII hex
//! characters) as associated data. The Session ID stays in clear so that `sotto id` needs no
//! passphrase; binding it as associated data means it cannot be swapped without detection.
//!
//! Files are written atomically (temporary file, fsync, rename, fsync of the directory) with mode
//! 0600 in a directory of mode 0700.

use core::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::CryptoRngCore;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sotto_crypto::{
    CryptoError, SecretBytes, SymmetricKey, XCHACHA_NONCE_LEN, xchacha20poly1305_decrypt,
    xchacha20poly1305_encrypt,
};
use sotto_identity::{Account, RecoverySeed, SessionId};
use zeroize::Zeroizing;

/// Name of the account file inside the data directory.
pub const ACCOUNT_FILE: &str = "account.json";
/// The account file format this code writes and reads.
pub const FORMAT_VERSION: u64 = 1;
/// Name of the only key derivation function in format version 1.
const KDF_NAME: &str = "argon2id";
/// Salt length for new files; files may carry 16 to 64 bytes.
const SALT_LEN: usize = 16;
/// An account file is a few hundred bytes; refuse to read anything absurdly large.
const MAX_FILE_LEN: u64 = 64 * 1024;

/// Why the account file could not be read, written or unlocked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// There is no account file in the directory.
    #[error("no account in {}: run `sotto account new` or `sotto account restore`", dir.display())]
    NoAccount {
        /// The data directory that was searched.
        dir: PathBuf,
    },
    /// Refused to replace an existing account.
    #[error(
        "an account already exists in {}: pass --force to replace it (the old account is lost \
         unless you have its recovery phrase)",
        path.display()
    )]
    AlreadyExists {
        /// The existing account file.
        path: PathBuf,
    },
    /// A file system operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done, as a verb phrase.
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The file is not JSON of the expected shape.
    #[error("{} is not a valid account file", path.display())]
    Malformed {
        /// The account file.
        path: PathBuf,
        /// The parser's error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The file was written by a newer (or unknown) format version.
    #[error(
        "{} has format version {found}, but this sotto reads version {FORMAT_VERSION}: upgrade sotto",
        path.display()
    )]
    UnsupportedVersion {
        /// The account file.
        path: PathBuf,
        /// The version found in the file.
        found: u64,
    },
    /// The file parsed but holds values that cannot be right.
    #[error("{} is damaged: {reason}", path.display())]
    Damaged {
        /// The account file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// The seed is encrypted and no passphrase was given.
    #[error("the account is protected by a passphrase, and none was given")]
    PassphraseRequired,
    /// Decryption failed: the passphrase is wrong (or the file was altered).
    #[error("wrong passphrase (or the account file was altered): check it and try again")]
    WrongPassphrase,
    /// The decrypted or stored seed does not belong to the stored Session ID.
    #[error("the seed does not match the Session ID {session_id}: the account file is damaged")]
    SeedMismatch {
        /// The Session ID stored in the file.
        session_id: SessionId,
    },
    /// The passphrase was empty.
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    /// Argon2 parameters out of the accepted range.
    #[error("invalid Argon2 parameters: {0}")]
    KdfParams(&'static str),
    /// Argon2 failed.
    #[error("key derivation (Argon2id) failed: {0}")]
    Kdf(argon2::Error),
    /// The AEAD refused its input.
    #[error("encrypting the seed failed")]
    Encrypt(#[source] CryptoError),
}

/// A passphrase protecting the seed. Zeroized on drop, never printed.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase; refuses an empty one.
    pub fn new(text: Zeroizing<String>) -> Result<Self, StoreError> {
        if text.is_empty() {
            return Err(StoreError::EmptyPassphrase);
        }
        Ok(Self(text))
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(redacted)")
    }
}

/// Argon2id cost parameters, stored in the file so that they can be raised later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes over the memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// The parameters for new files: 64 MiB, 3 passes, 1 lane.
    pub const DEFAULT: Self = Self {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };

    /// Upper bounds accepted when reading, so that a damaged file cannot ask for absurd work.
    const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
    const MAX_T_COST: u32 = 64;
    const MAX_P_COST: u32 = 16;

    fn to_argon2(self) -> Result<Params, &'static str> {
        if self.m_cost_kib > Self::MAX_M_COST_KIB
            || self.t_cost > Self::MAX_T_COST
            || self.p_cost > Self::MAX_P_COST
        {
            return Err("Argon2 parameters are larger than sotto accepts");
        }
        Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32))
            .map_err(|_| "Argon2 parameters are out of range")
    }
}

/// The secret an account is made from: a 16-byte recovery seed or a full 32-byte Ed25519 seed.
enum Seed {
    Recovery(RecoverySeed),
    Full(SecretBytes<32>),
}

impl Seed {
    fn of(account: &Account) -> Self {
        match account.recovery_seed() {
            Some(seed) => Self::Recovery(seed.clone()),
            None => Self::Full(account.ed25519_seed()),
        }
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if let Ok(seed) = <&[u8; 16]>::try_from(bytes) {
            Some(Self::Recovery(RecoverySeed::from_bytes(seed)))
        } else {
            SecretBytes::<32>::from_slice(bytes).ok().map(Self::Full)
        }
    }

    fn expose(&self) -> &[u8] {
        match self {
            Self::Recovery(seed) => seed.expose(),
            Self::Full(seed) => seed.expose(),
        }
    }

    fn account(&self) -> Account {
        match self {
            Self::Recovery(seed) => Account::from_recovery_seed(seed),
            Self::Full(seed) => Account::from_ed25519_seed(seed.expose()),
        }
    }
}

/// An encrypted seed, validated.
struct EncryptedSeed {
    params: KdfParams,
    salt: Vec<u8>,
    nonce: [u8; XCHACHA_NONCE_LEN],
    ciphertext: Vec<u8>,
}

enum SeedState {
    Plain(Seed),
    Encrypted(EncryptedSeed),
}

/// The contents of an account file: the Session ID in clear and the seed, maybe encrypted.
pub struct StoredAccount {
    session_id: SessionId,
    seed: SeedState,
}

impl StoredAccount {
    /// Prepares `account` for storage, encrypting its seed with the default Argon2 parameters if a
    /// passphrase is given.
    pub fn seal(
        account: &Account,
        passphrase: Option<&Passphrase>,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, StoreError> {
        Self::seal_with_params(account, passphrase, KdfParams::DEFAULT, rng)
    }

    /// As [`StoredAccount::seal`], with explicit Argon2 parameters.
    pub fn seal_with_params(
        account: &Account,
        passphrase: Option<&Passphrase>,
        params: KdfParams,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, StoreError> {
        let session_id = account.session_id();
        let seed = Seed::of(account);
        let seed = match passphrase {
            None => SeedState::Plain(seed),
            Some(passphrase) => {
                let mut salt = vec![0u8; SALT_LEN];
                rng.fill_bytes(&mut salt);
                let mut nonce = [0u8; XCHACHA_NONCE_LEN];
                rng.fill_bytes(&mut nonce);
                let key = derive_key(passphrase, &salt, params)?;
                let aad = session_id.to_string();
                let ciphertext =
                    xchacha20poly1305_encrypt(&key, &nonce, aad.as_bytes(), seed.expose())
                        .map_err(StoreError::Encrypt)?;
                SeedState::Encrypted(EncryptedSeed {
                    params,
                    salt,
                    nonce,
                    ciphertext,
                })
            }
        };
        Ok(Self { session_id, seed })
    }

    /// The account's Session ID (readable without the passphrase).
    pub fn session_id(&self) -> SessionId {
        self.session_id
    }

    /// Whether the seed is encrypted with a passphrase.
    pub fn is_encrypted(&self) -> bool {
        matches!(self.seed, SeedState::Encrypted(_))
    }

    /// The Argon2 parameters of an encrypted seed.
    pub fn kdf_params(&self) -> Option<KdfParams> {
        match &self.seed {
            SeedState::Plain(_) => None,
            SeedState::Encrypted(enc) => Some(enc.params),
        }
    }

    /// The account, decrypting the seed if needed. The passphrase is ignored for an unencrypted
    /// seed.
    pub fn unlock(&self, passphrase: Option<&Passphrase>) -> Result<Account, StoreError> {
        let account = match &self.seed {
            SeedState::Plain(seed) => seed.account(),
            SeedState::Encrypted(enc) => {
                let passphrase = passphrase.ok_or(StoreError::PassphraseRequired)?;
                let key = derive_key(passphrase, &enc.salt, enc.params)?;
                let aad = self.session_id.to_string();
                let plain = Zeroizing::new(
                    xchacha20poly1305_decrypt(&key, &enc.nonce, aad.as_bytes(), &enc.ciphertext)
                        .map_err(|_| StoreError::WrongPassphrase)?,
                );
                Seed::from_bytes(&plain)
                    .ok_or(StoreError::SeedMismatch {
                        session_id: self.session_id,
                    })?
                    .account()
            }
        };
        if account.session_id() != self.session_id {
            return Err(StoreError::SeedMismatch {
                session_id: self.session_id,
            });
        }
        Ok(account)
    }

    /// Serialises to the JSON file contents (zeroized on drop: they may hold the seed).
    fn to_json(&self) -> Result<Zeroizing<Vec<u8>>, serde_json::Error> {
        let seed = match &self.seed {
            SeedState::Plain(seed) => SeedRepr::Plain(Zeroizing::new(hex::encode(seed.expose()))),
            SeedState::Encrypted(enc) => SeedRepr::Encrypted(EncryptedRepr {
                kdf: KDF_NAME.to_owned(),
                params: enc.params,
                salt: hex::encode(&enc.salt),
                nonce: hex::encode(enc.nonce),
                ciphertext: hex::encode(&enc.ciphertext),
            }),
        };
        let repr = FileRepr {
            version: FORMAT_VERSION,
            session_id: self.session_id.to_string(),
            seed,
        };
        let mut out = Zeroizing::new(serde_json::to_vec_pretty(&repr)?);
        out.push(b'\n');
        Ok(out)
    }

    /// Parses and validates file contents. `path` is only used in error messages.
    fn from_json(path: &Path, bytes: &[u8]) -> Result<Self, StoreError> {
        let malformed = |source| StoreError::Malformed {
            path: path.to_owned(),
            source,
        };
        let damaged = |reason| StoreError::Damaged {
            path: path.to_owned(),
            reason,
        };

        // Read the version alone first: a future version may change everything else.
        let VersionOnly { version } = serde_json::from_slice(bytes).map_err(malformed)?;
        if version != FORMAT_VERSION {
            return Err(StoreError::UnsupportedVersion {
                path: path.to_owned(),
                found: version,
            });
        }
        let repr: FileRepr = serde_json::from_slice(bytes).map_err(malformed)?;
        let session_id = SessionId::from_str(&repr.session_id)
            .map_err(|_| damaged("`session_id` is not a Session ID"))?;
        let seed = match repr.seed {
            SeedRepr::Plain(text) => {
                let bytes = Zeroizing::new(
                    hex::decode(text.as_str()).map_err(|_| damaged("`seed` is not hex"))?,
                );
                SeedState::Plain(
                    Seed::from_bytes(&bytes).ok_or(damaged("`seed` must be 16 or 32 bytes"))?,
                )
            }
            SeedRepr::Encrypted(enc) => SeedState::Encrypted(enc.validate().map_err(damaged)?),
        };
        let stored = Self { session_id, seed };
        if let SeedState::Plain(seed) = &stored.seed
            && seed.account().session_id() != session_id
        {
            return Err(StoreError::SeedMismatch { session_id });
        }
        Ok(stored)
    }
}

fn derive_key(
    passphrase: &Passphrase,
    salt: &[u8],
    params: KdfParams,
) -> Result<SymmetricKey, StoreError> {
    // Files are checked when read, so this only fails for parameters given in code.
    let params = params.to_argon2().map_err(StoreError::KdfParams)?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut_slice())
        .map_err(StoreError::Kdf)?;
    Ok(SymmetricKey::new(*key))
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRepr {
    version: u64,
    session_id: String,
    seed: SeedRepr,
}

/// The `seed` field: a hex string, or an object when encrypted.
enum SeedRepr {
    Plain(Zeroizing<String>),
    Encrypted(EncryptedRepr),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EncryptedRepr {
    kdf: String,
    params: KdfParams,
    salt: String,
    nonce: String,
    ciphertext: String,
}

impl EncryptedRepr {
    fn validate(self) -> Result<EncryptedSeed, &'static str> {
        if self.kdf != KDF_NAME {
            return Err("unknown `kdf` (format version 1 knows only \"argon2id\")");
        }
        self.params.to_argon2()?;
        let salt = hex::decode(&self.salt).map_err(|_| "`salt` is not hex")?;
        if !(16..=64).contains(&salt.len()) {
            return Err("`salt` must be 16 to 64 bytes");
        }
        let nonce = hex::decode(&self.nonce)
            .ok()
            .and_then(|n| <[u8; XCHACHA_NONCE_LEN]>::try_from(n).ok())
            .ok_or("`nonce` must be 24 bytes of hex")?;
        let ciphertext = hex::decode(&self.ciphertext).map_err(|_| "`ciphertext` is not hex")?;
        if ciphertext.len() != 16 + 16 && ciphertext.len() != 32 + 16 {
            return Err("`ciphertext` must be 32 or 48 bytes");
        }
        Ok(EncryptedSeed {
            params: self.params,
            salt,
            nonce,
            ciphertext,
        })
    }
}

impl Serialize for SeedRepr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Plain(hex) => serializer.serialize_str(hex),
            Self::Encrypted(enc) => enc.serialize(serializer),
        }
    }
}

// Hand-written rather than `#[serde(untagged)]`, which would buffer (and copy) the secret.
impl<'de> Deserialize<'de> for SeedRepr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeedVisitor;

        impl<'de> Visitor<'de> for SeedVisitor {
            type Value = SeedRepr;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a hex seed or an encrypted seed object")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<SeedRepr, E> {
                Ok(SeedRepr::Plain(Zeroizing::new(text.to_owned())))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SeedRepr, A::Error> {
                EncryptedRepr::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(SeedRepr::Encrypted)
            }
        }

        deserializer.deserialize_any(SeedVisitor)
    }
}

/// The directory of one account.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store in `dir` (which need not exist yet).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The account file's path.
    pub fn account_path(&self) -> PathBuf {
        self.dir.join(ACCOUNT_FILE)
    }

    /// Fails with [`StoreError::AlreadyExists`] if there is an account file.
    pub fn ensure_absent(&self) -> Result<(), StoreError> {
        let path = self.account_path();
        match fs::symlink_metadata(&path) {
            Ok(_) => Err(StoreError::AlreadyExists { path }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Io {
                action: "inspect",
                path,
                source,
            }),
        }
    }

    /// Reads and validates the account file (without decrypting the seed).
    pub fn load(&self) -> Result<StoredAccount, StoreError> {
        let path = self.account_path();
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NoAccount {
                    dir: self.dir.clone(),
                });
            }
            Err(source) => {
                return Err(StoreError::Io {
                    action: "open",
                    path,
                    source,
                });
            }
        };
        let mut bytes = Zeroizing::new(Vec::new());
        file.take(MAX_FILE_LEN + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| StoreError::Io {
                action: "read",
                path: path.clone(),
                source,
            })?;
        if bytes.len() as u64 > MAX_FILE_LEN {
            return Err(StoreError::Damaged {
                path,
                reason: "the file is far too large",
            });
        }
        StoredAccount::from_json(&path, &bytes)
    }

    /// Writes the account file atomically. Unless `replace`, fails with
    /// [`StoreError::AlreadyExists`] if there is one already.
    pub fn save(&self, account: &StoredAccount, replace: bool) -> Result<(), StoreError> {
        let path = self.account_path();
        create_private_dir(&self.dir)?;
        let contents = account.to_json().map_err(|source| StoreError::Malformed {
            path: path.clone(),
            source,
        })?;
        let tmp = self
            .dir
            .join(format!(".{ACCOUNT_FILE}.tmp-{}", std::process::id()));
        let result = write_new_private(&tmp, &contents)
            .and_then(|()| install(&tmp, &path, replace))
            .and_then(|()| sync_dir(&self.dir));
        if result.is_err() {
            // Best effort: the temporary file may not exist, or may already be renamed.
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

/// Moves the finished temporary file into place.
fn install(tmp: &Path, path: &Path, replace: bool) -> Result<(), StoreError> {
    let rename = || {
        fs::rename(tmp, path).map_err(|source| StoreError::Io {
            action: "replace",
            path: path.to_owned(),
            source,
        })
    };
    if replace {
        return rename();
    }
    // A hard link never replaces an existing file, so two racing writers cannot clobber.
    match fs::hard_link(tmp, path) {
        Ok(()) => {
            fs::remove_file(tmp).map_err(|source| StoreError::Io {
                action: "remove",
                path: tmp.to_owned(),
                source,
            })?;
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(StoreError::AlreadyExists {
            path: path.to_owned(),
        }),
        // File systems without hard links: check, then rename.
        Err(_) => {
            let store_dir = path.parent().unwrap_or(Path::new("."));
            Store::new(store_dir.to_owned()).ensure_absent()?;
            rename()
        }
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let io_err = |action| {
        move |source| StoreError::Io {
            action,
            path: dir.to_owned(),
            source,
        }
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err("create"))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(io_err("set permissions on"))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(dir).map_err(|source| StoreError::Io {
        action: "create",
        path: dir.to_owned(),
        source,
    })
}

/// Creates `path` (which must not exist) with mode 0600, writes `contents` and fsyncs.
fn write_new_private(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    let io_err = |action| {
        move |source| StoreError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        // A stale temporary file from a crashed run with the same process id.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(path).map_err(io_err("remove stale"))?;
            options.open(path).map_err(io_err("create"))?
        }
        Err(source) => return Err(io_err("create")(source)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io_err("set permissions on"))?;
    }
    file.write_all(contents).map_err(io_err("write"))?;
    file.sync_all().map_err(io_err("sync"))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::Io {
            action: "sync",
            path: dir.to_owned(),
            source,
        })
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), StoreError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_crypto::OsRng;

    const CHEAP: KdfParams = KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    fn pass(text: &str) -> Passphrase {
        Passphrase::new(Zeroizing::new(text.to_owned())).unwrap()
    }

    fn round_trip(stored: &StoredAccount) -> StoredAccount {
        let json = stored.to_json().unwrap();
        StoredAccount::from_json(Path::new("account.json"), &json).unwrap()
    }

    #[test]
    fn plain_round_trip_keeps_the_16_byte_seed() {
        let account = Account::generate(&mut OsRng);
        let stored = StoredAccount::seal(&account, None, &mut OsRng).unwrap();
        let json = stored.to_json().unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["version"], 1);
        assert_eq!(value["session_id"], account.session_id().to_string());
        assert_eq!(value["seed"].as_str().unwrap().len(), 32);
        let back = round_trip(&stored);
        assert!(!back.is_encrypted());
        let restored = back.unlock(None).unwrap();
        assert_eq!(restored.session_id(), account.session_id());
        assert_eq!(*restored.recovery_phrase(), *account.recovery_phrase());
    }

    #[test]
    fn full_32_byte_seed_is_stored_whole() {
        let account = Account::from_ed25519_seed(&[7; 32]);
        let stored = StoredAccount::seal(&account, None, &mut OsRng).unwrap();
        let json = stored.to_json().unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["seed"].as_str().unwrap(), hex::encode([7; 32]));
        let restored = round_trip(&stored).unlock(None).unwrap();
        assert_eq!(restored.session_id(), account.session_id());
    }

    #[test]
    fn encrypted_round_trip_and_wrong_passphrase() {
        let account = Account::generate(&mut OsRng);
        let stored =
            StoredAccount::seal_with_params(&account, Some(&pass("hunter2")), CHEAP, &mut OsRng)
                .unwrap();
        let json = stored.to_json().unwrap();
        let text = std::str::from_utf8(&json).unwrap();
        let seed_hex = hex::encode(account.recovery_seed().unwrap().expose());
        assert!(!text.contains(&seed_hex), "seed leaked in clear: {text}");
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(value["seed"]["kdf"], "argon2id");
        assert_eq!(value["seed"]["params"]["m_cost_kib"], 64);

        let back = round_trip(&stored);
        assert!(back.is_encrypted());
        assert_eq!(back.kdf_params(), Some(CHEAP));
        assert_eq!(back.session_id(), account.session_id());
        let restored = back.unlock(Some(&pass("hunter2"))).unwrap();
        assert_eq!(restored.session_id(), account.session_id());
        assert!(matches!(
            back.unlock(Some(&pass("hunter3"))),
            Err(StoreError::WrongPassphrase)
        ));
        assert!(matches!(
            back.unlock(None),
            Err(StoreError::PassphraseRequired)
        ));
    }

    #[test]
    fn session_id_is_bound_as_associated_data() {
        let a = Account::generate(&mut OsRng);
        let b = Account::generate(&mut OsRng);
        let stored =
            StoredAccount::seal_with_params(&a, Some(&pass("pw")), CHEAP, &mut OsRng).unwrap();
        let json = String::from_utf8(stored.to_json().unwrap().to_vec()).unwrap();
        let swapped = json.replace(&a.session_id().to_string(), &b.session_id().to_string());
        let back = StoredAccount::from_json(Path::new("x"), swapped.as_bytes()).unwrap();
        assert!(matches!(
            back.unlock(Some(&pass("pw"))),
            Err(StoreError::WrongPassphrase)
        ));
    }

    #[test]
    fn rejects_bad_files() {
        let path = Path::new("account.json");
        let id = Account::generate(&mut OsRng).session_id();
        let bad = |text: String| {
            StoredAccount::from_json(path, text.as_bytes())
                .err()
                .unwrap()
        };
        assert!(matches!(
            bad(r#"{"version": 2, "anything": true}"#.into()),
            StoreError::UnsupportedVersion { found: 2, .. }
        ));
        assert!(matches!(
            bad("not json".into()),
            StoreError::Malformed { .. }
        ));
        assert!(matches!(
            bad(format!(
                r#"{{"version":1,"session_id":"{id}","seed":"abcd"}}"#
            )),
            StoreError::Damaged { .. }
        ));
        // A valid seed that belongs to another Session ID.
        let seed = "00".repeat(16);
        assert!(matches!(
            bad(format!(
                r#"{{"version":1,"session_id":"{id}","seed":"{seed}"}}"#
            )),
            StoreError::SeedMismatch { .. }
        ));
        let huge = KdfParams {
            m_cost_kib: u32::MAX,
            ..CHEAP
        };
        let enc = format!(
            r#"{{"version":1,"session_id":"{id}","seed":{{"kdf":"argon2id","params":{},
            "salt":"{}","nonce":"{}","ciphertext":"{}"}}}}"#,
            serde_json::to_string(&huge).unwrap(),
            "00".repeat(16),
            "00".repeat(24),
            "00".repeat(32),
        );
        assert!(matches!(bad(enc), StoreError::Damaged { .. }));
        assert!(matches!(
            bad(format!(
                r#"{{"version":1,"session_id":"{id}","seed":"{}","x":1}}"#,
                "0".repeat(32)
            )),
            StoreError::Malformed { .. }
        ));
    }

    #[test]
    fn store_writes_private_files_and_refuses_to_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("nested/profile"));
        assert!(matches!(store.load(), Err(StoreError::NoAccount { .. })));
        let account = Account::generate(&mut OsRng);
        let stored = StoredAccount::seal(&account, None, &mut OsRng).unwrap();
        store.save(&stored, false).unwrap();
        assert!(matches!(
            store.save(&stored, false),
            Err(StoreError::AlreadyExists { .. })
        ));
        assert!(matches!(
            store.ensure_absent(),
            Err(StoreError::AlreadyExists { .. })
        ));
        store.save(&stored, true).unwrap();
        assert_eq!(store.load().unwrap().session_id(), account.session_id());
        let leftovers: Vec<_> = fs::read_dir(store.dir()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary files left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&store.account_path()), 0o600);
            assert_eq!(mode(store.dir()), 0o700);
        }
    }

    #[test]
    fn empty_passphrase_is_refused() {
        assert!(matches!(
            Passphrase::new(Zeroizing::new(String::new())),
            Err(StoreError::EmptyPassphrase)
        ));
    }
}
