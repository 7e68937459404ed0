//! Bed capacity: the base stock and the build plan as it is realised in one draw.
//!
//! Each plan item is sampled once per draw from its own stream (cancellation, delay, delivered
//! share, size or budget and cost per bed, nursing share, always in this order and always all of
//! them, so a change to one parameter does not shift the others), then split over its regions by
//! their shares and phased over the delivery years. The effects of a year's deliveries are
//! applied in a fixed order: additions and closures, then conversions of general beds to nursing
//! beds (limited to the general beds there are). The observed stock is the stock before any
//! delivery of the stock year; years before the stock year report the observed stock.

use rand::RngExt;

use crate::montecarlo::streams::{Purpose, stream};
use crate::scenario::{ItemKind, ItemSize, NursingStock, Scenario};

/// Beds of one region in one draw, by year index (0 = base year).
#[derive(Debug, Clone)]
pub struct CapacityPath {
    pub institutional: Vec<f64>,
    pub nursing: Vec<f64>,
    pub community: Vec<f64>,
    /// Certified caregivers by year index.
    pub caregivers: Vec<f64>,
    /// Institutional beds demanded by seasonal (migratory) elderly, by year index.
    pub seasonal: Vec<f64>,
    add_inst: Vec<f64>,
    add_nurs: Vec<f64>,
    convert: Vec<f64>,
    close_inst: Vec<f64>,
    close_nurs: Vec<f64>,
    add_comm: Vec<f64>,
}

impl CapacityPath {
    /// Scratch space for `n_years` years, reused across draws (no allocation in the loop).
    pub fn new(n_years: usize) -> Self {
        let z = vec![0.0; n_years];
        CapacityPath {
            institutional: z.clone(),
            nursing: z.clone(),
            community: z.clone(),
            caregivers: z.clone(),
            seasonal: z.clone(),
            add_inst: z.clone(),
            add_nurs: z.clone(),
            convert: z.clone(),
            close_inst: z.clone(),
            close_nurs: z.clone(),
            add_comm: z,
        }
    }
}

/// One plan item as realised in one draw (before splitting over regions).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Realised {
    pub cancelled: bool,
    pub delay_years: i32,
    /// Beds actually delivered in total.
    pub beds: f64,
    pub nursing_share: f64,
}

/// Samples a plan item for one draw.
pub fn realise_item(s: &Scenario, item: usize, draw: u64) -> Realised {
    let it = &s.plan[item];
    let mut rng = stream(s.seed, Purpose::PlanItem, draw, it.key);
    let u: f64 = rng.random();
    let delay = it.delay.sample(&mut rng).round() as i32;
    let delivered = it.delivered_share.sample(&mut rng);
    let planned = match &it.size {
        ItemSize::Beds(b) => b.sample(&mut rng),
        ItemSize::Budget { yuan, cost_per_bed } => {
            let money = yuan.sample(&mut rng);
            money / cost_per_bed.sample(&mut rng)
        }
    };
    let nursing_share = it.nursing_share.sample(&mut rng);
    let cancelled = u < it.cancel_probability;
    Realised {
        cancelled,
        delay_years: delay,
        beds: if cancelled { 0.0 } else { planned * delivered },
        nursing_share,
    }
}

/// The sampled values of the stock, plan, caregiver and seasonal entries in a few draws, kept
/// so that an entry shared by many regions (a national stock split over 3,000 counties) is
/// sampled once per draw, not once per region. Each entry has `slots` places, one per draw of a
/// block; a place holds the values of the draw in its stamp.
pub struct EntryCache {
    slots: usize,
    stock: Vec<(u64, [f64; 3])>,
    items: Vec<(u64, Realised)>,
    caregivers: Vec<(u64, [f64; 3])>,
    seasonal: Vec<(u64, [f64; 3])>,
}

const NO_REALISATION: Realised = Realised {
    cancelled: true,
    delay_years: 0,
    beds: 0.0,
    nursing_share: 0.0,
};

impl EntryCache {
    /// A cache with `slots` places per entry.
    pub fn new(s: &Scenario, slots: usize) -> EntryCache {
        let slots = slots.max(1);
        EntryCache {
            slots,
            stock: vec![(0, [0.0; 3]); s.capacity.stock.len() * slots],
            items: vec![(0, NO_REALISATION); s.plan.len() * slots],
            caregivers: vec![(0, [0.0; 3]); s.capacity.caregivers.len() * slots],
            seasonal: vec![(0, [0.0; 3]); s.capacity.seasonal.len() * slots],
        }
    }
}

/// Returns the cached value for `draw`, computing it on first use. Stamps are `draw + 1`, so a
/// fresh cache (stamps 0) holds nothing.
fn cached<T: Copy>(slot: &mut (u64, T), draw: u64, compute: impl FnOnce() -> T) -> T {
    if slot.0 != draw + 1 {
        *slot = (draw + 1, compute());
    }
    slot.1
}

/// Fills `cap` with region `r`'s beds in every year of one draw.
pub fn realise(s: &Scenario, r: usize, draw: u64, cap: &mut CapacityPath) {
    realise_cached(s, r, draw, 0, &mut EntryCache::new(s, 1), cap);
}

/// [`realise`] with the entries' samples kept in place `slot` of `cache` for the other regions
/// of the draw.
pub fn realise_cached(s: &Scenario, r: usize, draw: u64, slot: usize, cache: &mut EntryCache, cap: &mut CapacityPath) {
    let slots = cache.slots;
    let at = |e: usize| e * slots + slot;
    let region = &s.regions[r];
    let n_years = s.n_years();
    for v in [
        &mut cap.add_inst,
        &mut cap.add_nurs,
        &mut cap.convert,
        &mut cap.close_inst,
        &mut cap.close_nurs,
        &mut cap.add_comm,
    ] {
        v.iter_mut().for_each(|x| *x = 0.0);
    }
    let (mut inst, mut nurs, mut comm) = (0.0, 0.0, 0.0);
    for &(e, w) in &region.stock_entries {
        let [i, n, c] = cached(&mut cache.stock[at(e)], draw, || {
            let entry = &s.capacity.stock[e];
            let mut rng = stream(s.seed, Purpose::Stock, draw, entry.key);
            let i = entry.institutional.sample(&mut rng);
            let n = match &entry.nursing {
                NursingStock::Beds(d) => d.sample(&mut rng).min(i),
                NursingStock::Share(d) => d.sample(&mut rng) * i,
            };
            [i, n, entry.community.sample(&mut rng)]
        });
        inst += w * i;
        nurs += w * n;
        comm += w * c;
    }
    for &(item, w) in &region.plan_items {
        let it = &s.plan[item];
        let real = cached(&mut cache.items[at(item)], draw, || realise_item(s, item, draw));
        if real.cancelled {
            continue;
        }
        for (k, share) in it.phasing.iter().enumerate() {
            let year = it.year + real.delay_years + k as i32;
            if year > s.horizon {
                break;
            }
            let yi = (year - s.base_year) as usize;
            let beds = w * real.beds * share;
            match it.kind {
                ItemKind::New | ItemKind::Expansion => {
                    cap.add_inst[yi] += beds;
                    cap.add_nurs[yi] += beds * real.nursing_share;
                }
                ItemKind::Conversion => cap.convert[yi] += beds,
                ItemKind::Closure => {
                    cap.close_inst[yi] += beds;
                    cap.close_nurs[yi] += beds * real.nursing_share;
                }
                ItemKind::Community => cap.add_comm[yi] += beds,
            }
        }
    }
    let stock_index = (s.capacity.stock_year - s.base_year) as usize;
    cap.caregivers.iter_mut().for_each(|x| *x = 0.0);
    for &(e, w) in &region.caregiver_entries {
        let [stock, trained, attrition] = cached(&mut cache.caregivers[at(e)], draw, || {
            let entry = &s.capacity.caregivers[e];
            let mut rng = stream(s.seed, Purpose::Caregivers, draw, entry.key);
            [
                entry.stock.sample(&mut rng),
                entry.trained_per_year.sample(&mut rng),
                entry.attrition.sample(&mut rng),
            ]
        });
        // The stock stands until the stock year; each later year loses a share and gains the
        // newly certified.
        let mut c = w * stock;
        for (yi, slot) in cap.caregivers.iter_mut().enumerate() {
            if yi > stock_index {
                c = c * (1.0 - attrition) + w * trained;
            }
            *slot += c;
        }
    }
    cap.seasonal.iter_mut().for_each(|x| *x = 0.0);
    for &(e, w) in &region.seasonal_entries {
        let [elderly, growth, uptake] = cached(&mut cache.seasonal[at(e)], draw, || {
            let entry = &s.capacity.seasonal[e];
            let mut rng = stream(s.seed, Purpose::Seasonal, draw, entry.key);
            [
                entry.elderly.sample(&mut rng),
                entry.growth.sample(&mut rng),
                entry.institutional_uptake.sample(&mut rng),
            ]
        });
        for (yi, slot) in cap.seasonal.iter_mut().enumerate() {
            *slot += w * elderly * (1.0 + growth).powi(yi as i32) * uptake;
        }
    }
    for yi in 0..n_years {
        if yi >= stock_index {
            inst = (inst + cap.add_inst[yi] - cap.close_inst[yi]).max(0.0);
            nurs = (nurs + cap.add_nurs[yi] - cap.close_nurs[yi]).clamp(0.0, inst);
            nurs += cap.convert[yi].min(inst - nurs);
            comm += cap.add_comm[yi];
        }
        cap.institutional[yi] = inst;
        cap.nursing[yi] = nurs;
        cap.community[yi] = comm;
    }
}
