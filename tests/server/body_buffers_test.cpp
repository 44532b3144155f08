// The worker's pool of request body buffers (server/body_buffers.hpp): a lease gives its buffer
// back, the next take reuses it, and what the pool keeps is bounded in count and in size.
#include <doctest/doctest.h>

#include <utility>
#include <vector>

#include "server/body_buffers.hpp"

using nodealloc::server::BodyBuffers;

TEST_CASE("a buffer given back is the one the next take gets") {
  BodyBuffers pool;
  const char* first = nullptr;
  {
    auto lease = pool.take(40000);
    REQUIRE(lease.data() != nullptr);
    CHECK(lease.capacity() == 40000);
    first = lease.data();
    lease.data()[39999] = 'x';  // all of it is writable
    CHECK(pool.free_count() == 0);
  }
  CHECK(pool.free_count() == 1);
  auto again = pool.take(1000);  // smaller: the kept buffer serves
  CHECK(again.data() == first);
  CHECK(again.capacity() == 40000);
  CHECK(pool.free_count() == 0);
}

TEST_CASE("a kept buffer too small for the request is replaced") {
  BodyBuffers pool;
  { auto small = pool.take(100); }
  REQUIRE(pool.free_count() == 1);
  auto big = pool.take(50000);
  CHECK(big.capacity() == 50000);
  CHECK(pool.free_count() == 0);
  big = {};  // an empty lease assigned: the buffer goes back
  CHECK(pool.free_count() == 1);
  CHECK(pool.take(50000).capacity() == 50000);
}

TEST_CASE("moving a lease moves the buffer, given back once") {
  BodyBuffers pool;
  auto a = pool.take(64);
  const char* data = a.data();
  BodyBuffers::Lease b = std::move(a);
  CHECK(b.data() == data);
  CHECK(a.data() == nullptr);  // NOLINT(bugprone-use-after-move): moved-from is empty
  CHECK(a.capacity() == 0);    // NOLINT(bugprone-use-after-move)
  BodyBuffers::Lease c;
  c = std::move(b);
  CHECK(c.data() == data);
  CHECK(pool.free_count() == 0);
  c = {};
  CHECK(pool.free_count() == 1);
}

TEST_CASE("the pool keeps at most kKeptBuffers, none above kKeptCapacity") {
  BodyBuffers pool;
  {
    std::vector<BodyBuffers::Lease> many;
    for (std::size_t i = 0; i < BodyBuffers::kKeptBuffers + 5; ++i) many.push_back(pool.take(128));
    CHECK(pool.free_count() == 0);
  }
  CHECK(pool.free_count() == BodyBuffers::kKeptBuffers);

  BodyBuffers other;
  { auto huge = other.take(BodyBuffers::kKeptCapacity + 1); }
  CHECK(other.free_count() == 0);  // an odd huge body's buffer is not kept
  { auto largest = other.take(BodyBuffers::kKeptCapacity); }
  CHECK(other.free_count() == 1);
}
