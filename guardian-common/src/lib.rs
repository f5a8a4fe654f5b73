//! `#[repr(C)]` records shared by the eBPF programs and the daemon.
//!
//! Empty until deleter attribution lands: the records it carries are specified
//! in `shared/design/attribution.md`.
#![no_std]
