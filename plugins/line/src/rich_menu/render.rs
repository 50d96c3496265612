//! The rich menu's picture, drawn in the plugin: one large, light button per
//! menu item, its label centred in dark bold type, on the tile that is its
//! tappable area, encoded as a PNG.
//!
//! The labels are in the tenant's locale, so the type is a subset of Noto
//! Sans CJK JP Bold (`assets/`, SIL OFL 1.1) that covers the default menu in
//! `ja`, `ja-easy` and `en`, ASCII, and all kana. A label is set on one line,
//! or on two when that makes it clearly larger (English at its spaces,
//! やさしい日本語 at its word spaces, other Japanese between any two
//! characters a line may break between), as large as the tile allows. A
//! label with a character the font lacks is drawn as its button's number
//! instead ([`Rendered::numbered`]), so the menu still works and staff are
//! told.
//!
//! Colours: text `#1E2A36` on tints whose contrast with it is at least
//! 12:1 (WCAG AAA asks 7:1).

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};

use super::layout::{Bounds, Size};

/// The bundled font (see `assets/README.md`).
pub const FONT: &[u8] = include_bytes!("../../assets/NotoSansCJKjp-Bold-subset.otf");

/// The page behind the buttons, seen in the gaps between them.
const PAGE: Rgb = rgb(0xF4F1EA);
/// The labels.
const INK: Rgb = rgb(0x1E2A36);
/// Button faces and their lower edges, in turn.
const TINTS: [(Rgb, Rgb); 6] = [
    (rgb(0xFFE3CC), rgb(0xEDB88E)),
    (rgb(0xD4F0DC), rgb(0x9CCFAC)),
    (rgb(0xD6E8FA), rgb(0x9DBFE3)),
    (rgb(0xEADDF6), rgb(0xC3ABDD)),
    (rgb(0xFFF0B8), rgb(0xE3C867)),
    (rgb(0xFBDDE3), rgb(0xE3A5B3)),
];
/// Half the gap between two buttons, and the margin at the picture's edge.
const GAP: u32 = 12;
/// The buttons' corner radius.
const RADIUS: f32 = 40.0;
/// The height of a button's darker lower edge.
const EDGE: u32 = 10;
/// Room around a label inside its button, as a share of the button's
/// smaller side.
const PADDING: f32 = 0.12;
/// The largest label, as a share of its button's height, and in pixels.
const MAX_TEXT_SHARE: f32 = 0.24;
const MAX_TEXT_PX: f32 = 200.0;
/// Two lines are chosen over one only when they are this much larger.
const TWO_LINES_GAIN: f32 = 1.25;
/// Baseline to baseline, in ems.
const LINE_PITCH: f32 = 1.3;

/// Characters a line must not start with (Japanese line-breaking rules,
/// 行頭禁則): small kana, the long vowel mark, closing punctuation.
const NO_LINE_START: &str = "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶー、。」）！？…・";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rgb([u8; 3]);

const fn rgb(hex: u32) -> Rgb {
    Rgb([(hex >> 16) as u8, (hex >> 8) as u8, hex as u8])
}

/// The drawn picture.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The PNG.
    pub png: Vec<u8>,
    /// The buttons (indexes) drawn as their number because the font lacks
    /// a character of their label, with the characters it lacks.
    pub numbered: Vec<(usize, String)>,
}

/// Draw `labels` on their `tiles` (one each, in order) on a picture of
/// `size`, and encode it.
pub fn render(labels: &[&str], tiles: &[Bounds], size: Size) -> Result<Rendered, String> {
    let font = FontRef::try_from_slice(FONT).map_err(|e| format!("the bundled font: {e}"))?;
    let mut canvas = Canvas::new(size, PAGE);
    let mut numbered = Vec::new();
    let mut buttons = Vec::new();
    for (i, (label, tile)) in labels.iter().zip(tiles).enumerate() {
        let (face, edge) = TINTS[i % TINTS.len()];
        let (x, y) = (tile.x + GAP, tile.y + GAP);
        let (w, h) = (
            tile.width.saturating_sub(2 * GAP),
            tile.height.saturating_sub(2 * GAP),
        );
        canvas.rounded_rect(x, y, w, h, RADIUS, edge);
        canvas.rounded_rect(x, y, w, h.saturating_sub(EDGE), RADIUS, face);
        let label = label.trim();
        let missing = missing_chars(&font, label);
        let text = if label.is_empty() || !missing.is_empty() {
            numbered.push((i, missing));
            (i + 1).to_string()
        } else {
            label.to_owned()
        };
        buttons.push((text, LabelBox::new(x, y, w, h.saturating_sub(EDGE))));
    }
    // One size for every label (the largest the tightest one allows): a
    // menu whose labels jump in size reads as uneven.
    let common = buttons
        .iter()
        .map(|(text, b)| b.set(&font, text, b.largest).px)
        .fold(f32::INFINITY, f32::min);
    for (text, b) in &buttons {
        draw_label(&mut canvas, &font, &b.set(&font, text, common), b);
    }
    Ok(Rendered {
        png: canvas.png()?,
        numbered,
    })
}

/// The characters of `label` the font has no glyph for (in order, once).
pub fn missing_chars(font: &FontRef<'_>, label: &str) -> String {
    let mut missing = String::new();
    for c in label.chars() {
        if !c.is_whitespace() && font.glyph_id(c) == GlyphId(0) && !missing.contains(c) {
            missing.push(c);
        }
    }
    missing
}

/// `text` as large as fits in the box, centred, on one line or two.
fn draw_label(canvas: &mut Canvas, font: &FontRef<'_>, lines: &Lines, b: &LabelBox) {
    let (x, y, w, h) = (b.x, b.y, b.w, b.h);
    let px = lines.px;
    let scaled = font.as_scaled(PxScale::from(px));
    // Lay the glyphs out around (0, 0), then centre what they cover.
    let mut glyphs = Vec::new();
    for (n, line) in lines.lines.iter().enumerate() {
        let width = line_width(font, line) * px;
        let baseline = n as f32 * LINE_PITCH * px;
        let mut caret = -width / 2.0;
        let mut previous = None;
        for c in line.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = previous {
                caret += scaled.kern(p, id);
            }
            glyphs.push(id.with_scale_and_position(px, point(caret, baseline)));
            caret += scaled.h_advance(id);
            previous = Some(id);
        }
    }
    let outlines: Vec<_> = glyphs
        .into_iter()
        .filter_map(|g| font.outline_glyph(g))
        .collect();
    let Some(first) = outlines.first() else {
        return;
    };
    let mut area = first.px_bounds();
    for o in &outlines {
        let b = o.px_bounds();
        area.min.x = area.min.x.min(b.min.x);
        area.min.y = area.min.y.min(b.min.y);
        area.max.x = area.max.x.max(b.max.x);
        area.max.y = area.max.y.max(b.max.y);
    }
    let dx = (x as f32 + w as f32 / 2.0 - (area.min.x + area.max.x) / 2.0).round() as i64;
    let dy = (y as f32 + h as f32 / 2.0 - (area.min.y + area.max.y) / 2.0).round() as i64;
    for o in &outlines {
        let b = o.px_bounds();
        let (ox, oy) = (b.min.x as i64 + dx, b.min.y as i64 + dy);
        o.draw(|gx, gy, coverage| {
            canvas.blend(ox + i64::from(gx), oy + i64::from(gy), INK, coverage);
        });
    }
}

/// A button's face, where its label goes.
#[derive(Debug, Clone, Copy)]
struct LabelBox {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    /// The room for the label inside the padding.
    room_w: f32,
    room_h: f32,
    /// The largest label this face takes.
    largest: f32,
}

impl LabelBox {
    fn new(x: u32, y: u32, w: u32, h: u32) -> Self {
        let pad = PADDING * w.min(h) as f32;
        LabelBox {
            x,
            y,
            w,
            h,
            room_w: w as f32 - 2.0 * pad,
            room_h: h as f32 - 2.0 * pad,
            largest: (MAX_TEXT_SHARE * h as f32).min(MAX_TEXT_PX),
        }
    }

    /// `text` set in this face, at most `largest` pixels.
    fn set(&self, font: &FontRef<'_>, text: &str, largest: f32) -> Lines {
        set_lines(font, text, self.room_w, self.room_h, largest)
    }
}

/// A label broken into lines, and the size they are set at.
#[derive(Debug, Clone, PartialEq)]
struct Lines {
    lines: Vec<String>,
    px: f32,
}

/// The label on one line or two, whichever is clearly larger within
/// `room_w` × `room_h`, at most `largest` pixels.
fn set_lines(font: &FontRef<'_>, text: &str, room_w: f32, room_h: f32, largest: f32) -> Lines {
    // The height of `n` lines, in ems (a line's ink is about one em).
    let height = |n: usize| 1.0 + (n as f32 - 1.0) * LINE_PITCH;
    let fit = |lines: &[&str]| {
        let widest = lines
            .iter()
            .map(|l| line_width(font, l))
            .fold(0.0_f32, f32::max);
        (room_w / widest.max(0.01))
            .min(room_h / height(lines.len()))
            .min(largest)
    };
    let one = Lines {
        lines: vec![text.to_owned()],
        px: fit(&[text]),
    };
    let two = break_points(text)
        .into_iter()
        .map(|at| {
            let (a, b) = text.split_at(at);
            let (a, b) = (a.trim_end(), b.trim_start());
            Lines {
                lines: vec![a.to_owned(), b.to_owned()],
                px: fit(&[a, b]),
            }
        })
        .max_by(|a, b| a.px.total_cmp(&b.px));
    match two {
        Some(two) if two.px > one.px * TWO_LINES_GAIN => two,
        _ => one,
    }
}

/// Where a label may be broken in two (byte offsets): at its spaces when it
/// has any, else between two characters unless the second may not start a
/// line.
fn break_points(text: &str) -> Vec<usize> {
    let spaces: Vec<usize> = text
        .char_indices()
        .filter(|(_, c)| c.is_whitespace())
        .map(|(i, _)| i)
        .collect();
    if !spaces.is_empty() {
        return spaces;
    }
    text.char_indices()
        .skip(1)
        .filter(|(_, c)| !NO_LINE_START.contains(*c) && !c.is_ascii_alphanumeric())
        .map(|(i, _)| i)
        .collect()
}

/// A line's advance width in ems.
fn line_width(font: &FontRef<'_>, line: &str) -> f32 {
    let em = font.units_per_em().unwrap_or(1000.0);
    let mut width = 0.0;
    let mut previous = None;
    for c in line.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = previous {
            width += font.kern_unscaled(p, id);
        }
        width += font.h_advance_unscaled(id);
        previous = Some(id);
    }
    width / em
}

/// An RGB picture being drawn.
struct Canvas {
    size: Size,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(size: Size, background: Rgb) -> Self {
        let pixels = background
            .0
            .repeat((size.width as usize) * (size.height as usize));
        Canvas { size, pixels }
    }

    /// Mix `colour` into the pixel at (x, y) by `alpha` (0 to 1).
    fn blend(&mut self, x: i64, y: i64, colour: Rgb, alpha: f32) {
        if x < 0 || y < 0 || x >= i64::from(self.size.width) || y >= i64::from(self.size.height) {
            return;
        }
        let alpha = alpha.clamp(0.0, 1.0);
        let at = (y as usize * self.size.width as usize + x as usize) * 3;
        for (channel, &c) in self.pixels[at..at + 3].iter_mut().zip(&colour.0) {
            *channel = (f32::from(*channel) * (1.0 - alpha) + f32::from(c) * alpha).round() as u8;
        }
    }

    /// A filled rectangle with rounded, anti-aliased corners.
    fn rounded_rect(&mut self, x: u32, y: u32, w: u32, h: u32, radius: f32, colour: Rgb) {
        let radius = radius.min(w as f32 / 2.0).min(h as f32 / 2.0);
        let (left, top) = (x as f32, y as f32);
        let (right, bottom) = (left + w as f32, top + h as f32);
        for py in y..(y + h).min(self.size.height) {
            let cy = py as f32 + 0.5;
            // Only the rows within a radius of the top or bottom edge need
            // their ends computed pixel by pixel.
            let corner_row = cy < top + radius || cy > bottom - radius;
            for px in x..(x + w).min(self.size.width) {
                let cx = px as f32 + 0.5;
                let alpha = if corner_row && (cx < left + radius || cx > right - radius) {
                    let ox = cx.clamp(left + radius, right - radius);
                    let oy = cy.clamp(top + radius, bottom - radius);
                    let distance = ((cx - ox).powi(2) + (cy - oy).powi(2)).sqrt();
                    (radius - distance + 0.5).clamp(0.0, 1.0)
                } else {
                    1.0
                };
                if alpha >= 1.0 {
                    let at = (py as usize * self.size.width as usize + px as usize) * 3;
                    self.pixels[at..at + 3].copy_from_slice(&colour.0);
                } else if alpha > 0.0 {
                    self.blend(i64::from(px), i64::from(py), colour, alpha);
                }
            }
        }
    }

    /// The picture as an 8-bit RGB PNG.
    fn png(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.size.width, self.size.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Balanced);
        let encoded = encoder
            .write_header()
            .and_then(|mut writer| {
                writer.write_image_data(&self.pixels)?;
                writer.finish()
            })
            .map_err(|e| format!("encoding the rich menu picture: {e}"));
        encoded.map(|()| out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::layout::{self, tiles};
    use super::super::picture::{self, Kind};
    use super::*;

    /// The host's default menu (`tayori_core::default_menu`) in each locale.
    pub(crate) const DEFAULT_LABELS: [[&str; 5]; 3] = [
        [
            "出産を届ける",
            "子どもを追加",
            "家族を招待",
            "言語",
            "配信を止める",
        ],
        [
            "うまれました",
            "こどもを ふやす",
            "かぞくを さそう",
            "ことば",
            "やめる",
        ],
        [
            "Report a birth",
            "Add a child",
            "Invite family",
            "Language",
            "Stop messages",
        ],
    ];

    fn font() -> FontRef<'static> {
        FontRef::try_from_slice(FONT).expect("the bundled font")
    }

    /// The pixel at (x, y) of a decoded PNG.
    fn decode(png_bytes: &[u8]) -> (Size, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
        let info = reader.next_frame(&mut pixels).expect("a frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        (
            Size {
                width: info.width,
                height: info.height,
            },
            pixels,
        )
    }

    #[test]
    fn the_bundled_font_has_every_character_of_its_subset_list() {
        let list = include_str!("../../assets/subset.txt");
        let missing = missing_chars(&font(), list);
        assert_eq!(missing, "", "assets/subset.txt and the font differ");
        for labels in DEFAULT_LABELS {
            for label in labels {
                assert_eq!(missing_chars(&font(), label), "", "{label}");
            }
        }
        assert_eq!(missing_chars(&font(), "予防接種🍼"), "予防接種🍼");
    }

    #[test]
    fn the_default_menu_is_drawn_at_lines_size_with_ink_in_every_button() {
        for labels in DEFAULT_LABELS {
            let size = layout::size_for(labels.len());
            let areas = tiles(labels.len(), size);
            let drawn = render(&labels, &areas, size).expect("drawn");
            assert!(
                drawn.numbered.is_empty(),
                "{labels:?}: {:?}",
                drawn.numbered
            );
            // What LINE takes: a PNG of the menu's size, at most 1 MB.
            let checked = picture::inspect(drawn.png.clone()).expect("LINE takes it");
            assert_eq!((checked.kind, checked.size), (Kind::Png, size));
            assert!(drawn.png.len() < 400_000, "{} bytes", drawn.png.len());
            let (decoded, pixels) = decode(&drawn.png);
            assert_eq!(decoded, size);
            // Every button has ink (its label) in its middle and its face
            // colour at its edges.
            for (i, a) in areas.iter().enumerate() {
                let pixel = |x: u32, y: u32| {
                    let at = ((y * size.width + x) * 3) as usize;
                    Rgb([pixels[at], pixels[at + 1], pixels[at + 2]])
                };
                let face = TINTS[i % TINTS.len()].0;
                assert_eq!(pixel(a.x + GAP + 60, a.y + a.height / 2), face, "{i}");
                let inked = (a.y + a.height / 4..a.y + a.height * 3 / 4)
                    .flat_map(|y| (a.x + a.width / 4..a.x + a.width * 3 / 4).map(move |x| (x, y)))
                    .filter(|&(x, y)| pixel(x, y) == INK)
                    .count();
                assert!(
                    inked > 2_000,
                    "{labels:?} button {i}: {inked} pixels of ink"
                );
            }
        }
    }

    #[test]
    fn labels_are_large_and_broken_only_where_a_line_may_break() {
        let f = font();
        // A wide button: one line, large.
        let one = set_lines(&f, "出産を届ける", 1000.0, 560.0, 190.0);
        assert_eq!(one.lines, ["出産を届ける"]);
        assert!(one.px > 160.0, "{one:?}");
        // A narrow one: two lines at the word space, or between kanji.
        let easy = set_lines(&f, "こどもを ふやす", 600.0, 560.0, 190.0);
        assert_eq!(easy.lines, ["こどもを", "ふやす"]);
        let ja = set_lines(&f, "配信を止める", 600.0, 560.0, 190.0);
        assert_eq!(ja.lines.len(), 2, "{ja:?}");
        assert!(ja.px >= 150.0, "{ja:?}");
        let en = set_lines(&f, "Stop messages", 600.0, 560.0, 190.0);
        assert_eq!(en.lines, ["Stop", "messages"]);
        // Never a line that starts with a small kana or ー.
        assert_eq!(break_points("メニュー"), [3]);
        assert!(
            break_points("ちょっと")
                .iter()
                .all(|&at| !"ょっ".contains(&"ちょっと"[at..at + 3]))
        );
    }

    #[test]
    fn a_label_the_font_cannot_draw_becomes_its_number() {
        let size = layout::HALF;
        let areas = tiles(2, size);
        let drawn = render(&["予防接種", "Language"], &areas, size).expect("drawn");
        assert_eq!(drawn.numbered, [(0, "予防接種".to_owned())]);
        assert_eq!(picture::inspect(drawn.png).unwrap().size, size);
    }

    /// The picture in the docs (docs/line-rich-menu.png) is the default
    /// Japanese menu exactly as the plugin draws it; after changing the
    /// drawing, `TAYORI_WRITE_DOCS=1` writes it anew.
    #[test]
    fn the_picture_in_the_docs_is_what_the_plugin_draws() {
        let labels = DEFAULT_LABELS[0];
        let size = layout::size_for(labels.len());
        let drawn = render(&labels, &tiles(labels.len(), size), size).expect("drawn");
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/line-rich-menu.png");
        if std::env::var_os("TAYORI_WRITE_DOCS").is_some() {
            std::fs::write(path, &drawn.png).expect("written");
        }
        let committed = std::fs::read(path).expect("docs/line-rich-menu.png");
        assert!(
            committed == drawn.png,
            "docs/line-rich-menu.png is not what the plugin draws: run with TAYORI_WRITE_DOCS=1"
        );
    }
}
