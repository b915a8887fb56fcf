//! Native-messaging requests, responses, events and error codes (PROTOCOL.md).
