//! Reads the QR symbol in a PNG with rqrr, as a counter's camera pipeline
//! would: any PNG colour type, turned into 8-bit luma first.

/// Why no text came out of the image.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Not a PNG, or a damaged one.
    #[error("the image is not a readable PNG: {0}")]
    NotPng(String),
    /// No QR symbol was found, or it could not be decoded.
    #[error("no readable QR code in the image")]
    NoQrCode,
}

/// The text of the first QR symbol found in `png`.
pub fn qr_text_in_png(png_bytes: &[u8]) -> Result<String, ScanError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .map_err(|error| ScanError::NotPng(error.to_string()))?;
    let mut buffer = vec![
        0;
        reader
            .output_buffer_size()
            .ok_or_else(|| ScanError::NotPng("image too large".into()))?
    ];
    let frame = reader
        .next_frame(&mut buffer)
        .map_err(|error| ScanError::NotPng(error.to_string()))?;
    let channels = frame.color_type.samples();
    let (width, height) = (frame.width as usize, frame.height as usize);
    let luma = |x: usize, y: usize| -> u8 {
        let at = (y * width + x) * channels;
        match buffer.get(at..at + channels.min(3)) {
            Some([grey]) | Some([grey, _]) => *grey,
            Some([r, g, b]) => ((u16::from(*r) * 3 + u16::from(*g) * 6 + u16::from(*b)) / 10) as u8,
            _ => 255,
        }
    };
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, luma);
    image
        .detect_grids()
        .into_iter()
        .find_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .ok_or(ScanError::NoQrCode)
}
