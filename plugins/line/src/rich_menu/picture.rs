//! A picture for the rich menu that the municipality made itself
//! (`rich_menu_image`): what LINE takes, checked before the channel is
//! stored so that a wrong file is an error on the config's field rather than
//! a failed set-up later.
//!
//! LINE takes a PNG or a JPEG of at most 1 MB whose pixel size is the rich
//! menu's (see [`super::layout::check_size`]). The pixel size is read from
//! the file's header: a PNG's `IHDR`, a JPEG's start-of-frame segment.

use base64::Engine as _;

use super::layout::{self, Size};

/// LINE's largest rich menu picture: 1 MB. (The host's cap on a request
/// body, 1 MiB, is larger.)
pub const MAX_BYTES: usize = 1 << 20;

/// The kinds of picture LINE takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Png,
    Jpeg,
}

impl Kind {
    /// The `Content-Type` of the upload.
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
        }
    }
}

/// A picture that LINE takes as a rich menu's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub kind: Kind,
    pub size: Size,
    pub bytes: Vec<u8>,
}

/// The picture in a config's `rich_menu_image`: base64 (standard alphabet,
/// line breaks allowed), optionally as a `data:image/...;base64,` URL.
/// The error says what is wrong, for the field.
pub fn from_base64(text: &str) -> Result<Picture, String> {
    let text = text.trim();
    let text = match text.strip_prefix("data:") {
        Some(url) => url
            .split_once(";base64,")
            .map(|(_, data)| data)
            .ok_or("is a data URL without `;base64,`")?,
        None => text,
    };
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    // A base64 text decodes to 3/4 of its length: refuse a huge one unread.
    if compact.len() / 4 * 3 > MAX_BYTES + 3 {
        return Err(too_large(compact.len() / 4 * 3));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| format!("is not base64 ({e})"))?;
    inspect(bytes)
}

/// Check `bytes` as LINE would.
pub fn inspect(bytes: Vec<u8>) -> Result<Picture, String> {
    if bytes.len() > MAX_BYTES {
        return Err(too_large(bytes.len()));
    }
    let (kind, size) = if bytes.starts_with(PNG_SIGNATURE) {
        (Kind::Png, png_size(&bytes)?)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        (Kind::Jpeg, jpeg_size(&bytes)?)
    } else {
        return Err("must be a PNG or JPEG picture".into());
    };
    layout::check_size(size)?;
    Ok(Picture { kind, size, bytes })
}

fn too_large(bytes: usize) -> String {
    format!("is {bytes} bytes; LINE takes a picture of at most 1 MB ({MAX_BYTES} bytes)")
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A PNG's size: its first chunk is `IHDR`, width and height big-endian.
fn png_size(bytes: &[u8]) -> Result<Size, String> {
    let ihdr = bytes.get(8..24).ok_or("is a PNG cut short")?;
    if &ihdr[4..8] != b"IHDR" {
        return Err("is a PNG without its header (IHDR)".into());
    }
    let word = |at: usize| u32::from_be_bytes([ihdr[at], ihdr[at + 1], ihdr[at + 2], ihdr[at + 3]]);
    Ok(Size {
        width: word(8),
        height: word(12),
    })
}

/// A JPEG's size, from the first start-of-frame segment (SOF0 to SOF15,
/// except DHT, JPG and DAC, which share the range).
fn jpeg_size(bytes: &[u8]) -> Result<Size, String> {
    let cut = || "is a JPEG without a frame header (cut short?)".to_owned();
    let mut at = 2;
    loop {
        // Markers may be padded with 0xFF bytes.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (&0xFF, Some(&marker)) = (bytes.get(at).ok_or_else(cut)?, bytes.get(at + 1)) else {
            return Err(cut());
        };
        at += 2;
        // Markers without a length: TEM, RST0-7.
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            continue;
        }
        if marker == 0xD9 || marker == 0xDA {
            // End of image, or the scan began before any frame.
            return Err(cut());
        }
        let length = bytes.get(at..at + 2).ok_or_else(cut)?;
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        if length < 2 {
            return Err(cut());
        }
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            // length(2) precision(1) height(2) width(2)
            let frame = bytes.get(at + 3..at + 7).ok_or_else(cut)?;
            return Ok(Size {
                height: u32::from(u16::from_be_bytes([frame[0], frame[1]])),
                width: u32::from(u16::from_be_bytes([frame[2], frame[3]])),
            });
        }
        at += length;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG header (signature and IHDR) of this size; enough for LINE's
    /// checks here, which read only the header.
    pub(crate) fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = PNG_SIGNATURE.to_vec();
        bytes.extend(13u32.to_be_bytes());
        bytes.extend(b"IHDR");
        bytes.extend(width.to_be_bytes());
        bytes.extend(height.to_be_bytes());
        bytes.extend([8, 2, 0, 0, 0]);
        bytes.extend([0; 4]);
        bytes
    }

    /// A JPEG's first segments: SOI, an APP0 (JFIF), a DQT, then SOF0.
    fn jpeg_header(width: u16, height: u16) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8];
        bytes.extend([0xFF, 0xE0, 0x00, 0x10]);
        bytes.extend(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        bytes.extend([0xFF, 0xDB, 0x00, 0x04, 0x00, 0x01]);
        bytes.extend([0xFF, 0xC0, 0x00, 0x11, 0x08]);
        bytes.extend(height.to_be_bytes());
        bytes.extend(width.to_be_bytes());
        bytes.extend([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        bytes.extend([0xFF, 0xD9]);
        bytes
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn a_png_or_jpeg_of_a_rich_menu_size_is_taken_with_its_kind_and_size() {
        let png = from_base64(&b64(&png_header(2500, 1686))).expect("a PNG");
        assert_eq!((png.kind, png.size), (Kind::Png, layout::FULL));
        assert_eq!(png.kind.content_type(), "image/png");
        let jpeg = from_base64(&b64(&jpeg_header(2500, 843))).expect("a JPEG");
        assert_eq!((jpeg.kind, jpeg.size), (Kind::Jpeg, layout::HALF));
        assert_eq!(jpeg.kind.content_type(), "image/jpeg");
        // As a data URL, and with line breaks.
        let url = format!("data:image/png;base64,{}", b64(&png_header(1200, 810)));
        assert_eq!(
            from_base64(&url).unwrap().size,
            Size {
                width: 1200,
                height: 810
            }
        );
        let wrapped: String = b64(&png_header(2500, 843))
            .as_bytes()
            .chunks(16)
            .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(from_base64(&wrapped).unwrap().size, layout::HALF);
    }

    #[test]
    fn what_line_would_refuse_is_refused_saying_why() {
        let gif = b64(b"GIF89a\x01\0\x01\0");
        let mut big = png_header(2500, 1686);
        big.resize(MAX_BYTES + 1, 0);
        for (text, start) in [
            ("not base64 at all!".to_owned(), "is not base64"),
            (gif, "must be a PNG or JPEG"),
            (b64(&png_header(2500, 2500)), "is 2500x2500 pixels"),
            (b64(&png_header(3000, 1686)), "is 3000x1686 pixels"),
            (b64(&jpeg_header(640, 480)), "is 640x480 pixels"),
            (b64(PNG_SIGNATURE), "is a PNG cut short"),
            (
                b64(&[0xFF, 0xD8, 0xFF, 0xD9]),
                "is a JPEG without a frame header",
            ),
            (b64(&big), "is 1048577 bytes"),
            ("data:image/png,abc".to_owned(), "is a data URL without"),
        ] {
            let message = from_base64(&text).expect_err(start);
            assert!(message.starts_with(start), "{start}: {message}");
        }
    }
}
