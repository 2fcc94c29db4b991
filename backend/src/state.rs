//! What every request handler and server function needs, in one cloneable value.

use crate::auth::Auth;
use crate::ops::groups::Group;
use crate::recorder::RecorderHandle;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use supervisor::SupervisorHandle;

/// Shared server-side state: handles, not locks.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The store.
    pub db: DatabaseConnection,
    /// The supervisor task.
    pub supervisor: SupervisorHandle,
    /// Authentication.
    pub auth: Arc<Auth>,
    /// Persistence progress of the supervisor's events.
    pub recorder: RecorderHandle,
    /// The configured `[[groups]]`.
    pub groups: Arc<Vec<Group>>,
}
