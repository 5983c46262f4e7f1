// controller/http: the pieces of the listener that need no socket: headers, targets, the
// request checks against smuggling shapes, connection caps, and the router.
#include <gtest/gtest.h>

#include "controller/http/connection_limits.h"
#include "controller/http/message.h"
#include "controller/http/request_checks.h"
#include "controller/http/router.h"

namespace captain::http {
namespace {

TEST(HttpMessage, HeadersAreCaseInsensitiveAndKeepOrder) {
  Headers h;
  h.add("Content-Type", "application/json");
  h.add("x-captain-auth", "t");
  h.add("X-Forwarded-For", "1.1.1.1");
  h.add("x-forwarded-for", "2.2.2.2");
  EXPECT_EQ(h.get("content-type"), "application/json");
  EXPECT_EQ(h.get("X-Captain-Auth"), "t");
  EXPECT_EQ(h.get("x-forwarded-for"), "1.1.1.1");
  EXPECT_EQ(h.count("X-FORWARDED-FOR"), 2u);
  EXPECT_FALSE(h.has("Missing"));
  h.set("X-Forwarded-For", "3.3.3.3");
  EXPECT_EQ(h.count("x-forwarded-for"), 1u);
  EXPECT_EQ(h.get("x-forwarded-for"), "3.3.3.3");
}

TEST(HttpMessage, TargetsSplitIntoPathAndDecodedQuery) {
  std::string path;
  std::multimap<std::string, std::string> params;
  split_target("/api/v2/user/apps/appData/web?detached=1&x=a%20b+c&flag&=v&bad=%zz", path,
               params);
  EXPECT_EQ(path, "/api/v2/user/apps/appData/web");
  EXPECT_EQ(params.find("detached")->second, "1");
  EXPECT_EQ(params.find("x")->second, "a b c");
  EXPECT_EQ(params.find("flag")->second, "");
  EXPECT_EQ(params.find("bad")->second, "%zz");
  split_target("/plain", path, params);
  EXPECT_EQ(path, "/plain");
  EXPECT_TRUE(params.empty());
  Request r;
  r.headers.add("content-type", "Multipart/Form-Data; boundary=x");
  EXPECT_TRUE(r.is_multipart_form_data());
}

TEST(HttpChecks, RawHeaderBlocks) {
  EXPECT_EQ(raw_header_problem("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "");
  EXPECT_EQ(raw_header_problem("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  more\r\n\r\n"),
            "obsolete line folding (obs-fold) in a header field");
  EXPECT_EQ(raw_header_problem("GET / HTTP/1.1\r\nX-A: 1\r\n\tmore\r\n\r\n"),
            "obsolete line folding (obs-fold) in a header field");
  EXPECT_EQ(raw_header_problem("GET / HTTP/1.1\nHost: x\n\n"), "bare LF in the request header");
}

TEST(HttpChecks, FieldsThatMakeABodyLengthAmbiguous) {
  Headers ok;
  ok.add("Content-Length", "2");
  EXPECT_EQ(field_problem(ok, 11), "");
  Headers two = ok;
  two.add("content-length", "2");
  EXPECT_EQ(field_problem(two, 11), "more than one Content-Length field");
  Headers gzip;
  gzip.add("Transfer-Encoding", "gzip");
  EXPECT_EQ(field_problem(gzip, 11), "a Transfer-Encoding other than chunked");
  Headers chunked;
  chunked.add("Transfer-Encoding", "Chunked");
  EXPECT_EQ(field_problem(chunked, 11), "");
  EXPECT_EQ(field_problem(chunked, 10), "Transfer-Encoding in an HTTP/1.0 request");
}

TEST(HttpConnectionLimits, PerClientAndTotal) {
  ConnectionLimits limits(3, 2);
  EXPECT_TRUE(limits.admit("a"));
  EXPECT_TRUE(limits.admit("a"));
  EXPECT_FALSE(limits.admit("a"));        // per client
  EXPECT_TRUE(limits.admit("b"));
  EXPECT_FALSE(limits.admit("c"));        // total
  EXPECT_FALSE(limits.admit("a", true));  // unlimited per client, still the total
  limits.release("a");
  EXPECT_TRUE(limits.admit("proxy", true));
  EXPECT_EQ(limits.open(), 3u);
  EXPECT_EQ(limits.open_for("a"), 1u);
  limits.release("nobody");  // harmless
  EXPECT_EQ(limits.open(), 3u);
}

TEST(HttpRouter, MatchesByMethodAndWholePathWithCaptures) {
  Router router;
  router.get("/apps/([a-z]+)", [](Request& req, Response& res) {
    res.set_content("app " + req.matches[1], "text/plain");
  });
  router.post("/apps/([a-z]+)", [](Request&, Response& res) { res.status = 201; },
              {Lane::slow, 1024, {}, {}});
  router.get("/boom", [](Request&, Response&) { throw std::runtime_error("no"); });
  router.set_error_handler([](const Request&, Response& res, std::string_view detail) {
    res.set_content("error " + std::to_string(res.status) + " " + std::string(detail),
                    "text/plain");
  });
  std::vector<std::string> captures;
  const Route* get = router.match("GET", "/apps/web", captures);
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(captures, (std::vector<std::string>{"/apps/web", "web"}));
  EXPECT_EQ(router.match("HEAD", "/apps/web", captures), get);
  const Route* post = router.match("POST", "/apps/web", captures);
  ASSERT_NE(post, nullptr);
  EXPECT_EQ(post->options.lane, Lane::slow);
  EXPECT_EQ(post->options.body_limit, 1024u);
  EXPECT_EQ(router.match("GET", "/apps/web/x", captures), nullptr);  // whole path only

  Request req;
  req.matches = {"/apps/web", "web"};
  Response res;
  router.handle(get, req, res);
  EXPECT_EQ(res.body, "app web");
  Response missing;
  router.handle(nullptr, req, missing);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "error 404 ");
  Response thrown;
  router.handle(router.match("GET", "/boom", captures), req, thrown);
  EXPECT_EQ(thrown.status, 500);
  EXPECT_EQ(thrown.body, "error 500 ");
  Response refused;
  refused.status = 400;
  router.fill_error(req, refused, "obs-fold");
  EXPECT_EQ(refused.body, "error 400 obs-fold");
}

}  // namespace
}  // namespace captain::http
