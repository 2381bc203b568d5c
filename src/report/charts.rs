//! The report's charts: hourly bars over the last 7 days, drawn by
//! `plotters` into an SVG string (its SVG backend only: no bitmap, font or
//! image crates; text is SVG `<text>` in the browser's sans-serif).

use chrono::{DateTime, FixedOffset, Timelike};
use plotters::prelude::*;

/// Chart size in SVG units (scaled to its column by CSS).
const W: u32 = 600;
const H: u32 = 210;

/// Why a chart could not be drawn (the page says so in its place).
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// More hours than an axis can count (never for 7 days).
    #[error("{0}")]
    TooLong(#[from] std::num::TryFromIntError),
    /// The drawing library failed: its message (its error type depends on
    /// the backend and the drawing call).
    #[error("{0}")]
    Draw(String),
}

/// What the y axis counts.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Count,
    Bytes,
    Seconds,
}

/// One coloured series: a value per hour.
pub struct Series {
    pub label: &'static str,
    pub color: &'static str,
    pub values: Vec<f64>,
}

impl Series {
    pub fn new(label: &'static str, color: &'static str, values: Vec<f64>) -> Self {
        Self {
            label,
            color,
            values,
        }
    }
}

/// Bars per hour: stacked (counts each way) or overlaid (longest behind mean).
pub struct Chart {
    pub title: &'static str,
    /// Unix seconds of the first hour.
    pub start: i64,
    /// The page's time zone (ticks at its midnights).
    pub offset: FixedOffset,
    pub stacked: bool,
    pub unit: Unit,
    pub series: Vec<Series>,
}

/// The chart as an inline `<svg>` (or a note saying why it is missing).
pub fn draw(c: &Chart) -> String {
    match try_draw(c) {
        Ok(svg) => svg
            // Inline SVG in HTML needs no namespace; without it the page
            // carries no URL at all.
            .replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
            .replacen(
                "<svg ",
                &format!("<svg role=\"img\" aria-label=\"{}\" ", c.title),
                1,
            ),
        Err(e) => format!(
            "<p class=\"muted\">(chart not drawn: {})</p>",
            escape(&e.to_string())
        ),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn rgb(hex: &str) -> RGBColor {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap_or(0);
    let [_, r, g, b] = v.to_be_bytes();
    RGBColor(r, g, b)
}

/// A round number at or above `v` (1, 2, 5 × 10^n), for the y axis.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|m| *m >= v)
        .unwrap_or(10.0 * p)
}

/// A y-axis label. Seconds get as many decimals as the axis needs for its
/// five ticks to read apart (`ymax` 0.02 s: 0.004, 0.008 …, never 0.01
/// twice); a fraction of a byte or of a count is not labelled.
fn y_label(unit: Unit, v: f64, ymax: f64) -> String {
    match unit {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Unit::Bytes if v.fract() == 0.0 => crate::human_size(v.max(0.0) as u64),
        Unit::Count if v.fract() == 0.0 => format!("{v:.0}"),
        Unit::Bytes | Unit::Count => String::new(),
        Unit::Seconds => {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let decimals = (-(ymax / 5.0).log10()).ceil().clamp(0.0, 6.0) as usize;
            let s = format!("{v:.decimals$}");
            if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.').to_owned()
            } else {
                s
            }
        }
    }
}

fn try_draw(c: &Chart) -> Result<String, ChartError> {
    let hours = c.series.first().map_or(0, |s| s.values.len());
    let n = i64::try_from(hours)?;
    // Per hour: each series' bar from y0 to y1.
    let mut bars: Vec<(i64, f64, f64, usize)> = Vec::new();
    let mut top = 0f64;
    for i in 0..hours {
        let mut base = 0.0;
        for (k, s) in c.series.iter().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0.0);
            if v > 0.0 {
                let (y0, y1) = if c.stacked {
                    (base, base + v)
                } else {
                    (0.0, v)
                };
                bars.push((i64::try_from(i).unwrap_or(0), y0, y1, k));
                top = top.max(y1);
            }
            if c.stacked {
                base += v;
            }
        }
    }
    let ymax = match c.unit {
        // Whole numbers: at least 0..5, so the ticks are 0, 1, 2…
        Unit::Count => nice_max(top).max(5.0),
        Unit::Bytes | Unit::Seconds => nice_max(top),
    };
    // Ticks at the page's midnights.
    let local = |i: i64| -> Option<DateTime<FixedOffset>> {
        DateTime::from_timestamp(c.start + i * 3600, 0).map(|t| t.with_timezone(&c.offset))
    };
    let mut ticks: Vec<i64> = (0..n)
        .filter(|i| local(*i).is_some_and(|t| t.hour() == 0))
        .collect();
    if ticks.len() < 2 {
        ticks = (0..n).step_by(24).collect();
    }
    let fmt_x = |i: &i64| local(*i).map_or_else(String::new, |t| t.format("%a %d").to_string());
    let fmt_y = |v: &f64| y_label(c.unit, *v, ymax);
    let err = |e: &dyn std::fmt::Display| ChartError::Draw(e.to_string());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .margin_top(8)
            .margin_right(12)
            .x_label_area_size(22)
            .y_label_area_size(64)
            .build_cartesian_2d((0..n).with_key_points(ticks), 0f64..ymax)
            .map_err(|e| err(&e))?;
        let axis = RGBColor(87, 96, 106);
        chart
            .configure_mesh()
            .max_light_lines(0)
            .bold_line_style(RGBColor(208, 215, 222))
            .axis_style(axis)
            .y_labels(5)
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .label_style(("sans-serif", 13).into_font().color(&axis))
            .draw()
            .map_err(|e| err(&e))?;
        let colors: Vec<RGBColor> = c.series.iter().map(|s| rgb(s.color)).collect();
        chart
            .draw_series(
                bars.iter().map(|&(x, y0, y1, k)| {
                    Rectangle::new([(x, y0), (x + 1, y1)], colors[k].filled())
                }),
            )
            .map_err(|e| err(&e))?;
        if bars.is_empty() {
            root.draw(&Text::new(
                "nothing in these 7 days",
                (
                    i32::try_from(W / 2).unwrap_or(0) - 40,
                    i32::try_from(H / 2).unwrap_or(0) - 12,
                ),
                ("sans-serif", 14).into_font().color(&axis),
            ))
            .map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_max_rounds_up_to_1_2_5() {
        assert!((nice_max(0.0) - 1.0).abs() < f64::EPSILON);
        assert!((nice_max(3.0) - 5.0).abs() < f64::EPSILON);
        assert!((nice_max(17.0) - 20.0).abs() < f64::EPSILON);
        assert!((nice_max(100.0) - 100.0).abs() < f64::EPSILON);
        assert!((nice_max(0.3) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn second_ticks_on_a_tiny_scale_read_apart() {
        for ymax in [0.02, 0.05, 0.1, 1.0, 20.0, 500.0] {
            let labels: Vec<String> = (0..=5)
                .map(|i| y_label(Unit::Seconds, ymax * f64::from(i) / 5.0, ymax))
                .collect();
            let mut distinct = labels.clone();
            distinct.dedup();
            assert_eq!(distinct, labels, "ymax {ymax}: {labels:?}");
        }
        assert_eq!(y_label(Unit::Seconds, 0.004, 0.02), "0.004");
        assert_eq!(y_label(Unit::Seconds, 20.0, 100.0), "20");
        assert_eq!(y_label(Unit::Bytes, 0.4, 2.0), "");
    }

    #[test]
    fn draws_an_svg_without_a_namespace_url() {
        let c = Chart {
            title: "t",
            start: 1_700_000_000 - 1_700_000_000 % 3600,
            offset: FixedOffset::east_opt(3600).unwrap(),
            stacked: true,
            unit: Unit::Bytes,
            series: vec![
                Series::new("a", "#0969da", vec![1.0; 48]),
                Series::new("b", "#d4770c", vec![2e6; 48]),
            ],
        };
        let svg = draw(&c);
        assert!(svg.starts_with("<svg role=\"img\""), "{svg}");
        assert!(!svg.contains("http"), "{svg}");
        assert!(svg.contains("<rect"), "{svg}");
    }
}
