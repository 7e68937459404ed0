//! Loaders for the CSV data files a scenario names.
//!
//! Every loader reads the whole file, checks its header and every row, and reports each problem
//! as `file:line:column: message`. Rows are read with the `csv` crate (quoted fields, CRLF); a
//! UTF-8 byte-order mark is accepted, other non-UTF-8 bytes are an error naming the line.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::reader::Diags;
use super::tree::Origin;
use crate::demography::{N_AGES, Sex};

/// Files larger than this are refused before reading: bedsim's inputs are census tables of a
/// few megabytes, and a multi-gigabyte file is almost surely the wrong file.
pub const MAX_DATA_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// Largest count of people a census group or a shape profile age may hold: more than any
/// country's population, and small enough that sums over ages and regions stay finite.
pub const MAX_COUNT: f64 = 1e10;

/// A parsed CSV file: header and rows, each row with its line number.
#[derive(Debug, Clone)]
pub struct Csv {
    pub path: Arc<str>,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    pub header: Vec<String>,
    /// Shared, so that a kept file ([`keep_parsed_files`]) is handed out without a copy.
    pub rows: Arc<Vec<(usize, Vec<String>)>>,
}

/// Parsed files by how they are shown and their content hash.
type ParsedFiles = HashMap<(String, String), Csv>;

/// Files parsed without a problem, while [`keep_parsed_files`] is on.
static PARSED: std::sync::Mutex<Option<ParsedFiles>> = std::sync::Mutex::new(None);

/// Keeps (`true`) or stops keeping and forgets (`false`) the data files parsed from now on, so
/// that a process building the same scenario many times (a sweep builds one per point) reads
/// and hashes each file again but parses it once. A file is only reused when its bytes hash to
/// the same SHA-256, so an edited file is parsed anew.
pub fn keep_parsed_files(on: bool) {
    if let Ok(mut kept) = PARSED.lock() {
        *kept = on.then(HashMap::new);
    }
}

impl Csv {
    /// The place of a cell of this file, 1-based.
    pub fn origin(&self, line: usize, col: usize) -> Origin {
        Origin::File {
            path: self.path.clone(),
            line,
            col,
        }
    }

    /// The index of each required column, reporting those missing.
    pub fn columns(&self, required: &[&str], diags: &mut Diags) -> Option<Vec<usize>> {
        let mut out = Vec::new();
        let mut missing = Vec::new();
        for name in required {
            match self.header.iter().position(|h| h.trim() == *name) {
                Some(i) => out.push(i),
                None => missing.push(*name),
            }
        }
        if missing.is_empty() {
            Some(out)
        } else {
            let hint = missing
                .iter()
                .filter_map(|m| {
                    super::reader::suggest(m, self.header.iter().map(|s| s.as_str())).map(|h| format!(" ('{h}' is close to '{m}')"))
                })
                .collect::<String>();
            diags.error(
                &self.origin(1, 1),
                format!(
                    "missing column(s) {} in the header; found: {}{hint}",
                    missing.join(", "),
                    self.header.join(", ")
                ),
            );
            None
        }
    }

    /// Column (1-based, in characters) where field `idx` of a row starts, assuming no quotes.
    fn col_of(row: &[String], idx: usize) -> usize {
        row.iter().take(idx).map(|f| f.chars().count() + 1).sum::<usize>() + 1
    }

    /// A field parsed as a finite number.
    pub fn number(&self, line: usize, row: &[String], idx: usize, diags: &mut Diags) -> Option<f64> {
        let raw = row[idx].trim();
        match raw.parse::<f64>() {
            Ok(v) if v.is_finite() => Some(v),
            _ => {
                let name = &self.header[idx];
                diags.error(
                    &self.origin(line, Self::col_of(row, idx)),
                    format!("column '{name}': '{raw}' is not a finite number"),
                );
                None
            }
        }
    }

    /// Reports a problem at a field.
    pub fn error_at(&self, line: usize, row: &[String], idx: usize, diags: &mut Diags, msg: impl Into<String>) {
        diags.error(&self.origin(line, Self::col_of(row, idx)), msg);
    }
}

/// Reads a UTF-8 text file of at most [`MAX_DATA_FILE_BYTES`], refusing what is not a regular
/// file (see [`read_at_most`]).
///
/// # Errors
/// Not a regular file, too large, unreadable, or not UTF-8.
pub fn read_text(path: &Path) -> std::io::Result<String> {
    let bytes = read_at_most(path, MAX_DATA_FILE_BYTES)?.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("over the limit of {MAX_DATA_FILE_BYTES} bytes"),
        )
    })?;
    String::from_utf8(bytes).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not valid UTF-8"))
}

/// Checks that `path` is a regular file (after symbolic links): anything else is refused with
/// what it is, so that no reader opens a pipe and waits.
///
/// # Errors
/// The file's metadata cannot be read, or it is a directory, a pipe, a device or a socket.
pub fn regular_file(path: &Path) -> std::io::Result<std::fs::Metadata> {
    let m = std::fs::metadata(path)?;
    if m.is_file() {
        return Ok(m);
    }
    let what = if m.is_dir() {
        "a directory"
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            let t = m.file_type();
            if t.is_fifo() {
                "a named pipe (FIFO)"
            } else if t.is_char_device() || t.is_block_device() {
                "a device"
            } else if t.is_socket() {
                "a socket"
            } else {
                "not a regular file"
            }
        }
        #[cfg(not(unix))]
        {
            "not a regular file"
        }
    };
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("it is {what}, not a regular file"),
    ))
}

/// Reads a CSV file completely.
pub fn read_csv(path: &Path, shown: &str, at: &Origin, diags: &mut Diags) -> Option<Csv> {
    match regular_file(path) {
        Ok(m) if m.len() > MAX_DATA_FILE_BYTES => {
            diags.error(
                at,
                format!(
                    "data file {shown} is {} bytes, over the limit of {MAX_DATA_FILE_BYTES}: is it the right file?",
                    m.len()
                ),
            );
            return None;
        }
        Ok(_) => {}
        Err(e) => {
            diags.error(at, format!("cannot read data file {shown}: {e}"));
            return None;
        }
    }
    let bytes = match read_at_most(path, MAX_DATA_FILE_BYTES) {
        Ok(Some(b)) => b,
        // A file that reports a smaller size than it holds (a `/proc` file, one still growing).
        Ok(None) => {
            diags.error(
                at,
                format!("data file {shown} is over the limit of {MAX_DATA_FILE_BYTES} bytes: is it the right file?"),
            );
            return None;
        }
        Err(e) => {
            diags.error(at, format!("cannot read data file {shown}: {e}"));
            return None;
        }
    };
    let sha256 = sha256_hex(&bytes);
    let key = (shown.to_string(), sha256.clone());
    let mut kept = PARSED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(csv) = kept.as_ref().and_then(|k| k.get(&key)) {
        return Some(csv.clone());
    }
    let before = diags.list.len();
    let csv = parse_hashed(&bytes, shown, sha256, diags)?;
    if let (Some(k), true) = (kept.as_mut(), diags.list.len() == before) {
        k.insert(key, csv.clone());
    }
    Some(csv)
}

/// Reads a regular file of at most `limit` bytes; `None` if it holds more. Unlike
/// `std::fs::read`, this stops on files whose size the metadata does not tell (`/proc` files),
/// and it refuses what is not a regular file before opening it: opening a FIFO waits for a
/// writer forever, and a device such as `/dev/zero` never ends.
///
/// # Errors
/// When the file is not a regular file (a directory, a pipe, a device, a socket), or cannot be
/// opened or read.
pub fn read_at_most(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    regular_file(path)?;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Parses the bytes of a CSV data file shown as `shown` in messages: header, then every row.
pub fn parse_csv(bytes: &[u8], shown: &str, diags: &mut Diags) -> Option<Csv> {
    parse_hashed(bytes, shown, sha256_hex(bytes), diags)
}

/// [`parse_csv`] of bytes whose SHA-256 is known.
fn parse_hashed(bytes: &[u8], shown: &str, sha256: String, diags: &mut Diags) -> Option<Csv> {
    let shown_arc: Arc<str> = Arc::from(shown);
    let file_origin = |line, col| Origin::File {
        path: shown_arc.clone(),
        line,
        col,
    };
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        diags.error(&file_origin(1, 1), "the file is empty: expected a header row and data rows");
        return None;
    }
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(body);
    let header = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        Err(e) => {
            diags.error(&file_origin(1, 1), format!("unreadable header: {}", csv_message(&e)));
            return None;
        }
    };
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut errors = 0;
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
                rows.push((line, record.iter().map(|s| s.to_string()).collect()));
            }
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                diags.error(&file_origin(line, 1), csv_message(&e));
                errors += 1;
                if errors >= 20 {
                    diags.error(&file_origin(line, 1), "too many malformed rows; stopped reading this file");
                    return None;
                }
                // A row with bad UTF-8 or a wrong field count: the reader can go on.
                if !matches!(e.kind(), csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }) {
                    return None;
                }
            }
        }
    }
    // Rows with errors are reported and left out; the good rows are still checked so that every
    // problem of the file is reported at once (the diagnostics make the scenario invalid).
    if rows.is_empty() && errors == 0 {
        diags.error(&file_origin(1, 1), "the file has a header but no data rows");
        return None;
    }
    Some(Csv {
        sha256,
        path: shown_arc,
        header,
        rows: Arc::new(rows),
    })
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!("field {} is not valid UTF-8", err.field() + 1),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("ragged row: {len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Io(io) => format!("read error: {io}"),
        _ => e.to_string(),
    }
}

pub use crate::demography::AgeGroup;

/// Base population of one region in census groups, by sex (`[male, female]`).
pub type GroupedPopulation = [Vec<AgeGroup>; 2];

fn parse_sex(s: &str) -> Option<Sex> {
    match s.trim().to_ascii_lowercase().as_str() {
        "male" | "m" | "男" => Some(Sex::Male),
        "female" | "f" | "女" => Some(Sex::Female),
        _ => None,
    }
}

/// Reads base population in the census long layout (`region_code, sex, age_start, age_end,
/// population`; other columns are ignored) for the wanted regions. Groups of each region and sex
/// must be contiguous from age 0 and end with one open group (`age_end` empty) at 85 or above.
pub fn load_population(csv: &Csv, wanted: &[(&str, &Origin)], diags: &mut Diags) -> HashMap<String, GroupedPopulation> {
    load_age_table(csv, wanted, "population", (0.0, MAX_COUNT), diags)
}

/// Reads a table by region, sex and age group in the census long layout with the value in
/// `column` (each value within `range`), for the wanted regions, with the same checks as
/// [`load_population`]. `wanted` pairs each region id with the place that names it (a scenario
/// line): a wanted region without rows is reported there; a problem of its age groups is
/// reported at the row where it shows (the group after a gap, the misplaced open group).
pub fn load_age_table(
    csv: &Csv,
    wanted: &[(&str, &Origin)],
    column: &str,
    range: (f64, f64),
    diags: &mut Diags,
) -> HashMap<String, GroupedPopulation> {
    let mut out: HashMap<String, GroupedPopulation> = HashMap::new();
    let Some(cols) = csv.columns(&["region_code", "sex", "age_start", "age_end", column], diags) else {
        return out;
    };
    let (c_reg, c_sex, c_start, c_end, c_pop) = (cols[0], cols[1], cols[2], cols[3], cols[4]);
    // The file line of each accepted group, by region and sex, in the order of `out`'s groups.
    let mut lines: HashMap<String, [Vec<usize>; 2]> = HashMap::new();
    let wanted_set: std::collections::HashSet<&str> = wanted.iter().map(|w| w.0).collect();
    for (line, row) in csv.rows.iter() {
        let code = row[c_reg].trim();
        if !wanted_set.contains(code) {
            continue;
        }
        let Some(sex) = parse_sex(&row[c_sex]) else {
            csv.error_at(
                *line,
                row,
                c_sex,
                diags,
                format!("column 'sex': '{}' is not male or female", row[c_sex].trim()),
            );
            continue;
        };
        let start = csv.number(*line, row, c_start, diags);
        let end_raw = row[c_end].trim();
        let end = if end_raw.is_empty() {
            Some(None)
        } else {
            csv.number(*line, row, c_end, diags).map(Some)
        };
        let pop = csv.number(*line, row, c_pop, diags);
        let (Some(start), Some(end), Some(pop)) = (start, end, pop) else {
            continue;
        };
        if column == "population" && pop < 0.0 {
            csv.error_at(*line, row, c_pop, diags, format!("column 'population': negative count {pop}"));
            continue;
        }
        if column == "population" && pop > MAX_COUNT {
            csv.error_at(
                *line,
                row,
                c_pop,
                diags,
                format!("column 'population': count {pop} is over {MAX_COUNT:e} people"),
            );
            continue;
        }
        if !(range.0..=range.1).contains(&pop) {
            csv.error_at(
                *line,
                row,
                c_pop,
                diags,
                format!("column '{column}': {pop} is outside {} .. {}", range.0, range.1),
            );
            continue;
        }
        if start < 0.0 || start.fract() != 0.0 || start > 100.0 || end.is_some_and(|e| e < start || e.fract() != 0.0 || e > 100.0) {
            csv.error_at(
                *line,
                row,
                c_start,
                diags,
                format!(
                    "impossible age group {start}..{}",
                    end.map(|e| e.to_string()).unwrap_or_else(|| "+".into())
                ),
            );
            continue;
        }
        let entry = out.entry(code.to_string()).or_default();
        entry[sex as usize].push(AgeGroup {
            start: start as usize,
            end: end.map(|e| e as usize),
            count: pop,
        });
        lines.entry(code.to_string()).or_default()[sex as usize].push(*line);
    }
    for &(code, named_at) in wanted {
        let Some(groups) = out.get_mut(code) else {
            diags.error(named_at, format!("region '{code}' has no rows in {}", csv.path));
            continue;
        };
        let region_lines = lines.remove(code).unwrap_or_default();
        let any_line = region_lines.iter().flatten().copied().max().unwrap_or(1);
        for (s, name) in [(0, "male"), (1, "female")] {
            // Sorted by age with their lines, so a problem is reported at the row that shows it.
            let mut order: Vec<usize> = (0..groups[s].len()).collect();
            order.sort_by_key(|&i| (groups[s][i].start, region_lines[s][i]));
            let line_of = |k: usize| region_lines[s][order[k]];
            let g: Vec<AgeGroup> = order.iter().map(|&i| groups[s][i]).collect();
            let mut next = 0;
            let mut problem = None;
            for (i, a) in g.iter().enumerate() {
                if a.start != next {
                    problem = Some((
                        line_of(i),
                        format!(
                            "region '{code}' {name}: age groups are not contiguous (expected a group starting at {next}, found {})",
                            a.start
                        ),
                    ));
                    break;
                }
                match a.end {
                    Some(e) => next = e + 1,
                    None if i + 1 == g.len() && a.start >= 85 => next = N_AGES,
                    None if i + 1 == g.len() => {
                        problem = Some((
                            line_of(i),
                            format!("region '{code}' {name}: the open age group starts at {}, below 85", a.start),
                        ));
                    }
                    None => {
                        problem = Some((line_of(i), format!("region '{code}' {name}: an open age group must be the last")));
                        break;
                    }
                }
            }
            if problem.is_none() && g.is_empty() {
                problem = Some((any_line, format!("region '{code}': no {name} rows")));
            } else if problem.is_none() && next != N_AGES {
                problem = Some((
                    line_of(g.len() - 1),
                    format!("region '{code}' {name}: the last age group must be open (age_end empty), e.g. 85+ or 100+"),
                ));
            }
            if let Some((line, p)) = problem {
                diags.error(&csv.origin(line, 1), p);
            }
            groups[s] = g;
        }
    }
    out
}

/// Reads a national single-year population profile (`age, sex, population`), ages 0..=100.
pub fn load_single_age_profile(csv: &Csv, diags: &mut Diags) -> Option<[[f64; N_AGES]; 2]> {
    let cols = csv.columns(&["age", "sex", "population"], diags)?;
    let mut out = [[f64::NAN; N_AGES]; 2];
    let before = diags.list.len();
    for (line, row) in csv.rows.iter() {
        let sex_raw = row[cols[1]].trim();
        if sex_raw == "total" {
            continue;
        }
        let Some(sex) = parse_sex(sex_raw) else {
            csv.error_at(
                *line,
                row,
                cols[1],
                diags,
                format!("column 'sex': '{sex_raw}' is not male, female or total"),
            );
            continue;
        };
        let (Some(age), Some(pop)) = (csv.number(*line, row, cols[0], diags), csv.number(*line, row, cols[2], diags)) else {
            continue;
        };
        if !(0.0..=100.0).contains(&age) || age.fract() != 0.0 {
            csv.error_at(*line, row, cols[0], diags, format!("age {age} is not a whole number in 0..=100"));
            continue;
        }
        if pop <= 0.0 || pop > MAX_COUNT {
            csv.error_at(
                *line,
                row,
                cols[2],
                diags,
                format!("population {pop} must be > 0 and at most {MAX_COUNT:e} in a shape profile"),
            );
            continue;
        }
        out[sex as usize][age as usize] = pop;
    }
    if diags.list.len() > before {
        return None;
    }
    if out.iter().flatten().any(|v| v.is_nan()) {
        diags.error(
            &csv.origin(1, 1),
            "the profile must give every age 0..=100 for both male and female",
        );
        return None;
    }
    Some(out)
}

/// Death rates of one period in 5-year groups, by sex.
#[derive(Debug, Clone)]
pub struct MxPeriod {
    pub start: i32,
    pub end: i32,
    /// `(age_start, mx_male, mx_female)` sorted by age; the last group is open.
    pub groups: Vec<(usize, f64, f64)>,
}

/// Reads a death-rate table in the WPP layout (`period_start, period_end, age_start, mx_male,
/// mx_female`), every period with the same age groups.
pub fn load_mx_table(csv: &Csv, diags: &mut Diags) -> Option<Vec<MxPeriod>> {
    let cols = csv.columns(&["period_start", "period_end", "age_start", "mx_male", "mx_female"], diags)?;
    let mut periods: Vec<MxPeriod> = Vec::new();
    let before = diags.list.len();
    for (line, row) in csv.rows.iter() {
        let vals: Vec<Option<f64>> = cols.iter().map(|&c| csv.number(*line, row, c, diags)).collect();
        let [Some(ps), Some(pe), Some(age), Some(mm), Some(mf)] = vals[..] else {
            continue;
        };
        if pe <= ps || ps.fract() != 0.0 || pe.fract() != 0.0 || !(1000.0..=3000.0).contains(&ps) || pe > 3000.0 {
            csv.error_at(*line, row, cols[0], diags, format!("impossible period {ps}-{pe}"));
            continue;
        }
        if !(0.0..=100.0).contains(&age) || age.fract() != 0.0 {
            csv.error_at(
                *line,
                row,
                cols[2],
                diags,
                format!("age_start {age} is not a whole number in 0..=100"),
            );
            continue;
        }
        for (v, c) in [(mm, cols[3]), (mf, cols[4])] {
            if v <= 0.0 || v > 10.0 {
                csv.error_at(*line, row, c, diags, format!("death rate {v} must be in (0, 10]"));
            }
        }
        let (ps, pe) = (ps as i32, pe as i32);
        match periods.iter_mut().find(|p| p.start == ps) {
            Some(p) if p.end != pe => csv.error_at(
                *line,
                row,
                cols[1],
                diags,
                format!("period {ps}-{pe} starts like period {}-{} but ends in another year", p.start, p.end),
            ),
            Some(p) => p.groups.push((age as usize, mm, mf)),
            None => periods.push(MxPeriod {
                start: ps,
                end: pe,
                groups: vec![(age as usize, mm, mf)],
            }),
        }
    }
    if diags.list.len() > before {
        return None;
    }
    // Every row was malformed (reported by the reader, which leaves such rows out).
    if periods.is_empty() {
        diags.error(&csv.origin(1, 1), "no usable rows of death rates in this file");
        return None;
    }
    periods.sort_by_key(|p| p.start);
    for p in &mut periods {
        p.groups.sort_by_key(|g| g.0);
    }
    // Lee-Carter takes the periods as successive steps of k: overlapping ones would give it
    // mid-years out of order (an infinite or undefined drift).
    if let Some(w) = periods.windows(2).find(|w| w[1].start < w[0].end) {
        diags.error(
            &csv.origin(1, 1),
            format!("periods {}-{} and {}-{} overlap", w[0].start, w[0].end, w[1].start, w[1].end),
        );
        return None;
    }
    let first: Vec<usize> = periods[0].groups.iter().map(|g| g.0).collect();
    for p in &periods {
        let ages: Vec<usize> = p.groups.iter().map(|g| g.0).collect();
        if ages != first || ages.first() != Some(&0) || ages.windows(2).any(|w| w[0] == w[1]) {
            diags.error(
                &csv.origin(1, 1),
                format!(
                    "period {}-{} does not have the same distinct age groups, starting at 0, as period {}-{}",
                    p.start, p.end, periods[0].start, periods[0].end
                ),
            );
            return None;
        }
    }
    Some(periods)
}

/// Reads a table of registered (or other) elderly counts by region: `region_code, value`.
pub fn load_region_values(csv: &Csv, column: &str, diags: &mut Diags) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    let Some(cols) = csv.columns(&["region_code", column], diags) else {
        return out;
    };
    for (line, row) in csv.rows.iter() {
        if let Some(v) = csv.number(*line, row, cols[1], diags) {
            if v < 0.0 {
                csv.error_at(*line, row, cols[1], diags, format!("column '{column}': negative value {v}"));
            } else {
                out.insert(row[cols[0]].trim().to_string(), v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, d: &mut Diags) -> Csv {
        parse_csv(text.as_bytes(), "t.csv", d).expect("readable")
    }

    fn messages(d: &Diags) -> Vec<String> {
        d.list.iter().map(ToString::to_string).collect()
    }

    /// Found by fuzzing: a death-rate file whose every row is malformed gave the loader no
    /// period, and it indexed the first one.
    #[test]
    fn death_rates_without_a_usable_row_are_a_diagnostic() {
        let mut d = Diags::default();
        let csv = parse("period_start,period_end,age_start,mx_male,mx_female\n9\n", &mut d);
        assert!(load_mx_table(&csv, &mut d).is_none());
        let m = messages(&d);
        assert!(m.iter().any(|x| x.starts_with("t.csv:2:1: ragged row")), "{m:?}");
        assert!(
            m.iter().any(|x| x == "t.csv:1:1: no usable rows of death rates in this file"),
            "{m:?}"
        );
    }

    /// A period end beyond any year made `start + end` overflow when the mid-year was computed.
    #[test]
    fn death_rate_periods_end_in_a_plausible_year() {
        let mut d = Diags::default();
        let csv = parse(
            "period_start,period_end,age_start,mx_male,mx_female\n2015,1e300,0,0.01,0.01\n2015,3000000000,0,0.01,0.01\n",
            &mut d,
        );
        assert!(load_mx_table(&csv, &mut d).is_none());
        let m = messages(&d);
        assert!(m.iter().any(|x| x.starts_with("t.csv:2:1: impossible period 2015-1000")), "{m:?}");
        assert!(
            m.iter().any(|x| x.starts_with("t.csv:3:1: impossible period 2015-3000000000")),
            "{m:?}"
        );
    }

    /// Overlapping periods gave Lee-Carter mid-years out of order: an infinite drift, accepted.
    #[test]
    fn death_rate_periods_do_not_overlap() {
        let mut d = Diags::default();
        let csv = parse(
            "period_start,period_end,age_start,mx_male,mx_female\n1985,2010,0,0.02,0.02\n1990,1995,0,0.01,0.01\n",
            &mut d,
        );
        assert!(load_mx_table(&csv, &mut d).is_none());
        assert_eq!(messages(&d), ["t.csv:1:1: periods 1985-2010 and 1990-1995 overlap"]);
        let mut d = Diags::default();
        let csv = parse(
            "period_start,period_end,age_start,mx_male,mx_female\n1985,1990,0,0.02,0.02\n1985,1995,1,0.01,0.01\n",
            &mut d,
        );
        assert!(load_mx_table(&csv, &mut d).is_none());
        assert_eq!(
            messages(&d),
            ["t.csv:3:6: period 1985-1995 starts like period 1985-1990 but ends in another year"]
        );
    }

    /// Counts near the largest float were accepted: a shape profile of 1.5e308 at two ages gave
    /// an infinite census-day shape and NaN base populations, and the scenario still checked.
    #[test]
    fn counts_stay_below_ten_billion() {
        let mut d = Diags::default();
        let csv = parse("age,sex,population\n70,male,1.5e308\n71,male,0\n", &mut d);
        assert!(load_single_age_profile(&csv, &mut d).is_none());
        let m = messages(&d);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].starts_with("t.csv:2:9: population 1500") && m[0].ends_with("must be > 0 and at most 1e10 in a shape profile"));
        assert_eq!(m[1], "t.csv:3:9: population 0 must be > 0 and at most 1e10 in a shape profile");
        let mut d = Diags::default();
        let csv = parse(
            "region_code,sex,age_start,age_end,population\nr,male,0,,10000000001\nr,female,0,,10000000000\n",
            &mut d,
        );
        let at = Origin::File {
            path: Arc::from("s.toml"),
            line: 1,
            col: 1,
        };
        load_population(&csv, &[("r", &at)], &mut d);
        let m = messages(&d);
        assert_eq!(
            m[0], "t.csv:2:11: column 'population': count 10000000001 is over 1e10 people",
            "{m:?}"
        );
        // Exactly 1e10 is accepted (the groups are still reported as incomplete).
        assert!(m.iter().all(|x| !x.contains("count 10000000000 ")), "{m:?}");
    }

    /// `std::fs::read` of `/dev/zero` never ends and opening a FIFO waits for a writer: both are
    /// refused before they are opened.
    #[cfg(unix)]
    #[test]
    fn endless_files_are_read_only_up_to_the_limit() {
        let e = read_at_most(Path::new("/dev/zero"), 1000).unwrap_err();
        assert!(e.to_string().contains("it is a device, not a regular file"), "{e}");
        let mut d = Diags::default();
        let at = Origin::File {
            path: Arc::from("s.toml"),
            line: 3,
            col: 8,
        };
        let dir = std::env::temp_dir().join(format!("bedsim-read-at-most-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small.csv");
        std::fs::write(&small, "a,b\n1,2\n").unwrap();
        assert_eq!(read_at_most(&small, 8).unwrap().map(|b| b.len()), Some(8));
        assert_eq!(read_at_most(&small, 7).unwrap(), None);
        assert!(read_csv(&small, "small.csv", &at, &mut d).is_some() && d.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
