//! Bed capacity: the base stock and the build plan as it is realised in one draw.
//!
//! Every sampled field has its own stream, keyed by its entity (a plan item, a stock entry, by
//! id or by what it covers) and its name, so a change to one parameter, or a sampler that uses a
//! variable number of random numbers, does not shift any other value of the draw.
//!
//! A plan item is a programme of `projects` projects. Its planned size (beds, or a budget) is
//! sampled once per draw and shared equally by the projects. The programme has a common fate
//! per draw (cancellation, delay, delivered share, cost per bed, nursing share); each project
//! follows it with probability `shared` (sampled per draw), and is otherwise realised on its
//! own. A programme of one project is the whole item; of many, each project lies in one region.
//! Deliveries are phased over the years from the (delayed) delivery year, and a year's
//! deliveries are taken to be spread evenly over it. The effects of a year are applied in a
//! fixed order: additions and closures, then conversions of general beds to nursing beds
//! (limited to the general beds there are). The observed stock stands at its date in the stock
//! year: of that year's deliveries (and caregiver training and attrition) only the part after
//! the date is added; years before the stock year report the observed stock.

use rand::RngExt;

use crate::scenario::{ItemKind, ItemSize, NursingStock, PlanItem, Scenario};
use crate::streams::{Purpose, StreamRng, field_key, field_stream};

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

/// One project of a plan item as realised in one draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Realised {
    pub cancelled: bool,
    pub delay_years: i32,
    /// Beds actually delivered by the project (0 when cancelled).
    pub beds: f64,
    pub nursing_share: f64,
}

/// A value of a field: a fixed value draws nothing.
fn sample(d: &crate::dist::Dist, rng: impl FnOnce() -> StreamRng) -> f64 {
    match d.as_fixed() {
        Some(v) => v,
        None => d.sample(&mut rng()),
    }
}

/// The fate of a project, or of the programme in common, from the streams of `entity`: whether
/// it is cancelled, its delay, delivered share, cost per bed (budget items) and nursing share.
struct Fate {
    cancelled: bool,
    delay_years: i32,
    delivered: f64,
    cost_per_bed: f64,
    nursing_share: f64,
}

fn fate(s: &Scenario, it: &PlanItem, draw: u64, entity: u64) -> Fate {
    let f = |field: &'static str| move || field_stream(s.seed, Purpose::PlanItem, draw, entity, field);
    let u: f64 = if it.cancel_probability > 0.0 { f("cancel")().random() } else { 1.0 };
    Fate {
        cancelled: u < it.cancel_probability,
        delay_years: sample(&it.delay, f("delay")).round() as i32,
        delivered: sample(&it.delivered_share, f("delivered_share")),
        cost_per_bed: match &it.size {
            ItemSize::Budget { cost_per_bed, .. } => sample(cost_per_bed, f("cost_per_bed")),
            ItemSize::Beds(_) => 1.0,
        },
        nursing_share: sample(&it.nursing_share, f("nursing_share")),
    }
}

/// Realises every project of plan item `item` in one draw into `out` (resized to the item's
/// projects).
pub fn realise_item(s: &Scenario, item: usize, draw: u64, out: &mut Vec<Realised>) {
    let it = &s.plan[item];
    let n = it.projects.max(1);
    let f = |field: &'static str| move || field_stream(s.seed, Purpose::PlanItem, draw, it.key, field);
    // The planned size, shared equally by the projects: beds, or a budget.
    let planned = match &it.size {
        ItemSize::Beds(b) => sample(b, f("size")),
        ItemSize::Budget { yuan, .. } => sample(yuan, f("size")),
    } / n as f64;
    let common = fate(s, it, draw, it.key);
    let shared = if n > 1 { sample(&it.shared, f("shared")) } else { 1.0 };
    out.clear();
    for j in 0..n {
        let project = field_key(it.key, &format!("project {j}"));
        let follows = n == 1 || {
            let u: f64 = field_stream(s.seed, Purpose::PlanItem, draw, project, "follows").random();
            u < shared
        };
        let own;
        let fa = if follows {
            &common
        } else {
            own = fate(s, it, draw, project);
            &own
        };
        let beds = match &it.size {
            ItemSize::Beds(_) => planned,
            ItemSize::Budget { .. } => planned / fa.cost_per_bed,
        };
        out.push(Realised {
            cancelled: fa.cancelled,
            delay_years: fa.delay_years,
            beds: if fa.cancelled { 0.0 } else { beds * fa.delivered },
            nursing_share: fa.nursing_share,
        });
    }
}

/// The offset in [0, 1) that places a programme's projects in its regions in one draw (see
/// [`crate::scenario::PlanLink::projects`]); 0 for an item of one project.
pub fn allocation_offset(s: &Scenario, item: usize, draw: u64) -> f64 {
    let it = &s.plan[item];
    if it.projects <= 1 {
        return 0.0;
    }
    field_stream(s.seed, Purpose::PlanItem, draw, it.key, "allocation").random()
}

/// Regions whose supply is one share of the same entries.
///
/// Most regions of a national scenario hold a national stock and national plan items by one
/// share (their share of the elderly): every one of their entries has the same weight `w`.
/// Every step of [`realise_cached`] is positively homogeneous in the weights (sums, products by
/// a share, `max(0, x)`, `min(x, y)`), so such a region's beds are `w` times those of the same
/// entries at weight 1: those are realised once per draw for all the regions that share the
/// entries (a class), and each region only scales them. This gives the same values as
/// realising each region on its own, up to the rounding of the last bit of a double (which the
/// single-precision kernel does not keep).
#[derive(Debug, Clone)]
pub struct SupplyClasses {
    /// Per region: its class and weight, when its entries all share one weight. A region alone
    /// in its class is scaled too, so that a region's beds never depend on which other regions
    /// a scenario holds (a slice of a national scenario gives its rows of the whole).
    of_region: Vec<Option<(usize, f64)>>,
    /// Per class: its entries at weight 1.
    entries: Vec<Entries>,
}

/// The supply entries of a region, or of a class at weight 1.
#[derive(Debug, Clone, PartialEq)]
struct Entries {
    stock: Vec<(usize, f64)>,
    plan: Vec<crate::scenario::PlanLink>,
    caregivers: Vec<(usize, f64)>,
    seasonal: Vec<(usize, f64)>,
}

/// [`Entries`] borrowed.
#[derive(Clone, Copy)]
struct EntriesRef<'a> {
    stock: &'a [(usize, f64)],
    plan: &'a [crate::scenario::PlanLink],
    caregivers: &'a [(usize, f64)],
    seasonal: &'a [(usize, f64)],
}

impl Entries {
    fn as_ref(&self) -> EntriesRef<'_> {
        EntriesRef {
            stock: &self.stock,
            plan: &self.plan,
            caregivers: &self.caregivers,
            seasonal: &self.seasonal,
        }
    }
}

impl SupplyClasses {
    pub fn new(s: &Scenario) -> SupplyClasses {
        let mut keys: std::collections::HashMap<Vec<u64>, usize> = std::collections::HashMap::new();
        let mut entries: Vec<Entries> = Vec::new();
        let mut of_region: Vec<Option<(usize, f64)>> = Vec::with_capacity(s.regions.len());
        for region in &s.regions {
            // One weight for every entry (a programme's whole projects do not scale).
            let mut weights = region
                .stock_entries
                .iter()
                .map(|e| e.1)
                .chain(region.plan_items.iter().map(|l| if l.quota.is_some() { f64::NAN } else { l.share }))
                .chain(region.caregiver_entries.iter().map(|e| e.1))
                .chain(region.seasonal_entries.iter().map(|e| e.1));
            let w = weights.next();
            let one = match w {
                Some(w) if w.is_finite() && w > 0.0 && weights.all(|x| x == w) => Some(w),
                _ => None,
            };
            let Some(w) = one else {
                of_region.push(None);
                continue;
            };
            let key: Vec<u64> = region
                .stock_entries
                .iter()
                .map(|e| e.0 as u64)
                .chain([u64::MAX])
                .chain(region.plan_items.iter().map(|l| l.item as u64))
                .chain([u64::MAX])
                .chain(region.caregiver_entries.iter().map(|e| e.0 as u64))
                .chain([u64::MAX])
                .chain(region.seasonal_entries.iter().map(|e| e.0 as u64))
                .collect();
            let class = *keys.entry(key).or_insert_with(|| {
                entries.push(Entries {
                    stock: region.stock_entries.iter().map(|e| (e.0, 1.0)).collect(),
                    plan: region
                        .plan_items
                        .iter()
                        .map(|l| crate::scenario::PlanLink {
                            item: l.item,
                            share: 1.0,
                            quota: None,
                        })
                        .collect(),
                    caregivers: region.caregiver_entries.iter().map(|e| (e.0, 1.0)).collect(),
                    seasonal: region.seasonal_entries.iter().map(|e| (e.0, 1.0)).collect(),
                });
                entries.len() - 1
            });
            of_region.push(Some((class, w)));
        }
        SupplyClasses { of_region, entries }
    }

    /// No classes: every region realised on its own (the plain computation of [`realise`]).
    pub fn none(s: &Scenario) -> SupplyClasses {
        SupplyClasses {
            of_region: vec![None; s.regions.len()],
            entries: Vec::new(),
        }
    }

    /// Regions whose supply is scaled from their class's.
    pub fn scaled_regions(&self) -> usize {
        self.of_region.iter().filter(|c| c.is_some()).count()
    }
}

/// The sampled values of the stock, plan, caregiver and seasonal entries in a few draws, kept
/// so that an entry shared by many regions (a national stock split over 3,000 counties) is
/// sampled once per draw, not once per region. Each entry has `slots` places, one per draw of a
/// block; a place holds the values of the draw in its stamp. It also keeps, per class of
/// [`SupplyClasses`] and place, the class's beds at weight 1.
pub struct EntryCache {
    slots: usize,
    stock: Vec<(u64, [f64; 3])>,
    /// Per item and slot: the stamp, the item's projects and its allocation offset.
    items: Vec<(u64, Vec<Realised>, f64)>,
    caregivers: Vec<(u64, [f64; 3])>,
    seasonal: Vec<(u64, [f64; 3])>,
    classes: std::sync::Arc<SupplyClasses>,
    /// Per class and slot: the stamp and the class's path at weight 1.
    class_paths: Vec<(u64, Option<Box<CapacityPath>>)>,
}

impl EntryCache {
    /// A cache with `slots` places per entry.
    pub fn new(s: &Scenario, slots: usize) -> EntryCache {
        EntryCache::with_classes(s, slots, std::sync::Arc::new(SupplyClasses::new(s)))
    }

    /// A cache with `slots` places per entry, for the classes of `s` made once.
    pub fn with_classes(s: &Scenario, slots: usize, classes: std::sync::Arc<SupplyClasses>) -> EntryCache {
        let slots = slots.max(1);
        EntryCache {
            slots,
            stock: vec![(0, [0.0; 3]); s.capacity.stock.len() * slots],
            items: (0..s.plan.len() * slots).map(|_| (0, Vec::new(), 0.0)).collect(),
            caregivers: vec![(0, [0.0; 3]); s.capacity.caregivers.len() * slots],
            seasonal: vec![(0, [0.0; 3]); s.capacity.seasonal.len() * slots],
            class_paths: (0..classes.entries.len() * slots).map(|_| (0, None)).collect(),
            classes,
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

/// Fills `cap` with region `r`'s beds in every year of one draw, realising the region on its own
/// (the plain computation the engine's class scaling is checked against).
pub fn realise(s: &Scenario, r: usize, draw: u64, cap: &mut CapacityPath) {
    let mut cache = EntryCache::with_classes(s, 1, std::sync::Arc::new(SupplyClasses::none(s)));
    realise_cached(s, r, draw, 0, &mut cache, cap);
}

/// [`realise`] with the entries' samples kept in place `slot` of `cache` for the other regions
/// of the draw.
pub fn realise_cached(s: &Scenario, r: usize, draw: u64, slot: usize, cache: &mut EntryCache, cap: &mut CapacityPath) {
    if let Some((class, w)) = cache.class_of(r) {
        let unit = class_path(s, class, draw, slot, cache);
        for (out, from) in [
            (&mut cap.institutional, &unit.institutional),
            (&mut cap.nursing, &unit.nursing),
            (&mut cap.community, &unit.community),
            (&mut cap.caregivers, &unit.caregivers),
            (&mut cap.seasonal, &unit.seasonal),
        ] {
            for (o, f) in out.iter_mut().zip(from) {
                *o = w * f;
            }
        }
        return;
    }
    let region = &s.regions[r];
    let entries = EntriesRef {
        stock: &region.stock_entries,
        plan: &region.plan_items,
        caregivers: &region.caregiver_entries,
        seasonal: &region.seasonal_entries,
    };
    realise_entries(s, entries, draw, slot, cache, cap);
}

impl EntryCache {
    /// Region `r`'s class and weight, when its beds are scaled from its class's
    /// ([`SupplyClasses`]): they are then `w` times [`class_path`]'s.
    pub fn class_of(&self, r: usize) -> Option<(usize, f64)> {
        self.classes.of_region.get(r).copied().flatten()
    }
}

/// The beds of `class` at weight 1 in `draw`, realised on first use and kept in place `slot`.
pub fn class_path<'c>(s: &Scenario, class: usize, draw: u64, slot: usize, cache: &'c mut EntryCache) -> &'c CapacityPath {
    let at = class * cache.slots + slot;
    if cache.class_paths[at].0 != draw + 1 {
        let mut path = cache.class_paths[at]
            .1
            .take()
            .unwrap_or_else(|| Box::new(CapacityPath::new(s.n_years())));
        let classes = std::sync::Arc::clone(&cache.classes);
        realise_entries(s, classes.entries[class].as_ref(), draw, slot, cache, &mut path);
        cache.class_paths[at] = (draw + 1, Some(path));
    }
    cache.class_paths[at].1.as_deref().expect("the class's path is realised")
}

/// The beds of a set of entries (a region's, or a class's at weight 1) in every year of one draw.
fn realise_entries(s: &Scenario, region: EntriesRef<'_>, draw: u64, slot: usize, cache: &mut EntryCache, cap: &mut CapacityPath) {
    let slots = cache.slots;
    let at = |e: usize| e * slots + slot;
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
    for &(e, w) in region.stock {
        let [i, n, c] = cached(&mut cache.stock[at(e)], draw, || {
            let entry = &s.capacity.stock[e];
            let f = |field: &'static str| move || field_stream(s.seed, Purpose::Stock, draw, entry.key, field);
            let i = sample(&entry.institutional, f("institutional"));
            let n = match &entry.nursing {
                NursingStock::Beds(d) => sample(d, f("nursing")).min(i),
                NursingStock::Share(d) => sample(d, f("nursing")) * i,
            };
            [i, n, sample(&entry.community, f("community"))]
        });
        inst += w * i;
        nurs += w * n;
        comm += w * c;
    }
    for link in region.plan {
        let it = &s.plan[link.item];
        let entry = &mut cache.items[at(link.item)];
        if entry.0 != draw + 1 {
            realise_item(s, link.item, draw, &mut entry.1);
            entry.2 = allocation_offset(s, link.item, draw);
            entry.0 = draw + 1;
        }
        for real in &entry.1[link.projects(entry.2)] {
            if real.cancelled {
                continue;
            }
            for (k, share) in it.phasing.iter().enumerate() {
                let year = it.year + real.delay_years + k as i32;
                if year > s.horizon {
                    break;
                }
                let yi = (year - s.base_year) as usize;
                let beds = link.share * real.beds * share;
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
    }
    let stock_index = (s.capacity.stock_year - s.base_year) as usize;
    // The part of each year that comes after the observed stock: none before the stock year,
    // the rest of the stock year after its date, all of every later year.
    let after = |yi: usize| -> f64 {
        match yi.cmp(&stock_index) {
            std::cmp::Ordering::Less => 0.0,
            std::cmp::Ordering::Equal => s.capacity.stock_year_after,
            std::cmp::Ordering::Greater => 1.0,
        }
    };
    cap.caregivers.iter_mut().for_each(|x| *x = 0.0);
    for &(e, w) in region.caregivers {
        let [stock, trained, attrition] = cached(&mut cache.caregivers[at(e)], draw, || {
            let entry = &s.capacity.caregivers[e];
            let f = |field: &'static str| move || field_stream(s.seed, Purpose::Caregivers, draw, entry.key, field);
            [
                sample(&entry.stock, f("stock")),
                sample(&entry.trained_per_year, f("trained_per_year")),
                sample(&entry.attrition, f("attrition")),
            ]
        });
        // The stock stands at its date; from then on each year (and the rest of the stock
        // year) loses a share and gains the newly certified.
        let mut c = w * stock;
        for (yi, slot) in cap.caregivers.iter_mut().enumerate() {
            let a = after(yi);
            if a > 0.0 {
                c = c * (1.0 - attrition * a) + w * trained * a;
            }
            *slot += c;
        }
    }
    cap.seasonal.iter_mut().for_each(|x| *x = 0.0);
    for &(e, w) in region.seasonal {
        let [elderly, growth, uptake] = cached(&mut cache.seasonal[at(e)], draw, || {
            let entry = &s.capacity.seasonal[e];
            let f = |field: &'static str| move || field_stream(s.seed, Purpose::Seasonal, draw, entry.key, field);
            [
                sample(&entry.elderly, f("elderly")),
                sample(&entry.growth, f("growth")),
                sample(&entry.institutional_uptake, f("institutional_uptake")),
            ]
        });
        for (yi, slot) in cap.seasonal.iter_mut().enumerate() {
            *slot += w * elderly * (1.0 + growth).powi(yi as i32) * uptake;
        }
    }
    for yi in 0..n_years {
        let a = after(yi);
        if a > 0.0 {
            inst = (inst + a * (cap.add_inst[yi] - cap.close_inst[yi])).max(0.0);
            nurs = (nurs + a * (cap.add_nurs[yi] - cap.close_nurs[yi])).clamp(0.0, inst);
            nurs += (a * cap.convert[yi]).min(inst - nurs);
            comm += a * cap.add_comm[yi];
        }
        cap.institutional[yi] = inst;
        cap.nursing[yi] = nurs;
        cap.community[yi] = comm;
    }
}
