//! Whether events may leave the source, and how many may be at the gate at
//! once. Both the table drain and the queue reader obey the operator's
//! Pause/Step, and the agent settings check their lanes against the same
//! ceiling, so these live in a leaf module that depends on nothing else in
//! the crate.

/// Most events at the gate at once.
pub const MAX_LANES: usize = 32;

/// Whether events may leave the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Open,
    Paused,
    /// Paused, but the next event may go.
    StepOnce,
}

impl Admission {
    /// "Step": while paused, exactly one more may go; open stays open.
    pub fn stepped(self) -> Self {
        match self {
            Self::Open => Self::Open,
            Self::Paused | Self::StepOnce => Self::StepOnce,
        }
    }
}
