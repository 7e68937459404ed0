//! `bedsim plan`: what must be added, and started when, to meet each target.

use super::*;

/// `bedsim plan`: per region and target, what must be added to meet it with the chosen
/// probability, and the latest year it must be started given the scenario's delays.
pub fn plan(args: PlanArgs) -> Outcome {
    let overrides = super::run_overrides(&args.flags, None)?;
    let s = scenario::load(&args.scenario, &overrides)?;
    let out = super::results_folder(args.flags.out.as_deref(), args.flags.force, &format!("{}-plan", s.name()))?;
    let options = RunOptions {
        confidence: args.flags.confidence,
        ..RunOptions::default()
    };
    let s = super::condition_on_observations(s, &options, false)?;
    let r = montecarlo::run(&s, &options).map_err(CmdError::failed)?;
    let rows = bedsim::report::plan::rows(&s, &r, args.flags.confidence);
    let written = (|| -> Result<(), report::ReportError> {
        let staging = Staging::new(&out)?;
        bedsim::report::plan::write(&staging.dir, &rows)?;
        let manifest = PlanManifest {
            program: "bedsim",
            kind: "plan",
            version: env!("CARGO_PKG_VERSION"),
            scenario: s.name(),
            scenario_path: args.scenario.display().to_string(),
            overrides: super::override_texts(&overrides),
            draws: s.draws(),
            seed: s.seed(),
            confidence: args.flags.confidence,
        };
        report::write_json(&staging.dir.join("manifest.json"), &manifest)?;
        staging.commit()
    })();
    if let Err(e) = written {
        return Err(CmdError::failed(format!("could not write {}: {e}", out.display())));
    }
    if args.flags.format == Format::Json {
        bedsim::report::json::print(&serde_json::json!({
            "ok": true,
            "scenario": s.name(),
            "out": out.display().to_string(),
            "draws": s.draws(),
            "seed": s.seed(),
            "confidence": args.flags.confidence,
            "effective_draws": s.conditioned().as_ref().map(|c| c.effective_draws),
            "rows": bedsim::report::json::plan(&rows),
        }));
    } else if !args.flags.quiet {
        let _ = std::io::stdout()
            .lock()
            .write_all(bedsim::report::plan::text(&rows, args.flags.confidence).as_bytes());
    }
    if !args.flags.quiet {
        eprintln!("plan written to {}/plan.csv", out.display());
    }
    Ok(())
}

/// A plan's `manifest.json`.
#[derive(serde::Serialize)]
struct PlanManifest<'a> {
    program: &'static str,
    kind: &'static str,
    version: &'static str,
    scenario: &'a str,
    scenario_path: String,
    overrides: Vec<String>,
    draws: usize,
    seed: u64,
    confidence: f64,
}
