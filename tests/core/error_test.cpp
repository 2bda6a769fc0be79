#include "sluice/core/error.hpp"

#include <gtest/gtest.h>

#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using sluice::errc;

TEST(Error, CategoryName) { EXPECT_STREQ(sluice::stream_category().name(), "sluice.stream"); }

TEST(Error, MessagesMatchNode) {
  const std::vector<std::pair<errc, std::string>> expected = {
      {errc::write_after_end, "write after end"},
      {errc::push_after_eof, "stream.push() after EOF"},
      {errc::multiple_callback, "Callback called multiple times"},
      {errc::premature_close, "Premature close"},
      {errc::stream_destroyed, "Cannot call write after a stream was destroyed"},
      {errc::null_values, "May not write null values to stream"},
      {errc::already_finished, "Cannot call end after a stream was finished"},
      {errc::cannot_pipe, "Cannot pipe, not readable"},
      {errc::method_not_implemented, "The method is not implemented"},
      {errc::unshift_after_end_event, "stream.unshift() after end event"},
      {errc::invalid_argument, "Invalid argument"},
      {errc::out_of_range, "Value out of range"},
      {errc::aborted, "The operation was aborted"},
      {errc::source_changed, "The file changed while it was read"},
      {errc::buffer_overflow, "Write beyond the stream's max_buffered"},
      {errc::dropped, "Write dropped by the stream's overflow policy"},
  };
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(errc::dropped));
  for (const auto& [code, message] : expected) {
    EXPECT_EQ(make_error_code(code).message(), message) << static_cast<int>(code);
  }
}

TEST(Error, CodesAreNonZeroAndInTheStreamCategory) {
  for (int v = 1; v <= static_cast<int>(errc::dropped); ++v) {
    const std::error_code ec = static_cast<errc>(v);  // via is_error_code_enum
    EXPECT_TRUE(ec);
    EXPECT_EQ(ec.value(), v);
    EXPECT_EQ(&ec.category(), &sluice::stream_category());
  }
}

TEST(Error, ComparesWithTheEnumDirectly) {
  std::error_code ec = sluice::make_error_code(errc::premature_close);
  EXPECT_EQ(ec, errc::premature_close);
  EXPECT_NE(ec, errc::write_after_end);
}

TEST(Error, UnknownValueStillHasAMessage) {
  const std::error_code ec(999, sluice::stream_category());
  EXPECT_FALSE(ec.message().empty());
}

TEST(Error, GenericConditions) {
  EXPECT_EQ(make_error_code(errc::aborted), std::errc::operation_canceled);
  EXPECT_EQ(make_error_code(errc::invalid_argument), std::errc::invalid_argument);
  EXPECT_EQ(make_error_code(errc::out_of_range), std::errc::result_out_of_range);

  EXPECT_NE(make_error_code(errc::aborted), std::errc::invalid_argument);
  EXPECT_NE(make_error_code(errc::premature_close), std::errc::operation_canceled);
  EXPECT_NE(make_error_code(errc::write_after_end), std::errc::invalid_argument);
}

TEST(Error, UnmappedCodesKeepTheirOwnCondition) {
  const std::error_condition cond =
      make_error_code(errc::premature_close).default_error_condition();
  EXPECT_EQ(&cond.category(), &sluice::stream_category());
  EXPECT_EQ(cond.value(), static_cast<int>(errc::premature_close));
}

TEST(Error, SystemCodesStayDistinctButShareConditions) {
  const std::error_code ours = make_error_code(errc::aborted);
  const std::error_code os = std::make_error_code(std::errc::operation_canceled);
  // Different codes with the same meaning.
  EXPECT_NE(ours, os);
  EXPECT_EQ(ours.default_error_condition(), os.default_error_condition());
}

TEST(Error, SystemErrorCarriesTheMessage) {
  try {
    throw std::system_error(make_error_code(errc::write_after_end));
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::write_after_end);
    EXPECT_NE(std::string(e.what()).find("write after end"), std::string::npos);
  }
}

}  // namespace
