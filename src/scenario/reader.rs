//! Typed reading of scenario tables, collecting every problem instead of stopping at the first.
//!
//! A [`TableReader`] hands out the values of one TOML table by key and remembers which keys it
//! was asked for; [`TableReader::finish`] then reports every key nobody asked for as unknown, with
//! a "did you mean" hint. The set of known keys is therefore exactly the set the checker reads.

use super::tree::{Diagnostic, Node, Origin, Value};
use crate::dist::{Dist, DistSpec};

/// The problems found so far.
#[derive(Debug, Default)]
pub struct Diags {
    pub list: Vec<Diagnostic>,
}

impl Diags {
    pub fn error(&mut self, origin: &Origin, message: impl Into<String>) {
        self.list.push(Diagnostic {
            origin: origin.clone(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Levenshtein distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate within a small edit distance, if any.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Two edits are allowed even for short words, so a swapped pair ("nwe") still finds "new",
    // but never a candidate that shares nothing with the word.
    let word: Vec<char> = word.chars().collect();
    let len = word.len();
    let limit = (len / 3).clamp(2, 3);
    // Only distances up to `limit` matter, so each candidate costs O(len x limit) and no
    // allocation: a scenario with thousands of unknown ids among thousands of known ones is
    // still checked at once.
    let (mut chars, mut prev, mut cur) = (Vec::new(), Vec::new(), Vec::new());
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        chars.clear();
        chars.extend(c.chars().take(len + limit + 1));
        let Some(d) = distance_within(&word, &chars, limit, &mut prev, &mut cur) else {
            continue;
        };
        if d < len && best.is_none_or(|b| (d, c) < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// The Levenshtein distance of `a` and `b` if it is at most `limit` (Ukkonen's band: only cells
/// within `limit` of the diagonal), with the two rows' buffers supplied.
fn distance_within(a: &[char], b: &[char], limit: usize, prev: &mut Vec<usize>, cur: &mut Vec<usize>) -> Option<usize> {
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let big = limit + 1;
    prev.clear();
    prev.extend((0..=b.len()).map(|j| j.min(big)));
    cur.clear();
    cur.resize(b.len() + 1, big);
    for (i, ca) in a.iter().enumerate() {
        let row = i + 1;
        let lo = row.saturating_sub(limit).max(1);
        let hi = (row + limit).min(b.len());
        cur[0] = row.min(big);
        cur[lo - 1] = if lo == 1 { cur[0] } else { big };
        let mut row_min = cur[lo - 1];
        for j in lo..=hi {
            let cost = usize::from(*ca != b[j - 1]);
            cur[j] = (prev[j - 1] + cost).min(prev[j] + 1).min(cur[j - 1] + 1).min(big);
            row_min = row_min.min(cur[j]);
        }
        if hi < b.len() {
            cur[hi + 1] = big;
        }
        if row_min > limit {
            return None;
        }
        std::mem::swap(prev, cur);
    }
    let d = prev[b.len()];
    (d <= limit).then_some(d)
}

/// Reads one table of the scenario.
pub struct TableReader<'a> {
    pub origin: &'a Origin,
    /// Dotted path of the table, for messages (`capacity.defaults.new`).
    pub path: String,
    entries: &'a [(String, Origin, Node)],
    asked: Vec<&'static str>,
}

impl<'a> TableReader<'a> {
    /// Starts reading `node` as a table; reports and returns `None` if it is not one.
    pub fn new(node: &'a Node, path: impl Into<String>, diags: &mut Diags) -> Option<Self> {
        let path = path.into();
        match &node.value {
            Value::Table(entries) => Some(TableReader {
                origin: &node.origin,
                path,
                entries,
                asked: Vec::new(),
            }),
            other => {
                diags.error(
                    &node.origin,
                    format!("{} must be a table, found {}", display_path(&path), other.type_name()),
                );
                None
            }
        }
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The node at `key`, if written.
    pub fn get(&mut self, key: &'static str) -> Option<&'a Node> {
        if !self.asked.contains(&key) {
            self.asked.push(key);
        }
        self.entries.iter().find(|(k, _, _)| k == key).map(|(_, _, n)| n)
    }

    /// Whether `key` is written (marks it as known).
    pub fn has(&mut self, key: &'static str) -> bool {
        self.get(key).is_some()
    }

    fn missing(&self, key: &str, what: &str, diags: &mut Diags) {
        diags.error(self.origin, format!("{} is missing: expected {what}", self.key_path(key)));
    }

    /// A required number (integers are accepted where floats are expected).
    pub fn f64_req(&mut self, key: &'static str, diags: &mut Diags) -> Option<(f64, &'a Origin)> {
        match self.get(key) {
            None => {
                self.missing(key, "a number", diags);
                None
            }
            Some(n) => number(n, &self.key_path(key), diags).map(|v| (v, &n.origin)),
        }
    }

    /// An optional number with a default.
    pub fn f64_or(&mut self, key: &'static str, default: f64, diags: &mut Diags) -> (f64, &'a Origin) {
        match self.get(key) {
            None => (default, self.origin),
            Some(n) => (number(n, &self.key_path(key), diags).unwrap_or(default), &n.origin),
        }
    }

    /// A number in `[lo, hi]`, with a default when absent.
    pub fn f64_in(&mut self, key: &'static str, default: Option<f64>, lo: f64, hi: f64, diags: &mut Diags) -> Option<f64> {
        let (v, origin) = match (self.get(key), default) {
            (None, Some(d)) => return Some(d),
            (None, None) => {
                self.missing(key, "a number", diags);
                return None;
            }
            (Some(n), _) => (number(n, &self.key_path(key), diags)?, &n.origin),
        };
        check_range(v, lo, hi, &self.key_path(key), origin, diags)
    }

    /// An integer in `[lo, hi]`, with a default when absent.
    pub fn int_in(&mut self, key: &'static str, default: Option<i64>, lo: i64, hi: i64, diags: &mut Diags) -> Option<i64> {
        self.wide_int(key, default.map(i128::from), i128::from(lo), i128::from(hi), diags)
            .map(|v| v as i64)
    }

    /// An unsigned 64-bit integer (a seed) over its whole range, with a default when absent.
    pub fn u64_in(&mut self, key: &'static str, default: Option<u64>, diags: &mut Diags) -> Option<u64> {
        self.wide_int(key, default.map(i128::from), 0, i128::from(u64::MAX), diags)
            .map(|v| v as u64)
    }

    /// An integer in `[lo, hi]`. A float is taken when it is a whole number up to 2^53 (`1e4`
    /// for 10000); beyond that a float does not hold every integer, so a large value must be
    /// written as an integer: no value is rounded or clamped on the way.
    fn wide_int(&mut self, key: &'static str, default: Option<i128>, lo: i128, hi: i128, diags: &mut Diags) -> Option<i128> {
        let node = match (self.get(key), default) {
            (None, Some(d)) => return Some(d),
            (None, None) => {
                self.missing(key, "an integer", diags);
                return None;
            }
            (Some(n), _) => n,
        };
        let path = self.key_path(key);
        let outside = |shown: String, diags: &mut Diags| -> Option<i128> {
            diags.error(&node.origin, format!("{path} = {shown} is outside the allowed range {lo}..={hi}"));
            None
        };
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        match &node.value {
            Value::Int(i) if (lo..=hi).contains(i) => Some(*i),
            Value::Int(i) => outside(i.to_string(), diags),
            Value::Float(f) if f.fract() == 0.0 && f.abs() <= EXACT => {
                let i = *f as i128;
                if (lo..=hi).contains(&i) {
                    Some(i)
                } else {
                    outside(f.to_string(), diags)
                }
            }
            Value::Float(f) if f.fract() == 0.0 && f.is_finite() && (*f < lo as f64 || *f > hi as f64) => outside(format!("{f:e}"), diags),
            Value::Float(f) if f.fract() == 0.0 && f.is_finite() => {
                diags.error(
                    &node.origin,
                    format!("{path} = {f:e} is a float, which cannot hold every integer above 2^53: write it as an integer"),
                );
                None
            }
            other => {
                diags.error(&node.origin, format!("{path} must be an integer, found {}", describe(other)));
                None
            }
        }
    }

    /// A required string.
    pub fn str_req(&mut self, key: &'static str, diags: &mut Diags) -> Option<(&'a str, &'a Origin)> {
        match self.get(key) {
            None => {
                self.missing(key, "a string", diags);
                None
            }
            Some(n) => string(n, &self.key_path(key), diags).map(|s| (s, &n.origin)),
        }
    }

    /// An optional string.
    pub fn str_opt(&mut self, key: &'static str, diags: &mut Diags) -> Option<(&'a str, &'a Origin)> {
        let n = self.get(key)?;
        string(n, &self.key_path(key), diags).map(|s| (s, &n.origin))
    }

    /// One of the names of `table`, as the value it names: each enum read from a scenario has
    /// one such table, so that its names and its values cannot disagree.
    pub fn choice_in<T: Copy>(
        &mut self,
        key: &'static str,
        default: Option<&'static str>,
        table: &[(&'static str, T)],
        diags: &mut Diags,
    ) -> Option<T> {
        let names: Vec<&'static str> = table.iter().map(|(n, _)| *n).collect();
        let name = self.choice(key, default, &names, diags)?;
        table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// One of a fixed set of words.
    pub fn choice(
        &mut self,
        key: &'static str,
        default: Option<&'static str>,
        allowed: &[&'static str],
        diags: &mut Diags,
    ) -> Option<&'static str> {
        let (s, origin) = match (self.str_opt(key, diags), default) {
            (Some(x), _) => x,
            (None, Some(d)) if !self.has(key) => return Some(d),
            (None, None) if !self.has(key) => {
                self.missing(key, &format!("one of {}", allowed.join(", ")), diags);
                return None;
            }
            _ => return None,
        };
        match allowed.iter().find(|a| **a == s) {
            Some(a) => Some(a),
            None => {
                let hint = suggest(s, allowed.iter().copied())
                    .map(|h| format!(" (did you mean '{h}'?)"))
                    .unwrap_or_default();
                diags.error(
                    origin,
                    format!("{} = '{s}' is not one of {}{hint}", self.key_path(key), allowed.join(", ")),
                );
                None
            }
        }
    }

    /// An optional boolean.
    pub fn bool_or(&mut self, key: &'static str, default: bool, diags: &mut Diags) -> bool {
        match self.get(key) {
            None => default,
            Some(Node { value: Value::Bool(b), .. }) => *b,
            Some(n) => {
                diags.error(
                    &n.origin,
                    format!("{} must be true or false, found {}", self.key_path(key), describe(&n.value)),
                );
                default
            }
        }
    }

    /// A list of numbers, each in `[lo, hi]`.
    pub fn f64_list(
        &mut self,
        key: &'static str,
        default: Option<Vec<f64>>,
        lo: f64,
        hi: f64,
        diags: &mut Diags,
    ) -> Option<(Vec<f64>, &'a Origin)> {
        let node = match (self.get(key), default) {
            (None, Some(d)) => return Some((d, self.origin)),
            (None, None) => {
                self.missing(key, "an array of numbers", diags);
                return None;
            }
            (Some(n), _) => n,
        };
        let path = self.key_path(key);
        let Value::Array(items) = &node.value else {
            diags.error(
                &node.origin,
                format!("{path} must be an array of numbers, found {}", describe(&node.value)),
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            match number(item, &p, diags).and_then(|v| check_range(v, lo, hi, &p, &item.origin, diags)) {
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then_some((out, &node.origin))
    }

    /// An uncertain input: a number (fixed) or a distribution table; every value it can take
    /// must lie in `[lo, hi]`.
    pub fn dist(&mut self, key: &'static str, default: Option<Dist>, lo: f64, hi: f64, diags: &mut Diags) -> Option<Dist> {
        let node = match (self.get(key), default) {
            (None, Some(d)) => return Some(d),
            (None, None) => {
                self.missing(
                    key,
                    "a number or a distribution such as { dist = \"normal\", mean = 1, sd = 0.1 }",
                    diags,
                );
                return None;
            }
            (Some(n), _) => n,
        };
        read_dist(node, &self.key_path(key), lo, hi, diags)
    }

    /// An uncertain input with a physical domain `[lo, hi]` (the support must fit it) and an
    /// allowed range `[soft_lo, soft_hi]`, the one the documentation gives: a fixed value and
    /// the whole support of a bounded distribution (uniform, triangular, beta, discrete) must lie
    /// in it; an unbounded one (normal, lognormal, laplace) must have its 1e-6 and 1 - 1e-6
    /// quantiles in it, and its samples are clamped to it (a normal migration rate may be written
    /// without truncation; its far tails are cut off). Every message names the allowed range.
    #[allow(clippy::too_many_arguments)]
    pub fn dist_soft(
        &mut self,
        key: &'static str,
        default: Option<Dist>,
        lo: f64,
        hi: f64,
        soft_lo: f64,
        soft_hi: f64,
        diags: &mut Diags,
    ) -> Option<Dist> {
        let path = self.key_path(key);
        let allowed = range_text(soft_lo, soft_hi);
        if let Some(n) = self.get(key)
            && let Value::Int(_) | Value::Float(_) = n.value
        {
            let v = number(n, &path, diags)?;
            if !(soft_lo..=soft_hi).contains(&v) {
                diags.error(&n.origin, format!("{path} = {v} is outside the allowed range {allowed}"));
                return None;
            }
            return Some(Dist::fixed(v));
        }
        let d = self.dist(key, default, f64::NEG_INFINITY, f64::INFINITY, diags)?;
        let (slo, shi) = d.support();
        let origin = self.get(key).map(|n| &n.origin).unwrap_or(self.origin);
        if support_outside(&d, lo, hi, &allowed, &path, origin, diags) {
            return None;
        }
        if slo.is_finite() && shi.is_finite() {
            if slo < soft_lo || shi > soft_hi {
                diags.error(
                    origin,
                    format!(
                        "{path}: this distribution takes values in {}, outside the allowed range {allowed}",
                        range_text(slo, shi)
                    ),
                );
                return None;
            }
            return Some(d);
        }
        let (a, b) = match (d.quantile(1e-6), d.quantile(1.0 - 1e-6)) {
            (Some(a), Some(b)) => (a, b),
            _ => (slo, shi),
        };
        if a < soft_lo || b > soft_hi {
            diags.error(
                origin,
                format!(
                    "{path}: this distribution reaches {} in its far tails (the 1e-6 and 1 - 1e-6 quantiles), outside the allowed range {allowed}",
                    range_text(a, b)
                ),
            );
            return None;
        }
        Some(d.clamped(soft_lo, soft_hi))
    }

    /// An array of tables (`[[plan]]`), or an empty list when absent.
    pub fn tables(&mut self, key: &'static str, diags: &mut Diags) -> Vec<&'a Node> {
        match self.get(key) {
            None => Vec::new(),
            Some(Node {
                value: Value::Array(items),
                ..
            }) => items.iter().collect(),
            Some(
                n @ Node {
                    value: Value::Table(_), ..
                },
            ) => vec![n],
            Some(n) => {
                diags.error(
                    &n.origin,
                    format!(
                        "{} must be an array of tables ([[{}]]), found {}",
                        self.key_path(key),
                        self.key_path(key),
                        describe(&n.value)
                    ),
                );
                Vec::new()
            }
        }
    }

    /// Reports every key that was not asked for.
    pub fn finish(self, diags: &mut Diags) {
        for (k, origin, _) in self.entries {
            if !self.asked.iter().any(|a| a == k) {
                let hint = suggest(k, self.asked.iter().copied())
                    .map(|h| format!(" (did you mean '{h}'?)"))
                    .unwrap_or_else(|| {
                        let mut known = self.asked.clone();
                        known.sort_unstable();
                        format!(" (known fields: {})", known.join(", "))
                    });
                diags.error(origin, format!("unknown field '{}' in {}{hint}", k, display_path(&self.path)));
            }
        }
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "the scenario".to_string()
    } else {
        format!("[{path}]")
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("the string \"{s}\""),
        Value::Int(i) => format!("the integer {i}"),
        Value::Float(f) => format!("the float {f}"),
        Value::Bool(b) => format!("the boolean {b}"),
        other => other.type_name().to_string(),
    }
}

/// A number, integer or float, that is finite.
pub fn number(n: &Node, path: &str, diags: &mut Diags) -> Option<f64> {
    let v = match &n.value {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        other => {
            diags.error(&n.origin, format!("{path} must be a number, found {}", describe(other)));
            return None;
        }
    };
    if v.is_finite() {
        Some(v)
    } else {
        diags.error(&n.origin, format!("{path} must be a finite number, found {v}"));
        None
    }
}

fn string<'a>(n: &'a Node, path: &str, diags: &mut Diags) -> Option<&'a str> {
    match &n.value {
        Value::Str(s) => Some(s),
        other => {
            diags.error(&n.origin, format!("{path} must be a string, found {}", describe(other)));
            None
        }
    }
}

/// Checks `lo <= v <= hi`.
/// `[lo, hi]` as messages and the documentation write it: `[1, 1e9]`, `[0, 0.5]`.
pub fn range_text(lo: f64, hi: f64) -> String {
    format!("[{}, {}]", number_text(lo), number_text(hi))
}

fn number_text(v: f64) -> String {
    if v.is_finite() && v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-4) {
        format!("{v:e}")
    } else if v.is_finite() {
        let t = format!("{v:.4}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v}")
    }
}

/// Whether `d` can take values outside `[lo, hi]`; if so the error says so, naming `allowed` as
/// the range (with a hint for an untruncated normal).
fn support_outside(d: &Dist, lo: f64, hi: f64, allowed: &str, path: &str, origin: &Origin, diags: &mut Diags) -> bool {
    let (slo, shi) = d.support();
    if slo >= lo && shi <= hi {
        return false;
    }
    let hint = if d.is_normal() {
        " (truncate it with low/high, or use a beta, uniform or triangular distribution)"
    } else {
        ""
    };
    diags.error(
        origin,
        format!(
            "{path}: this distribution takes values in {}, outside the allowed range {allowed}{hint}",
            range_text(slo, shi)
        ),
    );
    true
}

pub fn check_range(v: f64, lo: f64, hi: f64, path: &str, origin: &Origin, diags: &mut Diags) -> Option<f64> {
    if v >= lo && v <= hi {
        Some(v)
    } else {
        let range = match (lo.is_finite(), hi.is_finite()) {
            (true, true) if lo == 0.0 && hi == 1.0 => "a share in [0, 1]".to_string(),
            (true, true) => format!("in [{lo}, {hi}]"),
            (true, false) if lo == 0.0 => ">= 0".to_string(),
            (true, false) => format!(">= {lo}"),
            (false, true) => format!("<= {hi}"),
            _ => "finite".to_string(),
        };
        diags.error(origin, format!("{path} = {v} must be {range}"));
        None
    }
}

const DIST_KINDS: [&str; 8] = [
    "fixed",
    "normal",
    "lognormal",
    "laplace",
    "uniform",
    "triangular",
    "beta",
    "discrete",
];

/// Reads a distribution: a bare number is fixed; a table names `dist` and its parameters.
pub fn read_dist(node: &Node, path: &str, lo: f64, hi: f64, diags: &mut Diags) -> Option<Dist> {
    if let Value::Int(_) | Value::Float(_) = node.value {
        let v = number(node, path, diags)?;
        return check_range(v, lo, hi, path, &node.origin, diags).map(Dist::fixed);
    }
    let mut t = TableReader::new(node, path, diags)?;
    let kind = t.choice("dist", None, &DIST_KINDS, diags);
    let before = diags.list.len();
    let spec = match kind? {
        "fixed" => t.f64_req("value", diags).map(|(v, _)| DistSpec::Fixed(v)),
        "normal" => {
            let mean = t.f64_req("mean", diags);
            let sd = t.f64_req("sd", diags);
            let low = t.get("low").and_then(|n| number(n, &format!("{path}.low"), diags));
            let high = t.get("high").and_then(|n| number(n, &format!("{path}.high"), diags));
            match (mean, sd) {
                (Some((mean, _)), Some((sd, _))) => Some(DistSpec::Normal { mean, sd, low, high }),
                _ => None,
            }
        }
        "lognormal" => match (t.f64_req("meanlog", diags), t.f64_req("sdlog", diags)) {
            (Some((meanlog, _)), Some((sdlog, _))) => Some(DistSpec::LogNormal { meanlog, sdlog }),
            _ => None,
        },
        "laplace" => match (t.f64_req("mean", diags), t.f64_req("scale", diags)) {
            (Some((mean, _)), Some((scale, _))) => Some(DistSpec::Laplace { mean, scale }),
            _ => None,
        },
        "uniform" => match (t.f64_req("low", diags), t.f64_req("high", diags)) {
            (Some((low, _)), Some((high, _))) => Some(DistSpec::Uniform { low, high }),
            _ => None,
        },
        "triangular" => match (t.f64_req("low", diags), t.f64_req("mode", diags), t.f64_req("high", diags)) {
            (Some((low, _)), Some((mode, _)), Some((high, _))) => Some(DistSpec::Triangular { low, mode, high }),
            _ => None,
        },
        "beta" => match (t.f64_req("alpha", diags), t.f64_req("beta", diags)) {
            (Some((alpha, _)), Some((beta, _))) => Some(DistSpec::Beta { alpha, beta }),
            _ => None,
        },
        "discrete" => {
            let values = t.f64_list("values", None, f64::NEG_INFINITY, f64::INFINITY, diags);
            let probs = t.f64_list("probs", None, f64::NEG_INFINITY, f64::INFINITY, diags);
            match (values, probs) {
                (Some((values, _)), Some((probs, _))) => Some(DistSpec::Discrete { values, probs }),
                _ => None,
            }
        }
        _ => None,
    };
    let origin = t.origin;
    t.finish(diags);
    let spec = spec?;
    if diags.list.len() > before {
        return None;
    }
    match Dist::new(spec) {
        Ok(d) => (!support_outside(&d, lo, hi, &range_text(lo, hi), path, origin, diags)).then_some(d),
        Err(e) => {
            diags.error(origin, format!("{path}: {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::tree::parse;

    #[test]
    fn suggests_close_names() {
        assert_eq!(suggest("horizn", ["horizon", "base_year"]), Some("horizon"));
        assert_eq!(suggest("zzz", ["horizon", "base_year"]), None);
    }

    /// The banded distance gives the hint the full Levenshtein distance gives.
    #[test]
    fn suggest_matches_the_full_edit_distance() {
        let words = [
            "",
            "a",
            "ab",
            "ba",
            "new",
            "nwe",
            "horizon",
            "horizn",
            "hroizon",
            "base_year",
            "baseyear",
            "460105",
            "460106",
            "4601O5",
            "620821",
            "620829",
            "平凉市",
            "平凉",
            "崆峒区",
            "x",
            "uptake_full",
            "uptake_ful",
            "uptake_partial",
            "abcdefghijkl",
            "abcdefghijklmnop",
            "bcdefghijklm",
            "aaaaaaaa",
            "aaaaaaab",
            "baaaaaaa",
        ];
        let reference = |word: &str| {
            let len = word.chars().count();
            let limit = (len / 3).clamp(2, 3);
            words
                .iter()
                .map(|c| (edit_distance(word, c), *c))
                .filter(|(d, _)| *d <= limit && *d < len)
                .min_by_key(|(d, c)| (*d, *c))
                .map(|(_, c)| c)
        };
        for w in words {
            let others: Vec<&str> = words.iter().copied().filter(|c| *c != w).collect();
            let expect = {
                let len = w.chars().count();
                let limit = (len / 3).clamp(2, 3);
                others
                    .iter()
                    .map(|c| (edit_distance(w, c), *c))
                    .filter(|(d, _)| *d <= limit && *d < len)
                    .min_by_key(|(d, c)| (*d, *c))
                    .map(|(_, c)| c)
            };
            assert_eq!(suggest(w, others.iter().copied()), expect, "{w}");
            assert_eq!(suggest(w, words), reference(w), "{w} among all");
        }
        for a in words {
            for b in words {
                let (mut p, mut c) = (Vec::new(), Vec::new());
                let (ac, bc): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
                for limit in 0..5 {
                    let full = edit_distance(a, b);
                    let banded = distance_within(&ac, &bc, limit, &mut p, &mut c);
                    assert_eq!(banded, (full <= limit).then_some(full), "{a} {b} {limit}");
                }
            }
        }
    }

    #[test]
    fn reports_unknown_fields_and_bad_dists_together() {
        let root = parse(
            "s.toml",
            "horizn = 3\nx = { dist = \"normal\", mean = 1, sd = -2 }\ny = { dist = \"beta\", alpha = 2, beta = 3 }\n",
        )
        .unwrap();
        let mut d = Diags::default();
        let mut t = TableReader::new(&root, "", &mut d).unwrap();
        t.int_in("horizon", Some(1), 0, 9, &mut d);
        assert!(t.dist("x", None, f64::NEG_INFINITY, f64::INFINITY, &mut d).is_none());
        assert!(t.dist("y", None, 0.0, 1.0, &mut d).is_some());
        t.finish(&mut d);
        let msgs: Vec<String> = d.list.iter().map(|x| x.to_string()).collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(
            msgs.iter().any(|m| m.starts_with("s.toml:2:") && m.contains("sd must be > 0")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("s.toml:1:1") && m.contains("did you mean 'horizon'")),
            "{msgs:?}"
        );
    }
}
