//! Thumbnails: at most 400 px on a side, PNG, made on the job queue with the `image` crate.
//! Decoding is bounded before any pixel is decoded: the image's size is read from its header
//! and refused past `MAX_PIXELS`, and the decoders get an allocation limit, so a
//! decompression bomb (a tiny PNG that claims 50,000 × 50,000 pixels) costs nothing.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

/// The longest side of a thumbnail.
pub const SIDE: u32 = 400;
/// The most pixels an image may have to be thumbnailed (a 4096 × 4096 RGBA image is 64 MiB
/// decoded; a 12-megapixel photo fits).
pub const MAX_PIXELS: u64 = 4096 * 4096;
/// What a decoder may allocate in all.
pub const MAX_ALLOC: u64 = 80 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ThumbnailError {
    #[error("{width} × {height} pixels is over the limit of {MAX_PIXELS}")]
    TooManyPixels { width: u32, height: u32 },
    #[error("cannot be decoded: {0}")]
    Undecodable(String),
}

/// `sides`: also refuse images wider or taller than the pixel limit allows at all (for the
/// decoder; the header is read without it, so that the refusal can say how large it was).
fn limits(sides: bool) -> Limits {
    let mut limits = Limits::default();
    if sides {
        limits.max_image_width = Some(16_384);
        limits.max_image_height = Some(16_384);
    }
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

fn reader(bytes: &[u8], sides: bool) -> Result<ImageReader<Cursor<&[u8]>>, ThumbnailError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ThumbnailError::Undecodable(e.to_string()))?;
    reader.limits(limits(sides));
    Ok(reader)
}

/// The PNG thumbnail of an image's bytes (CPU-bound: run it on the blocking pool).
pub fn make(bytes: &[u8]) -> Result<Vec<u8>, ThumbnailError> {
    let (width, height) = reader(bytes, false)?
        .into_dimensions()
        .map_err(|e| ThumbnailError::Undecodable(e.to_string()))?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ThumbnailError::TooManyPixels { width, height });
    }
    let image = reader(bytes, true)?
        .decode()
        .map_err(|e| ThumbnailError::Undecodable(e.to_string()))?;
    let thumbnail = if width > SIDE || height > SIDE {
        image.thumbnail(SIDE, SIDE)
    } else {
        image
    };
    let mut png = Vec::new();
    thumbnail
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| ThumbnailError::Undecodable(e.to_string()))?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn thumbnails_fit_in_400_pixels_and_keep_the_aspect() {
        let thumbnail = make(&png(1000, 500)).unwrap();
        let image = image::load_from_memory(&thumbnail).unwrap();
        assert_eq!((image.width(), image.height()), (400, 200));
        let small = image::load_from_memory(&make(&png(30, 20)).unwrap()).unwrap();
        assert_eq!((small.width(), small.height()), (30, 20));
    }

    #[test]
    fn what_is_not_an_image_is_refused() {
        assert!(matches!(
            make(b"<html>not an image</html>"),
            Err(ThumbnailError::Undecodable(_))
        ));
        let mut cut = png(100, 100);
        cut.truncate(cut.len() / 2);
        assert!(make(&cut).is_err());
    }
}
