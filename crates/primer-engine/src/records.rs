//! Training results as the store's rows.

use primer_torch::train::Outcome;

/// A training outcome as the store keeps it: its kind and the reason in words.
pub fn stored(o: &Outcome) -> (primer_store::Outcome, Option<String>) {
    use primer_store::Outcome as Stored;
    match o {
        Outcome::Finished => (Stored::Finished, None),
        Outcome::Stopped { checkpoint } => {
            (Stored::Stopped, Some(format!("below the median at hurdle {}", checkpoint + 1)))
        }
        Outcome::Invalid { reason } => (Stored::Invalid, Some(reason.clone())),
        Outcome::Diverged { step } => (Stored::Diverged, Some(format!("diverged at step {step}"))),
        Outcome::OutOfMemory { message } => (Stored::OutOfMemory, Some(message.clone())),
        // Never stored: a worker gives an interrupted candidate back instead.
        Outcome::Interrupted { step } => (Stored::Failed, Some(format!("interrupted at step {step}"))),
    }
}
