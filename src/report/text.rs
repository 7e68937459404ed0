//! The words of the reports in each language ([`Lang`]): chart titles, axes and legends, the
//! stdout table, the workbook's captions and the HTML report.
//!
//! Chart captions in Chinese use half-width parentheses: the bundled font has no layout
//! features, so a full-width bracket drawn by plotters keeps its half-em of blank inside.
//!
//! Every caption is a field of [`Captions`] or a method that fills numbers into one, so that a test
//! can check that the bundled chart font has a glyph for every character any of them uses
//! ([`Captions::samples`]). Table columns, ids and metric names stay as they are in every
//! language: they are what scripts read.

use crate::lang::Lang;

/// The captions of one language.
#[derive(Debug)]
pub struct Captions {
    pub lang: Lang,
    // Charts.
    pub year_axis_end: &'static str,
    pub year_axis: &'static str,
    pub interval90: &'static str,
    pub interval50: &'static str,
    pub median: &'static str,
    pub observed: &'static str,
    pub elderly_panel: &'static str,
    pub demand_panel: &'static str,
    pub persons: &'static str,
    pub beds: &'static str,
    pub pyramid_axis: &'static str,
    pub age: &'static str,
    pub group_suffix: &'static str,
    pub probability_axis: &'static str,
    pub input_low: &'static str,
    pub input_high: &'static str,
    pub nursing_what: &'static str,
    pub nursing_axis: &'static str,
    pub aged_80: &'static str,
    pub demand_institutional: &'static str,
    pub demand_nursing: &'static str,
    pub supply_institutional: &'static str,
    pub supply_nursing: &'static str,
    // Tables, stdout, workbook and report.
    pub target: &'static str,
    pub unit: &'static str,
    pub unit_id: &'static str,
    pub kind: &'static str,
    pub region: &'static str,
    pub group: &'static str,
    pub parent: &'static str,
    pub year: &'static str,
    pub metric: &'static str,
    pub metric_unit: &'static str,
    pub op: &'static str,
    pub threshold: &'static str,
    pub p_met: &'static str,
    pub mean: &'static str,
    pub p05: &'static str,
    pub p95: &'static str,
    pub needed: &'static str,
    pub needed_unit: &'static str,
    pub conversions: &'static str,
    pub shortfall: &'static str,
    pub no_targets: &'static str,
    pub sheet_targets: &'static str,
    pub sheet_summary: &'static str,
    pub sheet_units: &'static str,
    pub sheet_assumptions: &'static str,
    pub sheet_run: &'static str,
    pub sheet_compare: &'static str,
    pub input_path: &'static str,
    pub input_file: &'static str,
    pub distribution: &'static str,
    pub written_at: &'static str,
    pub field: &'static str,
    pub value: &'static str,
    pub findings: &'static str,
    pub charts: &'static str,
    pub assumptions: &'static str,
    pub reproduce: &'static str,
    pub run_details: &'static str,
    pub most_at_risk: &'static str,
    pub all_units: &'static str,
    pub no_charts: &'static str,
    pub reproduce_intro: &'static str,
    pub assumptions_intro: &'static str,
    pub reading_guide: &'static str,
    pub difference: &'static str,
    pub compare_title: &'static str,
    pub run_a: &'static str,
    pub run_b: &'static str,
    pub same_seed_note: &'static str,
    pub other_seed_note: &'static str,
}

/// English captions.
pub static EN: Captions = Captions {
    lang: Lang::En,
    year_axis_end: "Year (value at the end of the year)",
    year_axis: "Year",
    interval90: "90% interval",
    interval50: "50% interval",
    median: "median",
    observed: " (observed)",
    elderly_panel: "Elderly population",
    demand_panel: "Care demand and bed supply",
    persons: "persons",
    beds: "beds",
    pyramid_axis: "persons (males left, females right)",
    age: "age",
    group_suffix: " (group)",
    probability_axis: "probability of meeting the target",
    input_low: "input at its low value",
    input_high: "input at its high value",
    nursing_what: "nursing-type share of institutional beds",
    nursing_axis: "nursing-type beds / institutional beds",
    aged_80: "aged 80+",
    demand_institutional: "demand: institutional beds",
    demand_nursing: "demand: nursing-type beds",
    supply_institutional: "supply: institutional beds",
    supply_nursing: "supply: nursing-type beds",
    target: "target",
    unit: "region",
    unit_id: "id",
    kind: "kind",
    region: "region",
    group: "group",
    parent: "part of",
    year: "year",
    metric: "metric",
    metric_unit: "unit",
    op: "condition",
    threshold: "threshold",
    p_met: "P(met)",
    mean: "mean",
    p05: "5th percentile",
    p95: "95th percentile",
    needed: "needed",
    needed_unit: "needed: unit",
    conversions: "conversions needed",
    shortfall: "median shortfall",
    no_targets: "(the scenario has no targets)",
    sheet_targets: "Targets",
    sheet_summary: "Summary",
    sheet_units: "Units",
    sheet_assumptions: "Assumptions",
    sheet_run: "Run",
    sheet_compare: "Comparison",
    input_path: "input (path for --set and --vary)",
    input_file: "file read",
    distribution: "distribution, as written",
    written_at: "written at",
    field: "field",
    value: "value",
    findings: "Findings",
    charts: "Charts",
    assumptions: "Assumptions",
    reproduce: "How to reproduce this run",
    run_details: "The run",
    most_at_risk: "units least likely to meet it",
    all_units: "every unit",
    no_charts: "This run was made with --no-charts: no charts are embedded. `bedsim chart` draws them from the tables, and `bedsim report` then writes this report again.",
    reproduce_intro: "The same program, scenario, data and seed give exactly these results on any number of threads:",
    assumptions_intro: "Every sampled input, as the scenario writes it. Inputs the scenario does not write take the defaults documented in scenarios/README.md.",
    reading_guide: "P(met) is the share of the Monte Carlo draws in which the target is met. \"Needed\" is what must be added on top of the plan for the target to be met with the stated confidence.",
    difference: "difference (B − A)",
    compare_title: "Comparison of two runs",
    run_a: "A",
    run_b: "B",
    same_seed_note: "Both runs used the same seed and number of draws, so they share their random numbers: the difference is the effect of what changed between them, not Monte Carlo noise.",
    other_seed_note: "The runs used different seeds or numbers of draws, or are conditioned on observations (which resamples the draws): each difference includes Monte Carlo noise; the column mc_se gives its standard error.",
};

/// Chinese captions.
pub static ZH: Captions = Captions {
    lang: Lang::Zh,
    year_axis_end: "年份(年末值)",
    year_axis: "年份",
    interval90: "90%区间",
    interval50: "50%区间",
    median: "中位数",
    observed: " (实际值)",
    elderly_panel: "老年人口",
    demand_panel: "照护需求与床位供给",
    persons: "人",
    beds: "张",
    pyramid_axis: "人(左为男性，右为女性)",
    age: "年龄",
    group_suffix: " (汇总)",
    probability_axis: "达标概率",
    input_low: "参数取低值",
    input_high: "参数取高值",
    nursing_what: "护理型床位占机构床位比例",
    nursing_axis: "护理型床位／机构床位",
    aged_80: "80岁及以上",
    demand_institutional: "需求：机构床位",
    demand_nursing: "需求：护理型床位",
    supply_institutional: "供给：机构床位",
    supply_nursing: "供给：护理型床位",
    target: "目标",
    unit: "地区",
    unit_id: "代码",
    kind: "类型",
    region: "县级单位",
    group: "汇总地区",
    parent: "所属",
    year: "年份",
    metric: "指标",
    metric_unit: "单位",
    op: "条件",
    threshold: "目标值",
    p_met: "达标概率",
    mean: "均值",
    p05: "5%分位数",
    p95: "95%分位数",
    needed: "尚需",
    needed_unit: "尚需：单位",
    conversions: "尚需改造床位",
    shortfall: "缺口中位数",
    no_targets: "（本情景未设目标）",
    sheet_targets: "目标达成",
    sheet_summary: "指标汇总",
    sheet_units: "地区",
    sheet_assumptions: "假设",
    sheet_run: "运行信息",
    sheet_compare: "方案比较",
    input_path: "参数（--set 与 --vary 的路径）",
    input_file: "读取的文件",
    distribution: "分布（情景文件原文）",
    written_at: "位置",
    field: "项目",
    value: "内容",
    findings: "主要结论",
    charts: "图表",
    assumptions: "假设",
    reproduce: "如何复现本次运行",
    run_details: "运行信息",
    most_at_risk: "最难达标的地区",
    all_units: "全部地区",
    no_charts: "本次运行使用了 --no-charts，报告中没有图表。可用 bedsim chart 根据结果表绘图，再用 bedsim report 重新生成本报告。",
    reproduce_intro: "同一程序、情景、数据和随机种子，在任意线程数下都给出完全相同的结果：",
    assumptions_intro: "以下为情景文件中写明的全部随机参数。情景文件未写明的参数取 scenarios/README.md 所述的默认值。",
    reading_guide: "达标概率是蒙特卡洛模拟中达到目标的抽样所占比例。“尚需”是在规划之外还需新增的数量，使目标能以所列置信度达成。",
    difference: "差值（B − A）",
    compare_title: "两次运行的比较",
    run_a: "A",
    run_b: "B",
    same_seed_note: "两次运行的随机种子和抽样次数相同，共用随机数：差值即两者之间改动的效果，而非蒙特卡洛误差。",
    other_seed_note: "两次运行的随机种子或抽样次数不同，或按观测值校准（抽样被重新加权抽取）：差值含蒙特卡洛误差，mc_se 列为其标准误。",
};

impl Captions {
    /// The captions of `lang`.
    pub fn of(lang: Lang) -> &'static Captions {
        match lang {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }

    fn zh(&self) -> bool {
        self.lang == Lang::Zh
    }

    /// A metric's name for people, from its table name (`beds_per_1000_elderly`); unknown
    /// names are returned as they are.
    pub fn metric_name(&self, metric: &str, age: usize) -> String {
        let (en, zh): (String, String) = match metric {
            "population_total" => ("total population".into(), "总人口".into()),
            "elderly" => (format!("population aged {age}+"), format!("{age}岁及以上人口")),
            "elderly_registered" => (format!("registered population aged {age}+"), format!("{age}岁及以上户籍人口")),
            "aged_65_plus" => ("population aged 65+".into(), "65岁及以上人口".into()),
            "aged_80_plus" => ("population aged 80+".into(), "80岁及以上人口".into()),
            "dependent_partial" => ("partly dependent elderly".into(), "部分失能老年人".into()),
            "dependent_full" => ("fully dependent elderly".into(), "完全失能老年人".into()),
            "demand_institutional_beds" => ("demand for institutional beds".into(), "机构床位需求".into()),
            "demand_nursing_beds" => ("demand for nursing-type beds".into(), "护理型床位需求".into()),
            "seasonal_demand_beds" => ("seasonal demand for beds".into(), "候鸟老人床位需求".into()),
            "beds_institutional" => ("institutional beds".into(), "机构床位".into()),
            "beds_nursing" => ("nursing-type beds".into(), "护理型床位".into()),
            "beds_community" => ("community beds".into(), "社区床位".into()),
            "beds_total" => ("elderly-care beds".into(), "养老床位".into()),
            "unmet_nursing_need" => ("unmet nursing-type need".into(), "护理型床位缺口".into()),
            "caregivers" => ("certified caregivers".into(), "持证养老护理员".into()),
            "beds_per_1000_elderly" => (
                format!("beds per 1,000 aged {age}+"),
                format!("每千名{age}岁及以上老年人养老床位数"),
            ),
            "beds_per_1000_registered_elderly" => (
                format!("beds per 1,000 registered aged {age}+"),
                format!("每千名{age}岁及以上户籍老年人养老床位数"),
            ),
            "nursing_share" => ("nursing-type share of institutional beds".into(), "护理型床位占比".into()),
            "demand_supply_ratio" => ("institutional demand / institutional beds".into(), "机构床位需求／供给".into()),
            "caregivers_per_10000_elderly" => (
                format!("caregivers per 10,000 aged {age}+"),
                format!("每万名{age}岁及以上老年人持证护理员数"),
            ),
            other => (other.replace('_', " "), other.to_string()),
        };
        if self.zh() { zh } else { en }
    }

    /// A table's unit for people (`persons`, `beds per 1,000 elderly`).
    pub fn metric_unit(&self, unit: &str) -> String {
        if !self.zh() {
            return unit.to_string();
        }
        match unit {
            "persons" => "人",
            "beds" => "张",
            "certified caregivers" => "人（持证护理员）",
            "new nursing-type beds" => "张（新增护理型床位）",
            "beds per 1,000 elderly" => "张／千名老年人",
            "beds per 1,000 registered elderly" => "张／千名户籍老年人",
            "caregivers per 10,000 elderly" => "人／万名老年人",
            "share of institutional beds" => "占机构床位比例",
            "institutional demand / institutional beds" => "需求／供给",
            other => other,
        }
        .to_string()
    }

    /// "beds per 1,000 aged 60+" as an axis.
    pub fn beds_axis(&self, age: usize) -> String {
        if self.zh() {
            format!("张／千名{age}岁及以上老年人")
        } else {
            format!("beds per 1,000 aged {age}+")
        }
    }

    /// The fan chart's topic for beds per 1,000.
    pub fn beds_what(&self, age: usize) -> String {
        if self.zh() {
            format!("每千名{age}岁及以上老年人养老床位数")
        } else {
            format!("elderly-care beds per 1,000 people aged {age}+")
        }
    }

    /// "aged 60+" in a legend.
    pub fn aged(&self, age: usize) -> String {
        if self.zh() {
            format!("{age}岁及以上")
        } else {
            format!("aged {age}+")
        }
    }

    /// A target's line in a fan chart: "target >= 32 by 2025".
    pub fn target_mark(&self, op: &str, value: &str, year: i32) -> String {
        if self.zh() {
            format!("目标：{year}年 {op} {value}")
        } else {
            format!("target {op} {value} by {year}")
        }
    }

    /// "P(met by 2025) = 71%".
    pub fn p_met_by(&self, year: i32, p: &str) -> String {
        if self.zh() {
            format!("{year}年达标概率 {p}")
        } else {
            format!("P(met by {year}) = {p}")
        }
    }

    /// "10000 draws; median, 50% and 90% intervals".
    pub fn fan_subtitle(&self, draws: usize) -> String {
        if self.zh() {
            format!("{draws}次抽样；中位数、50%与90%区间")
        } else {
            format!("{draws} draws; median, 50% and 90% intervals")
        }
    }

    /// The legend note of the base-year point when the stock was observed in another year.
    pub fn stock_observed_in(&self, year: i32) -> String {
        if self.zh() {
            format!(" ({year}年实际床位存量)")
        } else {
            format!(" (bed stock as observed in {year})")
        }
    }

    pub fn supply_demand_title(&self) -> &'static str {
        if self.zh() {
            "老年人口、照护需求与床位供给"
        } else {
            "elderly, care demand and bed supply"
        }
    }

    pub fn supply_demand_subtitle(&self, draws: usize) -> String {
        if self.zh() {
            format!("{draws}次抽样；中位数线与90%区间；虚线为需求，实线为供给")
        } else {
            format!("{draws} draws; median lines with 90% bands; demand dashed, supply solid")
        }
    }

    pub fn pyramid_title(&self, base: i32, horizon: i32) -> String {
        if self.zh() {
            format!("{base}年与{horizon}年人口金字塔")
        } else {
            format!("population {base} and {horizon}")
        }
    }

    pub fn pyramid_subtitle(&self, base: i32, horizon: i32, draws: usize) -> String {
        if self.zh() {
            format!("5岁组；{base}年普查推至12月31日(空心框)与{horizon}年{draws}次抽样的中位数")
        } else {
            format!("5-year age groups; the {base} census moved to 31 December (outline) and the {horizon} median of {draws} draws")
        }
    }

    pub fn pyramid_horizon(&self, female: bool, horizon: i32) -> String {
        match (self.zh(), female) {
            (true, true) => format!("女性 {horizon}年(中位数)"),
            (true, false) => format!("男性 {horizon}年(中位数)"),
            (false, true) => format!("females {horizon} (median)"),
            (false, false) => format!("males {horizon} (median)"),
        }
    }

    pub fn pyramid_base(&self, base: i32) -> String {
        if self.zh() {
            format!("{base}年末(普查)")
        } else {
            format!("end-{base} (census)")
        }
    }

    /// The overview chart's title: "beds-2025: beds per 1,000 aged 60+ >= 32 by 2025".
    pub fn overview_title(&self, id: &str, metric: &str, op: &str, value: &str, year: i32) -> String {
        if self.zh() {
            format!("{id}：{year}年{metric} {op} {value}")
        } else {
            format!("{id}: {metric} {op} {value} by {year}")
        }
    }

    pub fn overview_subtitle(&self, draws: usize, shown: Option<(usize, usize)>) -> String {
        match (self.zh(), shown) {
            (true, None) => format!("达标概率，{draws}次抽样；深蓝为汇总地区；虚线为90%"),
            (true, Some((n, all))) => format!(
                "达标概率，{draws}次抽样；深蓝为汇总地区；虚线为90%；图中为上级地区与最难达标的{n}个地区，共{all}个(全部见 targets.csv)"
            ),
            (false, None) => format!("probability of meeting the target, {draws} draws; groups in dark blue; dashed line at 90%"),
            (false, Some((n, all))) => format!(
                "probability of meeting the target, {draws} draws; groups in dark blue; dashed line at 90%; the {n} units least likely to meet it and the upper groups, of {all} (all in targets.csv)"
            ),
        }
    }

    /// The first line of the stdout table.
    pub fn table_heading(&self, scenario: &str, draws: usize, seed: u64) -> String {
        if self.zh() {
            format!("{scenario} — {draws}次抽样，随机种子 {seed}；各目标的达标概率")
        } else {
            format!("{scenario} — {draws} draws, seed {seed}; probability of meeting each target")
        }
    }

    pub fn conditioned_line(&self, observations: usize, effective: f64, draws: usize) -> String {
        if self.zh() {
            format!("已按{observations}项观测值校准：有效样本 {effective:.0}（共{draws}次抽样）")
        } else {
            format!("conditioned on {observations} observation(s): an effective sample of {effective:.0} of {draws} draws")
        }
    }

    /// "needed@90%".
    pub fn needed_at(&self, confidence: f64) -> String {
        if self.zh() {
            format!("尚需@{:.0}%", 100.0 * confidence)
        } else {
            format!("needed@{:.0}%", 100.0 * confidence)
        }
    }

    /// "needed at 90% confidence" in a workbook or report column.
    pub fn needed_at_confidence(&self, confidence: f64) -> String {
        if self.zh() {
            format!("尚需（{:.0}%置信度）", 100.0 * confidence)
        } else {
            format!("needed at {:.0}% confidence", 100.0 * confidence)
        }
    }

    /// "90% interval" of the target's metric, as a column caption.
    pub fn interval_caption(&self) -> &'static str {
        if self.zh() { "90%区间" } else { "90% interval" }
    }

    /// The report's title.
    pub fn report_title(&self, scenario: &str) -> String {
        if self.zh() {
            format!("{scenario}：养老床位规划目标达成评估")
        } else {
            format!("{scenario}: will the elderly-care plan meet its targets?")
        }
    }

    /// "10,000 draws, seed 20211231, results of 2026-12-01".
    pub fn report_byline(&self, draws: usize, seed: u64, when: &str, version: &str) -> String {
        if self.zh() {
            format!("{draws}次蒙特卡洛抽样，随机种子 {seed}；运行于 {when}（UTC）；bedsim {version}")
        } else {
            format!("{draws} Monte Carlo draws, seed {seed}; run {when} (UTC); bedsim {version}")
        }
    }

    /// One sentence of findings per target.
    pub fn finding(&self, target: &str, unit: &str, p: &str, median: &str, needed: Option<&str>) -> String {
        match (self.zh(), needed) {
            (true, Some(n)) => format!("{unit}达成目标“{target}”的概率为{p}（中位数 {median}）；要以所列置信度达标，尚需 {n}。"),
            (true, None) => format!("{unit}达成目标“{target}”的概率为{p}（中位数 {median}）。"),
            (false, Some(n)) => format!(
                "{unit} meets {target} with probability {p} (median {median}); to meet it with the stated confidence it needs {n} more."
            ),
            (false, None) => format!("{unit} meets {target} with probability {p} (median {median})."),
        }
    }

    /// "12 of 24 units below 50%".
    pub fn units_below(&self, below: usize, all: usize) -> String {
        if self.zh() {
            format!("{all}个地区中有{below}个达标概率低于50%")
        } else {
            format!("{below} of {all} units have a probability below 50%")
        }
    }

    /// The title of a sweep's tornado chart.
    pub fn tornado_title(&self, unit: &str, target: &str) -> String {
        if self.zh() {
            format!("{unit}：{target} — 各参数对达标概率的影响")
        } else {
            format!("{unit}: {target} — what moves the probability")
        }
    }

    pub fn tornado_subtitle(&self, centre: f64) -> String {
        if self.zh() {
            format!("逐一改变参数，其余取区间中值；此时达标概率 = {:.0}%", 100.0 * centre)
        } else {
            format!(
                "one at a time, others at the middle of their ranges; P(met) there = {:.0}%",
                100.0 * centre
            )
        }
    }

    /// Every caption with sample numbers filled in, for the font check.
    pub fn samples(&self) -> Vec<String> {
        let fields = [
            self.year_axis_end,
            self.year_axis,
            self.interval90,
            self.interval50,
            self.median,
            self.observed,
            self.elderly_panel,
            self.demand_panel,
            self.persons,
            self.beds,
            self.pyramid_axis,
            self.age,
            self.group_suffix,
            self.probability_axis,
            self.input_low,
            self.input_high,
            self.nursing_what,
            self.nursing_axis,
            self.aged_80,
            self.demand_institutional,
            self.demand_nursing,
            self.supply_institutional,
            self.supply_nursing,
            self.target,
            self.unit,
            self.unit_id,
            self.kind,
            self.region,
            self.group,
            self.parent,
            self.year,
            self.metric,
            self.metric_unit,
            self.op,
            self.threshold,
            self.p_met,
            self.mean,
            self.p05,
            self.p95,
            self.needed,
            self.needed_unit,
            self.conversions,
            self.shortfall,
            self.no_targets,
            self.sheet_targets,
            self.sheet_summary,
            self.sheet_units,
            self.sheet_assumptions,
            self.sheet_run,
            self.sheet_compare,
            self.input_path,
            self.input_file,
            self.distribution,
            self.written_at,
            self.field,
            self.value,
            self.findings,
            self.charts,
            self.assumptions,
            self.reproduce,
            self.run_details,
            self.most_at_risk,
            self.all_units,
            self.no_charts,
            self.reproduce_intro,
            self.assumptions_intro,
            self.reading_guide,
            self.difference,
            self.compare_title,
            self.run_a,
            self.run_b,
            self.same_seed_note,
            self.other_seed_note,
            self.supply_demand_title(),
            self.interval_caption(),
        ];
        let mut out: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        for m in crate::metric::Metric::ALL {
            out.push(self.metric_name(m.name(), 60));
            out.push(self.metric_unit(m.unit()));
        }
        for u in ["new nursing-type beds", "certified caregivers"] {
            out.push(self.metric_unit(u));
        }
        out.extend([
            self.beds_axis(60),
            self.beds_what(60),
            self.aged(60),
            self.target_mark(">=", "32", 2025),
            self.p_met_by(2025, "71%"),
            self.fan_subtitle(10000),
            self.stock_observed_in(2022),
            self.supply_demand_subtitle(10000),
            self.pyramid_title(2020, 2035),
            self.pyramid_subtitle(2020, 2035, 10000),
            self.pyramid_horizon(true, 2035),
            self.pyramid_horizon(false, 2035),
            self.pyramid_base(2020),
            self.overview_title("beds-2025", "x", ">=", "32", 2025),
            self.overview_subtitle(10000, None),
            self.overview_subtitle(10000, Some((80, 3000))),
            self.table_heading("hainan", 10000, 1),
            self.conditioned_line(4, 812.0, 10000),
            self.needed_at(0.9),
            self.needed_at_confidence(0.9),
            self.report_title("hainan"),
            self.report_byline(10000, 1, "2026-12-01 12:00", "0.1.0"),
            self.finding("beds-2025", "海南省", "71%", "32.1", Some("1,200 张")),
            self.finding("beds-2025", "海南省", "71%", "32.1", None),
            self.units_below(3, 24),
            self.tornado_title("海南省", "beds-2025"),
            self.tornado_subtitle(0.5),
        ]);
        out
    }
}
