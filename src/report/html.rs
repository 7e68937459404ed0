//! `report.html`: the run in one file, for people who will not open a table.
//!
//! The findings come first (each target: P(met) for the upper levels and for the units least
//! likely to meet it, the median and 90% interval, what is needed at the run's confidence),
//! then the overview and fan charts, the assumptions and how to reproduce the run. Everything
//! is inside the file: the charts as PNG data, the bundled font (so that Chinese reads alike
//! on every machine, with or without CJK fonts), the style sheet. There is no script, and
//! nothing is fetched from the network. The page prints to A4.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use super::ReportError;
use super::chartdata::{ChartData, TargetInfo, UnitInfo};
use super::charts::{FONT, file_stem, thousands, top_levels};
use super::text::Captions;
use super::workbook::threshold_text;
use crate::lang::Lang;

/// Units of a target shown after the upper levels: those least likely to meet it.
pub const AT_RISK_ROWS: usize = 10;
/// Targets with at most this many units list every unit.
pub const ALL_ROWS: usize = 40;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const STYLE: &str = r#"
@font-face { font-family: "bedsim"; src: url(data:font/otf;base64,FONTDATA) format("opentype"); }
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "bedsim", "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; color: #1a1a1a;
       max-width: 1100px; margin: 0 auto; padding: 24px; line-height: 1.5; font-size: 15px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; border-bottom: 2px solid #1f4e79; padding-bottom: 4px; margin-top: 32px; }
h3 { font-size: 17px; margin: 22px 0 6px; }
.byline { color: #555; margin: 0 0 4px; }
.lead { margin: 6px 0 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 14px; font-size: 14px; }
th, td { border: 1px solid #c8c8c8; padding: 4px 7px; text-align: left; vertical-align: top; }
th { background: #d9e1f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.low { background: #ffc7ce; color: #9c0006; }
td.mid { background: #ffeb9c; color: #9c5700; }
td.high { background: #c6efce; color: #006100; }
tr.group td:first-child { font-weight: bold; }
figure { margin: 12px 0 20px; break-inside: avoid; page-break-inside: avoid; }
figure img { width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 13px; }
code, pre { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 13px; }
pre { background: #f4f4f4; padding: 8px 10px; white-space: pre-wrap; word-break: break-all; }
.note { color: #555; font-size: 13px; }
section { break-inside: auto; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  h3 { break-after: avoid; page-break-after: avoid; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  figure img { max-height: 235mm; object-fit: contain; }
}
"#;

fn pct(p: Option<f64>) -> String {
    p.map(|x| format!("{:.1}%", 100.0 * x)).unwrap_or_else(|| "–".into())
}

/// A value of a target's metric as people read it.
fn value(t: &TargetInfo, v: Option<f64>) -> String {
    match v.filter(|x| x.is_finite()) {
        None => "–".into(),
        Some(x) if t.metric == "nursing_share" => format!("{:.1}%", 100.0 * x),
        Some(x) if t.metric == "demand_supply_ratio" => format!("{x:.3}"),
        Some(x) => format!("{x:.1}"),
    }
}

fn needed(t: &TargetInfo, text: &Captions) -> Option<String> {
    let n = t.needed?;
    let unit = t.needed_unit.as_deref().map(|u| text.metric_unit(u)).unwrap_or_default();
    Some(format!("{} {unit}", thousands(n)).trim().to_string())
}

fn class_of(p: Option<f64>) -> &'static str {
    match p {
        Some(p) if p > 0.9 => "high",
        Some(p) if p >= 0.5 => "mid",
        Some(_) => "low",
        None => "",
    }
}

fn image(dir: &Path, rel: &str, alt: &str, caption: &str, out: &mut String) {
    let Ok(bytes) = std::fs::read(dir.join(rel)) else { return };
    let _ = writeln!(
        out,
        "<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\"><figcaption>{}</figcaption></figure>",
        escape(alt),
        base64(&bytes),
        escape(caption)
    );
}

/// Writes `report.html` of the results folder `dir` (its tables read into `data`) to `path`.
///
/// # Errors
/// When the file cannot be written.
pub fn write(data: &ChartData, dir: &Path, path: &Path) -> Result<(), ReportError> {
    let html = render(data, dir);
    std::fs::write(path, html).map_err(|source| ReportError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// The report's HTML text.
pub fn render(data: &ChartData, dir: &Path) -> String {
    let text = Captions::of(data.lang);
    let age = data.elderly_age;
    let units: HashMap<&str, &UnitInfo> = data.units.iter().map(|u| (u.id.as_str(), u)).collect();
    let name_of = |id: &str| units.get(id).map_or(id.to_string(), |u| u.name.clone());
    let mut h = String::new();
    let lang = if data.lang == Lang::Zh { "zh-CN" } else { "en" };
    let title = text.report_title(&data.scenario);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"bedsim {}\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n",
        escape(&data.run.version),
        escape(&title),
        STYLE.replace("FONTDATA", &base64(FONT))
    );
    let when = data.run.started_utc.replace('T', " ").trim_end_matches('Z').to_string();
    let _ = write!(
        h,
        "<header>\n<h1>{}</h1>\n<p class=\"byline\">{}</p>\n<p class=\"lead\">{}</p>\n</header>\n",
        escape(&title),
        escape(&text.report_byline(data.draws, data.run.seed, &when, &data.run.version)),
        escape(&data.run.description)
    );

    // Findings: one section per target.
    let _ = write!(
        h,
        "<section id=\"findings\">\n<h2>{}</h2>\n<p class=\"note\">{}</p>\n",
        text.findings,
        escape(text.reading_guide)
    );
    let mut ids: Vec<&str> = Vec::new();
    for t in &data.targets {
        if !ids.contains(&t.id.as_str()) {
            ids.push(&t.id);
        }
    }
    if ids.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", escape(text.no_targets));
    }
    let upper: Vec<&str> = top_levels(data).iter().map(|u| u.id.as_str()).collect();
    for (k, id) in ids.iter().enumerate() {
        let rows: Vec<&TargetInfo> = data.targets.iter().filter(|t| t.id == *id).collect();
        let first = rows[0];
        let metric = text.metric_name(&first.metric, age);
        let _ = writeln!(
            h,
            "<h3>{}</h3>",
            escape(&text.overview_title(id, &metric, &first.op, &threshold_text(first), first.year))
        );
        // A sentence for each top-level group (or the first unit when there is no group).
        let roots: Vec<&&TargetInfo> = rows
            .iter()
            .filter(|t| units.get(t.unit.as_str()).is_some_and(|u| u.is_group && u.parent.is_none()))
            .collect();
        let headline: Vec<&&TargetInfo> = if roots.is_empty() { rows.iter().take(1).collect() } else { roots };
        for t in &headline {
            let _ = writeln!(
                h,
                "<p>{}</p>",
                escape(&text.finding(
                    id,
                    &name_of(&t.unit),
                    &pct(t.probability),
                    &value(t, t.p50),
                    needed(t, text).as_deref()
                ))
            );
        }
        let below = rows.iter().filter(|t| t.probability.is_some_and(|p| p < 0.5)).count();
        if rows.len() > 1 {
            let _ = writeln!(h, "<p>{}</p>", escape(&text.units_below(below, rows.len())));
        }
        // The table: every unit, or the upper levels then those most at risk.
        // The upper levels first (in the order of the units table), then the other units from
        // the least likely to meet the target.
        let mut shown: Vec<&TargetInfo> = upper.iter().filter_map(|u| rows.iter().copied().find(|t| t.unit == *u)).collect();
        let mut rest: Vec<&TargetInfo> = rows.iter().copied().filter(|t| !upper.contains(&t.unit.as_str())).collect();
        rest.sort_by(|a, b| a.probability.unwrap_or(2.0).total_cmp(&b.probability.unwrap_or(2.0)));
        let keep = if rows.len() <= ALL_ROWS { rest.len() } else { AT_RISK_ROWS };
        shown.extend(rest.into_iter().take(keep));
        let caption = if rows.len() <= ALL_ROWS {
            text.all_units
        } else {
            text.most_at_risk
        };
        let table_id = if k == 0 { " id=\"targets\"" } else { "" };
        let _ = write!(
            h,
            "<table class=\"targets\"{table_id}>\n<caption class=\"note\" style=\"caption-side: bottom; text-align: left\">{}</caption>\n<thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>\n",
            escape(caption),
            escape(text.unit),
            escape(text.p_met),
            escape(text.median),
            escape(text.interval_caption()),
            escape(&text.needed_at_confidence(data.run.confidence))
        );
        for t in shown {
            let is_group = units.get(t.unit.as_str()).is_some_and(|u| u.is_group);
            let _ = writeln!(
                h,
                "<tr{}><td>{}</td><td class=\"num {}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{} – {}</td><td class=\"num\">{}</td></tr>",
                if is_group { " class=\"group\"" } else { "" },
                escape(&name_of(&t.unit)),
                class_of(t.probability),
                pct(t.probability),
                value(t, t.p50),
                value(t, t.p05),
                value(t, t.p95),
                escape(&needed(t, text).unwrap_or_else(|| "–".into()))
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("</section>\n");

    // Charts.
    let _ = writeln!(h, "<section id=\"charts\">\n<h2>{}</h2>", text.charts);
    if dir.join("charts").is_dir() {
        for id in &ids {
            let rows: Vec<&TargetInfo> = data.targets.iter().filter(|t| t.id == *id).collect();
            let first = rows[0];
            let caption = text.overview_title(
                id,
                &text.metric_name(&first.metric, age),
                &first.op,
                &threshold_text(first),
                first.year,
            );
            image(dir, &format!("charts/targets/{}.png", file_stem(id)), &caption, &caption, &mut h);
        }
        let charted: Vec<&UnitInfo> = if data.units.len() <= 8 {
            data.units.iter().collect()
        } else {
            top_levels(data)
        };
        for u in charted {
            for (sub, what) in [
                ("beds_per_1000", text.beds_what(age)),
                ("nursing_share", text.nursing_what.to_string()),
            ] {
                let caption = format!("{} — {what}", u.name);
                image(dir, &format!("charts/{sub}/{}.png", file_stem(&u.id)), &caption, &caption, &mut h);
            }
        }
    } else {
        let _ = writeln!(h, "<p class=\"note\">{}</p>", escape(text.no_charts));
    }
    h.push_str("</section>\n");

    // Assumptions.
    let _ = write!(
        h,
        "<section id=\"assumptions\">\n<h2>{}</h2>\n<p class=\"note\">{}</p>\n<table>\n<thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>\n",
        text.assumptions,
        escape(text.assumptions_intro),
        escape(text.input_path),
        escape(text.distribution),
        escape(text.written_at)
    );
    for a in &data.run.assumptions {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td class=\"note\">{}</td></tr>",
            escape(&a.path),
            escape(&a.written),
            escape(&a.origin)
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");

    // Reproduce.
    let mut command = format!(
        "bedsim run {} --seed {} --draws {}",
        data.run.scenario_path, data.run.seed, data.draws
    );
    // Seed and draws are given above, whether they came from the scenario or from the
    // command line.
    for o in data
        .run
        .overrides
        .iter()
        .filter(|o| !o.starts_with("seed=") && !o.starts_with("draws="))
    {
        command.push_str(&format!(" --set '{o}'"));
    }
    if !data.run.only.is_empty() {
        command.push_str(&format!(" --only {}", data.run.only.join(",")));
    }
    if data.run.confidence != 0.9 {
        command.push_str(&format!(" --confidence {}", data.run.confidence));
    }
    let _ = write!(
        h,
        "<section id=\"reproduce\">\n<h2>{}</h2>\n<p>{}</p>\n<pre>{}</pre>\n<table>\n<thead><tr><th>{}</th><th>sha256</th></tr></thead>\n<tbody>\n",
        text.reproduce,
        escape(text.reproduce_intro),
        escape(&command),
        escape(text.input_file)
    );
    for i in &data.run.inputs {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
            escape(&i.path),
            escape(&i.sha256)
        );
    }
    h.push_str("</tbody>\n</table>\n");
    let mut details = vec![
        ("bedsim", data.run.version.clone()),
        ("started_utc", data.run.started_utc.clone()),
        ("draws", data.draws.to_string()),
        ("seed", data.run.seed.to_string()),
        ("confidence", format!("{}", data.run.confidence)),
        ("command_line", data.run.command_line.join(" ")),
    ];
    if let Some(e) = data.run.effective_draws {
        details.push(("effective_draws", format!("{e:.1}")));
    }
    let _ = write!(h, "<h3>{}</h3>\n<table>\n<tbody>\n", text.run_details);
    for (k, v) in details {
        let _ = writeln!(h, "<tr><th>{k}</th><td><code>{}</code></td></tr>", escape(&v));
    }
    h.push_str("</tbody>\n</table>\n</section>\n</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    }
}
