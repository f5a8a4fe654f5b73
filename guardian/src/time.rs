//! Timer helpers shared by the tasks that wait on optional deadlines.

use tokio::time::Instant;

/// Sleeps until `at`, or forever when there is no deadline: a `select!`
/// branch that simply never fires.
pub async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
