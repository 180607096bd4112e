//! The sync modules: THE table every other list is read from.
//!
//! A module is one kind of record that moves between marketplaces and the ERP (orders in;
//! stock, prices, lots, … out). Operators meet it in the config's `[tenants.x.schedule]`, the
//! API's `…/modules/{module}` switches and `…/updates/{kind}`, the CLI's words, spreadsheet
//! kinds and metric labels, always under the one [`Spec::name`]. The scheduler's loops, the
//! outbound queues, the ERP feeds, the per-SKU switches, the sheets and the OpenAPI document
//! all walk [`MODULES`] instead of keeping lists of their own, so a new module is a row here
//! plus its record type, its plugin operations and (if it has one) its sheet.
//!
//! Two older spellings remain readable for one release ([`Spec::aliases`]): `price` and
//! `batches` (the first switches and schedule keys) and `erp-status` (the first update path).
//! Whoever reads an alias says so ([`Module::deprecation`]), so operators can fix their
//! scripts before the alias goes. The store keeps the first release's names ([`Spec::stored`])
//! for queues, switches and cursors, so a store written by an earlier release reads on as it is.

use std::fmt;
use std::time::Duration;

use super::Operation;

/// One kind of record the host syncs, each with its own schedule and switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Module {
    Orders,
    AfterSales,
    Stock,
    Prices,
    Lots,
    Listing,
    Products,
    Customers,
    Logistics,
    Shipments,
    ErpStatus,
    Invoices,
}

/// What the host knows of a module.
#[derive(Debug)]
pub struct Spec {
    pub module: Module,
    /// The one name operators meet: config keys, API paths and bodies, CLI words, sheet kinds,
    /// metric labels, logs.
    pub name: &'static str,
    /// Earlier spellings, read for one release with a deprecation warning.
    pub aliases: &'static [&'static str],
    /// The name the store keys its queue, switches and cursors by (the first release's).
    pub stored: &'static str,
    /// The marketplace operation that takes the module's records to a shop, if it goes out.
    pub push: Option<Operation>,
    /// The ERP plugin operation that reads the module's records, if the ERP is pulled for it.
    pub pull: Option<Operation>,
    /// Whether one SKU can be switched off for it (per-SKU overrides: a SKU whose stock,
    /// price or listing the merchant manages by hand for a while).
    pub per_sku: bool,
    /// How often it runs for each shop when the tenant's schedule does not say.
    pub every: Interval,
    /// Whether operators can import it from a spreadsheet (its columns: `sheet::<name>`).
    pub sheet: bool,
}

/// Every module, in the order the enum declares them (checked by a test).
pub const MODULES: [Spec; 12] = [
    Spec {
        module: Module::Orders,
        name: "orders",
        aliases: &[],
        stored: "orders",
        push: None,
        pull: None,
        per_sku: false,
        // The module merchants watch: the warehouse cannot pick an order the ERP has not seen.
        // 30 s keeps "paid" → "in the ERP" well under a minute for two calls per shop per
        // minute at most when nothing changed.
        every: Interval::Every(Duration::from_secs(30)),
        sheet: false,
    },
    Spec {
        module: Module::AfterSales,
        name: "after_sales",
        aliases: &[],
        stored: "after_sales",
        // In from the shops; out go the merchant's answers (agree, refuse, confirm a return).
        push: Some(Operation::PushAfterSaleActions),
        pull: None,
        per_sku: false,
        // As often as orders: a refund requested before shipping must reach the warehouse
        // before the parcel leaves (拦截), in the same time an order change takes.
        every: Interval::Every(Duration::from_secs(30)),
        sheet: true,
    },
    Spec {
        module: Module::Stock,
        name: "stock",
        aliases: &[],
        stored: "stock",
        push: Some(Operation::PushStock),
        pull: Some(Operation::PullStock),
        per_sku: true,
        // Every minute, because stale stock is what oversells during a promotion.
        every: Interval::Every(Duration::from_secs(60)),
        sheet: true,
    },
    Spec {
        module: Module::Prices,
        name: "prices",
        aliases: &["price"],
        stored: "price",
        push: Some(Operation::PushPrices),
        pull: Some(Operation::PullPrices),
        per_sku: true,
        // Prices change by decision, not by the minute.
        every: Interval::Every(Duration::from_secs(5 * 60)),
        sheet: true,
    },
    Spec {
        module: Module::Lots,
        name: "lots",
        aliases: &["batches"],
        stored: "batches",
        push: Some(Operation::PushLots),
        pull: Some(Operation::PullLots),
        per_sku: false,
        // Lots change when goods are received or a lot sells out.
        every: Interval::Every(Duration::from_secs(15 * 60)),
        sheet: true,
    },
    Spec {
        module: Module::Listing,
        name: "listing",
        aliases: &[],
        stored: "listing",
        push: Some(Operation::PushListing),
        pull: None,
        per_sku: true,
        // Listing and delisting are operator actions that should show soon.
        every: Interval::Every(Duration::from_secs(5 * 60)),
        sheet: false,
    },
    Spec {
        module: Module::Products,
        name: "products",
        aliases: &[],
        stored: "products",
        push: Some(Operation::PushProducts),
        pull: Some(Operation::PullProducts),
        per_sku: false,
        // New products wait for the platform's review anyway.
        every: Interval::Every(Duration::from_secs(15 * 60)),
        sheet: true,
    },
    Spec {
        module: Module::Customers,
        name: "customers",
        aliases: &[],
        stored: "customers",
        push: Some(Operation::PushCustomers),
        pull: Some(Operation::PullCustomers),
        per_sku: false,
        // Customer mappings change rarely.
        every: Interval::Every(Duration::from_secs(3600)),
        sheet: true,
    },
    Spec {
        module: Module::Logistics,
        name: "logistics",
        aliases: &[],
        stored: "logistics",
        push: Some(Operation::PushLogistics),
        pull: Some(Operation::PullLogistics),
        per_sku: false,
        // Platforms hold sellers to a shipping deadline and the buyer sees "shipped" only once
        // the tracking number is uploaded.
        every: Interval::Every(Duration::from_secs(60)),
        sheet: false,
    },
    Spec {
        module: Module::Shipments,
        name: "shipments",
        aliases: &[],
        stored: "shipments",
        push: Some(Operation::PushShipments),
        pull: Some(Operation::PullShipments),
        per_sku: false,
        // Shipment details (lines and lots actually sent) follow logistics, not urgent.
        every: Interval::Every(Duration::from_secs(5 * 60)),
        sheet: false,
    },
    Spec {
        module: Module::ErpStatus,
        name: "erp_status",
        aliases: &["erp-status"],
        stored: "erp_status",
        push: Some(Operation::PushErpStatus),
        pull: Some(Operation::PullErpStatus),
        per_sku: false,
        // ERP statuses mostly add tracking lines for the buyer.
        every: Interval::Every(Duration::from_secs(5 * 60)),
        sheet: false,
    },
    Spec {
        module: Module::Invoices,
        name: "invoices",
        aliases: &[],
        stored: "invoices",
        push: Some(Operation::PushInvoices),
        pull: Some(Operation::PullInvoices),
        per_sku: false,
        // Buyers ask for an invoice after receipt and platforms give the merchant days to
        // upload it; five minutes is prompt without polling an ERP's billing for nothing.
        every: Interval::Every(Duration::from_secs(5 * 60)),
        sheet: true,
    },
];

impl Module {
    pub const ALL: [Module; MODULES.len()] = {
        let mut all = [Module::Orders; MODULES.len()];
        let mut i = 0;
        while i < MODULES.len() {
            all[i] = MODULES[i].module;
            i += 1;
        }
        all
    };

    pub const fn spec(self) -> &'static Spec {
        &MODULES[self as usize]
    }

    /// The one name (see [`Spec::name`]).
    pub const fn name(self) -> &'static str {
        self.spec().name
    }

    /// The name the store keys it by (see [`Spec::stored`]).
    pub const fn stored(self) -> &'static str {
        self.spec().stored
    }

    pub const fn default_interval(self) -> Interval {
        self.spec().every
    }

    /// The module of a name, or of an older spelling ([`Named::alias`] then says which).
    pub fn named(name: &str) -> Option<Named> {
        MODULES.iter().find_map(|spec| {
            if spec.name == name {
                Some(Named { module: spec.module, alias: None })
            } else {
                spec.aliases.iter().find(|a| **a == name).map(|a| Named { module: spec.module, alias: Some(a) })
            }
        })
    }

    /// The module of a name, current spellings only.
    pub fn from_name(name: &str) -> Option<Module> {
        Module::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The module a store key names (see [`Spec::stored`]).
    pub fn from_stored(stored: &str) -> Option<Module> {
        Module::ALL.into_iter().find(|m| m.stored() == stored)
    }

    /// The modules one SKU can be switched off for.
    pub fn per_sku() -> impl Iterator<Item = Module> {
        Module::ALL.into_iter().filter(|m| m.spec().per_sku)
    }

    /// What a reader of the older spelling `alias` is told.
    pub fn deprecation(self, alias: &str) -> String {
        format!(
            "`{alias}` is the former name of the `{self}` module: write `{self}` (`{alias}` is read until the next release)"
        )
    }

    /// The names, for "expected one of" messages.
    pub fn names(modules: impl IntoIterator<Item = Module>) -> String {
        modules.into_iter().map(Module::name).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A module found by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Named {
    pub module: Module,
    /// The older spelling it was found by, if it was.
    pub alias: Option<&'static str>,
}

impl Named {
    /// What to warn the reader of an older spelling, if it used one.
    pub fn deprecation(self) -> Option<String> {
        self.alias.map(|a| self.module.deprecation(a))
    }
}

/// A module's stored name in JSON (`#[serde(with = …)]` on a field holding one): written as
/// the module's current name and read back from either, so what the API shows speaks the one
/// vocabulary while keys stay as the first release wrote them. Names that are not a module's
/// (the `hold` queue) pass as they are.
pub mod stored_name {
    use super::Module;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(stored: &str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(Module::from_stored(stored).map_or(stored, |m| m.name()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let name = String::deserialize(d)?;
        Ok(Module::named(&name).map_or(name, |n| n.module.stored().to_owned()))
    }
}

/// Shortest interval a schedule accepts. Below a second a module would start its next run
/// while platforms still answer the last one, and platform quotas are counted per second or
/// per minute, so a shorter interval only buys throttling.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Longest interval a schedule accepts. A module that should run less than weekly is better
/// switched `off` and run by hand; in practice a longer value is a typo ("100h" for "100m").
pub const MAX_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How often a module runs for each shop of a tenant, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    Off,
    Every(Duration),
}

impl Interval {
    /// Reads `"30s"`, `"5m"`, `"1h"` or `"off"`: a whole number and one unit, within
    /// [`MIN_INTERVAL`]..=[`MAX_INTERVAL`].
    pub fn parse(text: &str) -> Result<Interval, String> {
        const EXPECTED: &str =
            "expected a whole number and a unit (s, m or h) like \"30s\", \"5m\" or \"1h\", or \"off\"";
        if text == "off" {
            return Ok(Interval::Off);
        }
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = text.split_at(digits);
        let seconds_per_unit = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            _ => return Err(format!("{EXPECTED}; got {text:?}")),
        };
        if number.is_empty() {
            return Err(format!("{EXPECTED}; got {text:?}"));
        }
        let seconds = number.parse::<u64>().ok().and_then(|n| n.checked_mul(seconds_per_unit));
        let every = match seconds {
            Some(0) => return Err("zero; write \"off\" to switch the module off".to_owned()),
            Some(s) => Duration::from_secs(s),
            None => Duration::MAX,
        };
        if every < MIN_INTERVAL {
            return Err(format!("{text:?} is shorter than the minimum of {}", Interval::Every(MIN_INTERVAL)));
        }
        if every > MAX_INTERVAL {
            return Err(format!(
                "{text:?} is longer than the maximum of {}; write \"off\" to switch the module off",
                Interval::Every(MAX_INTERVAL)
            ));
        }
        Ok(Interval::Every(every))
    }

    /// The period, or `None` when off.
    pub fn every(self) -> Option<Duration> {
        match self {
            Interval::Off => None,
            Interval::Every(d) => Some(d),
        }
    }
}

/// The form [`Interval::parse`] reads, in the largest whole unit.
impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = match self {
            Interval::Off => return f.write_str("off"),
            // Only `Schedule::set` can make one; parse never does.
            Interval::Every(d) if d.subsec_nanos() != 0 => return write!(f, "{d:?}"),
            Interval::Every(d) => d.as_secs(),
        };
        match secs {
            s if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_enums_order() {
        for (i, spec) in MODULES.iter().enumerate() {
            assert_eq!(spec.module as usize, i, "{}", spec.name);
            assert_eq!(spec.module.spec().name, spec.name);
        }
    }

    #[test]
    fn names_aliases_and_stored_names_are_unique_and_every_one_leads_back() {
        let mut seen = std::collections::BTreeSet::new();
        for spec in &MODULES {
            for name in std::iter::once(spec.name).chain(spec.aliases.iter().copied()) {
                assert!(seen.insert(name), "{name} names two modules");
                assert_eq!(Module::named(name).map(|n| n.module), Some(spec.module), "{name}");
            }
            assert_eq!(Module::from_stored(spec.stored), Some(spec.module));
            assert!(
                spec.stored == spec.name || spec.aliases.contains(&spec.stored),
                "{}: stored as an old name",
                spec.name
            );
        }
        let old = Module::named("batches").unwrap();
        assert_eq!(old, Named { module: Module::Lots, alias: Some("batches") });
        assert!(old.deprecation().unwrap().contains("write `lots`"), "{:?}", old.deprecation());
        assert_eq!(Module::named("lots").unwrap().deprecation(), None);
        assert_eq!(Module::per_sku().collect::<Vec<_>>(), [Module::Stock, Module::Prices, Module::Listing]);
    }

    #[test]
    fn a_module_that_goes_out_or_comes_in_has_its_operations() {
        for spec in &MODULES {
            let ops = [spec.push, spec.pull].into_iter().flatten().map(|o| o.name().to_owned()).collect::<Vec<_>>();
            for op in ops {
                let what = op.trim_start_matches("push-").trim_start_matches("pull-").replace('-', "_");
                // After-sales come in by their own pull; what goes out is the merchant's answers.
                let what = what.replace("after_sale_actions", "after_sales");
                assert_eq!(what, spec.name, "{op} belongs to {}", spec.name);
            }
        }
        assert!(
            Module::Orders.spec().push.is_none() && Module::Orders.spec().pull.is_none(),
            "orders come in by pull-orders"
        );
    }

    #[test]
    fn intervals_parse_and_print_back() {
        for (text, secs) in
            [("30s", 30), ("5m", 300), ("1h", 3600), ("90s", 90), ("120m", 7200), ("168h", 7 * 24 * 3600)]
        {
            let interval = Interval::parse(text).unwrap();
            assert_eq!(interval.every(), Some(Duration::from_secs(secs)), "{text}");
        }
        assert_eq!(Interval::parse("off"), Ok(Interval::Off));
        assert_eq!(Interval::parse("90s").unwrap().to_string(), "90s");
        assert_eq!(Interval::parse("120m").unwrap().to_string(), "2h");
        assert_eq!(Interval::parse("60s").unwrap().to_string(), "1m");
        assert_eq!(Interval::Off.to_string(), "off");
    }

    #[test]
    fn bad_intervals_say_what_is_expected() {
        let expected = "expected a whole number and a unit (s, m or h) like \"30s\", \"5m\" or \"1h\", or \"off\"";
        for bad in ["", "5", "s", "5 m", " 5m", "5min", "1.5h", "-5m", "5M", "Off", "1d"] {
            assert_eq!(Interval::parse(bad), Err(format!("{expected}; got {bad:?}")), "{bad}");
        }
        assert_eq!(Interval::parse("0s"), Err("zero; write \"off\" to switch the module off".into()));
        assert_eq!(
            Interval::parse("169h"),
            Err("\"169h\" is longer than the maximum of 168h; write \"off\" to switch the module off".into())
        );
        assert!(Interval::parse("99999999999999999999h").unwrap_err().contains("longer than the maximum"));
        assert!(Interval::parse("18446744073709551615h").unwrap_err().contains("longer than the maximum"));
    }

    #[test]
    fn every_module_has_a_name_and_a_default() {
        for module in Module::ALL {
            assert_eq!(Module::from_name(module.name()), Some(module));
            assert!(module.default_interval().every().is_some(), "{module}");
        }
        assert_eq!(Module::from_name("erp_status"), Some(Module::ErpStatus));
        assert_eq!(Module::from_name("ordrs"), None);
        assert_eq!(Module::from_name("price"), None, "current spellings only");
        let defaults = Module::ALL.map(|m| m.default_interval().every().unwrap());
        assert!(defaults.iter().all(|d| (MIN_INTERVAL..=MAX_INTERVAL).contains(d)));
    }
}
