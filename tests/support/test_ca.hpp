// A certificate authority made at test time with the openssl command line,
// for tests of TLS verification against real servers on 127.0.0.1 (an
// HTTPS fake workspace, a PostgreSQL with ssl=on).
//
//   pgobo::test::TestCa ca;                                   // a new CA in a temp dir
//   auto server = ca.issue("localhost", {"localhost"}, {"127.0.0.1"});
//   // server.cert_file / server.key_file: PEM, signed by ca.cert_file()
//   pgobo::test::TestCa other;                                // a CA nobody trusts
//
// Every file lives in one directory (mode 0755, files 0644; keys 0600)
// removed by the destructor. Keys are EC P-256: fast to make (a few ms).
// Each certificate is valid from one day ago for 30 days.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgobo::test {

class TestCa {
 public:
  struct Issued {
    std::string cert_file;
    std::string key_file;
  };

  explicit TestCa(const std::string& common_name = "pgobo test CA") {
    char pattern[] = "/tmp/pgobo-ca.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("TestCa: mkdtemp failed");
    dir_ = pattern;
    ::chmod(dir_.c_str(), 0755);
    cert_file_ = dir_ + "/ca.crt";
    key_file_ = dir_ + "/ca.key";
    try {
      run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 "
          "-subj " +
          quote("/CN=" + common_name) + " -keyout " + quote(key_file_) + " -out " +
          quote(cert_file_) + " -addext basicConstraints=critical,CA:TRUE " +
          "-addext keyUsage=critical,keyCertSign,cRLSign");
    } catch (...) {
      std::filesystem::remove_all(dir_);
      throw;
    }
  }

  ~TestCa() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  // The CA's certificate (PEM): what a client trusts.
  [[nodiscard]] const std::string& cert_file() const { return cert_file_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }

  // A server certificate for `common_name` with these subject alternative
  // names, signed by this CA.
  Issued issue(const std::string& common_name, const std::vector<std::string>& dns_names,
               const std::vector<std::string>& ip_addresses = {}) {
    const std::string base = dir_ + "/server-" + std::to_string(++issued_);
    Issued out{base + ".crt", base + ".key"};
    std::string san;
    for (const auto& name : dns_names) san += (san.empty() ? "" : ",") + std::string("DNS:") + name;
    for (const auto& ip : ip_addresses) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
    const std::string ext_file = base + ".ext";
    {
      std::ofstream ext(ext_file);
      ext << "basicConstraints=CA:FALSE\n"
          << "keyUsage=critical,digitalSignature,keyEncipherment\n"
          << "extendedKeyUsage=serverAuth\n";
      if (!san.empty()) ext << "subjectAltName=" << san << "\n";
    }
    run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj " +
        quote("/CN=" + common_name) + " -keyout " + quote(out.key_file) + " -out " +
        quote(base + ".csr"));
    run("openssl x509 -req -in " + quote(base + ".csr") + " -CA " + quote(cert_file_) + " -CAkey " +
        quote(key_file_) + " -CAcreateserial -days 30 -extfile " + quote(ext_file) + " -out " +
        quote(out.cert_file));
    ::chmod(out.cert_file.c_str(), 0644);
    ::chmod(out.key_file.c_str(), 0600);
    return out;
  }

 private:
  static std::string quote(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    return out + "'";
  }

  static void run(const std::string& command) {
    const std::string full = command + " >/dev/null 2>&1";
    if (std::system(full.c_str()) != 0) {  // NOLINT(concurrency-mt-unsafe, cert-env33-c)
      throw std::runtime_error("TestCa: command failed: " + command);
    }
  }

  std::string dir_;
  std::string cert_file_;
  std::string key_file_;
  int issued_ = 0;
};

}  // namespace pgobo::test
