// The Gate (--parallel): slots, the queue of waiting rounds, withdrawing a waiter, and the
// back-pressure when descriptors run out. Waiters are admitted from the real loop.
#include "core/gate.hpp"

#include "support.hpp"

#include <doctest/doctest.h>
#include <memory>
#include <string>
#include <vector>

using namespace tcpretry::core;
using namespace std::chrono_literals;
using tcpretry::test::Watchdog;

namespace {

// Owners of rounds: a ticket is an address, and each records when it was let in.
struct Rounds {
    int owners[8] = {};
    std::vector<int> admitted; // indexes, in the order admitted

    Gate::Ticket ticket(int i) const { return &owners[i]; }
    Gate::Admit admit(int i) {
        return [this, i] { admitted.push_back(i); };
    }
};

} // namespace

TEST_CASE("Gate: rounds up to the limit start at once; the rest wait their turn") {
    Watchdog dog(10);
    Loop loop;
    Gate gate(loop, 2);
    Rounds r;
    CHECK(gate.enter(r.ticket(0), r.admit(0)));
    CHECK(gate.enter(r.ticket(1), r.admit(1)));
    CHECK(gate.in_flight() == 2);
    CHECK_FALSE(gate.enter(r.ticket(2), r.admit(2)));
    CHECK_FALSE(gate.enter(r.ticket(3), r.admit(3)));
    CHECK(gate.in_flight() == 2);
    CHECK(r.admitted.empty()); // an admitted round says so through `admit`, not enter's true

    gate.leave();
    CHECK(r.admitted.empty()); // not from inside the caller of leave()
    CHECK(gate.in_flight() == 1);
    loop.run();
    CHECK(r.admitted == std::vector<int>{2});
    CHECK(gate.in_flight() == 2); // the slot went to the waiter

    gate.leave();
    gate.leave();
    loop.run();
    CHECK(r.admitted == std::vector<int>{2, 3}); // first come, first served
    CHECK(gate.in_flight() == 1);
}

TEST_CASE("Gate: a newcomer does not overtake the queue") {
    Loop loop;
    Gate gate(loop, 1);
    Rounds r;
    CHECK(gate.enter(r.ticket(0), r.admit(0)));
    CHECK_FALSE(gate.enter(r.ticket(1), r.admit(1)));
    gate.leave(); // a slot is free, but round 1 waits for it
    CHECK_FALSE(gate.enter(r.ticket(2), r.admit(2)));
    loop.run();
    CHECK(r.admitted == std::vector<int>{1});
    gate.leave();
    loop.run();
    CHECK(r.admitted == std::vector<int>{1, 2});
}

TEST_CASE("Gate: limit 0 is no limit") {
    Loop loop;
    Gate gate(loop, 0);
    Rounds r;
    for (int i = 0; i < 8; ++i)
        CHECK(gate.enter(r.ticket(i), r.admit(i)));
    CHECK(gate.in_flight() == 8);
}

TEST_CASE("Gate: several slots freed in one turn admit as many waiters at once") {
    Loop loop;
    Gate gate(loop, 3);
    Rounds r;
    for (int i = 0; i < 3; ++i)
        CHECK(gate.enter(r.ticket(i), r.admit(i)));
    for (int i = 3; i < 6; ++i)
        CHECK_FALSE(gate.enter(r.ticket(i), r.admit(i)));
    gate.leave();
    gate.leave();
    loop.run();
    CHECK(r.admitted == std::vector<int>{3, 4});
    CHECK(gate.in_flight() == 3);
}

TEST_CASE("Gate: an admitted round that ends at once passes its slot on, on a later turn") {
    Watchdog dog(10);
    Loop loop;
    Gate gate(loop, 1);
    Rounds r;
    CHECK(gate.enter(r.ticket(0), r.admit(0)));
    CHECK_FALSE(gate.enter(r.ticket(1), [&] {
        r.admitted.push_back(1);
        gate.leave(); // failed straight away (say, a local error)
    }));
    CHECK_FALSE(gate.enter(r.ticket(2), r.admit(2)));
    gate.leave();
    loop.run();
    CHECK(r.admitted == std::vector<int>{1, 2});
    CHECK(gate.in_flight() == 1);
}

TEST_CASE("Gate: a withdrawn waiter is never admitted") {
    Loop loop;
    Gate gate(loop, 1);
    Rounds r;
    CHECK(gate.enter(r.ticket(0), r.admit(0)));
    CHECK_FALSE(gate.enter(r.ticket(1), r.admit(1)));
    CHECK_FALSE(gate.enter(r.ticket(2), r.admit(2)));
    gate.withdraw(r.ticket(1));
    gate.withdraw(r.ticket(5)); // not waiting: nothing happens
    gate.leave();
    loop.run();
    CHECK(r.admitted == std::vector<int>{2});
}

TEST_CASE("Gate: withdrawn after its admission was scheduled, a waiter is still not admitted") {
    Loop loop;
    Gate gate(loop, 1);
    Rounds r;
    CHECK(gate.enter(r.ticket(0), r.admit(0)));
    CHECK_FALSE(gate.enter(r.ticket(1), r.admit(1)));
    gate.leave(); // admission deferred to the loop
    gate.withdraw(r.ticket(1));
    loop.run();
    CHECK(r.admitted.empty());
    CHECK(gate.in_flight() == 0);
}

TEST_CASE("Gate: destroyed with an admission scheduled, nothing runs later") {
    Watchdog dog(10);
    Loop loop;
    Rounds r;
    {
        Gate gate(loop, 1);
        CHECK(gate.enter(r.ticket(0), r.admit(0)));
        CHECK_FALSE(gate.enter(r.ticket(1), r.admit(1)));
        gate.leave();
    }
    loop.run(); // would call into the destroyed gate
    CHECK(r.admitted.empty());
}

TEST_CASE("Gate: out of descriptors, the limit drops to what is in flight and grows back") {
    Watchdog dog(10);
    Loop loop;
    Gate gate(loop, 10);
    Rounds r;
    for (int i = 0; i < 4; ++i)
        CHECK(gate.enter(r.ticket(i), r.admit(i)));
    CHECK_FALSE(r.admitted.size());

    // Round 3 found no descriptor: it hands its slot back and waits at the front.
    CHECK(gate.out_of_descriptors(r.ticket(3), r.admit(3))); // the first time: warn
    CHECK(gate.in_flight() == 3);
    CHECK_FALSE(gate.enter(r.ticket(4), r.admit(4))); // the limit is now 3: queued behind 3
    // Round 2 also ran out: no second warning.
    CHECK_FALSE(gate.out_of_descriptors(r.ticket(2), r.admit(2)));
    CHECK(gate.in_flight() == 2);

    // Each round that ends frees a descriptor and a slot, and the limit grows by one.
    gate.leave();
    loop.run();
    CHECK(r.admitted == std::vector<int>{2, 3}); // the limit grew to 3 with one in flight
    CHECK(gate.in_flight() == 3);
    gate.leave();
    loop.run();
    CHECK(r.admitted == std::vector<int>{2, 3, 4});
    CHECK(gate.in_flight() == 3);
}
