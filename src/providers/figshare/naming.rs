//! File names in a Figshare article, which are flat (no folders): key mode
//! names a file after its key; export mode encodes tree paths with the
//! shared reversible encoding ([`crate::providers::flat_names`]).

pub use crate::providers::flat_names::{decode_path, encode_path};
