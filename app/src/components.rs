//! Building blocks shared by pages.

pub mod log_tail;
pub mod nav;
pub mod page;
pub mod process_table;
pub mod resource_chart;
pub mod resources;
pub mod spec_editor;
pub mod timeline;
