//! Who may join a private channel, as Realtime Authorization decides it: a
//! probe message on the channel's topic is added to `realtime.messages`,
//! then selected back as the subscriber (role, claims and `realtime.topic`
//! set as Realtime sets them), under that table's row-level security; the
//! transaction is rolled back either way.

use super::Realtime;
use crate::gateway::keys::Authorized;
use crate::gateway::take_role;

/// Whether the subscriber may read `topic` (the channel's name, without
/// `realtime:`). An error counts as no, as Realtime refuses a join whose
/// policies fail.
pub(super) async fn may_read(hub: &Realtime, authorized: &Authorized, topic: &str) -> bool {
    match probe(hub, authorized, topic).await {
        Ok(seen) => seen,
        Err(error) => {
            eprintln!("realtime: checking the policies of {topic}: {error}");
            false
        }
    }
}

async fn probe(hub: &Realtime, authorized: &Authorized, topic: &str) -> Result<bool, String> {
    let mut client = hub.gateway.client().await.map_err(|e| e.body.to_string())?;
    let tx = client.transaction().await.map_err(|e| e.to_string())?;
    let id: uuid::Uuid = tx
        .query_one("SELECT sluice_realtime.probe($1)", &[&topic])
        .await
        .map_err(|e| e.to_string())?
        .get(0);
    // As the gateway runs a request (its statement timeout too: a slow
    // policy is cancelled rather than hold up the socket whose join waits).
    take_role(&tx, authorized)
        .await
        .map_err(|e| e.body.to_string())?;
    tx.execute("SELECT set_config('realtime.topic', $1, true)", &[&topic])
        .await
        .map_err(|e| e.to_string())?;
    let seen = tx
        .query_opt("SELECT 1 FROM realtime.messages WHERE id = $1", &[&id])
        .await
        .map_err(|e| e.to_string())?
        .is_some();
    tx.rollback().await.map_err(|e| e.to_string())?;
    Ok(seen)
}
