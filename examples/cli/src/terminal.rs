//! Draws a QR symbol in a terminal: two module rows per text line with the
//! half-block characters, light on dark as most terminals need inverting.

use carnet_core::credential::{QUIET_ZONE, QrMatrix};

/// The symbol with its quiet zone, as lines of text.
pub fn render(matrix: &QrMatrix) -> String {
    let quiet = QUIET_ZONE as i64;
    let side = i64::from(matrix.width) + 2 * quiet;
    let dark = |x: i64, y: i64| {
        let (mx, my) = (x - quiet, y - quiet);
        mx >= 0
            && my >= 0
            && mx < i64::from(matrix.width)
            && my < i64::from(matrix.width)
            && matrix.is_dark(mx as u32, my as u32)
    };
    let mut out = String::new();
    for y in (0..side).step_by(2) {
        for x in 0..side {
            // Printed light-on-dark: a dark module is a space.
            out.push(match (dark(x, y), dark(x, y + 1)) {
                (true, true) => ' ',
                (true, false) => '▄',
                (false, true) => '▀',
                (false, false) => '█',
            });
        }
        out.push('\n');
    }
    out
}
