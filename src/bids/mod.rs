//! BIDS filename parsing, filtering and the metadata that comes along with a
//! selection (root files, inherited sidecars, sessions/scans tables).
//!
//! Everything here is pure: it works on relative paths and never touches the
//! disk or git, so it can be tested exhaustively and reused by any front end.

mod entity;
mod error;
mod filter;
mod glob;
mod inherit;
mod layout;
mod name;
mod scope;
mod select;

pub use entity::{canonical_entity_name, canonical_value, is_index_entity, ENTITY_ORDER};
pub use error::BidsError;
pub use filter::{FilterKey, FilterSet};
pub use glob::glob_match;
pub use layout::{Layout, Unit};
pub use name::{parse_name, BidsName};
pub use scope::{Scope, EXCLUDED_TOP_DIRS};
pub use select::{select, Role, SelectOptions, Selected, DEFAULT_ROOT_FILES};
