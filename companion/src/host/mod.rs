//! Native-messaging host. OWNER: host helper (H4).
