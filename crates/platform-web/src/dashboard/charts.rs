//! Charts drawn on the server as SVG geometry for the templates (no script,
//! no inline styles: the CSP stays strict). Each chart carries the labels a
//! screen reader and a hover tooltip need; the page shows the same numbers
//! as a table next to it.

/// The drawing area of a bar chart, in SVG user units (scaled by CSS).
pub const WIDTH: u32 = 600;
pub const HEIGHT: u32 = 180;
/// Room for the axis labels.
const BOTTOM: u32 = 22;
const TOP: u32 = 14;

#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    /// What the bar says: `2026-03-01: 35.00`.
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AxisLabel {
    pub x: u32,
    pub text: String,
}

/// Vertical bars, one per value, scaled to the largest.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub bars: Vec<Bar>,
    /// A few evenly spread labels under the bars (first, middle, last).
    pub x_labels: Vec<AxisLabel>,
    /// The largest value, shown at the top left.
    pub max_label: String,
    pub baseline: u32,
}

impl BarChart {
    /// `values` in order: (axis label, value, the value as text).
    pub fn new(values: &[(String, i64, String)]) -> Self {
        let n = values.len().max(1) as u32;
        let max = values.iter().map(|v| v.1).max().unwrap_or(0).max(0);
        let plot = HEIGHT - BOTTOM - TOP;
        let slot = WIDTH / n;
        let gap = if slot >= 6 { slot / 5 } else { 0 };
        let baseline = HEIGHT - BOTTOM;
        let bars = values
            .iter()
            .enumerate()
            .map(|(i, (label, value, shown))| {
                let h = if max > 0 {
                    // Integer maths: no float rounding drift between bars.
                    ((*value).max(0) as u128 * plot as u128 / max as u128) as u32
                } else {
                    0
                };
                // A sliver for non-zero values, so they never look empty.
                let h = if *value > 0 { h.max(1) } else { h };
                Bar {
                    x: i as u32 * slot + gap / 2,
                    y: baseline - h,
                    w: (slot - gap).max(1),
                    h,
                    label: format!("{label}: {shown}"),
                }
            })
            .collect();
        let mut x_labels = Vec::new();
        if !values.is_empty() {
            let last = values.len() - 1;
            let mut picks = vec![0, last / 2, last];
            picks.dedup();
            for i in picks {
                x_labels.push(AxisLabel {
                    x: i as u32 * slot + slot / 2,
                    text: values[i].0.clone(),
                });
            }
        }
        let max_label = values
            .iter()
            .find(|v| v.1 == max)
            .map(|v| v.2.clone())
            .unwrap_or_default();
        Self {
            bars,
            x_labels,
            max_label,
            baseline,
        }
    }

    /// The anchor of an axis label: the ends hug the edges.
    pub fn anchor(&self, label: &AxisLabel) -> &'static str {
        if label.x < WIDTH / 6 {
            "start"
        } else if label.x > WIDTH * 5 / 6 {
            "end"
        } else {
            "middle"
        }
    }

    /// Where an edge label starts, so it stays inside the drawing.
    pub fn label_x(&self, label: &AxisLabel) -> u32 {
        match self.anchor(label) {
            "start" => 0,
            "end" => WIDTH,
            _ => label.x,
        }
    }
}

/// One segment of a 100 % bar (outcomes), in percent of the width.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub x: u32,
    pub w: u32,
    /// A CSS class for its colour.
    pub class: &'static str,
    pub label: String,
}

/// Splits 0–1000 (per mille of the width) among `parts` by their counts.
pub fn stacked(parts: &[(&'static str, u64, String)]) -> Vec<Segment> {
    let total: u64 = parts.iter().map(|p| p.1).sum();
    if total == 0 {
        return Vec::new();
    }
    let mut x = 0u32;
    let mut out = Vec::new();
    for (i, (class, count, label)) in parts.iter().enumerate() {
        let w = if i + 1 == parts.len() {
            1000 - x
        } else {
            (*count as u128 * 1000 / total as u128) as u32
        };
        if *count > 0 {
            out.push(Segment {
                x,
                w,
                class,
                label: label.clone(),
            });
        }
        x += w;
    }
    out
}

/// The width (per mille) of a ranking row's bar next to the first row's.
pub fn share(value: i64, largest: i64) -> u32 {
    if largest <= 0 || value <= 0 {
        0
    } else {
        ((value as u128 * 1000 / largest as u128) as u32).max(5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(v: &[i64]) -> Vec<(String, i64, String)> {
        v.iter()
            .enumerate()
            .map(|(i, v)| (format!("d{i}"), *v, v.to_string()))
            .collect()
    }

    #[test]
    fn bars_scale_to_the_largest_and_sit_on_the_baseline() {
        let c = BarChart::new(&values(&[0, 50, 100, 1]));
        let plot = HEIGHT - BOTTOM - TOP;
        let hs: Vec<u32> = c.bars.iter().map(|b| b.h).collect();
        assert_eq!(hs, [0, plot / 2, plot, 1]);
        assert!(c.bars.iter().all(|b| b.y + b.h == c.baseline));
        assert!(c.bars.windows(2).all(|w| w[0].x + w[0].w <= w[1].x));
        assert!(c.bars.iter().all(|b| b.x + b.w <= WIDTH));
        assert_eq!(c.max_label, "100");
        assert_eq!(c.bars[1].label, "d1: 50");
        let xs: Vec<&str> = c.x_labels.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(xs, ["d0", "d1", "d3"]);
    }

    #[test]
    fn empty_and_all_zero_charts_draw_nothing_tall() {
        assert!(BarChart::new(&[]).bars.is_empty());
        let c = BarChart::new(&values(&[0; 90]));
        assert_eq!(c.bars.len(), 90);
        assert!(c.bars.iter().all(|b| b.h == 0 && b.w >= 1));
    }

    #[test]
    fn stacked_segments_fill_the_width() {
        let s = stacked(&[
            ("a", 3, "3".into()),
            ("b", 0, "0".into()),
            ("c", 1, "1".into()),
        ]);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].x, s[0].w), (0, 750));
        assert_eq!((s[1].x, s[1].w), (750, 250));
        assert!(stacked(&[("a", 0, String::new())]).is_empty());
        assert_eq!(share(50, 100), 500);
        assert_eq!(share(1, 1_000_000), 5);
        assert_eq!(share(0, 100), 0);
    }
}
