//! The directory's Ed25519 identity: `DATA_DIR/identity.key`, the 32-byte seed as 64 hex
//! digits, file mode 0600, created on first start.

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

/// Loads `data_dir/identity.key`, creating the directory and a fresh key if there is none.
/// Returns the key and whether it was just created.
pub fn load_or_create(
    data_dir: &Path,
    rng: &mut impl CryptoRngCore,
) -> Result<(Ed25519SecretKey, bool), IdentityError> {
    let path = data_dir.join(IDENTITY_FILE);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| IdentityError::Io { path, source }
    };
    if path.exists() {
        return Ok((load(&path)?, false));
    }
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let key = Ed25519SecretKey::generate(rng);
    let text = Zeroizing::new(format!("{}\n", hex::encode(key.seed().expose())));
    let mut file = open_new_private(&path).map_err(io(&path))?;
    file.write_all(text.as_bytes()).map_err(io(&path))?;
    file.sync_all().map_err(io(&path))?;
    Ok((key, true))
}

/// Loads an existing identity file.
pub fn load(path: &Path) -> Result<Ed25519SecretKey, IdentityError> {
    let io = |source| IdentityError::Io {
        path: path.to_owned(),
        source,
    };
    let malformed = || IdentityError::Malformed {
        path: path.to_owned(),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    check_permissions(path, &meta)?;
    if meta.len() > 256 {
        return Err(malformed());
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), seed.as_mut_slice()).map_err(|_| malformed())?;
    Ok(Ed25519SecretKey::from_seed(&seed))
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
fn check_permissions(path: &Path, meta: &std::fs::Metadata) -> Result<(), IdentityError> {
    use std::os::unix::fs::PermissionsExt as _;
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
fn check_permissions(_: &Path, _: &std::fs::Metadata) -> Result<(), IdentityError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_crypto::OsRng;

    #[test]
    fn created_once_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("directory");
        let (first, created) = load_or_create(&data, &mut OsRng).unwrap();
        assert!(created);
        let (again, created) = load_or_create(&data, &mut OsRng).unwrap();
        assert!(!created);
        assert_eq!(first.public_key(), again.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let path = data.join(IDENTITY_FILE);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                load(&path),
                Err(IdentityError::Permissions { mode: 0o644, .. })
            ));
        }
    }

    #[test]
    fn refuses_malformed_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(IDENTITY_FILE);
        std::fs::write(&path, "nothex").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(matches!(load(&path), Err(IdentityError::Malformed { .. })));
        std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
        assert_eq!(
            load(&path).unwrap().public_key(),
            Ed25519SecretKey::from_seed(&[0xab; 32]).public_key()
        );
    }
}
