//! Runnable examples live next to this crate as `[[example]]` targets.
