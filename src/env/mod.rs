//! Environments: every run's journal on disk, so that what a run made can be undone
//! after a crash (`nsr down`), and listed while it runs (`nsr ls`).

pub mod enter;
pub mod gc;
pub mod recover;
pub mod store;
