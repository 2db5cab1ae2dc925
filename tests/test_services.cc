// The built-in services (echo, discard, chargen, daytime, qotd) against their
// RFCs, over TCP (fake session) and UDP (fake datagram): what a client sees.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "fake_session.h"
#include "service_ref.h"
#include "temp_file.h"

extern "C" {
#include "services.h"
}

namespace {

std::vector<std::string> ServiceNames() {
  std::vector<std::string> names;
  std::string all = pstest::builtin_names();
  size_t start = 0;
  for (;;) {
    size_t comma = all.find(", ", start);
    names.push_back(all.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 2;
  }
  return names;
}

const ps_handler *const kBuiltIns[] = {&ps_svc_echo, &ps_svc_discard, &ps_svc_chargen, &ps_svc_daytime, &ps_svc_qotd};

std::string EveryByteValue() {
  std::string all;
  for (int b = 0; b < 256; b++) all.push_back(static_cast<char>(b));
  return all;
}

const size_t kChargenLineBytes = PS_CHARGEN_LINE + 2;  // CR LF

std::string ChargenFill(uint64_t *pos, size_t len) {
  std::string buf(len, '\0');
  ps_chargen_fill(pos, len ? &buf[0] : nullptr, len);
  return buf;
}

// ---- daytime reference: walk the calendar year by year, month by month ----
bool IsLeap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

std::string DaytimeReference(int64_t t) {
  static const char *const kWeekdays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
  static const char *const kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                        "July",    "August",   "September", "October", "November", "December"};
  static const int kMonthDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int64_t days = t / 86400, secs = t % 86400;
  if (secs < 0) {
    secs += 86400;
    days--;
  }
  int weekday = static_cast<int>(((days + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
  int64_t year = 1970;
  while (days < 0) {
    year--;
    days += IsLeap(year) ? 366 : 365;
  }
  while (days >= (IsLeap(year) ? 366 : 365)) {
    days -= IsLeap(year) ? 366 : 365;
    year++;
  }
  int month = 0;
  for (;;) {
    int length = kMonthDays[month] + (month == 1 && IsLeap(year) ? 1 : 0);
    if (days < length) break;
    days -= length;
    month++;
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s, %s %d, %lld %02d:%02d:%02d-UTC\r\n", kWeekdays[weekday], kMonths[month],
                static_cast<int>(days) + 1, static_cast<long long>(year), static_cast<int>(secs / 3600),
                static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
  return buf;
}

std::string Daytime(int64_t t) {
  char buf[96];
  size_t n = ps_daytime_format(t, buf, sizeof buf);
  EXPECT_EQ(n, std::strlen(buf)) << "returned length differs from the string, t=" << t;
  return std::string(buf, n);
}

// ---- qotd ----
// A service context from on_start, freed by on_stop as the engine does.
struct QotdStart {
  void *ctx = nullptr;
  int rc = -1;
  char err[512] = "";
  explicit QotdStart(const char *quotes_file) {
    ps_qotd_options opts = {quotes_file};
    ps_service_config cfg = {"qotd", &opts};
    rc = ps_svc_qotd.on_start(&cfg, &ctx, err, sizeof err);
  }
  ~QotdStart() {
    if (rc == 0) ps_svc_qotd.on_stop(ctx);
  }
};

// A parsed context, freed at the end of the test.
struct QotdParse {
  void *ctx = nullptr;
  int rc = -1;
  char err[512] = "";
  QotdParse(const std::string &text, const char *name = "quotes.txt") {
    rc = ps_qotd_parse(text.c_str(), name, &ctx, err, sizeof err);
  }
  ~QotdParse() {
    if (rc == 0) ps_qotd_free(ctx);
  }
};

// Every quote in the order the days serve them: day 0 onwards until the quote
// stored for day 0 comes round again.
std::vector<std::string> QuotesByDay(const void *ctx) {
  std::vector<std::string> quotes;
  const char *first = ps_qotd_quote(ctx, 0);
  for (int64_t day = 0; day < 1000000; day++) {
    const char *quote = ps_qotd_quote(ctx, day);
    if (day > 0 && quote == first) break;
    quotes.push_back(quote);
  }
  return quotes;
}

int64_t Today() { return static_cast<int64_t>(std::time(nullptr)) / 86400; }

// A quote as RFC 865 asks: under 512 characters, CR LF line ends, CR LF last.
testing::AssertionResult IsRfc865Quote(const std::string &quote) {
  if (quote.size() >= 512) return testing::AssertionFailure() << quote.size() << " characters";
  if (quote.size() < 2 || quote.compare(quote.size() - 2, 2, "\r\n") != 0)
    return testing::AssertionFailure() << "does not end with CR LF: " << quote;
  for (size_t i = 0; i < quote.size(); i++) {
    if (quote[i] == '\n' && (i == 0 || quote[i - 1] != '\r')) return testing::AssertionFailure() << "bare LF at " << i;
    if (quote[i] == '\r' && (i + 1 == quote.size() || quote[i + 1] != '\n'))
      return testing::AssertionFailure() << "bare CR at " << i;
  }
  return testing::AssertionSuccess();
}

}  // namespace

// ---- registry -------------------------------------------------------------

TEST(Services, FindReturnsEachBuiltInByName) {
  EXPECT_EQ(ps_service_find("echo"), &ps_svc_echo);
  EXPECT_EQ(ps_service_find("discard"), &ps_svc_discard);
  EXPECT_EQ(ps_service_find("chargen"), &ps_svc_chargen);
  EXPECT_EQ(ps_service_find("daytime"), &ps_svc_daytime);
  EXPECT_EQ(ps_service_find("qotd"), &ps_svc_qotd);
  for (const ps_handler *h : kBuiltIns) EXPECT_EQ(ps_service_find(h->name), h) << h->name;
}

TEST(Services, EveryListedNameResolvesToAHandlerOfThatName) {
  std::vector<std::string> names = ServiceNames();
  EXPECT_EQ(names.size(), sizeof(kBuiltIns) / sizeof(kBuiltIns[0])) << pstest::builtin_names();
  for (const std::string &name : names) {
    const ps_handler *h = ps_service_find(name.c_str());
    ASSERT_NE(h, nullptr) << "'" << name << "' is listed but not found";
    EXPECT_EQ(name, h->name);
  }
  for (const ps_handler *h : kBuiltIns)
    EXPECT_NE(std::find(names.begin(), names.end(), h->name), names.end()) << h->name << " is not listed";
}

TEST(Services, UnknownNamesAreNotFound) {
  for (const char *name : {"", "echo2", "ech", "echo ", " echo", "time", "quote", "char", "chargen2", "qotd/udp"})
    EXPECT_EQ(ps_service_find(name), nullptr) << "'" << name << "'";
}

// The registry a program fills: built-ins plus its own; names are checked.
TEST(Registry, TakesAUserServiceAndRefusesBadOrDuplicateNames) {
  // C++17 has no designated initialisers (the C handlers use them).
  auto handler = [](const char *name, void (*on_open)(ps_session *)) {
    ps_handler h;
    memset(&h, 0, sizeof h);
    h.name = name;
    h.on_open = on_open;
    return h;
  };
  void (*talk)(ps_session *) = [](ps_session *) {};
  const ps_handler mine = handler("mine-1", nullptr);
  const ps_handler upper_case = handler("Mine", talk);
  const ps_handler talker = handler("talker", talk);
  char err[200] = "";
  ps_registry reg;
  ps_registry_init(&reg);
  ps_registry_add_builtins(&reg);
  EXPECT_EQ(ps_registry_add(&reg, &talker, err, sizeof err), 0) << err;
  EXPECT_EQ(ps_registry_find(&reg, "talker"), &talker);
  EXPECT_EQ(ps_registry_find(&reg, "echo"), &ps_svc_echo);
  EXPECT_EQ(ps_registry_add(&reg, &ps_svc_echo, err, sizeof err), -1);
  EXPECT_NE(std::string(err).find("already registered"), std::string::npos) << err;
  EXPECT_EQ(ps_registry_add(&reg, &mine, err, sizeof err), -1) << "no callback at all";
  EXPECT_EQ(ps_registry_add(&reg, &upper_case, err, sizeof err), -1) << "listen specs are lower-cased";
  char names[300];
  EXPECT_STREQ(ps_registry_names(&reg, names, sizeof names), "echo, discard, chargen, daytime, qotd, talker");
  // Fill it up: the handlers and their names must outlive the registry.
  std::vector<std::string> extra_names;
  std::vector<ps_handler> extras;
  extra_names.reserve(PS_REGISTRY_MAX);
  extras.reserve(PS_REGISTRY_MAX);
  for (int i = 0; reg.count < PS_REGISTRY_MAX; i++) {
    extra_names.push_back("extra" + std::to_string(i) + std::string(20, 'x'));  // no small-string storage
    extras.push_back(talker);
    extras.back().name = extra_names.back().c_str();
    ASSERT_EQ(ps_registry_add(&reg, &extras.back(), err, sizeof err), 0) << err;
  }
  ps_handler one_more = talker;
  one_more.name = "overflow";
  EXPECT_EQ(ps_registry_add(&reg, &one_more, err, sizeof err), -1) << "the registry is full";
}

TEST(Services, EveryBuiltInServesTcpAndUdp) {
  ps_registry reg;
  ps_registry_init(&reg);
  ps_registry_add_builtins(&reg);
  EXPECT_EQ(reg.count, sizeof(kBuiltIns) / sizeof(kBuiltIns[0]));
  for (const ps_handler *h : kBuiltIns) {
    // Every handler serves TCP (without on_data the engine drops input);
    // UDP needs on_datagram.
    EXPECT_NE(h->on_datagram, nullptr) << h->name;
    EXPECT_EQ(h->on_start == nullptr, h->on_stop == nullptr) << h->name << ": a context made must be freed";
  }
}

// ---- echo over UDP (RFC 862) ------------------------------------------------

TEST(SvcEchoUdp, RepliesWithThePayloadUnchanged) {
  FakeDatagram fake(&ps_svc_echo);
  const std::string all = EveryByteValue();
  fake.Receive(all);
  ASSERT_EQ(fake.replies().size(), 1u);
  EXPECT_EQ(fake.replies()[0], all);
}

TEST(SvcEchoUdp, LargestUdpPayloadComesBackWhole) {
  std::string payload(65507, '\0');
  for (size_t i = 0; i < payload.size(); i++) payload[i] = static_cast<char>(i * 7 + 3);
  FakeDatagram fake(&ps_svc_echo);
  fake.Receive(payload);
  ASSERT_EQ(fake.replies().size(), 1u);
  EXPECT_TRUE(fake.replies()[0] == payload);
}

TEST(SvcEchoUdp, EmptyDatagramGetsOneEmptyReply) {
  FakeDatagram fake(&ps_svc_echo);
  const char byte = 'x';
  fake.Receive(&byte, 0);
  ASSERT_EQ(fake.replies().size(), 1u);
  EXPECT_EQ(fake.replies()[0], "");
}

TEST(SvcEchoUdp, EachDatagramGetsItsOwnReplyInOrder) {
  FakeDatagram fake(&ps_svc_echo);
  const std::vector<std::string> sent = {"one", "", "three\r\n", std::string(1, '\0')};
  for (const std::string &d : sent) fake.Receive(d);
  EXPECT_EQ(fake.replies(), sent) << "datagram boundaries must be kept";
}

TEST(SvcEchoUdp, RefusedReplyIsDroppedNotRetried) {
  FakeDatagram fake(&ps_svc_echo);
  fake.RefuseReplies();
  fake.Receive(std::string("lost"));
  EXPECT_EQ(fake.record().reply_calls, 1);
  EXPECT_TRUE(fake.replies().empty());
  fake.RefuseReplies(false);
  fake.Receive(std::string("next"));
  EXPECT_EQ(fake.record().reply_calls, 2);
  EXPECT_EQ(fake.replies(), std::vector<std::string>{"next"});
}

// ---- discard (RFC 863) ------------------------------------------------------

TEST(SvcDiscard, TcpNeverSendsWhateverArrives) {
  std::mt19937 rng(863);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> chunk(0, 5000);
  FakeSession fake(&ps_svc_discard);
  EXPECT_EQ(fake.record().send_calls, 0) << "sent something on open";
  const std::string all = EveryByteValue();
  fake.Receive(all.data(), all.size());
  for (int i = 0; i < 200; i++) {
    std::string data(chunk(rng), '\0');
    for (char &c : data) c = static_cast<char>(byte(rng));
    fake.Receive(data.data(), data.size());
    if (i % 10 == 0) fake.Drain();
  }
  EXPECT_EQ(fake.record().send_calls, 0);
  EXPECT_TRUE(fake.record().sent.empty());
  EXPECT_EQ(fake.record().close_calls, 0) << "discard keeps the connection until the peer closes";
  EXPECT_EQ(fake.record().abort_calls, 0);
}

// discard has no on_eof: the engine's graceful close applies (shown against
// the real engine in UdpServices.EveryServiceOnTcpAndUdpOverIPv4AndIPv6).
TEST(SvcDiscard, TcpPeerEofLeavesTheGracefulCloseToTheEngine) {
  FakeSession fake(&ps_svc_discard);
  fake.Receive("bye", 3);
  fake.PeerEof();
  EXPECT_TRUE(fake.record().eof_left_to_engine);
  EXPECT_EQ(fake.record().close_calls, 0);
  EXPECT_EQ(fake.record().abort_calls, 0);
  EXPECT_TRUE(fake.record().sent.empty());
}

TEST(SvcDiscard, UdpNeverReplies) {
  FakeDatagram fake(&ps_svc_discard);
  const char byte = 'x';
  fake.Receive(&byte, 0);
  fake.Receive(EveryByteValue());
  fake.Receive(std::string(65507, 'd'));
  EXPECT_EQ(fake.record().reply_calls, 0);
  EXPECT_TRUE(fake.replies().empty());
}

// ---- chargen (RFC 864) ------------------------------------------------------

TEST(SvcChargen, FirstLinesAreTheRfcPattern) {
  uint64_t pos = 0;
  std::string two = ChargenFill(&pos, 2 * kChargenLineBytes);
  EXPECT_EQ(two.substr(0, kChargenLineBytes),
            " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n");
  EXPECT_EQ(two.substr(kChargenLineBytes),
            "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n");
  EXPECT_EQ(pos, 2 * kChargenLineBytes) << "fill advances the position by what it wrote";
}

// Checks each line's shape rather than comparing with the reference: 72
// printable characters in ASCII order, CR LF, each line one character later,
// '~' followed by ' ', and the whole repeating every 95 lines.
TEST(SvcChargen, LinesRotateThroughThe95PrintableCharacters) {
  const size_t lines = 95 * 2 + 3;
  uint64_t pos = 0;
  std::string stream = ChargenFill(&pos, lines * kChargenLineBytes);
  auto next = [](char c) { return c == '~' ? ' ' : static_cast<char>(c + 1); };
  std::vector<std::string> seen;
  for (size_t l = 0; l < lines; l++) {
    std::string line = stream.substr(l * kChargenLineBytes, kChargenLineBytes);
    ASSERT_EQ(line.substr(PS_CHARGEN_LINE), "\r\n") << "line " << l;
    for (size_t i = 0; i < PS_CHARGEN_LINE; i++) {
      ASSERT_GE(line[i], ' ') << "line " << l << " col " << i;
      ASSERT_LE(line[i], '~') << "line " << l << " col " << i;
      if (i > 0) {
        ASSERT_EQ(line[i], next(line[i - 1])) << "line " << l << " col " << i;
      }
    }
    if (l > 0) {
      ASSERT_EQ(line[0], next(seen.back()[0])) << "line " << l << " starts one character later";
    }
    if (l >= 95) {
      ASSERT_EQ(line, seen[l - 95]) << "line " << l << " repeats line " << l - 95;
    }
    seen.push_back(line);
  }
  std::vector<std::string> cycle(seen.begin(), seen.begin() + 95);
  std::sort(cycle.begin(), cycle.end());
  EXPECT_EQ(std::unique(cycle.begin(), cycle.end()), cycle.end()) << "95 different lines per cycle";
  EXPECT_EQ(seen[94][0], '~');
  EXPECT_EQ(seen[95][0], ' ');
}

TEST(SvcChargen, FillMatchesTheReferenceFromAnyOffset) {
  for (uint64_t offset : {uint64_t{0}, uint64_t{1}, uint64_t{71}, uint64_t{72}, uint64_t{73}, uint64_t{74},
                          uint64_t{95 * 74 - 1}, uint64_t{1000003}, uint64_t{1} << 40, (uint64_t{1} << 62) + 17}) {
    uint64_t pos = offset;
    EXPECT_EQ(ChargenFill(&pos, 1000), pstest::chargen_reference(offset, 1000)) << "offset " << offset;
    EXPECT_EQ(pos, offset + 1000);
  }
}

TEST(SvcChargen, FillingInOddChunksEqualsFillingInOneGo) {
  const size_t sizes[] = {1, 7, 73, 1000, 0, 74, 2, 7029, 3, 512, 75, 8192};
  const size_t total = 3 * 95 * kChargenLineBytes + 11;
  uint64_t whole_pos = 0;
  const std::string whole = ChargenFill(&whole_pos, total);
  std::string chunked;
  uint64_t pos = 0;
  for (size_t i = 0; chunked.size() < total; i++) {
    size_t n = (std::min)(sizes[i % (sizeof sizes / sizeof sizes[0])], total - chunked.size());
    chunked += ChargenFill(&pos, n);
    ASSERT_EQ(pos, chunked.size());
  }
  EXPECT_TRUE(chunked == whole) << "chunked fill differs from one fill";
  EXPECT_TRUE(whole == pstest::chargen_reference(0, total));
}

TEST(SvcChargen, TcpOpenQueuesOneChunkOfThePattern) {
  FakeSession fake(&ps_svc_chargen);
  const std::string &sent = fake.record().sent;
  ASSERT_FALSE(sent.empty()) << "chargen starts sending on open";
  EXPECT_EQ(ps_session_queued(fake.session()), sent.size());
  EXPECT_TRUE(sent == pstest::chargen_reference(0, sent.size()));
  EXPECT_EQ(fake.record().close_calls, 0);
  EXPECT_EQ(fake.record().abort_calls, 0);
}

// A client that sends but never reads: the server's memory for it stays at
// the one chunk queued on open, however much arrives.
TEST(SvcChargen, TcpQueuesNothingMoreUntilTheNetworkDrains) {
  FakeSession fake(&ps_svc_chargen);
  const size_t first_chunk = fake.record().sent.size();
  ASSERT_GT(first_chunk, 0u);
  EXPECT_LE(first_chunk, 64u * 1024) << "one chunk should be modest";
  const std::string input(1500, 'q');
  for (int i = 0; i < 1000; i++) {
    fake.Receive(input.data(), input.size());
    ASSERT_EQ(ps_session_queued(fake.session()), first_chunk) << "after receive " << i;
  }
  EXPECT_EQ(fake.record().sent.size(), first_chunk);
  EXPECT_EQ(fake.record().send_calls, 1);
}

TEST(SvcChargen, TcpEachDrainQueuesTheNextChunkAndTheStreamIsThePattern) {
  FakeSession fake(&ps_svc_chargen);
  const std::string &sent = fake.record().sent;
  size_t before = sent.size();
  for (int drain = 0; drain < 100; drain++) {
    fake.Drain();
    ASSERT_GT(sent.size(), before) << "drain " << drain << " queued nothing";
    ASSERT_EQ(ps_session_queued(fake.session()), sent.size() - before) << "only the new chunk is queued";
    before = sent.size();
  }
  ASSERT_GT(sent.size(), 3 * 95 * kChargenLineBytes) << "the stream should cross several 95-line cycles";
  EXPECT_TRUE(sent == pstest::chargen_reference(0, sent.size())) << "the concatenated stream is not the pattern";
  EXPECT_EQ(fake.record().close_calls, 0);
}

TEST(SvcChargen, TcpInputIsIgnored) {
  FakeSession fake(&ps_svc_chargen);
  const std::string all = EveryByteValue();
  for (int round = 0; round < 20; round++) {
    fake.Receive(all.data(), all.size());
    fake.Drain();
    fake.Receive(all.data(), 1);
  }
  const std::string &sent = fake.record().sent;
  EXPECT_EQ(fake.record().send_calls, 21) << "one chunk on open, one per drain";
  EXPECT_TRUE(sent == pstest::chargen_reference(0, sent.size())) << "input changed the stream";
}

// chargen has no on_eof: on the peer's FIN it queues nothing more and leaves
// the graceful close to the engine
// (UdpServices.ChargenClosesGracefullyWhenTheClientHalfCloses, real engine).
TEST(SvcChargen, TcpPeerEofLeavesTheGracefulCloseToTheEngine) {
  FakeSession fake(&ps_svc_chargen);
  fake.Drain();
  int sends = fake.record().send_calls;
  fake.PeerEof();
  EXPECT_TRUE(fake.record().eof_left_to_engine);
  EXPECT_EQ(fake.record().send_calls, sends) << "chargen queued more on the peer's FIN";
  EXPECT_EQ(fake.record().close_calls, 0);
  EXPECT_EQ(fake.record().abort_calls, 0);
}

TEST(SvcChargen, UdpRepliesOnceWithAPrefixOfThePatternUpTo512) {
  FakeDatagram fake(&ps_svc_chargen);
  const char byte = 'x';
  fake.Receive(&byte, 0);
  fake.Receive(std::string("anything"));
  fake.Receive(std::string(4000, 'z'));
  ASSERT_EQ(fake.replies().size(), 3u) << "one reply per datagram";
  for (const std::string &reply : fake.replies()) {
    EXPECT_LE(reply.size(), static_cast<size_t>(PS_CHARGEN_DATAGRAM_MAX));
    EXPECT_EQ(reply, pstest::chargen_reference(0, reply.size()));
  }
  EXPECT_EQ(PS_CHARGEN_DATAGRAM_MAX, 512) << "RFC 864: 0 to 512 characters";
}

// ---- daytime (RFC 867) ------------------------------------------------------

TEST(SvcDaytime, FormatsKnownInstants) {
  EXPECT_EQ(Daytime(0), "Thursday, January 1, 1970 00:00:00-UTC\r\n");
  EXPECT_EQ(Daytime(951782400), "Tuesday, February 29, 2000 00:00:00-UTC\r\n");
  EXPECT_EQ(Daytime(1798675200), "Thursday, December 31, 2026 00:00:00-UTC\r\n");
  EXPECT_EQ(Daytime(4102444799), "Thursday, December 31, 2099 23:59:59-UTC\r\n");
  EXPECT_EQ(Daytime(-86400), "Wednesday, December 31, 1969 00:00:00-UTC\r\n");
}

// Expected strings from Python: datetime(1970, 1, 1, tzinfo=timezone.utc) +
// timedelta(seconds=t), formatted '%A, %B %-d, %Y %H:%M:%S-UTC'.
TEST(SvcDaytime, FormatsInstantsAroundLeapDaysCenturiesAnd2038) {
  const struct {
    int64_t t;
    const char *text;
  } cases[] = {
      {68212800LL, "Tuesday, February 29, 1972 12:00:00-UTC\r\n"},
      {946684799LL, "Friday, December 31, 1999 23:59:59-UTC\r\n"},
      {951868800LL, "Wednesday, March 1, 2000 00:00:00-UTC\r\n"},
      {1709186828LL, "Thursday, February 29, 2024 06:07:08-UTC\r\n"},
      {2147483648LL, "Tuesday, January 19, 2038 03:14:08-UTC\r\n"},
      {4102444800LL, "Friday, January 1, 2100 00:00:00-UTC\r\n"},
      {-1LL, "Wednesday, December 31, 1969 23:59:59-UTC\r\n"},
      {-2147483648LL, "Friday, December 13, 1901 20:45:52-UTC\r\n"},
      {-2203891200LL, "Thursday, March 1, 1900 00:00:00-UTC\r\n"},
  };
  for (const auto &c : cases) {
    EXPECT_EQ(Daytime(c.t), c.text) << "t=" << c.t;
    EXPECT_EQ(DaytimeReference(c.t), c.text) << "the reference itself, t=" << c.t;
  }
}

TEST(SvcDaytime, FormatMatchesAnIndependentCalendarFor2000RandomTimes) {
  std::mt19937_64 rng(867);  // fixed seed: a failure reproduces
  std::uniform_int_distribution<int64_t> when(0, 4102444799LL);
  for (int i = 0; i < 2000; i++) {
    int64_t t = when(rng);
    ASSERT_EQ(Daytime(t), DaytimeReference(t)) << "t=" << t;
  }
}

TEST(SvcDaytime, FormatMatchesAnIndependentCalendarBefore1970) {
  std::mt19937_64 rng(1969);
  std::uniform_int_distribution<int64_t> when(-2208988800LL, -1);  // 1900 to 1969
  for (int i = 0; i < 500; i++) {
    int64_t t = when(rng);
    ASSERT_EQ(Daytime(t), DaytimeReference(t)) << "t=" << t;
  }
}

TEST(SvcDaytime, TcpSendsOneLineThenCloses) {
  int64_t before = static_cast<int64_t>(std::time(nullptr));
  FakeSession fake(&ps_svc_daytime);
  int64_t after = static_cast<int64_t>(std::time(nullptr));
  const std::string &sent = fake.record().sent;
  EXPECT_TRUE(sent == DaytimeReference(before) || sent == DaytimeReference(after)) << sent;
  ASSERT_GE(sent.size(), 2u);
  EXPECT_EQ(sent.find("\r\n"), sent.size() - 2) << "exactly one line, ended by CR LF";
  EXPECT_EQ(fake.record().close_calls, 1);
  EXPECT_EQ(fake.record().abort_calls, 0);
  fake.Receive("ignored", 7);
  fake.Drain();
  EXPECT_EQ(fake.record().sent, sent) << "nothing after the line";
}

TEST(SvcDaytime, UdpRepliesWithOneLine) {
  FakeDatagram fake(&ps_svc_daytime);
  int64_t before = static_cast<int64_t>(std::time(nullptr));
  fake.Receive(std::string("what time is it?"));
  int64_t after = static_cast<int64_t>(std::time(nullptr));
  ASSERT_EQ(fake.replies().size(), 1u);
  const std::string &reply = fake.replies()[0];
  EXPECT_TRUE(reply == DaytimeReference(before) || reply == DaytimeReference(after)) << reply;
}

// ---- qotd (RFC 865) ---------------------------------------------------------

TEST(SvcQotd, ParseSplitsParagraphsAtBlankLines) {
  QotdParse q("First line\nsecond line\n\nAnother quote\n");
  ASSERT_EQ(q.rc, 0) << q.err;
  EXPECT_EQ(QuotesByDay(q.ctx), (std::vector<std::string>{"First line\r\nsecond line\r\n", "Another quote\r\n"}));
}

TEST(SvcQotd, ParseTreatsLinesOfSpacesAndTabsAsBlank) {
  QotdParse q("one\n \t \ntwo\n\t\n\n\nthree\n   \n");
  ASSERT_EQ(q.rc, 0) << q.err;
  EXPECT_EQ(QuotesByDay(q.ctx), (std::vector<std::string>{"one\r\n", "two\r\n", "three\r\n"}));
}

TEST(SvcQotd, ParseAcceptsCrlfInputWithoutDoublingCr) {
  QotdParse q("a\r\nb\r\n\r\n  \t\r\nc\r\n");
  ASSERT_EQ(q.rc, 0) << q.err;
  EXPECT_EQ(QuotesByDay(q.ctx), (std::vector<std::string>{"a\r\nb\r\n", "c\r\n"}));
}

TEST(SvcQotd, ParseKeepsIndentationAndTakesALastQuoteWithoutNewline) {
  QotdParse q("\n\nSimplicity.\n    -- Dijkstra\n\nNo newline at the end");
  ASSERT_EQ(q.rc, 0) << q.err;
  EXPECT_EQ(QuotesByDay(q.ctx),
            (std::vector<std::string>{"Simplicity.\r\n    -- Dijkstra\r\n", "No newline at the end\r\n"}));
}

// 511 characters counted as sent: CR LF line ends, final CR LF included.
TEST(SvcQotd, ParseAcceptsAQuoteOf511Characters) {
  const std::string one_line(509, 'x');
  const std::string two_lines = std::string(253, 'a') + "\n" + std::string(254, 'b');  // 253+2+254+2
  for (const std::string &text : {one_line, one_line + "\n", two_lines + "\n", two_lines + "\r\n"}) {
    QotdParse q(text);
    ASSERT_EQ(q.rc, 0) << q.err;
    std::vector<std::string> quotes = QuotesByDay(q.ctx);
    ASSERT_EQ(quotes.size(), 1u);
    EXPECT_EQ(quotes[0].size(), 511u);
    EXPECT_TRUE(IsRfc865Quote(quotes[0]));
  }
}

TEST(SvcQotd, ParseRejectsAQuoteOf512CharactersNamingFileAndLine) {
  const std::string too_long = std::string(253, 'a') + "\r\n" + std::string(255, 'b');  // 253+2+255+2
  for (const std::string &eol : {std::string("\n"), std::string("\r\n")}) {
    QotdParse q("fine" + eol + eol + "also fine" + eol + eol + too_long + eol + eol + "after" + eol, "quotes.txt");
    EXPECT_EQ(q.rc, -1);
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "quotes.txt:5:", q.err);
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "512", q.err);
  }
  QotdParse single(std::string(510, 'x'), "one.txt");
  EXPECT_EQ(single.rc, -1);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "one.txt:1:", single.err);
}

TEST(SvcQotd, ParseOfNoQuotesIsAnErrorNamingTheFile) {
  for (const char *text : {"", "\n", "\n\n\n", " \t\r\n\r\n   "}) {
    QotdParse q(text, "empty.txt");
    EXPECT_EQ(q.rc, -1) << "'" << text << "'";
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "empty.txt", q.err);
  }
}

TEST(SvcQotd, QuoteCyclesThroughTheQuotesByDay) {
  QotdParse q("zero\n\none\n\ntwo\n");
  ASSERT_EQ(q.rc, 0) << q.err;
  const std::string expected[] = {"zero\r\n", "one\r\n", "two\r\n"};
  for (int64_t day = -10; day <= 10; day++) {
    size_t index = static_cast<size_t>(((day % 3) + 3) % 3);
    EXPECT_EQ(ps_qotd_quote(q.ctx, day), expected[index]) << "day " << day;
  }
  EXPECT_EQ(ps_qotd_quote(q.ctx, 20000), expected[20000 % 3]);  // 2024
  EXPECT_EQ(ps_qotd_quote(q.ctx, -25567), expected[2]);         // 1900: -25567 = 3 * -8523 + 2
  EXPECT_EQ(ps_qotd_quote(q.ctx, INT64_MAX), expected[INT64_MAX % 3]);
  EXPECT_EQ(ps_qotd_quote(q.ctx, INT64_MIN), expected[((INT64_MIN % 3) + 3) % 3]);
}

TEST(SvcQotd, StartWithoutAFileUsesTheBuiltInQuotes) {
  for (const char *file : {static_cast<const char *>(nullptr), ""}) {
    QotdStart q(file);
    ASSERT_EQ(q.rc, 0) << q.err;
    std::vector<std::string> quotes = QuotesByDay(q.ctx);
    EXPECT_GE(quotes.size(), 2u);
    for (const std::string &quote : quotes) EXPECT_TRUE(IsRfc865Quote(quote)) << quote;
  }
}

TEST(SvcQotd, StartWithAMissingFileFailsNamingIt) {
  std::string path = testing::TempDir() + "portserve_no_such_quotes_file.txt";
  std::remove(path.c_str());
  QotdStart q(path.c_str());
  EXPECT_EQ(q.rc, -1);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, path, q.err);
}

TEST(SvcQotd, StartReadsTheQuotesFile) {
  TempFile file("Quote one,\r\nin two lines.\r\n\r\nQuote two.\r\n");
  QotdStart q(file.path().c_str());
  ASSERT_EQ(q.rc, 0) << q.err;
  EXPECT_EQ(QuotesByDay(q.ctx), (std::vector<std::string>{"Quote one,\r\nin two lines.\r\n", "Quote two.\r\n"}));
}

TEST(SvcQotd, StartWithAnOverlongQuoteFailsNamingFileAndLine) {
  TempFile file("short\n\n" + std::string(600, 'x') + "\n");
  QotdStart q(file.path().c_str());
  EXPECT_EQ(q.rc, -1);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, file.path() + ":3:", q.err);
}

// A quotes file over the limit is refused, with a message naming the file
// and the limit, rather than read in part.
TEST(SvcQotd, StartRefusesAFileLargerThanTheLimitNamingFileAndLimit) {
  std::string text;
  while (text.size() <= PS_QOTD_FILE_MAX) text += "A quote that is short.\n\n";
  TempFile file(text);
  QotdStart q(file.path().c_str());
  EXPECT_EQ(q.rc, -1);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, file.path(), q.err);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "larger than " + std::to_string(PS_QOTD_FILE_MAX) + " bytes", q.err);
}

// Just under the limit, every quote is served; the last one, which ends at
// the file's last byte without a newline, is not cut off.
TEST(SvcQotd, StartServesEveryQuoteOfAFileJustUnderTheLimit) {
  const std::string words = "  a line of words to make the file big with fewer quotes\n";
  std::string text;
  char quote[32];
  int count = 0;
  for (;;) {
    std::snprintf(quote, sizeof quote, "Quote number %05d\n", count + 1);
    std::string next = quote + words + "\n";
    if (text.size() + next.size() > PS_QOTD_FILE_MAX - 40) break;  // room for the last quote
    text += next;
    count++;
  }
  // The last quote fills the file to one byte under the limit.
  std::string last = "Last quote ";
  last += std::string(PS_QOTD_FILE_MAX - 1 - text.size() - last.size() - 1, 'z') + ".";
  text += last;
  ASSERT_EQ(text.size(), static_cast<size_t>(PS_QOTD_FILE_MAX - 1));
  ASSERT_LE(last.size(), static_cast<size_t>(PS_QOTD_MAX) - 2) << "the last quote must itself be valid";
  TempFile file(text);
  QotdStart q(file.path().c_str());
  ASSERT_EQ(q.rc, 0) << q.err;
  std::vector<std::string> quotes = QuotesByDay(q.ctx);
  ASSERT_EQ(quotes.size(), static_cast<size_t>(count) + 1) << "quotes were silently dropped";
  std::snprintf(quote, sizeof quote, "Quote number %05d\r\n", count);
  EXPECT_EQ(quotes[static_cast<size_t>(count) - 1], quote + words.substr(0, words.size() - 1) + "\r\n");
  EXPECT_EQ(quotes.back(), last + "\r\n") << "the last quote served is cut off";
}

// Notepad's "Unicode" is UTF-16: refused with a message, as the configuration
// file is, rather than served as a quote of mojibake.
TEST(SvcQotd, StartRefusesAUtf16File) {
  TempFile file(Utf16LeWithBom("Hi\n\nThere\n"));
  QotdStart q(file.path().c_str());
  EXPECT_EQ(q.rc, -1) << "served: " << (q.rc == 0 ? ps_qotd_quote(q.ctx, 0) : "");
  if (q.rc != 0) {
    EXPECT_PRED_FORMAT2(testing::IsSubstring, file.path(), q.err);
  }
}

// Notepad's "UTF-8 with BOM": the mark is not part of the first quote (the
// configuration parser skips it too).
TEST(SvcQotd, StartSkipsAUtf8ByteOrderMark) {
  TempFile file("\xEF\xBB\xBF"
                "First quote\r\n\r\nSecond quote\r\n");
  QotdStart q(file.path().c_str());
  ASSERT_EQ(q.rc, 0) << q.err;
  EXPECT_EQ(QuotesByDay(q.ctx), (std::vector<std::string>{"First quote\r\n", "Second quote\r\n"}));
}

TEST(SvcQotd, TcpSendsTodaysQuoteThenCloses) {
  QotdStart q(nullptr);
  ASSERT_EQ(q.rc, 0) << q.err;
  int64_t before = Today();
  FakeSession fake(&ps_svc_qotd, q.ctx);
  int64_t after = Today();
  const std::string &sent = fake.record().sent;
  EXPECT_TRUE(sent == ps_qotd_quote(q.ctx, before) || sent == ps_qotd_quote(q.ctx, after)) << sent;
  EXPECT_TRUE(IsRfc865Quote(sent));
  EXPECT_EQ(fake.record().send_calls, 1) << "exactly one quote";
  EXPECT_EQ(fake.record().close_calls, 1);
  EXPECT_EQ(fake.record().abort_calls, 0);
  fake.Receive("more?", 5);
  fake.Drain();
  EXPECT_EQ(fake.record().sent, sent);
}

TEST(SvcQotd, TcpSendsAQuoteFromTheConfiguredFile) {
  TempFile file("Only quote.\n");
  QotdStart q(file.path().c_str());
  ASSERT_EQ(q.rc, 0) << q.err;
  FakeSession fake(&ps_svc_qotd, q.ctx);
  EXPECT_EQ(fake.record().sent, "Only quote.\r\n");
  EXPECT_EQ(fake.record().close_calls, 1);
}

TEST(SvcQotd, UdpRepliesWithOneQuoteUnder512Bytes) {
  QotdStart q(nullptr);
  ASSERT_EQ(q.rc, 0) << q.err;
  FakeDatagram fake(&ps_svc_qotd, q.ctx);
  int64_t before = Today();
  fake.Receive(std::string("quote please"));
  int64_t after = Today();
  ASSERT_EQ(fake.replies().size(), 1u);
  const std::string &reply = fake.replies()[0];
  EXPECT_LT(reply.size(), 512u);
  EXPECT_TRUE(reply == ps_qotd_quote(q.ctx, before) || reply == ps_qotd_quote(q.ctx, after)) << reply;
}
