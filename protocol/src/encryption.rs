//! HPKE (RFC 9180) base mode with DHKEM(P-256, HKDF-SHA256), HKDF-SHA256 and AES-256-GCM: the
//! one suite (kem 0x0010, kdf 0x0001, aead 0x0002) that encrypts challenges to a device.
//! A sealed message is `enc ‖ ciphertext`: the 65-byte uncompressed ephemeral public key, then
//! the AES-GCM ciphertext with its 16-byte tag.

use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::DhP256HkdfSha256;
use hpke::{Deserializable as _, Kem as _, OpModeR, OpModeS, Serializable as _};
use zeroize::Zeroizing;

use crate::jwk::PublicJwk;

type Kem = DhP256HkdfSha256;

/// Length of the encapsulated key at the start of a sealed message.
pub const ENC_LEN: usize = 65;
/// Length of the AES-GCM tag at its end.
pub const TAG_LEN: usize = 16;

/// A device's HPKE private key (P-256). Separate from its signing key; wiped when dropped.
#[derive(Clone)]
pub struct EncryptionKey {
    private: <Kem as hpke::Kem>::PrivateKey,
    public: PublicJwk,
}

impl EncryptionKey {
    /// A fresh key from the given RNG.
    pub fn generate(rng: &mut impl rand_core::CryptoRng) -> Self {
        let mut ikm = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(ikm.as_mut());
        Self::derive(&ikm)
    }

    /// RFC 9180's DeriveKeyPair(ikm): the same ikm always gives the same key.
    pub fn derive(ikm: &[u8; 32]) -> Self {
        let (private, public) = Kem::derive_keypair(ikm);
        Self::from_parts(private, &public)
    }

    /// Loads a private scalar (32 bytes, big-endian); `None` if it is not a valid P-256 scalar.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        let private = <Kem as hpke::Kem>::PrivateKey::from_bytes(bytes).ok()?;
        let public = Kem::sk_to_pk(&private);
        Some(Self::from_parts(private, &public))
    }

    fn from_parts(
        private: <Kem as hpke::Kem>::PrivateKey,
        public: &<Kem as hpke::Kem>::PublicKey,
    ) -> Self {
        // An HPKE P-256 public key is a valid SEC1 point by construction.
        let public = match PublicJwk::from_sec1(&public.to_bytes()) {
            Ok(jwk) => jwk,
            Err(_) => unreachable!("HPKE produced an invalid P-256 point"),
        };
        Self { private, public }
    }

    /// The private scalar, for storing the key. Wiped when the returned value is dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&self.private.to_bytes());
        out
    }

    /// The public key, as sent in the registration.
    pub fn public_key(&self) -> &PublicJwk {
        &self.public
    }

    /// Opens `enc ‖ ciphertext` (HPKE base mode, single shot); `None` when it was not sealed to
    /// this key with this info and aad, or was altered. [`crate::challenge::open_challenge`] is
    /// the way to open a challenge; this is for tools and worked examples.
    pub fn open(&self, info: &[u8], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < ENC_LEN + TAG_LEN {
            return None;
        }
        let (enc, ciphertext) = sealed.split_at(ENC_LEN);
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).ok()?;
        hpke::single_shot_open::<AesGcm256, HkdfSha256, Kem>(
            &OpModeR::Base,
            &self.private,
            &enc,
            info,
            ciphertext,
            aad,
        )
        .ok()
        .map(Zeroizing::new)
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptionKey(<redacted>, {:?})", self.public)
    }
}

/// Seals `plaintext` to `recipient`, the ephemeral key derived from `ephemeral_ikm` with RFC
/// 9180's DeriveKeyPair (exactly what a random ephemeral key is, given random ikm). `None` only
/// if HPKE fails, which it does not for a valid key.
pub(crate) fn seal(
    recipient: &PublicJwk,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    ephemeral_ikm: &[u8; 32],
) -> Option<Vec<u8>> {
    let recipient =
        <Kem as hpke::Kem>::PublicKey::from_bytes(&recipient.to_sec1_uncompressed()).ok()?;
    let mut rng = FixedIkm {
        ikm: *ephemeral_ikm,
        used: false,
    };
    let (enc, ciphertext) = hpke::single_shot_seal_with_rng::<AesGcm256, HkdfSha256, Kem>(
        &OpModeS::Base,
        &recipient,
        info,
        plaintext,
        aad,
        &mut rng,
    )
    .ok()?;
    zeroize::Zeroize::zeroize(&mut rng.ikm);
    let mut sealed = enc.to_bytes().to_vec();
    sealed.extend_from_slice(&ciphertext);
    Some(sealed)
}

/// Seals `plaintext` to `recipient` with a fresh random ephemeral key: what [`seal`] does given
/// random ikm, with the key agreement on *ring* (its P-256 is several times faster than the
/// RustCrypto arithmetic under the `hpke` crate, and sealing is most of what building a challenge
/// costs the portal). The key schedule and AES-GCM stay the `hpke` crate's; only the KEM's
/// encapsulation differs ([`RingEncap`]). `None` only if HPKE or the system's randomness fails.
pub(crate) fn seal_fresh(
    recipient: &PublicJwk,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Option<Vec<u8>> {
    let recipient =
        <Kem as hpke::Kem>::PublicKey::from_bytes(&recipient.to_sec1_uncompressed()).ok()?;
    let (enc, ciphertext) = hpke::single_shot_seal_with_rng::<AesGcm256, HkdfSha256, RingEncap>(
        &OpModeS::Base,
        &recipient,
        info,
        plaintext,
        aad,
        // Unused: ring draws the ephemeral key from the operating system itself.
        &mut rand_core::UnwrapErr(getrandom::SysRng),
    )
    .ok()?;
    let mut sealed = enc.to_bytes().to_vec();
    sealed.extend_from_slice(&ciphertext);
    Some(sealed)
}

/// DHKEM(P-256, HKDF-SHA256) (RFC 9180 §4.1) whose `Encap` runs on *ring*: a random ephemeral key
/// from `ring::agreement`, `DH(skE, pkR)` by ring's ECDH, then `ExtractAndExpand` over
/// `enc ‖ pkRm`. Everything else, and the keys' types, are [`DhP256HkdfSha256`]'s, so what it
/// seals is opened by that KEM's `Decap` (the devices') and the two cannot drift apart
/// unnoticed: the tests compare their shared secrets.
struct RingEncap;

/// `suite_id` of the KEM: `"KEM" ‖ I2OSP(0x0010, 2)`.
const KEM_SUITE_ID: &[u8] = b"KEM\x00\x10";

/// RFC 9180's `ExtractAndExpand(dh, kem_context)` for DHKEM(P-256, HKDF-SHA256):
/// `LabeledExpand(LabeledExtract("", "eae_prk", dh), "shared_secret", kem_context, 32)`.
fn extract_and_expand(dh: &[u8], kem_context: &[&[u8]]) -> Option<Zeroizing<[u8; 32]>> {
    struct Len;
    impl ring::hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let labeled_ikm =
        Zeroizing::new([b"HPKE-v1".as_slice(), KEM_SUITE_ID, b"eae_prk", dh].concat());
    let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, &[]).extract(&labeled_ikm);
    let length = 32u16.to_be_bytes();
    let mut info: Vec<&[u8]> = vec![&length, b"HPKE-v1", KEM_SUITE_ID, b"shared_secret"];
    info.extend_from_slice(kem_context);
    let mut out = Zeroizing::new([0u8; 32]);
    prk.expand(&info, Len).ok()?.fill(out.as_mut()).ok()?;
    Some(out)
}

impl hpke::Kem for RingEncap {
    type PublicKey = <Kem as hpke::Kem>::PublicKey;
    type PrivateKey = <Kem as hpke::Kem>::PrivateKey;
    type EncappedKey = <Kem as hpke::Kem>::EncappedKey;
    type NSecret = <Kem as hpke::Kem>::NSecret;
    const KEM_ID: u16 = <Kem as hpke::Kem>::KEM_ID;

    fn sk_to_pk(sk: &Self::PrivateKey) -> Self::PublicKey {
        Kem::sk_to_pk(sk)
    }

    fn derive_keypair(ikm: &[u8]) -> (Self::PrivateKey, Self::PublicKey) {
        Kem::derive_keypair(ikm)
    }

    fn decap(
        sk_recip: &Self::PrivateKey,
        pk_sender_id: Option<&Self::PublicKey>,
        encapped_key: &Self::EncappedKey,
    ) -> Result<hpke::kem::SharedSecret<Self>, hpke::HpkeError> {
        let theirs = Kem::decap(sk_recip, pk_sender_id, encapped_key)?;
        let mut ours = hpke::kem::SharedSecret::<Self>::default();
        ours.0.copy_from_slice(&theirs.0);
        Ok(ours)
    }

    fn encap_with_rng(
        pk_recip: &Self::PublicKey,
        sender_id_keypair: Option<(&Self::PrivateKey, &Self::PublicKey)>,
        _csprng: &mut impl rand_core::CryptoRng,
    ) -> Result<(hpke::kem::SharedSecret<Self>, Self::EncappedKey), hpke::HpkeError> {
        use ring::agreement::{ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey, agree_ephemeral};
        // Base mode only: the challenges are not sender-authenticated by HPKE (the portal signs
        // them).
        if sender_id_keypair.is_some() {
            return Err(hpke::HpkeError::EncapError);
        }
        let rng = ring::rand::SystemRandom::new();
        let ephemeral = EphemeralPrivateKey::generate(&ECDH_P256, &rng)
            .map_err(|_| hpke::HpkeError::EncapError)?;
        let enc = ephemeral
            .compute_public_key()
            .map_err(|_| hpke::HpkeError::EncapError)?;
        let pk_r = pk_recip.to_bytes();
        let secret = agree_ephemeral(
            ephemeral,
            &UnparsedPublicKey::new(&ECDH_P256, pk_r.as_slice()),
            |dh| extract_and_expand(dh, &[enc.as_ref(), pk_r.as_slice()]),
        )
        .ok()
        .flatten()
        .ok_or(hpke::HpkeError::EncapError)?;
        let mut shared = hpke::kem::SharedSecret::<Self>::default();
        shared.0.copy_from_slice(secret.as_slice());
        let encapped =
            Self::EncappedKey::from_bytes(enc.as_ref()).map_err(|_| hpke::HpkeError::EncapError)?;
        Ok((shared, encapped))
    }
}

/// Hands HPKE the ephemeral ikm: base mode draws exactly one 32-byte key from its RNG.
struct FixedIkm {
    ikm: [u8; 32],
    used: bool,
}

impl rand_core::TryRng for FixedIkm {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0u8; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        // A second draw would mean HPKE changed how it makes ephemeral keys; reusing the ikm
        // then would be a nonce reuse, so hand out something that cannot go unnoticed in tests.
        assert!(
            !self.used && dst.len() == 32,
            "HPKE drew unexpected randomness"
        );
        dst.copy_from_slice(&self.ikm);
        self.used = true;
        Ok(())
    }
}

impl rand_core::TryCryptoRng for FixedIkm {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens() {
        let key = EncryptionKey::derive(&[3; 32]);
        let sealed = seal(key.public_key(), b"info", b"aad", b"hello", &[4; 32]).unwrap();
        assert_eq!(sealed.len(), ENC_LEN + 5 + TAG_LEN);
        assert_eq!(
            key.open(b"info", b"aad", &sealed).unwrap().as_slice(),
            b"hello"
        );
        assert_eq!(
            sealed,
            seal(key.public_key(), b"info", b"aad", b"hello", &[4; 32]).unwrap()
        );
    }

    #[test]
    fn refuses_wrong_info_aad_key_and_tampering() {
        let key = EncryptionKey::derive(&[3; 32]);
        let sealed = seal(key.public_key(), b"info", b"aad", b"hello", &[4; 32]).unwrap();
        assert!(key.open(b"other", b"aad", &sealed).is_none());
        assert!(key.open(b"info", b"other", &sealed).is_none());
        assert!(
            EncryptionKey::derive(&[5; 32])
                .open(b"info", b"aad", &sealed)
                .is_none()
        );
        let mut tampered = sealed.clone();
        tampered[ENC_LEN] ^= 1;
        assert!(key.open(b"info", b"aad", &tampered).is_none());
        assert!(
            key.open(b"info", b"aad", &sealed[..ENC_LEN + TAG_LEN - 1])
                .is_none()
        );
    }

    #[test]
    fn a_fresh_seal_opens_with_the_devices_hpke_and_never_repeats() {
        let key = EncryptionKey::derive(&[3; 32]);
        let sealed = seal_fresh(key.public_key(), b"info", b"aad", b"hello").unwrap();
        assert_eq!(sealed.len(), ENC_LEN + 5 + TAG_LEN);
        assert_eq!(sealed[0], 4, "an uncompressed P-256 point first");
        assert_eq!(
            key.open(b"info", b"aad", &sealed).unwrap().as_slice(),
            b"hello"
        );
        assert!(key.open(b"info", b"other", &sealed).is_none());
        assert!(
            EncryptionKey::derive(&[5; 32])
                .open(b"info", b"aad", &sealed)
                .is_none()
        );
        let again = seal_fresh(key.public_key(), b"info", b"aad", b"hello").unwrap();
        assert_ne!(
            sealed[..ENC_LEN],
            again[..ENC_LEN],
            "a new ephemeral key each time"
        );
    }

    #[test]
    fn ring_extract_and_expand_is_the_hpke_crates() {
        // The crate's own encapsulation with a known ephemeral key (RFC 9180's DeriveKeyPair of
        // the ikm), its shared secret, and the same DH computed here: our ExtractAndExpand over
        // that DH must give the crate's shared secret.
        use p256::elliptic_curve::sec1::ToSec1Point as _;
        let recipient = EncryptionKey::derive(&[3; 32]);
        let pk_r = <Kem as hpke::Kem>::PublicKey::from_bytes(
            &recipient.public_key().to_sec1_uncompressed(),
        )
        .unwrap();
        for seed in 0u8..4 {
            let ikm = [seed; 32];
            let mut rng = FixedIkm { ikm, used: false };
            let (theirs, enc) = Kem::encap_with_rng(&pk_r, None, &mut rng).unwrap();
            let (sk_e, _) = Kem::derive_keypair(&ikm);
            let scalar = p256::NonZeroScalar::try_from(sk_e.to_bytes().as_slice()).unwrap();
            let point = p256::PublicKey::from_sec1_bytes(&pk_r.to_bytes()).unwrap();
            let shared = (point.to_projective() * *scalar).to_affine();
            let dh = shared.to_sec1_point(false);
            let x = dh.x().unwrap();
            let ours = extract_and_expand(x, &[&enc.to_bytes(), &pk_r.to_bytes()]).unwrap();
            assert_eq!(ours.as_slice(), theirs.0.as_slice(), "seed {seed}");
        }
    }

    #[test]
    fn key_round_trips_and_redacts() {
        let key = EncryptionKey::derive(&[3; 32]);
        let again = EncryptionKey::from_bytes(&key.to_bytes()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert!(EncryptionKey::from_bytes(&[0; 32]).is_none());
        assert!(format!("{key:?}").contains("redacted"));
    }
}
