//! CPU and memory of one instance over time, as plain SVG (no chart library).
//!
//! The samples come from the page's [`Resources`](crate::components::resources::Resources)
//! store, which polls the supervisor's `/proc` sampler every few seconds while the page
//! is visible; the chart starts empty when the page opens and fills from then on.

use crate::components::resources::use_resources;
use crate::model::{format_bytes, format_cpu, ResourceSample};
use leptos::prelude::*;

const W: f64 = 300.0;
const H: f64 = 60.0;

/// The `points` attribute of a polyline for `values` scaled to `max` in a W×H box
/// (left to right, the newest at the right edge).
pub fn polyline(values: &[f64], max: f64) -> String {
    let n = values.len();
    if n == 0 {
        return String::new();
    }
    let max = if max > 0.0 { max } else { 1.0 };
    let step = if n > 1 { W / (n - 1) as f64 } else { 0.0 };
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = if n > 1 { i as f64 * step } else { W };
            let y = H - (v.clamp(0.0, max) / max) * H;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The chart of instance `name`.
#[component]
pub fn ResourceChart(
    /// Instance name.
    name: String,
) -> impl IntoView {
    let res = use_resources();
    let samples = Memo::new(move |_| {
        res.map(|r| r.history.with(|h| h.get(&name).cloned().unwrap_or_default())).unwrap_or_default()
    });
    view! {
        {move || {
            let s: Vec<ResourceSample> = samples.get();
            if s.is_empty() {
                return view! { <p class="empty">"No CPU or memory samples yet."</p> }.into_any();
            }
            let cpu: Vec<f64> = s.iter().map(|x| x.cpu_percent).collect();
            let mem: Vec<f64> = s.iter().map(|x| x.memory_bytes as f64).collect();
            let cpu_max = cpu.iter().cloned().fold(100.0_f64, f64::max);
            let mem_max = mem.iter().cloned().fold(1.0_f64, f64::max) * 1.1;
            let last = s[s.len() - 1];
            view! {
                <div class="charts">
                    <figure>
                        <figcaption>"CPU " <strong>{format_cpu(last.cpu_percent)}</strong></figcaption>
                        <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label="CPU over time" preserveAspectRatio="none">
                            <polyline class="cpu" points=polyline(&cpu, cpu_max) />
                        </svg>
                    </figure>
                    <figure>
                        <figcaption>"Memory " <strong>{format_bytes(last.memory_bytes)}</strong></figcaption>
                        <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label="Memory over time" preserveAspectRatio="none">
                            <polyline class="mem" points=polyline(&mem, mem_max) />
                        </svg>
                    </figure>
                </div>
            }
            .into_any()
        }}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_scale_into_the_box() {
        assert_eq!(polyline(&[], 1.0), "");
        assert_eq!(polyline(&[50.0], 100.0), "300.0,30.0");
        assert_eq!(polyline(&[0.0, 100.0, 200.0], 100.0), "0.0,60.0 150.0,0.0 300.0,0.0");
        assert_eq!(polyline(&[1.0, 1.0], 0.0), "0.0,0.0 300.0,0.0");
    }
}
