//! What an analyst opens: report.xlsx read back with calamine, the CSV read by pandas, polars
//! and DuckDB, report.html in a real browser (headless Chromium), both languages, and
//! `bedsim compare`.
//!
//! The checks that need Python's pandas and DuckDB or Chromium run wherever those are
//! installed; `.ci/run` installs them and sets `BEDSIM_REQUIRE_TOOLS=1`, which turns a missing
//! tool into a failure instead of a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use calamine::{Data, Reader, Xlsx, open_workbook};

use super::{bedsim, read_rows, repo};

/// Runs Hainan with few draws into `dir/<out>` with the given extra arguments.
fn hainan(dir: &Path, out: &str, extra: &[&str]) -> PathBuf {
    let scenario = repo().join("scenarios/hainan.toml");
    let o = bedsim(dir)
        .arg("run")
        .arg(&scenario)
        .args(["--draws", "400", "--quiet", "--out", out])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    dir.join(out)
}

/// Whether a tool the tests need may be missing here (then its checks are skipped, loudly).
fn may_skip(tool: &str) -> bool {
    if std::env::var_os("BEDSIM_REQUIRE_TOOLS").is_some_and(|v| v == "1") {
        panic!("{tool} is required (BEDSIM_REQUIRE_TOOLS=1) but is not installed");
    }
    eprintln!("SKIPPED: {tool} is not installed here; .ci/run installs it");
    true
}

fn sheet(path: &Path, name: &str) -> calamine::Range<Data> {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    wb.worksheet_range(name)
        .unwrap_or_else(|e| panic!("{}: no sheet {name}: {e}", path.display()))
}

fn text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// The XML of a part of an .xlsx (a zip archive).
fn xlsx_part(path: &Path, part: &str) -> String {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(&mut z.by_name(part).unwrap(), &mut s).unwrap();
    s
}

#[test]
fn the_workbook_holds_targets_summary_units_assumptions_and_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let res = hainan(dir.path(), "res", &["--no-charts"]);
    let xlsx = res.join("report.xlsx");
    let wb: Xlsx<_> = open_workbook(&xlsx).unwrap();
    assert_eq!(wb.sheet_names(), ["目标达成", "指标汇总", "地区", "假设", "运行信息"]);

    // Targets: one row per row of targets.csv, P(met) a number equal to the table's.
    let targets = read_rows(&res.join("targets.csv"));
    let t = sheet(&xlsx, "目标达成");
    let header: Vec<String> = t.rows().next().unwrap().iter().map(text).collect();
    assert_eq!(
        &header[..9],
        ["目标", "代码", "地区", "类型", "年份", "指标", "条件", "目标值", "达标概率"]
    );
    assert_eq!(header[12], "尚需（90%置信度）");
    assert_eq!(t.height(), targets.len() + 1);
    for (row, want) in t.rows().skip(1).zip(&targets) {
        assert_eq!(text(&row[0]), want["target"]);
        assert_eq!(text(&row[1]), want["region"]);
        assert_eq!(text(&row[2]), want["name"]);
        assert_eq!(text(&row[6]), want["op"]);
        assert!(
            matches!(row[7], Data::Float(x) if x == want["threshold"].parse::<f64>().unwrap()),
            "the threshold is a number"
        );
        let p: f64 = want["probability_met"].parse().unwrap();
        match &row[8] {
            Data::Float(x) => assert!((x - p).abs() < 1e-4, "{x} against {p}"),
            other => panic!("P(met) is stored as {other:?}, not a number"),
        }
        assert!(matches!(row[4], Data::Float(y) if y == want["year"].parse::<f64>().unwrap()));
        if !want["needed_at_confidence"].is_empty() {
            assert!(matches!(row[12], Data::Float(_)), "needed is a number");
        }
    }
    let xml = xlsx_part(&xlsx, "xl/worksheets/sheet1.xml");
    assert!(xml.contains("state=\"frozen\""), "the header row is frozen");
    assert_eq!(xml.matches("<cfRule").count(), 3, "three colours of P(met)");
    assert!(xml.contains("<autoFilter"));
    let styles = xlsx_part(&xlsx, "xl/styles.xml");
    assert!(styles.contains("formatCode=\"0.0%\""), "P(met) shows as a percentage");
    // A Chinese name's column is wide enough for it (two units a character).
    let widest = targets.iter().map(|r| r["name"].chars().count()).max().unwrap();
    let cols = xml.split("<col ").find(|c| c.contains("min=\"3\"")).unwrap().to_string();
    let width: f64 = cols.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
    assert!(width >= 2.0 * widest as f64, "name column {width} for {widest} characters");

    // Summary: every row of summary.csv, long form with a single header row.
    let summary = read_rows(&res.join("summary.csv"));
    let s = sheet(&xlsx, "指标汇总");
    let defined = summary.iter().filter(|r| !r["mean"].is_empty()).count();
    assert_eq!(s.height(), defined + 1, "one row per defined summary row");
    let header: Vec<String> = s.rows().next().unwrap().iter().map(text).collect();
    assert_eq!(header[4], "metric");
    assert_eq!(&header[8..], ["p05", "p10", "p25", "p50", "p75", "p90", "p95"]);
    assert!(s.rows().skip(1).all(|r| matches!(r[7], Data::Float(_))), "means are numbers");

    // Units, assumptions and the run.
    assert_eq!(sheet(&xlsx, "地区").height(), read_rows(&res.join("units.csv")).len() + 1);
    let a = sheet(&xlsx, "假设");
    let paths: Vec<String> = a.rows().skip(1).map(|r| text(&r[0])).collect();
    assert!(paths.contains(&"group.hainan.migration_rate".to_string()), "{paths:?}");
    let written: Vec<String> = a.rows().skip(1).map(|r| text(&r[1])).collect();
    assert!(
        written.iter().any(|w| w == "{ dist = \"laplace\", mean = 0, scale = 2.04 }"),
        "{written:?}"
    );
    assert!(
        a.rows().skip(1).all(|r| text(&r[2]).contains("hainan.toml:")),
        "each names its line"
    );
    let run: Vec<(String, String)> = sheet(&xlsx, "运行信息")
        .rows()
        .skip(1)
        .map(|r| (text(&r[0]), text(&r[1])))
        .collect();
    assert!(run.contains(&("seed".into(), "20211231".into())), "{run:?}");
    assert!(run.contains(&("draws".into(), "400".into())));
    assert!(
        run.iter()
            .any(|(k, v)| k == "input" && v.contains("census2020_target_regions_age5_sex.csv (sha256 "))
    );

    // In English, the same workbook with English captions.
    let en = hainan(dir.path(), "en", &["--no-charts", "--lang", "en"]);
    let wb: Xlsx<_> = open_workbook(en.join("report.xlsx")).unwrap();
    assert_eq!(wb.sheet_names(), ["Targets", "Summary", "Units", "Assumptions", "Run"]);
    let t = sheet(&en.join("report.xlsx"), "Targets");
    assert_eq!(text(&t.rows().next().unwrap()[8]), "P(met)");
}

#[test]
fn the_csv_opens_in_excel_and_reads_in_pandas_polars_and_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let res = hainan(dir.path(), "res", &["--no-charts"]);
    for f in ["summary.csv", "targets.csv", "units.csv", "pyramid.csv"] {
        let bytes = std::fs::read(res.join(f)).unwrap();
        assert!(
            bytes.starts_with(b"\xEF\xBB\xBFregion,") || bytes.starts_with(b"\xEF\xBB\xBFtarget,"),
            "{f} starts with a UTF-8 byte-order mark"
        );
    }
    // polars (the Rust library the program itself uses).
    use polars::prelude::*;
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(res.join("targets.csv")))
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(
        df.get_column_names()[0].as_str(),
        "target",
        "polars reads the first column's name without the mark"
    );
    assert!(df.column("name").unwrap().str().unwrap().iter().any(|n| n == Some("海南省")));

    // pandas, polars (Python) and DuckDB.
    let script = r#"
import sys, pandas, duckdb, polars
path = sys.argv[1]
a = list(pandas.read_csv(path).columns)
# Region codes look like numbers until a group's id: polars must look at every row to see it
# (the README says so).
b = polars.read_csv(path, infer_schema_length=None).columns
c = [d[0] for d in duckdb.sql(f"select * from read_csv_auto('{path}')").description]
names = set(pandas.read_csv(path)["name"])
print(a[0], b[0], c[0], len(a), len(b), len(c), "海南省" in names)
"#;
    let have = Command::new("python3")
        .args(["-c", "import pandas, duckdb, polars"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have && may_skip("python3 with pandas, polars and duckdb") {
        return;
    }
    for f in ["targets.csv", "summary.csv"] {
        let o = Command::new("python3").args(["-c", script]).arg(res.join(f)).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let first = if f == "targets.csv" { "target" } else { "region" };
        let cols = std::fs::read_to_string(res.join(f))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .split(',')
            .count();
        assert_eq!(out, format!("{first} {first} {first} {cols} {cols} {cols} True"), "{f}");
    }
}

/// The attributes of the HTML that would fetch something: every src and href must be inside
/// the file (a data: address or a fragment).
fn external_references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\"", "url("] {
        for part in html.split(attr).skip(1) {
            let value: String = part.chars().take_while(|c| *c != '"' && *c != ')').collect();
            if !value.starts_with("data:") && !value.starts_with('#') {
                out.push(value.chars().take(60).collect());
            }
        }
    }
    out
}

#[test]
fn the_html_report_is_one_self_contained_file_with_the_findings_first() {
    let dir = tempfile::tempdir().unwrap();
    let res = hainan(dir.path(), "res", &[]);
    let html = std::fs::read_to_string(res.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"zh-CN\">"));
    assert!(!html.to_lowercase().contains("<script"), "no script");
    assert_eq!(external_references(&html), Vec::<String>::new(), "nothing is fetched");
    assert!(html.contains("@page { size: A4"), "prints to A4");
    // Findings, then charts, assumptions and how to reproduce, in that order.
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("no {s}"));
    assert!(at("id=\"findings\"") < at("id=\"charts\"") && at("id=\"charts\"") < at("id=\"assumptions\""));
    assert!(at("id=\"assumptions\"") < at("id=\"reproduce\""));
    assert!(html.contains("<table class=\"targets\" id=\"targets\">"));
    // Every target, the province's probability as targets.csv has it, and the charts inside.
    let targets = read_rows(&res.join("targets.csv"));
    for t in &targets {
        assert!(html.contains(&format!("{}：", t["target"])), "target {} is reported", t["target"]);
    }
    let province = targets
        .iter()
        .find(|t| t["target"] == "beds-per-1000-2025" && t["region"] == "hainan")
        .unwrap();
    let p: f64 = province["probability_met"].parse().unwrap();
    assert!(html.contains(&format!("海南省达成目标“beds-per-1000-2025”的概率为{:.1}%", 100.0 * p)));
    let images = html.matches("src=\"data:image/png;base64,").count();
    assert_eq!(
        images,
        3 + 2 * 5,
        "3 target overviews and 2 fan charts of the province and its 4 groups"
    );
    assert!(html.contains("bedsim run ") && html.contains("--seed 20211231 --draws 400"));

    // English, and a run without charts says so instead of showing none silently.
    let en = hainan(dir.path(), "en", &["--no-charts", "--lang", "en"]);
    let html = std::fs::read_to_string(en.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(html.contains("How to reproduce this run") && html.contains("--no-charts"));
    assert_eq!(html.matches("data:image/png").count(), 0);
    // `bedsim report` writes the documents again, here in the other language.
    let o = bedsim(dir.path()).args(["report", "en", "--lang", "zh"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::read_to_string(en.join("report.html"))
            .unwrap()
            .contains("<html lang=\"zh-CN\">")
    );
    let o = bedsim(dir.path()).args(["report", "nowhere"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// `bedsim run` writes the documents beside the tables they do not read; they must still be the
/// documents `bedsim report` makes from the finished folder, byte for byte, and every table must
/// be there.
#[test]
fn the_runs_documents_are_those_report_makes_from_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    let res = hainan(dir.path(), "res", &[]);
    let written: Vec<(String, Vec<u8>)> = ["report.xlsx", "report.html"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(res.join(f)).unwrap()))
        .collect();
    for t in ["summary", "targets", "pyramid", "units"] {
        for ext in ["csv", "parquet"] {
            let p = res.join(format!("{t}.{ext}"));
            assert!(std::fs::metadata(&p).unwrap().len() > 0, "{} is written", p.display());
        }
    }
    let o = bedsim(dir.path()).args(["report", "res"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (f, bytes) in &written {
        assert!(std::fs::read(res.join(f)).unwrap() == *bytes, "{f} is what `bedsim report` writes");
    }
}

/// Chromium's flags for a headless run on a machine with no network and no display.
const CHROMIUM: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

/// Console messages Chromium logged while loading `page` (`--enable-logging=stderr`), and the
/// DOM it built.
fn load_in_chromium(page: &Path, profile: &Path) -> (Vec<String>, String) {
    let o = Command::new("chromium")
        .args(CHROMIUM)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let console = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (console, String::from_utf8_lossy(&o.stdout).to_string())
}

#[test]
fn the_html_report_renders_and_prints_in_a_real_browser() {
    if Command::new("chromium").arg("--version").output().is_err() && may_skip("chromium") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The console check can fail: a page with a script error is caught.
    let bad = dir.path().join("bad.html");
    std::fs::write(&bad, "<html><body><script>undefinedFunction();</script></body></html>").unwrap();
    let (console, _) = load_in_chromium(&bad, &dir.path().join("profile-bad"));
    assert!(console.iter().any(|l| l.contains("undefinedFunction")), "{console:?}");

    // Screenshots and prints are kept under target/ to be looked at.
    let shots = repo().join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for lang in ["zh", "en"] {
        let res = hainan(dir.path(), lang, &["--lang", lang]);
        let page = res.join("report.html");
        let (console, dom) = load_in_chromium(&page, &dir.path().join(format!("profile-{lang}")));
        assert!(console.is_empty(), "{lang}: console messages {console:?}");
        let table = dom
            .split("<table class=\"targets\" id=\"targets\">")
            .nth(1)
            .expect("the targets table is in the page");
        let rows = table.split("</table>").next().unwrap().matches("<tr").count();
        assert_eq!(rows, 1 + 30, "{lang}: a header and the province, 4 groups and 25 counties");
        let png = shots.join(format!("hainan-report-{lang}.png"));
        let pdf = shots.join(format!("hainan-report-{lang}.pdf"));
        let _ = std::fs::remove_file(&png);
        let _ = std::fs::remove_file(&pdf);
        let o = Command::new("chromium")
            .args(CHROMIUM)
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join(format!("profile-shot-{lang}")).display()
            ))
            .args(["--window-size=1280,1800", "--no-pdf-header-footer"])
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = Command::new("chromium")
            .args(CHROMIUM)
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join(format!("profile-pdf-{lang}")).display()
            ))
            .arg("--no-pdf-header-footer")
            .arg(format!("--print-to-pdf={}", pdf.display()))
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let shot = std::fs::read(&png).unwrap();
        assert!(
            shot.starts_with(b"\x89PNG") && shot.len() > 50_000,
            "{lang}: screenshot of {} bytes",
            shot.len()
        );
        let print = std::fs::read(&pdf).unwrap();
        assert!(print.starts_with(b"%PDF"));
        // A4 is 595 x 842 points; the report runs over several pages.
        let text = String::from_utf8_lossy(&print);
        let boxes: Vec<(f64, f64)> = text
            .split("/MediaBox [0 0 ")
            .skip(1)
            .map(|b| {
                let v: Vec<f64> = b
                    .split(']')
                    .next()
                    .unwrap()
                    .split_whitespace()
                    .map(|x| x.parse().unwrap())
                    .collect();
                (v[0], v[1])
            })
            .collect();
        assert!(boxes.len() >= 3, "{lang}: the report prints on {} pages", boxes.len());
        assert!(
            boxes.iter().all(|(w, h)| (w - 595.3).abs() < 1.0 && (h - 841.9).abs() < 1.0),
            "{lang}: pages are not A4 (595 x 842 points): {boxes:?}"
        );
    }
}

#[test]
fn the_stdout_table_speaks_the_chosen_language() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/hainan.toml");
    let run = |extra: &[&str]| {
        let o = bedsim(dir.path())
            .arg("run")
            .arg(&scenario)
            .args(["--draws", "200", "--no-charts", "--out", "res", "--force"])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let zh = run(&[]);
    assert!(
        zh.starts_with("hainan — 200次抽样，随机种子 20211231；各目标的达标概率\n目标"),
        "{zh}"
    );
    assert!(zh.contains("达标概率") && zh.contains("尚需@90%"));
    let en = run(&["--lang", "en"]);
    assert!(
        en.starts_with("hainan — 200 draws, seed 20211231; probability of meeting each target\ntarget"),
        "{en}"
    );
    // The same numbers in both.
    let numbers = |t: &str| -> Vec<String> {
        t.lines()
            .skip(2)
            .map(|l| l.split_whitespace().rev().take(3).collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(numbers(&zh), numbers(&en));
    let o = bedsim(dir.path())
        .arg("run")
        .arg(&scenario)
        .args(["--lang", "fr"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown language 'fr': use zh or en"));
}

#[test]
fn compare_shows_what_a_change_to_the_plan_buys() {
    let dir = tempfile::tempdir().unwrap();
    let a = hainan(dir.path(), "plan", &["--no-charts"]);
    // B: the plan with many more institutional beds in the stock, on the same random streams.
    let b = hainan(
        dir.path(),
        "faster",
        &["--no-charts", "--set", "capacity.stock.hainan.institutional=60000"],
    );
    let o = bedsim(dir.path())
        .args(["compare", "plan", "faster", "--out", "cmp", "--lang", "en"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("same seed") && stdout.contains("not Monte Carlo noise"), "{stdout}");
    let rows = read_rows(&dir.path().join("cmp/compare.csv"));
    let ta = read_rows(&a.join("targets.csv"));
    let tb = read_rows(&b.join("targets.csv"));
    assert_eq!(rows.len(), ta.len());
    for ((r, x), y) in rows.iter().zip(&ta).zip(&tb) {
        assert_eq!(
            (r["target"].as_str(), r["region"].as_str()),
            (x["target"].as_str(), x["region"].as_str())
        );
        let (pa, pb): (f64, f64) = (x["probability_met"].parse().unwrap(), y["probability_met"].parse().unwrap());
        let d: f64 = r["probability_met_diff"].parse().unwrap();
        assert!((d - (pb - pa)).abs() < 1e-9, "{r:?}");
        assert!(r["mc_se"].is_empty(), "same seed: no Monte Carlo error to state");
    }
    let province = rows
        .iter()
        .find(|r| r["target"] == "beds-per-1000-2025" && r["region"] == "hainan")
        .unwrap();
    assert!(
        province["probability_met_diff"].parse::<f64>().unwrap() > 0.0,
        "more beds raise P(met): {province:?}"
    );
    assert!(province["needed_diff"].parse::<f64>().unwrap() < 0.0, "and lower what is needed");
    for f in [
        "compare.parquet",
        "compare.xlsx",
        "manifest.json",
        "charts/compare_beds-per-1000-2025.png",
    ] {
        assert!(dir.path().join("cmp").join(f).is_file(), "{f}");
    }
    let s = sheet(&dir.path().join("cmp/compare.xlsx"), "Comparison");
    assert!(text(&s.rows().next().unwrap()[0]).contains("same seed"));
    let header: Vec<String> = s.rows().nth(1).unwrap().iter().map(text).collect();
    assert_eq!(
        &header[5..10],
        ["condition", "threshold", "P(met) A", "P(met) B", "P(met) difference (B − A)"]
    );
    for (cells, r) in s.rows().skip(2).zip(&rows) {
        assert!(matches!(cells[6], Data::Float(t) if t == r["threshold"].parse::<f64>().unwrap()));
        assert!(matches!(cells[9], Data::Float(d) if (d - r["probability_met_diff"].parse::<f64>().unwrap()).abs() < 1e-12));
    }

    // Another seed: the difference holds Monte Carlo noise, and its standard error is given.
    hainan(dir.path(), "seed2", &["--no-charts", "--seed", "7"]);
    let o = bedsim(dir.path())
        .args(["compare", "plan", "seed2", "--out", "cmp2"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let rows = read_rows(&dir.path().join("cmp2/compare.csv"));
    assert!(rows.iter().any(|r| !r["mc_se"].is_empty()));

    // Conditioned runs resample their draws by weights that depend on the inputs: even with
    // the same seed the difference holds noise, and mc_se comes from the effective samples.
    let provinces = repo().join("scenarios/china-provinces.toml");
    for (out, extra) in [("cond-a", None), ("cond-b", Some("capacity.stock.0.institutional=6000000"))] {
        let mut c = bedsim(dir.path());
        c.arg("run")
            .arg(&provinces)
            .args(["--draws", "300", "--quiet", "--no-charts", "--out", out]);
        if let Some(set) = extra {
            c.args(["--set", set]);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = bedsim(dir.path())
        .args(["compare", "cond-a", "cond-b", "--out", "cmp3", "--lang", "en"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("conditioned on observations"));
    assert!(
        read_rows(&dir.path().join("cmp3/compare.csv"))
            .iter()
            .any(|r| !r["mc_se"].is_empty())
    );

    // Runs of other units are refused unless told which rows to match.
    let scenario = repo().join("scenarios/weihai.toml");
    let o = bedsim(dir.path())
        .arg("run")
        .arg(&scenario)
        .args(["--draws", "100", "--quiet", "--no-charts", "--out", "weihai"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = bedsim(dir.path()).args(["compare", "plan", "weihai"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("do not have the same targets and units") && err.contains("only in A") && err.contains("--match common"),
        "{err}"
    );
    let o = bedsim(dir.path())
        .args(["compare", "plan", "weihai", "--match", "common"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "nothing in common");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no target and unit in common"));
    assert!(!dir.path().join("results").exists(), "nothing written");
    let o = bedsim(dir.path()).args(["compare", "plan", "nowhere"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("B: nowhere is not a bedsim results folder"));
}
