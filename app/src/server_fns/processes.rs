//! Processes: list, start, stop, restart (one or a selection), register, edit,
//! unregister, and what the detail page shows (spec, history).

mod bulk;
mod detail;
mod history;
mod list;
mod register;
mod restart;
mod start;
mod stop;
mod unregister;

pub use bulk::*;
pub use detail::*;
pub use history::*;
pub use list::*;
pub use register::*;
pub use restart::*;
pub use start::*;
pub use stop::*;
pub use unregister::*;
