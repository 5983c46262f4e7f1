#include "shared/trace_context/traceparent.h"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "shared/encoding/hex.h"

namespace captain::trace {
namespace {

// Examples from https://www.w3.org/TR/trace-context-2/#examples-of-http-traceparent-headers
constexpr std::string_view kSpecSampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr std::string_view kSpecNotSampled =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
constexpr std::string_view kSpecTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kSpecParentId = "00f067aa0ba902b7";

// Field offsets inside a version-00 value.
constexpr std::size_t kTraceIdAt = 3;
constexpr std::size_t kParentIdAt = 36;
constexpr std::size_t kFlagsAt = 53;

template <std::size_t N>
std::string hex(const std::array<std::uint8_t, N>& bytes) {
  std::string out(2 * N, '\0');
  hex_encode(bytes.data(), N, out.data());
  return out;
}

std::string with_char(std::string_view value, std::size_t at, char c) {
  std::string out(value);
  out[at] = c;
  return out;
}

std::string with_field(std::string_view value, std::size_t at, std::string_view field) {
  std::string out(value);
  out.replace(at, field.size(), field);
  return out;
}

bool accepted(std::string_view value) {
  return parse_traceparent(value).has_value();
}

TEST(ParseTraceparent, AcceptsSpecExampleSampled) {
  const auto parsed = parse_traceparent(kSpecSampled);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->version, 0x00);
  EXPECT_EQ(hex(parsed->trace_id), kSpecTraceId);
  EXPECT_EQ(hex(parsed->parent_id), kSpecParentId);
  EXPECT_EQ(parsed->flags, 0x01);
  EXPECT_TRUE(parsed->sampled());
}

TEST(ParseTraceparent, AcceptsSpecExampleNotSampled) {
  const auto parsed = parse_traceparent(kSpecNotSampled);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(hex(parsed->trace_id), kSpecTraceId);
  EXPECT_EQ(hex(parsed->parent_id), kSpecParentId);
  EXPECT_EQ(parsed->flags, 0x00);
  EXPECT_FALSE(parsed->sampled());
}

TEST(ParseTraceparent, AcceptsSpecTraceContextExample) {
  const auto parsed = parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(hex(parsed->trace_id), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(hex(parsed->parent_id), "b7ad6b7169203331");
  EXPECT_TRUE(parsed->sampled());
}

TEST(ParseTraceparent, UnknownFlagBitsAreParsedAndOnlyBitZeroMeansSampled) {
  const auto nine = parse_traceparent(with_field(kSpecSampled, kFlagsAt, "09"));
  ASSERT_TRUE(nine.has_value());
  EXPECT_EQ(nine->flags, 0x09);
  EXPECT_TRUE(nine->sampled());

  const auto eight = parse_traceparent(with_field(kSpecSampled, kFlagsAt, "08"));
  ASSERT_TRUE(eight.has_value());
  EXPECT_EQ(eight->flags, 0x08);
  EXPECT_FALSE(eight->sampled());

  const auto ff = parse_traceparent(with_field(kSpecSampled, kFlagsAt, "ff"));
  ASSERT_TRUE(ff.has_value());
  EXPECT_EQ(ff->flags, 0xff);
  EXPECT_TRUE(ff->sampled());
}

// Level 2 "Random Trace ID Flag": bit 1 (0x02) is the random-trace-id flag, read as a bit, not
// by comparing the whole byte ("both 03 and 02 represent ... the random bit").
TEST(ParseTraceparent, Level2RandomTraceIdFlagIsBitOne) {
  const auto two = parse_traceparent(with_field(kSpecSampled, kFlagsAt, "02"));
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->flags, 0x02);
  EXPECT_TRUE(two->random());
  EXPECT_FALSE(two->sampled());

  const auto three = parse_traceparent(with_field(kSpecSampled, kFlagsAt, "03"));
  ASSERT_TRUE(three.has_value());
  EXPECT_TRUE(three->random());
  EXPECT_TRUE(three->sampled());

  for (std::string_view flags : {"00", "01", "04", "fd"}) {
    const auto parsed = parse_traceparent(with_field(kSpecSampled, kFlagsAt, flags));
    ASSERT_TRUE(parsed.has_value()) << flags;
    EXPECT_FALSE(parsed->random()) << flags;
  }
  const auto ff = parse_traceparent(with_field(kSpecSampled, kFlagsAt, "ff"));
  ASSERT_TRUE(ff.has_value());
  EXPECT_TRUE(ff->random());
}

// Level 2 "Versioning of traceparent": a higher version's flags are read with the version-00
// layout too, so its random bit is seen.
TEST(ParseTraceparent, Level2FutureVersionCarriesTheRandomFlag) {
  const auto parsed =
      parse_traceparent("cc-12345678901234567890123456789012-1234567890123456-03-future");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(parsed->sampled());
  EXPECT_TRUE(parsed->random());
}

// The invalid values of the W3C test suite (test/test.py, TraceContextTest): each makes the
// whole header ignored, so the trace restarts.
TEST(ParseTraceparent, W3CTestSuiteInvalidValues) {
  for (std::string_view value : {
           "00-12345678901234567890123456789012-1234567890123456-01.",
           "00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
           "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like",
           "ff-12345678901234567890123456789012-1234567890123456-01",
           ".0-12345678901234567890123456789012-1234567890123456-01",
           "0.-12345678901234567890123456789012-1234567890123456-01",
           "000-12345678901234567890123456789012-1234567890123456-01",
           "0000-12345678901234567890123456789012-1234567890123456-01",
           "0-12345678901234567890123456789012-1234567890123456-01",
           "00-00000000000000000000000000000000-1234567890123456-01",
           "00-.2345678901234567890123456789012-1234567890123456-01",
           "00-1234567890123456789012345678901.-1234567890123456-01",
           "00-123456789012345678901234567890123-1234567890123456-01",
           "00-1234567890123456789012345678901-1234567890123456-01",
           "00-12345678901234567890123456789012-0000000000000000-01",
           "00-12345678901234567890123456789012-.234567890123456-01",
           "00-12345678901234567890123456789012-123456789012345.-01",
           "00-12345678901234567890123456789012-12345678901234567-01",
           "00-12345678901234567890123456789012-123456789012345-01",
           "00-12345678901234567890123456789012-1234567890123456-.0",
           "00-12345678901234567890123456789012-1234567890123456-0.",
           "00-12345678901234567890123456789012-1234567890123456-001",
           "00-12345678901234567890123456789012-1234567890123456-1",
       }) {
    EXPECT_FALSE(accepted(value)) << value;
  }
}

// The valid values of the same suite, optional whitespace and future versions included.
TEST(ParseTraceparent, W3CTestSuiteValidValues) {
  for (std::string_view value : {
           "00-12345678901234567890123456789012-1234567890123456-01",
           "00-12345678901234567890123456789012-1234567890123456-00",
           "00-12345678901234567890123456789012-1234567890123456-02",
           "cc-12345678901234567890123456789012-1234567890123456-01",
           "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
           " 00-12345678901234567890123456789012-1234567890123456-01",
           "\t00-12345678901234567890123456789012-1234567890123456-01",
           "00-12345678901234567890123456789012-1234567890123456-01 ",
           "00-12345678901234567890123456789012-1234567890123456-01\t",
           "\t 00-12345678901234567890123456789012-1234567890123456-01 \t",
       }) {
    const auto parsed = parse_traceparent(value);
    ASSERT_TRUE(parsed.has_value()) << value;
    EXPECT_EQ(hex(parsed->trace_id), "12345678901234567890123456789012") << value;
    EXPECT_EQ(hex(parsed->parent_id), "1234567890123456") << value;
  }
}

TEST(ParseTraceparent, RejectsUppercaseHexInAnyField) {
  // Version "0A" is also a (future) version with an uppercase digit.
  const std::string value = "0a-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0b";
  ASSERT_TRUE(accepted(value));
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] < 'a' || value[i] > 'f') continue;
    const std::string upper = with_char(value, i, static_cast<char>(value[i] - 'a' + 'A'));
    EXPECT_FALSE(accepted(upper)) << upper;
  }
  EXPECT_FALSE(accepted("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"));
}

TEST(ParseTraceparent, RejectsVersionFf) {
  EXPECT_FALSE(accepted("ff-0af7651916cd43dd8448eb211c80319c-b9c7c989f97918e1-01"));
  EXPECT_FALSE(accepted(with_field(kSpecSampled, 0, "ff")));
  EXPECT_FALSE(accepted("ff-0af7651916cd43dd8448eb211c80319c-b9c7c989f97918e1-01-more"));
}

TEST(ParseTraceparent, RejectsAllZeroTraceId) {
  EXPECT_FALSE(accepted("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  EXPECT_FALSE(accepted("cc-00000000000000000000000000000000-00f067aa0ba902b7-01"));
}

TEST(ParseTraceparent, RejectsAllZeroParentId) {
  EXPECT_FALSE(accepted("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
  EXPECT_FALSE(accepted("cc-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
}

TEST(ParseTraceparent, AcceptsIdsWithASingleNonZeroByte) {
  EXPECT_TRUE(accepted("00-00000000000000000000000000000001-0000000000000001-00"));
  EXPECT_TRUE(accepted("00-10000000000000000000000000000000-1000000000000000-00"));
}

TEST(ParseTraceparent, RejectsWrongFieldLengths) {
  // trace-id 31 / 33 characters
  EXPECT_FALSE(accepted("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"));
  EXPECT_FALSE(accepted("00-4bf92f3577b34da6a3ce929d0e0e47360-00f067aa0ba902b7-01"));
  // parent-id 15 / 17 characters
  EXPECT_FALSE(accepted("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01"));
  EXPECT_FALSE(accepted("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b70-01"));
  // trace-id and parent-id lengths swapped around the dash: same total length
  EXPECT_FALSE(accepted("00-4bf92f3577b34da6a3ce929d0e0e47-3600f067aa0ba902b7-01"));
  // flags 1 / 3 characters
  EXPECT_FALSE(accepted("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"));
  EXPECT_FALSE(accepted("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011"));
  // version 1 / 3 characters
  EXPECT_FALSE(accepted("0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(accepted("000-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
}

TEST(ParseTraceparent, RejectsMissingOrMisplacedDashes) {
  for (std::size_t dash : {std::size_t{2}, std::size_t{35}, std::size_t{52}}) {
    ASSERT_EQ(kSpecSampled[dash], '-');
    EXPECT_FALSE(accepted(with_char(kSpecSampled, dash, '0'))) << dash;
    EXPECT_FALSE(accepted(with_char(kSpecSampled, dash, '_'))) << dash;
    EXPECT_FALSE(accepted(with_char(kSpecSampled, dash, ' '))) << dash;
    std::string removed(kSpecSampled);
    removed.erase(dash, 1);
    EXPECT_FALSE(accepted(removed)) << dash;
    std::string doubled(kSpecSampled);
    doubled.insert(dash, 1, '-');
    EXPECT_FALSE(accepted(doubled)) << dash;
  }
  EXPECT_FALSE(accepted("004bf92f3577b34da6a3ce929d0e0e473600f067aa0ba902b701"));
}

TEST(ParseTraceparent, RejectsVersion00WithTrailingData) {
  EXPECT_FALSE(accepted(std::string(kSpecSampled) + "-"));
  EXPECT_FALSE(accepted(std::string(kSpecSampled) + "."));
  EXPECT_FALSE(accepted(std::string(kSpecSampled) + "0"));
  EXPECT_FALSE(accepted(std::string(kSpecSampled) + "-what-the-future-will-not-be-like"));
  EXPECT_FALSE(accepted("00-12345678901234567890123456789012-1234567890123456-01."));
}

TEST(ParseTraceparent, AcceptsFutureVersionOfExactLength) {
  const auto parsed = parse_traceparent("cc-12345678901234567890123456789012-1234567890123456-01");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->version, 0xcc);
  EXPECT_EQ(hex(parsed->trace_id), "12345678901234567890123456789012");
  EXPECT_EQ(hex(parsed->parent_id), "1234567890123456");
  EXPECT_TRUE(parsed->sampled());
}

TEST(ParseTraceparent, AcceptsFutureVersionWithAppendedFieldsAndParsesFlags) {
  const auto sampled = parse_traceparent(
      "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like");
  ASSERT_TRUE(sampled.has_value());
  EXPECT_EQ(sampled->version, 0xcc);
  EXPECT_EQ(hex(sampled->trace_id), "12345678901234567890123456789012");
  EXPECT_EQ(hex(sampled->parent_id), "1234567890123456");
  EXPECT_EQ(sampled->flags, 0x01);
  EXPECT_TRUE(sampled->sampled());

  const auto unsampled = parse_traceparent(
      "01-12345678901234567890123456789012-1234567890123456-00-anything goes here");
  ASSERT_TRUE(unsampled.has_value());
  EXPECT_EQ(unsampled->version, 0x01);
  EXPECT_FALSE(unsampled->sampled());

  // A lone trailing dash still separates (empty) future fields.
  EXPECT_TRUE(accepted("fe-12345678901234567890123456789012-1234567890123456-01-"));
}

TEST(ParseTraceparent, RejectsFutureVersionWhoseFlagsAreFollowedByNonDash) {
  EXPECT_FALSE(accepted(
      "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-not-be-like"));
  EXPECT_FALSE(accepted("cc-12345678901234567890123456789012-1234567890123456-011"));
  EXPECT_FALSE(accepted("cc-12345678901234567890123456789012-1234567890123456-01x-y"));
}

TEST(ParseTraceparent, RejectsFutureVersionShorterThan55) {
  EXPECT_FALSE(accepted("cc-12345678901234567890123456789012-1234567890123456-0"));
  EXPECT_FALSE(accepted("cc-12345678901234567890123456789012-1234567890123456-"));
  EXPECT_FALSE(accepted("cc-12345678901234567890123456789012-1234567890123456"));
  EXPECT_FALSE(accepted("cc-12345678901234567890123456789012"));
}

TEST(ParseTraceparent, FutureVersionFieldsAreStillStrict) {
  EXPECT_FALSE(accepted("cc-1234567890123456789012345678901G-1234567890123456-01"));
  EXPECT_FALSE(accepted("cc-12345678901234567890123456789012-123456789012345g-01-x"));
  EXPECT_FALSE(accepted("cc-12345678901234567890123456789012-1234567890123456-0z"));
  EXPECT_FALSE(accepted("cc-12345678901234567890123456789012_1234567890123456-01"));
}

TEST(ParseTraceparent, TrimsSurroundingSpacesAndTabs) {
  for (const std::string& padded :
       {" " + std::string(kSpecSampled), "\t" + std::string(kSpecSampled),
        std::string(kSpecSampled) + " ", std::string(kSpecSampled) + " \t",
        "  \t" + std::string(kSpecSampled) + "\t  "}) {
    const auto parsed = parse_traceparent(padded);
    ASSERT_TRUE(parsed.has_value()) << '"' << padded << '"';
    EXPECT_EQ(hex(parsed->trace_id), kSpecTraceId);
    EXPECT_EQ(hex(parsed->parent_id), kSpecParentId);
  }
  EXPECT_TRUE(accepted(" cc-12345678901234567890123456789012-1234567890123456-01-future\t"));
}

TEST(ParseTraceparent, RejectsWhitespaceInsideOrOtherThanSpaceAndTab) {
  EXPECT_FALSE(accepted("00 -4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(accepted("00-4bf92f3577b34da6a3ce929d0e0e4736 -00f067aa0ba902b7-01"));
  EXPECT_FALSE(accepted("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7- 1"));
  EXPECT_FALSE(accepted(std::string(kSpecSampled) + "\r\n"));
  EXPECT_FALSE(accepted("\n" + std::string(kSpecSampled)));
}

TEST(ParseTraceparent, RejectsNonHexCharacters) {
  EXPECT_FALSE(accepted(with_char(kSpecSampled, kTraceIdAt, 'g')));
  EXPECT_FALSE(accepted(with_char(kSpecSampled, kTraceIdAt + 31, 'x')));
  EXPECT_FALSE(accepted(with_char(kSpecSampled, kParentIdAt, 'z')));
  EXPECT_FALSE(accepted(with_char(kSpecSampled, kParentIdAt + 15, '.')));
  EXPECT_FALSE(accepted(with_char(kSpecSampled, kFlagsAt, 'g')));
  EXPECT_FALSE(accepted(with_char(kSpecSampled, kFlagsAt + 1, '-')));
  EXPECT_FALSE(accepted(with_char(kSpecSampled, 0, 'g')));
  EXPECT_FALSE(accepted(with_char(kSpecSampled, 1, 'x')));
  EXPECT_FALSE(accepted(with_char(kSpecSampled, kTraceIdAt + 4, '\0')));
  EXPECT_FALSE(accepted(with_char(kSpecSampled, kTraceIdAt + 4, '\xe4')));
}

TEST(ParseTraceparent, RejectsEmptyAndTruncatedValues) {
  EXPECT_FALSE(accepted(""));
  EXPECT_FALSE(accepted("   "));
  EXPECT_FALSE(accepted("\t"));
  EXPECT_FALSE(accepted("0"));
  EXPECT_FALSE(accepted("00"));
  EXPECT_FALSE(accepted("00-"));
  EXPECT_FALSE(accepted(kSpecSampled.substr(0, kSpecSampled.size() - 1)));
  for (std::size_t n = 0; n < kSpecSampled.size(); ++n) {
    EXPECT_FALSE(accepted(kSpecSampled.substr(0, n))) << n;
  }
}

TEST(FormatTraceparent, WritesSpecExampleExactly55Characters) {
  const auto parsed = parse_traceparent(kSpecSampled);
  ASSERT_TRUE(parsed.has_value());

  std::array<char, kTraceparentLength + 8> buffer;
  buffer.fill('#');
  format_traceparent(parsed->trace_id, parsed->parent_id, true, buffer.data());
  EXPECT_EQ(std::string_view(buffer.data(), kTraceparentLength), kSpecSampled);
  for (std::size_t i = kTraceparentLength; i < buffer.size(); ++i) {
    EXPECT_EQ(buffer[i], '#') << "wrote past 55 characters at " << i;
  }

  format_traceparent(parsed->trace_id, parsed->parent_id, false, buffer.data());
  EXPECT_EQ(std::string_view(buffer.data(), kTraceparentLength), kSpecNotSampled);
}

// Level 2 "Other Flags": reserved bits MUST be sent as zero; sampled and random are kept.
TEST(FormatTraceparent, Level2ZeroesReservedFlagBits) {
  const auto parsed = parse_traceparent(with_field(kSpecSampled, kFlagsAt, "ff"));
  ASSERT_TRUE(parsed.has_value());
  std::array<char, kTraceparentLength> buffer{};
  format_traceparent(parsed->trace_id, parsed->parent_id, parsed->flags, buffer.data());
  EXPECT_EQ(std::string_view(buffer.data(), buffer.size()),
            with_field(kSpecSampled, kFlagsAt, "03"));

  for (const auto& [flags, written] : {std::pair<std::uint8_t, std::string_view>{0x00, "00"},
                                       {0x01, "01"},
                                       {0x02, "02"},
                                       {0x03, "03"},
                                       {0x04, "00"},
                                       {0x09, "01"},
                                       {0xfe, "02"},
                                       {0x80, "00"}}) {
    format_traceparent(parsed->trace_id, parsed->parent_id, flags, buffer.data());
    EXPECT_EQ(std::string_view(buffer.data() + kFlagsAt, 2), written) << int{flags};
  }
}

// Callers that only know the sampled decision pass a bool; it still means 00 / 01.
TEST(FormatTraceparent, ABoolIsTheSampledFlagAlone) {
  const auto parsed = parse_traceparent(kSpecSampled);
  ASSERT_TRUE(parsed.has_value());
  std::array<char, kTraceparentLength> buffer{};
  const bool sampled = true;
  format_traceparent(parsed->trace_id, parsed->parent_id, sampled, buffer.data());
  EXPECT_EQ(std::string_view(buffer.data(), buffer.size()), kSpecSampled);
  const bool not_sampled = false;
  format_traceparent(parsed->trace_id, parsed->parent_id, not_sampled, buffer.data());
  EXPECT_EQ(std::string_view(buffer.data(), buffer.size()), kSpecNotSampled);
}

TEST(FormatTraceparent, AlwaysWritesVersion00EvenForFutureVersionParents) {
  const auto parsed = parse_traceparent(
      "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like");
  ASSERT_TRUE(parsed.has_value());
  std::array<char, kTraceparentLength> buffer{};
  format_traceparent(parsed->trace_id, parsed->parent_id, parsed->sampled(), buffer.data());
  EXPECT_EQ(std::string_view(buffer.data(), buffer.size()),
            "00-12345678901234567890123456789012-1234567890123456-01");
}

TEST(FormatTraceparent, RoundTripsThroughParse) {
  TraceId trace_id{};
  SpanId span_id{};
  for (std::size_t i = 0; i < trace_id.size(); ++i) {
    trace_id[i] = static_cast<std::uint8_t>(0xf0 + i);
  }
  for (std::size_t i = 0; i < span_id.size(); ++i) span_id[i] = static_cast<std::uint8_t>(i * 37);

  for (std::uint8_t flags :
       {std::uint8_t{0x00}, std::uint8_t{0x01}, std::uint8_t{0x02}, std::uint8_t{0x03}}) {
    std::array<char, kTraceparentLength> buffer{};
    format_traceparent(trace_id, span_id, flags, buffer.data());
    const auto parsed = parse_traceparent(std::string_view(buffer.data(), buffer.size()));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->version, 0x00);
    EXPECT_EQ(parsed->trace_id, trace_id);
    EXPECT_EQ(parsed->parent_id, span_id);
    EXPECT_EQ(parsed->flags, flags);
    EXPECT_EQ(parsed->sampled(), (flags & kFlagSampled) != 0);
    EXPECT_EQ(parsed->random(), (flags & kFlagRandom) != 0);
  }
}

TEST(IsAllZero, DetectsOnlyAllZeroIds) {
  TraceId id{};
  EXPECT_TRUE(is_all_zero(id));
  id[15] = 1;
  EXPECT_FALSE(is_all_zero(id));
  SpanId span{};
  EXPECT_TRUE(is_all_zero(span));
  span[0] = 0x80;
  EXPECT_FALSE(is_all_zero(span));
}

}  // namespace
}  // namespace captain::trace
