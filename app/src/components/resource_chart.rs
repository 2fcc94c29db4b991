//! CPU and memory of one instance over time, as plain SVG (no chart library).
//!
//! SEAM (resources): the samples come from the live table — each update of the
//! instance that carries `cpu_percent`/`memory_bytes` adds a point — so the chart fills
//! as soon as the engine reports them. A history endpoint can seed `samples` later.

use crate::live::Live;
use crate::model::{format_bytes, format_cpu, ResourceSample};
use leptos::prelude::*;

/// How many samples the chart keeps.
const KEEP: usize = 120;
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
    let live = expect_context::<Live>();
    let samples = RwSignal::new(Vec::<ResourceSample>::new());
    Effect::new(move |_| {
        let current = live.processes.with(|t| t.as_ref().and_then(|t| t.get(&name)).cloned());
        if let Some(p) = current {
            if let (Some(cpu), Some(mem)) = (p.cpu_percent, p.memory_bytes) {
                samples.update(|s| {
                    s.push(ResourceSample { at: live.now.get_untracked(), cpu_percent: cpu, memory_bytes: mem });
                    if s.len() > KEEP {
                        s.remove(0);
                    }
                });
            }
        }
    });
    view! {
        {move || {
            let s = samples.get();
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
