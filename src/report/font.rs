//! The bundled font: DejaVu Sans (src/report/assets/DejaVuSans.ttf, license beside it),
//! compiled into the binary so figures render the same on any machine, with no system fonts.

use ab_glyph::FontRef;
use plotters::style::{register_font, FontStyle};
use std::sync::OnceLock;

/// The family name every figure uses; the bundled font is registered under it.
pub const FAMILY: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("assets/DejaVuSans.ttf");
static REGISTERED: OnceLock<bool> = OnceLock::new();
static PARSED: OnceLock<Option<FontRef<'static>>> = OnceLock::new();

/// The bundled font, parsed once; `None` only if the compiled-in bytes are not a font.
pub fn dejavu() -> Option<&'static FontRef<'static>> {
    PARSED
        .get_or_init(|| FontRef::try_from_slice(DEJAVU_SANS).ok())
        .as_ref()
}

/// Registers the bundled font with plotters (once per process). Returns false when the font data
/// cannot be parsed (it is compiled in, so this would be a build problem).
pub fn ensure() -> bool {
    *REGISTERED.get_or_init(|| {
        [FontStyle::Normal, FontStyle::Bold]
            .into_iter()
            .all(|style| register_font(FAMILY, style, DEJAVU_SANS).is_ok())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn bundled_font_registers() {
        assert!(super::ensure());
        assert!(super::ensure());
        assert!(super::dejavu().is_some());
    }
}
