//! The chat server library.
