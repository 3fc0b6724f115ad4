//! Settling a message with the queue once the agent is done with it: its
//! dead letter (once), then its archive, each call within a deadline.

use sluice_core::dead_letters::MAX_DEAD_LETTERS;
use sluice_core::queue::{QueueSource, SettleCall, Settled, Unsettled, SETTLE_CALL_DEADLINE};
use sluice_core::source_error::SourceError;

use super::super::station::{now_ms, Station};
use crate::browser::queue_rpc;

/// Makes the next calls that settle a message: its dead letter (once:
/// when an earlier reader or send may have sent it, the dead-letter queue
/// is looked at first), then its archive, each within
/// [`SETTLE_CALL_DEADLINE`]. Only an archive that answers `true` (or
/// `false` after this reader's own unclear archive) settles it.
pub(super) async fn settle(
    station: &Station,
    source: &QueueSource,
    unsettled: &mut Unsettled,
) -> Result<Settled, SourceError> {
    let (session, queue) = (&station.session, source.name());
    let msg_id = unsettled.message.msg_id;
    if unsettled.check_letters_first() {
        let arguments = source.dead_letters_arguments(MAX_DEAD_LETTERS);
        let records = queue_rpc::call_for_rows(session, queue, "read", &arguments).await?;
        unsettled.letter_sent = source.already_lettered(&QueueSource::letters(&records), msg_id);
        unsettled.letter_unclear = false;
    }
    if unsettled.next_call() == SettleCall::SendLetter {
        let at: String = js_sys::Date::new_0().to_iso_string().into();
        let reason = unsettled.refusal.as_deref().unwrap_or_default();
        let by = session.operator_email();
        let arguments = source.dead_letter_arguments(&unsettled.message, reason, &at, by);
        if let Err(error) =
            queue_rpc::call_within(session, queue, "send", &arguments, SETTLE_CALL_DEADLINE).await
        {
            // It may have been sent all the same: look before sending again.
            unsettled.letter_unclear = true;
            return Err(error);
        }
        unsettled.letter_sent = true;
    }
    let arguments = source.archive_arguments(msg_id);
    match queue_rpc::call_within(session, queue, "archive", &arguments, SETTLE_CALL_DEADLINE).await
    {
        Ok(answer) => unsettled.archive_answer(queue, &answer, now_ms()),
        Err(error) => {
            unsettled.archive_unclear |= error.is_transient();
            Err(error)
        }
    }
}
