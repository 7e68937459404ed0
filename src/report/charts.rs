//! PNG charts (plotters): fan charts, supply and demand, population pyramids, target overviews
//! and tornado charts. The only module that uses plotters.
//!
//! Text is drawn with a bundled font (a subset of Noto Sans CJK SC, OFL-1.1, in
//! `assets/fonts/`) registered with plotters' `ab_glyph` backend, so Chinese region names render
//! on a machine with no fonts installed and without fontconfig.
//!
//! Colours are the Okabe-Ito palette (Okabe & Ito 2008), readable with the common colour-vision
//! deficiencies; bands differ in lightness and lines in dash pattern, so charts also read in
//! greyscale.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use super::chartdata::{ChartData, PyramidCell, UnitInfo, YearStats};
use super::text::Captions;

/// The bundled font: a subset of Noto Sans CJK SC covering ASCII, GB2312 and every Chinese
/// character of the census region names (see `assets/fonts/README.md`).
pub static FONT: &[u8] = include_bytes!("../../assets/fonts/NotoSansSC-bedsim-subset.otf");
const FAMILY: &str = "sans-serif";

/// Chart size in pixels (16:9, large enough for a printed report page).
pub const WIDTH: u32 = 1600;
pub const HEIGHT: u32 = 900;

pub const BLUE: RGBColor = RGBColor(0, 114, 178);
pub const DARK_BLUE: RGBColor = RGBColor(0, 60, 100);
pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub const GREEN: RGBColor = RGBColor(0, 158, 115);
pub const SKY: RGBColor = RGBColor(86, 180, 233);
pub const PURPLE: RGBColor = RGBColor(204, 121, 167);
pub const GREY: RGBColor = RGBColor(110, 110, 110);
/// Fill of the 90% band and of the 50% band over white (pre-mixed so the PNG holds exactly
/// these colours, which the tests look for).
pub const BAND90: RGBColor = RGBColor(191, 220, 236);
pub const BAND50: RGBColor = RGBColor(128, 185, 216);

static REGISTER: Once = Once::new();

/// Registers the bundled font with plotters (once per process).
pub fn register_fonts() {
    REGISTER.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The font is valid (a test checks it); if it were not, text would be missing but
            // nothing would panic.
            let _ = register_font(FAMILY, style, FONT);
        }
    });
}

/// Characters of `text` that the bundled font cannot draw (charts would show a box for each).
pub fn missing_glyphs(text: &str) -> Vec<char> {
    use ab_glyph::{Font, FontRef};
    let Ok(font) = FontRef::try_from_slice(FONT) else {
        return text.chars().collect();
    };
    let mut out: Vec<char> = text.chars().filter(|c| !c.is_whitespace() && font.glyph_id(*c).0 == 0).collect();
    out.dedup();
    out
}

/// A chart that could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ChartError {
    pub path: String,
    pub message: String,
}

fn err(path: &Path) -> impl Fn(String) -> ChartError + '_ {
    move |message| ChartError {
        path: path.display().to_string(),
        message,
    }
}

/// Draws into an RGB buffer and writes it as a PNG. The encoder uses the Sub filter and fast
/// deflate: charts are flat colours, which that compresses well, and plotters' own encoder
/// (adaptive filtering, default compression) took half of the drawing time.
fn render(path: &Path, size: (u32, u32), draw: impl FnOnce(&Area<'_>) -> Result<(), String>) -> Result<(), ChartError> {
    let e = err(path);
    let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        draw(&root).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    let file = std::fs::File::create(path).map_err(|x| e(x.to_string()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), size.0, size.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::FilterType::Sub);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
    let mut writer = encoder.write_header().map_err(|x| e(x.to_string()))?;
    writer.write_image_data(&buf).map_err(|x| e(x.to_string()))?;
    writer.finish().map_err(|x| e(x.to_string()))
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

/// Draws a title and subtitle and returns the area below them.
fn titled<'a>(root: &Area<'a>, title: &str, subtitle: &str) -> Result<Area<'a>, String> {
    // The buffer starts white (see `render`), so the background needs no fill.
    let (top, rest) = root.split_vertically(100);
    top.draw(&Text::new(title.to_string(), (40, 14), font(40)))
        .map_err(|e| e.to_string())?;
    top.draw(&Text::new(subtitle.to_string(), (40, 62), font(26).color(&GREY)))
        .map_err(|e| e.to_string())?;
    Ok(rest)
}

fn year_range(s: &[YearStats]) -> std::ops::Range<i32> {
    let lo = s.first().map(|x| x.year).unwrap_or(0);
    let hi = s.last().map(|x| x.year).unwrap_or(lo + 1);
    lo..hi.max(lo + 1)
}

fn value_range<'a>(it: impl IntoIterator<Item = &'a f64>, include: &'a [f64], floor_zero: bool) -> std::ops::Range<f64> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for &v in it.into_iter().chain(include) {
        if v.is_finite() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    if floor_zero {
        lo = lo.min(0.0);
    }
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.02).max(1e-9);
    (if floor_zero && lo >= 0.0 { 0.0 } else { lo - pad })..hi + pad
}

/// Formats large counts with thousands separators.
pub fn thousands(v: f64) -> String {
    let neg = v < 0.0;
    let s = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if neg { format!("-{out}") } else { out }
}

/// Draws the legend of a chart in the common style: a white, slightly transparent box with a
/// grey border at `position`; `margin`, `size` (of the symbol area) and `font_size` in pixels.
fn legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, CT>,
    position: SeriesLabelPosition,
    margin: u32,
    size: u32,
    font_size: u32,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .margin(margin)
        .legend_area_size(size)
        .background_style(WHITE.mix(0.9))
        .border_style(GREY)
        .label_font(font(font_size))
        .draw()
        .map_err(|e| e.to_string())
}

/// A target line drawn on a fan chart.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetMark {
    pub label: String,
    pub year: i32,
    pub threshold: f64,
    pub probability: Option<f64>,
}

/// Fan chart: median line, 50% and 90% bands, targets as horizontal lines with their years
/// marked, and the observed base value as a point.
///
/// # Errors
/// When the PNG cannot be drawn or written.
/// `base_note` is appended to the legend entry of the base-year point (for example the year
/// the stock was observed in, when it differs from the base year).
#[allow(clippy::too_many_arguments)]
pub fn fan_chart(
    path: &Path,
    title: &str,
    subtitle: &str,
    y_desc: &str,
    series: &[YearStats],
    targets: &[TargetMark],
    percent: bool,
    base_note: &str,
    text: &Captions,
) -> Result<(), ChartError> {
    register_fonts();
    render(path, (WIDTH, HEIGHT), |root| {
        let area = titled(root, title, subtitle)?;
        let xr = year_range(series);
        let thresholds: Vec<f64> = targets.iter().map(|t| t.threshold).collect();
        let yr = value_range(
            series
                .iter()
                .flat_map(|s| [s.q[0], s.q[6]].into_iter().collect::<Vec<_>>())
                .collect::<Vec<_>>()
                .iter(),
            &thresholds,
            true,
        );
        let mut chart = ChartBuilder::on(&area)
            .margin_left(30)
            .margin_right(60)
            .margin_bottom(20)
            .x_label_area_size(80)
            .y_label_area_size(130)
            .build_cartesian_2d(xr.clone(), yr.clone())
            .map_err(|x| x.to_string())?;
        let n_years = (xr.end - xr.start + 1) as usize;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(RGBColor(225, 225, 225))
            .x_labels(n_years.min(17))
            .x_label_formatter(&|y| format!("{y}"))
            .y_label_formatter(&|v| if percent { format!("{:.0}%", 100.0 * v) } else { format!("{v:.0}") })
            .x_desc(text.year_axis_end)
            .y_desc(y_desc)
            .label_style(font(24))
            .axis_desc_style(font(26))
            .draw()
            .map_err(|x| x.to_string())?;
        let band = |lo: usize, hi: usize| -> Vec<(i32, f64)> {
            series
                .iter()
                .map(|s| (s.year, s.q[lo]))
                .chain(series.iter().rev().map(|s| (s.year, s.q[hi])))
                .collect()
        };
        chart
            .draw_series(std::iter::once(Polygon::new(band(0, 6), BAND90.filled())))
            .map_err(|x| x.to_string())?
            .label(text.interval90)
            .legend(|(x, y)| Rectangle::new([(x, y - 10), (x + 34, y + 10)], BAND90.filled()));
        chart
            .draw_series(std::iter::once(Polygon::new(band(2, 4), BAND50.filled())))
            .map_err(|x| x.to_string())?
            .label(text.interval50)
            .legend(|(x, y)| Rectangle::new([(x, y - 10), (x + 34, y + 10)], BAND50.filled()));
        chart
            .draw_series(LineSeries::new(series.iter().map(|s| (s.year, s.q[3])), DARK_BLUE.stroke_width(4)))
            .map_err(|x| x.to_string())?
            .label(text.median)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 34, y)], DARK_BLUE.stroke_width(4)));
        if let Some(first) = series.first() {
            chart
                .draw_series(std::iter::once(Circle::new((first.year, first.q[3]), 9, BLACK.filled())))
                .map_err(|x| x.to_string())?
                .label(format!(
                    "{}: {}{base_note}",
                    first.year,
                    if percent {
                        format!("{:.1}%", 100.0 * first.q[3])
                    } else {
                        format!("{:.1}", first.q[3])
                    }
                ))
                .legend(|(x, y)| Circle::new((x + 17, y), 8, BLACK.filled()));
        }
        for (i, t) in targets.iter().enumerate() {
            let colour = if i % 2 == 0 { VERMILLION } else { PURPLE };
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(xr.start, t.threshold), (xr.end, t.threshold)],
                    14,
                    8,
                    colour.stroke_width(3),
                ))
                .map_err(|x| x.to_string())?
                .label(t.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 34, y)], colour.stroke_width(3)));
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(t.year, yr.start), (t.year, yr.end)],
                    6,
                    6,
                    GREY.stroke_width(2),
                ))
                .map_err(|x| x.to_string())?;
            chart
                .draw_series(std::iter::once(Circle::new((t.year, t.threshold), 8, colour.filled())))
                .map_err(|x| x.to_string())?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft, 16, 44, 22)?;
        Ok(())
    })
}

/// One line with its band on a supply-and-demand panel.
pub struct Line<'a> {
    pub label: &'a str,
    pub series: &'a [YearStats],
    pub colour: RGBColor,
    pub dashed: bool,
}

fn panel(area: &Area<'_>, caption: &str, y_desc: &str, lines: &[Line<'_>], x_desc: &str) -> Result<(), String> {
    let all: Vec<f64> = lines.iter().flat_map(|l| l.series.iter().flat_map(|s| [s.q[0], s.q[6]])).collect();
    let yr = value_range(all.iter(), &[], true);
    let xr = lines
        .iter()
        .map(|l| year_range(l.series))
        .find(|r| r.end > r.start + 1)
        .unwrap_or(0..1);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(30))
        .margin(20)
        .x_label_area_size(70)
        .y_label_area_size(130)
        .build_cartesian_2d(xr.clone(), yr)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(RGBColor(225, 225, 225))
        .x_labels(((xr.end - xr.start) as usize / 2 + 1).min(9))
        .x_label_formatter(&|y| format!("{y}"))
        .y_label_formatter(&|v| thousands(*v))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(font(22))
        .axis_desc_style(font(24))
        .draw()
        .map_err(|e| e.to_string())?;
    for l in lines {
        let pts: Vec<(i32, f64)> = l
            .series
            .iter()
            .map(|s| (s.year, s.q[0]))
            .chain(l.series.iter().rev().map(|s| (s.year, s.q[6])))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(pts, l.colour.mix(0.18).filled())))
            .map_err(|e| e.to_string())?;
    }
    for l in lines {
        let colour = l.colour;
        let median: Vec<(i32, f64)> = l.series.iter().map(|s| (s.year, s.q[3])).collect();
        let drawn = if l.dashed {
            chart
                .draw_series(DashedLineSeries::new(median, 14, 7, colour.stroke_width(4)))
                .map_err(|e| e.to_string())?
        } else {
            chart
                .draw_series(LineSeries::new(median, colour.stroke_width(4)))
                .map_err(|e| e.to_string())?
        };
        let dashed = l.dashed;
        drawn.label(l.label).legend(move |(x, y)| {
            if dashed {
                PathElement::new(vec![(x, y), (x + 12, y)], colour.stroke_width(4))
            } else {
                PathElement::new(vec![(x, y), (x + 34, y)], colour.stroke_width(4))
            }
        });
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft, 12, 40, 21)?;
    Ok(())
}

/// Supply and demand: elderly population on the left; care demand against bed supply on the
/// right; medians with 90% bands.
///
/// # Errors
/// When the PNG cannot be drawn or written.
pub fn supply_demand(
    path: &Path,
    title: &str,
    subtitle: &str,
    left: &[Line<'_>],
    right: &[Line<'_>],
    text: &Captions,
) -> Result<(), ChartError> {
    register_fonts();
    render(path, (WIDTH, HEIGHT), |root| {
        let area = titled(root, title, subtitle)?;
        let (l, r) = area.split_horizontally(WIDTH / 2);
        panel(&l, text.elderly_panel, text.persons, left, text.year_axis)?;
        panel(&r, text.demand_panel, text.beds, right, text.year_axis)?;
        Ok(())
    })
}

/// Population pyramid: base year (outlined) against the horizon (median, filled), males left and
/// females right, 5-year groups.
///
/// # Errors
/// When the PNG cannot be drawn or written.
#[allow(clippy::too_many_arguments)]
pub fn pyramid(
    path: &Path,
    title: &str,
    subtitle: &str,
    cells: &[PyramidCell],
    base_year: i32,
    horizon: i32,
    labels: &[String],
    text: &Captions,
) -> Result<(), ChartError> {
    register_fonts();
    render(path, (WIDTH, HEIGHT), |root| {
        let area = titled(root, title, subtitle)?;
        let max = cells.iter().map(|c| c.p95.max(c.p50)).fold(1.0, f64::max) * 1.08;
        let groups = labels.len() as i32;
        let mut chart = ChartBuilder::on(&area)
            .margin(20)
            .margin_right(60)
            .x_label_area_size(70)
            .y_label_area_size(110)
            .build_cartesian_2d(-max..max, (0..groups).into_segmented())
            .map_err(|x| x.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(RGBColor(225, 225, 225))
            .y_labels(groups as usize)
            .y_label_formatter(&|g| match g {
                SegmentValue::CenterOf(g) => labels.get(*g as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_formatter(&|v| thousands(v.abs()))
            .x_desc(text.pyramid_axis)
            .y_desc(text.age)
            .label_style(font(20))
            .axis_desc_style(font(24))
            .draw()
            .map_err(|x| x.to_string())?;
        let bar = |c: &PyramidCell, v: f64| {
            let x = if c.female { v } else { -v };
            [
                (0.0, SegmentValue::Exact(c.group as i32)),
                (x, SegmentValue::Exact(c.group as i32 + 1)),
            ]
        };
        for female in [false, true] {
            let colour = if female { ORANGE } else { BLUE };
            chart
                .draw_series(cells.iter().filter(|c| c.year == horizon && c.female == female).map(|c| {
                    let [a, b] = bar(c, c.p50);
                    let mut r = Rectangle::new([a, b], colour.mix(0.75).filled());
                    r.set_margin(1, 1, 0, 0);
                    r
                }))
                .map_err(|x| x.to_string())?
                .label(text.pyramid_horizon(female, horizon))
                .legend(move |(x, y)| Rectangle::new([(x, y - 10), (x + 34, y + 10)], colour.mix(0.75).filled()));
        }
        chart
            .draw_series(cells.iter().filter(|c| c.year == base_year).map(|c| {
                let [a, b] = bar(c, c.p50);
                let mut r = Rectangle::new([a, b], BLACK.stroke_width(2));
                r.set_margin(1, 1, 0, 0);
                r
            }))
            .map_err(|x| x.to_string())?
            .label(text.pyramid_base(base_year))
            .legend(|(x, y)| Rectangle::new([(x, y - 10), (x + 34, y + 10)], BLACK.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::UpperRight, 16, 44, 22)?;
        Ok(())
    })
}

/// One bar of a target overview.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbabilityBar {
    pub label: String,
    pub probability: f64,
    pub is_group: bool,
}

/// Probability of meeting a target for every unit, sorted from the most at risk; the height
/// grows with the number of units so labels never overlap.
///
/// # Errors
/// When the PNG cannot be drawn or written.
pub fn target_overview(path: &Path, title: &str, subtitle: &str, bars: &[ProbabilityBar], text: &Captions) -> Result<(), ChartError> {
    register_fonts();
    let mut bars = bars.to_vec();
    bars.sort_by(|a, b| a.probability.total_cmp(&b.probability).then_with(|| a.label.cmp(&b.label)));
    let n = bars.len().max(1) as i32;
    let height = (260 + 34 * n as u32).max(HEIGHT);
    render(path, (WIDTH, height), |root| {
        let area = titled(root, title, subtitle)?;
        // Most at risk on top: bar k (ascending probability) sits in row n - 1 - k.
        let row = |k: usize| n - 1 - k as i32;
        let label_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(r) => bars
                .get((n - 1 - r) as usize)
                .map(|b| {
                    if b.is_group {
                        format!("{}{}", b.label, text.group_suffix)
                    } else {
                        b.label.clone()
                    }
                })
                .unwrap_or_default(),
            _ => String::new(),
        };
        let mut chart = ChartBuilder::on(&area)
            .margin(20)
            .margin_right(40)
            .x_label_area_size(70)
            .y_label_area_size(360)
            .build_cartesian_2d(0.0..1.08, (0..n).into_segmented())
            .map_err(|x| x.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(RGBColor(225, 225, 225))
            .y_labels(n as usize)
            .y_label_formatter(&label_of)
            .x_labels(12)
            .x_label_formatter(&|p| {
                if *p <= 1.0 + 1e-9 {
                    format!("{:.0}%", 100.0 * p)
                } else {
                    String::new()
                }
            })
            .x_desc(text.probability_axis)
            .label_style(font(22))
            .axis_desc_style(font(24))
            .draw()
            .map_err(|x| x.to_string())?;
        chart
            .draw_series(bars.iter().enumerate().map(|(k, b)| {
                let colour = if b.is_group { DARK_BLUE } else { BLUE };
                let mut r = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(row(k))),
                        (b.probability.max(0.002), SegmentValue::Exact(row(k) + 1)),
                    ],
                    colour.filled(),
                );
                r.set_margin(4, 4, 0, 0);
                r
            }))
            .map_err(|x| x.to_string())?;
        let anchor = Pos::new(HPos::Left, VPos::Center);
        chart
            .draw_series(bars.iter().enumerate().map(|(k, b)| {
                Text::new(
                    format!("{:.0}%", 100.0 * b.probability),
                    (b.probability + 0.008, SegmentValue::CenterOf(row(k))),
                    font(20).pos(anchor),
                )
            }))
            .map_err(|x| x.to_string())?;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.9, SegmentValue::Exact(0)), (0.9, SegmentValue::Last)],
                10,
                6,
                VERMILLION.stroke_width(2),
            ))
            .map_err(|x| x.to_string())?;
        Ok(())
    })
}

/// One row of a comparison chart: a unit's probability in run A and in run B.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareBar {
    pub label: String,
    pub a: f64,
    pub b: f64,
    pub is_group: bool,
}

/// Two runs' probabilities of meeting a target, per unit: a dot for A, a dot for B and a line
/// between them, rows sorted by A's probability (most at risk on top).
///
/// # Errors
/// When the PNG cannot be drawn or written.
pub fn compare_chart(
    path: &Path,
    title: &str,
    subtitle: &str,
    legend_a: &str,
    legend_b: &str,
    bars: &[CompareBar],
    text: &Captions,
) -> Result<(), ChartError> {
    register_fonts();
    let mut bars = bars.to_vec();
    bars.sort_by(|x, y| x.a.total_cmp(&y.a).then_with(|| x.label.cmp(&y.label)));
    let n = bars.len().max(1) as i32;
    let height = (300 + 34 * n as u32).max(HEIGHT);
    render(path, (WIDTH, height), |root| {
        let area = titled(root, title, subtitle)?;
        let row = |k: usize| n - 1 - k as i32;
        let label_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(r) => bars
                .get((n - 1 - r) as usize)
                .map(|b| {
                    if b.is_group {
                        format!("{}{}", b.label, text.group_suffix)
                    } else {
                        b.label.clone()
                    }
                })
                .unwrap_or_default(),
            _ => String::new(),
        };
        let mut chart = ChartBuilder::on(&area)
            .margin(20)
            .margin_right(40)
            .x_label_area_size(70)
            .y_label_area_size(360)
            // Room on the right for the legend, beside the 100% mark.
            .build_cartesian_2d(0.0..1.3, (0..n).into_segmented())
            .map_err(|x| x.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(RGBColor(225, 225, 225))
            .y_labels(n as usize)
            .y_label_formatter(&label_of)
            .x_labels(14)
            .x_label_formatter(&|p| {
                if *p <= 1.0 + 1e-9 {
                    format!("{:.0}%", 100.0 * p)
                } else {
                    String::new()
                }
            })
            .x_desc(text.probability_axis)
            .label_style(font(22))
            .axis_desc_style(font(24))
            .draw()
            .map_err(|x| x.to_string())?;
        chart
            .draw_series(bars.iter().enumerate().map(|(k, b)| {
                PathElement::new(
                    vec![(b.a, SegmentValue::CenterOf(row(k))), (b.b, SegmentValue::CenterOf(row(k)))],
                    RGBColor(150, 150, 150).stroke_width(4),
                )
            }))
            .map_err(|x| x.to_string())?;
        for (is_b, colour, label) in [(false, SKY, legend_a), (true, ORANGE, legend_b)] {
            chart
                .draw_series(
                    bars.iter()
                        .enumerate()
                        .map(|(k, b)| Circle::new((if is_b { b.b } else { b.a }, SegmentValue::CenterOf(row(k))), 9, colour.filled())),
                )
                .map_err(|x| x.to_string())?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 17, y), 9, colour.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 16, 44, 22)?;
        Ok(())
    })
}

/// One bar of a tornado chart.
pub type TornadoBar = crate::sensitivity::Bar;

/// Tornado chart: for each input, bars from the outcome at the central values to the outcome
/// with the input at its low (sky blue) and high (orange) value, ranked by their span. The
/// sensitivity sweep calls this.
///
/// # Errors
/// When the PNG cannot be drawn or written.
pub fn tornado(
    path: &Path,
    title: &str,
    subtitle: &str,
    outcome: &str,
    central: f64,
    bars: &[TornadoBar],
    text: &Captions,
) -> Result<(), ChartError> {
    register_fonts();
    let mut bars = bars.to_vec();
    bars.sort_by(|a, b| (a.high - a.low).abs().total_cmp(&(b.high - b.low).abs()));
    let n = bars.len().max(1) as i32;
    let height = (260 + 48 * n as u32).max(HEIGHT);
    // Room for the longest input label (a dotted path and its range, about 11 px a character
    // at this size; a CJK character twice that), up to 45% of the width.
    let widest = bars
        .iter()
        .map(|b| b.label.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum::<u32>())
        .max()
        .unwrap_or(0);
    let label_area = (11 * widest + 30).clamp(200, WIDTH * 45 / 100);
    render(path, (WIDTH, height), |root| {
        let area = titled(root, title, subtitle)?;
        let values: Vec<f64> = bars.iter().flat_map(|b| [b.low, b.high]).collect();
        let xr = value_range(values.iter(), &[central], false);
        let mut chart = ChartBuilder::on(&area)
            .margin(20)
            .margin_right(60)
            .x_label_area_size(70)
            .y_label_area_size(label_area)
            .build_cartesian_2d(xr, (0..n).into_segmented())
            .map_err(|x| x.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(RGBColor(225, 225, 225))
            .y_labels(n as usize)
            .y_label_formatter(&|i| match i {
                SegmentValue::CenterOf(i) => bars.get(*i as usize).map(|b| b.label.clone()).unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc(outcome)
            .label_style(font(22))
            .axis_desc_style(font(24))
            .draw()
            .map_err(|x| x.to_string())?;
        for (low, colour, label) in [(true, SKY, text.input_low), (false, ORANGE, text.input_high)] {
            chart
                .draw_series(bars.iter().enumerate().map(|(i, b)| {
                    let v = if low { b.low } else { b.high };
                    let mut r = Rectangle::new(
                        [(central, SegmentValue::Exact(i as i32)), (v, SegmentValue::Exact(i as i32 + 1))],
                        colour.filled(),
                    );
                    r.set_margin(6, 6, 0, 0);
                    r
                }))
                .map_err(|x| x.to_string())?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 10), (x + 34, y + 10)], colour.filled()));
        }
        chart
            .draw_series(LineSeries::new(
                vec![(central, SegmentValue::Exact(0)), (central, SegmentValue::Last)],
                BLACK.stroke_width(2),
            ))
            .map_err(|x| x.to_string())?;
        legend(&mut chart, SeriesLabelPosition::LowerRight, 16, 44, 22)?;
        Ok(())
    })
}

/// A file name for a unit or target id: letters, digits, `-`, `_` and `.` are kept.
pub fn file_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Draws every chart of a run into `dir` (created if needed) and returns the files written.
///
/// Per region and group: fan charts of beds per 1,000 elderly and of the nursing share, supply
/// and demand, and the population pyramid; per target: the overview across units.
///
/// # Errors
/// The first chart that fails.
/// Above this many units (a national scenario by county), per-unit charts are drawn for the
/// upper levels of the hierarchy only: thousands of county charts would take gigabytes and
/// minutes, and the county figures are all in the tables.
pub const PER_UNIT_CHARTS: usize = 300;
/// Bars of a target overview above which it shows the upper groups and the units least likely
/// to meet the target.
pub const OVERVIEW_BARS: usize = 80;

/// The units that get their own charts: all of them, or, for more than [`PER_UNIT_CHARTS`],
/// the groups of the two upper levels (the nation and its provinces).
pub fn charted_units(data: &ChartData) -> Vec<&UnitInfo> {
    if data.units.len() <= PER_UNIT_CHARTS {
        data.units.iter().collect()
    } else {
        top_levels(data)
    }
}

/// Groups without a parent, and their child groups: the upper levels of the hierarchy.
pub fn top_levels(data: &ChartData) -> Vec<&UnitInfo> {
    let roots: std::collections::HashSet<&str> = data
        .units
        .iter()
        .filter(|u| u.is_group && u.parent.is_none())
        .map(|u| u.id.as_str())
        .collect();
    data.units
        .iter()
        .filter(|u| u.is_group && u.parent.as_deref().is_none_or(|p| roots.contains(p)))
        .collect()
}

pub fn draw_all(data: &ChartData, dir: &Path) -> Result<Vec<PathBuf>, ChartError> {
    use rayon::prelude::*;
    let mkdir = |d: &Path| {
        std::fs::create_dir_all(d).map_err(|x| ChartError {
            path: d.display().to_string(),
            message: x.to_string(),
        })
    };
    for sub in ["beds_per_1000", "nursing_share", "supply_demand", "pyramid", "targets"] {
        mkdir(&dir.join(sub))?;
    }
    let age = data.elderly_age;
    let text = Captions::of(data.lang);
    let labels: Vec<String> = (0..21)
        .map(|g| {
            if g == 20 {
                "100+".to_string()
            } else {
                format!("{}-{}", 5 * g, 5 * g + 4)
            }
        })
        .collect();
    let charted = charted_units(data);
    let written: Vec<Vec<PathBuf>> = charted
        .par_iter()
        .map(|u| -> Result<Vec<PathBuf>, ChartError> {
            let stem = file_stem(&u.id);
            let heading = format!("{} ({})", u.name, u.id);
            let colon = if text.lang == crate::lang::Lang::Zh { "：" } else { ": " };
            let mut out = Vec::new();
            for (metric, sub, what, y_desc, percent) in [
                (
                    "beds_per_1000_elderly",
                    "beds_per_1000",
                    text.beds_what(age),
                    text.beds_axis(age),
                    false,
                ),
                (
                    "nursing_share",
                    "nursing_share",
                    text.nursing_what.to_string(),
                    text.nursing_axis.to_string(),
                    true,
                ),
            ] {
                let series = data.series(&u.id, metric);
                if series.is_empty() {
                    continue;
                }
                let targets: Vec<&super::chartdata::TargetInfo> =
                    data.targets.iter().filter(|t| t.unit == u.id && t.metric == metric).collect();
                let marks: Vec<TargetMark> = targets
                    .iter()
                    .map(|t| TargetMark {
                        label: text.target_mark(
                            &t.op,
                            &if percent {
                                format!("{:.0}%", 100.0 * t.threshold)
                            } else {
                                format!("{}", t.threshold)
                            },
                            t.year,
                        ),
                        year: t.year,
                        threshold: t.threshold,
                        probability: t.probability,
                    })
                    .collect();
                let probs: Vec<String> = marks
                    .iter()
                    .map(|m| {
                        text.p_met_by(
                            m.year,
                            &m.probability.map(|p| format!("{:.0}%", 100.0 * p)).unwrap_or_else(|| "n/a".into()),
                        )
                    })
                    .collect();
                let subtitle = if probs.is_empty() {
                    text.fan_subtitle(data.draws)
                } else {
                    format!("{} · {}", probs.join(" · "), text.fan_subtitle(data.draws))
                };
                let p = dir.join(sub).join(format!("{stem}.png"));
                let note = if data.stock_year != data.base_year {
                    text.stock_observed_in(data.stock_year)
                } else {
                    text.observed.to_string()
                };
                fan_chart(
                    &p,
                    &format!("{heading}{colon}{what}"),
                    &subtitle,
                    &y_desc,
                    series,
                    &marks,
                    percent,
                    &note,
                    text,
                )?;
                out.push(p);
            }
            let elderly = data.series(&u.id, "elderly");
            if !elderly.is_empty() {
                let left = [
                    Line {
                        label: &text.aged(age),
                        series: elderly,
                        colour: BLUE,
                        dashed: false,
                    },
                    Line {
                        label: text.aged_80,
                        series: data.series(&u.id, "aged_80_plus"),
                        colour: ORANGE,
                        dashed: true,
                    },
                ];
                let right = [
                    Line {
                        label: text.demand_institutional,
                        series: data.series(&u.id, "demand_institutional_beds"),
                        colour: VERMILLION,
                        dashed: true,
                    },
                    Line {
                        label: text.demand_nursing,
                        series: data.series(&u.id, "demand_nursing_beds"),
                        colour: PURPLE,
                        dashed: true,
                    },
                    Line {
                        label: text.supply_institutional,
                        series: data.series(&u.id, "beds_institutional"),
                        colour: BLUE,
                        dashed: false,
                    },
                    Line {
                        label: text.supply_nursing,
                        series: data.series(&u.id, "beds_nursing"),
                        colour: GREEN,
                        dashed: false,
                    },
                ];
                let p = dir.join("supply_demand").join(format!("{stem}.png"));
                supply_demand(
                    &p,
                    &format!("{heading}{colon}{}", text.supply_demand_title()),
                    &text.supply_demand_subtitle(data.draws),
                    &left,
                    &right,
                    text,
                )?;
                out.push(p);
            }
            if let Some(cells) = data.pyramid.get(&u.id) {
                let p = dir.join("pyramid").join(format!("{stem}.png"));
                pyramid(
                    &p,
                    &format!("{heading}{colon}{}", text.pyramid_title(data.base_year, data.horizon)),
                    &text.pyramid_subtitle(data.base_year, data.horizon, data.draws),
                    cells,
                    data.base_year,
                    data.horizon,
                    &labels,
                    text,
                )?;
                out.push(p);
            }
            Ok(out)
        })
        .collect::<Result<_, _>>()?;
    let mut files: Vec<PathBuf> = written.into_iter().flatten().collect();
    let units: HashMap<&str, &UnitInfo> = data.units.iter().map(|u| (u.id.as_str(), u)).collect();
    let mut target_ids: Vec<&str> = Vec::new();
    for t in &data.targets {
        if !target_ids.contains(&t.id.as_str()) {
            target_ids.push(&t.id);
        }
    }
    for id in target_ids {
        let rows: Vec<_> = data.targets.iter().filter(|t| t.id == id).collect();
        let mut bars: Vec<ProbabilityBar> = rows
            .iter()
            .filter_map(|t| {
                let u = units.get(t.unit.as_str())?;
                Some(ProbabilityBar {
                    label: u.name.clone(),
                    probability: t.probability?,
                    is_group: u.is_group,
                })
            })
            .collect();
        let all = bars.len();
        if all > OVERVIEW_BARS {
            // The upper levels of the hierarchy, then the units least likely to meet the target.
            let top: std::collections::HashSet<&str> = top_levels(data).iter().map(|u| u.name.as_str()).collect();
            bars.sort_by(|a, b| a.probability.total_cmp(&b.probability).then_with(|| a.label.cmp(&b.label)));
            let mut kept: Vec<ProbabilityBar> = bars
                .iter()
                .filter(|b| b.is_group && top.contains(b.label.as_str()))
                .cloned()
                .collect();
            for b in &bars {
                if kept.len() >= OVERVIEW_BARS {
                    break;
                }
                if !(b.is_group && top.contains(b.label.as_str())) {
                    kept.push(b.clone());
                }
            }
            bars = kept;
        }
        let shown = (bars.len() < all).then_some((bars.len(), all));
        let first = rows[0];
        let what = if first.metric == "nursing_share" {
            format!("{:.0}%", 100.0 * first.threshold)
        } else {
            format!("{}", first.threshold)
        };
        let p = dir.join("targets").join(format!("{}.png", file_stem(id)));
        target_overview(
            &p,
            &text.overview_title(id, &text.metric_name(&first.metric, age), &first.op, &what, first.year),
            &text.overview_subtitle(data.draws, shown),
            &bars,
            text,
        )?;
        files.push(p);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_thousands() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(-999.0), "-999");
        assert_eq!(thousands(0.0), "0");
    }

    #[test]
    fn bundled_font_loads_and_covers_latin_and_chinese() {
        use ab_glyph::{Font, FontRef};
        let f = FontRef::try_from_slice(FONT).expect("bundled font parses");
        for c in "Beds per 1,000 aged 60+ 海南省秀英区崆峒区泾川县"
            .chars()
            .filter(|c| !c.is_whitespace())
        {
            assert_ne!(f.glyph_id(c).0, 0, "no glyph for {c:?}");
        }
        assert_eq!(f.glyph_id('\u{10FFFD}').0, 0, "a private-use character must be missing");
    }

    #[test]
    fn bundled_font_covers_every_caption_of_every_language() {
        for lang in [crate::lang::Lang::Zh, crate::lang::Lang::En] {
            for caption in Captions::of(lang).samples() {
                let missing = missing_glyphs(&caption);
                assert!(missing.is_empty(), "{lang}: no glyph for {missing:?} in {caption:?}");
            }
        }
    }
}
