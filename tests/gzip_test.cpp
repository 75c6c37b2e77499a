// gzip for /metrics: which Accept-Encoding headers get gzip, and the deflate/inflate round trip
// the scrape cache and the HTTP front rely on.
#include "gzip.h"

#include <zlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

using reachmon::service::acceptsGzip;
using reachmon::service::gunzip;
using reachmon::service::GzipWriter;

namespace {

std::string gzipped(const std::vector<std::string>& pieces, int level = 1) {
  GzipWriter gzip(level, 0);
  for (const auto& p : pieces) gzip.write(p);
  return gzip.finish();
}

std::string inflated(const std::string& gz, std::size_t piece_bytes = 4096) {
  std::string out;
  REQUIRE(gunzip(gz, piece_bytes, [&](std::string_view p) {
    out += p;
    return true;
  }));
  return out;
}

// Text like an exposition: many similar lines with changing numbers.
std::string exposition(int lines) {
  std::string text;
  for (int i = 0; i < lines; ++i)
    text += "reachmon_probes_sent_total{source=\"isp-a\",target=\"t" + std::to_string(i) +
            "\",probe=\"icmp\"} " + std::to_string(i * 7919 % 100003) + "\n";
  return text;
}

}  // namespace

TEST_CASE("Gzip: Accept-Encoding with gzip or x-gzip or * and a weight above 0 gets gzip",
          "[gzip]") {
  for (const char* header :
       {"gzip", "GZIP", "x-gzip", "gzip, deflate, br", "deflate,gzip", " gzip ; q=0.5", "gzip;q=1",
        "gzip;q=1.000", "gzip;Q=0.001", "*", "br, *;q=0.1", "*;q=0, gzip", "gzip;q=0, gzip;q=1",
        "gzip;level=9;q=0.3", "deflate;q=0.1, gzip;q=0.2"}) {
    INFO(header);
    CHECK(acceptsGzip(header));
  }
}

TEST_CASE("Gzip: no header or q=0 or other codings get plain text", "[gzip]") {
  CHECK_FALSE(acceptsGzip(nullptr));
  for (const char* header : {"",
                             " ",
                             "identity",
                             "deflate",
                             "br, deflate",
                             "gzip;q=0",
                             "gzip; q=0.0",
                             "gzip;q=0.000",
                             "GZIP;Q=0",
                             "*;q=0",
                             "gzip;q=0, *",
                             "gzipx",
                             "x-gzip2",
                             "gz",
                             "gzip;q=2",
                             "gzip;q=1.5",
                             "gzip;q=1.0001",
                             "gzip;q=0.0001",
                             "gzip;q=abc",
                             "gzip;q=",
                             "gzip;q=.5",
                             ",,"}) {
    INFO(header);
    CHECK_FALSE(acceptsGzip(header));
  }
}

TEST_CASE("Gzip: a text written in pieces inflates to the same text in bounded pieces", "[gzip]") {
  const std::string text = exposition(20000);
  std::vector<std::string> pieces;
  for (std::size_t at = 0; at < text.size(); at += 65536) pieces.push_back(text.substr(at, 65536));
  GzipWriter gzip(1, 0);
  for (const auto& p : pieces) gzip.write(p);
  CHECK(gzip.textBytes() == text.size());
  const std::string gz = gzip.finish();
  CHECK(gz.size() < text.size() / 5);
  CHECK(static_cast<unsigned char>(gz[0]) == 0x1f);  // the gzip magic: a gzip stream, not zlib's
  CHECK(static_cast<unsigned char>(gz[1]) == 0x8b);
  std::size_t largest = 0;
  std::string out;
  REQUIRE(gunzip(gz, 1000, [&](std::string_view p) {
    largest = std::max(largest, p.size());
    out += p;
    return true;
  }));
  CHECK(largest == 1000);
  CHECK(out == text);
  // zlib's one-shot inflate agrees (another decoder than ours).
  std::string direct(text.size(), '\0');
  z_stream z{};
  REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  z.next_out = reinterpret_cast<Bytef*>(direct.data());
  z.avail_out = static_cast<uInt>(direct.size());
  CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
  inflateEnd(&z);
  CHECK(direct == text);
}

TEST_CASE("Gzip: an empty text and every level round-trip", "[gzip]") {
  CHECK(inflated(gzipped({})).empty());
  CHECK(inflated(gzipped({"", ""})).empty());
  const std::string text = exposition(500);
  for (const int level : {1, 6, 9}) {
    INFO(level);
    CHECK(inflated(gzipped({text}, level)) == text);
  }
}

TEST_CASE("Gzip: a cut or corrupted stream or a writer that stops is not whole", "[gzip]") {
  const std::string text = exposition(2000);
  const std::string gz = gzipped({text});
  const auto ok = [](std::string_view) { return true; };
  CHECK(gunzip(gz, 4096, ok));
  CHECK_FALSE(gunzip(gz.substr(0, gz.size() - 1), 4096, ok));  // no trailer
  CHECK_FALSE(gunzip(gz.substr(0, gz.size() / 2), 4096, ok));
  CHECK_FALSE(gunzip("", 4096, ok));
  CHECK_FALSE(gunzip(gz + "x", 4096, ok));  // bytes after the stream
  std::string corrupt = gz;
  corrupt[corrupt.size() - 6] = static_cast<char>(corrupt[corrupt.size() - 6] ^ 0x55);  // CRC
  CHECK_FALSE(gunzip(corrupt, 4096, ok));
  int calls = 0;
  CHECK_FALSE(gunzip(gz, 100, [&](std::string_view) { return ++calls < 3; }));
  CHECK(calls == 3);
}
