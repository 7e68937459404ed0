//! `bedsim compare A B`: two results folders side by side (see [`report::compare`]).

use std::fmt::Write as _;

use super::*;
use bedsim::report::charts::CompareBar;
use bedsim::report::compare;
use bedsim::report::text::Captions;

/// What `compare` writes in its `manifest.json`.
#[derive(Debug, serde::Serialize)]
struct CompareManifest {
    program: &'static str,
    version: &'static str,
    kind: &'static str,
    a: String,
    b: String,
    scenario_a: String,
    scenario_b: String,
    seed_a: u64,
    seed_b: u64,
    draws_a: usize,
    draws_b: usize,
    matched: &'static str,
    rows: usize,
    note: String,
}

fn load(dir: &Path, which: &str) -> Result<report::chartdata::ChartData, CmdError> {
    if !report::is_results_dir(dir) {
        return Err(CmdError::usage(format!(
            "{which}: {} is not a bedsim results folder (no bedsim manifest.json)",
            dir.display()
        )));
    }
    report::chartdata::load(dir)
        .map_err(|e| CmdError::usage(format!("{which}: {} cannot be read as the results of a run: {e}", dir.display())))
}

fn folder_name(p: &Path) -> String {
    p.file_name().map_or_else(|| "results".into(), |n| n.to_string_lossy().to_string())
}

pub(super) fn compare(args: CompareArgs) -> Outcome {
    let a = load(&args.a, "A")?;
    let b = load(&args.b, "B")?;
    let common = args.r#match.is_some();
    let rows = compare::rows(&a, &b, common).map_err(|m| {
        if common {
            CmdError::usage(format!(
                "{} and {} have no target and unit in common: {m}",
                args.a.display(),
                args.b.display()
            ))
        } else {
            CmdError::usage(format!(
                "{} and {} do not have the same targets and units: {m}; --match common compares the pairs both have",
                args.a.display(),
                args.b.display()
            ))
        }
    })?;
    let text = Captions::of(args.lang.unwrap_or(a.lang));
    let same_seed = compare::shared_draws(&a, &b);
    let note = if same_seed { text.same_seed_note } else { text.other_seed_note };
    let default = format!("compare-{}-{}", folder_name(&args.a), folder_name(&args.b));
    let out = results_folder(args.out.as_deref(), args.force, &default)?;

    let written = (|| -> Result<(), report::ReportError> {
        let staging = Staging::new(&out)?;
        let table = |p: &Path| {
            let p = p.display().to_string();
            move |source| report::ReportError::Table { path: p, source }
        };
        let p = staging.dir.join("compare.csv");
        tables::write_csv(&mut compare::frame(&rows).map_err(table(&p))?, &p).map_err(table(&p))?;
        let p = staging.dir.join("compare.parquet");
        tables::write_parquet(&mut compare::frame(&rows).map_err(table(&p))?, &p).map_err(table(&p))?;
        compare::write_workbook(&rows, text, note, a.elderly_age, &staging.dir.join("compare.xlsx"))?;
        let charts_dir = staging.dir.join("charts");
        std::fs::create_dir_all(&charts_dir).map_err(|source| report::ReportError::Io {
            path: charts_dir.display().to_string(),
            source,
        })?;
        let mut ids: Vec<&str> = Vec::new();
        for r in &rows {
            if !ids.contains(&r.target.as_str()) {
                ids.push(&r.target);
            }
        }
        for id in ids {
            let of: Vec<&compare::Row> = rows.iter().filter(|r| r.target == id).collect();
            let mut bars: Vec<CompareBar> = of
                .iter()
                .filter_map(|r| {
                    Some(CompareBar {
                        label: r.name.clone(),
                        a: r.p_a?,
                        b: r.p_b?,
                        is_group: r.is_group,
                    })
                })
                .collect();
            // The units that changed most, when there are too many to read.
            if bars.len() > charts::OVERVIEW_BARS {
                bars.sort_by(|x, y| (y.b - y.a).abs().total_cmp(&(x.b - x.a).abs()));
                bars.truncate(charts::OVERVIEW_BARS);
            }
            let first = of[0];
            let value = if first.metric == "nursing_share" {
                format!("{:.0}%", 100.0 * first.threshold)
            } else {
                format!("{}", first.threshold)
            };
            charts::compare_chart(
                &charts_dir.join(format!("compare_{}.png", charts::file_stem(id))),
                &text.overview_title(id, &text.metric_name(&first.metric, a.elderly_age), &first.op, &value, first.year),
                note,
                &format!("{}: {}", text.run_a, folder_name(&args.a)),
                &format!("{}: {}", text.run_b, folder_name(&args.b)),
                &bars,
                text,
            )?;
        }
        let manifest = CompareManifest {
            program: "bedsim",
            version: env!("CARGO_PKG_VERSION"),
            kind: "compare",
            a: args.a.display().to_string(),
            b: args.b.display().to_string(),
            scenario_a: a.scenario.clone(),
            scenario_b: b.scenario.clone(),
            seed_a: a.run.seed,
            seed_b: b.run.seed,
            draws_a: a.draws,
            draws_b: b.draws,
            matched: if common { "common" } else { "all" },
            rows: rows.len(),
            note: note.to_string(),
        };
        report::write_json(&staging.dir.join("manifest.json"), &manifest)?;
        staging.commit()
    })();
    written.map_err(|e| CmdError::failed(format!("could not write the comparison: {e}")))?;
    if !args.quiet {
        let mut s = String::new();
        let _ = writeln!(s, "{} — A: {}  B: {}", text.compare_title, args.a.display(), args.b.display());
        let _ = writeln!(s, "{note}");
        let _ = writeln!(
            s,
            "{} {} {} {} {} {} {}",
            report::truncate(text.target, 24),
            report::truncate(text.unit, 22),
            report::pad_left(&format!("{} {}", text.p_met, text.run_a), 12),
            report::pad_left(&format!("{} {}", text.p_met, text.run_b), 12),
            report::pad_left("B-A", 8),
            report::pad_left(&format!("{} {}", text.needed, text.run_a), 12),
            report::pad_left(&format!("{} {}", text.needed, text.run_b), 12)
        );
        for r in &rows {
            let p = |v: Option<f64>| v.map_or_else(|| "-".into(), |x| format!("{:.1}%", 100.0 * x));
            let n = |v: Option<f64>| v.map_or_else(|| "-".into(), |x| format!("{x:.0}"));
            let _ = writeln!(
                s,
                "{} {} {:>12} {:>12} {:>8} {:>12} {:>12}",
                report::truncate(&r.target, 24),
                report::truncate(&r.name, 22),
                p(r.p_a),
                p(r.p_b),
                r.p_diff().map_or_else(|| "-".into(), |d| format!("{:+.1}", 100.0 * d)),
                n(r.needed_a),
                n(r.needed_b)
            );
        }
        if std::io::stdout().lock().write_all(s.as_bytes()).is_err() {
            return Ok(());
        }
        eprintln!(
            "comparison written to {}/ (compare.csv, compare.parquet, compare.xlsx, charts/)",
            out.display()
        );
    }
    Ok(())
}
