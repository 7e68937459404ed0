//! Exact quantiles of the draws of a series without sorting them.
//!
//! A run summarises every (unit, year, metric) over its draws: for the national scenario that
//! is over ten billion values, so a full sort of each series would cost more than the
//! projection. Seven quantiles need only fourteen order statistics, found by radix selection:
//!
//! 1. one pass maps each finite value to an order-preserving integer key and finds the sum (for
//!    the mean), the smallest and the largest key;
//! 2. one pass counts the keys in at most 2,048 buckets of equal key width over that range;
//! 3. the bucket of each wanted rank follows from the running counts, and one pass copies out
//!    only the keys of those buckets, which are then selected in the same way (or sorted, when
//!    few). Each level resolves 11 bits of the 32-bit key, so at most three levels are needed.
//!
//! The result is the same order statistic a sort gives, bit for bit (tested against a sort).

use super::summary::{QUANTILES, SummaryStats};

const BITS: u32 = 11;
const BUCKETS: usize = 1 << BITS;
/// Levels of at least this many keys count them in four histograms (see [`select`]).
const LARGE_LEVEL: usize = 4096;
/// Buckets this small are sorted rather than split again.
const SMALL: usize = 48;

/// Maps an `f32` to a `u32` whose unsigned order is the numeric order (finite values, with -0
/// taken as +0).
#[inline(always)]
fn key(v: f32) -> u32 {
    let b = (v + 0.0).to_bits();
    if b >> 31 == 1 { !b } else { b | (1 << 31) }
}

#[inline(always)]
fn from_key(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & !(1 << 31) } else { !k })
}

/// Ranks wanted per series: the two order statistics around each of the seven quantiles.
const MAX_RANKS: usize = 14;
const NOT_WANTED: u8 = u8::MAX;

/// Reusable buffers for the selection of one series at a time; after the first series a
/// selection allocates nothing.
pub struct Selector {
    /// The keys of the series (starting a cache line: the first pass stores them and the
    /// copy-out loads them 16 at a time).
    keys: super::LineAligned<u32>,
    /// Four histograms: a large level counts its keys in turn into each and then adds them up.
    counts: Box<[[u32; BUCKETS]; 4]>,
    /// Slot of each wanted bucket, `NOT_WANTED` elsewhere (restored after each use).
    slot: Box<[u8; BUCKETS]>,
    /// The keys copied out at each level of the selection.
    levels: Vec<Vec<u32>>,
}

impl Default for Selector {
    fn default() -> Self {
        Selector {
            keys: super::LineAligned::default(),
            counts: Box::new([[0; BUCKETS]; 4]),
            slot: Box::new([NOT_WANTED; BUCKETS]),
            levels: vec![Vec::new(); 4],
        }
    }
}

impl Selector {
    /// Mean and the [`QUANTILES`] (type 7) of the finite values; `None` when there are none.
    pub fn stats(&mut self, values: &[f32]) -> Option<SummaryStats> {
        stats_dispatch(self, values)
    }

    #[inline(always)]
    fn stats_any(&mut self, values: &[f32]) -> Option<SummaryStats> {
        // One pass: the keys, their range, and the sum (in `f64`, over eight fixed lanes added in
        // a fixed order) and count of the finite values.
        let all = values.len();
        self.keys.reset(all);
        let mut acc = [0.0f64; 8];
        let mut count = [0usize; 8];
        let mut lo8 = [u32::MAX; 8];
        let mut hi8 = [0u32; 8];
        let done = all - all % 8;
        #[allow(unused_mut)]
        let mut start = 0;
        #[cfg(target_arch = "x86_64")]
        if super::wide_vectors() {
            // SAFETY: the CPU has AVX-512 F (checked by `wide_vectors`), the only requirement.
            start = unsafe { first_pass_avx512(values, &mut self.keys, &mut acc, &mut count[0], &mut lo8[0], &mut hi8[0]) };
        } else if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above), the only requirement.
            start = unsafe { first_pass_avx2(values, &mut self.keys, &mut acc, &mut count[0], &mut lo8[0], &mut hi8[0]) };
        }
        for (ks, vs) in self.keys[start..done].chunks_exact_mut(8).zip(values[start..done].chunks_exact(8)) {
            for l in 0..8 {
                let ok = vs[l].is_finite();
                acc[l] += if ok { f64::from(vs[l]) } else { 0.0 };
                count[l] += usize::from(ok);
                let k = key(vs[l]);
                ks[l] = k;
                lo8[l] = lo8[l].min(k);
                hi8[l] = hi8[l].max(k);
            }
        }
        for (l, (k, v)) in self.keys[done..].iter_mut().zip(&values[done..]).enumerate() {
            if v.is_finite() {
                acc[l] += f64::from(*v);
                count[l] += 1;
            }
            *k = key(*v);
            lo8[l] = lo8[l].min(*k);
            hi8[l] = hi8[l].max(*k);
        }
        let n: usize = count.iter().sum();
        if n == 0 {
            return None;
        }
        let sum = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
        let mean = sum / n as f64;
        let (mut lo, mut hi) = (lo8.iter().copied().fold(u32::MAX, u32::min), hi8.iter().copied().fold(0, u32::max));
        if n < all {
            // Undefined values (NaN ratios) are left out: keys of the finite values only.
            self.keys.reset(n);
            for (k, v) in self.keys.iter_mut().zip(values.iter().filter(|v| v.is_finite())) {
                *k = key(*v);
            }
            (lo, hi) = (u32::MAX, 0);
            for &k in self.keys.iter() {
                lo = lo.min(k);
                hi = hi.max(k);
            }
        }
        if lo == hi {
            // Deterministic series (the base year, stock before deliveries) need no selection.
            return Some(SummaryStats {
                mean,
                quantiles: [f64::from(from_key(lo)); 7],
            });
        }
        let mut ranks = [0usize; MAX_RANKS];
        let mut h = [0.0f64; 7];
        for (i, p) in QUANTILES.iter().enumerate() {
            h[i] = (n - 1) as f64 * p;
            let r = h[i].floor() as usize;
            ranks[2 * i] = r;
            ranks[2 * i + 1] = (r + 1).min(n - 1);
        }
        let mut found = [0u32; MAX_RANKS];
        select(
            &self.keys,
            lo,
            hi,
            &ranks,
            &mut found,
            &mut self.counts,
            &mut self.slot,
            &mut self.levels,
        );
        let mut quantiles = [0.0; 7];
        for i in 0..7 {
            let (a, b) = (f64::from(from_key(found[2 * i])), f64::from(from_key(found[2 * i + 1])));
            let frac = h[i] - h[i].floor();
            quantiles[i] = if frac == 0.0 { a } else { a + frac * (b - a) };
        }
        Some(SummaryStats { mean, quantiles })
    }
}

simd_dispatch! {
    fn stats_dispatch / stats_avx2 => stats_any(selector: &mut Selector, values: &[f32]) -> Option<SummaryStats>
}

#[inline(always)]
fn stats_any(selector: &mut Selector, values: &[f32]) -> Option<SummaryStats> {
    selector.stats_any(values)
}

/// Finds the keys of rank `ranks[i]` (0-based, ascending order; at most [`MAX_RANKS`]) among
/// `keys`, whose values lie in `lo..=hi`, into `out[i]`. `levels[0]` receives the keys of the
/// wanted buckets, `levels[1..]` serve the levels below.
#[allow(clippy::too_many_arguments)]
fn select(
    keys: &[u32],
    lo: u32,
    hi: u32,
    ranks: &[usize],
    out: &mut [u32],
    counts: &mut [[u32; BUCKETS]; 4],
    slot: &mut [u8; BUCKETS],
    levels: &mut [Vec<u32>],
) {
    if lo == hi {
        out.iter_mut().for_each(|o| *o = lo);
        return;
    }
    let Some((picked, deeper)) = levels.split_first_mut().filter(|_| keys.len() > SMALL) else {
        let mut v = [0u32; SMALL];
        let v = &mut v[..keys.len().min(SMALL)];
        if keys.len() <= SMALL {
            v.copy_from_slice(keys);
            v.sort_unstable();
            for (o, &r) in out.iter_mut().zip(ranks) {
                *o = v[r];
            }
        } else {
            // Deeper than the levels kept (cannot happen with 32-bit keys and 11-bit levels).
            let mut all = keys.to_vec();
            all.sort_unstable();
            for (o, &r) in out.iter_mut().zip(ranks) {
                *o = all[r];
            }
        }
        return;
    };
    // Fewer buckets for fewer keys, so small levels do not pay for clearing 2,048 counts.
    let bits = (usize::BITS - keys.len().leading_zeros()).saturating_sub(2).clamp(4, BITS);
    let range = hi - lo;
    let shift = (32 - range.leading_zeros()).saturating_sub(bits);
    let n_buckets = ((range >> shift) as usize) + 1;
    let bucket = |k: u32| (((k - lo) >> shift) as usize) & (BUCKETS - 1);
    if keys.len() >= LARGE_LEVEL && keys.len() >= 2 * n_buckets {
        // Four histograms, one key into each in turn: consecutive keys of the same bucket (a
        // series of few distinct values, such as a stock with a few plan items) then update
        // different counters instead of each waiting for the last one's store.
        let [c0, c1, c2, c3] = &mut *counts;
        for c in [&mut *c0, &mut *c1, &mut *c2, &mut *c3] {
            c[..n_buckets].fill(0);
        }
        let mut quads = keys.chunks_exact(4);
        for q in &mut quads {
            c0[bucket(q[0])] += 1;
            c1[bucket(q[1])] += 1;
            c2[bucket(q[2])] += 1;
            c3[bucket(q[3])] += 1;
        }
        for &k in quads.remainder() {
            c0[bucket(k)] += 1;
        }
        for b in 0..n_buckets {
            c0[b] += (c1[b] + c2[b]) + c3[b];
        }
    } else {
        counts[0][..n_buckets].fill(0);
        for &k in keys {
            counts[0][bucket(k)] += 1;
        }
    }
    // The bucket of each rank, and where the bucket starts in rank order.
    let n = ranks.len();
    let mut order = [0usize; MAX_RANKS];
    for (i, o) in order.iter_mut().enumerate().take(n) {
        *o = i;
    }
    order[..n].sort_unstable_by_key(|&i| ranks[i]);
    let mut bucket_of = [0usize; MAX_RANKS];
    let mut start_of = [0usize; MAX_RANKS];
    let (mut b, mut start) = (0usize, 0usize);
    for &i in &order[..n] {
        // Whole runs of 16 buckets below the rank first (one vector sum each), then bucket by
        // bucket: the walk to the top quantile's bucket was one dependent addition and branch
        // per bucket, about 2,000 of them in a series of 10,000 keys.
        while b + 16 <= n_buckets {
            let run: u32 = counts[0][b..b + 16].iter().sum();
            if start + run as usize > ranks[i] {
                break;
            }
            start += run as usize;
            b += 16;
        }
        while b < n_buckets && start + counts[0][b] as usize <= ranks[i] {
            start += counts[0][b] as usize;
            b += 1;
        }
        bucket_of[i] = b;
        start_of[i] = start;
    }
    // Copy out the keys of the wanted buckets, each bucket contiguous.
    let mut wanted = [0usize; MAX_RANKS];
    let mut n_wanted = 0;
    let mut offset = [0usize; MAX_RANKS + 1];
    for &i in &order[..n] {
        let wb = bucket_of[i];
        if slot[wb] == NOT_WANTED {
            slot[wb] = n_wanted as u8;
            wanted[n_wanted] = wb;
            offset[n_wanted + 1] = offset[n_wanted] + counts[0][wb] as usize;
            n_wanted += 1;
        }
    }
    picked.clear();
    picked.resize(offset[n_wanted], 0);
    let mut fill = offset;
    // The first key of each wanted bucket.
    let mut starts = [0u32; MAX_RANKS];
    for (w, &b) in starts.iter_mut().zip(&wanted[..n_wanted]) {
        *w = lo + ((b as u32) << shift);
    }
    copy_wanted(keys, lo, shift, &starts[..n_wanted], slot, picked, &mut fill);
    for &wb in &wanted[..n_wanted] {
        slot[wb] = NOT_WANTED;
    }
    for (s, &wb) in wanted[..n_wanted].iter().enumerate() {
        let mut sub_ranks = [0usize; MAX_RANKS];
        let mut sub_index = [0usize; MAX_RANKS];
        let mut m = 0;
        for i in 0..n {
            if bucket_of[i] == wb {
                sub_ranks[m] = ranks[i] - start_of[i];
                sub_index[m] = i;
                m += 1;
            }
        }
        let b_lo = lo + ((wb as u32) << shift);
        let b_hi = if shift == 0 {
            b_lo
        } else {
            b_lo.saturating_add((1u32 << shift) - 1).min(hi)
        };
        let mut sub_out = [0u32; MAX_RANKS];
        select(
            &picked[offset[s]..offset[s + 1]],
            b_lo,
            b_hi,
            &sub_ranks[..m],
            &mut sub_out[..m],
            counts,
            slot,
            deeper,
        );
        for j in 0..m {
            out[sub_index[j]] = sub_out[j];
        }
    }
}

/// Copies the keys that fall in the wanted buckets, those of `2^shift` keys from each of
/// `starts` on, into `picked`, each bucket from `fill[slot[bucket]]` on. The keys copied, and
/// their order within a bucket, are the same in every build.
#[allow(clippy::too_many_arguments)]
fn copy_wanted(
    keys: &[u32],
    lo: u32,
    shift: u32,
    starts: &[u32],
    slot: &[u8; BUCKETS],
    picked: &mut [u32],
    fill: &mut [usize; MAX_RANKS + 1],
) {
    #[cfg(target_arch = "x86_64")]
    if super::wide_vectors() {
        // SAFETY: the CPU has AVX-512 F (checked by `wide_vectors`), the only requirement.
        unsafe { copy_wanted_avx512(keys, lo, shift, starts, slot, picked, fill) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above), the only requirement.
        unsafe { copy_wanted_avx2(keys, lo, shift, starts, slot, picked, fill) };
        return;
    }
    copy_wanted_scalar(keys, lo, shift, slot, picked, fill);
}

/// [`copy_wanted`] key by key.
fn copy_wanted_scalar(keys: &[u32], lo: u32, shift: u32, slot: &[u8; BUCKETS], picked: &mut [u32], fill: &mut [usize; MAX_RANKS + 1]) {
    for &k in keys {
        take_key(k, lo, shift, slot, picked, fill);
    }
}

/// Copies `k` into `picked` if its bucket is wanted.
#[inline(always)]
fn take_key(k: u32, lo: u32, shift: u32, slot: &[u8; BUCKETS], picked: &mut [u32], fill: &mut [usize; MAX_RANKS + 1]) {
    let s = slot[((k - lo) >> shift) as usize & (BUCKETS - 1)];
    if s != NOT_WANTED {
        picked[fill[s as usize]] = k;
        fill[s as usize] += 1;
    }
}

/// [`copy_wanted`] with AVX-512: sixteen keys at a time are compared with the key range of
/// every wanted bucket (two instructions per bucket), and only the keys found are copied, in
/// key order. A wanted bucket holds a few keys in a thousand, so the key-by-key loop, with a
/// table lookup and a branch per key, spends most of its time rejecting keys: it was half of
/// a series' selection.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
fn copy_wanted_avx512(
    keys: &[u32],
    lo: u32,
    shift: u32,
    starts: &[u32],
    slot: &[u8; BUCKETS],
    picked: &mut [u32],
    fill: &mut [usize; MAX_RANKS + 1],
) {
    use std::arch::x86_64::{_mm512_cmple_epu32_mask, _mm512_loadu_si512, _mm512_set1_epi32, _mm512_sub_epi32};
    // Keys of a bucket are `start..=start + last` (shift is at most 28).
    let last = _mm512_set1_epi32(((1u32 << shift) - 1) as i32);
    let (groups, rest) = keys.as_chunks::<16>();
    for group in groups {
        // SAFETY: `group` is 16 u32, 64 readable bytes; the load asks no alignment.
        let k = unsafe { _mm512_loadu_si512(group.as_ptr().cast()) };
        let mut hit = 0u16;
        for &start in starts {
            hit |= _mm512_cmple_epu32_mask(_mm512_sub_epi32(k, _mm512_set1_epi32(start as i32)), last);
        }
        take_hits(group, u32::from(hit), lo, shift, slot, picked, fill);
    }
    take_hits(rest, (1 << rest.len()) - 1, lo, shift, slot, picked, fill);
}

/// [`copy_wanted`] with AVX2, for machines without AVX-512: 32 keys at a time, in four vectors
/// of eight, are tested against the wanted buckets' key ranges, with neighbouring wanted
/// buckets (the two ranks around a quantile usually share one, and close quantiles may take
/// adjacent ones) merged into one range, and only the keys found are copied, in key order.
/// AVX2 has no unsigned compare, so keys and bounds are compared as signed integers with their
/// top bit flipped, which keeps their order. On a Zen 3 without AVX-512 the key-by-key loop was
/// half of the selection, and a loop of eight keys at a time, with a branch and a broadcast of
/// the bounds per eight keys, 36% of a series; with 32 at a time a series of 10,000 takes 19.1
/// instead of 25.1 us (4 December).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
fn copy_wanted_avx2(
    keys: &[u32],
    lo: u32,
    shift: u32,
    starts: &[u32],
    slot: &[u8; BUCKETS],
    picked: &mut [u32],
    fill: &mut [usize; MAX_RANKS + 1],
) {
    use std::arch::x86_64::*;
    // The wanted key ranges, `first..=last` with the top bit flipped; `starts` ascend.
    let span = (1u32 << shift) - 1;
    let mut ranges = [(0i32, 0i32); MAX_RANKS];
    let mut n = 0;
    let mut prev_last: Option<u32> = None;
    for &start in starts {
        let last = start.saturating_add(span);
        match prev_last {
            Some(p) if start <= p.saturating_add(1) => ranges[n - 1].1 = (last ^ (1 << 31)) as i32,
            _ => {
                ranges[n] = ((start ^ (1 << 31)) as i32, (last ^ (1 << 31)) as i32);
                n += 1;
            }
        }
        prev_last = Some(last);
    }
    let ranges = &ranges[..n];
    let flip = _mm256_set1_epi32(i32::MIN);
    // Thirty-two keys at a time: each range's bounds are broadcast once for four vectors, and
    // one branch asks whether any of the 32 was found (almost never), so the loop spends its
    // time comparing rather than on loads of the bounds and on branches.
    let (quads, tail) = keys.as_chunks::<32>();
    for quad in quads {
        let p = quad.as_ptr();
        // SAFETY: `quad` is 32 u32, 128 readable bytes; the loads ask no alignment.
        let k: [__m256i; 4] = std::array::from_fn(|v| _mm256_xor_si256(unsafe { _mm256_loadu_si256(p.add(8 * v).cast()) }, flip));
        let mut miss = [_mm256_set1_epi32(-1); 4];
        for &(first, last) in ranges {
            let (first, last) = (_mm256_set1_epi32(first), _mm256_set1_epi32(last));
            for v in 0..4 {
                let outside = _mm256_or_si256(_mm256_cmpgt_epi32(first, k[v]), _mm256_cmpgt_epi32(k[v], last));
                miss[v] = _mm256_and_si256(miss[v], outside);
            }
        }
        let mut hit = 0u32;
        for (v, m) in miss.iter().enumerate() {
            hit |= (!(_mm256_movemask_ps(_mm256_castsi256_ps(*m)) as u32) & 0xFF) << (8 * v);
        }
        if hit != 0 {
            take_hits(quad, hit, lo, shift, slot, picked, fill);
        }
    }
    let (groups, rest) = tail.as_chunks::<8>();
    for group in groups {
        // SAFETY: `group` is 8 u32, 32 readable bytes; the load asks no alignment.
        let k = _mm256_xor_si256(unsafe { _mm256_loadu_si256(group.as_ptr().cast()) }, flip);
        let mut miss = _mm256_set1_epi32(-1);
        for &(first, last) in ranges {
            let outside = _mm256_or_si256(
                _mm256_cmpgt_epi32(_mm256_set1_epi32(first), k),
                _mm256_cmpgt_epi32(k, _mm256_set1_epi32(last)),
            );
            miss = _mm256_and_si256(miss, outside);
        }
        let hit = !(_mm256_movemask_ps(_mm256_castsi256_ps(miss)) as u32) & 0xFF;
        take_hits(group, hit, lo, shift, slot, picked, fill);
    }
    take_hits(rest, (1 << rest.len()) - 1, lo, shift, slot, picked, fill);
}

/// [`take_key`] for the keys of `group` whose bits are set in `hit`, in key order (a vector
/// copy's keys found in wanted buckets; `group` is at most 32 keys).
#[inline(always)]
fn take_hits(
    group: &[u32],
    mut hit: u32,
    lo: u32,
    shift: u32,
    slot: &[u8; BUCKETS],
    picked: &mut [u32],
    fill: &mut [usize; MAX_RANKS + 1],
) {
    while hit != 0 {
        let l = hit.trailing_zeros() as usize;
        take_key(group[l], lo, shift, slot, picked, fill);
        hit &= hit - 1;
    }
}

/// The first pass of [`Selector::stats`] over the leading multiple of 16 values, sixteen at a
/// time: each value's key into `keys`, the finite values added into the eight `f64` lanes of
/// `acc` (value `i` into lane `i % 8`, in order: the same additions as the loop over eight),
/// their number added to `count`, and the smallest and largest key (of every value) folded into
/// `lo` and `hi`. Returns how many values it took. Left to LLVM, the eight-lane loop came out in
/// 128-bit pieces with the lanes' counts moved through scalar registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn first_pass_avx512(values: &[f32], keys: &mut [u32], acc: &mut [f64; 8], count: &mut usize, lo: &mut u32, hi: &mut u32) -> usize {
    use std::arch::x86_64::*;
    let (groups, _) = values.as_chunks::<16>();
    let (key_groups, _) = keys.as_chunks_mut::<16>();
    // SAFETY (every load and store below): `acc` is 8 f64 and each group 16 f32 or u32, 64
    // bytes; the unaligned forms ask no alignment.
    let mut sum = unsafe { _mm512_loadu_pd(acc.as_ptr()) };
    let (mut kmin, mut kmax) = (_mm512_set1_epi32(-1), _mm512_setzero_si512());
    let magnitude = _mm512_set1_epi32(0x7FFF_FFFF);
    let infinity = _mm512_set1_epi32(0x7F80_0000);
    let sign = _mm512_set1_epi32(i32::MIN);
    let mut finite_values = 0usize;
    let mut taken = 0;
    for (vs, ks) in groups.iter().zip(key_groups.iter_mut()) {
        taken += 16;
        let v = unsafe { _mm512_loadu_ps(vs.as_ptr()) };
        // -0 becomes +0 for the key, as in `key`.
        let b = _mm512_castps_si512(_mm512_add_ps(v, _mm512_setzero_ps()));
        let finite = _mm512_cmplt_epi32_mask(_mm512_and_si512(b, magnitude), infinity);
        finite_values += finite.count_ones() as usize;
        // Negative: all bits flipped; otherwise the sign bit set (`key`).
        let k = _mm512_xor_si512(b, _mm512_or_si512(_mm512_srai_epi32::<31>(b), sign));
        unsafe { _mm512_storeu_si512(ks.as_mut_ptr().cast(), k) };
        kmin = _mm512_min_epu32(kmin, k);
        kmax = _mm512_max_epu32(kmax, k);
        // Values 0..8 then 8..16 of the group, a non-finite one as +0 (the loop's `else 0.0`).
        let first = _mm512_maskz_cvtps_pd(finite as u8, _mm512_castps512_ps256(v));
        sum = _mm512_add_pd(sum, first);
        let second = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
        sum = _mm512_add_pd(sum, _mm512_maskz_cvtps_pd((finite >> 8) as u8, second));
    }
    unsafe { _mm512_storeu_pd(acc.as_mut_ptr(), sum) };
    *count += finite_values;
    *lo = (*lo).min(_mm512_reduce_min_epu32(kmin));
    *hi = (*hi).max(_mm512_reduce_max_epu32(kmax));
    taken
}

/// [`first_pass_avx512`] with AVX2, eight values at a time (the leading multiple of 8), the
/// same keys, sums in the same lanes and order, count and range. The loop LLVM made of the
/// eight-lane loop in the AVX2 build took a fifth of a series' selection.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn first_pass_avx2(values: &[f32], keys: &mut [u32], acc: &mut [f64; 8], count: &mut usize, lo: &mut u32, hi: &mut u32) -> usize {
    use std::arch::x86_64::*;
    let (groups, _) = values.as_chunks::<8>();
    let (key_groups, _) = keys.as_chunks_mut::<8>();
    // SAFETY (every load and store below): `acc` is 8 f64 (two halves of 4) and each group 8
    // f32 or u32, 32 bytes; the unaligned forms ask no alignment.
    let (mut sum_lo, mut sum_hi) = unsafe { (_mm256_loadu_pd(acc.as_ptr()), _mm256_loadu_pd(acc.as_ptr().add(4))) };
    let (mut kmin, mut kmax) = (_mm256_set1_epi32(-1), _mm256_setzero_si256());
    let magnitude = _mm256_set1_epi32(0x7FFF_FFFF);
    let infinity = _mm256_set1_epi32(0x7F80_0000);
    let sign = _mm256_set1_epi32(i32::MIN);
    let mut finite_values = 0usize;
    let mut taken = 0;
    for (vs, ks) in groups.iter().zip(key_groups.iter_mut()) {
        taken += 8;
        let v = unsafe { _mm256_loadu_ps(vs.as_ptr()) };
        // -0 becomes +0 for the key, as in `key`.
        let b = _mm256_castps_si256(_mm256_add_ps(v, _mm256_setzero_ps()));
        // |bits| below those of infinity: finite (both sides below 2^31, so the signed
        // comparison is the unsigned one).
        let finite = _mm256_cmpgt_epi32(infinity, _mm256_and_si256(b, magnitude));
        finite_values += (_mm256_movemask_ps(_mm256_castsi256_ps(finite)) as u32).count_ones() as usize;
        // Negative: all bits flipped; otherwise the sign bit set (`key`).
        let k = _mm256_xor_si256(b, _mm256_or_si256(_mm256_srai_epi32::<31>(b), sign));
        unsafe { _mm256_storeu_si256(ks.as_mut_ptr().cast(), k) };
        kmin = _mm256_min_epu32(kmin, k);
        kmax = _mm256_max_epu32(kmax, k);
        // A non-finite value as +0 (the loop's `else 0.0`), values 0..4 and 4..8 of the group.
        let kept = _mm256_and_ps(v, _mm256_castsi256_ps(finite));
        sum_lo = _mm256_add_pd(sum_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(kept)));
        sum_hi = _mm256_add_pd(sum_hi, _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(kept)));
    }
    unsafe {
        _mm256_storeu_pd(acc.as_mut_ptr(), sum_lo);
        _mm256_storeu_pd(acc.as_mut_ptr().add(4), sum_hi);
    }
    *count += finite_values;
    let mut lanes = [0u32; 8];
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), kmin) };
    *lo = lanes.iter().copied().fold(*lo, u32::min);
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), kmax) };
    *hi = lanes.iter().copied().fold(*hi, u32::max);
    taken
}

/// The `p` quantile (type 7) of the finite values, rearranging them in place; `None` when
/// there are none.
pub fn quantile_f64(values: &mut Vec<f64>, p: f64) -> Option<f64> {
    values.retain(|v| v.is_finite());
    let n = values.len();
    if n == 0 {
        return None;
    }
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    let (_, a, right) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let a = *a;
    let frac = h - lo as f64;
    if frac == 0.0 || right.is_empty() {
        return Some(a);
    }
    let b = right.iter().copied().fold(f64::INFINITY, f64::min);
    Some(a + frac * (b - a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::montecarlo::summary::quantile_sorted;

    fn by_sorting(values: &[f32]) -> Option<SummaryStats> {
        let mut v: Vec<f64> = values.iter().filter(|v| v.is_finite()).map(|v| f64::from(*v + 0.0)).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let mut quantiles = [0.0; 7];
        for (q, p) in quantiles.iter_mut().zip(QUANTILES) {
            *q = quantile_sorted(&v, p);
        }
        Some(SummaryStats { mean: 0.0, quantiles })
    }

    /// The mean as [`Selector::stats`] specifies it: value `i` added into lane `i % 8` of eight
    /// `f64` sums (a non-finite one as +0, except in the tail after the last eight), the lanes
    /// added in a fixed tree.
    fn mean_by_lanes(values: &[f32]) -> f64 {
        let mut acc = [0.0f64; 8];
        let mut n = 0;
        let done = values.len() - values.len() % 8;
        for (i, v) in values.iter().enumerate() {
            if v.is_finite() {
                acc[i % 8] += f64::from(*v);
                n += 1;
            } else if i < done {
                acc[i % 8] += 0.0;
            }
        }
        let sum = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
        sum / n as f64
    }

    fn check(values: &[f32]) {
        let got = Selector::default().stats(values);
        let want = by_sorting(values);
        assert_eq!(got.is_some(), want.is_some());
        if let Some(g) = &got {
            // The same bits in every build (the AVX-512 first pass takes sixteen at a time).
            assert_eq!(g.mean.to_bits(), mean_by_lanes(values).to_bits(), "mean of {} values", values.len());
        }
        if let (Some(g), Some(w)) = (got, want) {
            for (a, b) in g.quantiles.iter().zip(w.quantiles) {
                // Same order statistics; the interpolation may differ in the last bit.
                assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{:?} vs {:?}", g.quantiles, w.quantiles);
            }
        }
    }

    #[test]
    fn agrees_with_sorting_on_awkward_series() {
        let mut x: u64 = 7;
        let mut next = || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 40) as f32 / (1u64 << 24) as f32
        };
        let smooth: Vec<f32> = (0..10_000).map(|_| 1000.0 + 50.0 * next()).collect();
        check(&smooth);
        // One outlier far away: every other value lands in one bucket at the first level.
        let mut outlier = smooth.clone();
        outlier[17] = 1e30;
        check(&outlier);
        // Few distinct values, negatives, zeros of both signs, undefined values.
        let coarse: Vec<f32> = (0..5000).map(|i| ((i * 7919) % 5) as f32 - 2.0).collect();
        check(&coarse);
        let mut signed = smooth.iter().map(|v| v - 1025.0).collect::<Vec<_>>();
        signed.extend([0.0, -0.0, f32::NAN, f32::INFINITY, -1e-30, 1e-30]);
        check(&signed);
        check(&[3.0]);
        check(&[2.0, 1.0]);
        check(&[f32::NAN, 4.0, 2.0]);
        check(&[f32::NAN]);
        check(&(0..100).map(|i| i as f32).collect::<Vec<_>>());
    }

    /// The AVX-512 and AVX2 copies of the wanted buckets' keys give the key-by-key loop's keys
    /// in its order, whatever the wanted buckets (adjacent ones too, which the AVX2 copy
    /// merges) and the length (a tail shorter than a vector).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_copy_of_wanted_keys_matches_the_key_by_key_loop() {
        let avx512 = std::arch::is_x86_feature_detected!("avx512f");
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        let mut x: u64 = 11;
        let mut next = || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) as u32
        };
        // Keys spread over the 2,048 buckets of 2^shift keys from `lo`; the wanted buckets are
        // those of the keys at the positions given (none for the last case).
        for (len, shift, at) in [
            (10_000, 21, vec![0usize, 3, 5000, 9999]),
            (37, 10, vec![36]),
            (15, 0, vec![7, 8]),
            (4096, 4, vec![]),
            (10_000, 20, vec![10, 11, 12, 13, 500, 501, 4000, 4001, 4002]),
            (9, 31 - 11, vec![0, 8]),
        ] {
            let lo = 1000u32;
            let keys: Vec<u32> = (0..len).map(|_| lo + (next() >> (32 - 11 - shift))).collect();
            let mut wanted: Vec<usize> = at.iter().map(|&i| ((keys[i] - lo) >> shift) as usize).collect();
            wanted.sort_unstable();
            wanted.dedup();
            // The first and last keys of each wanted bucket, and their neighbours in the
            // buckets around it.
            let mut keys = keys;
            for &b in &wanted {
                let first = lo + ((b as u32) << shift);
                let last = first + ((1u32 << shift) - 1);
                keys.extend([first, last]);
                keys.extend((b > 0).then(|| first - 1));
                keys.extend((b < BUCKETS - 1).then(|| last + 1));
            }
            let mut slot = Box::new([NOT_WANTED; BUCKETS]);
            let mut offset = [0usize; MAX_RANKS + 1];
            for (i, &b) in wanted.iter().enumerate() {
                slot[b] = i as u8;
                let n = keys.iter().filter(|&&k| ((k - lo) >> shift) as usize == b).count();
                offset[i + 1] = offset[i] + n;
            }
            let starts: Vec<u32> = wanted.iter().map(|&b| lo + ((b as u32) << shift)).collect();
            let total = offset[wanted.len()];
            let mut a = vec![0u32; total];
            let mut fa = offset;
            copy_wanted_scalar(&keys, lo, shift, &slot, &mut a, &mut fa);
            assert!(total > 0 || wanted.is_empty());
            if avx512 {
                let (mut b, mut fb) = (vec![0u32; total], offset);
                // SAFETY: the CPU has AVX-512 F (checked above).
                unsafe { copy_wanted_avx512(&keys, lo, shift, &starts, &slot, &mut b, &mut fb) };
                assert_eq!(a, b, "AVX-512, {len} keys, shift {shift}");
                assert_eq!(fa, fb);
            }
            if avx2 {
                let (mut b, mut fb) = (vec![0u32; total], offset);
                // SAFETY: the CPU has AVX2 (checked above).
                unsafe { copy_wanted_avx2(&keys, lo, shift, &starts, &slot, &mut b, &mut fb) };
                assert_eq!(a, b, "AVX2, {len} keys, shift {shift}");
                assert_eq!(fa, fb);
            }
        }
    }

    /// The vector first passes against the eight-lane loop they stand for: the same keys, the
    /// same bits in every lane of the sum, the same count and range, on values with NaN, both
    /// infinities, both zeros, subnormals and negatives, at lengths that leave a remainder.
    /// A first pass over the test's values: keys, sums, count, smallest and largest key.
    #[cfg(target_arch = "x86_64")]
    type FirstPass<'a> = dyn Fn(&mut [u32], &mut [f64; 8], &mut usize, &mut u32, &mut u32) -> usize + 'a;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_first_passes_match_the_eight_lane_loop() {
        let avx512 = std::arch::is_x86_feature_detected!("avx512f");
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        let mut x: u64 = 5;
        let mut next = || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            x >> 32
        };
        let odd = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1e-40, -1e-40, -3.5];
        for len in [0usize, 7, 8, 16, 31, 33, 1000, 10_001] {
            let values: Vec<f32> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 5 == 0 {
                        odd[(r / 5 % 8) as usize]
                    } else {
                        (r % 100_000) as f32 * 0.37 - 9000.0
                    }
                })
                .collect();
            // The loop of `Selector::stats` over whole groups of eight.
            let done = len - len % 8;
            let (mut keys, mut acc, mut count, mut lo, mut hi) = (vec![0u32; len], [0.0f64; 8], 0usize, u32::MAX, 0u32);
            for i in 0..done {
                let ok = values[i].is_finite();
                acc[i % 8] += if ok { f64::from(values[i]) } else { 0.0 };
                count += usize::from(ok);
                keys[i] = key(values[i]);
                lo = lo.min(keys[i]);
                hi = hi.max(keys[i]);
            }
            let bits = |a: &[f64; 8]| a.map(f64::to_bits);
            let check = |name: &str, pass: &FirstPass<'_>| {
                let (mut k, mut a, mut c, mut l, mut h) = (vec![0u32; len], [0.0f64; 8], 0usize, u32::MAX, 0u32);
                let taken = pass(&mut k, &mut a, &mut c, &mut l, &mut h);
                assert!(taken <= done && taken.is_multiple_of(8), "{name}, {len} values: took {taken}");
                // The rest is the loop's, as in `Selector::stats`.
                for i in taken..done {
                    let ok = values[i].is_finite();
                    a[i % 8] += if ok { f64::from(values[i]) } else { 0.0 };
                    c += usize::from(ok);
                    k[i] = key(values[i]);
                    l = l.min(k[i]);
                    h = h.max(k[i]);
                }
                assert_eq!(k[..done], keys[..done], "{name}, {len} values: keys");
                assert_eq!(bits(&a), bits(&acc), "{name}, {len} values: sums");
                assert_eq!((c, l, h), (count, lo, hi), "{name}, {len} values: count and range");
            };
            if avx2 {
                // SAFETY: the CPU has AVX2 (checked above).
                check("AVX2", &|k, a, c, l, h| unsafe { first_pass_avx2(&values, k, a, c, l, h) });
            }
            if avx512 {
                // SAFETY: the CPU has AVX-512 F (checked above).
                check("AVX-512", &|k, a, c, l, h| unsafe { first_pass_avx512(&values, k, a, c, l, h) });
            }
        }
    }

    #[test]
    fn mean_skips_undefined_values() {
        let s = Selector::default().stats(&[f32::NAN, 2.0, 4.0]).unwrap();
        assert_eq!(s.mean, 3.0);
        assert_eq!(s.quantiles[3], 3.0);
    }

    #[test]
    fn single_quantile_matches_numpy() {
        // numpy.quantile([1, 2, 3, 4, 10], [0.05, 0.5, 0.9]) = [1.2, 3.0, 7.6]
        let v = vec![10.0, 2.0, 4.0, 1.0, 3.0, f64::NAN];
        assert!((quantile_f64(&mut v.clone(), 0.05).unwrap() - 1.2).abs() < 1e-12);
        assert_eq!(quantile_f64(&mut v.clone(), 0.5), Some(3.0));
        assert!((quantile_f64(&mut v.clone(), 0.9).unwrap() - 7.6).abs() < 1e-12);
        assert_eq!(quantile_f64(&mut vec![f64::NAN], 0.5), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]

        /// Any series, of any length, with any values: the same order statistics as a sort.
        #[test]
        fn selection_equals_sorting(values in proptest::collection::vec(proptest::prelude::any::<f32>(), 1..3000)) {
            check(&values);
        }

        /// Series long enough to be counted in four histograms, with few distinct values (the
        /// case those are for) or any values.
        #[test]
        fn long_series_equal_sorting(
            values in proptest::collection::vec(proptest::prelude::any::<f32>(), 4096..12_000),
            distinct in 1u32..20,
        ) {
            check(&values);
            let coarse: Vec<f32> = values.iter().map(|v| (v.to_bits() % distinct) as f32 * 0.5).collect();
            check(&coarse);
        }
    }
}
