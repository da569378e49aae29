// In-process publish/subscribe for domain events.
//
// A subsystem that changes state (the registry: a version created, an alias
// moved) publishes an event after the change is committed; other subsystems
// (serving's hot swap, monitoring, the audit trail) subscribe without the
// publisher knowing them. TF Serving's servable_event_bus has the same shape.
//
// Delivery is synchronous, on the publisher's thread, in subscription order,
// after the change is durable: a subscriber must be quick (hand real work to
// an Executor) and must not throw (what it throws is logged and dropped, so
// one subscriber cannot fail the request that published). A Subscription
// unsubscribes when destroyed; after its destructor returns the callback is
// never called again, so it may capture objects that die with it.
//
// Thread-safe: Publish, Subscribe and unsubscribing may run concurrently.
// A callback may subscribe others, but must not drop its own Subscription
// (that waits for the delivery in progress: a deadlock).
#pragma once

#include <spdlog/spdlog.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>

namespace slipway::core {

template <typename Event>
class EventBus {
 public:
  using Callback = std::function<void(const Event&)>;

  // Keeps a callback subscribed while it lives. Movable, not copyable.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& other) noexcept { *this = std::move(other); }
    Subscription& operator=(Subscription&& other) noexcept {
      Reset();
      state_ = std::move(other.state_);
      id_ = other.id_;
      return *this;
    }
    ~Subscription() { Reset(); }
    void Reset() {
      if (auto state = state_.lock()) state->Remove(id_);
      state_.reset();
    }

   private:
    friend class EventBus;
    std::weak_ptr<typename EventBus::State> state_;
    uint64_t id_ = 0;
  };

  EventBus() : state_(std::make_shared<State>()) {}

  [[nodiscard]] Subscription Subscribe(Callback callback) {
    Subscription subscription;
    subscription.state_ = state_;
    subscription.id_ = state_->Add(std::move(callback));
    return subscription;
  }

  void Publish(const Event& event) const {
    // Callbacks run without the lock held (so they may subscribe), but a
    // callback being removed waits for a running delivery to it to end.
    std::map<uint64_t, std::shared_ptr<Entry>> snapshot;
    {
      std::lock_guard lock(state_->mu);
      snapshot = state_->entries;
    }
    for (auto& [id, entry] : snapshot) {
      std::shared_lock running(entry->mu);
      if (!entry->active) continue;
      try {
        entry->callback(event);
      } catch (const std::exception& error) {
        spdlog::error("an event subscriber failed: {}", error.what());
      } catch (...) {
        spdlog::error("an event subscriber failed");
      }
    }
  }

 private:
  struct Entry {
    Callback callback;
    std::shared_mutex mu;  // held shared while delivering; exclusively to deactivate
    bool active = true;    // guarded by mu
  };
  struct State {
    std::mutex mu;  // guards entries and next_id
    std::map<uint64_t, std::shared_ptr<Entry>> entries;
    uint64_t next_id = 1;

    uint64_t Add(Callback callback) {
      auto entry = std::make_shared<Entry>();
      entry->callback = std::move(callback);
      std::lock_guard lock(mu);
      entries[next_id] = std::move(entry);
      return next_id++;
    }
    void Remove(uint64_t id) {
      std::shared_ptr<Entry> entry;
      {
        std::lock_guard lock(mu);
        auto it = entries.find(id);
        if (it == entries.end()) return;
        entry = std::move(it->second);
        entries.erase(it);
      }
      // Waits for a delivery in progress on another thread.
      std::unique_lock exclusive(entry->mu);
      entry->active = false;
    }
  };

  std::shared_ptr<State> state_;
};

}  // namespace slipway::core
