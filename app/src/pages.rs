//! Pages, one per route.

pub mod clients;
pub mod cronjobs;
pub mod cronjobs_detail;
pub mod groups;
pub mod history;
pub mod jobs;
pub mod jobs_detail;
pub mod login;
pub mod process_detail;
pub mod process_edit;
pub mod processes;
pub mod register;
pub mod settings;
pub mod users;
