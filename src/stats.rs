//! librdkafka's statistics JSON (what its `stats_cb` receives): the consumer
//! group fields kat exposes next to its own, and the JSON with the partitions
//! the group does not own taken out.
//!
//! A small JSON reader of our own (RFC 8259: objects keep their member order,
//! numbers keep their text, depth is bounded) so the crate needs no JSON
//! dependency; the output is the input re-serialized minus what was stripped.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, ErrorKind};

/// Nesting deeper than this is rejected (librdkafka's statistics nest five
/// levels deep).
const MAX_DEPTH: usize = 64;

/// A parsed JSON value. Numbers keep their source text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub(crate) fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(n) => n.parse::<u64>().ok().or_else(|| {
                n.parse::<f64>()
                    .ok()
                    .filter(|f| *f >= 0.0)
                    .map(|f| f as u64)
            }),
            _ => None,
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Number(n) => n.parse::<i64>().ok(),
            _ => None,
        }
    }

    /// Writes the value as compact JSON.
    pub(crate) fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => crate::json::push_str(out, s),
            Json::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    crate::json::push_str(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Parses one JSON text (surrounding whitespace allowed).
pub(crate) fn parse(text: &str) -> Result<Json, Error> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("unexpected data after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> Error {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("statistics JSON: {what} at byte {}", self.i),
        )
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, Error> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, Error> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        match self.s.get(self.i) {
            None => Err(self.err("unexpected end")),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b']') {
                    return Ok(Json::Array(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat(b']') {
                        return Ok(Json::Array(items));
                    }
                    if !self.eat(b',') {
                        return Err(self.err("expected ',' or ']'"));
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.eat(b'}') {
                    return Ok(Json::Object(members));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return Err(self.err("expected a member name"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if !self.eat(b':') {
                        return Err(self.err("expected ':'"));
                    }
                    self.ws();
                    let v = self.value(depth + 1)?;
                    members.push((k, v));
                    self.ws();
                    if self.eat(b'}') {
                        return Ok(Json::Object(members));
                    }
                    if !self.eat(b',') {
                        return Err(self.err("expected ',' or '}'"));
                    }
                }
            }
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    fn number(&mut self) -> Result<Json, Error> {
        let start = self.i;
        self.eat(b'-');
        let digits = |p: &mut Self| {
            let from = p.i;
            while let Some(b'0'..=b'9') = p.s.get(p.i) {
                p.i += 1;
            }
            p.i - from
        };
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.eat(b'.') && digits(self) == 0 {
            return Err(self.err("invalid number"));
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(self.err("invalid number"));
            }
        }
        // The bytes are ASCII digits and signs: valid UTF-8.
        let text =
            std::str::from_utf8(&self.s[start..self.i]).map_err(|_| self.err("invalid number"))?;
        Ok(Json::Number(text.to_owned()))
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("short \\u escape"))?;
        let text = std::str::from_utf8(h).map_err(|_| self.err("invalid \\u escape"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| self.err("invalid \\u escape"))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, Error> {
        self.i += 1; // the opening quote
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&b) = self.s.get(self.i) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // The input is a &str and we stop only at ASCII bytes: a char
            // boundary.
            out.push_str(
                std::str::from_utf8(&self.s[start..self.i])
                    .map_err(|_| self.err("invalid UTF-8"))?,
            );
            match self.s.get(self.i) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.s.get(self.i) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !(self.eat(b'\\') && self.eat(b'u')) {
                                    return Err(self.err("lone surrogate in \\u escape"));
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("invalid surrogate pair"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return Err(self.err("lone surrogate in \\u escape"));
                            } else {
                                hi
                            };
                            out.push(
                                char::from_u32(code)
                                    .ok_or_else(|| self.err("invalid \\u escape"))?,
                            );
                            continue;
                        }
                        _ => return Err(self.err("invalid escape")),
                    };
                    self.i += 1;
                    out.push(c);
                }
                Some(_) => return Err(self.err("control character in string")),
            }
        }
    }
}

/// The consumer group fields of librdkafka's statistics (`cgrp`), as last
/// handed to kat for a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdkafkaCgrp {
    /// `cgrp.state`: the coordinator state, e.g. `up`, `wait-coord`.
    pub state: String,
    /// `cgrp.join_state`: e.g. `steady`, `wait-join`, `wait-assign-call`.
    pub join_state: String,
    /// `cgrp.rebalance_age`: milliseconds since the last rebalance.
    pub rebalance_age_ms: u64,
    /// `cgrp.rebalance_cnt`: rebalances (assign or revoke) so far.
    pub rebalance_cnt: u64,
    /// `cgrp.rebalance_reason`: why the last rebalance happened.
    pub rebalance_reason: String,
    /// `cgrp.assignment_size`: partitions librdkafka has assigned now.
    pub assignment_size: Option<u64>,
    /// `ts` of the statistics: librdkafka's monotonic clock, microseconds.
    pub ts_us: Option<i64>,
    /// When kat received them, ms since the Unix epoch.
    pub received_unix_ms: u64,
}

impl fmt::Display for RdkafkaCgrp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} rebalances {} (last {} ms ago: {})",
            self.state,
            self.join_state,
            self.rebalance_cnt,
            self.rebalance_age_ms,
            self.rebalance_reason
        )
    }
}

impl RdkafkaCgrp {
    /// As a JSON object: `{"state":…,"join_state":…,"rebalance_age":ms,
    /// "rebalance_cnt":N,"rebalance_reason":…,"assignment_size":N|null,
    /// "received_unix_ms":ms}`.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"state\":");
        crate::json::push_str(&mut out, &self.state);
        out.push_str(",\"join_state\":");
        crate::json::push_str(&mut out, &self.join_state);
        out.push_str(&format!(
            ",\"rebalance_age\":{},\"rebalance_cnt\":{},\"rebalance_reason\":",
            self.rebalance_age_ms, self.rebalance_cnt
        ));
        crate::json::push_str(&mut out, &self.rebalance_reason);
        match self.assignment_size {
            Some(n) => out.push_str(&format!(",\"assignment_size\":{n}")),
            None => out.push_str(",\"assignment_size\":null"),
        }
        out.push_str(&format!(
            ",\"received_unix_ms\":{}}}",
            self.received_unix_ms
        ));
        out
    }
}

/// Reads the `cgrp` object of a parsed statistics document (`None` when the
/// client has no consumer group: a producer, or no `group.id`).
pub(crate) fn cgrp_of(doc: &Json, now_ms: u64) -> Result<Option<RdkafkaCgrp>, Error> {
    if !matches!(doc, Json::Object(_)) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "statistics JSON: the document is not an object",
        ));
    }
    let Some(c) = doc.get("cgrp") else {
        return Ok(None);
    };
    let text = |k: &str| c.get(k).and_then(Json::as_str).unwrap_or("").to_owned();
    Ok(Some(RdkafkaCgrp {
        state: text("state"),
        join_state: text("join_state"),
        rebalance_age_ms: c.get("rebalance_age").and_then(Json::as_u64).unwrap_or(0),
        rebalance_cnt: c.get("rebalance_cnt").and_then(Json::as_u64).unwrap_or(0),
        rebalance_reason: text("rebalance_reason"),
        assignment_size: c.get("assignment_size").and_then(Json::as_u64),
        ts_us: doc.get("ts").and_then(Json::as_i64),
        received_unix_ms: now_ms,
    }))
}

/// Removes from a statistics document every partition `owned` rejects:
/// entries of `topics.<topic>.partitions` (keyed by partition number;
/// librdkafka's internal `-1` partition included) and of
/// `brokers.<broker>.toppars`. Returns how many were removed.
pub(crate) fn strip(doc: &mut Json, owned: &dyn Fn(&str, i32) -> bool) -> usize {
    let mut removed = 0;
    if let Json::Object(members) = doc {
        for (k, v) in members.iter_mut() {
            match (k.as_str(), v) {
                ("topics", Json::Object(topics)) => {
                    for (topic, t) in topics.iter_mut() {
                        if let Json::Object(tm) = t {
                            for (tk, tv) in tm.iter_mut() {
                                if let ("partitions", Json::Object(parts)) = (tk.as_str(), tv) {
                                    let before = parts.len();
                                    parts.retain(|(p, _)| {
                                        p.parse::<i32>().is_ok_and(|p| owned(topic, p))
                                    });
                                    removed += before - parts.len();
                                }
                            }
                        }
                    }
                }
                ("brokers", Json::Object(brokers)) => {
                    for (_, b) in brokers.iter_mut() {
                        if let Json::Object(bm) = b {
                            for (bk, bv) in bm.iter_mut() {
                                if let ("toppars", Json::Object(tps)) = (bk.as_str(), bv) {
                                    let before = tps.len();
                                    tps.retain(|(_, tp)| {
                                        let topic = tp.get("topic").and_then(Json::as_str);
                                        let p = tp
                                            .get("partition")
                                            .and_then(Json::as_i64)
                                            .and_then(|p| i32::try_from(p).ok());
                                        matches!((topic, p), (Some(t), Some(p)) if owned(t, p))
                                    });
                                    removed += before - tps.len();
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    removed
}

/// The last statistics of a group (kept in its history log).
pub(crate) type LastCgrp = arc_swap::ArcSwapOption<RdkafkaCgrp>;

pub(crate) fn store(slot: &LastCgrp, cgrp: RdkafkaCgrp) {
    slot.store(Some(Arc::new(cgrp)));
}

impl crate::Group {
    /// Hands kat the statistics JSON librdkafka gave this group's consumer
    /// (its `stats_cb`, or an `RD_KAFKA_EVENT_STATS` event), and returns its
    /// consumer group fields, which kat keeps for [`rdkafka_cgrp`](Self::rdkafka_cgrp)
    /// and exposes in the metrics (`kat_rdkafka_cgrp_*`). `Ok(None)` when the
    /// statistics have no `cgrp` (nothing is kept then).
    ///
    /// Parses the whole document (allocates; librdkafka sends it every
    /// `statistics.interval.ms`). Malformed JSON is an error that names the
    /// byte offset, and changes nothing. Any thread.
    pub fn record_rdkafka_stats(&self, json: &str) -> Result<Option<RdkafkaCgrp>, Error> {
        let doc = parse(json)?;
        let cgrp = cgrp_of(&doc, crate::metrics::now_unix_ms())?;
        if let Some(c) = &cgrp {
            let tracker = self.tracker();
            let log = match self.observed().get(self.name()) {
                Some(log) => log,
                None => tracker.with_writer_lock(|| {
                    self.observed().get_or_create(self.name(), self.runtime())
                })?,
            };
            store(&log.cgrp, c.clone());
        }
        Ok(cgrp)
    }

    /// The consumer group fields of the last statistics handed to
    /// [`record_rdkafka_stats`](Self::record_rdkafka_stats), if any.
    /// Wait-free.
    pub fn rdkafka_cgrp(&self) -> Option<Arc<RdkafkaCgrp>> {
        self.observed().get(self.name())?.cgrp.load_full()
    }

    /// librdkafka's statistics JSON with every partition this group does
    /// not own right now taken out — the entries of
    /// `topics.<topic>.partitions` (librdkafka lists every partition it
    /// knows, and its internal `-1` one) and of `brokers.<broker>.toppars` —
    /// so that per-partition figures (lag, offsets) are reported only by the
    /// consumer that owns the partition. Topics stay (with what is left of
    /// their partitions); everything else is kept as it was, re-serialized
    /// compactly. Reads the current snapshot (wait-free); allocates.
    pub fn strip_rdkafka_stats(&self, json: &str) -> Result<String, Error> {
        let mut doc = parse(json)?;
        if !matches!(doc, Json::Object(_)) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "statistics JSON: the document is not an object",
            ));
        }
        let snapshot = self.tracker().snapshot();
        let name = self.name();
        strip(&mut doc, &|t, p| snapshot.is_assigned(name, t, p));
        let mut out = String::with_capacity(json.len());
        doc.write(&mut out);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(s: &str) -> String {
        let mut out = String::new();
        parse(s).expect(s).write(&mut out);
        out
    }

    #[test]
    fn parses_and_writes_back_every_kind_of_value() {
        assert_eq!(
            roundtrip(
                r#" { "a" : [1, -2.5e+3, 0, true, false, null, "x\"y\\z\u00e9\ud83d\ude00\n"], "b": {} , "c": [] } "#
            ),
            "{\"a\":[1,-2.5e+3,0,true,false,null,\"x\\\"y\\\\zé😀\\n\"],\"b\":{},\"c\":[]}"
        );
        assert_eq!(
            roundtrip("\"\\/\\b\\f\\t\\r\""),
            "\"/\\u0008\\u000c\\t\\r\""
        );
        assert_eq!(
            roundtrip("123456789012345678901234567890"),
            "123456789012345678901234567890"
        );
    }

    #[test]
    fn rejects_malformed_json_with_a_position() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "01",
            "1.",
            "1e",
            "-",
            "tru",
            "\"abc",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"a\u{1}b\"",
            "{} x",
            "{1:2}",
            "[1 2]",
            "\"\\u12\"",
            "nul",
        ] {
            let e = parse(bad).err().unwrap_or_else(|| panic!("{bad:?} parsed"));
            assert!(e.to_string().contains("statistics JSON:"), "{e}");
            assert!(e.to_string().contains("at byte"), "{e}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse(&deep).unwrap_err().to_string().contains("too deep"));
        let ok = "[".repeat(60) + &"]".repeat(60);
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn reads_cgrp_fields() {
        let doc = parse(r#"{"ts":123,"cgrp":{"state":"up","stateage":5,"join_state":"steady","rebalance_age":1500,"rebalance_cnt":3,"rebalance_reason":"group is rebalancing","assignment_size":2}}"#).unwrap();
        let c = cgrp_of(&doc, 7).unwrap().unwrap();
        assert_eq!(c.state, "up");
        assert_eq!(c.join_state, "steady");
        assert_eq!(c.rebalance_age_ms, 1500);
        assert_eq!(c.rebalance_cnt, 3);
        assert_eq!(c.rebalance_reason, "group is rebalancing");
        assert_eq!(c.assignment_size, Some(2));
        assert_eq!(c.ts_us, Some(123));
        assert_eq!(c.received_unix_ms, 7);
        assert_eq!(
            cgrp_of(&parse("{\"name\":\"p\"}").unwrap(), 0).unwrap(),
            None
        );
        assert!(cgrp_of(&parse("[]").unwrap(), 0).is_err());
    }

    #[test]
    fn strips_partitions_and_toppars_not_owned() {
        let mut doc = parse(r#"{"brokers":{"b1":{"toppars":{"t-0":{"topic":"t","partition":0},"t-1":{"topic":"t","partition":1},"u-0":{"topic":"u","partition":0}}}},"topics":{"t":{"topic":"t","partitions":{"0":{"partition":0},"1":{"partition":1},"-1":{"partition":-1}}},"u":{"topic":"u","partitions":{"0":{"partition":0}}}}}"#).unwrap();
        let removed = strip(&mut doc, &|t, p| t == "t" && p == 1);
        assert_eq!(removed, 3 + 2);
        let mut out = String::new();
        doc.write(&mut out);
        assert_eq!(
            out,
            r#"{"brokers":{"b1":{"toppars":{"t-1":{"topic":"t","partition":1}}}},"topics":{"t":{"topic":"t","partitions":{"1":{"partition":1}}},"u":{"topic":"u","partitions":{}}}}"#
        );
    }
}
