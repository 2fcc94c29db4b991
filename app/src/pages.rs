//! Pages, one per route.

pub mod login;
pub mod processes;
