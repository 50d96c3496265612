//! The registration poster: one A4 page (SVG, millimetres) a municipality
//! prints for its health centre's wall, with a QR code for each way a
//! parent can register — the LINE account's friend-add link, the
//! registration form and a blank email — and each address printed beside
//! its code for those who type it. Japanese first, with one English line
//! per way.
//!
//! The QR codes are drawn as one SVG path of their dark modules (the
//! `qrcode` crate's matrix, error correction M, the standard's 4-module
//! quiet zone), so the file needs no pictures and prints sharp at any size.

use std::fmt::Write as _;

use qrcode::{Color, EcLevel, QrCode};

/// A4 in millimetres.
const WIDTH: f64 = 210.0;
const HEIGHT: f64 = 297.0;
/// The QR codes' printed size (quiet zone included): at 40 mm a phone
/// reads a code of a 60-character link from well over a metre.
const QR_SIZE: f64 = 40.0;
/// The quiet zone the standard asks for, in modules.
const QUIET: usize = 4;
/// The fonts a printer or a browser is likely to have for Japanese.
const FONTS: &str =
    "'Noto Sans JP','Noto Sans CJK JP','Hiragino Sans','Yu Gothic','Meiryo','IPAGothic',sans-serif";
/// Text and the band: dark blue on white, white on dark blue (contrast
/// above 10:1 either way).
const INK: &str = "#0b0c0c";
const BAND: &str = "#1d4f91";

/// What one poster shows.
#[derive(Debug, Clone)]
pub struct Poster {
    /// The municipality's name, e.g. `港区`.
    pub tenant_name: String,
    /// Until when children are followed, in words (`3歳の誕生日まで`).
    pub span_ja: String,
    pub span_en: String,
    /// The LINE account's friend-add link.
    pub line_url: Option<String>,
    /// The registration form.
    pub form_url: Option<String>,
    /// The address a blank email goes to.
    pub blank_email: Option<String>,
}

/// One way to register, as printed.
struct Way<'a> {
    title_ja: &'a str,
    title_en: &'a str,
    steps_ja: String,
    steps_en: &'a str,
    /// What the code holds.
    code: String,
    /// What is printed under the title for typing it by hand.
    shown: &'a str,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A character's printed width in ems: CJK and full-width characters one,
/// the rest about a half.
fn width(c: char) -> f64 {
    if c.is_ascii() { 0.55 } else { 1.0 }
}

/// Lines of at most `ems` wide. Japanese breaks anywhere but before a
/// closing mark (、。」）); a latin word is not cut unless longer than a
/// line.
pub fn wrap(text: &str, ems: f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0.0;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // The next unit: a latin word (with its trailing space), or one
        // character with the closing marks that follow it.
        let start = i;
        if chars[i].is_ascii_alphanumeric() || chars[i] == '@' || chars[i] == '.' {
            while i < chars.len() && !chars[i].is_whitespace() && chars[i].is_ascii() {
                i += 1;
            }
        } else {
            i += 1;
        }
        while i < chars.len()
            && matches!(chars[i], '、' | '。' | '」' | '）' | ')' | ',' | '.' | ' ')
        {
            i += 1;
        }
        let unit: String = chars[start..i].iter().collect();
        let w: f64 = unit.chars().map(width).sum();
        if used + w > ems && !line.is_empty() {
            lines.push(line.trim_end().to_string());
            line = String::new();
            used = 0.0;
        }
        line.push_str(&unit);
        used += w;
    }
    if !line.trim().is_empty() {
        lines.push(line.trim_end().to_string());
    }
    lines
}

/// The dark modules of `data`'s QR code as one path, the code `size` mm
/// wide with its top-left corner at (`x`, `y`).
pub fn qr_path(data: &str, x: f64, y: f64, size: f64) -> Result<String, qrcode::types::QrError> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)?;
    let n = code.width();
    let colors = code.to_colors();
    let module = size / (n + 2 * QUIET) as f64;
    let mut d = String::new();
    for row in 0..n {
        let mut col = 0;
        while col < n {
            if colors[row * n + col] == Color::Dark {
                // A run of dark modules on the row: one rectangle.
                let run_start = col;
                while col < n && colors[row * n + col] == Color::Dark {
                    col += 1;
                }
                let _ = write!(
                    d,
                    "M{:.3} {:.3}h{:.3}v{:.3}h-{:.3}z",
                    x + (run_start + QUIET) as f64 * module,
                    y + (row + QUIET) as f64 * module,
                    (col - run_start) as f64 * module,
                    module,
                    (col - run_start) as f64 * module,
                );
            } else {
                col += 1;
            }
        }
    }
    Ok(format!(
        "<rect x=\"{x:.3}\" y=\"{y:.3}\" width=\"{size:.3}\" height=\"{size:.3}\" fill=\"#fff\"/><path fill=\"{INK}\" d=\"{d}\"/>"
    ))
}

fn text_lines(
    out: &mut String,
    lines: &[String],
    x: f64,
    y: f64,
    size: f64,
    leading: f64,
    extra: &str,
) {
    for (i, line) in lines.iter().enumerate() {
        let _ = write!(
            out,
            "<text x=\"{x:.2}\" y=\"{:.2}\" font-size=\"{size}\"{extra}>{}</text>",
            y + i as f64 * leading,
            escape(line)
        );
    }
}

impl Poster {
    /// The ways this poster shows, in the order a parent would try them.
    fn ways(&self) -> Vec<Way<'_>> {
        let mut ways = Vec::new();
        if let Some(url) = &self.line_url {
            ways.push(Way {
                title_ja: "LINEで登録",
                title_en: "Register on LINE",
                steps_ja: "QRコードを読み取って友だちに追加し、トークの案内にそって出産予定日か生年月日を送ってください。".into(),
                steps_en: "Scan the code, add the account as a friend and answer in the chat.",
                code: url.clone(),
                shown: url,
            });
        }
        if let Some(url) = &self.form_url {
            ways.push(Way {
                title_ja: "ウェブのフォームで登録",
                title_en: "Register on the web",
                steps_ja: "QRコードを読み取ってフォームを開き、メールアドレスと出産予定日か生年月日を入力してください。".into(),
                steps_en: "Scan the code, open the form and type your email address and the date.",
                code: url.clone(),
                shown: url,
            });
        }
        if let Some(address) = &self.blank_email {
            ways.push(Way {
                title_ja: "空メールで登録",
                title_en: "Register by email",
                steps_ja: "件名も本文も書かずに、このアドレスへメールを送ってください。登録の案内が返ってきます。".into(),
                steps_en: "Send an empty email to this address: the reply tells you how to register.",
                code: format!("mailto:{address}"),
                shown: address,
            });
        }
        ways
    }

    /// Whether there is anything to print.
    pub fn is_empty(&self) -> bool {
        self.line_url.is_none() && self.form_url.is_none() && self.blank_email.is_none()
    }

    /// The poster as a standalone SVG document.
    pub fn svg(&self) -> Result<String, qrcode::types::QrError> {
        let name = escape(&self.tenant_name);
        let title = format!("{}の子育て応援メッセージ", self.tenant_name);
        let mut out = String::new();
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}mm\" height=\"{HEIGHT}mm\" \
             viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"poster-title poster-desc\" \
             font-family=\"{FONTS}\" fill=\"{INK}\">\
             <title id=\"poster-title\">{}</title>\
             <desc id=\"poster-desc\">{}</desc>\
             <rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#fff\"/>",
            escape(&title),
            escape(&self.description()),
        );
        // The band: who sends it and what it is.
        let _ = write!(
            out,
            "<rect width=\"{WIDTH}\" height=\"52\" fill=\"{BAND}\"/>"
        );
        let _ = write!(
            out,
            "<text x=\"16\" y=\"16\" font-size=\"7\" fill=\"#fff\">{name}</text>"
        );
        // Two lines broken where a reader pauses.
        let heading = [
            "子育て応援メッセージを".to_string(),
            "受け取りませんか".to_string(),
        ];
        text_lines(
            &mut out,
            &heading,
            16.0,
            30.0,
            12.0,
            14.0,
            " font-weight=\"bold\" fill=\"#fff\"",
        );
        // What parents get.
        let lead = format!(
            "妊娠中からお子さんが{}、その時期に合った子育ての情報や地域のお知らせを無料でお届けします。",
            self.span_ja
        );
        let mut y = 64.0;
        let lead_lines = wrap(&lead, 34.0);
        text_lines(&mut out, &lead_lines, 16.0, y, 5.2, 7.6, "");
        y += lead_lines.len() as f64 * 7.6 + 1.0;
        let lead_en = format!(
            "Free messages for parents, from pregnancy {}, with local news.",
            self.span_en
        );
        let lead_en_lines = wrap(&lead_en, 44.0);
        text_lines(
            &mut out,
            &lead_en_lines,
            16.0,
            y,
            4.0,
            5.6,
            " fill=\"#383f43\"",
        );
        y += lead_en_lines.len() as f64 * 5.6 + 6.0;
        // One block per way.
        let ways = self.ways();
        for (i, way) in ways.iter().enumerate() {
            let top = y;
            let _ = write!(
                out,
                "<rect x=\"12\" y=\"{top:.2}\" width=\"186\" height=\"56\" rx=\"3\" fill=\"#f3f2f1\"/>"
            );
            out.push_str(&qr_path(&way.code, 16.0, top + 10.0, QR_SIZE)?);
            let tx = 62.0;
            let _ = write!(
                out,
                "<text x=\"16\" y=\"{:.2}\" font-size=\"5\" font-weight=\"bold\">{}</text>",
                top + 7.0,
                i + 1
            );
            let _ = write!(
                out,
                "<text x=\"{tx}\" y=\"{:.2}\" font-size=\"7\" font-weight=\"bold\">{}</text>",
                top + 10.0,
                escape(way.title_ja)
            );
            let _ = write!(
                out,
                "<text x=\"{tx}\" y=\"{:.2}\" font-size=\"3.8\" fill=\"#383f43\">{}</text>",
                top + 15.5,
                escape(way.title_en)
            );
            let steps = wrap(&way.steps_ja, 30.0);
            text_lines(&mut out, &steps, tx, top + 23.0, 4.4, 6.2, "");
            let after = top + 23.0 + steps.len() as f64 * 6.2 - 1.0;
            let en = wrap(way.steps_en, 38.0);
            text_lines(&mut out, &en, tx, after, 3.4, 4.6, " fill=\"#383f43\"");
            let shown = wrap(way.shown, 30.0);
            text_lines(
                &mut out,
                &shown,
                tx,
                top + 52.0 - (shown.len() as f64 - 1.0) * 4.6,
                4.0,
                4.6,
                " font-family=\"'DejaVu Sans Mono',Consolas,monospace\" font-weight=\"bold\"",
            );
            y += 60.0;
        }
        // The promise at the foot.
        let foot = wrap(
            "登録は無料です。メッセージはいつでも止められます（届いたメッセージの「配信停止」から）。",
            40.0,
        );
        text_lines(&mut out, &foot, 16.0, HEIGHT - 22.0, 4.2, 6.0, "");
        let _ = write!(
            out,
            "<text x=\"16\" y=\"{:.2}\" font-size=\"3.4\" fill=\"#383f43\">It is free, and you can stop the messages at any time.</text>",
            HEIGHT - 22.0 + foot.len() as f64 * 6.0
        );
        let _ = write!(
            out,
            "<text x=\"{:.2}\" y=\"{:.2}\" font-size=\"4\" text-anchor=\"end\">{name}</text>",
            WIDTH - 16.0,
            HEIGHT - 8.0
        );
        out.push_str("</svg>\n");
        Ok(out)
    }

    /// The poster in words, for the SVG's description (a screen reader
    /// reads it where the picture is shown).
    pub fn description(&self) -> String {
        let mut parts = vec![format!(
            "妊娠中からお子さんが{}、子育ての情報を無料でお届けします。",
            self.span_ja
        )];
        for way in self.ways() {
            parts.push(format!("{}: {}", way.title_ja, way.shown));
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poster() -> Poster {
        Poster {
            tenant_name: "港区 <&>".into(),
            span_ja: "3歳の誕生日を迎えるまで".into(),
            span_en: "to the 3rd birthday".into(),
            line_url: Some("https://line.me/R/ti/p/@minato".into()),
            form_url: Some("https://tayori.example.jp/r/tokyo-minato".into()),
            blank_email: Some("entry@tayori.example.jp".into()),
        }
    }

    #[test]
    fn the_poster_is_one_a4_page_with_a_code_per_way() {
        let svg = poster().svg().unwrap();
        assert!(svg.contains("width=\"210mm\" height=\"297mm\""));
        assert_eq!(svg.matches("<path ").count(), 3, "three QR codes");
        assert!(svg.contains("港区 &lt;&amp;&gt;"), "the name is escaped");
        assert!(!svg.contains("<&>"));
        assert!(svg.contains("entry@tayori.example.jp"));
        assert!(svg.contains("https://line.me/R/ti/p/@minato"));
    }

    #[test]
    fn a_way_not_given_is_not_printed() {
        let mut p = poster();
        p.line_url = None;
        p.blank_email = None;
        let svg = p.svg().unwrap();
        assert_eq!(svg.matches("<path ").count(), 1);
        assert!(!svg.contains("LINEで登録"));
        assert!(!svg.contains("空メール"));
        assert!(p.description().contains("ウェブのフォームで登録"));
        p.form_url = None;
        assert!(p.is_empty());
    }

    #[test]
    fn japanese_wraps_within_the_width_and_not_before_a_closing_mark() {
        let lines = wrap(
            "件名も本文も書かずに、このアドレスへメールを送ってください。",
            10.0,
        );
        assert!(lines.len() >= 3);
        for line in &lines {
            let w: f64 = line.chars().map(width).sum();
            assert!(w <= 11.0, "{line} is {w} ems");
            assert!(!line.starts_with('、') && !line.starts_with('。'), "{line}");
        }
        assert_eq!(
            lines.concat(),
            "件名も本文も書かずに、このアドレスへメールを送ってください。"
        );
        // A latin word stays whole.
        assert_eq!(wrap("to the 3rd birthday", 8.0), ["to the 3rd", "birthday"]);
    }

    #[test]
    fn the_code_has_its_quiet_zone_inside_the_given_square() {
        let path = qr_path("https://line.me/R/ti/p/@minato", 10.0, 20.0, 40.0).unwrap();
        let code =
            QrCode::with_error_correction_level(b"https://line.me/R/ti/p/@minato", EcLevel::M)
                .unwrap();
        let module = 40.0 / (code.width() + 8) as f64;
        // The first dark module (the finder's corner) starts 4 modules in.
        let first = format!("M{:.3} {:.3}", 10.0 + 4.0 * module, 20.0 + 4.0 * module);
        assert!(path.contains(&first), "{path:.200}");
    }
}
