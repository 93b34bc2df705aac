//! The QR symbol: one alphanumeric segment at error-correction level M, in
//! the smallest version that holds it (qrcode crate), handed to the shells as
//! a module matrix they draw themselves, or rendered here as SVG or PNG.

use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};

use super::error::CredentialError;

/// Error-correction level: M restores up to 15% damage (a scratched screen,
/// glare), a fair trade against size for a phone held to a scanner.
pub const EC_LEVEL: EcLevel = EcLevel::M;

/// The light margin a scanner needs around the symbol, in modules (ISO/IEC
/// 18004 requires 4). The matrix excludes it; SVG and PNG include it.
pub const QUIET_ZONE: usize = 4;

/// Pixels per module in [`QrMatrix::to_png`]'s default use: 8 gives a
/// 600-odd pixel image that any scanner reads from a file or a screen.
pub const DEFAULT_MODULE_PIXELS: u32 = 8;

/// A QR symbol as a square of modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    /// The QR version (1 to 40): the symbol is `17 + 4 * version` modules wide.
    pub version: u8,
    /// Modules per side, without the quiet zone.
    pub width: u32,
    /// `width * width` modules, row by row from the top left: 1 is dark,
    /// 0 is light.
    pub modules: Vec<u8>,
}

/// The QR alphanumeric alphabet.
fn is_alphanumeric(byte: u8) -> bool {
    matches!(byte, b'0'..=b'9' | b'A'..=b'Z' | b' ' | b'$' | b'%' | b'*' | b'+' | b'-' | b'.' | b'/' | b':')
}

/// Bits of one alphanumeric segment of `chars` characters in `version`.
fn alphanumeric_bits(version: i16, chars: usize) -> usize {
    let count_bits = match version {
        1..=9 => 9,
        10..=26 => 11,
        _ => 13,
    };
    4 + count_bits + 11 * (chars / 2) + 6 * (chars % 2)
}

impl QrMatrix {
    /// Encodes `text` (QR alphanumeric characters only) as one alphanumeric
    /// segment at level M, in the smallest version that holds it.
    pub fn encode_alphanumeric(text: &str) -> Result<Self, CredentialError> {
        let data = text.as_bytes();
        if !data.iter().copied().all(is_alphanumeric) {
            return Err(CredentialError::TooLong);
        }
        let version = smallest_version(data.len()).ok_or(CredentialError::TooLong)?;
        let mut bits = Bits::new(Version::Normal(version));
        bits.push_alphanumeric_data(data)
            .and_then(|()| bits.push_terminator(EC_LEVEL))
            .map_err(|_| CredentialError::TooLong)?;
        let code = QrCode::with_bits(bits, EC_LEVEL).map_err(|_| CredentialError::TooLong)?;
        Ok(Self::from_code(&code, version))
    }

    fn from_code(code: &QrCode, version: i16) -> Self {
        let modules = code
            .to_colors()
            .into_iter()
            .map(|color| u8::from(color == Color::Dark))
            .collect();
        Self {
            version: u8::try_from(version).unwrap_or(0),
            width: u32::try_from(code.width()).unwrap_or(0),
            modules,
        }
    }

    /// Whether the module at column `x`, row `y` is dark (false outside).
    pub fn is_dark(&self, x: u32, y: u32) -> bool {
        if x >= self.width || y >= self.width {
            return false;
        }
        let index = y as usize * self.width as usize + x as usize;
        self.modules.get(index) == Some(&1)
    }

    /// A compact SVG: one path of horizontal runs, the quiet zone included,
    /// one user unit per module (scale it with CSS or the `width` attribute).
    pub fn to_svg(&self) -> String {
        use std::fmt::Write;
        let side = self.width as usize + 2 * QUIET_ZONE;
        let mut path = String::with_capacity(self.modules.len() * 4);
        for y in 0..self.width {
            let mut x = 0;
            while x < self.width {
                if !self.is_dark(x, y) {
                    x += 1;
                    continue;
                }
                let start = x;
                while x < self.width && self.is_dark(x, y) {
                    x += 1;
                }
                let _ = write!(
                    path,
                    "M{} {}h{}v1h-{}z",
                    start as usize + QUIET_ZONE,
                    y as usize + QUIET_ZONE,
                    x - start,
                    x - start
                );
            }
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
        )
    }

    /// A 1-bit greyscale PNG, `module_pixels` pixels per module (at least
    /// 1), the quiet zone included.
    pub fn to_png(&self, module_pixels: u32) -> Result<Vec<u8>, CredentialError> {
        let scale = module_pixels.max(1) as usize;
        let side_modules = self.width as usize + 2 * QUIET_ZONE;
        let side = side_modules * scale;
        let side_px =
            u32::try_from(side).map_err(|_| CredentialError::Image("too large".into()))?;
        let row_bytes = side.div_ceil(8);
        // One pixel row per module row, repeated `scale` times: rows inside a
        // module are identical.
        let mut pixels = Vec::with_capacity(row_bytes * side);
        for my in 0..side_modules {
            let mut row = vec![0u8; row_bytes];
            for px in 0..side {
                let mx = px / scale;
                let dark = my >= QUIET_ZONE
                    && mx >= QUIET_ZONE
                    && self.is_dark((mx - QUIET_ZONE) as u32, (my - QUIET_ZONE) as u32);
                if !dark {
                    // In 1-bit greyscale, 1 is white; the first pixel is the
                    // most significant bit.
                    if let Some(byte) = row.get_mut(px / 8) {
                        *byte |= 0x80 >> (px % 8);
                    }
                }
            }
            for _ in 0..scale {
                pixels.extend_from_slice(&row);
            }
        }
        let mut out = Vec::with_capacity(pixels.len() / 4);
        let mut encoder = png::Encoder::new(&mut out, side_px, side_px);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        // fdeflate: a 616-pixel code in well under a millisecond, a few KB.
        encoder.set_compression(png::Compression::Fast);
        let image = |error: png::EncodingError| CredentialError::Image(error.to_string());
        let mut writer = encoder.write_header().map_err(image)?;
        writer.write_image_data(&pixels).map_err(image)?;
        writer.finish().map_err(image)?;
        Ok(out)
    }
}

/// The smallest version holding `chars` alphanumeric characters at level M.
/// Computed, not found by trial encoding: the segment's length in bits is
/// known in advance.
fn smallest_version(chars: usize) -> Option<i16> {
    (1..=40i16).find(|&v| {
        Bits::new(Version::Normal(v))
            .max_len(EC_LEVEL)
            .is_ok_and(|capacity| alphanumeric_bits(v, chars) <= capacity)
    })
}

/// The QR version that `text` needs at level M, in alphanumeric mode.
pub fn version_for(text: &str) -> Option<u8> {
    smallest_version(text.len()).and_then(|v| u8::try_from(v).ok())
}

/// The most alphanumeric characters that fit `version` at level M.
pub fn alphanumeric_capacity(version: u8) -> usize {
    let v = i16::from(version);
    let Ok(capacity) = Bits::new(Version::Normal(v)).max_len(EC_LEVEL) else {
        return 0;
    };
    let mut chars = 0;
    while alphanumeric_bits(v, chars + 1) <= capacity {
        chars += 1;
    }
    chars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_match_iso_18004_at_level_m() {
        // ISO/IEC 18004 table 7, alphanumeric, level M.
        assert_eq!(alphanumeric_capacity(1), 20);
        assert_eq!(alphanumeric_capacity(10), 311);
        assert_eq!(alphanumeric_capacity(12), 419);
        assert_eq!(alphanumeric_capacity(13), 483);
        assert_eq!(alphanumeric_capacity(40), 3391);
        assert_eq!(version_for(&"A".repeat(419)), Some(12));
        assert_eq!(version_for(&"A".repeat(420)), Some(13));
    }

    #[test]
    fn the_matrix_is_what_the_qrcode_crate_draws() {
        let text = "CN1:HELLO WORLD $%*+-./:";
        let matrix = QrMatrix::encode_alphanumeric(text).unwrap();
        let reference = QrCode::with_error_correction_level(text, EcLevel::M).unwrap();
        assert_eq!(matrix.width as usize, reference.width());
        assert_eq!(
            Version::Normal(i16::from(matrix.version)),
            reference.version()
        );
        let expected: Vec<u8> = reference
            .to_colors()
            .into_iter()
            .map(|c| u8::from(c == Color::Dark))
            .collect();
        assert_eq!(matrix.modules, expected);
        assert_eq!(matrix.width, 17 + 4 * u32::from(matrix.version));
    }

    #[test]
    fn only_alphanumeric_text_is_encoded() {
        assert!(QrMatrix::encode_alphanumeric("lower case").is_err());
        assert!(QrMatrix::encode_alphanumeric(&"A".repeat(5000)).is_err());
    }

    #[test]
    fn svg_and_png_have_the_quiet_zone_and_the_right_size() {
        let matrix = QrMatrix::encode_alphanumeric("CN1:ABC").unwrap();
        let svg = matrix.to_svg();
        let side = matrix.width as usize + 2 * QUIET_ZONE;
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains(&format!("viewBox=\"0 0 {side} {side}\"")));
        let png = matrix.to_png(3).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let reader = decoder.read_info().unwrap();
        assert_eq!(reader.info().width as usize, side * 3);
        assert!(!matrix.is_dark(matrix.width, 0));
    }
}
