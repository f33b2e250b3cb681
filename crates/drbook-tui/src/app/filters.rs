//! Which rows the runbook and step lists show.

use super::*;

impl ListFilter {
    pub(super) fn next(self) -> ListFilter {
        match self {
            ListFilter::All => ListFilter::Failed,
            ListFilter::Failed => ListFilter::NeedsMe,
            ListFilter::NeedsMe => ListFilter::Running,
            ListFilter::Running => ListFilter::All,
        }
    }

    pub fn label(self) -> &'static str {
        self.into()
    }

    pub(super) fn step(self, s: Shown) -> bool {
        match self {
            ListFilter::All => true,
            ListFilter::Failed => s == Shown::Failed,
            ListFilter::NeedsMe => matches!(s, Shown::NeedsYou | Shown::AwaitsApproval),
            ListFilter::Running => s == Shown::Running,
        }
    }

    pub(super) fn runbook(self, r: Rollup) -> bool {
        match self {
            ListFilter::All => true,
            ListFilter::Failed => r == Rollup::Failed,
            ListFilter::NeedsMe => matches!(r, Rollup::NeedsYou | Rollup::AwaitsApproval),
            ListFilter::Running => r == Rollup::Running,
        }
    }
}

impl App {
    /// The list in the focused pane shows the next subset: all, failed, needs me, running.
    pub(super) fn cycle_list_filter(&mut self) {
        match self.focus {
            Pane::Runbooks => {
                self.rb_filter = self.rb_filter.next();
                let shown = self.visible_runbooks();
                if !shown.contains(&self.rb_sel)
                    && let Some(&first) = shown.first()
                {
                    self.rb_sel = first;
                    self.step_sel = 0;
                    self.detail_scroll = 0;
                }
            }
            Pane::Steps => {
                self.step_filter = self.step_filter.next();
                let shown = self.visible_steps();
                if !shown.contains(&self.step_sel)
                    && let Some(&first) = shown.first()
                {
                    self.step_sel = first;
                    self.detail_scroll = 0;
                }
            }
            Pane::Detail | Pane::Timeline => self.say(format!(
                "{} filters the runbook and step lists; {} filters the timeline",
                self.key_of(Action::ListFilter),
                self.key_of(Action::Filter)
            )),
        }
    }

    /// The indices of the runbooks the list shows.
    pub fn visible_runbooks(&self) -> Vec<usize> {
        self.board
            .runbooks
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                self.rb_filter
                    .runbook(self.board.rollup(r, &self.state, &self.ready))
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The indices of the selected runbook's steps the list shows.
    pub fn visible_steps(&self) -> Vec<usize> {
        self.selected_runbook().map_or_else(Vec::new, |r| {
            r.steps
                .iter()
                .enumerate()
                .filter(|(_, s)| self.step_filter.step(self.shown(&s.key)))
                .map(|(i, _)| i)
                .collect()
        })
    }
}
