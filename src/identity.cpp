// Compiled part of identity.hpp (SHA-256 through OpenSSL). Filled in by the
// execution-context work (issue 4).
