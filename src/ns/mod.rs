//! Namespaces: their kinds, what a recipe asks for, id maps, and inspection via /proc.
pub mod idmap;
pub mod inspect;
