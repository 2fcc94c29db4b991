//! CPU and memory in the browser: the latest sample of each instance and a short history
//! per instance (the detail page's chart), refreshed by polling.
//!
//! The supervisor samples `/proc` only when asked (no timer per process), so the page
//! asks: [`Resources::provide`] calls the server function
//! [`process_resources`](crate::server_fns::resources::process_resources) every
//! [`POLL_INTERVAL`] while the page is open **and visible** (a hidden tab makes no
//! calls; the interval is cleared when the page is left). The server-rendered page
//! carries the first sample in its rows (`ProcessInfo::cpu_percent`/`memory_bytes`).

use crate::model::{ResourceSample, ResourceUse};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use std::collections::BTreeMap;
use std::time::Duration;

/// How often an open, visible page samples.
pub const POLL_INTERVAL: Duration = Duration::from_secs(3);
/// How many samples the history keeps per instance (6 minutes at [`POLL_INTERVAL`]).
pub const KEEP: usize = 120;

/// The samples a page has seen.
#[derive(Clone, Copy, Debug)]
pub struct Resources {
    /// The newest sample of each live instance.
    pub latest: RwSignal<BTreeMap<String, ResourceUse>>,
    /// Samples per instance, oldest first, at most [`KEEP`].
    pub history: RwSignal<BTreeMap<String, Vec<ResourceSample>>>,
}

impl Resources {
    /// Creates the store, provides it as context and (in the browser) starts polling for
    /// the instances of spec `base` (all instances without it).
    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    pub fn provide(base: Option<String>) -> Self {
        let res = Self { latest: RwSignal::new(BTreeMap::new()), history: RwSignal::new(BTreeMap::new()) };
        provide_context(res);
        #[cfg(feature = "hydrate")]
        Effect::new(move |prev: Option<()>| {
            if prev.is_none() {
                browser::poll(res, base.clone());
            }
        });
        res
    }

    /// Records one round of samples taken `at`: instances without a sample are no
    /// longer live and leave `latest`.
    pub fn record(&self, at: DateTime<Utc>, samples: Vec<ResourceUse>) {
        self.history.update(|h| push_samples(h, at, &samples));
        self.latest.set(samples.into_iter().map(|s| (s.name.clone(), s)).collect());
    }

    /// The newest `(cpu %, bytes)` of `name`.
    pub fn of(&self, name: &str) -> Option<(f64, u64)> {
        self.latest.with(|l| l.get(name).map(|s| (s.cpu_percent, s.memory_bytes)))
    }
}

/// Appends `samples` to the per-instance history, keeping the newest [`KEEP`].
pub fn push_samples(history: &mut BTreeMap<String, Vec<ResourceSample>>, at: DateTime<Utc>, samples: &[ResourceUse]) {
    for s in samples {
        let h = history.entry(s.name.clone()).or_default();
        h.push(ResourceSample { at, cpu_percent: s.cpu_percent, memory_bytes: s.memory_bytes });
        if h.len() > KEEP {
            let extra = h.len() - KEEP;
            h.drain(..extra);
        }
    }
}

/// The page's resources store, when it has one.
pub fn use_resources() -> Option<Resources> {
    use_context::<Resources>()
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{Resources, POLL_INTERVAL};
    use crate::server_fns::resources::process_resources;
    use leptos::prelude::*;

    pub(super) fn poll(res: Resources, base: Option<String>) {
        let busy = StoredValue::new(false);
        let tick = move || {
            if document().hidden() || busy.get_value() {
                return;
            }
            busy.set_value(true);
            let base = base.clone();
            leptos::task::spawn_local(async move {
                if let Ok(samples) = process_resources(base).await {
                    res.record(chrono::Utc::now(), samples);
                }
                busy.set_value(false);
            });
        };
        tick();
        if let Ok(handle) = set_interval_with_handle(tick, POLL_INTERVAL) {
            on_cleanup(move || handle.clear());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_newest() {
        let mut h = BTreeMap::new();
        let s = |name: &str, cpu: f64| ResourceUse { name: name.into(), cpu_percent: cpu, memory_bytes: 1 };
        for i in 0..(KEEP + 5) {
            push_samples(&mut h, Utc::now(), &[s("a", i as f64)]);
        }
        push_samples(&mut h, Utc::now(), &[s("b", 1.0)]);
        assert_eq!(h["a"].len(), KEEP);
        assert_eq!(h["a"][0].cpu_percent, 5.0);
        assert_eq!(h["b"].len(), 1);
    }
}
