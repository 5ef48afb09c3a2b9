//! Sealing personal data at rest: ChaCha20-Poly1305 with the server's data key.
//!
//! A sealed value is base64 of a random 12-byte nonce followed by the ciphertext and its tag, so
//! equal inputs seal differently and a changed byte fails to open. The key comes from the
//! `data_key` setting (32 bytes, base64); without one, a key is generated once into
//! `DATA_DIR/data.key` (readable by the owner only), so a default install is encrypted too.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// The file a generated data key is kept in, inside the data folder.
pub const KEY_FILE: &str = "data.key";

/// What can go wrong sealing or opening.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The configured or stored key is not 32 bytes of base64.
    #[error("the data key must be 32 bytes, base64 encoded")]
    BadKey,
    /// The key file cannot be read or written.
    #[error("data key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A sealed value is damaged or was sealed with another key.
    #[error("a sealed value cannot be opened (damaged, or sealed with another key)")]
    Open,
    /// The operating system gave no random bytes.
    #[error("no randomness: {0}")]
    Random(getrandom::Error),
}

/// Seals and opens values with one key.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A sealer for a base64 key.
    pub fn from_base64(key: &str) -> Result<Sealer, SealError> {
        let bytes = STANDARD.decode(key.trim()).map_err(|_| SealError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SealError::BadKey);
        }
        Ok(Sealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&bytes)),
        })
    }

    /// The configured key, or the one in `data_dir/data.key`, created when missing.
    pub fn load_or_create(configured: &[u8], data_dir: &Path) -> Result<Sealer, SealError> {
        if !configured.is_empty() {
            return Sealer::from_base64(&String::from_utf8_lossy(configured));
        }
        let path = data_dir.join(KEY_FILE);
        let key_file = |source| SealError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(key) => Sealer::from_base64(&key),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(SealError::Random)?;
                let encoded = STANDARD.encode(key);
                write_private(&path, &encoded).map_err(key_file)?;
                tracing::warn!(file = %path.display(), "generated a data key for personal data; back it up with the database");
                Sealer::from_base64(&encoded)
            }
            Err(e) => Err(key_file(e)),
        }
    }

    /// Seals `plain`.
    pub fn seal(&self, plain: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(SealError::Random)?;
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .map_err(|_| SealError::Open)?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(STANDARD.encode(bytes))
    }

    /// Opens a value sealed with the same key.
    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| SealError::Open)?;
        if bytes.len() < 12 {
            return Err(SealError::Open);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| SealError::Open)?;
        String::from_utf8(plain).map_err(|_| SealError::Open)
    }
}

impl Sealer {
    /// A customer's identity attributes (name, e-mail, plan: whatever the company signs) as
    /// they are stored: one sealed JSON string, so no personal data reaches the database file
    /// or its WAL in clear.
    pub fn seal_attributes(
        &self,
        attributes: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Value, SealError> {
        let plain = serde_json::Value::Object(attributes.clone()).to_string();
        Ok(serde_json::Value::String(self.seal(&plain)?))
    }

    /// Stored attributes opened for an agent: a sealed string is opened; an object (stored
    /// before attributes were sealed) is shown as it is. A value that cannot be opened (another
    /// key) is logged and shown as absent rather than failing the agent's whole view.
    pub fn open_attributes(&self, stored: Option<serde_json::Value>) -> Option<serde_json::Value> {
        match stored? {
            serde_json::Value::String(sealed) => {
                match self
                    .open(&sealed)
                    .ok()
                    .and_then(|plain| serde_json::from_str(&plain).ok())
                {
                    Some(attributes) => Some(attributes),
                    None => {
                        tracing::error!("customer attributes cannot be opened with this data key");
                        None
                    }
                }
            }
            other => Some(other),
        }
    }
}

/// Writes a file only its owner can read (on Unix), replacing none.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_attributes_are_stored_sealed_and_shown_open() {
        let sealer = Sealer::from_base64(&STANDARD.encode([3u8; 32])).expect("key");
        let attributes = serde_json::json!({"name": "Ada", "email": "ada@example.com"});
        let map = attributes.as_object().expect("object");
        let stored = sealer.seal_attributes(map).expect("sealed");
        assert!(!stored.to_string().contains("ada@"), "{stored}");
        assert_eq!(
            sealer.open_attributes(Some(stored)),
            Some(attributes.clone())
        );
        let other = Sealer::from_base64(&STANDARD.encode([7u8; 32])).expect("key");
        let foreign = other.seal_attributes(map).expect("sealed");
        assert_eq!(
            sealer.open_attributes(Some(attributes.clone())),
            Some(attributes),
            "attributes stored before sealing are shown as they are"
        );
        assert_eq!(sealer.open_attributes(Some(foreign)), None);
    }

    #[test]
    fn sealed_values_open_with_the_key_and_not_without_it() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let sealer = Sealer::load_or_create(b"", dir.path()).expect("key created");
        let sealed = sealer.seal("ada@example.com").expect("sealed");
        assert!(!sealed.contains("ada"), "{sealed}");
        assert_ne!(
            sealed,
            sealer.seal("ada@example.com").expect("sealed"),
            "random nonce"
        );
        let again = Sealer::load_or_create(b"", dir.path()).expect("key read back");
        assert_eq!(again.open(&sealed).expect("opens"), "ada@example.com");
        let other = Sealer::from_base64(&STANDARD.encode([7u8; 32])).expect("key");
        assert!(matches!(other.open(&sealed), Err(SealError::Open)));
        assert!(matches!(
            Sealer::from_base64("c2hvcnQ="),
            Err(SealError::BadKey)
        ));
    }
}
