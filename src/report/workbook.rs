//! `report.xlsx`: the run as an Excel workbook, for analysts who work in Excel or WPS.
//!
//! Sheets: the targets (one row per target and unit, P(met) as a percentage with conditional
//! colours, the median and 90% interval of the target's metric, what is needed at the run's
//! confidence), the summary in long form (one row per unit, year and metric, so that a pivot
//! table can use it), the units, the assumptions (every sampled input as the scenario wrote
//! it) and the run's metadata. Headers are frozen and filtered, numbers are stored as numbers
//! with display formats, and columns are as wide as their widest text (CJK characters count
//! two). The workbook is written from the results folder's tables and manifest, like the
//! charts, and its document date is the run's start, so the same run writes the same bytes.

use std::path::Path;

use rust_xlsxwriter::{
    Color, ConditionalFormatCell, ConditionalFormatCellRule, DocProperties, ExcelDateTime, Format, FormatBorder, Workbook, Worksheet,
    XlsxError,
};

use super::ReportError;
use super::chartdata::{ChartData, TargetInfo};
use super::tables::QUANTILE_COLUMNS;
use super::text::Captions;

/// Rows a worksheet holds, the header included (Excel's limit).
pub const EXCEL_ROWS: usize = 1_048_576;

/// The metrics the summary sheet keeps when every metric of every unit would not fit in one
/// sheet (a national run by county): the ones the targets and the charts are about.
pub const HEADLINE_METRICS: [&str; 8] = [
    "elderly",
    "aged_80_plus",
    "demand_institutional_beds",
    "beds_total",
    "beds_institutional",
    "beds_nursing",
    "beds_per_1000_elderly",
    "nursing_share",
];

fn failed(path: &Path) -> impl Fn(XlsxError) -> ReportError + '_ {
    move |e| ReportError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Display width of a text in Excel's character units (CJK and full-width characters count
/// two).
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if c as u32 >= 0x1100 { 2 } else { 1 }).sum()
}

/// Keeps the widest text of each column, to size the columns at the end.
struct Widths(Vec<usize>);

impl Widths {
    fn new(headers: &[String]) -> Widths {
        Widths(headers.iter().map(|h| display_width(h)).collect())
    }

    fn see(&mut self, col: usize, text: &str) {
        if let Some(w) = self.0.get_mut(col) {
            *w = (*w).max(display_width(text));
        }
    }

    fn apply(&self, ws: &mut Worksheet) -> Result<(), XlsxError> {
        for (c, w) in self.0.iter().enumerate() {
            ws.set_column_width(c as u16, (*w as f64 + 2.0).clamp(6.0, 70.0))?;
        }
        Ok(())
    }
}

/// The header row: bold on grey, frozen, with a filter over `rows` data rows.
fn header(ws: &mut Worksheet, headers: &[String], rows: usize) -> Result<(), XlsxError> {
    let bold = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xD9E1F2))
        .set_border_bottom(FormatBorder::Thin);
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h, &bold)?;
    }
    ws.set_freeze_panes(1, 0)?;
    if !headers.is_empty() {
        ws.autofilter(0, 0, rows as u32, headers.len() as u16 - 1)?;
    }
    Ok(())
}

fn number(ws: &mut Worksheet, row: u32, col: u16, v: Option<f64>, format: &Format) -> Result<(), XlsxError> {
    match v.filter(|x| x.is_finite()) {
        Some(x) => ws.write_number_with_format(row, col, x, format).map(|_| ()),
        None => Ok(()),
    }
}

/// The display format of a metric's values: percentages for shares, one decimal for rates,
/// whole numbers with thousands separators for counts.
fn metric_format(metric: &str) -> Format {
    match metric {
        "nursing_share" => Format::new().set_num_format("0.0%"),
        "demand_supply_ratio" => Format::new().set_num_format("0.000"),
        m if m.contains("per_1000") || m.contains("per_10000") => Format::new().set_num_format("0.0"),
        _ => Format::new().set_num_format("#,##0"),
    }
}

/// Writes `report.xlsx` of the results in `data` to `path`.
///
/// # Errors
/// When the workbook cannot be written.
pub fn write(data: &ChartData, path: &Path) -> Result<(), ReportError> {
    // rust_xlsxwriter panics ("Couldn't write to xml file: ...") when a row of a low-memory
    // sheet cannot be written to its temporary file, as on a full disk. That panic, and only
    // that one, is caught here and reported as the error it is, and the panic hook says nothing
    // of it (see `quiet_write_panics`), so that the user sees one clear message and the staging
    // folder is removed as after any failed write; the workbook is dropped whole. Any other
    // panic is a bug: the hook reports it as usual and it goes on unwinding.
    quiet_write_panics();
    WRITING.with(|w| w.set(true));
    let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write_sheets(data, path)));
    WRITING.with(|w| w.set(false));
    written.unwrap_or_else(
        |payload| match panic_text(payload.as_ref()).filter(|t| t.starts_with(XML_WRITE_ERROR)) {
            Some(what) => Err(ReportError::Io {
                path: path.display().to_string(),
                source: std::io::Error::other(format!("the workbook could not be written: {what}")),
            }),
            None => std::panic::resume_unwind(payload),
        },
    )
}

/// The message rust_xlsxwriter's writes of XML panic with when the file cannot be written.
const XML_WRITE_ERROR: &str = "Couldn't write to xml file";

std::thread_local! {
    /// Whether this thread is writing a workbook ([`write`]).
    static WRITING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The text of a panic's payload, when it is one.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
}

/// Installs, once, a panic hook that says nothing of a failed XML write on a thread writing a
/// workbook ([`WRITING`], [`XML_WRITE_ERROR`]), which [`write`] reports as an error, and hands
/// every other panic to the hook that was there before.
fn quiet_write_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let write_error = panic_text(info.payload()).is_some_and(|t| t.starts_with(XML_WRITE_ERROR));
            if !(write_error && WRITING.with(std::cell::Cell::get)) {
                before(info);
            }
        }));
    });
}

fn write_sheets(data: &ChartData, path: &Path) -> Result<(), ReportError> {
    let text = Captions::of(data.lang);
    let mut wb = Workbook::new();
    let mut props = DocProperties::new()
        .set_title(text.report_title(&data.scenario))
        .set_author("bedsim")
        .set_comment(data.run.description.clone());
    if let Some(when) = excel_time(&data.run.started_utc) {
        props = props.set_creation_datetime(&when);
    }
    wb.set_properties(&props);
    // Deflate level 3, Excel's own, rather than the crate's 6: the national run's workbook is
    // written in 3.3 s instead of 4.8 s, and is 47.5 MB instead of 42.7 MB.
    wb.set_zip_compression_level(3);
    let e = failed(path);
    // The summary sheet's rows go to a temporary file beside the workbook as they are written
    // (the national run's is 400,000 rows).
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        wb.set_tempdir(dir).map_err(&e)?;
    }
    targets_sheet(wb.add_worksheet(), data, text).map_err(&e)?;
    let kept = summary_sheet(wb.add_worksheet_with_low_memory().map_err(&e)?, data, text).map_err(&e)?;
    units_sheet(wb.add_worksheet(), data, text).map_err(&e)?;
    assumptions_sheet(wb.add_worksheet(), data, text).map_err(&e)?;
    run_sheet(wb.add_worksheet(), data, text, kept).map_err(&e)?;
    wb.save(path).map_err(&e)
}

/// `2026-12-01T14:29:28Z` as an Excel date-time.
fn excel_time(rfc3339: &str) -> Option<ExcelDateTime> {
    let t = rfc3339.strip_suffix('Z')?;
    let (date, time) = t.split_once('T')?;
    let d: Vec<u16> = date.split('-').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let h: Vec<u16> = time.split(':').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    if d.len() != 3 || h.len() != 3 {
        return None;
    }
    ExcelDateTime::from_ymd(d[0], d[1] as u8, d[2] as u8)
        .and_then(|x| x.and_hms(h[0], h[1] as u8, h[2]))
        .ok()
}

/// The caption of a unit's kind.
fn kind_caption(text: &Captions, is_group: bool) -> &'static str {
    if is_group { text.group } else { text.region }
}

fn targets_sheet(ws: &mut Worksheet, data: &ChartData, text: &Captions) -> Result<(), XlsxError> {
    ws.set_name(text.sheet_targets)?;
    let age = data.elderly_age;
    let headers: Vec<String> = vec![
        text.target.into(),
        text.unit_id.into(),
        text.unit.into(),
        text.kind.into(),
        text.year.into(),
        text.metric.into(),
        text.op.into(),
        text.threshold.into(),
        text.p_met.into(),
        text.median.into(),
        text.p05.into(),
        text.p95.into(),
        text.needed_at_confidence(data.run.confidence),
        text.needed_unit.into(),
        text.conversions.into(),
    ];
    // The column of P(met), coloured.
    const P: u16 = 8;
    let mut widths = Widths::new(&headers);
    header(ws, &headers, data.targets.len())?;
    let percent = Format::new().set_num_format("0.0%");
    let count = Format::new().set_num_format("#,##0");
    let units: std::collections::HashMap<&str, &super::chartdata::UnitInfo> = data.units.iter().map(|u| (u.id.as_str(), u)).collect();
    for (i, t) in data.targets.iter().enumerate() {
        let row = i as u32 + 1;
        let unit = units.get(t.unit.as_str());
        let name = unit.map_or(t.unit.as_str(), |u| u.name.as_str());
        let kind = kind_caption(text, unit.is_some_and(|u| u.is_group));
        let metric = text.metric_name(&t.metric, age);
        let strings = [
            (0, t.id.as_str()),
            (1, t.unit.as_str()),
            (2, name),
            (3, kind),
            (5, &metric),
            (6, &t.op),
        ];
        for (c, s) in strings {
            ws.write_string(row, c, s)?;
            widths.see(c as usize, s);
        }
        ws.write_number(row, 4, f64::from(t.year))?;
        let f = metric_format(&t.metric);
        number(ws, row, 7, Some(t.threshold), &f)?;
        number(ws, row, P, t.probability, &percent)?;
        number(ws, row, 9, t.p50, &f)?;
        number(ws, row, 10, t.p05, &f)?;
        number(ws, row, 11, t.p95, &f)?;
        number(ws, row, 12, t.needed, &count)?;
        if let Some(u) = &t.needed_unit {
            let u = text.metric_unit(u);
            ws.write_string(row, 13, &u)?;
            widths.see(13, &u);
        }
        number(ws, row, 14, t.conversions, &count)?;
    }
    widths.see(P as usize, "100.0%");
    widths.apply(ws)?;
    if !data.targets.is_empty() {
        let last = data.targets.len() as u32;
        let fill = |rgb: u32, font: u32| Format::new().set_background_color(Color::RGB(rgb)).set_font_color(Color::RGB(font));
        for (rule, colours) in [
            (ConditionalFormatCellRule::LessThan(0.5), (0xFFC7CE, 0x9C0006)),
            (ConditionalFormatCellRule::Between(0.5, 0.9), (0xFFEB9C, 0x9C5700)),
            (ConditionalFormatCellRule::GreaterThan(0.9), (0xC6EFCE, 0x006100)),
        ] {
            ws.add_conditional_format(
                1,
                P,
                last,
                P,
                &ConditionalFormatCell::new().set_rule(rule).set_format(fill(colours.0, colours.1)),
            )?;
        }
    }
    Ok(())
}

/// A target's threshold as people read it: a percentage for shares.
pub fn threshold_text(t: &TargetInfo) -> String {
    if t.metric == "nursing_share" {
        format!("{}%", trim(100.0 * t.threshold))
    } else {
        trim(t.threshold)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Writes the summary; returns `false` when only [`HEADLINE_METRICS`] fitted.
fn summary_sheet(ws: &mut Worksheet, data: &ChartData, text: &Captions) -> Result<bool, XlsxError> {
    ws.set_name(text.sheet_summary)?;
    let age = data.elderly_age;
    let mut headers: Vec<String> = vec![
        text.unit_id.into(),
        text.unit.into(),
        text.kind.into(),
        text.year.into(),
        "metric".into(),
        text.metric.into(),
        text.metric_unit.into(),
        text.mean.into(),
    ];
    headers.extend(QUANTILE_COLUMNS.iter().map(|q| q.to_string()));
    let all: usize = data.series.values().map(Vec::len).sum();
    let everything = all < EXCEL_ROWS;
    // Units in the order of the units table, metrics in the engine's order.
    let metrics: Vec<&str> = crate::metric::Metric::ALL
        .iter()
        .map(|m| m.name())
        .filter(|m| everything || HEADLINE_METRICS.contains(m))
        .collect();
    let units_of: std::collections::HashMap<&str, &str> = crate::metric::Metric::ALL.iter().map(|m| (m.name(), m.unit())).collect();
    let mut widths = Widths::new(&headers);
    // Rows are written in order (the sheet streams them), so the header, whose filter spans
    // the rows, goes first.
    let rows: usize = data
        .units
        .iter()
        .map(|u| metrics.iter().map(|m| data.series(&u.id, m).len()).sum::<usize>())
        .sum();
    header(ws, &headers, rows)?;
    let mut row = 0u32;
    let formats: Vec<Format> = metrics.iter().map(|m| metric_format(m)).collect();
    let labels: Vec<String> = metrics.iter().map(|m| text.metric_name(m, age)).collect();
    let unit_labels: Vec<String> = metrics
        .iter()
        .map(|m| text.metric_unit(units_of.get(m).copied().unwrap_or("")))
        .collect();
    for u in &data.units {
        let kind = kind_caption(text, u.is_group);
        widths.see(0, &u.id);
        widths.see(1, &u.name);
        for (k, m) in metrics.iter().enumerate() {
            for st in data.series(&u.id, m) {
                row += 1;
                ws.write_string(row, 0, &u.id)?;
                ws.write_string(row, 1, &u.name)?;
                ws.write_string(row, 2, kind)?;
                ws.write_number(row, 3, f64::from(st.year))?;
                ws.write_string(row, 4, *m)?;
                ws.write_string(row, 5, &labels[k])?;
                ws.write_string(row, 6, &unit_labels[k])?;
                number(ws, row, 7, Some(st.mean), &formats[k])?;
                for (q, v) in st.q.iter().enumerate() {
                    number(ws, row, 8 + q as u16, Some(*v), &formats[k])?;
                }
            }
        }
    }
    for (k, m) in metrics.iter().enumerate() {
        widths.see(4, m);
        widths.see(5, &labels[k]);
        widths.see(6, &unit_labels[k]);
    }
    for c in 7..headers.len() {
        widths.see(c, "1,234,567");
    }
    widths.apply(ws)?;
    Ok(everything)
}

fn units_sheet(ws: &mut Worksheet, data: &ChartData, text: &Captions) -> Result<(), XlsxError> {
    ws.set_name(text.sheet_units)?;
    let headers: Vec<String> = vec![
        text.unit_id.into(),
        text.unit.into(),
        text.kind.into(),
        format!("{} ({})", text.parent, text.unit_id),
        text.parent.into(),
    ];
    let mut widths = Widths::new(&headers);
    header(ws, &headers, data.units.len())?;
    for (i, u) in data.units.iter().enumerate() {
        let row = i as u32 + 1;
        let parent = u.parent.as_deref().unwrap_or("");
        let cells = [&u.id, &u.name, kind_caption(text, u.is_group), parent, data.name(parent)];
        for (c, s) in cells.into_iter().enumerate() {
            if !s.is_empty() {
                ws.write_string(row, c as u16, s)?;
                widths.see(c, s);
            }
        }
    }
    widths.apply(ws)
}

fn assumptions_sheet(ws: &mut Worksheet, data: &ChartData, text: &Captions) -> Result<(), XlsxError> {
    ws.set_name(text.sheet_assumptions)?;
    let headers: Vec<String> = vec![text.input_path.into(), text.distribution.into(), text.written_at.into()];
    let mut widths = Widths::new(&headers);
    header(ws, &headers, data.run.assumptions.len())?;
    for (i, a) in data.run.assumptions.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, s) in [&a.path, &a.written, &a.origin].into_iter().enumerate() {
            ws.write_string(row, c as u16, s)?;
            widths.see(c, s);
        }
    }
    widths.apply(ws)
}

fn run_sheet(ws: &mut Worksheet, data: &ChartData, text: &Captions, whole_summary: bool) -> Result<(), XlsxError> {
    ws.set_name(text.sheet_run)?;
    let headers: Vec<String> = vec![text.field.into(), text.value.into()];
    let run = &data.run;
    let mut rows: Vec<(String, String)> = vec![
        ("scenario".into(), data.scenario.clone()),
        ("description".into(), run.description.clone()),
        ("program".into(), format!("bedsim {}", run.version)),
        ("started_utc".into(), run.started_utc.clone()),
        ("draws".into(), data.draws.to_string()),
        ("seed".into(), run.seed.to_string()),
        ("confidence".into(), format!("{}", run.confidence)),
        ("base_year".into(), data.base_year.to_string()),
        ("horizon".into(), data.horizon.to_string()),
        ("elderly_age".into(), data.elderly_age.to_string()),
        ("lang".into(), data.lang.to_string()),
        ("scenario_path".into(), run.scenario_path.clone()),
        ("command_line".into(), run.command_line.join(" ")),
    ];
    for o in &run.overrides {
        rows.push(("override".into(), o.clone()));
    }
    if let Some(e) = run.effective_draws {
        rows.push(("effective_draws".into(), format!("{e:.1}")));
    }
    for i in &run.inputs {
        rows.push(("input".into(), format!("{} (sha256 {})", i.path, i.sha256)));
    }
    if !whole_summary {
        rows.push((
            "summary_sheet".into(),
            format!(
                "every metric of every unit is more than Excel's {EXCEL_ROWS} rows: the summary sheet keeps {}; summary.parquet and summary.csv have them all",
                HEADLINE_METRICS.join(", ")
            ),
        ));
    }
    let mut widths = Widths::new(&headers);
    header(ws, &headers, rows.len())?;
    for (i, (k, v)) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        ws.write_string(row, 0, k)?;
        ws.write_string(row, 1, v)?;
        widths.see(0, k);
        widths.see(1, v);
    }
    widths.apply(ws)
}
