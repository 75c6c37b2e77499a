// gzip for /metrics (zlib): the Accept-Encoding check, a deflate stream fed in pieces as the text
// is rendered, and the inflate that serves the same body to a client that did not ask for gzip.
// Internal to reachmon_service; every function is safe to call from any thread on its own data.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace reachmon::service {

// Whether a request's Accept-Encoding header value (null or empty: none was sent) accepts gzip
// (RFC 9110, section 12.5.3): a listed "gzip" or "x-gzip" coding, or else "*", with a q weight
// above 0. Codings are case-insensitive; "gzip;q=0" refuses it, and so does "*;q=0" without
// gzip listed. A coding whose q is not a valid weight is ignored.
bool acceptsGzip(const char* accept_encoding);

// zlib's level for the HTML pages: the fastest. A page of 100 graphs (1.5 MB of repetitive SVG)
// compresses about 10:1 even so, in a few milliseconds instead of about 20 at level 6
// (bench/status_page.sh).
inline constexpr int kPageGzipLevel = 1;

// A deflate stream with a gzip wrapper (RFC 1952). write() compresses each piece as it comes;
// finish() ends the stream and returns it. Throws std::runtime_error if zlib fails (out of memory).
class GzipWriter {
 public:
  // `level`: zlib's 1 (fastest) to 9 (smallest). `expected_bytes`: the size the output is
  // reserved at, so that it does not grow by doubling (a hint).
  GzipWriter(int level, std::size_t expected_bytes);
  ~GzipWriter();
  GzipWriter(const GzipWriter&) = delete;
  GzipWriter& operator=(const GzipWriter&) = delete;

  void write(std::string_view piece);
  std::string finish();
  std::size_t textBytes() const { return text_bytes_; }  // written so far

 private:
  struct Stream;
  void deflateInto(int flush);

  std::unique_ptr<Stream> stream_;
  std::string out_;
  std::size_t text_bytes_ = 0;
};

// Inflates the gzip stream `gz`, handing the text to `write` in pieces of at most `piece_bytes`.
// Returns false, after the pieces before it, if `gz` is not one whole gzip stream or `write`
// returned false (a client that went away).
bool gunzip(std::string_view gz, std::size_t piece_bytes,
            const std::function<bool(std::string_view)>& write);

}  // namespace reachmon::service
