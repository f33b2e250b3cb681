//! The incident's one verdict as the screen stands: the header, its clock, the `i` summary
//! and autopilot all read it from the App, so none of them reaches into drawing for it.

use super::App;

impl App {
    /// The incident's one verdict (`report::verdict`) as it stands, from the log's fold and the
    /// runbooks on the board: what the header, the `i` summary and every report say.
    pub fn incident_verdict(&self) -> drbook_report::Verdict {
        let plan_rto = self.info.plan_rto.map(drbook_core::time::exact);
        let plan_id = self.state.header.as_ref().and_then(|h| h.plan.as_deref());
        let sources = self
            .board
            .sources(plan_id.map(|id| (id, plan_rto.as_deref())));
        drbook_report::verdict(&self.state, &sources)
    }
}
