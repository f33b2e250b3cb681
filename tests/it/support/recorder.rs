//! The engine's recorder for tests: every event it would log, kept in memory.

use std::sync::Mutex;

use drbook::exec::engine::{ExecEvent, Recorder};

#[derive(Default)]
pub struct Memory(pub Mutex<Vec<ExecEvent>>);

#[async_trait::async_trait]
impl Recorder for Memory {
    async fn record(&self, ev: &ExecEvent) -> Result<(), String> {
        self.0.lock().map_err(|e| e.to_string())?.push(ev.clone());
        Ok(())
    }
}

impl Memory {
    pub fn events(&self) -> Vec<ExecEvent> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}
