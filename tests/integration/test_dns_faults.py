"""DNS faults through --resolver: a DNS server on loopback that fails (NXDOMAIN, SERVFAIL,
REFUSED, FORMERR, NOTIMP), says nothing, is not there at all (ICMP port unreachable),
truncates, sends malformed or forged packets, or changes its answer between rounds. tcpretry must report `resolve` with the resolver's
reason, give up on resolution within the connect timeout, never crash on a bad packet, never
take a forged or broken reply as an address, and follow a changed answer on the next round.

stub_dns.StubDns answers well-formed queries; the faults it cannot make are made by
FaultyDns below, a UDP server whose reply to each query is computed by a function.
"""

import random
import socket
import struct
import threading
import unittest

import harness
import netns
from harness import of_type, summary
from stub_dns import (CLASS_IN, RCODE_FORMERR, RCODE_NOTIMP, RCODE_NXDOMAIN, RCODE_REFUSED,
                      RCODE_SERVFAIL, TYPE_A, build_reply, parse_question, unused_udp_port)

CRASH_MARKERS = ("AddressSanitizer", "runtime error", "Segmentation fault", "Aborted",
                 "core dumped", "terminate called", "LeakSanitizer")


# -- a DNS server that misbehaves on purpose ---------------------------------------------------

class Question:
    """One parsed query: id, flags, the raw question section, name (as sent) and type."""

    def __init__(self, packet):
        self.id, self.flags, self.section, self.name, self.qtype = parse_question(packet)

    def reply(self, rcode=0, addresses=(), flags_or=0):
        """A well-formed reply (question copied byte for byte), optionally with more flag
        bits set (e.g. 0x0200, TC)."""
        r = bytearray(build_reply(self.id, self.flags, self.section, rcode, self.qtype,
                                  list(addresses)))
        flags = struct.unpack("!H", r[2:4])[0] | flags_or
        r[2:4] = struct.pack("!H", flags)
        return bytes(r)

    def header(self, flags=0x8180, qd=1, an=0, ns=0, ar=0, qid=None):
        return struct.pack("!HHHHHH", self.id if qid is None else qid, flags, qd, an, ns, ar)

    def answer_rr(self, owner=b"\xc0\x0c", rtype=None, rdata=b"\x7f\x00\x00\x01",
                  rdlength=None):
        rtype = self.qtype if rtype is None else rtype
        rdlength = len(rdata) if rdlength is None else rdlength
        return owner + struct.pack("!HHIH", rtype, CLASS_IN, 0, rdlength) + rdata

    def local_address(self):
        return ["127.0.0.1"] if self.qtype == TYPE_A else ["::1"]


class FaultyDns:
    """UDP on 127.0.0.1 (or a given socket, e.g. one inside a network namespace). Each query
    is answered with behaviour(question) -> bytes or None (no reply); the behaviour can be
    swapped at any time. queries counts what arrived."""

    def __init__(self, behaviour=None, sock=None):
        self.behaviour = behaviour or (lambda q: None)
        self._sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if sock is None:
            self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.host, self.port = self._sock.getsockname()[:2]
        self.queries = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="faulty-dns", daemon=True)
        self._thread.start()

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    def _serve(self):
        while not self._stop.is_set():
            try:
                packet, peer = self._sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                q = Question(packet)
            except ValueError:
                continue
            with self._lock:
                self.queries.append((q.name.lower(), q.qtype))
                behaviour = self.behaviour
            try:
                reply = behaviour(q)
            except Exception as e:  # a broken behaviour must not kill the server thread
                print(f"faulty-dns: behaviour failed: {e!r}", flush=True)
                continue
            if reply is not None:
                try:
                    self._sock.sendto(reply, peer)
                except OSError:
                    pass

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


def rcode(code):
    return lambda q: q.reply(code)


def silent(q):
    return None


def truncated_empty(q):
    # TC set and nothing but the question: "ask again over TCP".
    return q.header(flags=0x8000 | 0x0400 | 0x0200 | (q.flags & 0x0100) | 0x80) + q.section


def truncated_with_answer(q):
    # TC set on an otherwise complete answer: a truncated answer is not to be used.
    return q.reply(0, q.local_address(), flags_or=0x0200)


def question_offset_pointer_loop(q):
    # The answer's owner name is a compression pointer to itself.
    off = 12 + len(q.section)
    return q.header(an=1) + q.section + q.answer_rr(owner=struct.pack("!H", 0xC000 | off))


# The malformed replies: each keeps the query's id so that evdns reads it as the answer.
MALFORMED = {
    "garbage after the header": lambda q: q.header()[:4] + bytes(range(256)) * 2,
    "header only, claims one answer": lambda q: q.header(an=1),
    "no question section": lambda q: q.header(qd=0, an=0),
    "rdlength past the end": lambda q: (q.header(an=1) + q.section +
                                        q.answer_rr(rdata=b"\x7f\x00", rdlength=400)),
    "A record of 3 bytes": lambda q: (q.header(an=1) + q.section +
                                      q.answer_rr(rdata=b"\x7f\x00\x00")),
    "compression pointer loop": question_offset_pointer_loop,
    "pointer out of the packet": lambda q: (q.header(an=1) + q.section +
                                            q.answer_rr(owner=b"\xff\xff")),
    "label runs past the end": lambda q: q.header(an=0) + b"\x3f" + b"a" * 10,
    "answer count says 100": lambda q: (q.header(an=100) + q.section + q.answer_rr()),
    "only two bytes": lambda q: q.header()[:2],
    "empty datagram": lambda q: b"",
    "512 zero bytes, right id": lambda q: q.header()[:2] + bytes(510),
    "1400 bytes of 0xff, right id": lambda q: q.header()[:2] + b"\xff" * 1398,
}

# Replies that carry 127.0.0.1 (where the test's server listens) but must not be believed.
FORGED = {
    "wrong id": lambda q: _with_header(q, qid=q.id ^ 0x5A5A),
    "another name in the question": lambda q: _other_name(q),
    "a query, not a reply (QR=0)": lambda q: _with_header(q, clear_flags=0x8000),
}


def _with_header(q, qid=None, clear_flags=0):
    """The good answer (127.0.0.1 / ::1) with its id or flags tampered with."""
    good = bytearray(q.reply(0, q.local_address()))
    if qid is not None:
        good[0:2] = struct.pack("!H", qid)
    flags = struct.unpack("!H", good[2:4])[0] & ~clear_flags
    good[2:4] = struct.pack("!H", flags)
    return bytes(good)


def _other_name(q):
    section = bytearray(q.section)
    section[1] ^= 0x01  # first letter of the first label: another name, not another case
    return build_reply(q.id, q.flags, bytes(section), 0, q.qtype, q.local_address())


# -- tests --------------------------------------------------------------------------------------

class DnsFaultCase(harness.TestCase):
    def faulty(self, behaviour=None, sock=None):
        dns = FaultyDns(behaviour, sock)
        self.addCleanup(dns.close)
        return dns

    def resolve(self, dns, *args, name="fault.test", port=80):
        return harness.run("--json", "--resolver", dns.address, *args, f"{name}:{port}")

    def assertNoCrash(self, r):
        self.assertGreaterEqual(r.returncode, 0, f"killed by a signal\n{r}")
        for marker in CRASH_MARKERS:
            self.assertNotIn(marker, r.stderr, r)

    def assertResolveFailure(self, r, errnos, rounds=1):
        """Exit 1, each round one `failed` with error resolve and an errno from errnos, no
        attempt at any address; returns the failed events."""
        self.assertExit(r, 1)
        self.assertNoCrash(r)
        events = self.assertValidJsonLines(r)
        self.assertEqual(of_type(events, "attempt"), [], f"an address was tried\n{r}")
        self.assertEqual(of_type(events, "connected"), [], r)
        failed = of_type(events, "failed")
        self.assertEqual(len(failed), rounds, r)
        for f in failed:
            self.assertEqual(f["error"], "resolve", f)
            self.assertIn(f["errno"], errnos, f)
            self.assertTrue(f["message"], f)
        self.assertEqual([g["reason"] for g in of_type(events, "gave_up")], ["resolve"])
        return failed


class ServerErrors(DnsFaultCase):
    def test_nxdomain_is_eai_noname(self):
        dns = self.faulty(rcode(RCODE_NXDOMAIN))
        f = self.assertResolveFailure(self.resolve(dns, "--once"), {"EAI_NONAME"})[0]
        self.assertIn("NXDOMAIN", f["message"])

    def test_servfail_is_eai_again(self):
        # evdns treats SERVFAIL like a lost reply: it asks again (3 times per query) and
        # then gives up with a timeout, long before tcpretry's round timer.
        dns = self.faulty(rcode(RCODE_SERVFAIL))
        r = self.resolve(dns, "-T", "3s", "--once")
        self.assertResolveFailure(r, {"EAI_AGAIN"})
        self.assertLess(r.elapsed, 2.5, "SERVFAIL must not wait for the round timer")
        self.assertGreaterEqual(len(dns.queries), 2)

    def test_servfail_every_round_keeps_asking(self):
        # After SERVFAILs evdns marks the server down; the next rounds must still ask it
        # (and not fail without a query).
        dns = self.faulty(rcode(RCODE_SERVFAIL))
        r = self.resolve(dns, "-n", "3", "--jitter", "0", "--initial-delay", "20ms")
        self.assertResolveFailure(r, {"EAI_AGAIN"}, rounds=3)
        per_round = len(dns.queries) / 3
        self.assertGreaterEqual(per_round, 2, dns.queries)

    def test_refused_formerr_notimp_are_eai_fail(self):
        for code, word in ((RCODE_REFUSED, "REFUSED"), (RCODE_FORMERR, "FORMERR"),
                           (RCODE_NOTIMP, None)):
            with self.subTest(rcode=code):
                dns = self.faulty(rcode(code))
                f = self.assertResolveFailure(self.resolve(dns, "--once"), {"EAI_FAIL"})[0]
                if word:
                    self.assertIn(word, f["message"])

    def test_nodata_for_both_families_is_eai_nodata(self):
        # NOERROR without records, for A and for AAAA: the name exists, no address.
        dns = self.faulty(lambda q: q.reply(0, ()))
        self.assertResolveFailure(self.resolve(dns, "--once"), {"EAI_NODATA"})


class Silence(DnsFaultCase):
    def test_no_answer_fails_at_the_connect_timeout(self):
        dns = self.faulty(silent)
        r = self.resolve(dns, "-T", "1s", "--once")
        f = self.assertResolveFailure(r, {"EAI_AGAIN"})[0]
        self.assertIn("timed out", f["message"])
        self.assertGreaterEqual(f["duration_ms"], 950, f)
        self.assertLess(f["duration_ms"], 1600, f)
        self.assertLess(r.elapsed, 3.0, r)
        self.assertTrue(dns.queries, "the stub was never asked")

    def test_no_answer_each_round_is_bounded_by_the_connect_timeout(self):
        dns = self.faulty(silent)
        r = self.resolve(dns, "-T", "300ms", "-n", "3", "--jitter", "0",
                         "--initial-delay", "20ms")
        failed = self.assertResolveFailure(r, {"EAI_AGAIN"}, rounds=3)
        for f in failed:
            self.assertLess(f["duration_ms"], 800, f)
        self.assertLess(r.elapsed, 3.0, r)

    def test_overall_timeout_cuts_a_pending_resolution(self):
        dns = self.faulty(silent)
        r = self.resolve(dns, "-T", "10s", "-t", "500ms")
        self.assertExit(r, 124)
        self.assertNoCrash(r)
        self.assertLess(r.elapsed, 3.0)
        self.assertEqual(summary(self.assertValidJsonLines(r))["result"], "timeout")


class NothingListens(DnsFaultCase):
    """No DNS server on the port: the kernel answers a query with ICMP port unreachable.
    evdns's unconnected socket never hears of it; tcpretry's probe (a connected socket) does,
    and the round fails at once with the reason, not at -T with "timed out"."""

    def refused(self, *args, host="127.0.0.1", name="fault.test"):
        port = unused_udp_port(host)
        server = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        r = harness.run("--json", "--resolver", server, *args, f"{name}:80")
        return r, server

    def assertRefusedMessage(self, f, server):
        self.assertEqual((f["error"], f["errno"]), ("resolve", "EAI_AGAIN"), f)
        self.assertIn(f"DNS server {server} refused", f["message"])
        self.assertIn("ECONNREFUSED", f["message"])
        self.assertNotIn("timed out", f["message"])
        self.assertNotIn("did not answer", f["message"])

    def test_refused_at_once_not_at_the_connect_timeout(self):
        r, server = self.refused("-T", "10s", "--once")
        f = self.assertResolveFailure(r, {"EAI_AGAIN"})[0]
        self.assertRefusedMessage(f, server)
        self.assertLess(f["duration_ms"], 1000, f)
        self.assertLess(r.elapsed, 2.5, r)
        self.assertEqual(r.stderr, "", r)

    def test_refused_with_the_default_connect_timeout(self):
        r, server = self.refused("--once")
        f = self.assertResolveFailure(r, {"EAI_AGAIN"})[0]
        self.assertRefusedMessage(f, server)
        self.assertLess(r.elapsed, 2.5, r)

    def test_refused_ipv6_server(self):
        self.require_ipv6()
        r, server = self.refused("-T", "10s", "--once", host="::1")
        f = self.assertResolveFailure(r, {"EAI_AGAIN"})[0]
        self.assertRefusedMessage(f, server)
        self.assertLess(r.elapsed, 2.5, r)

    def test_each_round_is_refused_at_once(self):
        r, server = self.refused("-T", "10s", "-n", "3", "--jitter", "0",
                                 "--initial-delay", "20ms")
        failed = self.assertResolveFailure(r, {"EAI_AGAIN"}, rounds=3)
        for f in failed:
            self.assertRefusedMessage(f, server)
            self.assertLess(f["duration_ms"], 1000, f)
        self.assertLess(r.elapsed, 2.5, r)

    def test_one_family_with_dash_4(self):
        r, server = self.refused("-4", "-T", "10s", "--once")
        self.assertRefusedMessage(self.assertResolveFailure(r, {"EAI_AGAIN"})[0], server)
        self.assertLess(r.elapsed, 2.5, r)

    def test_human_output_says_refused(self):
        port = unused_udp_port()
        r = harness.run("--resolver", f"127.0.0.1:{port}", "-T", "10s", "--once", "fault.test:80")
        self.assertExit(r, 1)
        self.assertIn(f"DNS server 127.0.0.1:{port} refused (ECONNREFUSED)", r.stdout)
        self.assertLess(r.elapsed, 2.5, r)

    def test_a_server_that_comes_up_is_used_on_the_next_round(self):
        # Round 1: nothing on the port (refused at once); then a server binds that very port
        # during the retry delay and answers: round 2 connects.
        server = self.server()
        port = unused_udp_port()
        p = self.background("--json", "--resolver", f"127.0.0.1:{port}", "-T", "10s",
                            "--jitter", "0", "--initial-delay", "500ms", "-t", "20s",
                            f"back.test:{server.port}")
        f = p.wait_for_event("failed", attempt=1, timeout=5)
        self.assertIsNotNone(f, p.lines())
        self.assertIn("refused", f["message"])
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", port))
        self.faulty(lambda q: q.reply(0, ["127.0.0.1"] if q.qtype == TYPE_A else []), sock)
        c = p.wait_for_event("connected", timeout=10)
        self.assertIsNotNone(c, p.lines())
        self.assertEqual((c["attempt"], c["address"]), (2, "127.0.0.1"))
        r = p.wait(timeout=10)
        self.assertExit(r, 0)
        self.assertNoCrash(r)

    def test_a_live_but_silent_server_is_not_called_refused(self):
        # The probe hears nothing from a server that is there: the query times out at -T as
        # before, with the timeout's words.
        dns = self.faulty(silent)
        r = self.resolve(dns, "-T", "1500ms", "--once")
        f = self.assertResolveFailure(r, {"EAI_AGAIN"})[0]
        self.assertIn("timed out", f["message"])
        self.assertNotIn("refused", f["message"])
        self.assertGreaterEqual(f["duration_ms"], 1400, f)


class BadPackets(DnsFaultCase):
    def test_truncated_reply_is_eai_fail(self):
        for behaviour in (truncated_empty, truncated_with_answer):
            with self.subTest(reply=behaviour.__name__):
                dns = self.faulty(behaviour)
                r = self.resolve(dns, "-T", "1s", "--once")
                f = self.assertResolveFailure(r, {"EAI_FAIL"})[0]
                self.assertIn("truncated", f["message"])

    def test_malformed_replies_are_resolve_failures_not_crashes(self):
        # Each reply is either rejected at once (EAI_FAIL) or ignored, which leaves the
        # round to time out (EAI_AGAIN) within -T.
        for label, behaviour in MALFORMED.items():
            with self.subTest(reply=label):
                dns = self.faulty(behaviour)
                r = self.resolve(dns, "-T", "700ms", "--once")
                self.assertResolveFailure(r, {"EAI_FAIL", "EAI_AGAIN"})
                self.assertLess(r.elapsed, 3.0, r)

    def test_forged_replies_are_never_taken_as_an_address(self):
        # The forged replies point at 127.0.0.1, where a server listens: a believed forgery
        # would show as a connection.
        server = self.server()
        for label, behaviour in FORGED.items():
            with self.subTest(reply=label):
                dns = self.faulty(behaviour)
                r = self.resolve(dns, "-T", "700ms", "--once", port=server.port)
                self.assertResolveFailure(r, {"EAI_FAIL", "EAI_AGAIN"})
        self.assertEqual(server.accepted, 0)

    def test_one_bad_family_does_not_hide_the_good_one(self):
        # A answered correctly, AAAA malformed: the IPv4 address is still used.
        server = self.server()
        bad = MALFORMED["rdlength past the end"]
        dns = self.faulty(lambda q: q.reply(0, ["127.0.0.1"]) if q.qtype == TYPE_A else bad(q))
        r = self.resolve(dns, "-T", "2s", "--once", port=server.port)
        self.assertExit(r, 0)
        self.assertNoCrash(r)
        events = self.assertValidJsonLines(r)
        self.assertEqual([c["address"] for c in of_type(events, "connected")], ["127.0.0.1"])


class RandomReplies(DnsFaultCase):
    """A small, seeded fuzz of the resolver inside a network namespace (root only): the
    mutated replies may carry any address, and in the namespace no address but loopback
    exists, so no mutation can send a packet off the machine."""

    SEED = 20261127
    ROUNDS = 120

    def test_mutated_replies_never_crash(self):
        netns.require_root()
        ns = netns.Netns().__enter__()
        self.addCleanup(ns.delete)
        sock = ns.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        rng = random.Random(self.SEED)
        lock = threading.Lock()

        def mutate(q):
            good = bytearray(q.reply(0, q.local_address() * rng.randint(1, 3)))
            with lock:
                for _ in range(rng.randint(1, 8)):
                    choice = rng.random()
                    if choice < 0.6:
                        i = rng.randrange(2, len(good))  # keep the id: evdns must parse it
                        good[i] = rng.randrange(256)
                    elif choice < 0.8 and len(good) > 12:
                        del good[rng.randrange(12, len(good)):]
                    else:
                        good += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
            return bytes(good)

        dns = self.faulty(mutate, sock)
        r = ns.tcpretry("--json", "--resolver", dns.address, "-T", "150ms",
                        "-n", str(self.ROUNDS), "--jitter", "0", "--initial-delay", "1ms",
                        "--max-delay", "1ms", "fuzz.test:9", timeout=60)
        self.assertIn(r.returncode, (0, 1), r)
        self.assertNoCrash(r)
        events = self.assertValidJsonLines(r)
        failed = of_type(events, "failed")
        self.assertTrue(failed, r)
        for f in failed:
            self.assertIn(f["error"], harness.ERROR_CLASSES, f)
        self.assertGreaterEqual(len(dns.queries), self.ROUNDS)
        seen = sorted({(f["error"], f.get("errno", "-")) for f in failed})
        print(f"\n  {len(failed)} failures over {self.ROUNDS} rounds: {seen}", flush=True)


class ChangingAnswers(DnsFaultCase):
    def test_changed_answer_is_followed_on_the_next_round(self):
        # Round 1 gets 127.0.0.2, where nothing listens on that port; later rounds get
        # 127.0.0.1, where the test's server listens. AAAA: no data.
        for _ in range(20):
            server = harness.Server("127.0.0.1")
            try:
                closed = harness.ClosedPort("127.0.0.2", server.port)
                break
            except OSError:
                server.close()
        else:
            self.fail("no port free on both 127.0.0.1 and 127.0.0.2")
        self.addCleanup(server.close)
        self.addCleanup(closed.close)
        asked = {"n": 0}

        def moving(q):
            if q.qtype != TYPE_A:
                return q.reply(0, ())
            asked["n"] += 1
            return q.reply(0, ["127.0.0.2"] if asked["n"] == 1 else ["127.0.0.1"])

        dns = self.faulty(moving)
        r = self.resolve(dns, "--jitter", "0", "--initial-delay", "20ms", "-t", "10s",
                         name="moving.test", port=server.port)
        self.assertExit(r, 0)
        events = self.assertValidJsonLines(r)
        self.assertEqual([(f["attempt"], f["address"], f["error"])
                          for f in of_type(events, "failed")], [(1, "127.0.0.2", "refused")])
        self.assertEqual([(c["attempt"], c["address"]) for c in of_type(events, "connected")],
                         [(2, "127.0.0.1")])
        self.assertTrue(harness.wait_until(lambda: server.accepted == 1, 5),
                        f"the server accepted {server.accepted} connections")

    def test_every_round_asks_again_through_a_series_of_faults(self):
        # One run, one fault per round, switched when the previous round has failed: no
        # failure is cached, and the name works as soon as the server answers properly.
        server = self.server()
        plan = [("servfail", rcode(RCODE_SERVFAIL), "EAI_AGAIN"),
                ("silence", silent, "EAI_AGAIN"),
                ("truncated", truncated_empty, "EAI_FAIL"),
                ("garbage", MALFORMED["garbage after the header"], "EAI_FAIL"),
                ("nxdomain", rcode(RCODE_NXDOMAIN), "EAI_NONAME")]
        dns = self.faulty(plan[0][1])
        p = self.background("--json", "--resolver", dns.address, "-T", "500ms",
                            "--jitter", "0", "--initial-delay", "300ms", "--max-delay", "300ms",
                            "-t", "20s", f"series.test:{server.port}")
        for n, (label, _, errno) in enumerate(plan, 1):
            f = p.wait_for_event("failed", attempt=n, timeout=10)
            self.assertIsNotNone(f, f"round {n} ({label}) did not fail: {p.lines()}")
            self.assertEqual((f["error"], f["errno"]), ("resolve", errno), f"{label}: {f}")
            # Switch the server's behaviour during the retry delay.
            dns.behaviour = plan[n][1] if n < len(plan) else (
                lambda q: q.reply(0, ["127.0.0.1"] if q.qtype == TYPE_A else []))
        c = p.wait_for_event("connected", timeout=10)
        self.assertIsNotNone(c, p.lines())
        self.assertEqual((c["attempt"], c["address"]), (len(plan) + 1, "127.0.0.1"))
        r = p.wait(timeout=10)
        self.assertExit(r, 0)
        self.assertNoCrash(r)
        self.assertValidJsonLines(r)


class StderrStaysClean(DnsFaultCase):
    """libevent's own log lines must not reach the user: with a COMMAND the JSON stream is
    on stderr, and a stray line there breaks every JSON reader."""

    def test_a_server_where_nothing_listens_leaves_stderr_empty(self):
        r = harness.run("--json", "--resolver", f"127.0.0.1:{unused_udp_port()}", "--once",
                        "fault.test:80", "--", "true")
        self.assertExit(r, 1)
        events = self.assertValidJsonLines(r, stream="stderr")
        self.assertIn("refused", of_type(events, "failed")[0]["message"])

    def test_servfail_and_refused_leave_stderr_empty(self):
        # evdns logs "[msg] Nameserver ... has failed" unless tcpretry routes its log.
        for code in (RCODE_SERVFAIL, RCODE_REFUSED):
            with self.subTest(rcode=code):
                dns = self.faulty(rcode(code))
                r = self.resolve(dns, "--once")
                self.assertExit(r, 1)
                self.assertEqual(r.stderr, "", r)

    def test_json_on_stderr_with_a_command_stays_json(self):
        dns = self.faulty(rcode(RCODE_SERVFAIL))
        r = harness.run("--json", "--resolver", dns.address, "--once", "fault.test:80",
                        "--", "true")
        self.assertExit(r, 1)
        self.assertValidJsonLines(r, stream="stderr")


if __name__ == "__main__":
    unittest.main()
