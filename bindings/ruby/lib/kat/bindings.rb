# frozen_string_literal: true

require "ffi"

module Kat
  # Every native function of libkat, attached once. Private to the gem: the
  # public classes wrap these and never hand out a raw pointer.
  module Bindings
    extend FFI::Library

    begin
      ffi_lib Library.locate
    rescue ::LoadError => e
      raise e if e.is_a?(Kat::LoadError)

      raise Kat::LoadError, "libkat could not be opened: #{e.message}"
    end

    # `kat_topic_partition_t`
    class TopicPartition < FFI::Struct
      layout :topic, :pointer,
             :partition, :int32
    end

    # `kat_generation_entry_t`
    class GenerationEntry < FFI::Struct
      layout :group, :pointer,
             :group_len, :size_t,
             :topic, :pointer,
             :topic_len, :size_t,
             :partition, :int32,
             :generation, :uint64,
             :status, :int
    end

    # `kat_group_stats_t`
    class GroupStats < FFI::Struct
      layout :assigned_events, :uint64,
             :revoked_events, :uint64,
             :lost_events, :uint64,
             :reset_events, :uint64,
             :last_change_unix_ms, :uint64
    end

    # `kat_partition_state_t`
    class PartitionState < FFI::Struct
      layout :generation, :uint64,
             :status, :int,
             :assigned, :uint8
    end

    # `kat_group_view_t`
    class GroupView < FFI::Struct
      layout :name, :pointer,
             :name_len, :size_t,
             :topic_count, :size_t,
             :partition_count, :size_t,
             :stats, GroupStats
    end

    # `kat_assigned_partition_t`
    class AssignedPartition < FFI::Struct
      layout :partition, :int32,
             :generation, :uint64
    end

    # `kat_topic_view_t`
    class TopicView < FFI::Struct
      layout :group, :pointer,
             :group_len, :size_t,
             :name, :pointer,
             :name_len, :size_t,
             :partitions, :pointer,
             :partition_count, :size_t
    end

    # Every call below is short and never waits, so it keeps the GVL
    # (releasing it would cost more than the call), except
    # kat_tracker_wait_for_change, which blocks and therefore releases it.

    # result codes and errors
    attach_function :kat_result_message, [:uint], :string
    attach_function :kat_last_error_message, %i[pointer size_t], :size_t
    attach_function :kat_version, [], :string

    # tracker
    attach_function :kat_tracker_new, [], :pointer
    attach_function :kat_tracker_new_with_limit, %i[size_t pointer], :int
    attach_function :kat_tracker_global, [], :pointer
    attach_function :kat_tracker_free, [:pointer], :void
    attach_function :kat_tracker_group, %i[pointer string pointer], :int
    attach_function :kat_tracker_clear, [:pointer], :int
    attach_function :kat_tracker_epoch, %i[pointer pointer], :int
    attach_function :kat_tracker_wait_for_change, %i[pointer uint64 uint64 pointer], :int, blocking: true
    attach_function :kat_tracker_generation, %i[pointer string string int32 pointer], :int
    attach_function :kat_tracker_is_assigned, %i[pointer string string int32 pointer], :int
    attach_function :kat_tracker_snapshot, %i[pointer pointer], :int
    attach_function :kat_tracker_generations, %i[pointer pointer], :int
    attach_function :kat_tracker_set_generations_topics_limit, %i[pointer size_t], :int
    attach_function :kat_tracker_generations_topics_limit, %i[pointer pointer], :int

    # group
    attach_function :kat_group_free, [:pointer], :void
    attach_function :kat_group_name, [:pointer], :pointer
    attach_function :kat_group_assigned, %i[pointer pointer], :int
    attach_function :kat_group_revoked, %i[pointer pointer], :int
    attach_function :kat_group_replace, %i[pointer pointer], :int
    attach_function :kat_group_assigned_pairs, %i[pointer pointer size_t], :int
    attach_function :kat_group_revoked_pairs, %i[pointer pointer size_t], :int
    attach_function :kat_group_replace_pairs, %i[pointer pointer size_t], :int
    attach_function :kat_group_lost, [:pointer], :int
    attach_function :kat_group_reset, [:pointer], :int
    attach_function :kat_group_generation, %i[pointer string int32 pointer], :int
    attach_function :kat_group_is_assigned, %i[pointer string int32 pointer], :int
    attach_function :kat_group_stats, %i[pointer pointer], :int
    attach_function :kat_group_partition, %i[pointer string int32 pointer], :int

    # partition handle
    attach_function :kat_partition_handle_state, %i[pointer pointer], :int
    attach_function :kat_partition_handle_owned_at, %i[pointer uint64], :bool
    attach_function :kat_partition_handle_free, [:pointer], :void

    # snapshot
    attach_function :kat_snapshot_free, [:pointer], :void
    attach_function :kat_snapshot_epoch, %i[pointer pointer], :int
    attach_function :kat_snapshot_group_count, %i[pointer pointer], :int
    attach_function :kat_snapshot_partition_count, %i[pointer pointer], :int
    attach_function :kat_snapshot_group, %i[pointer size_t pointer], :int
    attach_function :kat_snapshot_topic, %i[pointer size_t size_t pointer], :int
    attach_function :kat_snapshot_to_json, %i[pointer pointer size_t pointer], :int

    # generations
    attach_function :kat_generations_free, [:pointer], :void
    attach_function :kat_generations_count, %i[pointer pointer], :int
    attach_function :kat_generations_epoch, %i[pointer pointer], :int
    attach_function :kat_generations_get, %i[pointer size_t pointer], :int
    attach_function :kat_generations_to_json, %i[pointer pointer size_t pointer], :int

    STATUSES = { 0 => :none, 1 => :assigned, 2 => :revoked, 3 => :lost }.freeze
    MAX_PARTITION = 0x7fff_ffff
    MAX_SIZE = (1 << (FFI.type_size(:size_t) * 8)) - 1
    MAX_U64 = (1 << 64) - 1

    module_function

    # Raises the Kat::Error subclass for `code`, with the detail libkat
    # recorded for the calling thread. Call it right after the failing call,
    # on the same thread, before any other kat call.
    def raise_error(code, function)
      detail = last_error_message
      detail = "#{function}: #{kat_result_message(code)}" if detail.empty?
      raise ERRORS.fetch(code, Error).new(detail, code: code)
    end

    # The calling thread's last error detail ("" if none).
    def last_error_message
      buf = FFI::MemoryPointer.new(:char, 512)
      len = kat_last_error_message(buf, buf.size)
      if len >= buf.size
        buf = FFI::MemoryPointer.new(:char, len + 1)
        kat_last_error_message(buf, buf.size)
      end
      buf.read_bytes(len).force_encoding(Encoding::UTF_8).scrub
    end

    # Reads `len` bytes at `ptr` as a frozen, deduplicated UTF-8 String.
    def string(ptr, len)
      -ptr.read_bytes(len).force_encoding(Encoding::UTF_8)
    end

    # A per-thread 16-byte scratch area for out parameters of wait-free reads
    # (allocating one per call would cost more than the call itself).
    def scratch
      Thread.current[:__kat_scratch] ||= FFI::MemoryPointer.new(:uint64, 2)
    end

    # Checks a group name and returns the String to pass to libkat.
    def group_name(name)
      unless name.is_a?(String)
        raise InvalidGroup, "group name must be a String, got #{name.class}: #{name.inspect[0, 80]}"
      end

      name = utf8(name, InvalidGroup, "group name")
      raise InvalidGroup, "group name must not be empty" if name.empty?
      raise InvalidGroup, "group name contains a NUL byte: #{name.inspect[0, 80]}" if name.include?("\0")
      if name.bytesize > 1024
        raise InvalidGroup, "group name is #{name.bytesize} bytes long; at most 1024 are allowed"
      end

      name
    end

    # Checks a topic name's type and returns the String to pass to libkat
    # (libkat itself checks the Kafka naming rules).
    def topic_name(topic)
      unless topic.is_a?(String)
        raise InvalidTopic, "topic name must be a String, got #{topic.class}: #{topic.inspect[0, 80]}"
      end

      topic = utf8(topic, InvalidTopic, "topic name")
      raise InvalidTopic, "topic name contains a NUL byte: #{topic.inspect[0, 80]}" if topic.include?("\0")

      topic
    end

    # Checks a partition number.
    def partition(partition)
      return partition if partition.is_a?(Integer) && partition >= 0 && partition <= MAX_PARTITION

      unless partition.is_a?(Integer)
        raise InvalidPartition, "partition must be an Integer, got #{partition.class}: #{partition.inspect[0, 80]}"
      end

      raise InvalidPartition, "partition #{partition} is out of range 0..#{MAX_PARTITION}"
    end

    def utf8(str, error, what)
      enc = str.encoding
      return str if enc == Encoding::UTF_8 || enc == Encoding::US_ASCII || enc == Encoding::BINARY

      str.encode(Encoding::UTF_8)
    rescue EncodingError => e
      raise error, "#{what} cannot be converted to UTF-8 (#{e.message})"
    end
  end
  private_constant :Bindings
end
