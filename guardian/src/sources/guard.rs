//! Guards: other daemons' routes, kept in place (docs/guard.md).
//!
//! ```text
//!  kernel dump ─▶ adopt ─▶ Replace(routes as they are) ─────────────────▶ reconciler
//!  reconciler ──GuardNotice::Lost──▶ task ──Query::Who──▶ attribution
//!                                     │ verdict (owner? stranger? kernel?)
//!                                     ├─ stranger ─▶ Restore ─▶ reconciler repairs (`route reinstalled`, guard=, owner=)
//!                                     ├─ owner    ─▶ Update (remove, or take the owner's new version)
//!                                     └─ audit    ─▶ a log line, a count, `guardian deletions`
//!  reconciler ──GuardNotice::Appeared──▶ task ─▶ Update(add) when a guard selects it
//! ```
//!
//! A guard reads the kernel (to take its routes under guard) but never
//! writes to it: every change goes through the reconciler like any source's.

pub mod adopt;
pub mod task;
pub mod verdict;

pub use task::{GuardCommand, GuardTask};
