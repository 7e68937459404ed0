//! `bedsim check`, `bedsim scenarios` and `bedsim chart`: what needs no simulation.

use super::*;

pub(super) fn check(args: CheckArgs) -> Outcome {
    match overrides(&args.set, None, None).and_then(|o| scenario::load(&args.scenario, &o)) {
        Ok(s) => {
            let f = &s.mortality().fitted;
            eprintln!(
                "{}: ok — {} regions, {} groups, {} plan items, {} targets, {} draws, years {}..={}",
                args.scenario.display(),
                s.regions().len(),
                s.groups().len(),
                s.plan().len(),
                s.targets().len(),
                s.draws(),
                s.base_year(),
                s.horizon()
            );
            eprintln!(
                "mortality: Lee-Carter fitted on {}-{}: drift per year male {:.3} (se {:.3}), female {:.3} (se {:.3}); base-period e0 male {:.1}, female {:.1}",
                f.periods.0, f.periods.1, f.drift[0], f.drift_se[0], f.drift[1], f.drift_se[1], f.base_e0[0], f.base_e0[1]
            );
            eprintln!(
                "mortality uncertainty used: random-walk sigma male {:.4}, female {:.4} (fitted {:.4}, {:.4}){}",
                s.mortality().sigma[0],
                s.mortality().sigma[1],
                f.sigma[0],
                f.sigma[1],
                match f.calibrated {
                    Some(c) => format!(
                        "; calibrated to the e0 intervals: sigma {:.4} / {:.4}, drift_se {:.4} / {:.4}",
                        c[0].0, c[1].0, c[0].1, c[1].1
                    ),
                    None => String::new(),
                }
            );
            let mut warnings = Vec::new();
            for name in s.regions().iter().map(|r| &r.name).chain(s.groups().iter().map(|g| &g.name)) {
                let missing = report::charts::missing_glyphs(name);
                if !missing.is_empty() {
                    let w = format!("the chart font has no glyph for {missing:?} in the name '{name}'; charts will show boxes there");
                    eprintln!("warning: {w}");
                    warnings.push(w);
                }
            }
            if args.format == Format::Json {
                report::json::print(&serde_json::json!({
                    "ok": true,
                    "scenario": args.scenario.display().to_string(),
                    "name": s.name(),
                    "regions": s.regions().len(),
                    "groups": s.groups().len(),
                    "plan_items": s.plan().len(),
                    "targets": s.targets().len(),
                    "draws": s.draws(),
                    "base_year": s.base_year(),
                    "horizon": s.horizon(),
                    "warnings": warnings,
                }));
            }
            Ok(())
        }
        Err(e) => Err(CmdError::Invalid(e)),
    }
}

pub(super) fn list_scenarios() -> Outcome {
    let dir = scenarios_dir();
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            return Err(CmdError::failed(format!("cannot list {}: {e}", dir.display())));
        }
    };
    entries.sort();
    let mut out = std::io::stdout().lock();
    for p in entries {
        let desc = std::fs::read_to_string(&p)
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .and_then(|t| t.get("description").and_then(|d| d.as_str()).map(str::to_string))
            .unwrap_or_default();
        let default = if p.file_name().is_some_and(|n| n == DEFAULT_SCENARIO) {
            " (default)"
        } else {
            ""
        };
        if writeln!(out, "{}{default}\t{desc}", p.display()).is_err() {
            return Ok(()); // closed pipe
        }
    }
    Ok(())
}

pub(super) fn chart(args: ChartArgs) -> Outcome {
    if !report::is_results_dir(&args.results) {
        return Err(CmdError::usage(format!(
            "{} is not a bedsim results folder (no bedsim manifest.json)",
            args.results.display()
        )));
    }
    let clock = Instant::now();
    match report::redraw_charts(&args.results, args.lang) {
        Ok(n) => {
            eprintln!(
                "{n} charts drawn in {}/charts/ in {:.2} s",
                args.results.display(),
                clock.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(e) => Err(CmdError::failed(e)),
    }
}

pub(super) fn report(args: ReportArgs) -> Outcome {
    if !report::is_results_dir(&args.results) {
        return Err(CmdError::usage(format!(
            "{} is not a bedsim results folder (no bedsim manifest.json)",
            args.results.display()
        )));
    }
    match report::rewrite_documents(&args.results, args.lang) {
        Ok(t) => {
            eprintln!(
                "{0}/report.xlsx written in {1:.2} s and {0}/report.html in {2:.2} s",
                args.results.display(),
                t.workbook,
                t.html
            );
            Ok(())
        }
        Err(e) => Err(CmdError::failed(e)),
    }
}
