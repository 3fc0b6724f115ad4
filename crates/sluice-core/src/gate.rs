//! What the gate can show. The names are a public contract: the gate element
//! carries one of them in `data-state`, and tests and styles select on it.

/// The gate's state, driven only by the agent's signals and the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GateState {
    /// Nothing at the gate.
    #[default]
    Idle,
    /// The agent is working on the event at the gate.
    Processing,
    /// The agent said it is done; the event drains.
    Passed,
    /// The last attempt failed in a way worth retrying.
    Retrying,
    /// The agent refused the event for good: it went to the dead letters.
    Rejected,
    /// The operator paused admission.
    Paused,
    /// The source is unreachable or refuses the key.
    Offline,
}

impl GateState {
    /// The name carried in `data-state`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Processing => "processing",
            Self::Passed => "passed",
            Self::Retrying => "retrying",
            Self::Rejected => "rejected",
            Self::Paused => "paused",
            Self::Offline => "offline",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_documented_ones() {
        let all = [
            GateState::Idle,
            GateState::Processing,
            GateState::Passed,
            GateState::Retrying,
            GateState::Rejected,
            GateState::Paused,
            GateState::Offline,
        ];
        let names: Vec<&str> = all.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "idle",
                "processing",
                "passed",
                "retrying",
                "rejected",
                "paused",
                "offline"
            ]
        );
    }

    #[test]
    fn a_new_gate_is_idle() {
        assert_eq!(GateState::default().name(), "idle");
    }
}
