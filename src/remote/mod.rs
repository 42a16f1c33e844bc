//! The special-remote runtime.
