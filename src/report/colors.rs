//! Colour maps for the figures: sequential (magma, blues) and diverging (red-blue), interpolated
//! linearly between the published anchor colours (matplotlib's magma, ColorBrewer's Blues and RdBu).

use plotters::style::RGBColor;

const MAGMA: [(u8, u8, u8); 11] = [
    (0x00, 0x00, 0x04),
    (0x14, 0x0e, 0x36),
    (0x3b, 0x0f, 0x70),
    (0x64, 0x1a, 0x80),
    (0x8c, 0x29, 0x81),
    (0xb7, 0x37, 0x79),
    (0xde, 0x49, 0x68),
    (0xf7, 0x70, 0x5c),
    (0xfe, 0x9f, 0x6d),
    (0xfe, 0xcf, 0x92),
    (0xfc, 0xfd, 0xbf),
];

const BLUES: [(u8, u8, u8); 9] = [
    (0xf7, 0xfb, 0xff),
    (0xde, 0xeb, 0xf7),
    (0xc6, 0xdb, 0xef),
    (0x9e, 0xca, 0xe1),
    (0x6b, 0xae, 0xd6),
    (0x42, 0x92, 0xc6),
    (0x21, 0x71, 0xb5),
    (0x08, 0x51, 0x9c),
    (0x08, 0x30, 0x6b),
];

/// RdBu reversed: dark blue (low) through near-white (middle) to dark red (high).
const BLUE_RED: [(u8, u8, u8); 11] = [
    (0x05, 0x30, 0x61),
    (0x21, 0x66, 0xac),
    (0x43, 0x93, 0xc3),
    (0x92, 0xc5, 0xde),
    (0xd1, 0xe5, 0xf0),
    (0xf7, 0xf7, 0xf7),
    (0xfd, 0xdb, 0xc7),
    (0xf4, 0xa5, 0x82),
    (0xd6, 0x60, 0x4d),
    (0xb2, 0x18, 0x2b),
    (0x67, 0x00, 0x1f),
];

/// A colour map: `t` in [0, 1] (clamped; NaN gives the low end) to a colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMap {
    /// Black through purple and orange to pale yellow (for spectrograms).
    Magma,
    /// White to dark blue (for counts and shares).
    Blues,
    /// Dark blue through white to dark red (for signed values such as correlations).
    BlueRed,
}

impl ColorMap {
    /// The colour at `t` in [0, 1].
    pub fn at(self, t: f64) -> RGBColor {
        let anchors: &[(u8, u8, u8)] = match self {
            ColorMap::Magma => &MAGMA,
            ColorMap::Blues => &BLUES,
            ColorMap::BlueRed => &BLUE_RED,
        };
        interpolate(anchors, t)
    }
}

fn interpolate(anchors: &[(u8, u8, u8)], t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (anchors.len() - 1) as f64;
    let i = (pos.floor() as usize).min(anchors.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (anchors[i], anchors[i + 1]);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Black or white, whichever reads better on `background`.
pub fn text_on(background: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = background;
    let luma = 0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64;
    if luma < 140.0 {
        RGBColor(255, 255, 255)
    } else {
        RGBColor(0, 0, 0)
    }
}

/// Line colours for curves and bars (Tableau 10, colour-blind friendly in pairs).
pub const SERIES: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_middle() {
        assert_eq!(ColorMap::Magma.at(0.0), RGBColor(0, 0, 4));
        assert_eq!(ColorMap::Magma.at(1.0), RGBColor(0xfc, 0xfd, 0xbf));
        assert_eq!(ColorMap::Magma.at(7.0), RGBColor(0xfc, 0xfd, 0xbf));
        assert_eq!(ColorMap::Magma.at(f64::NAN), RGBColor(0, 0, 4));
        assert_eq!(ColorMap::BlueRed.at(0.5), RGBColor(0xf7, 0xf7, 0xf7));
        // Halfway between the first two Blues anchors.
        assert_eq!(ColorMap::Blues.at(0.0625), RGBColor(0xeb, 0xf3, 0xfb));
        assert_eq!(text_on(RGBColor(8, 48, 107)), RGBColor(255, 255, 255));
        assert_eq!(text_on(RGBColor(247, 251, 255)), RGBColor(0, 0, 0));
    }
}
