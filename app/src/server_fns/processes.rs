//! Process list, start and stop.

mod list;
mod start;
mod stop;

pub use list::*;
pub use start::*;
pub use stop::*;
