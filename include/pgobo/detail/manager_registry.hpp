// pgobo/detail/manager_registry.hpp — which pool serves which user key: the
// sharded map behind PoolManager.
//
// 64 shards, each a hash map under its own shared_mutex, so that lookups of
// different users rarely touch the same lock and a rebuild or sweep of one
// shard never blocks the others. Lookups by std::string_view allocate
// nothing. An entry holds the key's current pool, the pools it replaced that
// are still draining, and whom and which token fingerprints they were built
// for. The registry only stores; BasicPoolManager decides (and locks).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pgobo/identity.hpp"

namespace pgobo::detail {

template <class PoolT>
class ManagerRegistry {
 public:
  using Pool = PoolT;

  struct Entry {
    std::shared_ptr<Pool> current;
    // Whom the pools of this key were built for. role_for and credentials_for
    // see the whole context, so a context that shares only the key (one
    // user's email is another's user id) must not use them.
    std::string user_id;
    std::string email;
    std::string fingerprint;                      // of current's token
    std::vector<std::string> older_fingerprints;  // most recent last
    std::vector<std::shared_ptr<Pool>> draining;  // replaced, finishing their work

    [[nodiscard]] bool built_for(const UserContext& user) const noexcept {
      return user.user_id() == user_id && user.email() == email;
    }
    [[nodiscard]] bool knows(const std::string& fp) const noexcept {
      return std::find(older_fingerprints.begin(), older_fingerprints.end(), fp) !=
             older_fingerprints.end();
    }
  };

  // Heterogeneous lookup: find(std::string_view) allocates nothing.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  struct Shard {
    mutable std::shared_mutex mutex;
    std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>> entries;
  };
  static constexpr std::size_t kShards = 64;

  [[nodiscard]] Shard& shard_for(std::string_view key) noexcept {
    return shards_[KeyHash{}(key) % kShards];
  }
  [[nodiscard]] const Shard& shard_for(std::string_view key) const noexcept {
    return shards_[KeyHash{}(key) % kShards];
  }
  [[nodiscard]] std::array<Shard, kShards>& shards() noexcept { return shards_; }
  [[nodiscard]] const std::array<Shard, kShards>& shards() const noexcept { return shards_; }

  // The key's current pool, or null.
  [[nodiscard]] std::shared_ptr<Pool> find(std::string_view key) const {
    const Shard& shard = shard_for(key);
    std::shared_lock lock(shard.mutex);
    auto it = shard.entries.find(key);
    return it == shard.entries.end() ? nullptr : it->second.current;
  }

  [[nodiscard]] bool contains(std::string_view key) const {
    const Shard& shard = shard_for(key);
    std::shared_lock lock(shard.mutex);
    return shard.entries.find(key) != shard.entries.end();
  }

  // f(pool, current) for every pool, current and draining, one shard at a
  // time under its shared lock.
  template <class F>
  void for_each_pool(F&& f) const {
    for (const Shard& shard : shards_) {
      std::shared_lock lock(shard.mutex);
      for (const auto& [key, entry] : shard.entries) {
        f(entry.current, true);
        for (const auto& old : entry.draining) f(old, false);
      }
    }
  }

 private:
  std::array<Shard, kShards> shards_;
};

}  // namespace pgobo::detail
