#include "daemon/text/personal_data.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace sotong::text {
namespace {

TEST(PersonalData, CorpusCasesFindExactlyTheExpectedKinds) {
  std::ifstream in(SOTONG_SOURCE_DIR "/tests/data/personal_data.tsv");
  ASSERT_TRUE(in) << "tests/data/personal_data.tsv is missing";
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    const std::string text = line.substr(0, tab);
    const std::string expected = line.substr(tab + 1);
    std::string got;
    for (const auto& s : find_personal_data(text))
      got += (got.empty() ? "" : ",") + std::string(to_string(s.kind));
    if (got.empty()) got = "-";
    EXPECT_EQ(got, expected) << "text: " << text;
    ++cases;
  }
  EXPECT_GE(cases, 40);
}

TEST(PersonalData, MaskReplacesOnlyThePersonalPart) {
  EXPECT_EQ(mask_personal_data("전화 010-1234-5678 부탁해요, 차는 12가3456"),
            "전화 [phone] 부탁해요, 차는 [car-plate]");
  EXPECT_EQ(mask_personal_data("nothing here"), "nothing here");
  EXPECT_EQ(mask_personal_data(""), "");
}

TEST(PersonalData, HostileTextIsScannedInLinearTime) {
  std::string digits(200000, '1');
  std::string mixed;
  for (int i = 0; i < 20000; ++i) mixed += "0-1-";
  EXPECT_TRUE(find_personal_data(digits).empty());
  EXPECT_TRUE(find_personal_data(mixed).empty());
  EXPECT_TRUE(find_personal_data(std::string(100000, '@')).empty());
}

}  // namespace
}  // namespace sotong::text
