//! Building blocks shared by pages.

pub mod nav;
pub mod process_table;
