//! Engine benchmarks (criterion), seeded and in units a user understands.
//!
//! `cargo bench --bench engine` runs them all. Throughput is reported in elements per second,
//! where an element is one region-draw-year (one region projected one year in one draw,
//! including care demand, capacity and the summary of the run).

use std::hint::black_box;
use std::path::Path;

use bedsim::demography::N_AGES;
use bedsim::demography::projection::{FertilityRates, step};
use bedsim::montecarlo::{self, RunOptions};
use bedsim::scenario;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn hainan(draws: usize) -> scenario::Scenario {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/hainan.toml");
    scenario::load(&p, &[format!("draws={draws}")]).expect("shipped scenario loads")
}

/// The one-year cohort-component step of one region.
fn one_year_step(c: &mut Criterion) {
    let s = hainan(1);
    let mut q = [[0.0; N_AGES]; 2];
    for (qs, logm) in q.iter_mut().zip(&s.mortality.base_log_m) {
        for (qx, lm) in qs.iter_mut().zip(logm) {
            *qx = -(-lm.exp()).exp_m1();
        }
    }
    let mig = [[0.001; N_AGES]; 2];
    let mut g = c.benchmark_group("step");
    g.throughput(Throughput::Elements(1));
    g.bench_function("one_region_one_year", |b| {
        let mut pop = s.regions[0].base;
        b.iter(|| {
            let f = step(
                &mut pop,
                black_box(&q),
                FertilityRates {
                    tfr: 1.3,
                    shape: &s.fertility.shape,
                    male_share: s.fertility.male_share,
                },
                &mig,
            );
            pop = s.regions[0].base;
            black_box(f)
        })
    });
    g.finish();
}

/// The default scenario (Hainan, 25 county-level units, 2020-2035) with 10,000 draws, on 1 and
/// on 2 threads: the figure quoted in the engine issue.
fn default_scenario(c: &mut Criterion) {
    let s = hainan(10_000);
    let elements = (s.regions.len() * s.draws * (s.n_years() - 1)) as u64;
    let mut g = c.benchmark_group("hainan_10000_draws");
    g.sample_size(10);
    g.throughput(Throughput::Elements(elements));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        g.bench_function(format!("threads_{threads}"), |b| {
            b.iter(|| pool.install(|| montecarlo::run(black_box(&s), &RunOptions::default()).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, one_year_step, default_scenario);
criterion_main!(benches);
