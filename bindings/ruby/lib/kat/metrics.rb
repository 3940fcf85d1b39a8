# frozen_string_literal: true

module Kat
  # Prometheus exposition of a tracker (Tracker#metrics) and what an HTTP
  # endpoint needs around it: the formats, their Content-Type, the format a
  # scraper asks for, and a Rack application. See README "Monitoring".
  module Metrics
    # Format names (Tracker#metrics' argument) => kat_metrics_format numbers.
    FORMATS = { prometheus: 0, openmetrics: 1 }.freeze
    OPENMETRICS_MEDIA_TYPE = "application/openmetrics-text"
    private_constant :OPENMETRICS_MEDIA_TYPE

    class << self
      # The kat_metrics_format number of `format` (:prometheus or
      # :openmetrics, as a Symbol or String); raises Kat::InvalidArgument
      # for anything else.
      def format_number(format)
        number = (format.is_a?(Symbol) || format.is_a?(String)) && FORMATS[format.to_sym]
        return number if number

        raise InvalidArgument, "metrics format must be :prometheus or :openmetrics, got #{format.inspect[0, 80]}"
      end

      # The HTTP Content-Type to serve `format` with (a frozen String):
      # "text/plain; version=0.0.4; charset=utf-8" for :prometheus, OpenMetrics'
      # own for :openmetrics.
      def content_type(format = :prometheus)
        Kat.__metrics_content_type(format_number(format))
      end

      # The format a scraper asked for in its Accept header: :openmetrics
      # when it accepts application/openmetrics-text (as Prometheus does),
      # :prometheus otherwise (nil or empty header included).
      def negotiate(accept)
        return :prometheus unless accept.is_a?(String)

        accept.split(",").each do |part|
          type, *params = part.split(";").map(&:strip)
          next unless type.casecmp?(OPENMETRICS_MEDIA_TYPE)
          next if params.any? { |p| p.match?(/\Aq\s*=\s*0(\.0*)?\z/i) } # q=0: "not acceptable"

          return :openmetrics
        end
        :prometheus
      end
    end

    # A Rack application serving a tracker's metrics: `GET` (or `HEAD`) of
    # any path it is mounted at answers 200 with the text in the format the
    # scraper's Accept header asks for; other methods get 405. Needs no gem:
    # Rack only calls #call(env).
    #
    #   # config.ru
    #   require "kat"
    #   map("/metrics") { run Kat::Metrics::App.new }   # Kat.tracker by default
    class App
      def initialize(tracker = Kat.tracker)
        raise InvalidArgument, "tracker must be a Kat::Tracker, got #{tracker.class}" unless tracker.is_a?(Tracker)

        @tracker = tracker
      end

      def call(env)
        method = env["REQUEST_METHOD"]
        unless %w[GET HEAD].include?(method)
          return [405, { "content-type" => "text/plain", "allow" => "GET, HEAD" }, ["method not allowed\n"]]
        end

        format = Metrics.negotiate(env["HTTP_ACCEPT"])
        body = @tracker.metrics(format)
        headers = { "content-type" => Metrics.content_type(format), "content-length" => body.bytesize.to_s }
        [200, headers, method == "HEAD" ? [] : [body]]
      end
    end
  end
end
