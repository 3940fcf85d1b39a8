# frozen_string_literal: true

require_relative "test_helper"
require "open3"

# README "Monitoring" through Ruby: health, rebalance history, the Prometheus
# / OpenMetrics exposition (checked by real parsers where installed),
# librdkafka statistics, and the Rack endpoint.
class TestMonitoring < Minitest::Test
  include KatTestHelpers

  STATS = JSON.generate(
    "name" => "c#consumer-1", "type" => "consumer", "ts" => 123_456,
    "brokers" => { "b/1" => { "name" => "b/1", "toppars" => {
      "orders-0" => { "topic" => "orders", "partition" => 0 },
      "orders-1" => { "topic" => "orders", "partition" => 1 }
    } } },
    "topics" => { "orders" => { "topic" => "orders", "partitions" => {
      "0" => { "partition" => 0, "consumer_lag" => 5 },
      "1" => { "partition" => 1, "consumer_lag" => 7 },
      "-1" => { "partition" => -1, "consumer_lag" => -1 }
    } } },
    "cgrp" => { "state" => "up", "join_state" => "steady", "rebalance_age" => 2500, "rebalance_cnt" => 4,
                "rebalance_reason" => "group \"x\" is rebalancing", "assignment_size" => 1 }
  ).freeze

  # partition => generation of the kat_partition_generation series of
  # `kat_group`/`topic` in a Prometheus text.
  def owned_series(text, kat_group, topic)
    text.each_line.with_object({}) do |line, h|
      next unless line.start_with?("kat_partition_generation{")
      next unless line.include?(%(kat_group="#{kat_group}")) && line.include?(%(messaging_destination_name="#{topic}"))

      h[Integer(line[/messaging_destination_partition_id="(\d+)"/, 1])] = Integer(line.split.last)
    end
  end

  def now_ms
    (Time.now.to_r * 1000).floor
  end

  # ------------------------------------------------------------- health

  def test_health_follows_events
    group = tracker.group("billing")
    assert_equal :never_joined, group.health
    assert_equal Kat::GroupHealth.new(:never_joined, 0), group.health_info
    assert_nil group.health_info.since
    before = now_ms
    group.assigned({ "orders" => [0, 1] })
    assert_equal :assigned, group.health
    info = group.health_info
    assert info.frozen?
    assert_operator info.since_unix_ms, :>=, before
    assert_operator info.since_unix_ms, :<=, now_ms
    assert_kind_of Time, info.since
    group.revoked({ "orders" => [1] })
    assert_equal :rebalancing, group.health, "between a revoke and the following assign"
    group.assigned({})
    assert_equal :assigned, group.health, "an empty assign ends the rebalance"
    group.lost
    assert_equal :lost, group.health
    group.assigned({})
    assert_equal :standby, group.health, "joined again, owns nothing"
    group.assigned({ "orders" => [2] })
    group.reset
    assert_equal :lost, group.health, "a client reset loses the assignment"
    tracker.clear
    assert_equal :never_joined, group.health
  end

  def test_health_states_are_the_c_abi_names
    tracker.assigned("g", { "t" => [0] })
    states = tracker.metrics.scan(/^kat_group_health\{[^}]*state="(\w+)"\} (\d)/)
    assert_equal %w[never_joined standby assigned rebalancing lost stalled], states.map(&:first)
    assert_equal [["assigned", "1"]], states.select { |_, v| v == "1" }
    assert_equal :assigned, tracker.group("g").health
  end

  def test_stall_after_takes_seconds_and_refuses_bad_values
    group = tracker.group("g")
    group.assigned({ "t" => [0] })
    group.stall_after = 0.001
    group.stall_after = 1
    group.stall_after = 0
    group.stall_after = nil
    group.stall_after = 0.001
    sleep 0.01
    assert_equal :assigned, group.health, "a group whose polls are never marked is never stalled"
    epoch = tracker.epoch
    [-1, -0.5, "1", Float::INFINITY, Float::NAN, Complex(1, 1), 2**70, :x].each do |bad|
      e = assert_raises(Kat::InvalidArgument, bad.inspect) { group.stall_after = bad }
      assert_match(/stall_after must be a non-negative, finite number of seconds or nil/, e.message)
    end
    assert_equal epoch, tracker.epoch
    assert_equal :assigned, group.health
  end

  # ------------------------------------------------------------ history

  def test_history_records_each_event_as_frozen_values
    group = tracker.group("g")
    assert_equal [], group.history
    assert group.history.frozen?
    group.assigned({ "orders" => [0, 1], "refunds" => [3] })
    group.revoked({ "orders" => [1] })
    group.assigned({ "orders" => [4] })
    group.lost
    group.replace({ "orders" => [0] })
    group.reset
    history = group.history
    assert_equal %i[assign revoke assign lost replace reset], history.map(&:kind)
    assert_equal [1, 2, 3, 4, 5, 6], history.map(&:epoch)
    first = history.first
    assert_equal [3, 0, 0], [first.assigned, first.revoked, first.lost]
    assert_equal [["orders", 0], ["orders", 1], ["refunds", 3]], first.partitions.sort
    refute first.partitions_truncated
    assert_nil first.protocol, "recorded without the librdkafka glue"
    assert_nil first.error
    assert_nil first.rebalance_ms
    assert_equal [["orders", 1]], history[1].partitions
    assert_equal [0, 1, 0], [history[1].assigned, history[1].revoked, history[1].lost]
    assert_kind_of Integer, history[2].rebalance_ms, "the assign after a revoke is timed"
    assert_operator history[2].rebalance_ms, :>=, 0
    assert_in_delta history[2].rebalance_ms / 1000.0, history[2].rebalance_seconds, 1e-9
    assert_equal [0, 0, 3], [history[3].assigned, history[3].revoked, history[3].lost]
    assert_kind_of Integer, history[4].rebalance_ms, "the assign after a loss is timed"
    assert_equal 1, history[5].lost
    history.each do |entry|
      assert entry.frozen?
      assert entry.partitions.frozen?
      assert entry.partitions.all?(&:frozen?)
      assert_in_delta Time.now, entry.time, 60
    end
    assert_raises(FrozenError) { history << nil }
    assert_raises(FrozenError) { first.partitions << ["x", 1] }
  end

  def test_history_matches_its_json_field_for_field
    group = tracker.group("g")
    group.assigned({ "orders" => [0] })
    group.revoked({ "orders" => [0] })
    raw = JSON.parse(group.history_json)
    assert_equal 2, raw.size
    raw.each do |h|
      assert_equal Kat::HistoryEntry.members.map(&:to_s).sort, h.keys.sort,
                   "every field libkat reports is in Kat::HistoryEntry, and nothing else"
    end
    parsed = group.history
    assert_equal raw.map { |h| h["unix_ms"] }, parsed.map(&:unix_ms)
    assert_equal raw.map { |h| h["kind"] }, parsed.map { |e| e.kind.to_s }
    assert_equal raw, JSON.parse(parsed.to_json), "to_json gives libkat's JSON back"
  end

  def test_glue_notes_protocol_and_errors_in_the_history
    group = tracker.group("g")
    group.assigned({ "t" => [0] })
    assert_same group, group.note_rebalance_protocol(:cooperative)
    group.assigned({ "t" => [1] })
    epoch = tracker.epoch
    assert_same group, group.note_rebalance_error("assign refused: Local: Erroneous state")
    assert_equal epoch, tracker.epoch, "a refused rebalance changes no assignment"
    assert_equal [0, 1], tracker.assignments[Kat::Topic.new("g", "t")]
    kinds = group.history.map { |e| [e.kind, e.protocol, e.error] }
    assert_equal [[:assign, nil, nil], [:assign, :cooperative, nil],
                  [:error, :cooperative, "assign refused: Local: Erroneous state"]], kinds
    group.note_rebalance_protocol(:eager)
    group.revoked({ "t" => [0] })
    assert_equal :eager, group.history.last.protocol
    before = group.history_json
    [nil, "cooperative", :range, 1].each do |bad|
      assert_raises(Kat::InvalidArgument, bad.inspect) { group.note_rebalance_protocol(bad) }
    end
    assert_raises(Kat::InvalidArgument) { group.note_rebalance_error(nil) }
    assert_raises(Kat::InvalidArgument) { group.note_rebalance_error("a\0b") }
    assert_equal before, group.history_json
    listener = Kat::Rdkafka::RebalanceListener.new("e", tracker: tracker, eager: true)
    listener.on_partitions_assigned(Doubles.tpl({ "t" => [0] }))
    assert_equal :eager, tracker.group("e").history.last.protocol
  end

  def test_history_lists_at_most_32_partitions_with_exact_counts
    group = tracker.group("g")
    group.assigned({ "t" => (0...40).to_a })
    entry = group.history.last
    assert_equal 40, entry.assigned
    assert_equal 32, entry.partitions.size
    assert entry.partitions_truncated
  end

  def test_history_limit_bounds_every_group_and_refuses_bad_values
    assert_equal 64, tracker.history_limit
    tracker.history_limit = 2
    assert_equal 2, tracker.history_limit
    group = tracker.group("g")
    4.times { |i| group.assigned({ "t" => [i] }) }
    assert_equal [3, 4], group.history.map(&:epoch), "the oldest entries go first"
    [0, -1, "3", nil, 2.5, 2**80].each do |bad|
      e = assert_raises(Kat::InvalidArgument, bad.inspect) { tracker.history_limit = bad }
      assert_match(/history_limit must be an Integer >= 1/, e.message)
    end
    assert_equal 2, tracker.history_limit
    assert_equal [3, 4], group.history.map(&:epoch)
  end

  # ------------------------------------------------------------ metrics

  def test_metrics_have_one_series_per_owned_partition_and_lose_it_at_once
    group = tracker.group("billing/1")
    group.assigned({ "orders" => [0, 1, 2] })
    group.assigned({ "orders" => [1] })
    text = tracker.metrics
    assert_equal({ 0 => 1, 1 => 2, 2 => 1 }, owned_series(text, "billing/1", "orders"))
    assert_match(/^kat_assigned_partitions\{messaging_consumer_group_name="billing",kat_group="billing\/1"\} 3$/,
                 text)
    group.revoked({ "orders" => [1] })
    assert_equal({ 0 => 1, 2 => 1 }, owned_series(tracker.metrics, "billing/1", "orders"),
                 "a revoked partition's series is gone from the next scrape")
    group.lost
    text = tracker.metrics
    assert_empty owned_series(text, "billing/1", "orders")
    assert_match(/^kat_assigned_partitions\{[^}]*kat_group="billing\/1"\} 0$/, text)
    assert_match(/^kat_rebalance_events_total\{[^}]*event="lost"\} 1$/, text)
    assert_equal Encoding::UTF_8, text.encoding
    refute text.frozen?
  end

  def test_openmetrics_format
    tracker.assigned("g", { "t" => [0] })
    text = tracker.metrics(:openmetrics)
    assert text.end_with?("# EOF\n")
    assert_match(/^# TYPE kat_rebalance counter$/, text)
    assert_match(/^kat_rebalance_total\{/, text)
    without_values = ->(t) { t.gsub(/ [0-9.e+-]+$/, "") } # seconds-ago gauges move with the clock
    assert_equal without_values[text], without_values[tracker.metrics("openmetrics")]
    refute_includes tracker.metrics(:prometheus), "# EOF"
    assert_equal "application/openmetrics-text; version=1.0.0; charset=utf-8",
                 Kat::Metrics.content_type(:openmetrics)
    assert_match(%r{\Atext/plain; version=0\.0\.4}, Kat::Metrics.content_type)
    assert Kat::Metrics.content_type.frozen?
  end

  def test_bad_format_raises_and_changes_nothing
    tracker.assigned("g", { "t" => [0] })
    epoch = tracker.epoch
    [:json, "text", nil, 0, 1].each do |bad|
      e = assert_raises(Kat::InvalidArgument, bad.inspect) { tracker.metrics(bad) }
      assert_match(/metrics format must be :prometheus or :openmetrics/, e.message)
      assert_raises(Kat::InvalidArgument) { Kat::Metrics.content_type(bad) }
    end
    assert_equal epoch, tracker.epoch
  end

  def test_metrics_escape_label_values
    tracker.assigned(%(we"ird\\grüße\nname), { "t" => [0] })
    text = tracker.metrics
    assert_includes text, %(kat_group="we\\"ird\\\\grüße\\nname")
    assert_equal 1, text.lines.grep(/^kat_partition_generation\{/).size
  end

  def test_promtool_accepts_the_text
    promtool = ENV.fetch("PATH", "").split(File::PATH_SEPARATOR).map { |d| File.join(d, "promtool") }
                  .find { |f| File.executable?(f) }
    skip "promtool not installed (Debian package prometheus; scripts/setup.sh installs it)" unless promtool
    tracker.assigned("billing/1", { "orders" => [0, 1] })
    tracker.assigned(%(we"ird\\grüße\nname), { "t" => [3] })
    tracker.revoked("billing/1", { "orders" => [1] })
    tracker.lost(%(we"ird\\grüße\nname))
    tracker.group("billing/1").rdkafka_stats(STATS)
    text = tracker.metrics
    out, status = Open3.capture2e(promtool, "check", "metrics", stdin_data: text)
    assert status.success?, "promtool check metrics:\n#{out}\n#{text}"
    assert_empty out.strip, "no lint finding"
  end

  def test_openmetrics_parser_accepts_the_text
    probe = "from prometheus_client.openmetrics.parser import text_string_to_metric_families"
    # Debian's python3 (the package is installed for it, not for another python3 on PATH).
    python = File.executable?("/usr/bin/python3") ? "/usr/bin/python3" : "python3"
    _, status = Open3.capture2e(python, "-c", probe)
    skip "python3-prometheus-client not installed (scripts/setup.sh installs it)" unless status.success?
    tracker.assigned("billing/1", { "orders" => [0, 1] })
    tracker.revoked("billing/1", { "orders" => [0] })
    script = <<~PY
      import sys, json
      #{probe}
      out = []
      for fam in text_string_to_metric_families(sys.stdin.read()):
          for s in fam.samples:
              if s.name == "kat_partition_generation":
                  out.append([s.labels["kat_group"], s.labels["messaging_destination_partition_id"], s.value])
      print(json.dumps(out))
    PY
    out, status = Open3.capture2e(python, "-c", script, stdin_data: tracker.metrics(:openmetrics))
    assert status.success?, out
    assert_equal [["billing/1", "1", 1.0]], JSON.parse(out)
  end

  # ---------------------------------------------- librdkafka statistics

  def test_rdkafka_stats_expose_cgrp_fields
    group = tracker.group("billing/1")
    assert_nil group.rdkafka_cgrp
    assert_equal "null", group.rdkafka_cgrp_json
    assert_same group, group.rdkafka_stats(STATS)
    cgrp = group.rdkafka_cgrp
    assert cgrp.frozen?
    assert_equal "up", cgrp["state"]
    assert_equal "steady", cgrp["join_state"]
    assert_equal [2500, 4, 1], cgrp.values_at("rebalance_age", "rebalance_cnt", "assignment_size")
    assert_equal %(group "x" is rebalancing), cgrp["rebalance_reason"]
    assert_in_delta now_ms, cgrp["received_unix_ms"], 60_000
    text = tracker.metrics
    assert_match(/^kat_rdkafka_cgrp_info\{[^}]*kat_group="billing\/1"[^}]*state="up"[^}]*\} 1$/, text)
    assert_match(/^kat_rdkafka_cgrp_rebalance_total\{[^}]*\} 4$/, text)
    assert_equal 0, tracker.epoch, "statistics are not an event"
  end

  def test_rdkafka_stats_take_the_hash_rdkafka_ruby_and_karafka_hand_over
    group = tracker.group("g")
    hash = JSON.parse(STATS)
    hash["cgrp"]["rebalance_cnt_d"] = 1 # Karafka's statistics decorator adds deltas
    group.rdkafka_stats(hash)
    assert_equal [4, "up"], group.rdkafka_cgrp.values_at("rebalance_cnt", "state")
    group.assigned({ "orders" => [0] })
    stripped = group.strip_rdkafka_stats(hash)
    assert_kind_of Hash, stripped
    assert_equal ["0"], stripped["topics"]["orders"]["partitions"].keys
    assert_equal 3, hash["topics"]["orders"]["partitions"].size, "the caller's Hash is not touched"
  end

  def test_bad_rdkafka_stats_raise_and_change_nothing
    group = tracker.group("g")
    group.rdkafka_stats(STATS)
    before = group.rdkafka_cgrp_json
    e = assert_raises(Kat::InvalidArgument) { group.rdkafka_stats('{"cgrp": {') }
    assert_match(/byte \d+/, e.message)
    refute_match(/kat_/, e.message, "no C function names")
    assert_raises(Kat::InvalidUtf8) { group.rdkafka_stats("{\"cgrp\":{\"state\":\"\xff\"}}".b) }
    assert_raises(Kat::InvalidUtf8) { group.strip_rdkafka_stats("\xff".b) }
    assert_raises(Kat::InvalidArgument) { group.strip_rdkafka_stats("[1,") }
    e = assert_raises(Kat::InvalidArgument) { group.rdkafka_stats(nil) }
    assert_match(/must be a JSON String or a Hash, got NilClass/, e.message)
    assert_raises(Kat::InvalidArgument) { group.rdkafka_stats([1]) }
    assert_raises(Kat::InvalidArgument) { group.strip_rdkafka_stats(:json) }
    assert_equal before, group.rdkafka_cgrp_json
    assert_equal 0, tracker.epoch
  end

  def test_strip_rdkafka_stats_keeps_only_owned_partitions
    group = tracker.group("g")
    none = JSON.parse(group.strip_rdkafka_stats(STATS))
    assert_empty none["topics"]["orders"]["partitions"], "librdkafka's -1 goes too"
    assert_empty none["brokers"]["b/1"]["toppars"]
    group.assigned({ "orders" => [1] })
    tracker.assigned("other", { "orders" => [0] })
    one = JSON.parse(group.strip_rdkafka_stats(STATS))
    assert_equal({ "1" => { "partition" => 1, "consumer_lag" => 7 } }, one["topics"]["orders"]["partitions"])
    assert_equal ["orders-1"], one["brokers"]["b/1"]["toppars"].keys
    assert_equal JSON.parse(STATS)["cgrp"], one["cgrp"], "the rest is kept"
    assert_equal Encoding::UTF_8, group.strip_rdkafka_stats(STATS).encoding
  end

  # -------------------------------------------------- glue failure counts

  def test_stats_carry_glue_failures
    stats = tracker.group("g").stats
    assert_equal 0, stats.glue_failures
    assert_includes Kat::GroupStats.members, :glue_failures
  end

  # ------------------------------------------------------- Rack endpoint

  def test_rack_app_serves_the_format_the_scraper_asks_for
    tracker.assigned("g", { "t" => [0] })
    app = Kat::Metrics::App.new(tracker)
    status, headers, body = app.call("REQUEST_METHOD" => "GET", "PATH_INFO" => "/metrics")
    assert_equal 200, status
    assert_equal Kat::Metrics.content_type(:prometheus), headers["content-type"]
    assert_equal body.join.bytesize.to_s, headers["content-length"]
    assert_equal({ 0 => 1 }, owned_series(body.join, "g", "t"))
    prometheus_accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;" \
                        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    status, headers, body = app.call("REQUEST_METHOD" => "GET", "HTTP_ACCEPT" => prometheus_accept)
    assert_equal 200, status
    assert_equal Kat::Metrics.content_type(:openmetrics), headers["content-type"]
    assert body.join.end_with?("# EOF\n")
    _, headers, body = app.call("REQUEST_METHOD" => "HEAD")
    assert_equal [], body
    assert_operator headers["content-length"].to_i, :>, 0
    status, headers, = app.call("REQUEST_METHOD" => "POST")
    assert_equal 405, status
    assert_equal "GET, HEAD", headers["allow"]
    assert_raises(Kat::InvalidArgument) { Kat::Metrics::App.new("tracker") }
  end

  def test_negotiate
    assert_equal :prometheus, Kat::Metrics.negotiate(nil)
    assert_equal :prometheus, Kat::Metrics.negotiate("")
    assert_equal :prometheus, Kat::Metrics.negotiate("text/plain")
    assert_equal :openmetrics, Kat::Metrics.negotiate("application/openmetrics-text")
    assert_equal :openmetrics, Kat::Metrics.negotiate("text/plain;q=0.5, Application/OpenMetrics-Text; version=1.0.0")
    assert_equal :prometheus, Kat::Metrics.negotiate("application/openmetrics-text;q=0, text/plain")
  end

  # ---------------------------------- the first Ruby monitoring API's forms

  def test_metrics_follow_ownership_in_both_formats
    tracker.assigned("billing/0", { "orders" => [0, 1] })
    series = 'kat_partition_generation{messaging_consumer_group_name="billing",' \
             'kat_group="billing/0",messaging_destination_name="orders",' \
             'messaging_destination_partition_id="1"} 1'
    text = tracker.metrics
    assert_includes text, "#{series}\n"
    refute_includes text, "# EOF"
    tracker.revoked("billing/0", { "orders" => [1] })
    refute_includes tracker.metrics, 'messaging_destination_partition_id="1"'
    om = tracker.metrics(:openmetrics)
    assert om.end_with?("# EOF\n")
    assert_includes om, "# TYPE kat_rebalance counter\n"
    assert_equal "text/plain; version=0.0.4; charset=utf-8", Kat::Tracker::METRICS_CONTENT_TYPES[:prometheus]
    assert_equal Kat::Metrics.content_type(:openmetrics), Kat::Tracker::METRICS_CONTENT_TYPES[:openmetrics]
    assert Kat::Tracker::METRICS_CONTENT_TYPES.frozen?
  end

  def test_health_since_and_history_by_kind
    g = tracker.group("g")
    assert_nil g.health_since
    g.assigned({ "t" => [0, 1] })
    assert_kind_of Time, g.health_since
    assert_equal g.health_info.since, g.health_since
    g.revoked({ "t" => [1] })
    g.lost
    assert_equal %i[assign revoke lost], g.history.map(&:kind)
    assert_equal :revoke, g.history[1]["kind"], "entries answer [] by field name too (Struct)"
    assert_equal [["t", 1]], g.history[1]["partitions"]
    assert_equal 1, g.history[2].lost
    tracker.history_limit = 2
    g.assigned({ "t" => [2] })
    assert_equal %i[lost assign], g.history.map(&:kind)
  end

  # ----------------------------------------------------------------- GC

  # Every allocation runs a full GC: the JSON the gem hands libkat and the
  # buffers it copies text into must stay referenced during each call.
  def test_under_gc_stress
    group = tracker.group("g")
    group.assigned({ "orders" => [1] })
    results = []
    GC.stress = true
    begin
      json = +"" << STATS # a fresh, unfrozen String
      group.rdkafka_stats(json)
      results << JSON.parse(group.strip_rdkafka_stats(json))["topics"]["orders"]["partitions"].keys
      results << owned_series(tracker.metrics, "g", "orders") << group.history.map(&:kind) << group.health
    ensure
      GC.stress = false
    end
    assert_equal [["1"], { 1 => 1 }, [:assign], :assigned], results
  end

  # ------------------------------------------------------ closed objects

  def test_closed_group_raises
    group = tracker.group("g")
    group.close
    %i[health health_info history history_json rdkafka_cgrp_json].each do |m|
      assert_raises(Kat::InvalidArgument, m) { group.public_send(m) }
    end
    assert_raises(Kat::InvalidArgument) { group.rdkafka_stats(STATS) }
    assert_raises(Kat::InvalidArgument) { group.strip_rdkafka_stats(STATS) }
    assert_raises(Kat::InvalidArgument) { group.stall_after = 1 }
    closed = Kat::Tracker.new
    closed.close
    assert_raises(Kat::InvalidArgument) { closed.metrics }
    assert_raises(Kat::InvalidArgument) { closed.history_limit }
    assert_raises(Kat::InvalidArgument) { closed.history_limit = 3 }
  end
end
