//! Plans delivered as plans are delivered: programmes of projects, the stock's date, and random
//! streams that keep every other value of a draw when one input changes.

use bedsim::capacity::{CapacityPath, Realised, realise, realise_item};
use bedsim::scenario::{self, Scenario};

use super::{small_scenario, write};

fn load(text: &str, overrides: &[String]) -> Scenario {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "s.toml", text);
    scenario::load(&p, overrides).unwrap()
}

/// The small scenario with one extra item in Kongtong: 1,000 beds in `projects` projects, each
/// cancelled with probability 0.2, no delay, delivered in full.
fn with_programme(projects: Option<usize>, shared: &str) -> Scenario {
    let projects = projects.map(|n| format!("projects = {n}\n")).unwrap_or_default();
    let text = small_scenario()
        + &format!(
            "\n[[plan]]\nid = \"programme\"\nkind = \"new\"\nregion = \"620802\"\nyear = 2023\nbeds = 1000\n{projects}shared = {shared}\ncancel_probability = 0.2\ndelay = 0\ndelivered_share = 1\n"
        );
    load(&text, &["draws=2000".into()])
}

fn programme_beds(s: &Scenario) -> Vec<f64> {
    let item = s.plan.iter().position(|p| p.id == "programme").unwrap();
    let mut out: Vec<Realised> = Vec::new();
    (0..s.draws as u64)
        .map(|d| {
            realise_item(s, item, d, &mut out);
            out.iter().map(|r| r.beds).sum()
        })
        .collect()
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt())
}

#[test]
fn a_programme_of_one_project_is_the_item() {
    let (a, b) = (with_programme(None, "0.5"), with_programme(Some(1), "0.5"));
    assert_eq!(programme_beds(&a), programme_beds(&b));
    // and it is all or nothing: 1,000 beds or none, none in about 20% of draws
    let beds = programme_beds(&a);
    assert!(beds.iter().all(|&x| x == 0.0 || x == 1000.0));
    let cancelled = beds.iter().filter(|&&x| x == 0.0).count() as f64 / beds.len() as f64;
    assert!((cancelled - 0.2).abs() < 0.03, "{cancelled}");
}

/// 100 independent projects of 10 beds, each cancelled with probability 0.2: the beds delivered
/// are 10 x binomial(100, 0.8), mean 800 and standard deviation 10 sqrt(16) = 40.
#[test]
fn independent_projects_have_the_binomial_spread() {
    let beds = programme_beds(&with_programme(Some(100), "0"));
    let (m, sd) = mean_sd(&beds);
    // the mean to within 4 standard errors (40 / sqrt(2000) = 0.9), the sd within 10%
    assert!((m - 800.0).abs() < 3.6, "mean {m}");
    assert!((sd - 40.0).abs() < 4.0, "sd {sd}");
}

/// With every project sharing the programme's fate the programme is all or nothing again.
#[test]
fn projects_that_share_their_fate_are_all_or_nothing() {
    let beds = programme_beds(&with_programme(Some(100), "1"));
    assert!(beds.iter().all(|&x| x.abs() < 1e-9 || (x - 1000.0).abs() < 1e-9));
    let (_, sd) = mean_sd(&beds);
    assert!(sd > 350.0, "sd {sd}: about 1000 sqrt(0.2 * 0.8) = 400");
    // halfway, the spread lies between
    let (_, half) = mean_sd(&programme_beds(&with_programme(Some(100), "0.5")));
    assert!(half > 60.0 && half < 350.0, "sd {half}");
}

/// A programme's projects lie whole in its regions, in proportion to their shares.
#[test]
fn a_programmes_projects_are_spread_over_its_regions() {
    let text = small_scenario()
        + "\n[[plan]]\nid = \"centres\"\nkind = \"new\"\ngroup = \"city\"\nsplit = \"equal\"\nyear = 2023\nbeds = 700\nprojects = 7\n";
    let s = load(&text, &[]);
    let item = s.plan.iter().position(|p| p.id == "centres").unwrap();
    let links: Vec<_> = s
        .regions
        .iter()
        .map(|r| r.plan_items.iter().find(|l| l.item == item).unwrap().clone())
        .collect();
    // 7 projects over two regions with equal shares: 4 (the larger remainder goes first) and 3
    assert_eq!(links[0].projects, 0..4);
    assert_eq!(links[1].projects, 4..7);
    assert!(links.iter().all(|l| l.share == 1.0));
}

/// Sweeping one distribution's parameter leaves every other sampled value of every draw as it
/// was (common random numbers), even when it is a beta, whose sampler uses a variable number
/// of random numbers.
#[test]
fn changing_one_distribution_leaves_the_other_draws_unchanged() {
    let text = small_scenario()
        + "\n[[plan]]\nid = \"programme\"\nkind = \"new\"\nregion = \"620802\"\nyear = 2023\nbudget_yuan = 5e7\nprojects = 5\ndelivered_share = { dist = \"beta\", alpha = 18, beta = 2 }\n";
    let a = load(&text, &["draws=300".into()]);
    let b = load(
        &text,
        &[
            "draws=300".into(),
            "plan.programme.delivered_share={ dist = \"beta\", alpha = 3, beta = 2 }".into(),
            "care.uptake_partial={ dist = \"beta\", alpha = 2, beta = 30 }".into(),
        ],
    );
    let item = a.plan.iter().position(|p| p.id == "programme").unwrap();
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    let mut changed = 0;
    for d in 0..300 {
        realise_item(&a, item, d, &mut ra);
        realise_item(&b, item, d, &mut rb);
        for (x, y) in ra.iter().zip(&rb) {
            assert_eq!(
                (x.cancelled, x.delay_years, x.nursing_share),
                (y.cancelled, y.delay_years, y.nursing_share),
                "draw {d}"
            );
            changed += usize::from(x.beds != y.beds);
        }
        let (ca, cb) = (
            bedsim::care::draw_parameters(&a.care, a.seed, d),
            bedsim::care::draw_parameters(&b.care, b.seed, d),
        );
        assert_eq!(
            (ca.level, ca.trend, ca.uptake.independent, ca.uptake.full),
            (cb.level, cb.trend, cb.uptake.independent, cb.uptake.full)
        );
        assert_ne!(ca.uptake.partial, cb.uptake.partial);
        // the other item and the stock are untouched
        let (mut pa, mut pb) = (CapacityPath::new(a.n_years()), CapacityPath::new(b.n_years()));
        realise(&a, 1, d, &mut pa);
        realise(&b, 1, d, &mut pb);
        assert_eq!(pa.institutional, pb.institutional);
    }
    assert!(changed > 0, "the delivered share did change");
}

/// An entry added for other regions leaves the draws of the existing entries as they were
/// (entries are keyed by what they cover, not by their position).
#[test]
fn adding_a_stock_entry_leaves_the_others_draws_unchanged() {
    let base = small_scenario();
    let extra = base.replacen(
        "[[capacity.stock]]\n",
        "[[capacity.stock]]\nregion = \"620821\"\ninstitutional = { dist = \"uniform\", low = 10, high = 50 }\n\n[[capacity.stock]]\n",
        1,
    );
    let (a, b) = (load(&base, &["draws=50".into()]), load(&extra, &["draws=50".into()]));
    for d in 0..50 {
        let (mut pa, mut pb) = (CapacityPath::new(a.n_years()), CapacityPath::new(b.n_years()));
        realise(&a, 0, d, &mut pa);
        realise(&b, 0, d, &mut pb);
        assert_eq!(pa.community, pb.community, "draw {d}");
    }
}

/// The stock stands at its date: of the stock year's deliveries, spread evenly over the year,
/// only the part after the date is added; caregivers likewise.
#[test]
fn the_stock_date_decides_how_much_of_its_years_deliveries_is_added() {
    let item = "\n[[plan]]\nid = \"home\"\nkind = \"new\"\nregion = \"620802\"\nyear = 2022\nbeds = 1000\ncancel_probability = 0\ndelay = 0\ndelivered_share = 1\nnursing_share = 1\n";
    let stock_at = |line: &str| {
        let text = small_scenario().replacen("stock_year = 2020", line, 1) + item;
        let s = load(&text, &["draws=3".into()]);
        let mut p = CapacityPath::new(s.n_years());
        realise(&s, 0, 0, &mut p);
        let yi = |y: i32| (y - s.base_year) as usize;
        (p.institutional[yi(2021)], p.institutional[yi(2022)], p.institutional[yi(2023)])
    };
    let (before, mid, after) = stock_at("stock_date = \"2022-06-30\"");
    // 184 of 365 days of 2022 come after 30 June
    assert!((mid - before - 1000.0 * 184.0 / 365.0).abs() < 1e-6, "{before} {mid}");
    assert_eq!(mid, after);
    let (before, end, after) = stock_at("stock_year = 2022");
    assert_eq!(
        (before, end, after),
        (before, before, before),
        "a year-end stock already holds its year's deliveries"
    );
    let (_, end, _) = stock_at("stock_year = 2021");
    assert!(end - before >= 1000.0 - 1e-6);
}
