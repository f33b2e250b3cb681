//! Moving around: selection, scrolling and the mouse.

use super::*;

impl App {
    /// Moves the selection to `key`.
    pub fn select(&mut self, key: &StepKey) {
        if let Some((ri, rb)) = self
            .board
            .runbooks
            .iter()
            .enumerate()
            .find(|(_, r)| r.id == key.runbook)
        {
            self.rb_sel = ri;
            self.step_sel = rb.steps.iter().position(|s| s.key == *key).unwrap_or(0);
            self.detail_scroll = 0;
            // Going to a step shows it, whatever the lists' filters hid.
            if !self.visible_runbooks().contains(&self.rb_sel) {
                self.rb_filter = ListFilter::All;
            }
            if !self.visible_steps().contains(&self.step_sel) {
                self.step_filter = ListFilter::All;
            }
        }
    }

    pub(super) fn move_by(&mut self, d: i64) {
        let step = |cur: usize, len: usize| -> usize {
            if len == 0 {
                return 0;
            }
            (cur as i64).saturating_add(d).clamp(0, len as i64 - 1) as usize
        };
        // Lists move over the rows their filter shows.
        let within = |rows: &[usize], cur: usize| -> Option<usize> {
            let at = rows.iter().position(|i| *i == cur).unwrap_or(0);
            rows.get(step(at, rows.len())).copied()
        };
        match self.focus {
            Pane::Runbooks => {
                let rows = self.visible_runbooks();
                let Some(next) = within(&rows, self.rb_sel) else {
                    return;
                };
                if next != self.rb_sel {
                    self.rb_sel = next;
                    self.step_sel = 0;
                    self.detail_scroll = 0;
                }
            }
            Pane::Steps => {
                let rows = self.visible_steps();
                if let Some(next) = within(&rows, self.step_sel) {
                    self.step_sel = next;
                }
                self.detail_scroll = 0;
            }
            Pane::Detail => {
                self.detail_scroll = (i64::from(self.detail_scroll) + d).clamp(0, 10_000) as u16;
            }
            Pane::Timeline => {
                // Up goes back in time.
                let n = self.timeline.len();
                self.timeline_back = (self.timeline_back as i64 - d).clamp(0, n as i64) as usize;
            }
        }
    }

    pub(super) fn mouse(&mut self, m: MouseEvent) {
        let areas = crate::layout::areas_zoomed(self.size, self.zoomed());
        let at = Position::new(m.column, m.row);
        let pane = [
            (areas.runbooks, Pane::Runbooks),
            (areas.steps, Pane::Steps),
            (areas.detail, Pane::Detail),
            (areas.timeline, Pane::Timeline),
        ]
        .into_iter()
        .find(|(r, _)| r.contains(at));
        let Some((rect, pane)) = pane else {
            return;
        };
        match m.kind {
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                if self.dialog.is_some() {
                    return;
                }
                let keep = self.focus;
                self.focus = pane;
                self.move_by(if m.kind == MouseEventKind::ScrollUp {
                    -3
                } else {
                    3
                });
                self.focus = keep;
            }
            MouseEventKind::Down(MouseButton::Left) => {
                if self.dialog.is_some() {
                    return;
                }
                self.focus = pane;
                let row = usize::from(m.row.saturating_sub(rect.y + 1));
                let visible = usize::from(rect.height.saturating_sub(2));
                match pane {
                    Pane::Runbooks => {
                        let rows = self.visible_runbooks();
                        let at = rows.iter().position(|i| *i == self.rb_sel).unwrap_or(0);
                        let i = crate::layout::list_offset(at, rows.len(), visible) + row;
                        if let Some(&i) = rows.get(i)
                            && i != self.rb_sel
                        {
                            self.rb_sel = i;
                            self.step_sel = 0;
                            self.detail_scroll = 0;
                        }
                    }
                    Pane::Steps => {
                        let rows = self.visible_steps();
                        let at = rows.iter().position(|i| *i == self.step_sel).unwrap_or(0);
                        let i = crate::layout::list_offset(at, rows.len(), visible) + row;
                        if let Some(&i) = rows.get(i) {
                            self.step_sel = i;
                            self.detail_scroll = 0;
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}
