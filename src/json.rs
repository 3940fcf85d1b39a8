//! The little JSON writing the exports need: string escaping.

/// Appends `s` as a JSON string literal (RFC 8259 escaping).
pub(crate) fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl crate::Group {
    /// The group's counters and its state outside snapshots as one JSON
    /// object, for logs and monitoring:
    ///
    /// ```json
    /// {"group":"billing/0","assigned_events":3,"revoked_events":1,
    ///  "lost_events":0,"reset_events":0,"last_change_unix_ms":1764270000000,
    ///  "glue_failures":0,"polls":120,"poll_deadline_ms":300000,
    ///  "since_last_poll_ms":12,"expirations":0,"drain_timeout_ms":null,
    ///  "drains":0,"drain_timeouts":0,"drain_last_held":0,
    ///  "drain_held_total":0,"broker_generation":7,"member_id":"rdkafka-…"}
    /// ```
    ///
    /// `null` where a value is unknown or a feature is off. Counters are read
    /// one by one (each is exact, the set is not one instant). Wait-free
    /// apart from the allocation of the text; any thread.
    pub fn stats_json(&self) -> String {
        use std::fmt::Write;
        fn ms(d: Option<std::time::Duration>) -> String {
            d.map_or_else(|| "null".to_owned(), |d| d.as_millis().to_string())
        }
        let s = self.stats();
        let poll = self.poll_stats();
        let drain = self.drain_stats();
        let mut out = String::with_capacity(512);
        out.push_str("{\"group\":");
        push_str(&mut out, self.name());
        let _ = write!(
            out,
            ",\"assigned_events\":{},\"revoked_events\":{},\"lost_events\":{},\"reset_events\":{},\"last_change_unix_ms\":{},\"glue_failures\":{},\"polls\":{},\"poll_deadline_ms\":{},\"since_last_poll_ms\":{},\"expirations\":{},\"drain_timeout_ms\":{},\"drains\":{},\"drain_timeouts\":{},\"drain_last_held\":{},\"drain_held_total\":{},\"broker_generation\":{},\"member_id\":",
            s.assigned_events,
            s.revoked_events,
            s.lost_events,
            s.reset_events,
            s.last_change_unix_ms,
            self.glue_failures(),
            poll.polls,
            ms(poll.deadline),
            ms(poll.since_last_poll),
            poll.expirations,
            ms(drain.timeout),
            drain.drains,
            drain.timeouts,
            drain.last_held,
            drain.held_total,
            self.broker_generation(),
        );
        match self.member_id() {
            Some(id) => push_str(&mut out, &id),
            None => out.push_str("null"),
        }
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_quotes_backslashes_and_controls() {
        let mut s = String::new();
        super::push_str(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, r#""a\"b\\c\nd\u0001é""#);
    }
}
