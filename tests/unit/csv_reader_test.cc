#include "data/csv_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <random>

#include "core/error.h"
#include "test_util/temp_dir.h"

namespace slipway::data {
namespace {

namespace fs = std::filesystem;
using Rows = std::vector<std::vector<std::string>>;

class CsvReaderTest : public ::testing::Test {
 protected:
  fs::path Write(const std::string& content, const std::string& name = "t.csv") {
    return dir_.Write(name, content);
  }

  Rows Read(const std::string& content, CsvOptions options = {}) {
    return CsvReader::Open(Write(content), std::move(options))->ReadAll();
  }

  // The message of the error that reading `content` throws ("" if none),
  // without the "<path>: " prefix.
  std::string ErrorOf(const std::string& content, CsvOptions options = {}) {
    const fs::path path = Write(content);
    try {
      CsvReader::Open(path, std::move(options))->ReadAll();
    } catch (const CsvError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
      const std::string message = e.what();
      const std::string prefix = path.string() + ": ";
      EXPECT_EQ(message.rfind(prefix, 0), 0u) << message;
      return message.substr(std::min(prefix.size(), message.size()));
    }
    return "";
  }

  slipway::testing::TempDir dir_{"slipway-csv-test"};
};

TEST_F(CsvReaderTest, ReadsHeaderAndRows) {
  auto reader = CsvReader::Open(Write("a,b,c\n1,2,3\nx,,z\n"));
  EXPECT_EQ(reader->header(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(reader->ReadAll(), (Rows{{"1", "2", "3"}, {"x", "", "z"}}));
  EXPECT_EQ(reader->CountRows(), 2);
}

TEST_F(CsvReaderTest, FinalNewlineIsOptional) {
  EXPECT_EQ(Read("a,b\n1,2"), (Rows{{"1", "2"}}));
  EXPECT_EQ(Read("a,b\n1,2\n"), (Rows{{"1", "2"}}));
  EXPECT_EQ(Read("a,b\n1,\n"), (Rows{{"1", ""}}));
  EXPECT_EQ(Read("a,b\n1,"), (Rows{{"1", ""}}));
}

TEST_F(CsvReaderTest, AcceptsCrlfAndMixedLineEnds) {
  EXPECT_EQ(Read("a,b\r\n1,2\r\n3,4\r\n"), (Rows{{"1", "2"}, {"3", "4"}}));
  EXPECT_EQ(Read("a,b\r\n1,2\n3,4"), (Rows{{"1", "2"}, {"3", "4"}}));
  EXPECT_EQ(Read("a,b\r\n\"1\",\"2\"\r\n"), (Rows{{"1", "2"}}));
}

TEST_F(CsvReaderTest, QuotedFields) {
  EXPECT_EQ(Read("a,b\n\"x,y\",\"say \"\"hi\"\"\"\n"), (Rows{{"x,y", "say \"hi\""}}));
  EXPECT_EQ(Read("a,b\n\"line1\nline2\",\"\"\n"), (Rows{{"line1\nline2", ""}}));
  EXPECT_EQ(Read("a,b\n\"cr\r\nlf\",\"\"\"\"\n"), (Rows{{"cr\r\nlf", "\""}}));
  EXPECT_EQ(Read("a,b\n\"\",\"end\""), (Rows{{"", "end"}}));
  EXPECT_EQ(Read("a\n\"a\"\"\"\"b\"\"\"\n"), (Rows{{"a\"\"b\""}}));
  // Escaped fields of one row are unescaped independently.
  EXPECT_EQ(Read("a,b,c\n\"1\"\"\",plain,\"\"\"3\"\n"), (Rows{{"1\"", "plain", "\"3"}}));
}

TEST_F(CsvReaderTest, SkipsByteOrderMark) {
  auto reader = CsvReader::Open(Write("\xEF\xBB\xBFid,name\n1,x\n"));
  EXPECT_EQ(reader->header(), (std::vector<std::string>{"id", "name"}));
  EXPECT_EQ(reader->ReadAll(), (Rows{{"1", "x"}}));
  // Columns of the first line do not count the mark.
  EXPECT_EQ(ErrorOf("\xEF\xBB\xBFid,,x\n"),
            "line 1, column 4: header field 2 is empty: every column needs a name");
}

TEST_F(CsvReaderTest, OtherDelimiters) {
  CsvOptions semicolon;
  semicolon.delimiter = ';';
  EXPECT_EQ(Read("a;b\n1,5;\"x;y\"\n", semicolon), (Rows{{"1,5", "x;y"}}));
  CsvOptions tab;
  tab.delimiter = '\t';
  EXPECT_EQ(Read("a\tb\n1\t2\n", tab), (Rows{{"1", "2"}}));
  CsvOptions quote;
  quote.delimiter = '"';
  EXPECT_THROW(CsvReader::Open(Write("a\n"), quote), Error);
}

TEST_F(CsvReaderTest, EmptyFileIsAnError) {
  for (const char* content : {"", "\xEF\xBB\xBF"}) {
    const fs::path path = Write(content);
    try {
      CsvReader::Open(path);
      FAIL() << "no error";
    } catch (const CsvError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
      EXPECT_EQ(std::string(e.what()), path.string() + " is empty: expected a header row");
    }
  }
}

TEST_F(CsvReaderTest, MissingFileIsNotFound) {
  try {
    CsvReader::Open(dir_.path() / "absent.csv");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kResourceDoesNotExist);
  }
}

TEST_F(CsvReaderTest, HeaderOnlyFileHasZeroRows) {
  for (const char* content : {"a,b", "a,b\n", "a,b\r\n"}) {
    auto reader = CsvReader::Open(Write(content));
    EXPECT_EQ(reader->header().size(), 2u);
    EXPECT_EQ(reader->CountRows(), 0) << content;
    EXPECT_TRUE(reader->Split(2).empty());
  }
}

TEST_F(CsvReaderTest, RaggedRows) {
  const std::string head = "a,b,c,d,e\n1,2,3,4,5\n1,2,3,4,5\n1,2,3,4,5\n1,2,3,4,5\n1,2,3,4,5\n";
  EXPECT_EQ(ErrorOf(head + "1,2,3,4,5,6\n"),
            "line 7: expected 5 fields (as in the header), found 6");
  EXPECT_EQ(ErrorOf(head + "1,2,3,4\n"), "line 7: expected 5 fields (as in the header), found 4");
  // A blank line is a row with one empty field.
  EXPECT_EQ(ErrorOf("a,b\n1,2\n\n3,4\n"), "line 3: expected 2 fields (as in the header), found 1");
  EXPECT_EQ(ErrorOf("a,b\n1,2\n\n"), "line 3: expected 2 fields (as in the header), found 1");
  EXPECT_EQ(Read("a\n1\n\n2\n"), (Rows{{"1"}, {""}, {"2"}}));
  // Lines are physical: a quoted newline counts.
  EXPECT_EQ(ErrorOf("a,b\n\"x\ny\nz\",2\n1,2,3\n"),
            "line 5: expected 2 fields (as in the header), found 3");
}

TEST_F(CsvReaderTest, InvalidUtf8NamesTheByte) {
  EXPECT_EQ(ErrorOf("a,b\n1,2\nxy,z\xff\n"), "line 3, column 5: invalid UTF-8 (byte 0xff)");
  // Lone continuation byte, overlong, surrogate, above U+10FFFF, truncated.
  EXPECT_EQ(ErrorOf("a,b\n\x80,1\n"), "line 2, column 1: invalid UTF-8 (byte 0x80)");
  EXPECT_EQ(ErrorOf("a,b\n1,\xC0\x80\n"), "line 2, column 3: invalid UTF-8 (byte 0xc0)");
  EXPECT_EQ(ErrorOf("a,b\n1,ok\xED\xA0\x80\n"), "line 2, column 5: invalid UTF-8 (byte 0xed)");
  EXPECT_EQ(ErrorOf("a,b\n1,\xF4\x90\x80\x80\n"), "line 2, column 3: invalid UTF-8 (byte 0xf4)");
  EXPECT_EQ(ErrorOf("a,b\n1,\xE2\x82"), "line 2, column 3: invalid UTF-8 (byte 0xe2)");
  EXPECT_EQ(ErrorOf("a,b\n1,\xE2\x82,\n"), "line 2, column 3: invalid UTF-8 (byte 0xe2)");
  // Inside a quoted field, and in the header.
  EXPECT_EQ(ErrorOf("a,b\n\"x\ny\xfe\",1\n"), "line 3, column 2: invalid UTF-8 (byte 0xfe)");
  EXPECT_EQ(ErrorOf("a,\xc3\n"), "line 1, column 3: invalid UTF-8 (byte 0xc3)");
  // Far into a large file (past the first validation block).
  std::string big = "a,b\n";
  for (int i = 0; i < 100000; ++i) big += "12345,67890\n";
  EXPECT_EQ(ErrorOf(big + "1,\xff\n"), "line 100002, column 3: invalid UTF-8 (byte 0xff)");
  // Valid multi-byte text passes.
  EXPECT_EQ(Read("a,b\ncaf\xC3\xA9,\xE6\x97\xA5\xF0\x9F\x98\x80\n"),
            (Rows{{"caf\xC3\xA9", "\xE6\x97\xA5\xF0\x9F\x98\x80"}}));
}

TEST_F(CsvReaderTest, FirstErrorInFileOrderWins) {
  // A ragged row after invalid UTF-8 on the same line: the byte comes first.
  EXPECT_EQ(ErrorOf("a,b\n\xff,2,3\n"), "line 2, column 1: invalid UTF-8 (byte 0xff)");
  // A stray quote before a later bad byte.
  EXPECT_EQ(ErrorOf("a,b\nx\"y,\xff\n"),
            "line 2, column 2: quote character inside an unquoted field");
}

TEST_F(CsvReaderTest, UnterminatedQuoteSaysWhereItStarted) {
  EXPECT_EQ(ErrorOf("a,b\n1,2\n3,\"open\n4,5\n6,7\n"),
            "line 3, column 3: quoted field is not terminated (no closing quote before the end "
            "of the file; it opens here)");
  EXPECT_EQ(ErrorOf("a,b\n1,\""),
            "line 2, column 3: quoted field is not terminated (no closing "
            "quote before the end of the file; it opens here)");
}

TEST_F(CsvReaderTest, QuoteInsideUnquotedField) {
  EXPECT_EQ(ErrorOf("a,b\n1,ab\"c\n"),
            "line 2, column 5: quote character inside an unquoted field");
  EXPECT_EQ(ErrorOf("a,b\n1,abc\"\n"),
            "line 2, column 6: quote character inside an unquoted field");
}

TEST_F(CsvReaderTest, StrayCharacterAfterClosingQuote) {
  EXPECT_EQ(ErrorOf("a,b\n1,\"ab\"x\n"),
            "line 2, column 7: unexpected character 'x' after the closing quote of a field "
            "(expected the delimiter or a line end)");
  EXPECT_EQ(ErrorOf("a,b\n\"ab\" ,1\n"),
            "line 2, column 5: unexpected character ' ' after the closing quote of a field "
            "(expected the delimiter or a line end)");
}

TEST_F(CsvReaderTest, BareCarriageReturn) {
  EXPECT_EQ(ErrorOf("a,b\n1,2\r3,4\n"),
            "line 2, column 4: carriage return not followed by a line feed (outside quotes)");
}

TEST_F(CsvReaderTest, HeaderNamesMustBeNonEmptyAndUnique) {
  EXPECT_EQ(ErrorOf("a,,c\n1,2,3\n"),
            "line 1, column 3: header field 2 is empty: every column needs a name");
  EXPECT_EQ(ErrorOf("a,b,a\n1,2,3\n"),
            "line 1, column 5: header name 'a' (field 3) repeats field 1: column names must be "
            "unique");
  EXPECT_EQ(ErrorOf("\n1\n"),
            "line 1, column 1: header field 1 is empty: every column needs a name");
  // Quoted names may hold anything but must still differ.
  EXPECT_EQ(CsvReader::Open(Write("\"a,b\",\"a\"\"\"\n"))->header(),
            (std::vector<std::string>{"a,b", "a\""}));
}

TEST_F(CsvReaderTest, FieldSizeLimit) {
  CsvOptions small;
  small.max_field_bytes = 10;
  EXPECT_EQ(Read("a,b\n0123456789,\"0123456789\"\n", small), (Rows{{"0123456789", "0123456789"}}));
  EXPECT_EQ(ErrorOf("a,name\n1,2\n1,0123456789X\n", small),
            "line 3, column 3: field 2 ('name') is 11 bytes long, over the limit of 10 bytes "
            "(max_field_bytes)");
  EXPECT_EQ(ErrorOf("a,name\n\"0123456789X\",1\n", small),
            "line 2, column 1: field 1 ('a') is 11 bytes long, over the limit of 10 bytes "
            "(max_field_bytes)");
  // "" escapes count once: 10 bytes after unescaping is fine.
  EXPECT_EQ(Read("a\n\"01234567\"\"\"\n", small), (Rows{{"01234567\""}}));

  // A 10 MB field under the default limit of 1 MiB: a clear error, quoted or not.
  const std::string huge(10 * 1000 * 1000, 'x');
  EXPECT_EQ(ErrorOf("id,blob\n1,ok\n2," + huge + "\n"),
            "line 3, column 3: field 2 ('blob') is 10000000 bytes long, over the limit of "
            "1048576 bytes (max_field_bytes)");
  EXPECT_EQ(ErrorOf("id,blob\n2,\"" + huge + "\"\n"),
            "line 2, column 3: field 2 ('blob') is 10000000 bytes long, over the limit of "
            "1048576 bytes (max_field_bytes)");
}

TEST_F(CsvReaderTest, TypeOverrideMustNameAColumn) {
  CsvOptions options;
  options.type_overrides["nope"] = ColumnType::kInt64;
  const fs::path path = Write("a,b\n1,2\n");
  try {
    CsvReader::Open(path, options);
    FAIL() << "no error";
  } catch (const CsvError& e) {
    EXPECT_EQ(
        std::string(e.what()),
        path.string() + ": the type override for column 'nope' names no column of the header");
  }
}

TEST_F(CsvReaderTest, LocateCountsPhysicalLines) {
  auto reader = CsvReader::Open(Write("a,b\n\"x\ny\",2\nlast,3\n"));
  EXPECT_EQ(reader->Locate(0).line, 1);
  EXPECT_EQ(reader->Locate(4).line, 2);
  EXPECT_EQ(reader->Locate(4).column, 1);
  const CsvLocation loc = reader->Locate(12);  // the 'l' of "last"
  EXPECT_EQ(loc.line, 4);
  EXPECT_EQ(loc.column, 1);
}

TEST_F(CsvReaderTest, FieldOffsetsPointAtFieldStarts) {
  auto reader = CsvReader::Open(Write("a,b\n12,\"q\"\n"));
  int rows = 0;
  reader->ForEachRow(reader->DataRange(), [&](const CsvRow& row) {
    ++rows;
    EXPECT_EQ(row.offset, 4u);
    ASSERT_EQ(row.field_offsets.size(), 2u);
    EXPECT_EQ(row.field_offsets[0], 4u);
    EXPECT_EQ(row.field_offsets[1], 7u);
  });
  EXPECT_EQ(rows, 1);
}

// A file whose rows hold quoted newlines, quotes and delimiters everywhere, so
// that naive cut points would fall inside quoted fields.
std::string TrickyCsv(int rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out = "id,text,n\n";
  for (int i = 0; i < rows; ++i) {
    std::string text;
    const int kind = static_cast<int>(rng() % 4);
    if (kind == 0) {
      text = "plain" + std::to_string(rng() % 100);
    } else if (kind == 1) {
      text = "\"multi\nline\n" + std::string(rng() % 50, '\n') + "text\"";
    } else if (kind == 2) {
      text = "\"a,\"\"b\"\",\r\nc\"";
    } else {
      text = "\"" + std::string(rng() % 300, '"') + std::string(rng() % 300, '"') + "\"";
      // Make the quote count inside even (escaped pairs).
      if (text.size() % 2 == 1) text.insert(1, "\"");
    }
    out += std::to_string(i) + "," + text + "," + std::to_string(rng() % 1000) + "\n";
  }
  return out;
}

TEST_F(CsvReaderTest, SplitCutsAtRowBoundariesOutsideQuotes) {
  const std::string content = TrickyCsv(3000, 7);
  auto reader = CsvReader::Open(Write(content));
  const Rows all = reader->ReadAll();
  ASSERT_EQ(all.size(), 3000u);
  for (int parts : {1, 2, 3, 5, 16, 200}) {
    const std::vector<CsvByteRange> ranges = reader->Split(parts);
    ASSERT_FALSE(ranges.empty());
    EXPECT_LE(ranges.size(), static_cast<size_t>(parts));
    EXPECT_EQ(ranges.front().begin, reader->DataRange().begin);
    EXPECT_EQ(ranges.back().end, reader->file_size());
    Rows joined;
    for (size_t i = 0; i < ranges.size(); ++i) {
      EXPECT_LT(ranges[i].begin, ranges[i].end);
      if (i > 0) {
        EXPECT_EQ(ranges[i].begin, ranges[i - 1].end);
      }
      reader->ForEachRow(ranges[i], [&](const CsvRow& row) {
        joined.emplace_back(row.fields.begin(), row.fields.end());
      });
    }
    EXPECT_EQ(joined, all) << parts << " parts";
  }
  if (reader->Split(2).size() == 2) {
    SUCCEED();
  } else {
    ADD_FAILURE() << "a 3000-row file was not split in two";
  }
}

TEST_F(CsvReaderTest, SplitWithOneHugeQuotedField) {
  // The middle of the file is inside one quoted field full of newlines: the
  // cut must move past its end.
  std::string content = "a,b\n1,x\n2,\"";
  for (int i = 0; i < 5000; ++i) content += "line\n";
  content += "\"\n3,y\n4,z\n";
  auto reader = CsvReader::Open(Write(content));
  const std::vector<CsvByteRange> ranges = reader->Split(2);
  Rows joined;
  for (const CsvByteRange& r : ranges) {
    reader->ForEachRow(
        r, [&](const CsvRow& row) { joined.emplace_back(row.fields.begin(), row.fields.end()); });
  }
  EXPECT_EQ(joined, reader->ReadAll());
  ASSERT_EQ(joined.size(), 4u);
  EXPECT_EQ(joined[3], (std::vector<std::string>{"4", "z"}));
}

// The rows of ForEachBlock (blocks of `max_rows`), and the message of its
// error ("" if none).
std::pair<Rows, std::string> ReadBlocks(const CsvReader& reader, size_t max_rows) {
  Rows rows;
  try {
    reader.ForEachBlock(reader.DataRange(), max_rows, [&](const CsvBlock& block) {
      EXPECT_LE(block.rows, max_rows);
      EXPECT_EQ(block.row_offsets.size(), block.rows);
      for (size_t r = 0; r < block.rows; ++r) {
        std::vector<std::string> row;
        for (size_t c = 0; c < reader.header().size(); ++c) row.emplace_back(block.Column(c)[r]);
        rows.push_back(std::move(row));
      }
    });
  } catch (const CsvError& e) {
    return {rows, e.what()};
  }
  return {rows, ""};
}

TEST_F(CsvReaderTest, BlocksHoldTheSameRowsAsForEachRow) {
  // Quoted fields (with delimiters, line ends and "" escapes), CRLF, empty
  // fields, fields longer than the 64-byte blocks the parser scans, UTF-8,
  // and no final line end.
  std::string content = "id,text,n\r\n";
  std::mt19937 rng(4);
  for (int i = 0; i < 3000; ++i) {
    content += std::to_string(i) + ",";
    switch (rng() % 6) {
      case 0:
        content += "\"a, \"\"quoted\"\"\nvalue\"";
        break;
      case 1:
        content += "\"plain, quoted\"";
        break;
      case 2:
        content += std::string(rng() % 150, 'x');
        break;
      case 3:
        content += "caf\xC3\xA9";
        break;
      default:
        break;
    }
    content += "," + std::to_string(rng() % 1000) + (i % 7 == 0 ? "\r\n" : "\n");
  }
  content += "last,\"row\",1";
  auto reader = CsvReader::Open(Write(content));
  Rows rows;
  std::vector<uint64_t> offsets;
  reader->ForEachRow(reader->DataRange(), [&](const CsvRow& row) {
    rows.emplace_back(row.fields.begin(), row.fields.end());
    offsets.push_back(row.offset);
  });
  ASSERT_EQ(rows.size(), 3001u);
  for (size_t max_rows : {1, 7, 256, 10000}) {
    EXPECT_EQ(ReadBlocks(*reader, max_rows), std::make_pair(rows, std::string())) << max_rows;
  }
  std::vector<uint64_t> block_offsets;
  reader->ForEachBlock(reader->DataRange(), 100, [&](const CsvBlock& block) {
    block_offsets.insert(block_offsets.end(), block.row_offsets.begin(), block.row_offsets.end());
  });
  EXPECT_EQ(block_offsets, offsets);
}

TEST_F(CsvReaderTest, BlocksOfAFileEndingAtAPageEnd) {
  // The parser reads 64-byte blocks from the first data row on: with a
  // 64-byte header and a 4096-byte file, the last block ends at the end of
  // the file (and of its mapping), with a delimiter: an empty last field.
  std::string content = std::string(61, 'a') + ",b\n";
  while (content.size() < 4096 - 4) content += "1,2\n";
  content += "123,";
  ASSERT_EQ(content.size(), 4096u);
  auto reader = CsvReader::Open(Write(content));
  const auto [rows, error] = ReadBlocks(*reader, 256);
  EXPECT_EQ(error, "");
  ASSERT_EQ(rows.size(), 1008u);
  EXPECT_EQ(rows.back(), (std::vector<std::string>{"123", ""}));
  EXPECT_EQ(rows, reader->ReadAll());
}

TEST_F(CsvReaderTest, BlocksStopAtTheFirstErrorWithTheRowsBeforeIt) {
  // Every kind of error, after enough rows to fill whole 64-byte blocks, in
  // blocks of several sizes: the rows before the bad one are handed over,
  // then the same error as ForEachRow's.
  std::string rows;
  for (int i = 0; i < 300; ++i) rows += std::to_string(i) + ",\"v, " + std::to_string(i) + "\"\n";
  for (const char* bad : {"1,2,3\n", "1\n", "1,a\"b\n", "1,\"a\"b\n", "1,2\r3\n", "\xff,1\n",
                          "1,\"open\n2,3\n", "1,\"\"\"\xff\"\n"}) {
    const std::string content = "a,b\n" + rows + bad + "9,9\n";
    auto reader = CsvReader::Open(Write(content));
    Rows expected;
    std::string error;
    try {
      reader->ForEachRow(reader->DataRange(), [&](const CsvRow& row) {
        expected.emplace_back(row.fields.begin(), row.fields.end());
      });
    } catch (const CsvError& e) {
      error = e.what();
    }
    ASSERT_EQ(expected.size(), 300u) << bad;
    ASSERT_NE(error, "") << bad;
    for (size_t max_rows : {1, 64, 256}) {
      EXPECT_EQ(ReadBlocks(*reader, max_rows), std::make_pair(expected, error)) << bad;
    }
  }
  // A field over max_field_bytes.
  CsvOptions small;
  small.max_field_bytes = 5;
  auto reader = CsvReader::Open(Write("a,b\n" + std::string(200, '1') + "\n"), small);
  EXPECT_EQ(ReadBlocks(*reader, 256).second.substr(reader->path().string().size()),
            ": line 2, column 1: field 1 ('a') is 200 bytes long, over the limit of 5 bytes "
            "(max_field_bytes)");
}

TEST(ColumnTypeTest, NumbersOfEveryLength) {
  // Every length the short-number parsers handle (1 to 16 bytes after the
  // sign), and past them, against from_chars.
  std::mt19937_64 rng(8);
  for (int digits = 1; digits <= 20; ++digits) {
    for (int trial = 0; trial < 200; ++trial) {
      std::string number;
      for (int i = 0; i < digits; ++i) number += static_cast<char>('0' + rng() % 10);
      for (const std::string& text : {number, "-" + number, "+" + number}) {
        int64_t expected_int = 0;
        const char* first = text.data() + (text[0] == '+' ? 1 : 0);
        const auto [end, ec] = std::from_chars(first, text.data() + text.size(), expected_int);
        const bool fits = ec == std::errc() && end == text.data() + text.size();
        int64_t i = 0;
        EXPECT_EQ(ParseInt64(text, &i), fits) << text;
        if (fits) {
          EXPECT_EQ(i, expected_int) << text;
        }
        // With a point anywhere (or at either end).
        const size_t at = rng() % (text.size() + 1);
        const std::string decimal = text.substr(0, at) + "." + text.substr(at);
        double expected = 0;
        double d = 0;
        const bool parsed = ParseFloat64(decimal, &d);
        const char* dfirst = decimal.data() + (decimal[0] == '+' ? 1 : 0);
        const auto [dend, dec] = std::from_chars(dfirst, decimal.data() + decimal.size(), expected);
        const bool valid = dec == std::errc() && dend == decimal.data() + decimal.size() &&
                           decimal.find_first_of("0123456789") != std::string::npos;
        EXPECT_EQ(parsed, valid) << decimal;
        if (valid) {
          EXPECT_EQ(d, expected) << decimal;
        }
      }
    }
  }
  double d;
  ASSERT_TRUE(ParseFloat64("123456789012345.", &d));  // 15 digits, point last
  EXPECT_EQ(d, 123456789012345.0);
  ASSERT_TRUE(ParseFloat64(".123456789012345", &d));
  EXPECT_EQ(d, 0.123456789012345);
  ASSERT_TRUE(ParseFloat64("-0.0", &d));
  EXPECT_TRUE(std::signbit(d));
  for (const char* text : {"", "-", ".", "-.", "1..2", "1.2.", "12a", "1-2", "- 1", "+-1", "1e"}) {
    EXPECT_FALSE(ParseFloat64(text, &d)) << text;
    int64_t i;
    EXPECT_FALSE(ParseInt64(text, &i)) << text;
  }
}

TEST(ColumnTypeTest, ParsesRunsOfNumbers) {
  const std::vector<std::string_view> texts = {"1", "-2.5", "3e2", "+4", "x", "5"};
  double values[6];
  EXPECT_EQ(ParseFloat64s(texts, values), 4u);
  EXPECT_EQ(values[1], -2.5);
  EXPECT_EQ(values[2], 300);
  EXPECT_EQ(values[3], 4);
  EXPECT_EQ(ParseInt64sAsDoubles(texts, values), 1u);
  EXPECT_EQ(values[0], 1);
  EXPECT_EQ(ParseInt64sAsDoubles(std::span(texts).subspan(3, 1), values), 1u);
  EXPECT_EQ(values[0], 4);
  EXPECT_EQ(ParseFloat64s(std::span(texts).subspan(5), values), 1u);
  EXPECT_EQ(ParseFloat64s({}, values), 0u);
}

TEST(ColumnTypeTest, ClassifiesFieldSyntax) {
  EXPECT_EQ(ClassifyField("true"), ColumnType::kBool);
  EXPECT_EQ(ClassifyField("FALSE"), ColumnType::kBool);
  EXPECT_EQ(ClassifyField("False"), ColumnType::kBool);
  EXPECT_EQ(ClassifyField("tRUE"), ColumnType::kString);
  EXPECT_EQ(ClassifyField("0"), ColumnType::kInt64);
  EXPECT_EQ(ClassifyField("-42"), ColumnType::kInt64);
  EXPECT_EQ(ClassifyField("+42"), ColumnType::kInt64);
  EXPECT_EQ(ClassifyField("9223372036854775807"), ColumnType::kInt64);
  EXPECT_EQ(ClassifyField("9223372036854775808"), ColumnType::kFloat64);  // past int64
  EXPECT_EQ(ClassifyField("1.5"), ColumnType::kFloat64);
  EXPECT_EQ(ClassifyField("-.5"), ColumnType::kFloat64);
  EXPECT_EQ(ClassifyField("1."), ColumnType::kFloat64);
  EXPECT_EQ(ClassifyField("1e-3"), ColumnType::kFloat64);
  EXPECT_EQ(ClassifyField("2.5E+10"), ColumnType::kFloat64);
  for (const char* text : {"nan", "NaN", "inf", "-inf", "Infinity", "1e999", " 1", "1 ", "0x10",
                           "1,5", "+", "-", ".", "+-1", "1e", "abc", "1.2.3"}) {
    EXPECT_EQ(ClassifyField(text), ColumnType::kString) << text;
  }
  double d;
  ASSERT_TRUE(ParseFloat64("0.1", &d));
  EXPECT_EQ(d, 0.1);
  ASSERT_TRUE(ParseFloat64("-123456.789012", &d));
  EXPECT_EQ(d, -123456.789012);
  ASSERT_TRUE(ParseFloat64("12345678901234567890.5", &d));  // long: the slow path
  EXPECT_EQ(d, 12345678901234567890.5);
  ASSERT_TRUE(ParseFloat64("0.30000000000000004", &d));
  EXPECT_EQ(d, 0.30000000000000004);
}

TEST(ColumnTypeTest, PromotionOrder) {
  using T = ColumnType;
  EXPECT_EQ(PromoteTypes(T::kEmpty, T::kInt64), T::kInt64);
  EXPECT_EQ(PromoteTypes(T::kBool, T::kEmpty), T::kBool);
  EXPECT_EQ(PromoteTypes(T::kInt64, T::kFloat64), T::kFloat64);
  EXPECT_EQ(PromoteTypes(T::kFloat64, T::kInt64), T::kFloat64);
  EXPECT_EQ(PromoteTypes(T::kInt64, T::kString), T::kString);
  EXPECT_EQ(PromoteTypes(T::kBool, T::kInt64), T::kString);
  EXPECT_EQ(PromoteTypes(T::kBool, T::kBool), T::kBool);
  for (T t : {T::kEmpty, T::kBool, T::kInt64, T::kFloat64, T::kString}) {
    EXPECT_EQ(ColumnTypeFromName(ColumnTypeName(t)), t);
  }
  EXPECT_FALSE(ColumnTypeFromName("int").has_value());
}

}  // namespace
}  // namespace slipway::data
