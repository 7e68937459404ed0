//! A scenario file as a tree of values that remember where they were written.
//!
//! The TOML text is parsed into [`Node`]s that carry their line and column (or the `--set`
//! override that produced them), so that every semantic error can point at its source, and so
//! that `--set PATH=VALUE` and sweeps can change any value by its dotted path before the
//! scenario is checked.

use std::fmt;
use std::sync::Arc;

/// `text` with every character a terminal would not show as itself written as `\u{..}`:
/// control characters (NUL, escape sequences, carriage returns), zero-width and joining
/// characters, bidirectional controls and the byte-order mark. Two ids that differ by a
/// zero-width space then look different in a message, and a scenario cannot move the cursor or
/// recolour the terminal. Letters of every script, Chinese included, are kept as they are.
pub fn escape_invisible(text: &str) -> std::borrow::Cow<'_, str> {
    fn hidden(c: char) -> bool {
        c.is_control()
            || matches!(c,
                '\u{00AD}'                      // soft hyphen
                | '\u{034F}'                    // combining grapheme joiner
                | '\u{061C}'                    // Arabic letter mark
                | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
                | '\u{180E}'                    // Mongolian vowel separator
                | '\u{200B}'..='\u{200F}'       // zero-width space, joiners, direction marks
                | '\u{2028}'..='\u{202E}'       // line and paragraph separators, embeddings
                | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, isolates
                | '\u{FE00}'..='\u{FE0F}'       // variation selectors
                | '\u{FEFF}'                    // byte-order mark
                | '\u{FFF9}'..='\u{FFFB}') // interlinear annotation
    }
    if !text.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A position in a file (1-based line and column).
    File { path: Arc<str>, line: usize, col: usize },
    /// A command-line override, with the words that gave it: `--set draws=500`, `--seed 7`, or a
    /// sweep's point.
    Override(Arc<str>),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line, col } => write!(f, "{path}:{line}:{col}"),
            Origin::Override(text) => write!(f, "{text}"),
        }
    }
}

/// One problem found in an input, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub origin: Origin,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            escape_invisible(&self.origin.to_string()),
            escape_invisible(&self.message)
        )
    }
}

/// A value of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    /// Wide enough for every `u64` seed and every `i64`, so that no integer the fields accept is
    /// rounded or clamped on its way to its reader.
    Int(i128),
    Float(f64),
    Bool(bool),
    Array(Vec<Node>),
    /// Keys keep the order in which they were written, each with its own origin.
    Table(Vec<(String, Origin, Node)>),
    /// A TOML date or time: not used by any field, kept so the error can say what it is.
    Datetime(String),
}

impl Value {
    /// The TOML name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
            Value::Datetime(_) => "a date-time",
        }
    }
}

/// A value with its origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub origin: Origin,
}

/// Maps byte offsets of a text to 1-based line and column (columns count characters).
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let col = self.text.get(start..offset).map(|s| s.chars().count()).unwrap_or(offset - start) + 1;
        (line, col)
    }
}

/// Parses TOML text into a tree. Syntax errors are returned all together when the parser can
/// recover from them.
///
/// # Errors
/// One diagnostic per TOML syntax error.
pub fn parse(path: &str, text: &str) -> Result<Node, Vec<Diagnostic>> {
    let path: Arc<str> = Arc::from(path);
    let index = LineIndex::new(text);
    let (doc, errors) = toml::de::DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors
            .iter()
            .map(|e| {
                let (line, col) = index.position(e.span().map(|s| s.start).unwrap_or(0));
                Diagnostic {
                    origin: Origin::File {
                        path: path.clone(),
                        line,
                        col,
                    },
                    message: format!("TOML syntax error: {}", e.message().trim()),
                }
            })
            .collect());
    }
    let at = |offset: usize| {
        let (line, col) = index.position(offset);
        Origin::File {
            path: path.clone(),
            line,
            col,
        }
    };
    let span = doc.span();
    let table = doc.into_inner();
    Ok(convert_table(&table, at(span.start), &at))
}

fn convert_table(table: &toml::de::DeTable<'_>, origin: Origin, at: &dyn Fn(usize) -> Origin) -> Node {
    let mut entries: Vec<(String, Origin, Node)> = table
        .iter()
        .map(|(k, v)| (k.get_ref().to_string(), at(k.span().start), convert(v, at)))
        .collect();
    // The parser's map is sorted by key; present keys in the order they were written.
    entries.sort_by_key(|(_, o, _)| match o {
        Origin::File { line, col, .. } => (*line, *col),
        Origin::Override(_) => (usize::MAX, 0),
    });
    Node {
        value: Value::Table(entries),
        origin,
    }
}

fn convert(v: &toml::Spanned<toml::de::DeValue<'_>>, at: &dyn Fn(usize) -> Origin) -> Node {
    use toml::de::DeValue;
    let origin = at(v.span().start);
    let value = match v.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => match i128::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
            Ok(n) => Value::Int(n),
            // Out of i128 range: keep it as a float so range checks can report it.
            Err(_) => Value::Float(i.as_str().replace('_', "").parse::<f64>().unwrap_or(f64::INFINITY)),
        },
        DeValue::Float(x) => Value::Float(parse_toml_float(x.as_str())),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(a) => Value::Array(a.iter().map(|n| convert(n, at)).collect()),
        DeValue::Table(t) => return convert_table(t, origin, at),
    };
    Node { value, origin }
}

fn parse_toml_float(s: &str) -> f64 {
    let s = s.replace('_', "");
    match s.as_str() {
        "inf" | "+inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        "nan" | "+nan" | "-nan" => f64::NAN,
        other => other.parse().unwrap_or(f64::NAN),
    }
}

/// Parses the value part of a `--set PATH=VALUE` override: any TOML value (number, string,
/// boolean, array, inline table); a bare word that is not valid TOML is taken as a string.
pub fn parse_override_value(text: &str, origin: &Origin) -> Node {
    let wrapped = format!("v = {text}");
    let index_free = |_: usize| origin.clone();
    if let Ok(doc) = toml::de::DeTable::parse(&wrapped)
        && let Some((_, v)) = doc.get_ref().iter().next()
    {
        return convert(v, &index_free);
    }
    Node {
        value: Value::Str(text.to_string()),
        origin: origin.clone(),
    }
}

/// A typed change to a scenario value made on the command line: the dotted path, the value as a
/// tree node, and in the node's origin the words that gave it, so that a message about the value
/// names `--seed 7` or `--set seed=7` as the user wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    path: String,
    value: Node,
    /// `PATH=VALUE`: what manifests record, and what [`Override::set`] reads back to the same value.
    text: String,
}

impl Override {
    /// `--set PATH=VALUE`: any TOML value, a bare word taken as a string.
    ///
    /// # Errors
    /// When the text has no `=`, or no path before it.
    pub fn set(text: &str) -> Result<Override, Diagnostic> {
        let origin = Origin::Override(Arc::from(format!("--set {text}").as_str()));
        match text.split_once('=') {
            Some((p, v)) if !p.trim().is_empty() => Ok(Override {
                path: p.trim().to_string(),
                value: parse_override_value(v.trim(), &origin),
                text: text.to_string(),
            }),
            _ => Err(Diagnostic {
                origin,
                message: "expected PATH=VALUE, for example --set draws=500".into(),
            }),
        }
    }

    /// `--set` texts in order, each read by [`Override::set`].
    ///
    /// # Errors
    /// Every text without `PATH=`.
    pub fn sets<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Override>, Vec<Diagnostic>> {
        let (good, bad): (Vec<_>, Vec<_>) = texts.iter().map(|t| Override::set(t.as_ref())).partition(Result::is_ok);
        if bad.is_empty() {
            Ok(good.into_iter().filter_map(Result::ok).collect())
        } else {
            Err(bad.into_iter().filter_map(Result::err).collect())
        }
    }

    /// A flag that sets one integer field (`--seed 7` sets `seed`, `--draws 500` sets `draws`),
    /// carried as the integer itself.
    pub fn integer(flag: &str, path: &str, value: u64) -> Override {
        Override {
            path: path.to_string(),
            value: Node {
                value: Value::Int(i128::from(value)),
                origin: Origin::Override(Arc::from(format!("{flag} {value}").as_str())),
            },
            text: format!("{path}={value}"),
        }
    }

    /// A value set by a sweep point, shown in messages as `what`.
    pub fn point(path: &str, value: Value, what: &str) -> Override {
        let text = match &value {
            Value::Int(i) => format!("{path}={i}"),
            Value::Float(f) => format!("{path}={f:?}"),
            Value::Str(s) => format!("{path}={s:?}"),
            other => format!("{path}={}", other.type_name()),
        };
        Override {
            path: path.to_string(),
            value: Node {
                value,
                origin: Origin::Override(Arc::from(what)),
            },
            text,
        }
    }

    /// The dotted path it sets.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `PATH=VALUE`, as recorded in manifests.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Applies it to a scenario tree.
    ///
    /// # Errors
    /// When the path goes through a value that is not a table or array, or names no element;
    /// the diagnostic points at the override.
    pub fn apply(&self, root: &mut Node) -> Result<(), Diagnostic> {
        set_path(root, &self.path, self.value.clone()).map_err(|e| Diagnostic {
            origin: self.value.origin.clone(),
            message: e.to_string(),
        })
    }
}

/// Error applying an override path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("empty path")]
    Empty,
    #[error("'{segment}' in '{path}': {parent} is {found}, not a table or array")]
    NotContainer {
        path: String,
        segment: String,
        parent: String,
        found: &'static str,
    },
    #[error("'{segment}' in '{path}': no entry with that index or id")]
    NoSuchEntry { path: String, segment: String },
}

/// Sets the value at a dotted path, creating missing table keys. Array elements are addressed
/// by their `id` (or `region`/`group`) value, or by 0-based index: `plan.township-centres.year`,
/// `target.0.threshold`.
///
/// # Errors
/// When a segment goes through a value that is not a table or array, or names no element.
pub fn set_path(root: &mut Node, path: &str, new: Node) -> Result<(), PathError> {
    let segments = split_path(path);
    if segments.is_empty() || segments.iter().any(|s| s.is_empty()) {
        return Err(PathError::Empty);
    }
    let mut cur = root;
    let mut walked = String::new();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let origin = new.origin.clone();
        let found = cur.value.type_name();
        match &mut cur.value {
            Value::Table(entries) => {
                let pos = match entries.iter().position(|(k, _, _)| k == seg) {
                    Some(p) => p,
                    None => {
                        let fresh = Node {
                            value: Value::Table(Vec::new()),
                            origin: origin.clone(),
                        };
                        entries.push((seg.clone(), origin, fresh));
                        entries.len() - 1
                    }
                };
                let slot = &mut entries[pos].2;
                if last {
                    *slot = new;
                    return Ok(());
                }
                cur = slot;
            }
            Value::Array(items) => {
                let by_id = items.iter().position(|n| element_id(n) == Some(seg.as_str()));
                let pos = by_id.or_else(|| seg.parse::<usize>().ok().filter(|&i| i < items.len()));
                let Some(pos) = pos else {
                    return Err(PathError::NoSuchEntry {
                        path: path.to_string(),
                        segment: seg.clone(),
                    });
                };
                if last {
                    items[pos] = new;
                    return Ok(());
                }
                cur = &mut items[pos];
            }
            _ => {
                return Err(PathError::NotContainer {
                    path: path.to_string(),
                    segment: seg.clone(),
                    parent: if walked.is_empty() { "the scenario".into() } else { walked },
                    found,
                });
            }
        }
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(seg);
    }
    Ok(())
}

/// Reads the value at a dotted path, with the same addressing as [`set_path`].
pub fn get_path<'a>(root: &'a Node, path: &str) -> Option<&'a Node> {
    let mut cur = root;
    for seg in split_path(path) {
        cur = match &cur.value {
            Value::Table(entries) => entries.iter().find(|(k, _, _)| *k == seg).map(|(_, _, n)| n)?,
            Value::Array(items) => items
                .iter()
                .find(|n| element_id(n) == Some(seg.as_str()))
                .or_else(|| seg.parse::<usize>().ok().and_then(|i| items.get(i)))?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Splits a dotted path; a segment may be quoted to contain dots: `region."a.b".name`.
fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn element_id(n: &Node) -> Option<&str> {
    if let Value::Table(entries) = &n.value {
        for key in ["id", "region", "group"] {
            if let Some((_, _, v)) = entries.iter().find(|(k, _, _)| k == key)
                && let Value::Str(s) = &v.value
            {
                return Some(s);
            }
        }
    }
    None
}

/// Every distribution of the tree (a table with a `dist` key), with its dotted path in the
/// form [`set_path`] reads (array elements by their id where they have one), in the order
/// written.
pub fn distributions(root: &Node) -> Vec<(String, &Node)> {
    fn segment(s: &str) -> String {
        if s.contains('.') || s.contains('"') {
            format!("\"{}\"", s.replace('"', "'"))
        } else {
            s.to_string()
        }
    }
    fn walk<'a>(node: &'a Node, path: &str, out: &mut Vec<(String, &'a Node)>) {
        let join = |seg: &str| {
            if path.is_empty() {
                segment(seg)
            } else {
                format!("{path}.{}", segment(seg))
            }
        };
        match &node.value {
            Value::Table(entries) if entries.iter().any(|(k, _, _)| k == "dist") => out.push((path.to_string(), node)),
            Value::Table(entries) => {
                for (k, _, v) in entries {
                    walk(v, &join(k), out);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let seg = element_id(item).map_or_else(|| i.to_string(), str::to_string);
                    walk(item, &join(&seg), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(root, "", &mut out);
    out
}

/// A value in TOML's inline form: `{ dist = "uniform", low = 0.25, high = 0.75 }`.
pub fn inline_toml(node: &Node) -> String {
    match &node.value {
        Value::Str(s) => format!("{:?}", s),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{f:.1}")
            } else {
                format!("{f}")
            }
        }
        Value::Bool(b) => b.to_string(),
        Value::Datetime(d) => d.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(inline_toml).collect::<Vec<_>>().join(", ")),
        Value::Table(entries) => {
            if entries.is_empty() {
                return "{}".into();
            }
            let parts: Vec<String> = entries.iter().map(|(k, _, v)| format!("{k} = {}", inline_toml(v))).collect();
            format!("{{ {} }}", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let idx = LineIndex::new("ab\n中文x\n");
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(3), (2, 1));
        assert_eq!(idx.position(9), (2, 3));
    }

    #[test]
    fn parses_with_origins_and_sets_paths() {
        let text = "a = 1\n[b]\nc = \"x\"\n[[t]]\nid = \"k\"\nv = 2.5\n";
        let mut root = parse("s.toml", text).unwrap();
        let v = get_path(&root, "t.k.v").unwrap();
        assert_eq!(v.value, Value::Float(2.5));
        assert_eq!(v.origin.to_string(), "s.toml:6:5");
        let o = Origin::Override(Arc::from("--set t.k.v=3"));
        set_path(&mut root, "t.k.v", parse_override_value("3", &o)).unwrap();
        assert_eq!(get_path(&root, "t.0.v").unwrap().value, Value::Int(3));
        assert!(set_path(&mut root, "a.x", parse_override_value("1", &o)).is_err());
        assert!(set_path(&mut root, "t.nope.v", parse_override_value("1", &o)).is_err());
    }

    #[test]
    fn invisible_characters_are_shown_escaped() {
        assert_eq!(escape_invisible("海口 460105"), "海口 460105");
        assert_eq!(escape_invisible("46\u{200B}0105"), "46\\u{200b}0105");
        assert_eq!(escape_invisible("a\0b\u{1b}[31m\r"), "a\\u{0}b\\u{1b}[31m\\u{d}");
        assert_eq!(escape_invisible("\u{FEFF}\u{202E}x"), "\\u{feff}\\u{202e}x");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("s.toml", "a = 1\nb = = 2\n").unwrap_err();
        assert!(err[0].to_string().starts_with("s.toml:2:"), "{}", err[0]);
    }
}
