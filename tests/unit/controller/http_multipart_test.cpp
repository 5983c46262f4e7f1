#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "controller/http/multipart_file.h"

namespace captain::http {
namespace {

class MultipartFile : public ::testing::Test {
 protected:
  std::string write(const std::string& body) {
    std::ofstream(path_, std::ios::binary) << body;
    return path_;
  }
  std::string content(const MultipartPart& part) {
    auto text = read_part_text(path_, part, 1 << 20);
    EXPECT_TRUE(text.has_value());
    return text ? *text : "";
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::string path_ = (std::filesystem::temp_directory_path() /
                       ("multipart-" + std::to_string(::getpid()) + ".body"))
                          .string();
};

TEST_F(MultipartFile, BoundaryFromContentType) {
  EXPECT_EQ(*multipart_boundary("multipart/form-data; boundary=----abc"), "----abc");
  EXPECT_EQ(*multipart_boundary("Multipart/Form-Data;boundary=\"a b\""), "a b");
  EXPECT_FALSE(multipart_boundary("application/json").has_value());
  EXPECT_FALSE(multipart_boundary("multipart/form-data").has_value());
}

TEST_F(MultipartFile, FindsFieldsAndFileWithOffsets) {
  // As the caprover CLI's form-data library writes it: a file part with binary content
  // (including CRLFs and a near-boundary), then a text field.
  const std::string tar = std::string("tar\r\n--XY not it\0bytes", 22);
  const std::string body =
      "--XYZ\r\nContent-Disposition: form-data; name=\"sourceFile\"; filename=\"app.tar\"\r\n"
      "Content-Type: application/x-tar\r\n\r\n" +
      tar +
      "\r\n--XYZ\r\nContent-Disposition: form-data; name=\"gitHash\"\r\n\r\n"
      "0123abcd\r\n--XYZ--\r\n";
  auto parts = read_multipart_file(write(body), "XYZ");
  ASSERT_TRUE(parts.has_value()) << parts.error();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "sourceFile");
  EXPECT_EQ((*parts)[0].filename, "app.tar");
  EXPECT_EQ((*parts)[0].content_type, "application/x-tar");
  EXPECT_EQ((*parts)[0].length, tar.size());
  EXPECT_EQ(content((*parts)[0]), tar);
  EXPECT_EQ((*parts)[1].name, "gitHash");
  EXPECT_FALSE((*parts)[1].filename.has_value());
  EXPECT_EQ(content((*parts)[1]), "0123abcd");
}

TEST_F(MultipartFile, PreambleAndEmptyPart) {
  const std::string body =
      "ignored preamble\r\n--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n"
      "\r\n--b--";
  auto parts = read_multipart_file(write(body), "b");
  ASSERT_TRUE(parts.has_value()) << parts.error();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].length, 0u);
}

TEST_F(MultipartFile, PartLargerThanTheScanBlock) {
  std::string big(3 * 1024 * 1024 + 17, 'a');
  big[1024 * 1024 - 2] = '\r';  // a CR LF "-" near a block edge must not confuse the scan
  big[1024 * 1024 - 1] = '\n';
  const std::string body =
      "--q\r\nContent-Disposition: form-data; name=\"sourceFile\"; "
      "filename=\"f\"\r\n\r\n" +
      big + "\r\n--q--\r\n";
  auto parts = read_multipart_file(write(body), "q");
  ASSERT_TRUE(parts.has_value()) << parts.error();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].length, big.size());
  EXPECT_FALSE(read_part_text(path_, (*parts)[0], 1024).has_value());  // over the text limit
}

TEST_F(MultipartFile, TruncatedOrMalformedBodiesAreErrors) {
  EXPECT_FALSE(read_multipart_file(write("no boundary here"), "b").has_value());
  EXPECT_FALSE(
      read_multipart_file(
          write("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nunfinished"), "b")
          .has_value());
  EXPECT_FALSE(read_multipart_file(write("--b\r\nContent-Disposition: form-data; name=\"x\""), "b")
                   .has_value());
  auto nameless =
      read_multipart_file(write("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--"), "b");
  ASSERT_FALSE(nameless.has_value());
  EXPECT_NE(nameless.error().find("name"), std::string::npos);
}

}  // namespace
}  // namespace captain::http
