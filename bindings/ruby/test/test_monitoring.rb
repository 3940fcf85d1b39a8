# frozen_string_literal: true

require_relative "test_helper"

# The monitoring reads through Ruby (README "Monitoring"): Prometheus text
# and OpenMetrics, health, the rebalance history.
class TestMonitoring < Minitest::Test
  include KatTestHelpers

  def test_metrics_follow_ownership_in_both_formats
    tracker.assigned("billing/0", { "orders" => [0, 1] })
    series = 'kat_partition_generation{messaging_consumer_group_name="billing",' \
             'kat_group="billing/0",messaging_destination_name="orders",' \
             'messaging_destination_partition_id="1"} 1'
    text = tracker.metrics
    assert_includes text, "#{series}\n"
    assert_equal Encoding::UTF_8, text.encoding
    refute_includes text, "# EOF"
    tracker.revoked("billing/0", { "orders" => [1] })
    refute_includes tracker.metrics, 'messaging_destination_partition_id="1"'
    om = tracker.metrics(:openmetrics)
    assert om.end_with?("# EOF\n")
    assert_includes om, "# TYPE kat_rebalance counter\n"
    assert_equal "text/plain; version=0.0.4; charset=utf-8",
                 Kat::Tracker::METRICS_CONTENT_TYPES[:prometheus]
    err = assert_raises(Kat::InvalidArgument) { tracker.metrics(:json) }
    assert_includes err.message, ":prometheus or :openmetrics"
  end

  def test_health_and_history
    g = tracker.group("g")
    assert_equal :never_joined, g.health
    assert_nil g.health_since
    g.assigned({ "t" => [0, 1] })
    assert_equal :assigned, g.health
    assert_kind_of Time, g.health_since
    g.revoked({ "t" => [1] })
    assert_equal :rebalancing, g.health
    g.lost
    assert_equal :lost, g.health
    kinds = g.history.map { |e| e["kind"] }
    assert_equal %w[assign revoke lost], kinds
    assert_equal [["t", 1]], g.history[1]["partitions"]
    assert_equal 1, g.history[2]["lost"]
    tracker.history_limit = 2
    g.assigned({ "t" => [2] })
    assert_equal %w[lost assign], g.history.map { |e| e["kind"] }
    assert_raises(Kat::InvalidArgument) { tracker.history_limit = 0 }
  end
end
