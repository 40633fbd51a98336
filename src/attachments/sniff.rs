//! What a file is, judged by its first bytes (never by its name or the type the client sent),
//! and whether a browser may show it inline.

/// How many leading bytes the sniffing looks at.
pub const HEAD_BYTES: usize = 8 * 1024;

/// Raster images a browser shows without running anything, and PDF: the only types served
/// `inline` (API.md §20). Everything else — HTML, SVG, scripts, unknown bytes — is a download.
pub const INLINE: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
];

/// Images the thumbnail job decodes.
pub const THUMBNAILED: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The content type of a file from its first bytes: `infer`'s magic numbers, then SVG (an
/// XML document whose root is `<svg`), then text (UTF-8 without NUL), else
/// `application/octet-stream`.
pub fn content_type(head: &[u8]) -> &'static str {
    if let Some(kind) = infer::get(head) {
        if kind.mime_type() == "text/xml" && looks_like_svg(head) {
            return "image/svg+xml";
        }
        return kind.mime_type();
    }
    if looks_like_svg(head) {
        return "image/svg+xml";
    }
    if is_text(head) {
        return "text/plain; charset=utf-8";
    }
    "application/octet-stream"
}

pub fn inline(content_type: &str) -> bool {
    INLINE.contains(&content_type)
}

pub fn thumbnailed(content_type: &str) -> bool {
    THUMBNAILED.contains(&content_type)
}

fn looks_like_svg(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    text.contains("<svg")
}

/// UTF-8 without NUL; the last character may be cut by the end of the head.
fn is_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(error) => error.error_len().is_none() && head.len() - error.valid_up_to() < 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(content_type(PNG), "image/png");
        assert_eq!(content_type(b"\xff\xd8\xff\xe0\0\x10JFIF"), "image/jpeg");
        assert_eq!(content_type(b"GIF89a\x01\0"), "image/gif");
        assert_eq!(content_type(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(
            content_type(b"<!DOCTYPE html><html><script>alert(1)</script>"),
            "text/html"
        );
        assert_eq!(content_type(b"<html><body>x</body></html>"), "text/html");
        assert_eq!(
            content_type(
                b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"
            ),
            "image/svg+xml"
        );
        assert_eq!(
            content_type(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            "image/svg+xml"
        );
        assert_eq!(
            content_type(b"alert(document.cookie)"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(content_type(b"caf\xc3"), "text/plain; charset=utf-8");
        assert_eq!(content_type(b"\0\x01\x02"), "application/octet-stream");
        assert_eq!(content_type(b""), "application/octet-stream");
    }

    #[test]
    fn only_raster_images_and_pdf_are_inline() {
        for inline_type in INLINE {
            assert!(inline(inline_type));
        }
        for download in [
            "text/html",
            "image/svg+xml",
            "text/xml",
            "text/plain; charset=utf-8",
            "application/octet-stream",
            "text/x-shellscript",
        ] {
            assert!(!inline(download), "{download}");
        }
        // A name never decides: HTML called x.png is sniffed as HTML.
        assert!(!inline(content_type(
            b"<html><script>alert(1)</script></html>"
        )));
    }
}
