//! A bitmap backend that lays text out itself, with the bundled font.
//!
//! plotters' own ab_glyph text path places each glyph at its advance position but ignores the
//! glyph's left side bearing, so letters visibly drift ("b y", "Te" overlapping). This wrapper
//! delegates every shape to [`BitMapBackend`] and draws text with ab_glyph directly: kerning,
//! side bearings and sub-pixel positions are kept, anchors and 90° rotations honoured. Sizes are
//! in pixels as in plotters (ascent − descent = size).

use super::font::dejavu;
use ab_glyph::{point, Font, Glyph, PxScale, ScaleFont};
use plotters::prelude::{BitMapBackend, DrawingBackend};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

/// [`BitMapBackend`] with correct text rendering.
pub struct TextBackend<'a> {
    inner: BitMapBackend<'a>,
}

impl<'a> TextBackend<'a> {
    /// Wraps a bitmap backend.
    pub fn new(inner: BitMapBackend<'a>) -> Self {
        TextBackend { inner }
    }
}

type Error<'a> = DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>;

#[derive(Debug)]
struct NoFont;

impl std::fmt::Display for NoFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the bundled font cannot be parsed")
    }
}

impl std::error::Error for NoFont {}

/// Glyphs of `text` at `size` px, positioned on a baseline at the font's ascent (so the layout
/// box spans y = 0 to ascent − descent), and the box's width and height.
fn layout(text: &str, size: f64) -> Option<(Vec<Glyph>, f32, f32)> {
    let font = dejavu()?;
    let scale = PxScale::from(size as f32);
    let scaled = font.as_scaled(scale);
    let mut x = 0.0f32;
    let mut prev = None;
    let mut glyphs = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(scale, point(x, scaled.ascent())));
        x += scaled.h_advance(id);
        prev = Some(id);
    }
    Some((glyphs, x, scaled.ascent() - scaled.descent()))
}

/// Width in pixels of `text` at `size` px in the bundled font (0 if the font is unusable).
pub fn text_width(text: &str, size: f64) -> f64 {
    layout(text, size).map_or(0.0, |(_, w, _)| f64::from(w))
}

impl<'a> DrawingBackend for TextBackend<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), Error<'a>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), Error<'a>> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), Error<'a>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), Error<'a>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Error<'a>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Error<'a>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), Error<'a>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), Error<'a>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        iwh: (u32, u32),
        src: &[u8],
    ) -> Result<(), Error<'a>> {
        self.inner.blit_bitmap(pos, iwh, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), Error<'a>> {
        let (_, w, h) =
            layout(text, style.size()).ok_or(DrawingErrorKind::FontError(Box::new(NoFont)))?;
        Ok((w.ceil() as u32, h.ceil() as u32))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), Error<'a>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let font = dejavu().ok_or(DrawingErrorKind::FontError(Box::new(NoFont)))?;
        let (glyphs, w, h) =
            layout(text, style.size()).ok_or(DrawingErrorKind::FontError(Box::new(NoFont)))?;
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -w / 2.0,
            HPos::Right => -w,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -h / 2.0,
            VPos::Bottom => -h,
        };
        let trans = style.transform();
        let mut result = Ok(());
        for mut g in glyphs {
            g.position.x += dx;
            g.position.y += dy;
            let Some(outline) = font.outline_glyph(g) else {
                continue;
            };
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                if result.is_err() || coverage <= 0.0 {
                    return;
                }
                let x = bounds.min.x as i32 + gx as i32;
                let y = bounds.min.y as i32 + gy as i32;
                let (tx, ty) = trans.transform(x, y);
                result = self.inner.draw_pixel(
                    (pos.0 + tx, pos.1 + ty),
                    BackendColor {
                        alpha: color.alpha * f64::from(coverage.min(1.0)),
                        rgb: color.rgb,
                    },
                );
            });
            result
                .as_ref()
                .map_err(|_| DrawingErrorKind::FontError(Box::new(NoFont)))?;
        }
        result
    }
}
