//! Charts: every chart renders from a small fixed table, decodes as a PNG of the stated size and
//! is not blank; Chinese names are covered by the bundled font; `run` and `chart` draw them.

use std::collections::HashMap;
use std::path::Path;

use bedsim::report::chartdata::{ChartData, PyramidCell, TargetInfo, UnitInfo, YearStats};
use bedsim::report::charts::{self, BAND50, BAND90, ProbabilityBar, TornadoBar};

use super::{bedsim, repo, small_scenario, write};

/// Decodes a PNG and returns (width, height, RGB pixels).
fn decode(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    let px = buf[..info.buffer_size()].chunks(step).map(|c| [c[0], c[1], c[2]]).collect();
    (info.width, info.height, px)
}

fn count(px: &[[u8; 3]], c: plotters::style::RGBColor) -> usize {
    px.iter().filter(|p| **p == [c.0, c.1, c.2]).count()
}

fn fixed_series(level: f64) -> Vec<YearStats> {
    (0..6)
        .map(|i| {
            let m = level + i as f64;
            YearStats {
                year: 2020 + i,
                mean: m,
                q: [m - 3.0, m - 2.0, m - 1.0, m, m + 1.0, m + 2.0, m + 3.0],
            }
        })
        .collect()
}

fn fixed_data() -> ChartData {
    let mut series = HashMap::new();
    for (unit, lvl) in [("r1", 20.0), ("g", 22.0)] {
        series.insert((unit.to_string(), "beds_per_1000_elderly".to_string()), fixed_series(lvl));
        series.insert(
            (unit.to_string(), "nursing_share".to_string()),
            fixed_series(lvl)
                .into_iter()
                .map(|mut s| {
                    s.q.iter_mut().for_each(|v| *v /= 50.0);
                    s
                })
                .collect(),
        );
        for m in [
            "elderly",
            "aged_80_plus",
            "demand_institutional_beds",
            "demand_nursing_beds",
            "beds_institutional",
            "beds_nursing",
        ] {
            series.insert((unit.to_string(), m.to_string()), fixed_series(lvl * 100.0));
        }
    }
    let mut pyramid = HashMap::new();
    let cells: Vec<PyramidCell> = [2020, 2025]
        .into_iter()
        .flat_map(|y| {
            (0..21).flat_map(move |g| {
                [false, true].map(|f| PyramidCell {
                    year: y,
                    female: f,
                    group: g,
                    p05: 90.0,
                    p50: 100.0 + g as f64,
                    p95: 110.0,
                })
            })
        })
        .collect();
    pyramid.insert("r1".to_string(), cells.clone());
    pyramid.insert("g".to_string(), cells);
    ChartData {
        scenario: "fixed".into(),
        lang: bedsim::lang::Lang::En,
        run: Default::default(),
        elderly_age: 60,
        base_year: 2020,
        horizon: 2025,
        stock_year: 2020,
        draws: 100,
        units: vec![
            UnitInfo {
                id: "r1".into(),
                name: "崆峒区".into(),
                is_group: false,
                parent: Some("g".into()),
            },
            UnitInfo {
                id: "g".into(),
                name: "平凉市".into(),
                is_group: true,
                parent: None,
            },
        ],
        series,
        targets: vec![
            TargetInfo {
                id: "beds".into(),
                unit: "r1".into(),
                year: 2025,
                metric: "beds_per_1000_elderly".into(),
                op: ">=".into(),
                threshold: 24.0,
                probability: Some(0.4),
                ..target_defaults()
            },
            TargetInfo {
                id: "beds".into(),
                unit: "g".into(),
                year: 2025,
                metric: "beds_per_1000_elderly".into(),
                op: ">=".into(),
                threshold: 24.0,
                probability: Some(0.7),
                ..target_defaults()
            },
        ],
        pyramid,
    }
}

/// The fields of a target result that the charts do not read.
fn target_defaults() -> TargetInfo {
    TargetInfo {
        id: String::new(),
        unit: String::new(),
        year: 0,
        metric: String::new(),
        op: String::new(),
        threshold: 0.0,
        probability: None,
        p05: None,
        p50: None,
        p95: None,
        needed: None,
        needed_unit: None,
        conversions: None,
    }
}

#[test]
fn every_chart_renders_a_non_blank_png_of_the_stated_size() {
    let dir = tempfile::tempdir().unwrap();
    let files = charts::draw_all(&fixed_data(), dir.path()).unwrap();
    // 2 units x (2 fans + supply/demand + pyramid) + 1 target overview
    assert_eq!(files.len(), 9, "{files:?}");
    for f in &files {
        let (w, h, px) = decode(f);
        assert!(w >= 1600 && h >= 900, "{}: {w}x{h}", f.display());
        let white = count(&px, plotters::style::RGBColor(255, 255, 255));
        assert!(white < px.len() * 99 / 100, "{} is nearly blank", f.display());
    }
    let (_, _, fan) = decode(&dir.path().join("beds_per_1000/r1.png"));
    assert!(count(&fan, BAND90) > 1000 && count(&fan, BAND50) > 1000, "fan chart bands missing");
    let (_, _, pyr) = decode(&dir.path().join("pyramid/g.png"));
    assert!(count(&pyr, plotters::style::RGBColor(0, 0, 0)) > 500);
    let p = dir.path().join("tornado.png");
    charts::tornado(
        &p,
        "tornado",
        "test",
        "P(met)",
        0.5,
        &[
            TornadoBar {
                label: "delay".into(),
                low: 0.3,
                high: 0.6,
            },
            TornadoBar {
                label: "cost".into(),
                low: 0.45,
                high: 0.52,
            },
        ],
        &bedsim::report::text::EN,
    )
    .unwrap();
    let (w, h, px) = decode(&p);
    assert!(w == 1600 && h >= 900);
    assert!(
        count(&px, charts::SKY) > 1000 && count(&px, charts::ORANGE) > 1000,
        "tornado bars missing"
    );
    let p = dir.path().join("overview.png");
    let bars: Vec<ProbabilityBar> = (0..30)
        .map(|i| ProbabilityBar {
            label: format!("县{i}"),
            probability: i as f64 / 30.0,
            is_group: i == 3,
        })
        .collect();
    charts::target_overview(&p, "overview", "30 regions", &bars, &bedsim::report::text::EN).unwrap();
    let (_, h, _) = decode(&p);
    assert!(h >= 260 + 34 * 30, "a 30-region overview must grow to keep labels apart");
}

/// Renders one line of text as a chart title and returns the title rows' pixels.
fn title_pixels(text: &str) -> Vec<[u8; 3]> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.png");
    charts::target_overview(&p, text, "", &[], &bedsim::report::text::EN).unwrap();
    let (_, _, px) = decode(&p);
    px[..1600 * 60].to_vec()
}

fn ink(px: &[[u8; 3]]) -> usize {
    px.iter().filter(|c| c[0] < 100 && c[1] < 100 && c[2] < 100).count()
}

#[test]
fn chinese_names_render_glyphs_and_every_shipped_name_is_covered() {
    // Characters the font has draw their glyphs; characters it lacks would draw the same
    // .notdef box each. So a Chinese name must draw ink, and differently from a string of as
    // many missing characters.
    let name = title_pixels("海南省秀英区");
    let missing = title_pixels("\u{E000}\u{E001}\u{E002}\u{E003}\u{E004}\u{E005}");
    assert!(ink(&name) > 400, "Chinese title drew no glyphs");
    assert_ne!(name, missing, "Chinese characters rendered as missing-glyph boxes");
    let one = title_pixels("\u{E000}");
    let two = title_pixels("\u{E001}");
    assert_eq!(one, two, "missing glyphs are expected to draw one and the same box");
    use ab_glyph::{Font, FontRef};
    let font = FontRef::try_from_slice(charts::FONT).unwrap();
    for entry in std::fs::read_dir(repo().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let s = bedsim::scenario::load(&path, &[]).unwrap();
        for name in s.regions().iter().map(|r| &r.name).chain(s.groups().iter().map(|g| &g.name)) {
            for c in name.chars().filter(|c| !c.is_whitespace()) {
                assert_ne!(font.glyph_id(c).0, 0, "{}: no glyph for {c:?} in {name}", path.display());
            }
        }
    }
}

#[test]
fn run_draws_charts_and_chart_redraws_them_from_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", &small_scenario());
    let o = bedsim(dir.path()).args(["run", "s.toml", "--out", "res"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let list = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = walk(d)
            .into_iter()
            .map(|p| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        v.sort();
        v
    };
    let charts_dir = dir.path().join("res/charts");
    let first = list(&charts_dir);
    // 3 units x 4 charts + 2 target overviews
    assert_eq!(first.len(), 14, "{first:?}");
    let before = std::fs::read(charts_dir.join("beds_per_1000/620802.png")).unwrap();
    std::fs::remove_dir_all(&charts_dir).unwrap();
    let o = bedsim(dir.path()).args(["chart", "res"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(list(&charts_dir), first);
    assert_eq!(
        std::fs::read(charts_dir.join("beds_per_1000/620802.png")).unwrap(),
        before,
        "redrawn chart differs"
    );
    let o = bedsim(dir.path())
        .args(["run", "s.toml", "--out", "plain", "--no-charts"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(!dir.path().join("plain/charts").exists());
    let o = bedsim(dir.path()).args(["chart", "s.toml"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "chart on a non-results path must be refused");
}

fn walk(d: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A national scenario by county: charts for the nation and its provinces only, and target
/// overviews that show the upper groups and the units least likely to meet the target, so a
/// run does not write thousands of county charts or a chart 100,000 pixels tall.
#[test]
fn large_scenarios_chart_their_upper_levels_and_the_units_most_at_risk() {
    let mut data = fixed_data();
    data.units[1].id = "nation".into();
    data.targets.clear();
    data.units.push(UnitInfo {
        id: "province".into(),
        name: "省".into(),
        is_group: true,
        parent: Some("nation".into()),
    });
    for i in 0..400 {
        let id = format!("c{i:03}");
        data.units.push(UnitInfo {
            id: id.clone(),
            name: format!("县{i:03}"),
            is_group: false,
            parent: Some("province".into()),
        });
        data.targets.push(TargetInfo {
            id: "beds".into(),
            unit: id,
            year: 2025,
            metric: "beds_per_1000_elderly".into(),
            op: ">=".into(),
            threshold: 24.0,
            probability: Some(i as f64 / 400.0),
            ..target_defaults()
        });
    }
    let charted: Vec<&str> = charts::charted_units(&data).iter().map(|u| u.id.as_str()).collect();
    assert_eq!(charted, ["nation", "province"]);
    let dir = tempfile::tempdir().unwrap();
    let files = charts::draw_all(&data, dir.path()).unwrap();
    let overview = dir.path().join("targets/beds.png");
    assert!(files.contains(&overview));
    let (_, h, _) = decode(&overview);
    // 80 bars of 34 pixels and the margins, not 400.
    assert!(h <= 260 + 34 * charts::OVERVIEW_BARS as u32, "overview {h} pixels tall");
}
