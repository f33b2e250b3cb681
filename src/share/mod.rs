//! The shared incident log: several operators, one timeline on an Azure Storage append blob.
//! Each drbook keeps its own local log (the source of truth, which works offline) and copies
//! every event to the share; claims on steps are compare-and-append records on the same blob.

pub mod remote;
