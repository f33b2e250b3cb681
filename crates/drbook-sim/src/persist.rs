//! The simulated estate kept on disk beside an incident log, so that a resumed rehearsal meets
//! the Azure it left. Real Azure keeps every change across a crash of drbook; a simulator
//! started afresh would not, and a resumed run would then wait on failovers that never happened.
//!
//! Saved after every request that can change state (before it is answered), read back on
//! resume. Timeline events and long-running operations need no saving: they follow from the
//! saved clock, `next_event` and each operation's due time.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::faults::Outage;
use super::scenario::Faults;
use super::state::{Group, Operation, Res, SimState};

/// Bumped when the snapshot's shape changes; an older snapshot is then not used.
const FORMAT: u32 = 1;

/// Where the estate of the incident logged at `log` is kept.
pub fn beside(log: &Path) -> PathBuf {
    log.with_extension("sim.json")
}

/// What `SimHandle::keep_beside` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// No saved estate: the scenario's, saved from now on.
    Fresh,
    /// The saved estate, its clock included.
    Restored,
    /// A saved estate that could not be used (why); the scenario's is saved over it.
    Replaced(String),
}

#[derive(Serialize)]
struct SnapshotRef<'a> {
    format: u32,
    scenario_id: &'a str,
    started_utc: DateTime<Utc>,
    resources: &'a BTreeMap<String, Res>,
    groups: &'a BTreeMap<String, Group>,
    down: &'a BTreeMap<String, DateTime<Utc>>,
    outages: &'a BTreeMap<String, Outage>,
    faults: &'a Faults,
    ops: &'a BTreeMap<String, Operation>,
    next_event: usize,
    next_op: u64,
}

#[derive(Deserialize)]
struct Snapshot {
    format: u32,
    scenario_id: String,
    started_utc: DateTime<Utc>,
    resources: BTreeMap<String, Res>,
    groups: BTreeMap<String, Group>,
    down: BTreeMap<String, DateTime<Utc>>,
    #[serde(default)]
    outages: BTreeMap<String, Outage>,
    faults: Faults,
    ops: BTreeMap<String, Operation>,
    next_event: usize,
    next_op: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot read the simulated estate {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the simulated estate {path} is not usable ({why}); the simulator starts afresh")]
    Unusable { path: PathBuf, why: String },
    #[error("cannot save the simulated estate to {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The state as bytes, taken under the state's lock (cheap: a few hundred resources).
pub fn encode(st: &SimState) -> Vec<u8> {
    let snap = SnapshotRef {
        format: FORMAT,
        scenario_id: &st.scenario_id,
        started_utc: st.started_utc,
        resources: &st.resources,
        groups: &st.groups,
        down: &st.down,
        outages: &st.outages,
        faults: &st.faults,
        ops: &st.ops,
        next_event: st.next_event,
        next_op: st.next_op,
    };
    // Maps with string keys and plain values: serialising cannot fail.
    serde_json::to_vec(&snap).unwrap_or_default()
}

/// Writes the bytes in place of the old snapshot, whole or not at all: a temporary file
/// (0600, like the log), fsynced, then renamed over it.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    let err = |source| PersistError::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("json.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Puts a saved estate in place of `st`'s, when it is of the same scenario. `Ok(None)`: no
/// snapshot there. Returns the saved timeline start.
pub fn restore(path: &Path, st: &mut SimState) -> Result<Option<DateTime<Utc>>, PersistError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let unusable = |why: String| PersistError::Unusable {
        path: path.to_path_buf(),
        why,
    };
    let snap: Snapshot = serde_json::from_slice(&bytes).map_err(|e| unusable(e.to_string()))?;
    if snap.format != FORMAT {
        return Err(unusable(format!(
            "format {} (expected {FORMAT})",
            snap.format
        )));
    }
    if snap.scenario_id != st.scenario_id {
        return Err(unusable(format!(
            "it is of scenario {:?}, this simulator runs {:?}",
            snap.scenario_id, st.scenario_id
        )));
    }
    if snap.next_event > st.events.len() {
        return Err(unusable(
            "its timeline is longer than the scenario's".into(),
        ));
    }
    st.changed();
    st.started_utc = snap.started_utc;
    st.resources = snap.resources;
    st.groups = snap.groups;
    st.down = snap.down;
    st.outages = snap.outages;
    st.faults = snap.faults;
    st.ops = snap.ops;
    st.next_event = snap.next_event;
    st.next_op = snap.next_op;
    Ok(Some(snap.started_utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn scenario() -> Scenario {
        Scenario::parse("demo", crate::DEMO_SCENARIO).expect("demo scenario")
    }

    #[test]
    fn a_saved_estate_comes_back_with_its_changes_and_clock() {
        let sc = scenario();
        let began = Utc::now() - chrono::TimeDelta::minutes(5);
        let mut st = SimState::new(&sc, began);
        st.advance(std::time::Duration::from_secs(3600));
        let key = st.resources.keys().next().cloned().expect("a resource");
        st.resources
            .get_mut(&key)
            .expect("it")
            .body
            .as_object_mut()
            .expect("object")
            .insert("changed".into(), serde_json::json!(true));
        let dir = tempfile::tempdir().expect("tmp");
        let path = beside(&dir.path().join("incident.jsonl"));
        write(&path, &encode(&st)).expect("saved");

        let mut fresh = SimState::new(&sc, Utc::now());
        let started = restore(&path, &mut fresh).expect("readable");
        assert_eq!(started, Some(st.started_utc));
        assert_eq!(fresh.next_event, st.next_event);
        assert_eq!(
            fresh.down.keys().collect::<Vec<_>>(),
            st.down.keys().collect::<Vec<_>>()
        );
        assert_eq!(
            fresh.resources[&key].body["changed"],
            serde_json::json!(true)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn how_a_down_region_answers_is_kept_too() {
        use crate::faults::{Outage, OutageArm};
        let sc = scenario();
        let mut st = SimState::new(&sc, Utc::now());
        let hang = Outage {
            arm: OutageArm::Hang,
            health_unknown: true,
        };
        st.set_outage("West Europe", hang, Utc::now());
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("x.sim.json");
        write(&path, &encode(&st)).expect("saved");
        let mut fresh = SimState::new(&sc, Utc::now());
        restore(&path, &mut fresh).expect("readable");
        assert!(fresh.is_down("westeurope"));
        assert_eq!(fresh.outage("westeurope"), hang);
        fresh.set_region("westeurope", false, Utc::now());
        assert_eq!(fresh.outage("westeurope"), Outage::default());
    }

    #[test]
    fn a_missing_broken_or_foreign_snapshot_is_not_used() {
        let sc = scenario();
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("x.sim.json");
        let mut st = SimState::new(&sc, Utc::now());
        assert!(matches!(restore(&path, &mut st), Ok(None)));
        std::fs::write(&path, b"{not json").expect("write");
        assert!(matches!(
            restore(&path, &mut st),
            Err(PersistError::Unusable { .. })
        ));
        let mut other = SimState::new(&sc, Utc::now());
        other.scenario_id = "another".into();
        write(&path, &encode(&other)).expect("saved");
        let err = restore(&path, &mut st).expect_err("foreign");
        assert!(err.to_string().contains("another"), "{err}");
    }
}
