# frozen_string_literal: true

module Kat
  # Base class of every error kat raises for a failed call. `#code` is the
  # kat_result number (nil when the gem rejected the input before any native
  # call). A failed call changed nothing.
  class Error < StandardError
    attr_reader :code

    def initialize(message = nil, code: nil)
      super(message)
      @code = code
    end
  end

  # A required pointer was NULL (for example a NULL partition list).
  class NullPointer < Error; end
  # A string was not valid UTF-8.
  class InvalidUtf8 < Error; end
  # A group name was not a String, was empty, or longer than 1024 bytes.
  class InvalidGroup < Error; end
  # A topic name was not a String or not a legal Kafka topic name.
  class InvalidTopic < Error; end
  # A partition was not an Integer in 0..2**31-1.
  class InvalidPartition < Error; end
  # A partition list was malformed.
  class InvalidList < Error; end
  # Another argument was out of its documented range.
  class InvalidArgument < Error; end
  # An index was past the end.
  class OutOfRange < Error; end
  # A buffer was too small (handled inside the gem; never seen in practice).
  class BufferTooSmall < Error; end
  # No such group or topic.
  class NotFound < Error; end
  # librdkafka refused an assign call.
  class RdkafkaError < Error; end
  # A bug in kat (a caught panic). The call had no effect.
  class InternalError < Error; end

  # kat_result numbers to classes. Numbers are never reused by libkat.
  ERRORS = {
    1 => NullPointer,
    2 => InvalidUtf8,
    3 => InvalidGroup,
    4 => InvalidTopic,
    5 => InvalidPartition,
    6 => InvalidList,
    7 => InvalidArgument,
    8 => OutOfRange,
    9 => BufferTooSmall,
    10 => NotFound,
    11 => RdkafkaError,
    12 => InternalError
  }.freeze
end
