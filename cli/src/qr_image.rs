//! Reading the text of a QR code in a PNG or JPEG, for `assent enroll --qr`: enrollment needs
//! the URI itself with its push parameters, so this takes the core's decoder's texts rather
//! than the accounts an import would make of them.

use authenticator_core::import::qr;

use crate::failure::Failure;

/// The texts of the QR codes found in the image `data`, in the order found (at least one).
pub fn read(data: &[u8]) -> Result<Vec<String>, Failure> {
    if !qr::is_image(data) {
        return Err(Failure::new("not a PNG or JPEG image"));
    }
    let contents = qr::read(data).map_err(|e| Failure::new(e.to_string()))?;
    if contents.is_empty() {
        return Err(Failure::new("no QR code was found in the image"));
    }
    Ok(contents)
}
