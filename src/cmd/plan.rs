//! `bedsim plan`: what must be added, and started when, to meet each target.

use super::*;

/// `bedsim plan`: per region and target, what must be added to meet it with the chosen
/// probability, and the latest year it must be started given the scenario's delays.
pub fn plan(args: PlanArgs) -> i32 {
    let overrides = match super::overrides(&args.set, args.draws, None) {
        Ok(o) => o,
        Err(e) => {
            report_invalid(&e, args.format);
            return EXIT_INVALID;
        }
    };
    if !(args.confidence > 0.0 && args.confidence < 1.0) {
        report_failure(
            &format!("--confidence must be strictly between 0 and 1, got {}", args.confidence),
            args.format,
        );
        return EXIT_INVALID;
    }
    let s = match scenario::load(&args.scenario, &overrides) {
        Ok(s) => s,
        Err(e) => {
            report_invalid(&e, args.format);
            return EXIT_INVALID;
        }
    };
    let options = RunOptions {
        confidence: args.confidence,
        ..RunOptions::default()
    };
    let s = match super::condition_on_observations(s, &options, false, args.format) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let r = match montecarlo::run(&s, &options) {
        Ok(r) => r,
        Err(e) => {
            report_failure(&e.to_string(), args.format);
            return EXIT_FAILED;
        }
    };
    let rows = bedsim::report::plan::rows(&s, &r, args.confidence);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("{}-plan", s.name)));
    if let Err(code) = super::destination(&out, args.force, args.format) {
        return code;
    }
    let written = (|| -> Result<(), report::ReportError> {
        let staging = Staging::new(&out)?;
        bedsim::report::plan::write(&staging.dir, &rows)?;
        let manifest = serde_json::json!({
            "program": "bedsim",
            "kind": "plan",
            "version": env!("CARGO_PKG_VERSION"),
            "scenario": s.name,
            "scenario_path": args.scenario.display().to_string(),
            "overrides": super::override_texts(&overrides),
            "draws": s.draws,
            "seed": s.seed,
            "confidence": args.confidence,
        });
        report::write_json(&staging.dir.join("manifest.json"), &manifest)?;
        staging.commit()
    })();
    if let Err(e) = written {
        report_failure(&format!("could not write {}: {e}", out.display()), args.format);
        return EXIT_FAILED;
    }
    if args.format == Format::Json {
        bedsim::report::json::print(&serde_json::json!({
            "ok": true,
            "scenario": s.name,
            "out": out.display().to_string(),
            "draws": s.draws,
            "seed": s.seed,
            "confidence": args.confidence,
            "effective_draws": s.conditioned.as_ref().map(|c| c.effective_draws),
            "rows": bedsim::report::json::plan(&rows),
        }));
    } else if !args.quiet {
        let _ = std::io::stdout()
            .lock()
            .write_all(bedsim::report::plan::text(&rows, args.confidence).as_bytes());
    }
    if !args.quiet {
        eprintln!("plan written to {}/plan.csv", out.display());
    }
    0
}
