// pgobo/detail/pool_list.hpp — a tiny intrusive doubly linked list.
//
// The pool keeps its idle connections and its waiters in lists whose nodes
// live elsewhere (a pooled connection, a waiting thread's stack frame), so
// pushing and popping never allocates and never copies. Not thread-safe: the
// pool's mutex guards every list.
#pragma once

#include <cstddef>

namespace pgobo::detail {

// Base of anything that can sit in an IntrusiveList. A node is in at most one
// list at a time.
struct ListHook {
  ListHook* prev = nullptr;
  ListHook* next = nullptr;
  bool linked = false;
};

// T derives from ListHook. front() is the most recently pushed by push_front
// and the oldest pushed by push_back.
template <class T>
class IntrusiveList {
 public:
  IntrusiveList() noexcept { head_.prev = head_.next = &head_; }
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  void push_front(T& node) noexcept { insert_after(head_, node); }
  void push_back(T& node) noexcept { insert_after(*head_.prev, node); }

  // nullptr when empty.
  [[nodiscard]] T* front() const noexcept { return empty() ? nullptr : as_t(head_.next); }
  [[nodiscard]] T* back() const noexcept { return empty() ? nullptr : as_t(head_.prev); }

  T* pop_front() noexcept {
    T* node = front();
    if (node != nullptr) erase(*node);
    return node;
  }
  T* pop_back() noexcept {
    T* node = back();
    if (node != nullptr) erase(*node);
    return node;
  }

  void erase(T& node) noexcept {
    ListHook& hook = node;
    hook.prev->next = hook.next;
    hook.next->prev = hook.prev;
    hook.prev = hook.next = nullptr;
    hook.linked = false;
    --size_;
  }

  // Visits back to front (oldest pushed_front first); `visit` may erase the
  // node it is given.
  template <class F>
  void for_each_from_back(F&& visit) {
    ListHook* hook = head_.prev;
    while (hook != &head_) {
      ListHook* previous = hook->prev;
      visit(*as_t(hook));
      hook = previous;
    }
  }

 private:
  static T* as_t(ListHook* hook) noexcept { return static_cast<T*>(hook); }

  void insert_after(ListHook& position, T& node) noexcept {
    ListHook& hook = node;
    hook.prev = &position;
    hook.next = position.next;
    position.next->prev = &hook;
    position.next = &hook;
    hook.linked = true;
    ++size_;
  }

  ListHook head_;
  std::size_t size_ = 0;
};

}  // namespace pgobo::detail
