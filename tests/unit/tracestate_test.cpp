#include "shared/trace_context/tracestate.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace captain::trace {
namespace {

struct Normalized {
  TraceStateStatus status;
  std::string value;  // only meaningful when status == ok

  bool operator==(const Normalized&) const = default;
};

void PrintTo(const Normalized& n, std::ostream* os) {
  switch (n.status) {
    case TraceStateStatus::ok:
      *os << "ok(\"" << n.value << "\", " << n.value.size() << " chars)";
      return;
    case TraceStateStatus::empty:
      *os << "empty";
      return;
    case TraceStateStatus::invalid:
      *os << "invalid";
      return;
  }
}

Normalized ok(std::string value) {
  return {TraceStateStatus::ok, std::move(value)};
}
const Normalized kEmpty{TraceStateStatus::empty, {}};
const Normalized kInvalid{TraceStateStatus::invalid, {}};

// Runs normalize_tracestate with an output buffer of exactly the documented minimum size, so
// AddressSanitizer catches any write past it.
Normalized normalize(std::string_view combined) {
  const auto out = std::make_unique<char[]>(combined.size());
  const TraceStateResult result = normalize_tracestate(combined, out.get());
  if (result.status != TraceStateStatus::ok) return {result.status, {}};
  return ok(std::string(out.get(), result.length));
}

// "k=vvv..." of exactly `length` characters.
std::string member(std::string_view key, std::size_t length) {
  std::string m(key);
  m += '=';
  m.append(length - m.size(), 'v');
  return m;
}

std::string join(const std::vector<std::string>& members) {
  std::string out;
  for (const auto& m : members) {
    if (!out.empty()) out += ',';
    out += m;
  }
  return out;
}

std::vector<std::string> numbered_members(int count) {
  std::vector<std::string> members;
  for (int i = 1; i <= count; ++i) {
    const std::string n = (i < 10 ? "0" : "") + std::to_string(i);
    members.push_back("bar" + n + "=" + n);
  }
  return members;
}

// --- spec examples -------------------------------------------------------------------------

TEST(NormalizeTracestate, KeepsSpecExamplesUnchanged) {
  for (std::string_view example : {
           "rojo=00f067aa0ba902b7",
           "congo=t61rcWkgMzE",
           "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
           "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7",
           "vendorname1=opaqueValue1,vendorname2=opaqueValue2",
           "fw529a3039@dt=ZmFzdGVybmV0",
           "foo=1,bar=2,baz=3",
       }) {
    EXPECT_EQ(normalize(example), ok(std::string(example))) << example;
  }
}

TEST(NormalizeTracestate, CombinesSeveralHeaderFieldsJoinedWithComma) {
  // tracestate: rojo=00f067aa0ba902b7
  // tracestate: congo=t61rcWkgMzE
  EXPECT_EQ(normalize("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
            ok("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
  EXPECT_EQ(normalize("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"),
            ok("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
}

// --- empty lists and optional whitespace ---------------------------------------------------

TEST(NormalizeTracestate, EmptyAndWhitespaceOnlyListsAreEmpty) {
  EXPECT_EQ(normalize(""), kEmpty);
  EXPECT_EQ(normalize(" "), kEmpty);
  EXPECT_EQ(normalize("\t"), kEmpty);
  EXPECT_EQ(normalize(" \t  \t"), kEmpty);
  EXPECT_EQ(normalize(","), kEmpty);
  EXPECT_EQ(normalize(",,,"), kEmpty);
  EXPECT_EQ(normalize(" , ,\t, "), kEmpty);
}

TEST(NormalizeTracestate, IgnoresEmptyMembersBetweenCommas) {
  EXPECT_EQ(normalize("a=1,,b=2"), ok("a=1,b=2"));
  EXPECT_EQ(normalize(",a=1,"), ok("a=1"));
  EXPECT_EQ(normalize(",, ,a=1, ,\t,b=2,,"), ok("a=1,b=2"));
}

TEST(NormalizeTracestate, DropsOptionalWhitespaceAroundMembers) {
  EXPECT_EQ(normalize(" a=1"), ok("a=1"));
  EXPECT_EQ(normalize("a=1 "), ok("a=1"));
  EXPECT_EQ(normalize("\ta=1\t,  b=2  ,\t c=3"), ok("a=1,b=2,c=3"));
  // W3C test suite: OWS handling
  EXPECT_EQ(normalize("foo=1 \t , \t bar=2, \t baz=3"), ok("foo=1,bar=2,baz=3"));
}

TEST(NormalizeTracestate, KeepsLeadingSpacesOfAValue) {
  EXPECT_EQ(normalize("a= 1"), ok("a= 1"));
  EXPECT_EQ(normalize("a=  x y ,b=2"), ok("a=  x y,b=2"));
}

TEST(NormalizeTracestate, RejectsWhitespaceBetweenKeyAndEquals) {
  EXPECT_EQ(normalize("a =1"), kInvalid);
  EXPECT_EQ(normalize("foo =1,bar=2"), kInvalid);
  EXPECT_EQ(normalize("a\t=1"), kInvalid);
}

// --- key grammar ---------------------------------------------------------------------------

TEST(TracestateKey, AcceptsLowercaseAlphaOrDigitStartAndAllowedCharacters) {
  EXPECT_TRUE(is_valid_tracestate_key("a"));
  EXPECT_TRUE(is_valid_tracestate_key("0"));
  EXPECT_TRUE(is_valid_tracestate_key("0a"));
  EXPECT_TRUE(is_valid_tracestate_key("rojo"));
  EXPECT_TRUE(is_valid_tracestate_key("a_-*/@z09"));
  EXPECT_TRUE(is_valid_tracestate_key("abcdefghijklmnopqrstuvwxyz0123456789_-*/@"));
  EXPECT_TRUE(is_valid_tracestate_key("fw529a3039@dt"));
  EXPECT_TRUE(is_valid_tracestate_key("tenant@system"));
  EXPECT_TRUE(is_valid_tracestate_key("1tenant@system"));
}

TEST(TracestateKey, RejectsBadFirstCharacter) {
  for (std::string_view key : {"_a", "-a", "*a", "/a", "@a", "Aa", " a"}) {
    EXPECT_FALSE(is_valid_tracestate_key(key)) << key;
  }
}

TEST(TracestateKey, RejectsCharactersOutsideTheGrammar) {
  for (std::string_view key : {"", "A", "aB", "foo.bar", "a b", "a\tb", "a,b", "a=b", "a+b", "a:b",
                               "a\x7f", "a\xc3\xa9"}) {
    EXPECT_FALSE(is_valid_tracestate_key(key)) << key;
  }
}

TEST(TracestateKey, AllowsAtMost256Characters) {
  EXPECT_TRUE(is_valid_tracestate_key(std::string(256, 'z')));
  EXPECT_FALSE(is_valid_tracestate_key(std::string(257, 'z')));
  EXPECT_TRUE(is_valid_tracestate_key(std::string(241, 't') + "@" + std::string(14, 'v')));
}

TEST(NormalizeTracestate, RejectsListsWithAnInvalidKey) {
  EXPECT_EQ(normalize("FOO=1"), kInvalid);
  EXPECT_EQ(normalize("foo.bar=1"), kInvalid);
  EXPECT_EQ(normalize("foo=1,Bar=2"), kInvalid);
  EXPECT_EQ(normalize("=1"), kInvalid);
  EXPECT_EQ(normalize("@foo=1,bar=2"), kInvalid);
  EXPECT_EQ(normalize("foo=1," + std::string(257, 'z') + "=1"), kInvalid);
  const std::string longest_key = std::string(256, 'z') + "=1";
  EXPECT_EQ(normalize("foo=1," + longest_key), ok("foo=1," + longest_key));
}

// --- value grammar -------------------------------------------------------------------------

TEST(TracestateValue, AcceptsPrintableCharactersExceptCommaAndEquals) {
  std::string all;
  for (char c = 0x20; c < 0x7f; ++c) {
    if (c != ',' && c != '=') all += c;
  }
  // Ends in '~', so the space inside is fine.
  EXPECT_TRUE(is_valid_tracestate_value(all));
  EXPECT_TRUE(is_valid_tracestate_value("x"));
  EXPECT_TRUE(is_valid_tracestate_value("a b"));
  EXPECT_TRUE(is_valid_tracestate_value("   leading"));
  EXPECT_TRUE(is_valid_tracestate_value("t61rcWkgMzE"));
}

TEST(TracestateValue, RejectsEmptyTrailingSpaceAndForbiddenCharacters) {
  for (std::string_view value : {"", " ", "a ", "a,b", "a=b", "=", ",", "a\tb", "\ta", "a\x7f",
                                 "a\x80", "caf\xc3\xa9", "a\r\nb"}) {
    EXPECT_FALSE(is_valid_tracestate_value(value)) << value;
  }
  EXPECT_FALSE(is_valid_tracestate_value(std::string_view("a\0b", 3)));
}

TEST(TracestateValue, AllowsAtMost256Characters) {
  EXPECT_TRUE(is_valid_tracestate_value(std::string(256, 'v')));
  EXPECT_FALSE(is_valid_tracestate_value(std::string(257, 'v')));
  EXPECT_TRUE(is_valid_tracestate_value(std::string(255, ' ') + "v"));
}

TEST(NormalizeTracestate, RejectsListsWithAnInvalidValueOrMissingEquals) {
  EXPECT_EQ(normalize("foo=bar=baz"), kInvalid);
  EXPECT_EQ(normalize("foo=,bar=3"), kInvalid);
  EXPECT_EQ(normalize("foo"), kInvalid);
  EXPECT_EQ(normalize("foo=1,bar"), kInvalid);
  EXPECT_EQ(normalize("foo=a\tb"), kInvalid);
  EXPECT_EQ(normalize("foo=1,bar=" + std::string(257, 'v')), kInvalid);
  const std::string longest_value = "bar=" + std::string(256, 'v');
  EXPECT_EQ(normalize("foo=1," + longest_value), ok("foo=1," + longest_value));
}

// --- uniqueness and member count -----------------------------------------------------------

// Level 2 "Mutating the tracestate Field": vendors MAY discard duplicate keys they did not
// generate; the W3C test suite (test_tracestate_duplicated_keys) expects the list to survive
// with one of them. The leftmost one is the most recent position, so it is kept.
TEST(NormalizeTracestate, Level2KeepsTheLeftmostOfDuplicateKeys) {
  EXPECT_EQ(normalize("a=1,a=2"), ok("a=1"));
  EXPECT_EQ(normalize("a=1,a=1"), ok("a=1"));
  EXPECT_EQ(normalize("a=1,b=2, a=3"), ok("a=1,b=2"));
  EXPECT_EQ(normalize("foo=1,bar=2,foo=3"), ok("foo=1,bar=2"));
  EXPECT_EQ(normalize("b=0,a=1,c=2,a=3,c=4,d=5"), ok("b=0,a=1,c=2,d=5"));
  // Two header fields, combined.
  EXPECT_EQ(normalize("foo=1,foo=2"), ok("foo=1"));
}

TEST(NormalizeTracestate, ADuplicateKeyStillHasToBeValid) {
  EXPECT_EQ(normalize("a=1,a="), kInvalid);
  EXPECT_EQ(normalize("a=1,a=x,y"), kInvalid);
}

TEST(NormalizeTracestate, DuplicatesCountTowardsThe32MemberLimit) {
  std::vector<std::string> members = numbered_members(31);
  members.push_back("bar01=again");
  EXPECT_EQ(normalize(join(members)), ok(join(numbered_members(31))));
  members.push_back("bar02=again");
  EXPECT_EQ(normalize(join(members)), kInvalid);
}

TEST(NormalizeTracestate, KeysThatArePrefixesOfEachOtherAreDistinct) {
  EXPECT_EQ(normalize("a=1,ab=2"), ok("a=1,ab=2"));
  EXPECT_EQ(normalize("ab=1,a=2"), ok("ab=1,a=2"));
  EXPECT_EQ(normalize("t@v=1,t=2,t@vv=3"), ok("t@v=1,t=2,t@vv=3"));
}

TEST(NormalizeTracestate, Accepts32Members) {
  const std::string list = join(numbered_members(32));
  EXPECT_EQ(normalize(list), ok(list));
  // Empty members do not count.
  EXPECT_EQ(normalize(",," + list + ", ,"), ok(list));
}

TEST(NormalizeTracestate, Rejects33Members) {
  EXPECT_EQ(normalize(join(numbered_members(33))), kInvalid);
}

// --- truncation to 512 characters ----------------------------------------------------------

TEST(NormalizeTracestate, KeepsExactly512Characters) {
  // 4 members of 127 characters plus 3 commas = 511; make the last one 128 -> 512.
  const std::string list =
      join({member("a", 127), member("b", 127), member("c", 127), member("d", 128)});
  ASSERT_EQ(list.size(), 512u);
  EXPECT_EQ(normalize(list), ok(list));
}

TEST(NormalizeTracestate, KeepsExactly512CharactersEvenWithMembersOver128) {
  const std::string list =
      join({member("a", 100), member("big", 200), member("b", 100), member("c", 109)});
  ASSERT_EQ(list.size(), 512u);
  EXPECT_EQ(normalize(list), ok(list));
}

TEST(NormalizeTracestate, Over512RemovesMembersFromTheRight) {
  // 4 * 128 + 3 commas = 515; no member is over 128 characters.
  const std::vector<std::string> members = {member("a", 128), member("b", 128), member("c", 128),
                                            member("d", 128)};
  const std::string list = join(members);
  ASSERT_EQ(list.size(), 515u);
  EXPECT_EQ(normalize(list), ok(join({members[0], members[1], members[2]})));
}

TEST(NormalizeTracestate, TruncationKeepsAResultOfExactly512) {
  // Removing "e" (and the comma before it) leaves exactly 512 characters: nothing else goes.
  const std::vector<std::string> members = {member("a", 127), member("b", 127), member("c", 127),
                                            member("d", 128)};
  const std::string expected = join(members);
  ASSERT_EQ(expected.size(), 512u);
  EXPECT_EQ(normalize(expected + "," + member("e", 10)), ok(expected));
  // The same when the removed member is a long one in the middle.
  const std::string list =
      join({members[0], members[1], member("big", 200), members[2], members[3]});
  EXPECT_EQ(normalize(list), ok(expected));
}

TEST(NormalizeTracestate, Over512RemovesMembersLongerThan128First) {
  const std::string big = member("big", 200);
  const std::vector<std::string> small = {member("a", 80), member("b", 80), member("c", 80),
                                          member("d", 80)};
  // big at the front: removing from the right would keep it.
  const std::string list = join({big, small[0], small[1], small[2], small[3]});
  ASSERT_GT(list.size(), 512u);
  EXPECT_EQ(normalize(list), ok(join(small)));

  // A member of exactly 128 characters is not "larger than 128": it stays, the 129 one goes.
  const std::string list2 =
      join({member("x", 129), member("y", 128), member("z", 128), member("w", 128)});
  ASSERT_EQ(list2.size(), 516u);
  EXPECT_EQ(normalize(list2), ok(join({member("y", 128), member("z", 128), member("w", 128)})));
}

// Level 2 "tracestate Limits": long entries go first, and like the others from the end of the
// list: the rightmost (oldest) long entry goes before a newer one to its left.
TEST(NormalizeTracestate, Level2RemovesOnlyAsManyLongMembersAsNeededFromTheRight) {
  const std::string long1 = member("l1", 200);
  const std::string long2 = member("l2", 200);
  const std::string s1 = member("s1", 50);
  const std::string s2 = member("s2", 50);
  const std::string list = join({s1, long1, s2, long2});
  ASSERT_EQ(list.size(), 503u);
  // Under the limit: untouched.
  EXPECT_EQ(normalize(list), ok(list));

  const std::string s3 = member("s3", 50);
  const std::string list2 = join({s1, long1, s2, long2, s3});
  ASSERT_EQ(list2.size(), 554u);
  // One long member goes, the rightmost; the short ones all stay.
  EXPECT_EQ(normalize(list2), ok(join({s1, long1, s2, s3})));
}

TEST(NormalizeTracestate, Level2NewestLeftmostMemberSurvivesTruncation) {
  // A vendor adds its entry on the left; truncation must not cost it that entry.
  std::vector<std::string> members;
  for (char k = 'a'; k <= 'f'; ++k) members.push_back(member(std::string(1, k), 100));
  const std::string list = join(members);
  ASSERT_EQ(list.size(), 605u);
  EXPECT_EQ(normalize(list),
            ok(join({members[0], members[1], members[2], members[3], members[4]})));

  const std::string newest_long = member("newest", 129);
  const std::string oldest_long = member("oldest", 129);
  const std::string list2 = join({newest_long, members[0], members[1], oldest_long, members[2]});
  ASSERT_EQ(list2.size(), 562u);
  EXPECT_EQ(normalize(list2), ok(join({newest_long, members[0], members[1], members[2]})));
}

TEST(NormalizeTracestate, RemovesFromTheRightAfterLongMembersAreGone) {
  std::vector<std::string> small;
  for (char k = 'a'; k <= 'h'; ++k) small.push_back(member(std::string(1, k), 100));
  std::vector<std::string> all = {member("big1", 200)};
  all.insert(all.end(), small.begin(), small.end());
  all.insert(all.begin() + 4, member("big2", 200));
  // Without the long ones: 8 * 100 + 7 = 807 -> keep 5 (504), a 6th would make 605.
  const std::string expected = join({small[0], small[1], small[2], small[3], small[4]});
  ASSERT_EQ(expected.size(), 504u);
  EXPECT_EQ(normalize(join(all)), ok(expected));
}

TEST(NormalizeTracestate, SingleMemberOver512IsDroppedLeavingNothing) {
  const std::string huge = std::string(256, 'k') + "=" + std::string(256, 'v');
  ASSERT_EQ(huge.size(), 513u);
  EXPECT_EQ(normalize(huge), kEmpty);
  EXPECT_EQ(normalize(huge + ",a=1"), ok("a=1"));
}

TEST(NormalizeTracestate, TruncationCountsNormalizedLengthNotInputLength) {
  // 4 * 127 + 3 = 511 after normalization, but the input carries extra whitespace and commas.
  const std::vector<std::string> members = {member("a", 127), member("b", 127), member("c", 127),
                                            member("d", 127)};
  const std::string padded =
      "  " + members[0] + " ,, " + members[1] + "\t,\t" + members[2] + " , " + members[3] + "   ";
  ASSERT_GT(padded.size(), 512u);
  EXPECT_EQ(normalize(padded), ok(join(members)));
}

// --- the W3C test suite's tracestate cases (test/test.py, TraceContextTest) -----------------
// Each input is the combined value of the header fields the suite sends.

TEST(NormalizeTracestate, W3CTestSuiteEmptyHeaders) {
  EXPECT_EQ(normalize(""), kEmpty);
  EXPECT_EQ(normalize("foo=1,"), ok("foo=1"));  // fields "foo=1" and ""
  EXPECT_EQ(normalize(",foo=1"), ok("foo=1"));  // fields "" and "foo=1"
}

TEST(NormalizeTracestate, W3CTestSuiteMultipleHeadersKeepFieldOrder) {
  EXPECT_EQ(normalize("foo=1,bar=2,rojo=1,congo=2,baz=3"), ok("foo=1,bar=2,rojo=1,congo=2,baz=3"));
}

TEST(NormalizeTracestate, W3CTestSuiteAllAllowedCharacters) {
  std::string value;
  for (char c = 0x20; c <= 0x7e; ++c) {
    if (c != ',' && c != '=') value += c;
  }
  const std::string key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
  EXPECT_EQ(normalize(key + "=" + value), ok(key + "=" + value));
  const std::string vendor_key = key + "@a-z0-9_-*/";
  EXPECT_EQ(normalize(vendor_key + "=" + value), ok(vendor_key + "=" + value));
}

TEST(NormalizeTracestate, W3CTestSuiteOptionalWhitespace) {
  EXPECT_EQ(normalize("foo=1 \t , \t bar=2, \t baz=3"), ok("foo=1,bar=2,baz=3"));
  EXPECT_EQ(normalize("foo=1\t \t,\t \tbar=2,\t \tbaz=3"), ok("foo=1,bar=2,baz=3"));
  for (std::string_view padded : {" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"}) {
    EXPECT_EQ(normalize(padded), ok("foo=1")) << padded;
  }
}

TEST(NormalizeTracestate, W3CTestSuiteIllegalKeysDropTheHeader) {
  for (std::string_view list : {"foo =1", "FOO=1", "foo.bar=1", "@foo=1,bar=2"}) {
    EXPECT_EQ(normalize(list), kInvalid) << list;
  }
}

TEST(NormalizeTracestate, W3CTestSuiteAtSignsInsideKeys) {
  for (std::string_view list : {"foo@=1,bar=2", "foo@@bar=1,bar=2", "foo@bar@baz=1,bar=2"}) {
    EXPECT_EQ(normalize(list), ok(std::string(list))) << list;
  }
}

TEST(NormalizeTracestate, W3CTestSuiteKeyLengthLimit) {
  for (const std::string& key :
       {std::string(256, 'z'), std::string(241, 't') + "@" + std::string(14, 'v'),
        std::string(242, 't') + "@v", "t@" + std::string(15, 'v')}) {
    EXPECT_EQ(normalize("foo=1," + key + "=1"), ok("foo=1," + key + "=1")) << key;
  }
  EXPECT_EQ(normalize("foo=1," + std::string(257, 'z') + "=1"), kInvalid);
}

TEST(NormalizeTracestate, W3CTestSuiteMemberCountLimit) {
  // The suite sends bar01=01 ... bar32=32 (or bar33=33) in four header fields.
  const std::string combined32 = join(numbered_members(32));
  EXPECT_EQ(normalize(combined32), ok(combined32));
  EXPECT_EQ(normalize(join(numbered_members(33))), kInvalid);
}

TEST(NormalizeTracestate, W3CTestSuiteIllegalValuesDropTheHeader) {
  EXPECT_EQ(normalize("foo=bar=baz"), kInvalid);
  EXPECT_EQ(normalize("foo=,bar=3"), kInvalid);
}

TEST(NormalizeTracestate, OutputIsAFixedPoint) {
  for (std::string_view input : {"a=1, b=2 ,,c= 3", " rojo=00f067aa0ba902b7 ,congo=t61rcWkgMzE "}) {
    const Normalized once = normalize(input);
    ASSERT_EQ(once.status, TraceStateStatus::ok) << input;
    EXPECT_EQ(normalize(once.value), once) << input;
  }
}

}  // namespace
}  // namespace captain::trace
