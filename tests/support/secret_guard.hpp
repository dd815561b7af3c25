// The secret guard: every test process (unit and integration) logs pgobo at
// trace level into a capture, and fails if a known secret ever reached it.
//
// secret_guard.cpp is linked into both test executables (an OBJECT library in
// tests/CMakeLists.txt) and registers, before main():
//   - a gtest global Environment: SetUp() installs the guard's logger as
//     pgobo's logger (level trace; a capturing sink, plus stderr at info as the
//     default logger had); TearDown() fails the process if the capture holds a
//     known secret, or if some test replaced pgobo's logger behind the guard's
//     back.
//   - a listener that, after every test, checks that pgobo's logger still feeds
//     the guard (and puts the guard back if not, so the next test is covered).
//
// Known secrets, as they are and in every encoding pgobo may send them in
// (raw, percent/form-encoded, JSON-escaped, base64 and base64url: see
// decoded_views()): every string given to register_secret() — pg_fixture.hpp
// registers each password_for() value and the superuser's password — and every
// token or client secret FakeWorkspace issues, recognised by its shape
// ("dapi-fake-<n>-", "sp-oauth-fake-<n>-", "lakebase-db-fake-<n>-",
// "fake-client-secret-", then 24 random characters): fake_workspace.hpp is not
// ours to change, and its instances are gone before the Environment's TearDown.
//
// Tests that install their own logger (pgobo::set_logger(mine), LogCapture)
// keep the guard: the test executables are linked with
// --wrap=<pgobo::set_logger>, so every call of pgobo::set_logger from test
// code goes through the guard first, which adds its capturing sink to the
// logger being installed and turns set_logger(nullptr) ("restore the default")
// into "restore the guard's logger". The test's logger keeps its own level, so
// the guard sees what that logger lets through (LogCapture: everything).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pgobo::test {

// Adds `secret` to the strings that must never reach pgobo's log. Thread-safe,
// idempotent. Throws std::invalid_argument for strings shorter than 8
// characters: they would match by accident; make test secrets distinctive.
void register_secret(std::string secret);

// Removes a registered secret. Only for a test that leaks one on purpose to
// prove the guard notices (secret_guard_test.cpp).
void forget_secret(const std::string& secret);

// `text` itself, then `text` with each encoding a secret pgobo sent may come
// back in undone: percent-decoded ('+' as space and as '+'), JSON-unescaped
// (\uXXXX included), runs of hex digits decoded, and every run of
// base64/base64url characters decoded
// from each of its first four characters (so a secret inside a longer
// base64 text, such as the "<id>:<secret>" of a Basic credential, shows in
// clear), also after percent- or JSON-unescaping. Written independently of
// pgobo's scrubber.
[[nodiscard]] std::vector<std::string> decoded_views(std::string_view text);

// The known secrets found in `text` in any of its decoded_views(): registered
// ones, and FakeWorkspace tokens recognised by their shape. Empty when `text`
// is clean.
[[nodiscard]] std::vector<std::string> known_secrets_in(std::string_view text);

// Everything pgobo logged in this process since the guard was installed.
[[nodiscard]] std::string guarded_log_text();

// What an observer's hooks were given (RecordingObserver adds its transcript
// when it is destroyed): checked at TearDown with the log.
void note_observed_text(std::string_view text);

// The check the Environment runs at TearDown: known_secrets_in() of
// guarded_log_text() and of every noted observer transcript.
[[nodiscard]] std::vector<std::string> secrets_in_guarded_log();

// True while pgobo's current logger feeds the guard's capture.
[[nodiscard]] bool guard_is_active();

// A secret shortened for a failure message: its first 6 characters and its
// length, so a report never prints the secret it complains about.
[[nodiscard]] std::string redacted_for_report(std::string_view secret);

}  // namespace pgobo::test
