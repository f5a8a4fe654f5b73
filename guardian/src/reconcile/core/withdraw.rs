//! Deleting routes guardian no longer tracks: one batch, then one error
//! line per route the kernel would not delete.

use super::multipath::Shape;
use super::Core;
use crate::kernel::routes::{Op, OpError};
use crate::kernel::wire::RouteRequest;
use crate::kernel::KernelError;
use crate::messages::KernelRoute;
use crate::route::{RouteDisplay, RouteSpec};

/// Deletes for the writer ([`WithdrawBatch::ops`]), with what
/// [`Core::withdrawn`] needs to report their outcome.
#[derive(Debug, Default)]
pub struct WithdrawBatch {
    pub ops: Vec<Op>,
    what: What,
}

#[derive(Debug, Default)]
enum What {
    /// Routes of the tracked set, and the error line to log per failure.
    Tracked { specs: Vec<RouteSpec>, failure: &'static str },
    /// Routes of guardian's protocol that match nothing tracked.
    Stale { routes: Vec<KernelRoute> },
    #[default]
    Nothing,
}

impl WithdrawBatch {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl Core {
    /// Deletes of routes that are no longer tracked, naming their next hop so
    /// that only guardian's own route with that identity goes. Only routes
    /// that were installed may be given: the kernel reads an IPv4 metric of 0
    /// as "any metric", so deleting one that is not there could take another
    /// route of ours with the same prefix. `failure` is logged per refusal.
    pub(super) fn withdraw_batch(&self, specs: &[RouteSpec], failure: &'static str) -> WithdrawBatch {
        let ops = specs
            .iter()
            .map(|spec| {
                // A multipath route down to one leg is deleted as that plain
                // route; one of more legs by its identity alone.
                let spec = match self.shape(spec) {
                    Some(Ok(Shape::Plain(one_leg))) => one_leg,
                    _ => *spec,
                };
                let oif = spec.dev.and_then(|d| self.dev_index.get(d));
                Op::Delete(RouteRequest { key: spec.key, via: spec.via, oif, src: None, protocol: self.protocol })
            })
            .collect();
        WithdrawBatch { ops, what: What::Tracked { specs: specs.to_vec(), failure } }
    }

    /// Deletes of stale routes: guardian's protocol, in no configuration.
    pub(super) fn stale_batch(&self, stale: &[KernelRoute]) -> WithdrawBatch {
        let ops = stale
            .iter()
            .map(|r| {
                let oif = (r.oif != 0).then_some(r.oif);
                Op::Delete(RouteRequest { key: r.key, via: r.gateway, oif, src: None, protocol: self.protocol })
            })
            .collect();
        WithdrawBatch { ops, what: What::Stale { routes: stale.to_vec() } }
    }

    /// Logs what the kernel said of `batch`; returns how many deletes failed.
    pub fn withdrawn(&mut self, batch: WithdrawBatch, result: Result<Vec<Result<(), OpError>>, KernelError>) -> usize {
        match (batch.what, result) {
            (What::Nothing, _) => 0,
            (What::Tracked { specs, failure }, Ok(results)) => {
                let mut failed = 0;
                for (spec, result) in specs.iter().zip(results) {
                    if let Err(e) = result {
                        failed += 1;
                        let route = RouteDisplay { spec, devs: &self.table.devs };
                        tracing::error!(route = %route, error = %e, "{failure}");
                    }
                }
                failed
            }
            (What::Tracked { specs, failure }, Err(e)) => {
                tracing::error!(routes = specs.len(), error = %e, "{failure}");
                specs.len()
            }
            (What::Stale { routes }, result) => {
                let mut failed = 0;
                for (n, stale) in routes.iter().enumerate() {
                    let route = self.describe_kernel_route(stale);
                    match result.as_ref().map(|r| &r[n]) {
                        Ok(Ok(())) => {
                            self.stale_withdrawn += 1;
                            tracing::warn!(route = %route, "stale route withdrawn");
                        }
                        Ok(Err(e)) => {
                            failed += 1;
                            tracing::error!(route = %route, error = %e, "cannot withdraw stale route");
                        }
                        Err(e) => {
                            failed += 1;
                            tracing::error!(route = %route, error = %e, "cannot withdraw stale route");
                        }
                    }
                }
                failed
            }
        }
    }
}
