#include "gzip.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <stdexcept>
#include <vector>

namespace reachmon::service {
namespace {

// windowBits 15 (32 KiB, the most) plus 16: a gzip wrapper instead of zlib's.
constexpr int kGzipWindowBits = 15 + 16;
constexpr int kMemLevel = 8;  // zlib's default: about 256 KiB of state per stream

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// A qvalue (RFC 9110, 12.4.2): "0" or "1", or one of them, a dot and up to three digits, at most
// 1. In thousandths; -1 when `s` is none.
int parseQ(std::string_view s) {
  if (s.empty() || (s[0] != '0' && s[0] != '1')) return -1;
  int q = (s[0] - '0') * 1000;
  if (s.size() == 1) return q;
  if (s[1] != '.' || s.size() > 5) return -1;
  int scale = 100;
  for (const char c : s.substr(2)) {
    if (c < '0' || c > '9') return -1;
    q += (c - '0') * scale;
    scale /= 10;
  }
  return q <= 1000 ? q : -1;
}

}  // namespace

bool acceptsGzip(const char* accept_encoding) {
  if (!accept_encoding) return false;
  int gzip_q = -1;  // -1: not listed
  int star_q = -1;
  std::string_view rest = accept_encoding;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view element = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const std::size_t semicolon = element.find(';');
    const std::string_view coding = trim(element.substr(0, semicolon));
    int q = 1000;
    for (std::string_view params = semicolon == std::string_view::npos
                                       ? std::string_view()
                                       : element.substr(semicolon + 1);
         !params.empty();) {
      const std::size_t next = params.find(';');
      const std::string_view param = trim(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
      const std::size_t eq = param.find('=');
      if (eq != std::string_view::npos && iequals(trim(param.substr(0, eq)), "q"))
        q = parseQ(trim(param.substr(eq + 1)));
    }
    if (q < 0) continue;  // a malformed weight: the element says nothing we can trust
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) {
      gzip_q = std::max(gzip_q, q);
    } else if (coding == "*") {
      star_q = std::max(star_q, q);
    }
  }
  return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}

struct GzipWriter::Stream {
  z_stream z{};
  std::array<char, std::size_t{64} * 1024> chunk{};  // deflate's output, appended to out_
};

GzipWriter::GzipWriter(int level, std::size_t expected_bytes)
    : stream_(std::make_unique<Stream>()) {
  out_.reserve(expected_bytes);  // first: nothing of zlib's to free if it throws
  if (deflateInit2(&stream_->z, level, Z_DEFLATED, kGzipWindowBits, kMemLevel,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip: cannot start a deflate stream (out of memory)");
}

GzipWriter::~GzipWriter() { deflateEnd(&stream_->z); }

void GzipWriter::deflateInto(int flush) {
  z_stream& z = stream_->z;
  auto& chunk = stream_->chunk;
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(chunk.data());
    z.avail_out = static_cast<uInt>(chunk.size());
    const int rc = deflate(&z, flush);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
      throw std::runtime_error("gzip: deflate failed");
    out_.append(chunk.data(), chunk.size() - z.avail_out);
    if (rc == Z_STREAM_END) return;
    // Without Z_FINISH, done once deflate has taken all the input and had output room to spare.
    if (flush != Z_FINISH && z.avail_in == 0 && z.avail_out != 0) return;
  }
}

void GzipWriter::write(std::string_view piece) {
  z_stream& z = stream_->z;
  text_bytes_ += piece.size();
  while (!piece.empty()) {
    const std::size_t n = std::min<std::size_t>(piece.size(), UINT_MAX);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data()));
    z.avail_in = static_cast<uInt>(n);
    deflateInto(Z_NO_FLUSH);
    piece.remove_prefix(n);
  }
}

std::string GzipWriter::finish() {
  stream_->z.next_in = nullptr;
  stream_->z.avail_in = 0;
  deflateInto(Z_FINISH);
  return std::move(out_);
}

bool gunzip(std::string_view gz, std::size_t piece_bytes,
            const std::function<bool(std::string_view)>& write) {
  z_stream z{};
  if (inflateInit2(&z, kGzipWindowBits) != Z_OK) return false;
  std::vector<char> buffer(std::max<std::size_t>(piece_bytes, 1));
  int rc = Z_OK;
  bool ok = true;
  while (ok && rc != Z_STREAM_END) {
    if (z.avail_in == 0) {
      if (gz.empty()) break;  // the stream ended early
      const std::size_t n = std::min<std::size_t>(gz.size(), UINT_MAX);
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
      z.avail_in = static_cast<uInt>(n);
      gz.remove_prefix(n);
    }
    z.next_out = reinterpret_cast<Bytef*>(buffer.data());
    z.avail_out = static_cast<uInt>(std::min<std::size_t>(buffer.size(), UINT_MAX));
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    const std::size_t produced = buffer.size() - z.avail_out;
    if (produced != 0) ok = write(std::string_view(buffer.data(), produced));
  }
  const bool whole = rc == Z_STREAM_END && z.avail_in == 0 && gz.empty();
  inflateEnd(&z);
  return ok && whole;
}

}  // namespace reachmon::service
