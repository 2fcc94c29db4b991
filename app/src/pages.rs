//! Pages, one per route.

pub mod clients;
pub mod groups;
pub mod history;
pub mod login;
pub mod placeholders;
pub mod process_detail;
pub mod process_edit;
pub mod processes;
pub mod register;
pub mod settings;
pub mod users;
