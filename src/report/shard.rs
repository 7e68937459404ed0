//! The partial result of a run shard: the summaries of its regions and of the groups it holds
//! whole (`partial.json`, floats written exactly), and the fixed-point sums of its members for
//! every group it holds in part (`groups.bin`, little-endian i64, in the order of
//! `partial_groups`).

use std::path::Path;

use super::ReportError;
use crate::montecarlo::PartialRun;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// `groups.bin` written as a run shard finishes each group it holds in part
/// ([`crate::montecarlo::run_regions_streaming`]): the file has its final size from the start,
/// and each group's rows go to their place in it, so the shard holds no more sums than its
/// memory budget allows.
pub struct GroupsFile {
    file: std::fs::File,
    per_group: usize,
    draws: usize,
}

impl GroupsFile {
    /// Creates `dir/groups.bin` for `groups` partial groups of `per_group` sums (full rows x
    /// draws) each.
    ///
    /// # Errors
    /// When the file cannot be created.
    pub fn create(dir: &Path, groups: usize, per_group: usize, draws: usize) -> Result<GroupsFile, ReportError> {
        let p = dir.join("groups.bin");
        let file = std::fs::File::create(&p).map_err(io(&p))?;
        file.set_len((groups * per_group * 8) as u64).map_err(io(&p))?;
        Ok(GroupsFile { file, per_group, draws })
    }
}

impl crate::montecarlo::PartialSink for GroupsFile {
    fn rows(&mut self, slot: usize, first_row: usize, rows: &[i64]) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        let offset = (slot * self.per_group + first_row * self.draws) * 8;
        let mut bytes = Vec::with_capacity(rows.len() * 8);
        for v in rows {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.file.seek(SeekFrom::Start(offset as u64))?;
        self.file.write_all(&bytes)
    }
}

/// Writes a run shard's part into `dir`: `partial.json`, and `groups.bin` when the part holds
/// its partial sums (a part streamed to a [`GroupsFile`] has already written them).
///
/// # Errors
/// I/O failures.
pub fn write_run_part(dir: &Path, part: &PartialRun) -> Result<(), ReportError> {
    let p = dir.join("partial.json");
    let text = serde_json::to_string(part).map_err(|e| io(&p)(std::io::Error::other(e)))?;
    std::fs::write(&p, text).map_err(io(&p))?;
    if part.group_sums.is_empty() {
        return Ok(());
    }
    let p = dir.join("groups.bin");
    let mut bytes = Vec::with_capacity(part.group_sums.iter().map(Vec::len).sum::<usize>() * 8);
    for g in &part.group_sums {
        for v in g {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(&p, bytes).map_err(io(&p))
}

/// Reads a run shard's part; each of its partial group sums must be `per_group` long.
///
/// # Errors
/// Missing, unreadable or truncated files.
pub fn read_run_part(dir: &Path, per_group: usize) -> Result<PartialRun, ReportError> {
    let p = dir.join("partial.json");
    let text = std::fs::read_to_string(&p).map_err(io(&p))?;
    let mut part: PartialRun = serde_json::from_str(&text).map_err(|e| io(&p)(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    let p = dir.join("groups.bin");
    let groups = part.partial_groups.len();
    let len = std::fs::metadata(&p).map_err(io(&p))?.len() as usize;
    if len != groups * per_group * 8 {
        return Err(io(&p)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{len} bytes where {groups} groups x {per_group} sums need {}",
                groups * per_group * 8
            ),
        )));
    }
    // A group at a time, so that reading holds each sum once.
    use std::io::Read;
    let mut file = std::io::BufReader::new(std::fs::File::open(&p).map_err(io(&p))?);
    let mut bytes = vec![0u8; per_group * 8];
    part.group_sums = Vec::with_capacity(groups);
    for _ in 0..groups {
        file.read_exact(&mut bytes).map_err(io(&p))?;
        part.group_sums.push(
            bytes
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        );
    }
    Ok(part)
}

#[cfg(test)]
mod tests {
    /// A run shard's summaries travel in `partial.json`: the merge must read back the very
    /// floats the shard wrote, or a table rounded at a boundary (207353.95) differs from the
    /// single-machine run's. serde_json's default parser can be one ulp off; bedsim enables
    /// its `float_roundtrip` feature.
    #[test]
    fn summaries_survive_the_json_of_a_shard_bit_for_bit() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let values: Vec<f64> = (0..100_000)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
                // Counts and shares of the sizes the summaries hold, and the case that failed.
                if i == 0 {
                    207_353.949_999_999_98
                } else {
                    unit * 10f64.powi(i % 12 - 3)
                }
            })
            .collect();
        let text = serde_json::to_string(&values).unwrap();
        let back: Vec<f64> = serde_json::from_str(&text).unwrap();
        let differ = values.iter().zip(&back).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        assert_eq!(differ, 0, "{differ} of {} floats changed", values.len());
    }
}
