# frozen_string_literal: true

module Kat
  # One consumer membership (one rdkafka consumer in one consumer group), by
  # name. Events go through a group; reads may too. Get it with
  # Tracker#group: the same name always designates the same group, so a
  # re-created consumer keeps its generations.
  #
  # Every event is atomic: with any invalid element it raises a Kat::Error
  # and changes nothing. Events may be called from any thread; they serialise
  # among themselves and never block readers.
  class Group
    attr_reader :name, :tracker

    # @api private
    def initialize(pointer, name, tracker)
      @handle = FFI::AutoPointer.new(pointer, Bindings.method(:kat_group_free))
      @name = -name
      @tracker = tracker
    end

    # Records that partitions were assigned (incremental assign, or an eager
    # assign on top of nothing): each distinct listed key gets generation + 1.
    # `assignment` is a Hash of topic name => Array (or Range) of partitions.
    def assigned(assignment)
      pairs_event(:kat_group_assigned_pairs, assignment)
    end

    # Records an orderly revocation of the listed partitions (status
    # revoked, generations kept). Partitions not owned are ignored.
    def revoked(assignment)
      pairs_event(:kat_group_revoked_pairs, assignment)
    end

    # Records an EAGER assign: the assignment becomes exactly `assignment`;
    # listed keys get generation + 1, owned ones not listed are revoked.
    def replace(assignment)
      pairs_event(:kat_group_replace_pairs, assignment)
    end

    # Records that the assignment was lost: every owned partition is dropped
    # with status lost.
    def lost
      check(Bindings.kat_group_lost(@handle), "kat_group_lost")
      self
    end

    # Records that the client was reset or re-created: every owned partition
    # is dropped with status lost; counted as a reset.
    def reset
      check(Bindings.kat_group_reset(@handle), "kat_group_reset")
      self
    end

    # `assigned` from the `rd_kafka_topic_partition_list_t *` an FFI
    # rebalance callback receives (an FFI::Pointer). The list is read only
    # during the call.
    def assigned_native(list)
      native_event(:kat_group_assigned, list)
    end

    # `revoked` from a native `rd_kafka_topic_partition_list_t *`.
    def revoked_native(list)
      native_event(:kat_group_revoked, list)
    end

    # `replace` from a native `rd_kafka_topic_partition_list_t *`.
    def replace_native(list)
      native_event(:kat_group_replace, list)
    end

    # Times this group was assigned topic/partition (0: never). Wait-free.
    def generation(topic, partition)
      out = Bindings.scratch
      rc = Bindings.kat_group_generation(@handle, Bindings.topic_name(topic), Bindings.partition(partition), out)
      Bindings.raise_error(rc, "kat_group_generation") unless rc.zero?
      out.get_uint64(0)
    end

    # True if this group owns topic/partition now. Wait-free.
    def assigned?(topic, partition)
      out = Bindings.scratch
      rc = Bindings.kat_group_is_assigned(@handle, Bindings.topic_name(topic), Bindings.partition(partition), out)
      Bindings.raise_error(rc, "kat_group_is_assigned") unless rc.zero?
      out.get_uint8(0) != 0
    end

    # A Kat::Partition handle on topic/partition of this group (it need not
    # be assigned yet).
    def partition(topic, partition)
      topic = Bindings.topic_name(topic)
      partition = Bindings.partition(partition)
      out = FFI::MemoryPointer.new(:pointer)
      rc = Bindings.kat_group_partition(@handle, topic, partition, out)
      Bindings.raise_error(rc, "kat_group_partition") unless rc.zero?
      Partition.new(out.read_pointer, @name, topic, partition)
    end

    # The group's event counters, a frozen Kat::GroupStats.
    def stats
      out = Bindings::GroupStats.new
      check(Bindings.kat_group_stats(@handle, out), "kat_group_stats")
      GroupStats.new(out[:assigned_events], out[:revoked_events], out[:lost_events],
                     out[:reset_events], out[:last_change_unix_ms])
    end

    def inspect
      "#<Kat::Group #{@name}>"
    end

    private

    def check(rc, function)
      Bindings.raise_error(rc, function) unless rc.zero?
    end

    def native_event(function, list)
      unless list.is_a?(FFI::Pointer)
        raise InvalidList, "expected an FFI::Pointer to an rd_kafka_topic_partition_list_t, got #{list.class}"
      end

      check(Bindings.public_send(function, @handle, list), function.to_s)
      self
    end

    ELEMENT_SIZE = Bindings::TopicPartition.size
    PARTITION_OFFSET = Bindings::TopicPartition.offset_of(:partition)
    private_constant :ELEMENT_SIZE, :PARTITION_OFFSET

    # Validates the whole assignment first (so bad input changes nothing and
    # names the culprit), then hands libkat one array of (topic, partition).
    def pairs_event(function, assignment)
      unless assignment.respond_to?(:each_pair)
        raise InvalidList, "assignment must be a Hash of topic => partitions, got #{assignment.class}"
      end

      topics = []
      count = 0
      assignment.each_pair do |topic, partitions|
        name = Bindings.topic_name(topic)
        unless partitions.respond_to?(:each) && !partitions.is_a?(String) && !partitions.is_a?(Hash)
          raise InvalidList, "partitions of topic #{name.inspect} must be an Array or Range of Integers, " \
                             "got #{partitions.class}"
        end

        list = []
        partitions.each do |p|
          Bindings.partition(p)
          list << p
        rescue InvalidPartition => e
          raise InvalidPartition, "topic #{name.inspect}: #{e.message}"
        end
        count += list.size
        topics << [name, list]
      end

      strings = []
      items = FFI::MemoryPointer.new(:uint8, [count, 1].max * ELEMENT_SIZE)
      offset = 0
      topics.each do |name, list|
        next if list.empty?

        str = FFI::MemoryPointer.from_string(name)
        strings << str
        list.each do |p|
          items.put_pointer(offset, str)
          items.put_int32(offset + PARTITION_OFFSET, p)
          offset += ELEMENT_SIZE
        end
      end
      check(Bindings.public_send(function, @handle, items, count), function.to_s)
      strings.clear # the C strings had to outlive the call; not after it
      self
    end
  end
end
