// 07-compose: compose() turns a chain of transforms into one duplex<In, Out> that can be reused
// as a single stage: here "parse then format" as duplex<std::string, std::string>.
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <sluice/compose.hpp>
#include <string>
#include <vector>

int main() {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);

  auto parse = sluice::make_transform<std::string, int>(
      loop, {.transform = [](auto&, std::string&& s, auto done) { done(std::stoi(s)); }});
  auto format =
      sluice::make_transform<int, std::string>(loop, {.transform = [](auto&, int&& x, auto done) {
                                                 std::string s(1, '[');
                                                 s += std::to_string(x * 2);
                                                 s += ']';
                                                 done(std::move(s));
                                               }});
  std::shared_ptr<sluice::duplex<std::string, std::string>> doubler =
      sluice::compose(parse, format);

  std::vector<std::string> input{"1", "2", "21"};
  std::size_t next = 0;
  auto lines = sluice::make_readable<std::string>(loop, {.read = [&](auto& self, std::size_t) {
                                                    if (next < input.size())
                                                      self.push(input[next++]);
                                                    else
                                                      self.push_eof();
                                                  }});
  std::string out;
  auto print =
      sluice::make_writable<std::string>(loop, {.write = [&](auto&, std::string&& s, auto done) {
                                           out += s;
                                           done();
                                         }});
  std::error_code result = make_error_code(sluice::errc::aborted);
  sluice::pipeline(lines, doubler, print, [&](std::error_code ec) { result = ec; });
  io.run();
  std::printf("%s\n", out.c_str());  // [2][4][42]
  return !result && out == "[2][4][42]" ? 0 : 1;
}
