//! What every request handler and server function needs, in one cloneable value.

use crate::auth::Auth;
use crate::ops::groups::Groups;
use crate::recorder::RecorderHandle;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use supervisor::{JobsHandle, SupervisorHandle};

/// Shared server-side state: handles, not locks.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The store.
    pub db: DatabaseConnection,
    /// The supervisor task.
    pub supervisor: SupervisorHandle,
    /// Authentication.
    pub auth: Arc<Auth>,
    /// The jobs and cronjobs controller.
    pub jobs: JobsHandle,
    /// Where job attempts' logs are written (`None`: discarded).
    pub job_log_dir: Option<std::path::PathBuf>,
    /// Persistence progress of the supervisor's events.
    pub recorder: RecorderHandle,
    /// The configured `[[groups]]` (a reload replaces them).
    pub groups: Arc<Groups>,
}
