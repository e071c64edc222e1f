//! Random tokens and hashes: session cookies, CSRF values, enrollment secrets, stored ids.

/// `N` random bytes from the system's generator.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand_core::Rng::fill_bytes(&mut assent_protocol::system_rng(), &mut bytes);
    bytes
}

/// A random base64url string of `N` bytes.
pub fn random_token<const N: usize>() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// SHA-256 hex (session ids are stored hashed).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, data))
}
