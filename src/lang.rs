//! The language of what a run writes for people to read: chart titles, axes and legends, the
//! stdout table, the workbook's captions and the HTML report. Identifiers (target and region
//! ids, column names of the CSV and Parquet tables, metric names) are the same in every
//! language, so scripts read every run alike.

use std::fmt;

/// A language of the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Simplified Chinese, the default: the reports are read in Chinese civil-affairs offices.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The codes a scenario's `lang` and `--lang` accept.
    pub const NAMES: [(&'static str, Lang); 2] = [("zh", Lang::Zh), ("en", Lang::En)];

    /// The code (`zh`, `en`), as written in scenarios, manifests and `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// Reads a code.
    ///
    /// # Errors
    /// A code other than those of [`Lang::NAMES`].
    pub fn parse(text: &str) -> Result<Lang, String> {
        Lang::NAMES
            .iter()
            .find(|(n, _)| *n == text)
            .map(|&(_, l)| l)
            .ok_or_else(|| format!("unknown language '{text}': use zh or en"))
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
