//! Sign-in, sign-out and the current user.

mod login;
mod logout;
mod me;

pub use login::*;
pub use logout::*;
pub use me::*;
