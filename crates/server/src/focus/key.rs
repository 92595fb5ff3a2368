//! The focus's signing key file: 32 random bytes (the Ed25519 seed) as base64url on one line,
//! created with mode 0600 from the OS generator when missing. Focus processes that share a
//! database share this file, so clients verify every one of them with config.json's `focusKey`.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use pairux_core::focus::FocusKey;
use rand::RngCore as _;

/// Why the key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or create the focus key file {0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0} is not a focus key file (one line: a base64url 32-byte seed)")]
    Malformed(String),
}

/// Reads the key at `path`, creating it first when missing.
pub fn load_or_create(path: &Path) -> Result<FocusKey, KeyError> {
    let name = path.display().to_string();
    match std::fs::metadata(path) {
        Ok(_) => load_existing(path),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut seed);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| KeyError::Io(name.clone(), e))?;
            }
            create_new_private(path, &format!("{}\n", URL_SAFE_NO_PAD.encode(seed)))
                .map_err(|e| KeyError::Io(name.clone(), e))?;
            // Another process may have created it first: whatever is on disk wins.
            load_existing(path)
        }
        Err(err) => Err(KeyError::Io(name, err)),
    }
}

fn load_existing(path: &Path) -> Result<FocusKey, KeyError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| KeyError::Io(name.clone(), e))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim())
        .map_err(|_| KeyError::Malformed(name.clone()))?;
    let seed: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed(name))?;
    Ok(FocusKey::from_seed(seed))
}

/// Creates `path` (0600) unless it exists; an existing file is left as it is.
fn create_new_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path) {
        Ok(mut file) => file.write_all(text.as_bytes()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_made_once_owner_only_and_read_back() {
        let dir = std::env::temp_dir().join(format!("pairux-focus-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("focus.key");
        let a = load_or_create(&path).unwrap();
        let b = load_or_create(&path).unwrap();
        assert_eq!(a.public(), b.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(load_or_create(&path), Err(KeyError::Malformed(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
