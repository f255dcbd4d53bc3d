"""A tiny authoritative DNS server on 127.0.0.1 for the integration tests.

tcpretry is pointed at it with ``--resolver 127.0.0.1:PORT``. Answers are set per name (case
insensitive) and per record type:

    with StubDns() as dns:
        dns.answer("dual.test", a=["127.0.0.1"], aaaa=["::1"])
        dns.nxdomain("missing.test")
        dns.answer("moving.test", a=[["127.0.0.2"], ["127.0.0.1"]])  # 1st query, then the rest

A list of lists is a sequence: the Nth query of that type for that name gets the Nth entry,
the last one repeating. A name that is configured but has no records of the asked type gets
NOERROR with no answers (NODATA); a name not configured at all gets NXDOMAIN; a name
given to drop() gets no reply at all.

The reply copies the question section byte for byte: evdns randomises the letter case of
the names it asks for (DNS 0x20) and drops a reply whose question differs.
"""

import ipaddress
import socket
import struct
import threading

TYPE_A = 1
TYPE_AAAA = 28
CLASS_IN = 1

RCODE_NOERROR = 0
RCODE_FORMERR = 1
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
RCODE_NOTIMP = 4
RCODE_REFUSED = 5

TYPE_NAMES = {TYPE_A: "A", TYPE_AAAA: "AAAA"}


class Query:
    """One question as received: the name (lower-cased), its type and the raw name bytes."""

    def __init__(self, name, qtype, raw_name):
        self.name = name
        self.qtype = qtype
        self.raw_name = raw_name

    @property
    def type_name(self):
        return TYPE_NAMES.get(self.qtype, str(self.qtype))

    def __repr__(self):
        return f"Query({self.raw_name!r}, {self.type_name})"


class _Entry:
    def __init__(self, rcode=RCODE_NOERROR, a=None, aaaa=None, ttl=0):
        self.rcode = rcode
        self.records = {TYPE_A: _sequence(a), TYPE_AAAA: _sequence(aaaa)}
        self.asked = {TYPE_A: 0, TYPE_AAAA: 0}
        self.ttl = ttl

    def next_addresses(self, qtype):
        seq = self.records.get(qtype)
        if not seq:
            return []
        n = self.asked[qtype]
        self.asked[qtype] = n + 1
        return seq[min(n, len(seq) - 1)]


def _sequence(spec):
    """None -> []; ["a", "b"] -> [["a", "b"]]; [["a"], ["b"]] -> as is."""
    if not spec:
        return []
    if all(isinstance(x, str) for x in spec):
        return [list(spec)]
    return [list(x) for x in spec]


def parse_question(packet):
    """Returns (id, flags, question_bytes, name, qtype) or raises ValueError."""
    if len(packet) < 12:
        raise ValueError("short header")
    qid, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if qdcount != 1:
        raise ValueError(f"qdcount {qdcount}")
    pos = 12
    labels = []
    while True:
        if pos >= len(packet):
            raise ValueError("name runs past the packet")
        n = packet[pos]
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        pos += 1
        if n == 0:
            break
        if pos + n > len(packet):
            raise ValueError("label runs past the packet")
        labels.append(packet[pos:pos + n])
        pos += n
    if pos + 4 > len(packet):
        raise ValueError("missing qtype/qclass")
    qtype, _qclass = struct.unpack("!HH", packet[pos:pos + 4])
    question = packet[12:pos + 4]
    raw_name = b".".join(labels).decode("ascii", "replace")
    return qid, flags, question, raw_name, qtype


def build_reply(qid, query_flags, question, rcode, qtype, addresses, ttl=0):
    opcode = (query_flags >> 11) & 0xF
    rd = query_flags & 0x0100
    # QR=1, same opcode, AA=1, TC=0, RD copied, RA=1, rcode.
    flags = 0x8000 | (opcode << 11) | 0x0400 | rd | 0x0080 | (rcode & 0xF)
    answers = b""
    count = 0
    for text in addresses:
        if qtype == TYPE_A:
            rdata = ipaddress.IPv4Address(text).packed
        else:
            rdata = ipaddress.IPv6Address(text).packed
        # The owner name is a pointer to the question's name at offset 12.
        answers += struct.pack("!HHHIH", 0xC00C, qtype, CLASS_IN, ttl, len(rdata)) + rdata
        count += 1
    header = struct.pack("!HHHHHH", qid, flags, 1, count, 0, 0)
    return header + question + answers


def unused_udp_port(host="127.0.0.1"):
    """A UDP port on host with nothing bound to it (bound once, then closed): a query there
    draws an ICMP port unreachable, as a DNS server that is down does."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class StubDns:
    """The server: a UDP socket on 127.0.0.1 (random port) answered from a thread."""

    def __init__(self, host="127.0.0.1"):
        self._lock = threading.Lock()
        self._entries = {}
        self._queries = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, 0))
        self._sock.settimeout(0.1)
        self.host, self.port = self._sock.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="stub-dns", daemon=True)
        self._thread.start()

    # -- configuration -------------------------------------------------------------------

    def answer(self, name, a=None, aaaa=None, ttl=0):
        """Answers NOERROR for name with these A / AAAA records (see the module doc)."""
        with self._lock:
            self._entries[name.lower().rstrip(".")] = _Entry(RCODE_NOERROR, a, aaaa, ttl)

    def drop(self, name):
        """Never answers queries for name (a DNS server that does not respond)."""
        with self._lock:
            self._entries[name.lower().rstrip(".")] = _Entry(rcode=None)

    def nxdomain(self, name):
        self.rcode(name, RCODE_NXDOMAIN)

    def rcode(self, name, rcode):
        with self._lock:
            self._entries[name.lower().rstrip(".")] = _Entry(rcode)

    @property
    def address(self):
        """The --resolver argument."""
        return f"{self.host}:{self.port}"

    def queries(self, name=None, qtype=None):
        with self._lock:
            return [q for q in self._queries
                    if (name is None or q.name == name.lower())
                    and (qtype is None or q.qtype == qtype)]

    # -- serving -------------------------------------------------------------------------

    def _serve(self):
        while not self._stop.is_set():
            try:
                packet, peer = self._sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            reply = self._reply(packet)
            if reply is not None:
                try:
                    self._sock.sendto(reply, peer)
                except OSError:
                    pass

    def _reply(self, packet):
        try:
            qid, flags, question, raw_name, qtype = parse_question(packet)
        except ValueError:
            if len(packet) >= 12:
                qid, flags = struct.unpack("!HH", packet[:4])
                return struct.pack("!HHHHHH", qid, 0x8000 | RCODE_FORMERR, 0, 0, 0, 0)
            return None
        if flags & 0x8000:
            return None  # a response, not a query
        name = raw_name.lower().rstrip(".")
        with self._lock:
            self._queries.append(Query(name, qtype, raw_name))
            entry = self._entries.get(name)
            if entry is None:
                rcode, addresses, ttl = RCODE_NXDOMAIN, [], 0
            elif entry.rcode is None:
                return None
            elif entry.rcode != RCODE_NOERROR:
                rcode, addresses, ttl = entry.rcode, [], 0
            elif qtype in (TYPE_A, TYPE_AAAA):
                rcode, addresses, ttl = RCODE_NOERROR, entry.next_addresses(qtype), entry.ttl
            else:
                rcode, addresses, ttl = RCODE_NOERROR, [], 0
        return build_reply(qid, flags, question, rcode, qtype, addresses, ttl)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
