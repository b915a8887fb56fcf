//! Which previews apply to the active tab's host.

use protocol::Preview;

/// The previews with a route for `host`, in the companion's order.
pub fn previews_for_host<'a>(previews: &'a [Preview], host: &str) -> Vec<&'a Preview> {
    previews.iter().filter(|p| p.routes_host(host)).collect()
}
