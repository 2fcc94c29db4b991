//! Pages in the menu whose content other parts of the work deliver (jobs, cronjobs,
//! groups): placeholders, so navigation and permissions are in place.

use crate::components::page::Placeholder;
use leptos::prelude::*;

/// `/jobs`.
#[component]
pub fn JobsPage() -> impl IntoView {
    view! { <Placeholder title="Jobs" what="Jobs and their runs will be listed here." /> }
}

/// `/cronjobs`.
#[component]
pub fn CronJobsPage() -> impl IntoView {
    view! { <Placeholder title="CronJobs" what="CronJobs, their next run and history will be listed here." /> }
}

/// `/groups`.
#[component]
pub fn GroupsPage() -> impl IntoView {
    view! { <Placeholder title="Groups" what="Process groups and their state will be listed here." /> }
}
