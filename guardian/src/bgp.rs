//! Routes learned over BGP: guardian is a receive-only speaker (see
//! docs/architecture.md and `../shared/design/bgp.md`).
//!
//! ```text
//!  session (codec, FSM)        rib (pure)                      reconciler
//!  decoded UPDATEs ──────────▶ Adj-RIB-In, import filter,  ──▶ SourceUpdate
//!  session up/down, EoR        best path, next hop check       per `bgp:<neighbor>`
//! ```

pub mod rib;
