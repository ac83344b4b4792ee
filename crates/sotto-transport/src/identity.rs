//! A process's Ed25519 identity (node or directory): `DATA_DIR/identity.key`, the 32-byte seed
//! as 64 hex digits, file mode 0600, created on first start. Its TLS certificate carries this key.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sotto_crypto::{CryptoRngCore, Ed25519SecretKey};
use thiserror::Error;
use zeroize::Zeroizing;

/// The identity file's name inside the data directory.
pub const IDENTITY_FILE: &str = "identity.key";

/// Why the identity could not be loaded or created.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// Reading, creating or writing the file (or the data directory) failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold 64 hex digits.
    #[error("{path}: expected the 32-byte seed as 64 hex digits")]
    Malformed {
        /// The path.
        path: PathBuf,
    },
    /// Other users may read the file.
    #[error("{path}: mode {mode:o} lets other users read the secret key; run `chmod 600` on it")]
    Permissions {
        /// The path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// The identity and whether it was just created.
pub struct Identity {
    /// The secret key.
    pub key: Ed25519SecretKey,
    /// Whether this call created the file.
    pub created: bool,
}

/// `DATA_DIR/identity.key`.
#[must_use]
pub fn identity_path(data_dir: &Path) -> PathBuf {
    data_dir.join(IDENTITY_FILE)
}

/// Loads the identity from `data_dir`, creating the directory and a fresh key if there is none.
pub fn load_or_create(
    data_dir: &Path,
    rng: &mut impl CryptoRngCore,
) -> Result<Identity, IdentityError> {
    let path = identity_path(data_dir);
    let io = |source| IdentityError::Io {
        path: path.clone(),
        source,
    };
    ensure_private_dir(data_dir).map_err(|source| IdentityError::Io {
        path: data_dir.to_owned(),
        source,
    })?;
    match std::fs::metadata(&path) {
        Ok(_) => Ok(Identity {
            key: load(&path)?,
            created: false,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Ed25519SecretKey::generate(rng);
            let text = Zeroizing::new(format!("{}\n", hex::encode(key.seed().expose())));
            let mut file = open_new_private(&path).map_err(io)?;
            file.write_all(text.as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(Identity { key, created: true })
        }
        Err(e) => Err(io(e)),
    }
}

/// Creates `dir` (and missing parents) readable by its owner only (0700 on Unix), or narrows an
/// existing directory that others could read to 0700: a process's data directory holds its key,
/// its database and metadata about its users.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Loads an existing identity file.
pub fn load(path: &Path) -> Result<Ed25519SecretKey, IdentityError> {
    let io = |source| IdentityError::Io {
        path: path.to_owned(),
        source,
    };
    check_permissions(path)?;
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > 256 {
        return Err(IdentityError::Malformed {
            path: path.to_owned(),
        });
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
    let malformed = || IdentityError::Malformed {
        path: path.to_owned(),
    };
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), bytes.as_mut_slice()).map_err(|_| malformed())?;
    Ok(Ed25519SecretKey::from_seed(&bytes))
}

#[cfg(unix)]
fn open_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), IdentityError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(|source| IdentityError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(IdentityError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_: &Path) -> Result<(), IdentityError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_crypto::OsRng;

    #[test]
    fn created_once_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("process");
        let first = load_or_create(&data, &mut OsRng).unwrap();
        assert!(first.created);
        let again = load_or_create(&data, &mut OsRng).unwrap();
        assert!(!again.created);
        assert_eq!(first.key.public_key(), again.key.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(identity_path(&data))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            let dir_mode = std::fs::metadata(&data).unwrap().permissions().mode();
            assert_eq!(dir_mode & 0o777, 0o700);
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_open_data_dir_is_narrowed_to_its_owner() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("open");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        load_or_create(&data, &mut OsRng).unwrap();
        let mode = std::fs::metadata(&data).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn refuses_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = identity_path(dir.path());
        std::fs::write(&path, "nothex").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                load(&path),
                Err(IdentityError::Permissions { mode: 0o644, .. })
            ));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(matches!(load(&path), Err(IdentityError::Malformed { .. })));
        std::fs::write(&path, "ab".repeat(31)).unwrap();
        assert!(matches!(load(&path), Err(IdentityError::Malformed { .. })));
        std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
        assert_eq!(
            load(&path).unwrap().public_key(),
            Ed25519SecretKey::from_seed(&[0xab; 32]).public_key()
        );
    }
}
