// src/scrub.hpp (private) — removing secrets from a text that came back from
// elsewhere (an HTTP error body, libcurl's error text), in every encoding in
// which pgobo sent them.
//
// A token pgobo sends as "Authorization: Bearer <token>", or a client secret
// it sends as "Authorization: Basic base64(<id>:<secret>)", may come back from
// a misbehaving or hostile endpoint in any of these forms, each of which is
// replaced by *** before the text reaches a message or a log:
//   - as it is;
//   - percent-encoded, wholly or in part, either hex case, '+' or %20 for
//     space (the application/x-www-form-urlencoded form included);
//   - JSON-escaped (\", \\, \/, \n…, \uXXXX including surrogate pairs);
//   - hex, either case;
//   - base64 and base64url, padded or not, of the secret alone and of any
//     carrier given (the "<id>:<secret>" pair): the whole encoding, and the
//     part of it that depends only on the secret at each of the three
//     alignments, so the secret is found inside any longer base64 text;
//   - base64 forms that were then percent- or JSON-escaped.
#pragma once

#include <string>
#include <vector>

namespace pgobo::detail {

// `text` with every occurrence of each of `secrets` (in any form above)
// replaced by ***. Empty secrets are ignored.
[[nodiscard]] std::string scrub_secrets(std::string text, const std::vector<std::string>& secrets);

// The standard base64 (RFC 4648 section 4, padded) or base64url (section 5,
// unpadded) encoding of `bytes`.
[[nodiscard]] std::string base64_encode(std::string_view bytes, bool url = false);

}  // namespace pgobo::detail
