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

/// The opening of a chart: its `svg` element and title.
fn open(id: &str, title: &str, width: u32, height: u32) -> String {
    format!(
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"{id}\" viewBox=\"0 0 {width} {height}\" \
         width=\"100%\" preserveAspectRatio=\"xMinYMin meet\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"{id}\">{}</title>",
        escape(title)
    )
}

/// `value` of `max` as a length of `span` (at least 2 when not 0).
fn scaled(value: u64, max: u64, span: u32) -> u32 {
    if value == 0 {
        0
    } else {
        ((u128::from(value) * u128::from(span)) / u128::from(max.max(1))).max(2) as u32
    }
}

/// A column chart of `columns` (label, value), oldest first, titled
/// `title`, with a dashed level line at `level` (value, its label), such as
/// the births per month.
pub fn columns_with_level(
    id: &str,
    title: &str,
    columns: &[(String, u64)],
    level: Option<(f64, String)>,
) -> String {
    const WIDTH: u32 = 720;
    const TOP: u32 = 34;
    const PLOT: u32 = 220;
    const BOTTOM: u32 = 34;
    const LEFT: u32 = 8;
    let height = TOP + PLOT + BOTTOM;
    let top_value = columns.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let level_value = level.as_ref().map(|(v, _)| v.ceil() as u64).unwrap_or(0);
    let max = top_value.max(level_value).max(1);
    let n = columns.len().max(1) as u32;
    let slot = (WIDTH - 2 * LEFT) / n;
    let bar = slot * 2 / 3;
    let mut svg = open(id, title, WIDTH, height);
    for (i, (label, value)) in columns.iter().enumerate() {
        let h = scaled(*value, max, PLOT);
        let x = LEFT + i as u32 * slot + (slot - bar) / 2;
        let y = TOP + PLOT - h;
        let mid = x + bar / 2;
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{h}\" class=\"chart-bar\"/>\
             <text x=\"{mid}\" y=\"{}\" text-anchor=\"middle\" class=\"chart-value\">{value}</text>\
             <text x=\"{mid}\" y=\"{}\" text-anchor=\"middle\" class=\"chart-label\">{}</text>",
            y.saturating_sub(6).max(16),
            TOP + PLOT + 24,
            escape(label),
        ));
    }
    if let Some((value, label)) = level {
        let y = TOP + PLOT - ((value / max as f64) * f64::from(PLOT)).round() as u32;
        svg.push_str(&format!(
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" class=\"chart-level\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"chart-level-label\">{}</text>",
            WIDTH - LEFT,
            WIDTH - LEFT,
            y.saturating_sub(8).max(16),
            escape(&label)
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// A column chart of `days` (label shown or empty, three stacked values:
/// sent, failed, other), with a legend of `legend` (the three names).
pub fn stacked_days(
    id: &str,
    title: &str,
    days: &[(String, [u64; 3])],
    legend: [&str; 3],
) -> String {
    const WIDTH: u32 = 720;
    const LEGEND: u32 = 40;
    const TOP: u32 = LEGEND + 12;
    const PLOT: u32 = 200;
    const BOTTOM: u32 = 32;
    const LEFT: u32 = 8;
    const CLASSES: [&str; 3] = ["chart-sent", "chart-failed", "chart-other"];
    let height = TOP + PLOT + BOTTOM;
    let max = days
        .iter()
        .map(|(_, v)| v.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let n = days.len().max(1) as u32;
    let slot = (WIDTH - 2 * LEFT) / n;
    let bar = (slot * 3 / 4).max(2);
    let mut svg = open(id, title, WIDTH, height);
    let mut x = LEFT;
    for (class, name) in CLASSES.iter().zip(legend) {
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"8\" width=\"18\" height=\"18\" class=\"{class}\"/>\
             <text x=\"{}\" y=\"23\" class=\"chart-label\">{}</text>",
            x + 26,
            escape(name)
        ));
        x += 26 + 18 * name.chars().count().min(20) as u32 + 30;
    }
    for (i, (label, values)) in days.iter().enumerate() {
        let x = LEFT + i as u32 * slot + (slot - bar) / 2;
        let total: u64 = values.iter().sum();
        let full = scaled(total, max, PLOT);
        let mut base = TOP + PLOT;
        let mut drawn = 0u64;
        for (class, value) in CLASSES.iter().zip(values) {
            if *value == 0 {
                continue;
            }
            drawn += value;
            // Heights from the running total, so the stack is `full` tall.
            let top = TOP + PLOT
                - (u128::from(drawn) * u128::from(full) / u128::from(total.max(1))) as u32;
            let h = base - top;
            svg.push_str(&format!(
                "<rect x=\"{x}\" y=\"{top}\" width=\"{bar}\" height=\"{h}\" class=\"{class}\"/>"
            ));
            base = top;
        }
        if !label.is_empty() {
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"chart-label\">{}</text>",
                x + bar / 2,
                TOP + PLOT + 24,
                escape(label)
            ));
        }
    }
    svg.push_str(&format!(
        "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" class=\"chart-axis\"/>",
        WIDTH - LEFT,
        TOP + PLOT,
        TOP + PLOT
    ));
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_scale_to_the_largest_or_the_level() {
        let svg = columns_with_level(
            "m1",
            "Registrations",
            &[("Jan".into(), 10), ("Feb".into(), 0), ("<M>".into(), 5)],
            Some((20.0, "Births per month: 20".into())),
        );
        assert!(
            svg.contains("<title id=\"m1\">Registrations</title>"),
            "{svg}"
        );
        // The level (20) is the top: 10 is half the plot's 220, 5 a quarter.
        assert!(svg.contains("height=\"110\""), "{svg}");
        assert!(svg.contains("height=\"55\""), "{svg}");
        assert!(svg.contains("height=\"0\""), "{svg}");
        assert!(svg.contains("&lt;M&gt;"));
        assert!(svg.contains("class=\"chart-level\""));
        assert!(svg.contains("Births per month: 20"));
        let none = columns_with_level("m2", "R", &[("Jan".into(), 4)], None);
        assert!(!none.contains("chart-level"), "{none}");
        assert!(none.contains("height=\"220\""), "{none}");
    }

    #[test]
    fn days_stack_sent_failed_and_other() {
        let svg = stacked_days(
            "d1",
            "Deliveries",
            &[
                ("1".into(), [6, 2, 0]),
                (String::new(), [0, 0, 0]),
                ("3".into(), [2, 1, 1]),
            ],
            ["Sent", "Failed", "Other"],
        );
        assert!(svg.contains("<title id=\"d1\">Deliveries</title>"), "{svg}");
        // Day 1 is the tallest (8 = 200): 6 sent are 150, 2 failed 50.
        assert!(svg.contains("height=\"150\" class=\"chart-sent\""), "{svg}");
        assert!(
            svg.contains("height=\"50\" class=\"chart-failed\""),
            "{svg}"
        );
        // Day 3 (4 = 100): 50, 25, 25.
        assert!(svg.contains("height=\"25\" class=\"chart-other\""), "{svg}");
        for name in ["Sent", "Failed", "Other"] {
            assert!(svg.contains(&format!(">{name}</text>")), "{svg}");
        }
    }

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
