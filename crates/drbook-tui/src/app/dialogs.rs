//! Keys inside an open dialog: text input, submitting it, and each dialog's answers.

use super::*;

impl App {
    pub(super) fn input(&mut self, k: KeyEvent, purpose: Purpose, mut text: String) -> Vec<Effect> {
        match k.code {
            KeyCode::Esc => {
                if purpose == Purpose::Filter {
                    self.timeline.set_filter("");
                }
                self.dialog = match purpose {
                    Purpose::ManualNote(key) => Some(Dialog::Manual { key, note: None }),
                    _ => None,
                };
                return Vec::new();
            }
            KeyCode::Enter => {
                self.dialog = None;
                return self.submit(purpose, text);
            }
            KeyCode::Backspace => {
                text.pop();
            }
            // Ctrl-U clears the line, as in a shell (a prefilled folder, a long filter).
            KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => text.clear(),
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => text.push(c),
            _ => {}
        }
        if purpose == Purpose::Filter {
            self.timeline.set_filter(&text);
            self.timeline_back = 0;
        }
        self.dialog = Some(Dialog::Input { purpose, text });
        Vec::new()
    }

    pub(super) fn submit(&mut self, purpose: Purpose, text: String) -> Vec<Effect> {
        let by = self.info.operator.clone();
        let text = text.trim().to_string();
        match purpose {
            Purpose::Filter => Vec::new(),
            Purpose::Note(_) | Purpose::Skip(_) if text.is_empty() => {
                self.say("nothing written: the text was empty");
                Vec::new()
            }
            Purpose::Note(key) => self.control(Control::Note { key, text, by }),
            Purpose::Skip(key) => self.control(Control::Skip {
                key,
                reason: format!("skipped by {by}: {text}"),
                by,
            }),
            Purpose::ManualNote(key) => {
                let note = (!text.is_empty()).then_some(text);
                self.dialog = Some(Dialog::Manual { key, note });
                Vec::new()
            }
            Purpose::RunbooksFolder => self.write_runbooks(text, false),
            Purpose::Approver(key) => {
                self.approver_named(key, &text);
                Vec::new()
            }
            Purpose::OutageStart => {
                let first = self.state.started.unwrap_or(self.now);
                match drbook_engine::exec::outage::parse_checked(&text, self.now, first) {
                    Ok(at) if Some(at) == self.state.outage_since => Vec::new(),
                    Ok(at) => {
                        let previous = self.state.outage_since;
                        self.control(Control::SetOutageStart { at, previous, by })
                    }
                    Err(e) => {
                        self.say(format!("outage start not changed: {e}"));
                        Vec::new()
                    }
                }
            }
        }
    }

    /// A key in an open dialog: moving keys scroll its text, `help` shows the keys that act
    /// in it (and comes back to it), the rest answer it.
    pub(super) fn dialog_act(
        &mut self,
        action: Option<Action>,
        esc: bool,
        d: Dialog,
    ) -> Vec<Effect> {
        let by = self.info.operator.clone();
        let scroll = match action {
            Some(Action::Up) => Some(-1),
            Some(Action::Down) => Some(1),
            Some(Action::PageUp) => Some(-10),
            Some(Action::PageDown) => Some(10),
            Some(Action::Top) => Some(i64::MIN / 2),
            Some(Action::Bottom) => Some(i64::MAX / 2),
            _ => None,
        };
        if let Some(d) = scroll {
            let max = i64::from(dialog_text::dialog_max_scroll(self));
            self.dialog_scroll =
                (i64::from(self.dialog_scroll).saturating_add(d)).clamp(0, max) as u16;
            return Vec::new();
        }
        // The next question while one is open: this one goes back to the queue, unanswered.
        if action == Some(Action::Answer)
            && let Dialog::Confirm { key, .. }
            | Dialog::Manual { key, .. }
            | Dialog::Approve { key, .. } = &d
        {
            self.put_aside(key.clone());
            if self.prompts.len() > 1 {
                self.open_next_prompt();
            }
            return Vec::new();
        }
        if action == Some(Action::Help) && d != Dialog::Help {
            self.help_over = Some(d);
            self.dialog = Some(Dialog::Help);
            return Vec::new();
        }
        match d {
            Dialog::Help | Dialog::Summary => {
                if esc || matches!(action, Some(Action::Help | Action::Quit | Action::Summary)) {
                    self.dialog = if d == Dialog::Help {
                        self.help_over.take()
                    } else {
                        None
                    };
                }
                Vec::new()
            }
            Dialog::Confirm { key, .. } => match action {
                _ if esc => self.put_aside(key),
                Some(Action::Yes) => {
                    self.dialog = None;
                    self.control(Control::Answer { key, yes: true, by })
                }
                Some(Action::No) => {
                    self.dialog = None;
                    self.control(Control::Answer {
                        key,
                        yes: false,
                        by,
                    })
                }
                _ => Vec::new(),
            },
            Dialog::Manual { key, note } => match action {
                _ if esc => self.put_aside(key),
                Some(Action::Yes | Action::Run) => {
                    self.dialog = None;
                    self.control(Control::Manual {
                        key,
                        outcome: Outcome::Ok,
                        note,
                        by,
                    })
                }
                Some(Action::Fail) => {
                    self.dialog = None;
                    self.control(Control::Manual {
                        key,
                        outcome: Outcome::Failed,
                        note,
                        by,
                    })
                }
                Some(Action::Skip) => {
                    self.dialog = Some(Dialog::Input {
                        purpose: Purpose::Skip(key),
                        text: note.unwrap_or_default(),
                    });
                    Vec::new()
                }
                Some(Action::Note | Action::No) => {
                    self.dialog = Some(Dialog::Input {
                        purpose: Purpose::ManualNote(key),
                        text: note.unwrap_or_default(),
                    });
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Dialog::Quit { .. } => match action {
                Some(Action::Yes | Action::Quit) => vec![Effect::Quit],
                _ if esc || action == Some(Action::No) => {
                    self.dialog = None;
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Dialog::Takeover { key, .. } => match action {
                Some(Action::Yes) => {
                    self.dialog = None;
                    self.say(format!("taking {key} over"));
                    self.control(Control::Takeover(key))
                }
                _ if esc || action == Some(Action::No) => {
                    self.dialog = None;
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Dialog::Unclaimed { key, .. } => match action {
                Some(Action::Yes) => {
                    self.dialog = None;
                    self.say(format!(
                        "running {key} without a claim if the share stays down"
                    ));
                    self.control(Control::RunUnclaimed(key))
                }
                _ if esc || action == Some(Action::No) => {
                    self.dialog = None;
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Dialog::Abort { key } => match action {
                Some(Action::Yes) => {
                    self.dialog = None;
                    self.control(Control::Abort { key, by })
                }
                _ if esc || action == Some(Action::No) => {
                    self.dialog = None;
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Dialog::Approve {
                key, by, keyboard, ..
            } => match action {
                _ if esc => self.put_aside(key),
                Some(Action::Yes | Action::No) => {
                    self.dialog = None;
                    let yes = action == Some(Action::Yes);
                    let role = self.role_of_approver(&by, keyboard.as_deref());
                    self.control(Control::Approve {
                        key,
                        by,
                        role,
                        yes,
                        keyboard,
                    })
                }
                _ => Vec::new(),
            },
            Dialog::Overwrite { dir, .. } => match action {
                Some(Action::Yes) => {
                    self.dialog = None;
                    self.write_runbooks(dir.display().to_string(), true)
                }
                _ if esc || action == Some(Action::No) => {
                    self.dialog = None;
                    self.say(format!(
                        "nothing written: the files in {} are kept",
                        dir.display()
                    ));
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Dialog::Input { .. } => Vec::new(),
        }
    }

    /// Esc on a question: it goes back to the queue, last, unanswered.
    pub(super) fn put_aside(&mut self, key: StepKey) -> Vec<Effect> {
        let queued = self.prompts.contains(&key);
        self.prompts.retain(|k| *k != key);
        if queued {
            self.prompts.push_back(key);
        }
        self.dialog = None;
        // The queue count beside it says which key opens the next one.
        self.say("put aside, not answered");
        Vec::new()
    }

    pub(super) fn quit(&mut self) -> Vec<Effect> {
        let busy = self.busy();
        if busy > 0 && self.log_failed.is_none() {
            self.dialog = Some(Dialog::Quit { busy });
            Vec::new()
        } else {
            vec![Effect::Quit]
        }
    }
}
