//! Engine benchmarks (criterion), seeded and in units a user understands.
//!
//! `cargo bench --bench engine` runs them all; `cargo bench --bench engine -- GROUP` one group.
//! Throughput is in elements per second, where an element is one region-draw-year (one region
//! projected one year in one draw), or one draw of one series for the summary group.
//!
//! | group | what |
//! |---|---|
//! | `step` | one region in a block of 16 draws: its inputs and its projection through every year (`project`, the kernel as the run calls it), the mortality and care tables of a block, and the plain `f64` reference's one-year step (one draw) |
//! | `region_10000_draws` | one county (Haikou's Xiuying district) of the national scenario, 10,000 draws x 16 years, summaries included |
//! | `counties_100` | the first 100 counties of the national scenario (Beijing, Tianjin, Hebei), 1,000 draws, on 1 and 2 threads |
//! | `summary` | the summary stage alone: exact quantiles of one series of 10,000 draws, and one unit-year (21 metrics) |
//!
//! The full national run is timed by a command, not here (it takes a minute): see
//! `docs/performance.md`.

use std::hint::black_box;
use std::path::Path;

use bedsim::capacity::EntryCache;
use bedsim::demography::N_AGES;
use bedsim::demography::projection::{FertilityRates, step};
use bedsim::montecarlo::kernel::{self, BlockOut, CareBlock, Constants, LANES, MortalityBlock, PassRows, RegionBlock};
use bedsim::montecarlo::select::Selector;
use bedsim::montecarlo::{self, N_STORED, RunOptions, summary};
use bedsim::scenario::{self, Scenario, Unit};
use bedsim::streams::{Purpose, stream};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn counties(draws: usize) -> Scenario {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/china-counties.toml");
    scenario::load(&p, &scenario::Override::sets(&[format!("draws={draws}")]).expect("valid override")).expect("shipped scenario loads")
}

/// The national scenario restricted to its first `n` regions.
fn slice(s: &Scenario, n: usize) -> Scenario {
    let ids: Vec<String> = s.regions().iter().take(n).map(|r| r.id.clone()).collect();
    s.restrict(&ids).expect("ids of the scenario")
}

/// One region in a block of 16 draws (its inputs, its projection, the block's tables), and the
/// f64 reference's one-year step on one draw.
///
/// There is no benchmark of the kernel's one-year step on its own: compiled as a function of its
/// own, LLVM vectorised it across ages with gathers and scatters (5.2 us a step, against about
/// 1.1 us a year inside `project`), so it measured code the run never runs.
fn one_year_step(c: &mut Criterion) {
    let s = slice(&counties(16), 1);
    let consts = Constants::new(&s);
    let n_steps = s.n_years() - 1;
    let mut mort = MortalityBlock::new(&consts, n_steps);
    let kappa = vec![[[0.0; LANES]; 2]; n_steps];
    mort.fill(&s, &consts, &kappa);
    let mut inputs = RegionBlock::new(&consts, s.n_years());
    inputs.fill(&s, &consts, 0, 0, LANES, &[1.0; LANES], &mut EntryCache::new(&s, LANES));
    let mut care = CareBlock::new(s.n_years());
    for l in 0..LANES {
        care.push_lane(s.care(), s.seed(), l as u64);
    }
    care.finish(&s, &consts);
    let base: [kernel::AgeLanes; 2] = std::array::from_fn(|sex| std::array::from_fn(|x| [s.regions()[0].base[sex][x] as f32; LANES]));
    let mut g = c.benchmark_group("step");
    g.throughput(Throughput::Elements((LANES * n_steps) as u64));
    g.bench_function("mortality_tables_16_draws_15_years", |b| {
        b.iter(|| mort.fill(&s, &consts, black_box(&kappa)))
    });
    let mut care = CareBlock::new(s.n_years());
    g.bench_function("care_tables_16_draws", |b| {
        b.iter(|| {
            care.clear();
            for l in 0..LANES {
                care.push_lane(s.care(), s.seed(), l as u64);
            }
            care.finish(&s, &consts);
        })
    });
    let mut entries = EntryCache::new(&s, LANES);
    g.bench_function("region_inputs_16_draws", |b| {
        let mut d0 = 0;
        b.iter(|| {
            d0 += LANES;
            inputs.fill(&s, &consts, 0, black_box(d0), LANES, &[1.0; LANES], &mut entries);
        })
    });
    let rows = PassRows {
        years: 0..s.n_years(),
        pyramid: true,
        independent: false,
    };
    let mut buf = vec![0.0f32; rows.len() * LANES];
    let (mut pop, mut nxt) = (Box::new(kernel::Lines(base)), Box::new(kernel::Lines(base)));
    g.bench_function("project_one_region_16_draws_15_years", |b| {
        b.iter(|| {
            BlockOut::over_slice(&mut buf, rows.len(), LANES, |out| {
                kernel::project(&s, &consts, 0, &mut inputs, &mort, &care, &rows, &mut pop.0, &mut nxt.0, out)
            });
            black_box(&buf);
        })
    });
    let surv = bedsim::montecarlo::reference::survival_schedule(&s, [0.0, 0.0], 1.0);
    let mig = [[0.001; N_AGES]; 2];
    g.throughput(Throughput::Elements(1));
    g.bench_function("reference_f64_1_draw", |b| {
        let mut pop = s.regions()[0].base;
        b.iter(|| {
            let f = step(
                &mut pop,
                black_box(&surv),
                FertilityRates {
                    tfr: 1.1,
                    shape: &s.fertility().shape,
                    male_share: s.fertility().male_share,
                },
                &mig,
                &[[0.0; N_AGES]; 2],
            );
            pop = s.regions()[0].base;
            black_box(f)
        })
    });
    g.finish();
}

/// One county, 10,000 draws x 16 years, with its summaries.
fn one_region(c: &mut Criterion) {
    let s = slice(&counties(10_000), 1);
    let mut g = c.benchmark_group("region_10000_draws");
    g.sample_size(10);
    g.throughput(Throughput::Elements((s.draws() * s.n_years()) as u64));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    g.bench_function("threads_1", |b| {
        b.iter(|| pool.install(|| montecarlo::run(black_box(&s), &RunOptions::default()).unwrap()))
    });
    g.finish();
}

/// A 100-county slice of the national scenario with 1,000 draws, on 1 and 2 threads.
fn hundred_counties(c: &mut Criterion) {
    let s = slice(&counties(1000), 100);
    let mut g = c.benchmark_group("counties_100");
    g.sample_size(10);
    g.throughput(Throughput::Elements((s.regions().len() * s.draws() * s.n_years()) as u64));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        g.bench_function(format!("threads_{threads}"), |b| {
            b.iter(|| pool.install(|| montecarlo::run(black_box(&s), &RunOptions::default()).unwrap()))
        });
    }
    g.finish();
}

/// The summary stage on its own.
fn summaries(c: &mut Criterion) {
    let s = slice(&counties(10_000), 1);
    let draws = 10_000;
    // Counts of a county-like unit: smooth random series around realistic levels.
    let mut rng = stream(1, Purpose::Sweep, 0, 0);
    let counts: Vec<Vec<f32>> = (0..N_STORED)
        .map(|m| {
            let level = 1000.0 * (m + 1) as f64;
            (0..draws)
                .map(|_| {
                    let u: f64 = rand::RngExt::random(&mut rng);
                    (level * (1.0 + 0.1 * (u - 0.5))) as f32
                })
                .collect()
        })
        .collect();
    let mut g = c.benchmark_group("summary");
    g.throughput(Throughput::Elements(draws as u64));
    let mut sel = Selector::default();
    g.bench_function("quantiles_one_series_10000_draws", |b| b.iter(|| sel.stats(black_box(&counts[1]))));
    g.throughput(Throughput::Elements((draws * montecarlo::N_METRICS) as u64));
    let refs: [&[f32]; N_STORED] = std::array::from_fn(|m| counts[m].as_slice());
    let targets: Vec<usize> = (0..s.targets().len()).collect();
    let mut scratch = summary::YearScratch::default();
    g.bench_function("unit_year_21_metrics_10000_draws", |b| {
        b.iter(|| summary::unit_year(&s, Unit::Region(0), black_box(&refs), &targets, 0.9, false, &mut scratch))
    });
    g.finish();
}

criterion_group!(benches, one_year_step, summaries, one_region, hundred_counties);
criterion_main!(benches);
