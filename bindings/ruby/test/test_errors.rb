# frozen_string_literal: true

require_relative "test_helper"

# Bad input raises a Kat::Error subclass with a clear message and changes
# nothing.
class TestErrors < Minitest::Test
  include KatTestHelpers

  def assert_unchanged
    tracker.assigned("g", { "t" => [0] })
    before = [tracker.epoch, tracker.generations]
    yield
    assert_equal before, [tracker.epoch, tracker.generations]
  end

  def test_hierarchy
    [Kat::InvalidTopic, Kat::InvalidPartition, Kat::InvalidGroup, Kat::InvalidList,
     Kat::NullPointer, Kat::InvalidUtf8, Kat::InvalidArgument, Kat::InternalError,
     Kat::Forked].each do |klass|
      assert_operator klass, :<, Kat::Error
    end
    assert_operator Kat::Error, :<, StandardError
  end

  def test_topic_must_be_a_string_or_symbol
    assert_unchanged do
      e = assert_raises(Kat::InvalidTopic) { tracker.assigned("g", { 42 => [1] }) }
      assert_equal "topic name must be a String or Symbol, got Integer: 42", e.message
      assert_equal 4, e.code, "errors the gem raises itself carry their kat_result code too"
      assert_raises(Kat::InvalidTopic) { tracker.generation("g", nil, 0) }
      assert_raises(Kat::InvalidTopic) { tracker.assigned?("g", 42, 0) }
    end
    tracker.assigned("g", { s: [1] })
    assert_equal 2, tracker.generation("g", "s", 1) + tracker.generation(:g, :s, 1)
    assert_equal [1], tracker.assignments[Kat::Topic.new(:g, :s)]
  end

  def test_illegal_topic_names_carry_libkat_detail_and_code
    assert_unchanged do
      e = assert_raises(Kat::InvalidTopic) { tracker.assigned("g", { "ok" => [0], "a b" => [1] }) }
      assert_equal 4, e.code
      assert_equal 'topic name "a b" has an illegal byte 0x20 at offset 1 (legal: A-Z a-z 0-9 . _ -)', e.message
      e = assert_raises(Kat::InvalidTopic) { tracker.generation("g", "x" * 250, 0) }
      assert_match(/250/, e.message)
      assert_raises(Kat::InvalidTopic) { tracker.generation("g", "", 0) }
      e = assert_raises(Kat::InvalidTopic) { tracker.assigned("g", { "a\0b" => [1] }) }
      assert_match(/NUL/, e.message)
    end
  end

  def test_partitions_must_be_integers_in_range
    assert_unchanged do
      e = assert_raises(Kat::InvalidPartition) { tracker.assigned("g", { "t" => [1, -1] }) }
      assert_equal 'topic "t": partition -1 is out of range 0..2147483647', e.message
      e = assert_raises(Kat::InvalidPartition) { tracker.assigned("g", { "t" => [2**31] }) }
      assert_match(/2147483648 is out of range/, e.message)
      e = assert_raises(Kat::InvalidPartition) { tracker.assigned("g", { "t" => [2**100] }) }
      assert_match(/out of range/, e.message)
      e = assert_raises(Kat::InvalidPartition) { tracker.assigned("g", { "t" => [1.0] }) }
      assert_match(/must be an Integer, got Float/, e.message)
      assert_raises(Kat::InvalidPartition) { tracker.assigned("g", { "t" => ["1"] }) }
      assert_raises(Kat::InvalidPartition) { tracker.generation("g", "t", -1) }
      assert_raises(Kat::InvalidPartition) { tracker.assigned?("g", "t", nil) }
      assert_raises(Kat::InvalidPartition) { tracker.partition("g", "t", 2**64) }
    end
  end

  def test_assignment_shape
    assert_unchanged do
      assert_raises(Kat::InvalidList) { tracker.assigned("g", [["t", 1]]) }
      assert_raises(Kat::InvalidList) { tracker.assigned("g", { "t" => 1 }) }
      assert_raises(Kat::InvalidList) { tracker.assigned("g", { "t" => nil }) }
      e = assert_raises(Kat::InvalidList) { tracker.assigned("g", { "t" => "0,1" }) }
      assert_match(/partitions of topic "t" must be an Array or Range of Integers, got String/, e.message)
    end
  end

  def test_group_names
    assert_unchanged do
      e = assert_raises(Kat::InvalidGroup) { tracker.assigned(nil, { "t" => [1] }) }
      assert_match(/group name must be a String or Symbol, got NilClass/, e.message)
      assert_equal 3, e.code
      assert_raises(Kat::InvalidGroup) { tracker.assigned("", { "t" => [1] }) }
      e = assert_raises(Kat::InvalidGroup) { tracker.generation("x" * 1025, "t", 0) }
      assert_match(/1025 bytes/, e.message)
      assert_raises(Kat::InvalidGroup) { tracker.group("a\0b") }
      e = assert_raises(Kat::InvalidUtf8) { tracker.assigned("\xC3(", { "t" => [1] }) }
      assert_match(/not valid UTF-8/, e.message)
      assert_equal 2, e.code
      assert_raises(Kat::InvalidUtf8) { tracker.generation("\xFF".b, "t", 0) }
    end
    assert_equal 1024, tracker.group("x" * 1024).name.bytesize
    assert_equal "grüße", tracker.group("grüße".encode("UTF-16LE")).name, "other encodings are converted"
  end

  def test_native_list_errors
    group = tracker.group("g")
    assert_unchanged do
      e = assert_raises(Kat::NullPointer) { group.assigned_native(FFI::Pointer::NULL) }
      assert_match(/partitions/, e.message)
      list, _keep = native_list([["t", 1], ["t", 2]], cnt: 3, size: 2)
      e = assert_raises(Kat::InvalidList) { group.assigned_native(list) }
      assert_match(/exceeds its capacity/, e.message)
      list, _keep = native_list([["t", 1], [nil, 2]])
      e = assert_raises(Kat::InvalidList) { group.replace_native(list) }
      assert_match(/element 1: topic is NULL/, e.message)
      list, _keep = native_list([["t", 1]], null_elems: true)
      assert_raises(Kat::InvalidList) { group.revoked_native(list) }
      list, _keep = native_list([["t", 1], ["t", -3]])
      e = assert_raises(Kat::InvalidPartition) { group.assigned_native(list) }
      assert_match(/element 1/, e.message)
      assert_raises(Kat::InvalidList) { group.assigned_native(12_345) }
    end
  end

  def test_error_detail_is_per_thread
    tracker.group("g")
    messages = Array.new(4) do |i|
      Thread.new do
        tracker.assigned("g", { "bad#{i}!" => [0] })
      rescue Kat::InvalidTopic => e
        e.message
      end
    end.map(&:value)
    messages.each_with_index { |m, i| assert_match(/"bad#{i}!"/, m) }
  end
end
