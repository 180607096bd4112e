//! What `jingdong.pop.order.search` and `jingdong.pop.order.get` answer from, kept between
//! calls: the shop's orders sorted for listing, and their `orderInfo` documents as the JSON
//! text they are sent as, rendered when the simulator starts. Benchmarks page through large
//! shops on hundreds of simulators beside Wharf; rendering, serializing and sorting every
//! order again on every call made the simulators what was measured.
//!
//! A text is kept whole, with where each of its members starts and ends, so an
//! `optional_fields` selection is cut from it (and kept too) without rendering again.
//!
//! Nothing here is trusted past a change. The shop is [`Watched`], so the listings are
//! rebuilt after anything borrowed it mutably; an `orderInfo` text is reused only while its
//! order equals the copy it was rendered from, the catalogue names it shows are the same, and
//! for the same `optional_fields`. Every place that changes an order (knobs, after-sales,
//! shipments, today's and tomorrow's) so invalidates what it changed without having to say
//! so. The id layout ([`OrderIds`]) is fixed per simulator.

use std::collections::{BTreeSet, HashMap};
use std::ops::{Deref, DerefMut};

use serde_json::Value;

use super::OrderIds;
use super::render::{ORDER_STATES, order_info, order_state};
use crate::shop::{Order, Product, Shop, Sku};

/// What `optional_fields` names (`None`: it names nothing, so every field goes out).
pub(crate) type Fields = Option<BTreeSet<String>>;

/// Distinct `optional_fields` selections kept at once. A client asks for one or two; a
/// caller varying them call after call gets the texts cut for them dropped and cut again
/// rather than the cache growing without bound.
pub(crate) const MAX_SELECTIONS: usize = 8;

/// The field every selection keeps: JOS always names the order.
const ORDER_ID: &str = "orderId";

/// Orders rendered when the simulator starts, at most: a larger shop renders the rest as
/// they are first listed, so a huge order count does not cost its memory and time up front.
const MAX_RENDERED_AT_START: usize = 100_000;

/// A value that counts the times it was borrowed mutably, so what is derived from it knows
/// it is stale without looking at it: no change can skip the count, since every change
/// needs `&mut`. A mutable borrow that changed nothing counts too, which costs only a rebuild.
pub(crate) struct Watched<T> {
    value: T,
    changes: u64,
}

impl<T> Watched<T> {
    pub fn new(value: T) -> Self {
        Self { value, changes: 0 }
    }

    fn changes(&self) -> u64 {
        self.changes
    }
}

impl<T> Deref for Watched<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Watched<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.changes = self.changes.wrapping_add(1);
        &mut self.value
    }
}

/// `order_state`s as bits (bit `i`: `ORDER_STATES[i]`), for filtering a listing without
/// going back to its orders.
pub(crate) type StateSet = u16;
const _: () = assert!(ORDER_STATES.len() <= StateSet::BITS as usize, "a StateSet has a bit per orderState");

/// The bit of `state`, one of [`ORDER_STATES`]; 0 for anything else.
pub(crate) fn state_bit(state: &str) -> StateSet {
    ORDER_STATES.iter().position(|(known, _)| *known == state).map_or(0, |i| 1 << i)
}

/// One order JOS shows, as a listing sorts and filters it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Listed {
    /// Its modification or creation time, as the listing is by.
    pub time: i64,
    pub order_no: u64,
    /// Where it is in [`Shop::orders`].
    pub index: usize,
    pub state: StateSet,
}

/// The shop's cached answers for one simulator.
pub(crate) struct OrderInfoCache {
    ids: OrderIds,
    /// The shop's change count the catalogue below was checked at.
    catalogue_seen: Option<u64>,
    /// The products the texts were rendered with: `wareId`, `productNo` and `skuName` come
    /// from them.
    products: Vec<Product>,
    /// The SKUs the texts were rendered with (only their names and numbers count: a stock
    /// write changes no order).
    skus: Vec<Sku>,
    /// The shop's change count the listings were built at.
    listings_seen: Option<u64>,
    /// The orders JOS shows, sorted by (modification time, number, place in the shop).
    by_modified: Vec<Listed>,
    /// The same, sorted by (creation time, number, place in the shop).
    by_created: Vec<Listed>,
    /// The `optional_fields` selections asked for, and the members each keeps, as JSON
    /// strings (the form a member's key has in a text).
    selections: Vec<(Fields, BTreeSet<String>)>,
    orders: HashMap<u64, Entry>,
}

struct Entry {
    /// The order as its texts show it.
    order: Order,
    /// Its whole `orderInfo`.
    full: String,
    /// Where each member of `full` ends, and where its key does (byte offsets); each starts
    /// one byte after the one before ends, past the `{` or `,`.
    members: Vec<(u32, u32)>,
    /// Cut from `full` per selection, by its index in [`OrderInfoCache::selections`].
    selected: Vec<Option<String>>,
}

impl Entry {
    fn render(shop: &Shop, o: &Order, ids: OrderIds) -> Self {
        let Value::Object(info) = order_info(shop, o, ids) else { unreachable!("an orderInfo is an object") };
        let mut full = String::from("{");
        let mut members = Vec::with_capacity(info.len());
        for (key, value) in &info {
            if !members.is_empty() {
                full.push(',');
            }
            full.push_str(&Value::from(key.as_str()).to_string());
            let key_end = offset(&full);
            full.push(':');
            full.push_str(&value.to_string());
            members.push((key_end, offset(&full)));
        }
        full.push('}');
        Self { order: o.clone(), full, members, selected: Vec::new() }
    }

    /// The members of `full` whose keys are in `keep`.
    fn select(&self, keep: &BTreeSet<String>) -> String {
        let mut out = String::from("{");
        let mut start = 1;
        for &(key_end, end) in &self.members {
            let (key_end, end) = (key_end as usize, end as usize);
            if keep.contains(&self.full[start..key_end]) {
                if out.len() > 1 {
                    out.push(',');
                }
                out.push_str(&self.full[start..end]);
            }
            start = end + 1;
        }
        out.push('}');
        out
    }
}

/// The length of `text` as a member offset (an `orderInfo` is a few kilobytes).
fn offset(text: &str) -> u32 {
    u32::try_from(text.len()).expect("an orderInfo is far smaller than 4 GiB")
}

impl OrderInfoCache {
    pub fn new(ids: OrderIds) -> Self {
        Self {
            ids,
            catalogue_seen: None,
            products: Vec::new(),
            skus: Vec::new(),
            listings_seen: None,
            by_modified: Vec::new(),
            by_created: Vec::new(),
            selections: Vec::new(),
            orders: HashMap::new(),
        }
    }

    /// Renders every order of `shop` JOS shows (up to [`MAX_RENDERED_AT_START`]) and lists
    /// them, so the first pages are served as fast as the later ones.
    pub fn warm(&mut self, shop: &Watched<Shop>) {
        self.listing(shop, false);
        self.listing(shop, true);
        let shown = shop.orders.iter().filter(|o| order_state(o).is_some());
        let mut texts = self.texts(shop, &None);
        for o in shown.take(MAX_RENDERED_AT_START) {
            texts.of(o);
        }
    }

    /// The orders of `shop` JOS shows, sorted by (creation time, number) when `by_created`,
    /// else by (modification time, number).
    pub fn listing(&mut self, shop: &Watched<Shop>, by_created: bool) -> &[Listed] {
        if self.listings_seen != Some(shop.changes()) {
            let listed = |o: &Order, index, time| {
                order_state(o).map(|state| Listed { time, order_no: o.order_no, index, state: state_bit(state) })
            };
            let by = |time: fn(&Order) -> i64| {
                let mut list: Vec<Listed> =
                    shop.orders.iter().enumerate().filter_map(|(i, o)| listed(o, i, time(o))).collect();
                list.sort_unstable_by_key(|l| (l.time, l.order_no, l.index));
                list
            };
            self.by_modified = by(|o| o.updated_ms);
            self.by_created = by(|o| o.created_ms);
            self.listings_seen = Some(shop.changes());
        }
        if by_created { &self.by_created } else { &self.by_modified }
    }

    /// The texts of `shop`'s orders with `fields` selected; whatever `shop`'s catalogue no
    /// longer matches is dropped first.
    pub fn texts<'a>(&'a mut self, shop: &'a Watched<Shop>, fields: &Fields) -> Texts<'a> {
        if self.catalogue_seen != Some(shop.changes()) {
            if !self.same_catalogue(shop) {
                self.products.clone_from(&shop.products);
                self.skus.clone_from(&shop.skus);
                self.orders.clear();
            }
            self.catalogue_seen = Some(shop.changes());
        }
        let selection = match fields {
            None => None,
            Some(names) => Some(match self.selections.iter().position(|(s, _)| s == fields) {
                Some(i) => i,
                None => {
                    if self.selections.len() == MAX_SELECTIONS {
                        self.selections.clear();
                        self.orders.values_mut().for_each(|e| e.selected.clear());
                    }
                    let keep = names.iter().map(String::as_str).chain([ORDER_ID]);
                    self.selections.push((fields.clone(), keep.map(|k| Value::from(k).to_string()).collect()));
                    self.selections.len() - 1
                }
            }),
        };
        Texts { cache: self, shop, selection }
    }

    fn same_catalogue(&self, shop: &Shop) -> bool {
        let same_names = |a: &Sku, b: &Sku| {
            a.product == b.product && a.sku_no == b.sku_no && a.outer_sku_id == b.outer_sku_id && a.spec == b.spec
        };
        self.products == shop.products
            && self.skus.len() == shop.skus.len()
            && self.skus.iter().zip(&shop.skus).all(|(a, b)| same_names(a, b))
    }
}

/// The texts of one shop and one selection, rendered as they are first asked for.
pub(crate) struct Texts<'a> {
    cache: &'a mut OrderInfoCache,
    shop: &'a Shop,
    /// Index in [`OrderInfoCache::selections`]; `None`: every field.
    selection: Option<usize>,
}

impl Texts<'_> {
    /// `o`'s `orderInfo` (`o` one of the shop's orders): `orderId` and the fields the
    /// selection names, when it names any.
    pub fn of(&mut self, o: &Order) -> &str {
        let cache = &mut *self.cache;
        let (shop, ids) = (self.shop, cache.ids);
        let entry = cache.orders.entry(o.order_no).or_insert_with(|| Entry::render(shop, o, ids));
        if entry.order != *o {
            *entry = Entry::render(shop, o, ids);
        }
        let Some(i) = self.selection else { return &entry.full };
        if entry.selected.len() <= i {
            entry.selected.resize_with(i + 1, || None);
        }
        if entry.selected[i].is_none() {
            entry.selected[i] = Some(entry.select(&cache.selections[i].1));
        }
        entry.selected[i].as_deref().unwrap_or_default()
    }
}
