# frozen_string_literal: true

module Kat
  # Version of the gem; it expects a libkat of the same major.minor.
  VERSION = "0.1.0"
end
