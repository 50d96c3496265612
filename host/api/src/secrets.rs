//! Channel secrets at rest: the config fields a plugin's schema marks
//! `writeOnly` are sealed with XChaCha20-Poly1305 before they reach the
//! store, and opened only to call the plugin.
//!
//! Why here and not in the store: the store must never hold a secret in clear
//! (a copy of the database, a backup or a SQL log grants nothing), and the
//! key belongs to the process, not to the database. The key comes from
//! `TAYORI_SECRET_KEY` (32 bytes, hex or base64) or from a key file created
//! on first start beside the SQLite database (mode 0600); a PostgreSQL host
//! without the variable uses `tayori.key` in its working directory, which is
//! why several PostgreSQL nodes must share `TAYORI_SECRET_KEY`.
//!
//! Each sealed blob is `0x01 || 24-byte random nonce || ciphertext+tag`, with
//! the tenant and channel as associated data, so a blob copied onto another
//! channel's row does not open.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::{Map, Value};
use tayori_core::Channel;

/// The variable that carries the key.
pub const SECRET_KEY_VAR: &str = "TAYORI_SECRET_KEY";
/// The key file a PostgreSQL host uses without [`SECRET_KEY_VAR`].
pub const DEFAULT_KEY_FILE: &str = "tayori.key";
/// What a secret looks like in an answer.
pub const REDACTED: &str = "<redacted>";

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;

/// Why a key could not be had, or a blob could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The key text is not 32 bytes of hex or base64.
    #[error(
        "{origin}: the secret key must be 32 bytes written as 64 hex digits or in base64 (e.g. `openssl rand -hex 32`)"
    )]
    BadKey {
        /// Where the key came from.
        origin: String,
    },
    /// The key file could not be read or created.
    #[error("key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The blob was sealed with another key, for another channel, or is damaged.
    #[error(
        "the stored secrets cannot be opened with this host's key (was TAYORI_SECRET_KEY or the key file changed?)"
    )]
    Unreadable,
}

/// The process's key for channel secrets. `Debug` shows where it came from,
/// never the key.
#[derive(Clone)]
pub struct SecretKey {
    cipher: XChaCha20Poly1305,
    /// The key itself, for [`SecretKey::derive`] only.
    raw: [u8; 32],
    origin: String,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(from {})", self.origin)
    }
}

impl SecretKey {
    /// A key from 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32], origin: impl Into<String>) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&bytes.into()),
            raw: bytes,
            origin: origin.into(),
        }
    }

    /// A key of its own for another use of this process's secret (`links`
    /// signs parents' links, `csrf` the web forms' tokens): HMAC-SHA256 of
    /// the label under the key, so that no use can forge another's values
    /// and none reveals the key that seals channel secrets.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        use hmac::Mac as _;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.raw)
            .expect("HMAC takes a key of any length");
        mac.update(b"tayori/derive/");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A fresh random key (in-memory databases, tests).
    pub fn generate(origin: impl Into<String>) -> Self {
        Self::from_bytes(random_bytes(), origin)
    }

    /// Parses 64 hex digits or base64 (standard or URL-safe, padded or not)
    /// of exactly 32 bytes.
    pub fn from_text(text: &str, origin: impl Into<String>) -> Result<Self, SecretError> {
        let origin = origin.into();
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ]
            .iter()
            .find_map(|e| e.decode(text).ok())
        };
        match bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()) {
            Some(key) => Ok(Self::from_bytes(key, origin)),
            None => Err(SecretError::BadKey { origin }),
        }
    }

    /// Where the key came from (`TAYORI_SECRET_KEY`, a file path...).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The key for a host on `database_url`: `TAYORI_SECRET_KEY` when set,
    /// else the key file [`key_file_for`] names (created on first start),
    /// else (an in-memory database) a key that lives as long as the process.
    pub fn for_database(database_url: &str) -> Result<Self, SecretError> {
        if let Ok(text) = std::env::var(SECRET_KEY_VAR)
            && !text.trim().is_empty()
        {
            return Self::from_text(&text, SECRET_KEY_VAR);
        }
        match key_file_for(database_url) {
            Some(path) => Self::load_or_create(&path),
            None => Ok(Self::generate("a random key for this in-memory database")),
        }
    }

    /// Reads the key file, or creates it (mode 0600) with a new random key.
    /// Two processes racing to create it end up with the same key.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretError> {
        let origin = path.display().to_string();
        let io = |source| SecretError::KeyFile {
            path: path.to_path_buf(),
            source,
        };
        match create_private(path) {
            Ok(mut file) => {
                let key = random_bytes();
                file.write_all(format!("{}\n", hex::encode(key)).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(io)?;
                tracing::info!(path = %origin, "created a new key for channel secrets; back it up with the database");
                Ok(Self::from_bytes(key, origin))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                warn_if_shared(path);
                let text = std::fs::read_to_string(path).map_err(io)?;
                Self::from_text(&text, origin)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Seals a channel's secret fields; an empty map seals to nothing.
    pub fn seal(&self, tenant: &str, channel: &str, secrets: &Map<String, Value>) -> Vec<u8> {
        if secrets.is_empty() {
            return Vec::new();
        }
        let plain = serde_json::to_vec(secrets).expect("a JSON map serializes");
        let nonce: [u8; NONCE_LEN] = random_bytes();
        let aad = associated_data(tenant, channel);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`SecretKey::seal`] sealed for the same tenant and channel.
    pub fn open(
        &self,
        tenant: &str,
        channel: &str,
        blob: &[u8],
    ) -> Result<Map<String, Value>, SecretError> {
        if blob.is_empty() {
            return Ok(Map::new());
        }
        if blob.len() < 1 + NONCE_LEN || blob[0] != FORMAT_V1 {
            return Err(SecretError::Unreadable);
        }
        let (nonce, sealed) = blob[1..].split_at(NONCE_LEN);
        let aad = associated_data(tenant, channel);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| SecretError::Unreadable)?;
        serde_json::from_slice(&plain).map_err(|_| SecretError::Unreadable)
    }

    /// A channel's full config, its secrets opened and put back in: what its
    /// plugin is called with.
    pub fn channel_config(&self, channel: &Channel) -> Result<Value, SecretError> {
        let secrets = self.open(
            &channel.tenant_id,
            &channel.name,
            &channel.secrets_ciphertext,
        )?;
        let mut config = match &channel.config {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        config.extend(secrets);
        Ok(Value::Object(config))
    }
}

/// Where the key file of a database lives: beside a SQLite file, named after
/// it (`data/tayori.db` → `data/tayori.key`); [`DEFAULT_KEY_FILE`] in the
/// working directory for PostgreSQL; `None` for an in-memory SQLite database.
pub fn key_file_for(database_url: &str) -> Option<PathBuf> {
    let Some(rest) = database_url.strip_prefix("sqlite:") else {
        return Some(PathBuf::from(DEFAULT_KEY_FILE));
    };
    let path = rest.strip_prefix("//").unwrap_or(rest);
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || database_url.contains("mode=memory") {
        return None;
    }
    Some(Path::new(path).with_extension("key"))
}

fn associated_data(tenant: &str, channel: &str) -> Vec<u8> {
    format!("tayori/channel-secrets/v1\0{tenant}\0{channel}").into_bytes()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut out = [0u8; N];
    rand::rng().fill_bytes(&mut out);
    out
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the key file for channel secrets is readable by other users; run `chmod 600` on it");
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn seal_and_open_round_trip_and_bind_the_channel() {
        let key = SecretKey::generate("test");
        let secrets = map(json!({"token": "s3cr3t-value"}));
        let blob = key.seal("otaru", "line", &secrets);
        assert!(!blob.windows(6).any(|w| w == b"s3cr3t"));
        assert_eq!(key.open("otaru", "line", &blob).unwrap(), secrets);
        // Another channel, another key, or a damaged blob: unreadable.
        assert!(key.open("otaru", "email", &blob).is_err());
        assert!(
            SecretKey::generate("other")
                .open("otaru", "line", &blob)
                .is_err()
        );
        let mut damaged = blob.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(key.open("otaru", "line", &damaged).is_err());
        // A nonce per write: sealing twice differs.
        assert_ne!(blob, key.seal("otaru", "line", &secrets));
        assert!(key.seal("otaru", "line", &Map::new()).is_empty());
        assert!(key.open("otaru", "line", &[]).unwrap().is_empty());
    }

    #[test]
    fn keys_parse_from_hex_and_base64() {
        let hex_key = "00".repeat(31) + "01";
        assert!(SecretKey::from_text(&hex_key, "t").is_ok());
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert!(SecretKey::from_text(&b64, "t").is_ok());
        assert!(SecretKey::from_text(b64.trim_end_matches('='), "t").is_ok());
        for bad in ["", "abc", &"00".repeat(31), "not base64 at all!"] {
            assert!(SecretKey::from_text(bad, "t").is_err(), "{bad}");
        }
        let key = SecretKey::from_text(&hex_key, "env").unwrap();
        assert_eq!(format!("{key:?}"), "SecretKey(from env)");
    }

    #[test]
    fn key_files_sit_beside_the_database() {
        assert_eq!(
            key_file_for("sqlite://tayori.db"),
            Some(PathBuf::from("tayori.key"))
        );
        assert_eq!(
            key_file_for("sqlite:///var/lib/tayori/main.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/tayori/main.key"))
        );
        assert_eq!(key_file_for("sqlite::memory:"), None);
        assert_eq!(
            key_file_for("postgres://u@h/db"),
            Some(PathBuf::from(DEFAULT_KEY_FILE))
        );
    }

    #[test]
    fn a_key_file_is_created_once_and_private() {
        let dir = std::env::temp_dir().join(format!("tayori-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tayori.key");
        let first = SecretKey::load_or_create(&path).unwrap();
        let second = SecretKey::load_or_create(&path).unwrap();
        let blob = first.seal("t", "c", &map(json!({"a": 1})));
        assert_eq!(second.open("t", "c", &blob).unwrap(), map(json!({"a": 1})));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
