//! The Azure simulator: scenario files, an ARM-shaped HTTP server on loopback, outage and fault
//! injection. drbook reaches it through the same client as real Azure.

pub mod scenario;
