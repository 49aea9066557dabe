//! Every event QQ generated, and how often the application handled it.

/// A session's first sequence number is READY's; events follow it.
const FIRST_EVENT_SEQ: u64 = 2;

/// In [`Book::handled`], a sequence number that is no event (READY's, RESUMED's).
const NOT_AN_EVENT: u8 = u8::MAX;

/// One session's events: how many times each was handled, by sequence number.
#[derive(Debug, Default)]
struct Book {
    /// `handled[seq]`, or [`NOT_AN_EVENT`] for a number QQ gave no event (READY takes
    /// 1, and RESUMED one when QQ numbers it).
    handled: Vec<u8>,
    /// The lowest checkpoint an `Event::SessionLost` of this session reported: every
    /// event after it may be lost.
    gap_after: Option<u64>,
    /// Ranges a crash made the application see again: the events handled after the
    /// session store's last save.
    replayable: Vec<(u64, u64)>,
    /// The highest sequence number handled.
    max_handled: u64,
    /// The client's machine received the READY that started the session.
    ready_seen: bool,
    /// The shard the session belongs to.
    shard: usize,
}

/// Why an event was handled in a way the contract forbids.
#[derive(Debug)]
pub(crate) enum Breach {
    /// Handled twice with no crash in between that explains it.
    Duplicate { session: u32, seq: u64, times: u8 },
    /// An event the simulated QQ never generated.
    Unknown { session: u32, seq: u64 },
}

/// The ledger of every session's events.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    books: Vec<Book>,
    pub(crate) generated: u64,
    pub(crate) handled: u64,
    pub(crate) duplicates: u64,
}

/// The verdict at the end of a run.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Closing {
    /// Events never handled, inside a reported gap.
    pub(crate) lost_in_gaps: u64,
    /// Events never handled of sessions whose READY never reached the client and whose
    /// loss no machine reported (the process stopped between IDENTIFY and READY).
    pub(crate) lost_unseen: u64,
    /// Events never handled and not covered by any gap: silent loss.
    pub(crate) silently_lost: u64,
    /// The first of them, for the report.
    pub(crate) first_silent: Option<(u32, u64)>,
}

impl Ledger {
    /// A session started (QQ sent READY with seq 1).
    pub(crate) fn new_session(&mut self, s: u32, shard: usize) {
        let index = s as usize;
        while self.books.len() <= index {
            self.books.push(Book::default());
        }
        if let Some(book) = self.books.get_mut(index) {
            book.handled = vec![NOT_AN_EVENT; FIRST_EVENT_SEQ as usize];
            book.shard = shard;
        }
    }

    /// The machine of `shard` reported that an IDENTIFY got no READY: every session of
    /// the shard whose READY it never saw may have lost all its events.
    pub(crate) fn unseen_gap(&mut self, shard: usize) {
        for book in self.books.iter_mut().filter(|b| b.shard == shard && !b.ready_seen) {
            book.gap_after.get_or_insert(0);
        }
    }

    /// QQ generated event `seq` of session `s` (the numbers it skipped are no events).
    pub(crate) fn generated(&mut self, s: u32, seq: u64) {
        if let Some(book) = self.books.get_mut(s as usize) {
            let seq = usize::try_from(seq).unwrap_or(usize::MAX);
            while book.handled.len() < seq {
                book.handled.push(NOT_AN_EVENT);
            }
            book.handled.push(0);
            self.generated += 1;
        }
    }

    /// The application handled event `seq` of session `s`.
    pub(crate) fn handled(&mut self, s: u32, seq: u64) -> Result<(), Breach> {
        let Some(book) = self.books.get_mut(s as usize) else {
            return Err(Breach::Unknown { session: s, seq });
        };
        let Some(count) = usize::try_from(seq).ok().and_then(|i| book.handled.get_mut(i)) else {
            return Err(Breach::Unknown { session: s, seq });
        };
        if seq < FIRST_EVENT_SEQ || *count == NOT_AN_EVENT {
            return Err(Breach::Unknown { session: s, seq });
        }
        let times = count.saturating_add(1);
        if times > 1 {
            let allowed = 1 + book.replayable.iter().filter(|&&(lo, hi)| (lo..=hi).contains(&seq)).count();
            if usize::from(times) > allowed {
                return Err(Breach::Duplicate { session: s, seq, times });
            }
            self.duplicates += 1;
        }
        *count = times;
        book.max_handled = book.max_handled.max(seq);
        self.handled += 1;
        Ok(())
    }

    /// The client's machine received READY of session `s`.
    pub(crate) fn ready_seen(&mut self, s: u32) {
        if let Some(book) = self.books.get_mut(s as usize) {
            book.ready_seen = true;
        }
    }

    /// The application reported a gap: session `s` lost after its checkpoint `seq`.
    pub(crate) fn gap(&mut self, s: u32, seq: u64) {
        if let Some(book) = self.books.get_mut(s as usize) {
            book.gap_after = Some(book.gap_after.map_or(seq, |g| g.min(seq)));
        }
    }

    /// A crash: the session store holds session `s` at checkpoint `saved`, so the events
    /// handled after it may be handled again. Returns how many.
    pub(crate) fn crash(&mut self, s: u32, saved: u64) -> u64 {
        let Some(book) = self.books.get_mut(s as usize) else { return 0 };
        if book.max_handled <= saved {
            return 0;
        }
        book.replayable.push((saved + 1, book.max_handled));
        book.max_handled - saved
    }

    /// Every generated event: handled, or inside a reported gap.
    pub(crate) fn close(&self) -> Closing {
        let mut closing = Closing::default();
        for (s, book) in self.books.iter().enumerate() {
            for (seq, &times) in book.handled.iter().enumerate().skip(FIRST_EVENT_SEQ as usize) {
                if times > 0 {
                    continue; // handled, or no event
                }
                let seq = seq as u64;
                if book.gap_after.is_some_and(|g| seq > g) {
                    closing.lost_in_gaps += 1;
                } else if !book.ready_seen {
                    closing.lost_unseen += 1;
                } else {
                    closing.silently_lost += 1;
                    closing.first_silent.get_or_insert((s as u32, seq));
                }
            }
        }
        closing
    }
}
