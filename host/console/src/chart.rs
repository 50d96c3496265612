//! Bar charts drawn on the server as inline SVG: no script, sharp at any
//! size, and announced as one image with a title (the page's table beside
//! it is the text equivalent, for screen readers and for exact numbers).

/// Text for SVG text and attributes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart of `bars` (label, value), titled `title`; `id`
/// names its title element (unique on the page).
pub fn bars(id: &str, title: &str, bars: &[(String, u64)]) -> String {
    const WIDTH: u32 = 640;
    const LABEL: u32 = 150;
    const ROW: u32 = 40;
    const BAR: u32 = 26;
    const VALUE_ROOM: u32 = 80;
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let height = ROW * bars.len().max(1) as u32 + 8;
    let span = WIDTH - LABEL - VALUE_ROOM;
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"{id}\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"100%\" preserveAspectRatio=\"xMinYMin meet\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"{id}\">{}</title>",
        escape(title)
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = i as u32 * ROW + 4;
        let w = if *value == 0 {
            0
        } else {
            ((u128::from(*value) * u128::from(span)) / u128::from(max)).max(2) as u32
        };
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"chart-label\">{}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{w}\" height=\"{BAR}\" class=\"chart-bar\"/>\
             <text x=\"{}\" y=\"{}\" class=\"chart-value\">{value}</text>",
            LABEL - 10,
            y + BAR / 2 + 6,
            escape(label),
            LABEL + w + 8,
            y + BAR / 2 + 6,
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_escape_labels() {
        let svg = bars(
            "c1",
            "Active <users>",
            &[("a&b".into(), 10), ("zero".into(), 0), ("half".into(), 5)],
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("aria-labelledby=\"c1\""));
        assert!(svg.contains("<title id=\"c1\">Active &lt;users&gt;</title>"));
        assert!(svg.contains("a&amp;b"));
        assert!(svg.contains("width=\"410\""), "{svg}");
        assert!(svg.contains("width=\"205\""), "{svg}");
        assert!(svg.contains("width=\"0\""), "{svg}");
    }
}
