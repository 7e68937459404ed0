//! `bedsim merge`: the shards of a sweep or a run, combined into exactly the single-machine
//! result. Shard manifests are read back strictly.

use super::*;

/// What a shard writes in its `manifest.json`, and what `merge` reads back strictly: a field
/// missing, unknown or of the wrong type makes the folder refused, never a silent default.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind")]
pub(super) enum ShardManifest {
    #[serde(rename = "sweep-shard")]
    Sweep(SweepShard),
    #[serde(rename = "run-shard")]
    Run(RunShard),
}

impl ShardManifest {
    fn spec(&self) -> (&str, usize, usize) {
        match self {
            ShardManifest::Sweep(m) => (&m.spec, m.shard, m.shards),
            ShardManifest::Run(m) => (&m.spec, m.shard, m.shards),
        }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SweepShard {
    pub(super) program: String,
    pub(super) version: String,
    pub(super) spec: String,
    pub(super) shard: usize,
    pub(super) shards: usize,
    pub(super) points_total: usize,
    pub(super) arguments: SweepArguments,
}

/// The sweep's command line, enough to prepare the same sweep again at the merge.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SweepArguments {
    pub(super) scenario: String,
    pub(super) vary: Vec<String>,
    pub(super) method: Method,
    pub(super) steps: usize,
    pub(super) samples: usize,
    pub(super) draws: Option<u64>,
    pub(super) seed: Option<u64>,
    pub(super) set: Vec<String>,
    pub(super) confidence: f64,
    pub(super) lang: Option<bedsim::lang::Lang>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RunShard {
    pub(super) program: String,
    pub(super) version: String,
    pub(super) spec: String,
    pub(super) shard: usize,
    pub(super) shards: usize,
    pub(super) scenario_path: String,
    /// `PATH=VALUE` texts, as `--set` reads them.
    pub(super) overrides: Vec<String>,
    pub(super) confidence: f64,
    pub(super) regions: Vec<String>,
}

/// Merges the shards of a run (`bedsim run --shard`).
fn merge_run(shards: &[(&RunShard, &Path)], args: &MergeArgs) -> Outcome {
    let first = shards[0].0;
    let n = first.shards;
    let path = PathBuf::from(&first.scenario_path);
    let confidence = first.confidence;
    let overrides = super::overrides(&first.overrides, None, None)?;
    let s = scenario::load(&path, &overrides)?;
    if first.spec != run_spec(&s, &first.overrides, confidence) {
        return Err(CmdError::usage(format!(
            "the scenario or its data changed since the shards were run ({})",
            path.display()
        )));
    }
    // A shard at a time: the merge holds the sums of the groups split across shards and one
    // shard's part, not every shard's.
    let mut merger = montecarlo::PartMerger::new(&s);
    for (_, dir) in shards {
        merger.add(report::shard::read_run_part(dir, montecarlo::full_rows(s.n_years()) * s.draws()).map_err(CmdError::usage)?);
    }
    let covered = merger.regions();
    if covered != s.regions().len() {
        return Err(CmdError::usage(format!(
            "the shards hold {covered} regions, the scenario has {}",
            s.regions().len()
        )));
    }
    let started = std::time::SystemTime::now();
    let clock = Instant::now();
    let options = RunOptions {
        confidence,
        ..RunOptions::default()
    };
    let result = merger.finish(&options);
    let out = super::results_folder(args.out.as_deref(), args.force, s.name())?;
    let write_options = super::run::WriteOptions {
        confidence,
        no_charts: false,
        only: Vec::new(),
    };
    match super::run::write_results(
        &s,
        &result,
        &write_options,
        &path,
        &first.overrides,
        1,
        started,
        &clock,
        &out,
        Default::default(),
    ) {
        Ok(_) => {
            if !args.quiet {
                eprintln!("{n} run shards merged into {}/", out.display());
            }
            Ok(())
        }
        Err(e) => Err(CmdError::failed(format!("could not write results: {e}"))),
    }
}

/// `bedsim merge`: combines the shards of one sweep or run into exactly the single-machine result.
pub fn merge(args: MergeArgs) -> Outcome {
    let mut shards: Vec<(ShardManifest, PathBuf)> = Vec::new();
    for dir in &args.shards {
        let file = dir.join("manifest.json");
        let text = match bedsim::scenario::data::read_text(&file) {
            Ok(t) => t,
            Err(e) => {
                return Err(CmdError::usage(format!(
                    "{} is not a bedsim shard: {}: {e}",
                    dir.display(),
                    file.display()
                )));
            }
        };
        match serde_json::from_str::<ShardManifest>(&text) {
            Ok(m) => shards.push((m, dir.clone())),
            Err(e) => {
                return Err(CmdError::usage(format!(
                    "{} is not a bedsim shard manifest of kind sweep-shard or run-shard: {e}",
                    file.display()
                )));
            }
        }
    }
    let Some((first, _)) = shards.first() else {
        return Err(CmdError::usage("give the shard folders to merge"));
    };
    let (spec, _, n) = first.spec();
    let mut seen = vec![false; n];
    for (m, dir) in &shards {
        let (their_spec, k, their_n) = m.spec();
        if their_spec != spec || their_n != n {
            return Err(CmdError::usage(format!(
                "{} belongs to another sweep or run (different scenario, inputs or shard count)",
                dir.display()
            )));
        }
        if k == 0 || k > n || seen[k - 1] {
            return Err(CmdError::usage(format!(
                "{}: shard {k} of {n} is missing or given twice",
                dir.display()
            )));
        }
        seen[k - 1] = true;
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(CmdError::usage(format!("shard {} of {n} is missing", missing + 1)));
    }
    let runs: Vec<(&RunShard, &Path)> = shards
        .iter()
        .filter_map(|(m, d)| {
            if let ShardManifest::Run(r) = m {
                Some((r, d.as_path()))
            } else {
                None
            }
        })
        .collect();
    let sweeps: Vec<(&SweepShard, &Path)> = shards
        .iter()
        .filter_map(|(m, d)| {
            if let ShardManifest::Sweep(w) = m {
                Some((w, d.as_path()))
            } else {
                None
            }
        })
        .collect();
    if !runs.is_empty() && !sweeps.is_empty() {
        return Err(CmdError::usage("the folders mix run and sweep shards"));
    }
    if !runs.is_empty() {
        return merge_run(&runs, &args);
    }
    let (first, total) = (sweeps[0].0, sweeps[0].0.points_total);
    let a = &first.arguments;
    let sweep_args = SweepArgs {
        scenario: PathBuf::from(&a.scenario),
        vary: a.vary.clone(),
        method: a.method,
        steps: a.steps,
        samples: a.samples,
        seed: a.seed,
        threads: None,
        memory: None,
        unstaged: false,
        vary_file: None,
        shard: None,
        flags: crate::cli::RunFlags {
            draws: a.draws,
            set: a.set.clone(),
            confidence: a.confidence,
            out: None,
            quiet: args.quiet,
            force: args.force,
            format: Format::Text,
            lang: a.lang,
        },
    };
    let prep = prepare(&sweep_args)?;
    if prep.spec != first.spec || prep.points.len() != total {
        return Err(CmdError::usage(format!(
            "the scenario or its data changed since the shards were run ({})",
            sweep_args.scenario.display()
        )));
    }
    // Shards may be given in any order: shard K owns the points i with i % N == K - 1.
    let mut owners: Vec<&Path> = vec![Path::new(""); n];
    for (m, dir) in &sweeps {
        owners[m.shard - 1] = dir;
    }
    // Every point's file is checked before anything is written; the tables then read them
    // back a batch at a time.
    let mut files = Vec::with_capacity(total);
    for i in 0..total {
        let owner = owners[i % n];
        let file = owner.join("points").join(point_file(i));
        if std::fs::read_to_string(&file).ok().and_then(|t| decode_point(&t)).is_none() {
            return Err(CmdError::usage(format!("{}: point {i} is missing or unreadable", owner.display())));
        }
        files.push(file);
    }
    let out = super::results_folder(
        args.out.as_deref(),
        args.force,
        &format!("{}-sweep-{}", prep.base.name(), prep.method_name),
    )?;
    finish(&prep, &sweep_args, &files, &out)?;
    if !args.quiet {
        eprintln!("{n} shards, {total} points merged into {}/", out.display());
    }
    Ok(())
}
