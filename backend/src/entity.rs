//! SeaORM entities, one per table (the schema itself lives in the `migrations` crate).

pub mod api_client;
pub mod cron_firing;
pub mod cronjob;
pub mod job;
pub mod job_attempt;
pub mod process;
pub mod process_event;
pub mod process_instance;
pub mod session;
pub mod setting;
pub mod user;
