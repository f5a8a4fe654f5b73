//! eBPF programs that record which process deleted a route.
//!
//! A placeholder until deleter attribution lands; it is kept out of the
//! workspace's default members so host builds never compile it.
#![no_std]
