//! Who is calling and what they may do.
//!
//! * [`Role`] and [`Permission`]: the one place where a role's rights are decided
//!   ([`Role::allows`]); every route and server function asks [`Principal::require`].
//! * [`password`]: argon2id hashing and verification, with the same work for an unknown
//!   user as for a wrong password, so the answer and its timing reveal nothing.
//! * [`token`]: JWTs carrying the principal and its version; a token stops working when
//!   the user or client is deactivated, deleted, or changes password, roles or scopes.
//! * [`Auth`]: the service tying these to the store.

pub mod password;
pub mod role;
pub mod service;
pub mod token;

pub use role::{Permission, Role};
pub use service::{AdminBootstrap, Auth, AuthSettings, LoginOutcome};
pub use token::Token;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Who made a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// A user, an API client, or nobody in particular (auth disabled).
    pub kind: PrincipalKind,
    /// Row id (0 for [`PrincipalKind::Anonymous`]).
    pub id: i64,
    /// User name or client name.
    pub name: String,
    /// Roles (users) or scopes (clients).
    pub roles: Vec<Role>,
    /// The principal's version when authenticated (see [`token`]).
    pub version: i64,
}

/// The kind of principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A console/API user.
    User,
    /// An API client (client credentials); its roles are its scopes.
    Client,
    /// Anyone, when auth is disabled: allowed everything.
    Anonymous,
}

impl Principal {
    /// The principal used for every request when `[auth] enabled = false`.
    pub fn anonymous() -> Self {
        Self { kind: PrincipalKind::Anonymous, id: 0, name: "anonymous".into(), roles: vec![Role::Admin], version: 0 }
    }

    /// True when one of the principal's roles allows `perm`.
    pub fn can(&self, perm: Permission) -> bool {
        self.roles.iter().any(|r| r.allows(perm))
    }

    /// `Ok` when allowed, else [`AuthError::Forbidden`].
    pub fn require(&self, perm: Permission) -> Result<(), AuthError> {
        if self.can(perm) {
            Ok(())
        } else {
            Err(AuthError::Forbidden(perm))
        }
    }
}

/// Why a request is not allowed.
#[derive(Debug, Error)]
pub enum AuthError {
    /// No credentials were given.
    #[error("authentication required")]
    Missing,
    /// The credentials are wrong, expired or revoked. Deliberately says no more.
    #[error("invalid credentials")]
    Invalid,
    /// Authenticated, but the role lacks the permission.
    #[error("permission denied: {0} required")]
    Forbidden(Permission),
    /// The store failed.
    #[error("store error: {0}")]
    Store(#[from] sea_orm::DbErr),
    /// Something else failed (hashing, signing).
    #[error("internal error: {0}")]
    Internal(String),
}
