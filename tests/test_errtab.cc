// errtab: the one spelling of Winsock/Win32 errors in log lines.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

extern "C" {
#include "errtab.h"
}

TEST(ErrTab, AddrInUseHasSymbolTextAndFormattedLine) {
  EXPECT_STREQ(ps_err_symbol(10048), "WSAEADDRINUSE");
  EXPECT_STREQ(ps_err_text(10048), "address already in use");
  char buf[128];
  EXPECT_STREQ(ps_err_format(10048, buf, sizeof buf), "WSAEADDRINUSE (10048) address already in use");
}

TEST(ErrTab, ConnResetIsNamed) {
  char buf[128];
  EXPECT_STREQ(ps_err_symbol(10054), "WSAECONNRESET");
  EXPECT_STREQ(ps_err_text(10054), "connection reset by peer");
  EXPECT_STREQ(ps_err_format(10054, buf, sizeof buf), "WSAECONNRESET (10054) connection reset by peer");
}

TEST(ErrTab, OperationAbortedIsNamed) {
  char buf[128];
  EXPECT_STREQ(ps_err_symbol(995), "ERROR_OPERATION_ABORTED");
  EXPECT_STREQ(ps_err_format(995, buf, sizeof buf), "ERROR_OPERATION_ABORTED (995) the I/O operation was aborted");
}

TEST(ErrTab, HostNotFoundIsNamed) {
  char buf[128];
  EXPECT_STREQ(ps_err_symbol(11001), "WSAHOST_NOT_FOUND");
  EXPECT_STREQ(ps_err_format(11001, buf, sizeof buf), "WSAHOST_NOT_FOUND (11001) host not found");
}

TEST(ErrTab, UnknownCodeHasNoNameAndFormatsAsNumber) {
  char buf[64];
  EXPECT_EQ(ps_err_symbol(123456), nullptr);
  EXPECT_EQ(ps_err_text(123456), nullptr);
  EXPECT_STREQ(ps_err_format(123456, buf, sizeof buf), "error 123456");
  EXPECT_STREQ(ps_err_format(0, buf, sizeof buf), "error 0");
}

TEST(ErrTab, CodesBetweenAndBeyondEntriesAreUnknown) {
  // Below the first, in gaps, above the last, and the largest value.
  for (unsigned long code : {0ul, 1ul, 3ul, 996ul, 10059ul, 10100ul, 11000ul, 11005ul, 4294967295ul}) {
    EXPECT_EQ(ps_err_symbol(code), nullptr) << code;
    EXPECT_EQ(ps_err_text(code), nullptr) << code;
  }
}

TEST(ErrTab, FormatReturnsItsBuffer) {
  char buf[64];
  EXPECT_EQ(ps_err_format(10048, buf, sizeof buf), buf);
  EXPECT_EQ(ps_err_format(123456, buf, sizeof buf), buf);
}

TEST(ErrTab, FormatTruncatesToTinyBufferAndStaysTerminated) {
  char buf[16];
  std::memset(buf, 'x', sizeof buf);
  EXPECT_STREQ(ps_err_format(10048, buf, 5), "WSAE");
  EXPECT_EQ(buf[5], 'x') << "wrote past bufsize";

  std::memset(buf, 'x', sizeof buf);
  EXPECT_STREQ(ps_err_format(123456, buf, 4), "err");
  EXPECT_EQ(buf[4], 'x') << "wrote past bufsize";

  std::memset(buf, 'x', sizeof buf);
  EXPECT_STREQ(ps_err_format(10048, buf, 1), "");
  EXPECT_EQ(buf[1], 'x') << "wrote past bufsize";
}

TEST(ErrTab, FormatIntoZeroSizedBufferWritesNothing) {
  char buf[4] = {'x', 'x', 'x', 'x'};
  EXPECT_EQ(ps_err_format(10048, buf, 0), buf);
  EXPECT_EQ(std::string(buf, sizeof buf), "xxxx");
}

// The lookup is a binary search, so an entry out of order (or a duplicate
// code) is not found. Every entry of the table: codes strictly ascending,
// each found by its code with its own symbol and text.
TEST(ErrTab, TableIsSortedSoEveryEntryIsFound) {
  const size_t count = ps_err_count();
  ASSERT_GT(count, 50u);
  unsigned long previous = 0;
  for (size_t i = 0; i < count; i++) {
    unsigned long code = 0;
    const char *symbol = nullptr, *text = nullptr;
    ASSERT_EQ(ps_err_entry(i, &code, &symbol, &text), 0) << i;
    ASSERT_NE(symbol, nullptr) << i;
    ASSERT_NE(text, nullptr) << i;
    if (i > 0) {
      EXPECT_GT(code, previous) << "entry " << i << " (" << symbol << ") is out of order";
    }
    previous = code;
    EXPECT_EQ(ps_err_symbol(code), symbol) << "entry " << i << " (" << code << ") not found by its code";
    EXPECT_EQ(ps_err_text(code), text) << code;
    EXPECT_TRUE(std::strncmp(symbol, "ERROR_", 6) == 0 || std::strncmp(symbol, "WSA", 3) == 0) << symbol;
    EXPECT_NE(text[0], '\0') << symbol;
    char buf[160];
    EXPECT_EQ(std::string(ps_err_format(code, buf, sizeof buf)),
              std::string(symbol) + " (" + std::to_string(code) + ") " + text);
  }
  unsigned long code;
  const char *symbol, *text;
  EXPECT_EQ(ps_err_entry(count, &code, &symbol, &text), -1) << "past the end";
}

// Codes with their documented symbols (winerror.h / winsock2.h), spread over
// the table: first, last, both ends of each range and neighbours.
TEST(ErrTab, SymbolsMatchTheDocumentedCodes) {
  struct {
    unsigned long code;
    const char *symbol;
  } const entries[] = {
      {2, "ERROR_FILE_NOT_FOUND"},
      {5, "ERROR_ACCESS_DENIED"},
      {64, "ERROR_NETNAME_DELETED"},
      {121, "ERROR_SEM_TIMEOUT"},
      {995, "ERROR_OPERATION_ABORTED"},
      {997, "ERROR_IO_PENDING"},
      {1073, "ERROR_SERVICE_EXISTS"},
      {1225, "ERROR_CONNECTION_REFUSED"},
      {1236, "ERROR_CONNECTION_ABORTED"},
      {10004, "WSAEINTR"},
      {10013, "WSAEACCES"},
      {10024, "WSAEMFILE"},
      {10035, "WSAEWOULDBLOCK"},
      {10038, "WSAENOTSOCK"},
      {10047, "WSAEAFNOSUPPORT"},
      {10048, "WSAEADDRINUSE"},
      {10049, "WSAEADDRNOTAVAIL"},
      {10053, "WSAECONNABORTED"},
      {10054, "WSAECONNRESET"},
      {10055, "WSAENOBUFS"},
      {10058, "WSAESHUTDOWN"},
      {10060, "WSAETIMEDOUT"},
      {10061, "WSAECONNREFUSED"},
      {10065, "WSAEHOSTUNREACH"},
      {10093, "WSANOTINITIALISED"},
      {10101, "WSAEDISCON"},
      {10109, "WSATYPE_NOT_FOUND"},
      {11001, "WSAHOST_NOT_FOUND"},
      {11002, "WSATRY_AGAIN"},
      {11004, "WSANO_DATA"},
  };
  for (const auto &e : entries) {
    EXPECT_STREQ(ps_err_symbol(e.code), e.symbol) << e.code;
    const char *text = ps_err_text(e.code);
    ASSERT_NE(text, nullptr) << e.code;
    char buf[160];
    EXPECT_EQ(std::string(ps_err_format(e.code, buf, sizeof buf)),
              std::string(e.symbol) + " (" + std::to_string(e.code) + ") " + text);
  }
}
