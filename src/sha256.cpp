#include "sha256.hpp"

#include <cstddef>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PGOBO_SHA256_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define PGOBO_SHA256_X86 0
#endif

#include "pgobo/secret.hpp"

namespace pgobo::detail {
namespace {

// The first 32 bits of the fractional parts of the cube roots of the first 64 primes.
constexpr std::array<std::uint32_t, 64> kRound{
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr std::uint32_t rotr(std::uint32_t x, unsigned n) noexcept {
  return (x >> n) | (x << (32U - n));
}

std::uint32_t load_be32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24U) | (std::uint32_t{p[1]} << 16U) | (std::uint32_t{p[2]} << 8U) |
         std::uint32_t{p[3]};
}

// The portable compression function: one block.
void compress_block(std::array<std::uint32_t, 8>& state, const std::uint8_t* block,
                    std::array<std::uint32_t, 64>& w) noexcept {
  for (std::size_t i = 0; i < 16; ++i) w[i] = load_be32(block + 4 * i);
  for (std::size_t i = 16; i < 64; ++i) {
    const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3U);
    const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10U);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  std::uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  std::uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
  for (std::size_t i = 0; i < 64; ++i) {
    const std::uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    const std::uint32_t choose = (e & f) ^ (~e & g);
    const std::uint32_t t1 = h + s1 + choose + kRound[i] + w[i];
    const std::uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    const std::uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
    const std::uint32_t t2 = s0 + majority;
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
  state[5] += f;
  state[6] += g;
  state[7] += h;
}

void compress_portable(std::array<std::uint32_t, 8>& state, const std::uint8_t* blocks,
                       std::size_t count) noexcept {
  std::array<std::uint32_t, 64> w{};
  for (std::size_t i = 0; i < count; ++i) compress_block(state, blocks + 64 * i, w);
  // The schedule is derived from a token's bytes.
  secure_wipe(w.data(), sizeof(w));
}

#if PGOBO_SHA256_X86
// The SHA extensions of x86 (Intel since Goldmont and Ice Lake, every AMD
// Zen): about three times faster than the portable code on a token. The
// instructions keep the state as two halves, ABEF and CDGH, each in one
// register; rnds2 runs two rounds, msg1/msg2 extend the message schedule
// four words at a time.
__attribute__((target("sha,sse4.1,ssse3"))) void compress_sha_extensions(
    std::array<std::uint32_t, 8>& state, const std::uint8_t* blocks, std::size_t count) noexcept {
  // Reverses the bytes of each 32-bit word: the message is big-endian.
  const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  // state = A..H, each register holding four words, lowest first.
  __m128i abcd = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state.data()));
  __m128i efgh = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state.data() + 4));
  abcd = _mm_shuffle_epi32(abcd, 0xB1);              // B A D C
  efgh = _mm_shuffle_epi32(efgh, 0x1B);              // H G F E
  __m128i abef = _mm_alignr_epi8(abcd, efgh, 8);     // F E B A: ABEF, highest first
  __m128i cdgh = _mm_blend_epi16(efgh, abcd, 0xF0);  // H G D C: CDGH, highest first
  for (std::size_t block = 0; block < count; ++block) {
    const std::uint8_t* data = blocks + 64 * block;
    const __m128i abef_before = abef;
    const __m128i cdgh_before = cdgh;
    // w[g % 4] holds message words 4g..4g+3 of the group of rounds g.
    __m128i w[4];  // NOLINT: std::array drops __m128i's alignment attribute
#pragma GCC unroll 16
    for (std::size_t group = 0; group < 16; ++group) {
      __m128i& words = w[group % 4];
      if (group < 4) {
        words = _mm_shuffle_epi8(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * group)), byte_swap);
      } else {
        // W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], four at a time:
        // msg1 adds σ0 to the words of four groups back, the shifted pair
        // of the last two groups brings W[t-7], msg2 adds σ1.
        const __m128i& previous = w[(group + 3) % 4];
        const __m128i partial = _mm_add_epi32(_mm_sha256msg1_epu32(words, w[(group + 1) % 4]),
                                              _mm_alignr_epi8(previous, w[(group + 2) % 4], 4));
        words = _mm_sha256msg2_epu32(partial, previous);
      }
      __m128i message = _mm_add_epi32(
          words, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kRound.data() + 4 * group)));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, message);  // rounds 4g, 4g+1: the new ABEF
      message = _mm_shuffle_epi32(message, 0x0E);         // the upper two words
      abef = _mm_sha256rnds2_epu32(abef, cdgh, message);  // rounds 4g+2, 4g+3
    }
    abef = _mm_add_epi32(abef, abef_before);
    cdgh = _mm_add_epi32(cdgh, cdgh_before);
    // The message words are a token's bytes.
    for (__m128i& words : w) words = _mm_setzero_si128();
    __asm__ __volatile__("" : : "r"(w) : "memory");
  }
  const __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  const __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state.data()), _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state.data() + 4), _mm_alignr_epi8(dchg, feba, 8));
}

bool cpu_has_sha_extensions() noexcept {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool ssse3 = (ecx & (1U << 9U)) != 0;
  const bool sse41 = (ecx & (1U << 19U)) != 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool sha = (ebx & (1U << 29U)) != 0;
  return ssse3 && sse41 && sha;
}
#endif

using Compress = void (*)(std::array<std::uint32_t, 8>&, const std::uint8_t*, std::size_t) noexcept;

// Chosen once, on the first digest.
Compress best_compress() noexcept {
#if PGOBO_SHA256_X86
  if (cpu_has_sha_extensions()) return compress_sha_extensions;
#endif
  return compress_portable;
}

std::array<std::uint8_t, 32> sha256_with(Compress compress, std::string_view data) noexcept {
  // The first 32 bits of the fractional parts of the square roots of the first 8 primes.
  std::array<std::uint32_t, 8> state{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(data.data());
  const std::size_t whole = data.size() / 64;
  if (whole > 0) compress(state, bytes, whole);

  // The tail, a 0x80 byte, zeros and the length in bits (big-endian): one
  // block, or two when fewer than 9 bytes are left after the tail.
  std::array<std::uint8_t, 128> last{};
  const std::size_t tail = data.size() % 64;
  if (tail > 0) std::memcpy(last.data(), bytes + 64 * whole, tail);
  last[tail] = 0x80;
  const std::size_t blocks = tail + 9 <= 64 ? 1 : 2;
  const std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8U;
  for (std::size_t i = 0; i < 8; ++i) {
    last[blocks * 64 - 1 - i] = static_cast<std::uint8_t>(bits >> (8U * i));
  }
  compress(state, last.data(), blocks);
  secure_wipe(last.data(), last.size());

  std::array<std::uint8_t, 32> digest{};
  for (std::size_t i = 0; i < 8; ++i) {
    digest[4 * i] = static_cast<std::uint8_t>(state[i] >> 24U);
    digest[4 * i + 1] = static_cast<std::uint8_t>(state[i] >> 16U);
    digest[4 * i + 2] = static_cast<std::uint8_t>(state[i] >> 8U);
    digest[4 * i + 3] = static_cast<std::uint8_t>(state[i]);
  }
  secure_wipe(state.data(), sizeof(state));
  return digest;
}

}  // namespace

std::array<std::uint8_t, 32> sha256(std::string_view data) noexcept {
  static const Compress compress = best_compress();
  return sha256_with(compress, data);
}

std::array<std::uint8_t, 32> sha256_portable(std::string_view data) noexcept {
  return sha256_with(compress_portable, data);
}

bool sha256_uses_cpu_extensions() noexcept {
#if PGOBO_SHA256_X86
  return best_compress() != compress_portable;
#else
  return false;
#endif
}

}  // namespace pgobo::detail
