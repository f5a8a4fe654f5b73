//! guardian: keeps a set of routes in the kernel and repairs deletions.
