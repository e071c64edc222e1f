//! Reading the text of a QR code in a PNG or JPEG, for `assent enroll --qr`: the same decoders
//! (`image`, `rqrr`) and limits as the core's importer, which keeps the decoded text private and
//! turns it into accounts, while enrollment needs the URI itself with its push parameters.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use authenticator_core::import::MAX_IMAGE_SIDE;
use image::{ImageFormat, ImageReader, Limits};

use crate::failure::Failure;

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
const JPEG_MAGIC: &[u8] = b"\xFF\xD8\xFF";

/// The texts of the QR codes found in the image `data`, in the order found (at least one).
pub fn read(data: &[u8]) -> Result<Vec<String>, Failure> {
    let format = if data.starts_with(PNG_MAGIC) {
        ImageFormat::Png
    } else if data.starts_with(JPEG_MAGIC) {
        ImageFormat::Jpeg
    } else {
        return Err(Failure::new("not a PNG or JPEG image"));
    };
    let unreadable =
        |e: &dyn std::fmt::Display| Failure::new(format!("the image cannot be read: {e}"));
    // The declared size is checked before any pixel is decoded.
    let (width, height) = ImageReader::with_format(Cursor::new(data), format)
        .into_dimensions()
        .map_err(|e| unreadable(&e))?;
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(Failure::new(format!(
            "the image is {width}x{height} pixels; at most {MAX_IMAGE_SIDE} on a side is read"
        )));
    }
    // Third-party decoders facing untrusted input: a panic in them becomes an error.
    let contents = catch_unwind(AssertUnwindSafe(|| -> Result<Vec<String>, String> {
        let mut reader = ImageReader::with_format(Cursor::new(data), format);
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_IMAGE_SIDE);
        limits.max_image_height = Some(MAX_IMAGE_SIDE);
        reader.limits(limits);
        let luma = reader.decode().map_err(|e| e.to_string())?.into_luma8();
        let (width, height) = (luma.width() as usize, luma.height() as usize);
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
            luma.get_pixel_checked(x as u32, y as u32)
                .map_or(255, |pixel| pixel.0[0])
        });
        Ok(prepared
            .detect_grids()
            .iter()
            .filter_map(|grid| grid.decode().ok())
            .map(|(_, content)| content)
            .collect())
    }))
    .map_err(|_| Failure::new("the image could not be decoded"))?
    .map_err(|e| unreadable(&e))?;
    if contents.is_empty() {
        return Err(Failure::new("no QR code was found in the image"));
    }
    Ok(contents)
}
