# frozen_string_literal: true

module Kat
  # Base class of every error kat raises for a failed call. `#code` is the
  # kat_result number of the failure (the same number whether libkat or the
  # gem itself found the problem). A failed call changed nothing.
  class Error < StandardError
    attr_reader :code

    def initialize(message = nil, code: nil)
      super(message)
      @code = code || self.class::CODE
    end

    CODE = nil
  end

  # A required pointer was NULL (for example a NULL partition list).
  class NullPointer < Error; CODE = 1; end
  # A string was not valid UTF-8.
  class InvalidUtf8 < Error; CODE = 2; end
  # A group name was not a String or Symbol, was empty, had a NUL byte or was
  # longer than 1024 bytes.
  class InvalidGroup < Error; CODE = 3; end
  # A topic name was not a String or Symbol, or not a legal Kafka topic name.
  class InvalidTopic < Error; CODE = 4; end
  # A partition was not an Integer in 0..2**31-1.
  class InvalidPartition < Error; CODE = 5; end
  # A partition list was malformed.
  class InvalidList < Error; CODE = 6; end
  # Another argument was out of its documented range (or a closed handle).
  class InvalidArgument < Error; CODE = 7; end
  # An index was past the end.
  class OutOfRange < Error; CODE = 8; end
  # A buffer was too small (handled inside the gem; never seen in practice).
  class BufferTooSmall < Error; CODE = 9; end
  # No such group or topic.
  class NotFound < Error; CODE = 10; end
  # librdkafka refused an assign call.
  class RdkafkaError < Error; CODE = 11; end
  # A bug in kat (a caught panic). The call had no effect.
  class InternalError < Error; CODE = 12; end
  # This process was forked while another thread of its parent was changing
  # the tracker: it can be read but not changed here (fork before creating
  # consumers, or exec).
  class Forked < Error; CODE = 13; end

  # kat_result numbers to classes. Numbers are never reused by libkat.
  ERRORS = [NullPointer, InvalidUtf8, InvalidGroup, InvalidTopic, InvalidPartition, InvalidList,
            InvalidArgument, OutOfRange, BufferTooSmall, NotFound, RdkafkaError,
            InternalError, Forked].to_h { |klass| [klass::CODE, klass] }.freeze
end
