//! QR codes in pictures: a screenshot of an issuer's setup page, a photo of Google
//! Authenticator's export screen. Every code found in the image is read; what they say is
//! imported by [`super::text`].

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::{ImageFormat, ImageReader, Limits};

use super::{Format, ImportError, MAX_IMAGE_SIDE};

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
const JPEG_MAGIC: &[u8] = b"\xFF\xD8\xFF";

/// True when the bytes start like a PNG or JPEG file.
pub fn is_image(data: &[u8]) -> bool {
    data.starts_with(PNG_MAGIC) || data.starts_with(JPEG_MAGIC)
}

/// The texts of the QR codes in a PNG or JPEG image, in the order they were found (possibly
/// none). For callers that need the text itself, such as a push enrollment URI; importing
/// accounts from a picture goes through [`super::import`].
pub fn read(data: &[u8]) -> Result<Vec<String>, ImportError> {
    let format = if data.starts_with(PNG_MAGIC) {
        ImageFormat::Png
    } else {
        ImageFormat::Jpeg
    };
    let malformed = |reason: String| ImportError::Malformed {
        format: Format::QrImage,
        reason,
    };
    let reader = || {
        let mut reader = ImageReader::with_format(Cursor::new(data), format);
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_IMAGE_SIDE);
        limits.max_image_height = Some(MAX_IMAGE_SIDE);
        reader.limits(limits);
        reader
    };
    // The header is read first so that an oversized image is refused by its declared size,
    // before any pixel is decoded.
    let (width, height) = ImageReader::with_format(Cursor::new(data), format)
        .into_dimensions()
        .map_err(|e| malformed(format!("the image cannot be read: {e}")))?;
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(ImportError::ImageTooLarge { width, height });
    }
    // The decoders and the QR reader are third-party code facing hostile input; a panic in
    // them must become an error, not bring down the app.
    let contents = catch_unwind(AssertUnwindSafe(|| -> Result<Vec<String>, String> {
        let luma = reader()
            .decode()
            .map_err(|e| format!("the image cannot be read: {e}"))?
            .into_luma8();
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
    .map_err(|_| malformed("the image could not be decoded".into()))?
    .map_err(malformed)?;
    if contents.is_empty() {
        return Err(ImportError::NoQrCode);
    }
    Ok(contents)
}

/// The texts of the QR codes in one camera frame, in the order they were found: most frames
/// hold none, which is not an error. `luma` is the frame's luminance plane, one byte a pixel
/// (CameraX's Y plane), `row_stride` bytes a row (at least `width`). For the Android app's
/// scanner, which needs no Play services this way.
pub fn read_frame(
    width: u32,
    height: u32,
    row_stride: u32,
    luma: &[u8],
) -> Result<Vec<String>, ImportError> {
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(ImportError::ImageTooLarge { width, height });
    }
    let (w, h, stride) = (width as usize, height as usize, row_stride as usize);
    let needed = match h.checked_sub(1) {
        Some(rows) => rows * stride + w,
        None => 0,
    };
    if stride < w || luma.len() < needed {
        return Err(ImportError::Malformed {
            format: Format::QrImage,
            reason: format!(
                "the frame has {} bytes, fewer than {width}x{height} pixels at {row_stride} a row",
                luma.len()
            ),
        });
    }
    let contents = catch_unwind(AssertUnwindSafe(|| {
        let mut prepared =
            rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| luma[y * stride + x]);
        prepared
            .detect_grids()
            .iter()
            .filter_map(|grid| grid.decode().ok())
            .map(|(_, content)| content)
            .collect()
    }))
    .map_err(|_| ImportError::Malformed {
        format: Format::QrImage,
        reason: "the frame could not be decoded".into(),
    })?;
    Ok(contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::GrayImage::from_pixel(width, height, image::Luma([255]));
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn a_blank_image_has_no_qr_code() {
        let blank = png(64, 64);
        assert!(is_image(&blank));
        assert_eq!(read(&blank), Err(ImportError::NoQrCode));
    }

    #[test]
    fn oversized_images_are_refused_by_their_header() {
        let wide = png(MAX_IMAGE_SIDE + 1, 1);
        assert_eq!(
            read(&wide),
            Err(ImportError::ImageTooLarge {
                width: MAX_IMAGE_SIDE + 1,
                height: 1
            })
        );
    }

    #[test]
    fn damaged_images_are_malformed() {
        let mut truncated = png(64, 64);
        truncated.truncate(40);
        assert!(matches!(
            read(&truncated),
            Err(ImportError::Malformed {
                format: Format::QrImage,
                ..
            })
        ));
        assert!(matches!(
            read(b"\xFF\xD8\xFF\xE0garbage"),
            Err(ImportError::Malformed { .. })
        ));
    }

    /// A QR code drawn into a frame of `width` pixels a row plus padding, on grey.
    fn frame(text: &str, padding: usize) -> (u32, u32, u32, Vec<u8>) {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let picture = code.render::<image::Luma<u8>>().build();
        let (w, h) = (
            picture.width() as usize + 40,
            picture.height() as usize + 40,
        );
        let stride = w + padding;
        let mut luma = vec![200u8; stride * h];
        for (x, y, pixel) in picture.enumerate_pixels() {
            luma[(y as usize + 20) * stride + x as usize + 20] = pixel.0[0];
        }
        (w as u32, h as u32, stride as u32, luma)
    }

    #[test]
    fn camera_frames_are_read_with_their_row_stride() {
        let uri = "otpauth://totp/Acme:alice?secret=JBSWY3DPEHPK3PXP&issuer=Acme";
        for padding in [0, 64] {
            let (w, h, stride, luma) = frame(uri, padding);
            assert_eq!(
                read_frame(w, h, stride, &luma).unwrap(),
                vec![uri.to_owned()]
            );
        }
        let blank = vec![255u8; 64 * 48];
        assert_eq!(
            read_frame(64, 48, 64, &blank).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn frames_smaller_than_they_say_are_refused() {
        let (w, h, stride, luma) = frame("x", 0);
        let short = &luma[..luma.len() - 1];
        assert!(matches!(
            read_frame(w, h, stride, short),
            Err(ImportError::Malformed { .. })
        ));
        assert!(matches!(
            read_frame(w, h, w - 1, &luma),
            Err(ImportError::Malformed { .. })
        ));
        assert_eq!(read_frame(0, 0, 0, &[]).unwrap(), Vec::<String>::new());
        assert!(matches!(
            read_frame(MAX_IMAGE_SIDE + 1, 1, MAX_IMAGE_SIDE + 1, &[]),
            Err(ImportError::ImageTooLarge { .. })
        ));
    }
}
