//! The sealed-file format shared by the vault and the encrypted backup: a small JSON envelope
//! around one AES-256-GCM ciphertext, with the Argon2id parameters beside it when the key comes
//! from a passphrase. docs/vault.md specifies it and shows how to open one by hand.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// A 256-bit AES key: supplied by the platform (Keychain, Keystore) or derived from a passphrase.
#[derive(Clone, Zeroize, zeroize::ZeroizeOnDrop, PartialEq, Eq)]
pub struct VaultKey([u8; 32]);

impl VaultKey {
    /// Wraps 32 key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Wraps a 32-byte slice; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }

    /// A fresh random key from the operating system.
    pub fn generate() -> Result<Self, SealError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SealError::Random)?;
        Ok(Self(bytes))
    }

    /// The key bytes, for handing to platform storage.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VaultKey(<redacted>)")
    }
}

/// Argon2id parameters of a passphrase-derived key, stored in the clear beside the ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Always `argon2id`.
    pub name: String,
    /// Argon2 version number: 19 (0x13).
    pub version: u32,
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// 16 random bytes, base64.
    #[serde(with = "b64")]
    pub salt: Vec<u8>,
}

impl KdfParams {
    /// OWASP's floor for Argon2id (m = 19 MiB, t = 2); files below it are refused.
    pub const MIN_MEMORY_KIB: u32 = 19 * 1024;
    /// See [`KdfParams::MIN_MEMORY_KIB`].
    pub const MIN_ITERATIONS: u32 = 2;
    /// Bounds that keep a hostile file from asking for unbounded memory or time.
    pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
    /// See [`KdfParams::MAX_MEMORY_KIB`].
    pub const MAX_ITERATIONS: u32 = 64;

    /// The parameters new files get: 64 MiB, 3 passes, 1 lane (RFC 9106's second recommended
    /// option with one lane), about 0.2 s on a 2020s laptop core. Deliberately slow.
    pub fn recommended() -> Result<Self, SealError> {
        Self::with_cost(64 * 1024, 3)
    }

    /// Parameters with a fresh random salt and the given cost (checked against the floor).
    pub fn with_cost(memory_kib: u32, iterations: u32) -> Result<Self, SealError> {
        let mut salt = vec![0u8; 16];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| SealError::Random)?;
        let params = Self {
            name: "argon2id".into(),
            version: 19,
            memory_kib,
            iterations,
            parallelism: 1,
            salt,
        };
        params.check()?;
        Ok(params)
    }

    fn check(&self) -> Result<(), SealError> {
        let ok = self.name == "argon2id"
            && self.version == 19
            && (Self::MIN_MEMORY_KIB..=Self::MAX_MEMORY_KIB).contains(&self.memory_kib)
            && (Self::MIN_ITERATIONS..=Self::MAX_ITERATIONS).contains(&self.iterations)
            && (1..=16).contains(&self.parallelism)
            && (8..=64).contains(&self.salt.len());
        if ok {
            Ok(())
        } else {
            Err(SealError::UnsupportedKdf)
        }
    }

    /// Derives the key from a passphrase. Slow on purpose.
    pub fn derive(&self, passphrase: &[u8]) -> Result<VaultKey, SealError> {
        self.check()?;
        let params =
            argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
                .map_err(|_| SealError::UnsupportedKdf)?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = [0u8; 32];
        argon
            .hash_password_into(passphrase, &self.salt, &mut key)
            .map_err(|_| SealError::UnsupportedKdf)?;
        let key = VaultKey(key);
        Ok(key)
    }
}

/// The envelope as stored on disk.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    format: String,
    version: u32,
    kdf: Option<KdfParams>,
    cipher: String,
    #[serde(with = "b64")]
    nonce: Vec<u8>,
    #[serde(with = "b64")]
    ciphertext: Vec<u8>,
}

/// The only envelope version this build writes and reads.
pub const VERSION: u32 = 1;
/// Largest sealed file read; a vault of 10,000 accounts is about 3 MB.
pub const MAX_SEALED_LEN: usize = 64 * 1024 * 1024;

/// Why a sealed file could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The bytes are not a sealed file of the expected kind (damaged, or another file).
    #[error("not an Assent {expected} file, or the file is damaged ({detail})")]
    Malformed {
        /// `assent-vault` or `assent-backup`.
        expected: &'static str,
        /// What was wrong, without content.
        detail: String,
    },
    /// Written by a newer Assent.
    #[error("{format} version {version} is newer than this app understands; update Assent")]
    UnsupportedVersion {
        /// The file's format name.
        format: String,
        /// Its version.
        version: u32,
    },
    /// Key derivation parameters outside what this build accepts.
    #[error("the file's key-derivation parameters are unsupported or too weak")]
    UnsupportedKdf,
    /// The file was sealed with a passphrase, and none was given (or the reverse).
    #[error("this file is protected by {0}")]
    WrongKeyKind(&'static str),
    /// Authentication failed: the key or passphrase is wrong, or the ciphertext was altered.
    #[error("wrong passphrase or key, or the file was tampered with")]
    WrongKeyOrTampered,
    /// The decrypted content is not what it should be.
    #[error("the decrypted content is invalid: {0}")]
    BadPayload(String),
    /// The operating system's random generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// How the key of a sealed file is obtained.
pub enum Unlock<'a> {
    /// A key held by the platform (or a key derived earlier from this file's passphrase).
    Key(&'a VaultKey),
    /// A passphrase, run through the file's Argon2id parameters.
    Passphrase(&'a [u8]),
}

/// An opened envelope: the plaintext, and the key and parameters to seal it again.
pub struct Opened {
    /// The decrypted payload; wiped on drop.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The key that opened it.
    pub key: VaultKey,
    /// The passphrase parameters, if it was passphrase-sealed.
    pub kdf: Option<KdfParams>,
}

/// Seals `plaintext` as a file of kind `format` (`assent-vault` or `assent-backup`), under `key`
/// with a fresh random nonce. `kdf` is stored so the passphrase can derive `key` again.
pub fn seal(
    format: &'static str,
    key: &VaultKey,
    kdf: Option<&KdfParams>,
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| SealError::Random)?;
    seal_with_nonce(format, key, kdf, nonce, plaintext)
}

/// [`seal`] with a given nonce, for reproducible examples and tests. Never reuse a nonce.
pub fn seal_with_nonce(
    format: &'static str,
    key: &VaultKey,
    kdf: Option<&KdfParams>,
    nonce: [u8; NONCE_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    let mut in_out = Zeroizing::new(Vec::with_capacity(plaintext.len() + 16));
    in_out.extend_from_slice(plaintext);
    aead_key(key)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(format, VERSION).as_bytes()),
            &mut *in_out,
        )
        .map_err(|_| SealError::Random)?;
    let envelope = Envelope {
        format: format.into(),
        version: VERSION,
        kdf: kdf.cloned(),
        cipher: "aes-256-gcm".into(),
        nonce: nonce.to_vec(),
        ciphertext: std::mem::take(&mut *in_out),
    };
    let mut out = serde_json::to_vec_pretty(&envelope).map_err(|e| SealError::Malformed {
        expected: format,
        detail: e.to_string(),
    })?;
    out.push(b'\n');
    Ok(out)
}

/// True when `bytes` look like a sealed file of kind `format` (without decrypting).
pub fn is_sealed(format: &str, bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        format: String,
    }
    serde_json::from_slice::<Probe>(bytes).is_ok_and(|p| p.format == format)
}

/// True when the sealed file of kind `format` is protected by a passphrase (it carries Argon2id
/// parameters), false when by a platform key; read from the envelope without decrypting.
pub fn uses_passphrase(format: &'static str, bytes: &[u8]) -> Result<bool, SealError> {
    #[derive(Deserialize)]
    struct Probe {
        format: String,
        kdf: Option<serde::de::IgnoredAny>,
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| SealError::Malformed {
        expected: format,
        detail: e.to_string(),
    })?;
    if probe.format != format {
        return Err(SealError::Malformed {
            expected: format,
            detail: "it is another kind of file".into(),
        });
    }
    Ok(probe.kdf.is_some())
}

/// Opens a sealed file of kind `format`.
pub fn open(format: &'static str, bytes: &[u8], unlock: Unlock<'_>) -> Result<Opened, SealError> {
    let malformed = |detail: String| SealError::Malformed {
        expected: format,
        detail,
    };
    if bytes.len() > MAX_SEALED_LEN {
        return Err(malformed(format!("{} bytes is too large", bytes.len())));
    }
    let envelope: Envelope = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    if envelope.format != format {
        return Err(malformed(format!(
            "it is a {:?} file",
            envelope.format.chars().take(40).collect::<String>()
        )));
    }
    if envelope.version != VERSION {
        return Err(SealError::UnsupportedVersion {
            format: envelope.format,
            version: envelope.version,
        });
    }
    if envelope.cipher != "aes-256-gcm" {
        return Err(malformed(format!(
            "unknown cipher {:?}",
            envelope.cipher.chars().take(40).collect::<String>()
        )));
    }
    let nonce: [u8; NONCE_LEN] = envelope
        .nonce
        .as_slice()
        .try_into()
        .map_err(|_| malformed("the nonce is not 12 bytes".into()))?;
    let key = match (unlock, &envelope.kdf) {
        (Unlock::Key(key), _) => key.clone(),
        (Unlock::Passphrase(passphrase), Some(kdf)) => kdf.derive(passphrase)?,
        (Unlock::Passphrase(_), None) => {
            return Err(SealError::WrongKeyKind("a key, not a passphrase"));
        }
    };
    let mut in_out = Zeroizing::new(envelope.ciphertext);
    let plaintext_len = aead_key(&key)
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(format, VERSION).as_bytes()),
            &mut in_out,
        )
        .map_err(|_| SealError::WrongKeyOrTampered)?
        .len();
    in_out.truncate(plaintext_len);
    Ok(Opened {
        plaintext: in_out,
        key,
        kdf: envelope.kdf,
    })
}

/// The associated data binds the ciphertext to its kind and version, so a backup cannot be
/// passed off as a vault or a version-1 ciphertext as version 2.
fn aad(format: &str, version: u32) -> String {
    format!("{format}/{version}")
}

fn aead_key(key: &VaultKey) -> LessSafeKey {
    // AES_256_GCM takes exactly 32 bytes, which VaultKey always holds.
    #[allow(clippy::expect_used)]
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key.0).expect("AES-256 key is 32 bytes"))
}

mod b64 {
    use super::*;

    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        B64.decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> VaultKey {
        VaultKey::from_bytes([7u8; 32])
    }

    #[test]
    fn round_trips_with_a_key() {
        let sealed = seal("assent-vault", &key(), None, b"{\"accounts\":[]}").unwrap();
        assert!(!uses_passphrase("assent-vault", &sealed).unwrap());
        let opened = open("assent-vault", &sealed, Unlock::Key(&key())).unwrap();
        assert_eq!(opened.plaintext.as_slice(), b"{\"accounts\":[]}");
        assert!(opened.kdf.is_none());
    }

    #[test]
    fn round_trips_with_a_passphrase() {
        let kdf = KdfParams::with_cost(KdfParams::MIN_MEMORY_KIB, 2).unwrap();
        let derived = kdf.derive(b"correct horse").unwrap();
        let sealed = seal("assent-backup", &derived, Some(&kdf), b"hello").unwrap();
        assert!(uses_passphrase("assent-backup", &sealed).unwrap());
        let opened = open(
            "assent-backup",
            &sealed,
            Unlock::Passphrase(b"correct horse"),
        )
        .unwrap();
        assert_eq!(opened.plaintext.as_slice(), b"hello");
        assert!(opened.key == derived);
        assert!(matches!(
            open("assent-backup", &sealed, Unlock::Passphrase(b"wrong")),
            Err(SealError::WrongKeyOrTampered)
        ));
    }

    #[test]
    fn refuses_wrong_key_tampering_and_kind_confusion() {
        let sealed = seal("assent-vault", &key(), None, b"payload").unwrap();
        let other = VaultKey::from_bytes([8u8; 32]);
        assert!(matches!(
            open("assent-vault", &sealed, Unlock::Key(&other)),
            Err(SealError::WrongKeyOrTampered)
        ));
        // Flip one bit of the ciphertext.
        let mut envelope: serde_json::Value = serde_json::from_slice(&sealed).unwrap();
        let mut ct = B64
            .decode(envelope["ciphertext"].as_str().unwrap())
            .unwrap();
        ct[0] ^= 1;
        envelope["ciphertext"] = B64.encode(&ct).into();
        let tampered = serde_json::to_vec(&envelope).unwrap();
        assert!(matches!(
            open("assent-vault", &tampered, Unlock::Key(&key())),
            Err(SealError::WrongKeyOrTampered)
        ));
        // A vault relabelled as a backup fails authentication, not just the label check.
        envelope["format"] = "assent-backup".into();
        ct[0] ^= 1;
        envelope["ciphertext"] = B64.encode(&ct).into();
        let relabelled = serde_json::to_vec(&envelope).unwrap();
        assert!(matches!(
            open("assent-backup", &relabelled, Unlock::Key(&key())),
            Err(SealError::WrongKeyOrTampered)
        ));
        assert!(matches!(
            open("assent-backup", &sealed, Unlock::Key(&key())),
            Err(SealError::Malformed { .. })
        ));
        assert!(matches!(
            open("assent-vault", &sealed, Unlock::Passphrase(b"x")),
            Err(SealError::WrongKeyKind(_))
        ));
    }

    #[test]
    fn refuses_damaged_and_hostile_envelopes() {
        for bad in [
            &b""[..],
            b"not json",
            b"{\"format\":\"assent-vault\"}",
            b"{\"format\":\"assent-vault\",\"version\":1,\"kdf\":null,\"cipher\":\"aes-256-gcm\",\"nonce\":\"AAAA\",\"ciphertext\":\"\"}",
            b"{\"format\":\"assent-vault\",\"version\":1,\"kdf\":null,\"cipher\":\"rot13\",\"nonce\":\"AAAAAAAAAAAAAAAA\",\"ciphertext\":\"\"}",
        ] {
            assert!(matches!(
                open("assent-vault", bad, Unlock::Key(&key())),
                Err(SealError::Malformed { .. })
            ));
        }
        let newer = br#"{"format":"assent-vault","version":2,"kdf":null,"cipher":"aes-256-gcm","nonce":"AAAAAAAAAAAAAAAA","ciphertext":""}"#;
        assert!(matches!(
            open("assent-vault", newer, Unlock::Key(&key())),
            Err(SealError::UnsupportedVersion { version: 2, .. })
        ));
        let greedy = br#"{"format":"assent-vault","version":1,"kdf":{"name":"argon2id","version":19,"memory_kib":4000000000,"iterations":2,"parallelism":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA=="},"cipher":"aes-256-gcm","nonce":"AAAAAAAAAAAAAAAA","ciphertext":""}"#;
        assert!(matches!(
            open("assent-vault", greedy, Unlock::Passphrase(b"x")),
            Err(SealError::UnsupportedKdf)
        ));
        let weak = br#"{"format":"assent-vault","version":1,"kdf":{"name":"argon2id","version":19,"memory_kib":1024,"iterations":1,"parallelism":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA=="},"cipher":"aes-256-gcm","nonce":"AAAAAAAAAAAAAAAA","ciphertext":""}"#;
        assert!(matches!(
            open("assent-vault", weak, Unlock::Passphrase(b"x")),
            Err(SealError::UnsupportedKdf)
        ));
    }

    #[test]
    fn weak_parameters_cannot_be_chosen() {
        assert!(KdfParams::with_cost(8 * 1024, 2).is_err());
        assert!(KdfParams::with_cost(19 * 1024, 1).is_err());
        let p = KdfParams::recommended().unwrap();
        assert!(p.memory_kib >= KdfParams::MIN_MEMORY_KIB && p.iterations >= 2);
    }
}
