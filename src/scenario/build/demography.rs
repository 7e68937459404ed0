//! The demographic sections of a scenario: `[mortality]` (the life tables, the Lee-Carter
//! model and its uncertainty, sub-national levels), `[fertility]`, `[migration]` (rates and
//! schedules), `[care]` (dependency and uptake) and `[backtest]`.

use super::*;

impl Builder<'_> {
    pub(super) fn mortality(
        &mut self,
        node: &Node,
        base_year: Option<i32>,
        regions: &mut [RegionDraft],
        d: &mut Diags,
    ) -> Option<Mortality> {
        let mut t = TableReader::new(node, "mortality", d)?;
        let csv = self.data_file(&mut t, "file", d);
        let base_period = t.int_in("base_period", None, 1900, 2400, d).map(|v| v as i32);
        let fit_from = t.int_in("fit_from", Some(1950), 1900, 2400, d).map(|v| v as i32);
        let fit_to = t.int_in("fit_to", None, 1900, 2400, d).map(|v| v as i32);
        let drift_node = t.get("drift");
        let shocks = t.choice("shocks", Some("national"), &["national", "regional"], d);
        let origin = t.origin;
        let drift_given = match drift_node {
            None => None,
            Some(Node { value: Value::Str(s), .. }) if s == "fitted" => None,
            Some(n) => Some(read_dist(n, "mortality.drift", -10.0, 10.0, d)),
        };
        // sigma and drift_se: "fitted" (from the Lee-Carter residuals), "calibrated" (to the e0
        // intervals of `calibrate_to`) or a number.
        let spread = |key: &'static str, t: &mut TableReader<'_>, d: &mut Diags| -> Option<Spread> {
            match t.get(key) {
                None => Some(Spread::Fitted),
                Some(Node { value: Value::Str(s), .. }) if s == "fitted" => Some(Spread::Fitted),
                Some(Node { value: Value::Str(s), .. }) if s == "calibrated" => Some(Spread::Calibrated),
                Some(Node {
                    value: Value::Array(items),
                    origin,
                }) => {
                    let path = format!("mortality.{key}");
                    let v: Vec<f64> = items
                        .iter()
                        .filter_map(|n| super::reader::number(n, &path, d).and_then(|v| check_range(v, 0.0, 10.0, &path, &n.origin, d)))
                        .collect();
                    if items.len() != 2 {
                        d.error(origin, format!("{path} as a list needs two numbers, [male, female]"));
                        return None;
                    }
                    (v.len() == 2).then(|| Spread::Given([v[0], v[1]]))
                }
                Some(n) => super::reader::number(n, &format!("mortality.{key}"), d)
                    .and_then(|v| check_range(v, 0.0, 10.0, &format!("mortality.{key}"), &n.origin, d))
                    .map(|v| Spread::Given([v, v])),
            }
        };
        let sigma_spec = spread("sigma", &mut t, d);
        let drift_se_spec = spread("drift_se", &mut t, d);
        let calibrate_csv = self.data_file_opt(&mut t, "calibrate_to", d);
        let levels_csv = self.data_file_opt(&mut t, "levels_file", d);
        let levels_origin = t.get("levels_file").map(|n| n.origin.clone());
        t.finish(d);
        let periods = data::load_mx_table(&csv?, d)?;
        let (base_period, fit_from, fit_to) = (base_period?, fit_from?, fit_to?);
        let (sigma_spec, drift_se_spec) = (sigma_spec?, drift_se_spec?);
        let Some(base) = periods.iter().find(|p| p.start == base_period) else {
            let have: Vec<String> = periods.iter().map(|p| p.start.to_string()).collect();
            d.error(
                origin,
                format!(
                    "mortality.base_period = {base_period} is not a period start in the file (have {})",
                    have.join(", ")
                ),
            );
            return None;
        };
        if let Some(b) = base_year
            && (base.start - b).abs() > 10
        {
            d.error(
                origin,
                format!(
                    "mortality.base_period {}-{} is more than 10 years from base_year {b}",
                    base.start, base.end
                ),
            );
        }
        let fit: Vec<&MxPeriod> = periods.iter().filter(|p| p.start >= fit_from && p.end <= fit_to).collect();
        if fit.len() < 3 {
            d.error(
                origin,
                format!(
                    "Lee-Carter needs at least 3 periods within fit_from..fit_to ({fit_from}..{fit_to}); found {}",
                    fit.len()
                ),
            );
            return None;
        }
        // WPP's periods run from 1 July of their first year to 30 June of their last: the
        // middle of 2015-2020 is 1 January 2018.
        let base_mid = 0.5 * f64::from(base.start + base.end) + 0.5;
        let starts: Vec<usize> = base.groups.iter().map(|g| g.0).collect();
        let mut base_log_m = [[0.0; N_AGES]; 2];
        let mut b = [[0.0; N_AGES]; 2];
        let mut fitted = FittedMortality {
            drift: [0.0; 2],
            drift_se: [0.0; 2],
            sigma: [0.0; 2],
            base_e0: [0.0; 2],
            periods: (fit[0].start, fit[fit.len() - 1].end),
            calibrated: None,
        };
        for sex in 0..2 {
            let pick = |g: &(usize, f64, f64)| if sex == 0 { g.1 } else { g.2 };
            let base_rates: Vec<f64> = base.groups.iter().map(pick).collect();
            let m = groups_to_single_ages(&starts, &base_rates, true);
            fitted.base_e0[sex] = life_expectancy(&m);
            for x in 0..N_AGES {
                base_log_m[sex][x] = m[x].ln();
            }
            let rates = GroupRates {
                starts: &starts,
                mids: fit.iter().map(|p| 0.5 * f64::from(p.start + p.end) + 0.5).collect(),
                rates: fit.iter().map(|p| p.groups.iter().map(pick).collect()).collect(),
            };
            let Some(f) = fit_lee_carter(&rates) else {
                d.error(
                    origin,
                    "the Lee-Carter fit failed on these periods (no variation in the death rates?)",
                );
                return None;
            };
            b[sex] = f.b;
            fitted.drift[sex] = f.drift;
            fitted.drift_se[sex] = f.drift_se;
            fitted.sigma[sex] = f.sigma;
        }
        let wants_calibration = matches!(sigma_spec, Spread::Calibrated) || matches!(drift_se_spec, Spread::Calibrated);
        match (&calibrate_csv, wants_calibration) {
            (Some(None), true) => {
                d.error(origin, "mortality: sigma or drift_se = \"calibrated\" needs calibrate_to, a file of e0 intervals (data/wpp2024_china_e0_annual.csv)");
                return None;
            }
            (Some(Some(csv)), true) => {
                let widths = subnational::load_e0_widths(csv, CALIBRATION_YEARS, d)?;
                let mut out = [(0.0, 0.0); 2];
                for sex in 0..2 {
                    let Some(c) = calibrate_to_e0_widths(&base_log_m[sex], &b[sex], fitted.drift[sex], base_mid, &widths[sex]) else {
                        d.error(origin, "mortality.calibrate_to: no year of the file lies after the base period");
                        return None;
                    };
                    out[sex] = c;
                }
                fitted.calibrated = Some(out);
            }
            _ => {}
        }
        let pick = |spec: &Spread, fitted_v: [f64; 2], which: usize| -> [f64; 2] {
            match spec {
                Spread::Fitted => fitted_v,
                Spread::Given(v) => *v,
                Spread::Calibrated => {
                    let c = fitted.calibrated.unwrap_or([(0.0, 0.0); 2]);
                    if which == 0 { [c[0].0, c[1].0] } else { [c[0].1, c[1].1] }
                }
            }
        };
        let sigma = pick(&sigma_spec, fitted.sigma, 0);
        let drift_se = pick(&drift_se_spec, fitted.drift_se, 1);
        let drift = match drift_given {
            None => Drift::Fitted {
                mean: fitted.drift,
                se: drift_se,
            },
            Some(Some(dist)) => Drift::Given(dist),
            Some(None) => return None,
        };
        // Mortality levels: the region's own, else the levels file's, else 1.
        let levels = levels_csv?.map(|csv| subnational::load_levels(&csv, d));
        let mut missing = Vec::new();
        for r in regions.iter_mut() {
            r.region.mortality_level = match (&r.multiplier, &levels) {
                (Some(own), _) => own.clone(),
                (None, Some(levels)) => match levels.get(&r.region.id) {
                    Some(level) => level.clone(),
                    None => {
                        missing.push(r.region.id.clone());
                        Dist::fixed(1.0)
                    }
                },
                (None, None) => Dist::fixed(1.0),
            };
        }
        if !missing.is_empty()
            && let Some(o) = &levels_origin
        {
            let shown: Vec<&str> = missing.iter().take(10).map(String::as_str).collect();
            d.error(
                o,
                format!(
                    "mortality.levels_file has no row for {} region(s): {}{} (give them a row, or mortality_multiplier in their [[region]])",
                    missing.len(),
                    shown.join(", "),
                    if missing.len() > 10 { ", ..." } else { "" }
                ),
            );
        }
        Some(Mortality {
            base_log_m,
            b,
            base_mid,
            drift,
            sigma,
            national_shocks: shocks? == "national",
            fitted,
        })
    }

    /// `[backtest]`: a later census to set the projection against (see [`crate::backtest`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn backtest(
        &mut self,
        node: &Node,
        regions: &[RegionDraft],
        groups: &[GroupDraft],
        years: Option<(i32, i32)>,
        mortality: Option<&Mortality>,
        fertility: Option<&Fertility>,
        elderly_age: Option<usize>,
        d: &mut Diags,
    ) -> Option<crate::scenario::backtest::Backtest> {
        let mut t = TableReader::new(node, "backtest", d)?;
        let csv = self.data_file(&mut t, "file", d);
        let shape_csv = self.data_file(&mut t, "shape_file", d);
        let date = t.str_req("date", d);
        t.finish(d);
        let (text, o) = date?;
        let Some(date) = Date::parse(text) else {
            d.error(o, format!("backtest.date = '{text}' is not a date YYYY-MM-DD"));
            return None;
        };
        if let Some((b, h)) = years
            && !(b < date.year && date.year <= h)
        {
            d.error(
                o,
                format!("backtest.date = {text} must fall after base_year {b} and by the horizon {h}"),
            );
            return None;
        }
        let shape = data::load_single_age_profile(&shape_csv?, d).map(|p| census_day_shape(&p));
        let csv = csv?;
        let c_reg = csv.columns(&["region_code"], d)?[0];
        let c_level = csv.header.iter().position(|h| h.trim() == "level");
        let region_index: HashMap<&str, usize> = regions.iter().enumerate().map(|(i, r)| (r.region.id.as_str(), i)).collect();
        let group_index: HashMap<&str, usize> = groups.iter().enumerate().map(|(i, g)| (g.group.id.as_str(), i)).collect();
        let mut ids: Vec<(String, Unit, String)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (line, row) in csv.rows.iter() {
            let id = row[c_reg].trim();
            if !seen.insert(id.to_string()) {
                continue;
            }
            let unit = match (region_index.get(id), group_index.get(id)) {
                (Some(&r), _) => Unit::Region(r),
                (None, Some(&g)) => Unit::Group(g),
                (None, None) => {
                    csv.error_at(
                        *line,
                        row,
                        c_reg,
                        d,
                        format!("backtest: '{id}' is neither a region nor a group of the scenario"),
                    );
                    continue;
                }
            };
            let level = match c_level {
                Some(c) if !row[c].trim().is_empty() => row[c].trim().to_string(),
                _ => {
                    if matches!(unit, Unit::Region(_)) {
                        "region".into()
                    } else {
                        "group".into()
                    }
                }
            };
            ids.push((id.to_string(), unit, level));
        }
        // The ids come from this file's own rows, so none lacks rows.
        let at = csv.origin(1, 1);
        let wanted: Vec<(&str, &Origin)> = ids.iter().map(|x| (x.0.as_str(), &at)).collect();
        let grouped = data::load_population(&csv, &wanted, d);
        let (shape, m, f, elderly_age) = (shape?, mortality?, fertility?, elderly_age?);
        let h = date.part_of_year_left();
        let rates = year_end_rates(m, date.year, h);
        let shift = subnational::YearEndShift {
            h,
            m: &rates,
            shape: &f.shape,
            male_share: f.male_share,
        };
        let mut units = Vec::new();
        for (id, unit, level) in ids {
            let Some(g) = grouped.get(&id) else { continue };
            let mut pop = [split_groups(&g[0], &shape[0]), split_groups(&g[1], &shape[1])];
            // Counted on census day, moved to the year's end without migration (what the
            // census cannot tell) at the national level of mortality.
            subnational::move_to_year_end(&mut pop, &shift, 1.0, f.tfr.central(), &[[0.0; N_AGES]; 2], &[[0.0; N_AGES]; 2]);
            units.push(crate::scenario::backtest::Observed {
                unit,
                level,
                counts: [
                    aged_at_least(&pop, 0),
                    aged_at_least(&pop, elderly_age),
                    aged_at_least(&pop, 65),
                    aged_at_least(&pop, 80),
                ],
            });
        }
        Some(crate::scenario::backtest::Backtest {
            year: date.year,
            date: text.to_string(),
            units,
        })
    }

    pub(super) fn fertility(&mut self, node: Option<&Node>, root: &Origin, d: &mut Diags) -> Option<Fertility> {
        let empty = Node {
            value: Value::Table(Vec::new()),
            origin: root.clone(),
        };
        let mut t = TableReader::new(node.unwrap_or(&empty), "fertility", d)?;
        let tfr = t.dist("tfr", Some(Dist::fixed(1.3)), 0.0, 10.0, d);
        let srb = t.f64_in("sex_ratio_at_birth", Some(1.11), 0.5, 2.0, d);
        // China 2020 census age pattern of fertility, shares by 5-year group 15-19 .. 45-49
        // (rounded; see scenarios/README.md).
        let shares = t.f64_list("age_shares", Some(vec![0.02, 0.19, 0.38, 0.26, 0.11, 0.03, 0.01]), 0.0, 1.0, d);
        t.finish(d);
        let (shares, so) = shares?;
        if shares.len() != 7 || (shares.iter().sum::<f64>() - 1.0).abs() > 1e-6 {
            d.error(
                so,
                format!(
                    "fertility.age_shares needs 7 shares (ages 15-19 .. 45-49) summing to 1; got {} summing to {}",
                    shares.len(),
                    shares.iter().sum::<f64>()
                ),
            );
            return None;
        }
        let mut shape = [0.0; N_AGES];
        for (g, s) in shares.iter().enumerate() {
            for v in &mut shape[15 + 5 * g..20 + 5 * g] {
                *v = s / 5.0;
            }
        }
        Some(Fertility {
            tfr: tfr?,
            male_share: srb? / (1.0 + srb?),
            shape,
        })
    }

    pub(super) fn migration(
        &mut self,
        node: Option<&Node>,
        root: &Origin,
        regions: &mut [RegionDraft],
        d: &mut Diags,
    ) -> Option<Migration> {
        let empty = Node {
            value: Value::Table(Vec::new()),
            origin: root.clone(),
        };
        let mut t = TableReader::new(node.unwrap_or(&empty), "migration", d)?;
        let schedule_csv = self.data_file_opt(&mut t, "schedule_file", d);
        let persistence = t.dist("persistence", Some(Dist::fixed(1.0)), 0.0, 2.0, d);
        let gains = t.choice("gains", Some("counts"), &["counts", "rates"], d);
        let rate = t.dist_soft(
            "rate_per_1000",
            Some(Dist::fixed(0.0)),
            f64::NEG_INFINITY,
            f64::INFINITY,
            -MAX_MIGRATION,
            MAX_MIGRATION,
            d,
        );
        let bands = t.f64_list("age_bands", Some(vec![0.0, 15.0, 35.0, 60.0]), 0.0, 100.0, d);
        let weights = t.f64_list("age_weights", Some(vec![0.6, 1.6, 0.7, 0.3]), 0.0, 10.0, d);
        t.finish(d);
        let (bands, bo) = bands?;
        let (weights, _) = weights?;
        let weight = bands_to_ages(&bands, &weights, bo, "migration.age_bands", d)?;
        if let Some(csv) = schedule_csv? {
            let wanted: Vec<(&str, &Origin)> = regions.iter().map(|r| (r.region.id.as_str(), &r.origin)).collect();
            let mut schedules = subnational::load_schedules(&csv, &wanted, d);
            let as_counts = gains? == "counts";
            for r in regions.iter_mut() {
                let Some(mut schedule) = schedules.remove(&r.region.id) else {
                    continue;
                };
                if as_counts {
                    // Gains as the yearly numbers the rates give on the base population: a
                    // destination's in-migrants come from elsewhere, they do not grow with it.
                    let mut inflow = Box::new([[0.0; N_AGES]; 2]);
                    for sex in 0..2 {
                        for x in 0..N_AGES {
                            if schedule[sex][x] > 0.0 {
                                inflow[sex][x] = schedule[sex][x] * r.region.base[sex][x];
                                schedule[sex][x] = 0.0;
                            }
                        }
                    }
                    r.region.migration_inflow = Some(inflow);
                }
                r.region.migration_schedule = Some(schedule);
            }
        }
        let rate = rate?;
        // The range that holds all but a millionth of the draws at each end (a clamped
        // distribution's support is the clamp).
        let (lo, hi) = match (rate.quantile(1e-6), rate.quantile(1.0 - 1e-6)) {
            (Some(a), Some(b)) => (a, b),
            _ => rate.support(),
        };
        let wmax = weight.iter().cloned().fold(0.0, f64::max);
        if lo * wmax / 1000.0 <= -1.0 || hi * wmax / 1000.0 > 10.0 {
            d.error(bo, format!("migration.rate_per_1000 (from {lo} to {hi}) times the largest age weight ({wmax}) would remove everyone or more than multiply an age by 10 in a year"));
            return None;
        }
        Some(Migration {
            persistence: persistence?,
            rate_per_1000: rate,
            weight,
        })
    }

    pub(super) fn care(
        &mut self,
        node: Option<&Node>,
        root: &Origin,
        base_year: Option<i32>,
        shape: Option<&crate::demography::Population>,
        d: &mut Diags,
    ) -> Option<Care> {
        let Some(node) = node else {
            d.error(root, "the [care] section is missing");
            return None;
        };
        let mut t = TableReader::new(node, "care", d)?;
        let bands = t.f64_list("age_bands", None, 0.0, 100.0, d);
        let partial = t.f64_list("partial", None, 0.0, 1.0, d);
        let full = t.f64_list("full", None, 0.0, 1.0, d);
        let ratio = t.f64_in("female_to_male", Some(1.0), 0.1, 10.0, d);
        let level = t.dist_soft("level", Some(Dist::fixed(1.0)), 0.0, f64::INFINITY, 0.0, 10.0, d);
        let trend = t.dist("trend", Some(Dist::fixed(0.0)), -0.5, 0.5, d);
        let reference_year = t
            .int_in("reference_year", base_year.map(i64::from), 1900, 2400, d)
            .map(|v| v as i32);
        if let (Some(r), Some(b)) = (reference_year, base_year)
            && (r - b).abs() > 50
        {
            let o = t.get("reference_year").map(|n| &n.origin).unwrap_or(t.origin);
            d.error(o, format!("care.reference_year = {r} is more than 50 years from base_year {b}"));
        }
        let ui = t.dist("uptake_independent", None, 0.0, 1.0, d);
        let up = t.dist("uptake_partial", None, 0.0, 1.0, d);
        let uf = t.dist("uptake_full", None, 0.0, 1.0, d);
        t.finish(d);
        let (bands, bo) = bands?;
        let (partial, po) = partial?;
        let (full, fo) = full?;
        if partial.len() != bands.len() {
            d.error(
                po,
                format!("care.partial has {} values for {} age bands", partial.len(), bands.len()),
            );
        }
        if full.len() != bands.len() {
            d.error(fo, format!("care.full has {} values for {} age bands", full.len(), bands.len()));
        }
        for (i, (p, f)) in partial.iter().zip(&full).enumerate() {
            if p + f > 1.0 {
                d.error(po, format!("care: band {i} has partial + full = {} > 1", p + f));
            }
        }
        let p = bands_to_ages(&bands, &partial, bo, "care.age_bands", d)?;
        let f = bands_to_ages(&bands, &full, bo, "care.age_bands", d)?;
        let ratio = ratio?;
        // Sex factors that keep the band value for both sexes together: at each age, the men's
        // factor fm and the women's ratio * fm average to 1 over the two sexes weighted by
        // their numbers (the national profile's; women outnumber men at old ages, so an
        // unweighted mean of the two would raise the band's prevalence).
        let mut out_p = [[0.0; N_AGES]; 2];
        let mut out_f = [[0.0; N_AGES]; 2];
        for x in 0..N_AGES {
            let female = match shape {
                Some(sh) if sh[0][x] + sh[1][x] > 0.0 => sh[1][x] / (sh[0][x] + sh[1][x]),
                _ => 0.5,
            };
            let fm = 1.0 / ((1.0 - female) + ratio * female);
            let ff = ratio * fm;
            out_p[0][x] = (p[x] * fm).min(1.0);
            out_p[1][x] = (p[x] * ff).min(1.0);
            out_f[0][x] = (f[x] * fm).min(1.0 - out_p[0][x]);
            out_f[1][x] = (f[x] * ff).min(1.0 - out_p[1][x]);
        }
        Some(Care {
            partial: out_p,
            full: out_f,
            min_age: bands.first().map(|b| *b as usize).unwrap_or(0),
            level: level?,
            trend: trend?,
            reference_offset: base_year.unwrap_or(0) - reference_year?,
            uptake_independent: ui?,
            uptake_partial: up?,
            uptake_full: uf?,
        })
    }
}
